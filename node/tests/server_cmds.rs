//! Server commands against a real node, compared with redis-server where the
//! reply does not depend on the process (error strings, help texts, formats).

mod common;
mod rawresp;

use std::time::{Duration, Instant};

use common::Server;
use rawresp::{bulk_text, info_field, Raw};

/// Runs the same commands on both servers and asserts byte-equal replies.
fn same_on_both(node: &Server, redis: &Server, cmds: &[&[&str]]) {
    let mut a = Raw::connect(node.port);
    let mut b = Raw::connect(redis.port);
    for c in cmds {
        let ours = a.cmd_s(c);
        let theirs = b.cmd_s(c);
        assert_eq!(ours, theirs, "reply to {c:?}");
    }
}

fn info(c: &mut Raw, args: &[&str]) -> String {
    let mut v = vec!["INFO"];
    v.extend_from_slice(args);
    bulk_text(&c.cmd(&v))
}

#[test]
fn info_reports_redis_fields_and_format() {
    let s = Server::start(&[]);
    let mut c = Raw::connect(s.port);
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["SET", "b", "2", "EX", "100"]);
    c.cmd(&["SET", "c", "3"]);
    c.cmd(&["GET", "a"]);
    c.cmd(&["GET", "nosuch"]);
    c.cmd(&["NOSUCHCOMMAND"]);
    c.cmd(&["GET"]);
    let text = info(&mut c, &[]);
    assert!(
        text.starts_with("# Server\r\nredis_version:7.0.15\r\n"),
        "{text}"
    );
    assert!(text.lines().all(|l| !l.contains('\n')));
    assert!(!text.replace("\r\n", "").contains('\n'), "bare LF in INFO");
    let headers: Vec<&str> = text.split("\r\n").filter(|l| l.starts_with('#')).collect();
    assert_eq!(
        headers,
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Modules",
            "# Errorstats",
            "# Cluster",
            "# Keyspace"
        ]
    );
    let f = |name: &str| info_field(&text, name).unwrap_or_else(|| panic!("no {name}"));
    assert_eq!(f("tcp_port"), s.port.to_string());
    assert!(f("http_port").parse::<u16>().unwrap() > 0);
    assert!(!f("kcache_version").is_empty());
    assert!(["0", "1"].contains(&f("io_threads_active").as_str()));
    let run_id = f("run_id");
    assert_eq!(run_id.len(), 40);
    assert!(f("uptime_in_seconds").parse::<u64>().is_ok());
    assert!(f("connected_clients").parse::<u64>().unwrap() >= 1);
    assert!(f("used_memory").parse::<u64>().unwrap() > 0);
    assert!(f("used_memory_rss").parse::<u64>().unwrap() > 0);
    let human = f("used_memory_human");
    assert!(human.ends_with(['B', 'K', 'M', 'G']), "{human}");
    assert_eq!(f("maxmemory"), "0");
    assert_eq!(f("maxmemory_policy"), "noeviction");
    assert!(f("total_commands_processed").parse::<u64>().unwrap() >= 5);
    assert!(f("instantaneous_ops_per_sec").parse::<u64>().is_ok());
    assert_eq!(f("expired_keys"), "0");
    assert_eq!(f("evicted_keys"), "0");
    assert_eq!(f("keyspace_hits"), "1");
    assert_eq!(f("keyspace_misses"), "1");
    assert_eq!(f("role"), "master");
    assert_eq!(f("connected_slaves"), "0");
    let replid = f("master_replid");
    assert_eq!(replid.len(), 40);
    assert_ne!(replid, run_id);
    assert_eq!(f("master_repl_offset"), "0");
    assert_eq!(f("total_error_replies"), "2");
    assert_eq!(f("errorstat_ERR"), "count=2");
    assert!(f("used_cpu_sys").contains('.') && f("used_cpu_user").contains('.'));
    assert!(
        text.ends_with("# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=0\r\n"),
        "{text}"
    );

    // Sections: case-insensitive, several at once, printed in Redis's order.
    let two = info(&mut c, &["cpu", "CLIENTS", "nosuch"]);
    assert!(two.starts_with("# Clients\r\n"), "{two}");
    assert!(two.contains("\r\n\r\n# CPU\r\n"), "{two}");
    assert_eq!(two.matches("# ").count(), 2);
    assert_eq!(info(&mut c, &["nosuch"]), "");
    let all = info(&mut c, &["everything"]);
    assert!(all.contains("# Commandstats\r\ncmdstat_"), "{all}");
    let calls = info_field(&all, "cmdstat_set").unwrap();
    assert!(calls.starts_with("calls=3,usec="), "{calls}");
    assert!(
        calls.contains(",rejected_calls=0,failed_calls=0"),
        "{calls}"
    );
    assert_eq!(info(&mut c, &["all"]).matches("# ").count(), 13);
    let def = info(&mut c, &["default", "commandstats"]);
    assert!(def.contains("# Commandstats") && def.contains("# Keyspace"));

    // RESP3: a verbatim string.
    c.cmd(&["HELLO", "3"]);
    let v = c.cmd(&["INFO", "keyspace"]);
    assert!(v.starts_with(b"="), "{}", String::from_utf8_lossy(&v));
    assert!(String::from_utf8_lossy(&v).contains("txt:# Keyspace\r\n"));
}

#[test]
fn info_fields_cover_redis_server() {
    let redis = Server::start_redis(&[]);
    let s = Server::start(&[]);
    let ours = info(&mut Raw::connect(s.port), &["everything"]);
    let theirs = info(&mut Raw::connect(redis.port), &["everything"]);
    // Counters kcache does not keep (reads/writes per event-loop turn, reply
    // buffer resizing) and build details of redis-server.
    let absent = [
        "total_reads_processed",
        "total_writes_processed",
        "reply_buffer_shrinks",
        "reply_buffer_expands",
    ];
    for line in theirs.lines() {
        let Some((name, _)) = line.split_once(':') else {
            continue;
        };
        let per_run = ["cmdstat_", "errorstat_", "latency_"];
        if absent.contains(&name) || per_run.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        assert!(
            info_field(&ours, name).is_some(),
            "redis-server reports {name}, kcache does not"
        );
    }
    // Same keys in both: the keyspace section is byte-identical.
    for port in [s.port, redis.port] {
        let mut c = Raw::connect(port);
        c.cmd(&["SET", "x", "1"]);
        c.cmd(&["SET", "y", "1", "PX", "100000"]);
        c.cmd(&["SELECT", "3"]);
        c.cmd(&["SET", "z", "1"]);
    }
    assert_eq!(
        info(&mut Raw::connect(s.port), &["keyspace"]),
        info(&mut Raw::connect(redis.port), &["keyspace"])
    );
}

#[test]
fn config_get_set_errors_match_redis() {
    let s = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    same_on_both(
        &s,
        &redis,
        &[
            &["CONFIG", "SET", "foo", "bar"],
            &["CONFIG", "SET", "hz", "5", "foo", "bar"],
            &["CONFIG", "SET", "maxmemory", "abc"],
            &["CONFIG", "SET", "maxmemory", "1mb", "hz"],
            &["CONFIG", "SET", "maxmemory", "1mb", "maxmemory", "2mb"],
            &["CONFIG", "SET", "MAXMEMORY", "1mb", "Maxmemory", "2mb"],
            &["CONFIG", "SET", "hz", "abc"],
            &["CONFIG", "SET", "appendonly", "maybe"],
            &["CONFIG", "SET", "maxmemory-policy", "foo"],
            &["CONFIG", "SET", "save", "abc"],
            &["CONFIG", "SET", "daemonize", "no"],
            &[
                "CONFIG",
                "SET",
                "maxmemory",
                "3mb",
                "hz",
                "7",
                "maxmemory-policy",
                "allkeys-lru",
            ],
            &["CONFIG", "GET", "maxmemory-policy"],
            &["CONFIG", "GET", "slave-read-only"],
            &["CONFIG", "GET", "appendonly"],
            &["CONFIG", "GET", "nosuch*"],
            &["CONFIG", "GET"],
            &["CONFIG", "SET", "maxmemory"],
            &["CONFIG", "REWRITE"],
            &["CONFIG", "RESETSTAT"],
            &["CONFIG", "RESETSTAT", "x"],
            &["CONFIG", "HELP"],
            &["CONFIG", "FOO"],
            &["CONFIG"],
        ],
    );
    // Several patterns: each parameter once (Redis's order is its hash order).
    let pairs = |port: u16| {
        let r = Raw::connect(port).cmd_s(&["CONFIG", "GET", "hz", "maxmemory", "h?"]);
        let lines: Vec<String> = r.split("\r\n").map(String::from).collect();
        let mut pairs: Vec<(String, String)> = lines[1..]
            .chunks(4)
            .filter(|c| c.len() == 4)
            .map(|c| (c[1].clone(), c[3].clone()))
            .collect();
        pairs.sort();
        (lines[0].clone(), pairs)
    };
    assert_eq!(pairs(s.port), pairs(redis.port));
}

#[test]
fn config_set_is_atomic_and_takes_effect() {
    let s = Server::start(&[]);
    let mut c = Raw::connect(s.port);
    assert_eq!(
        c.cmd_s(&["CONFIG", "SET", "maxmemory", "1mb", "hz", "abc"])
            .as_bytes()[0],
        b'-'
    );
    assert_eq!(
        c.cmd_s(&["CONFIG", "GET", "maxmemory"]),
        "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    );
    // Several patterns, each parameter once.
    let r = c.cmd_s(&["CONFIG", "GET", "maxmemory*", "maxmemory"]);
    assert!(r.starts_with("*10\r\n"), "{r}");
    c.cmd(&["HELLO", "3"]);
    assert_eq!(
        c.cmd_s(&["CONFIG", "GET", "hz"]),
        "%1\r\n$2\r\nhz\r\n$2\r\n10\r\n"
    );
    // requirepass applies to new connections.
    assert_eq!(c.cmd_s(&["CONFIG", "SET", "requirepass", "pw"]), "+OK\r\n");
    let mut d = Raw::connect(s.port);
    assert_eq!(
        d.cmd_s(&["GET", "x"]),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(d.cmd_s(&["AUTH", "pw"]), "+OK\r\n");
    // RESETSTAT clears the counters behind INFO.
    d.cmd(&["GET", "x"]);
    assert_ne!(
        info_field(&info(&mut d, &["stats"]), "keyspace_misses").unwrap(),
        "0"
    );
    assert_eq!(d.cmd_s(&["CONFIG", "RESETSTAT"]), "+OK\r\n");
    let st = info(&mut d, &["stats"]);
    assert_eq!(info_field(&st, "keyspace_misses").unwrap(), "0");
    assert_eq!(info_field(&st, "total_commands_processed").unwrap(), "1");
}

#[test]
fn config_rewrite_updates_the_file() {
    let dir = rawresp::scratch("conf");
    let path = dir.join("node.conf");
    std::fs::write(&path, "# my settings\nmaxmemory 1mb\nhz 20\n").unwrap();
    let n = rawresp::Node::start(Some(&path), &[], &[]);
    let mut c = Raw::connect(n.port);
    assert_eq!(
        c.cmd_s(&[
            "CONFIG",
            "SET",
            "maxmemory",
            "2mb",
            "maxmemory-policy",
            "allkeys-lru"
        ]),
        "+OK\r\n"
    );
    assert_eq!(c.cmd_s(&["CONFIG", "REWRITE"]), "+OK\r\n");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# my settings\n"), "{text}");
    assert!(text.contains("maxmemory 2097152\n"), "{text}");
    assert!(text.contains("hz 20\n"), "{text}");
    assert!(text.contains("maxmemory-policy allkeys-lru\n"), "{text}");
    let info = info(&mut c, &["server"]);
    assert!(info_field(&info, "config_file")
        .unwrap()
        .ends_with("node.conf"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn command_introspection() {
    let s = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    same_on_both(
        &s,
        &redis,
        &[
            &["COMMAND", "INFO", "get", "config|get", "nosuchcommand"],
            &["COMMAND", "GETKEYS", "set", "a", "b"],
            &["COMMAND", "GETKEYS", "get", "a", "b"],
            &["COMMAND", "GETKEYS", "ping", "x"],
            &["COMMAND", "GETKEYS", "nosuch", "a"],
            &["COMMAND", "GETKEYS", "get"],
            &["COMMAND", "GETKEYS", "client", "list"],
            &["COMMAND", "GETKEYS", "memory", "usage", "k"],
            &["COMMAND", "LIST", "FILTERBY"],
            &["COMMAND", "LIST", "FILTERBY", "foo", "x"],
            &["COMMAND", "LIST", "FILTERBY", "MODULE", "x"],
            &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuchcat"],
            &["COMMAND", "FOO"],
            &["COMMAND", "COUNT", "x"],
            &["COMMAND", "DOCS", "nosuchcommand"],
        ],
    );
    let mut c = Raw::connect(s.port);
    let mut r = Raw::connect(redis.port);
    let sorted = |reply: Vec<u8>| {
        let t = String::from_utf8_lossy(&reply).into_owned();
        let mut v: Vec<String> = t.split("\r\n").map(String::from).collect();
        v.sort();
        v
    };
    let pattern = ["COMMAND", "LIST", "FILTERBY", "PATTERN", "config*"];
    assert_eq!(sorted(c.cmd(&pattern)), sorted(r.cmd(&pattern)));

    // COUNT agrees with the table COMMAND returns.
    let count = c.cmd_s(&["COMMAND", "COUNT"]);
    let n: usize = count.trim_start_matches(':').trim().parse().unwrap();
    let all = c.cmd_s(&["COMMAND"]);
    assert!(all.starts_with(&format!("*{n}\r\n")), "{count}");
    let list = c.cmd_s(&["COMMAND", "LIST"]);
    for name in [
        "get",
        "set",
        "info",
        "config|set",
        "client|setinfo",
        "memory|usage",
    ] {
        assert!(list.contains(&format!("\r\n{name}\r\n")), "{name} missing");
    }
    let admin = c.cmd_s(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "admin"]);
    assert!(admin.contains("\r\nconfig|set\r\n") && !admin.contains("\r\nget\r\n"));

    // DOCS: summary, since, group; containers list their subcommands.
    let docs = c.cmd_s(&["COMMAND", "DOCS", "get", "config"]);
    assert!(
        docs.starts_with("*4\r\n$3\r\nget\r\n*6\r\n$7\r\nsummary\r\n"),
        "{docs}"
    );
    assert!(docs.contains("$11\r\nsubcommands\r\n") && docs.contains("config|rewrite"));

    // RESP3 shapes: flags, categories, tips, key specs and subcommands are sets,
    // a key spec is a map.
    c.cmd(&["HELLO", "3"]);
    r.cmd(&["HELLO", "3"]);
    assert_eq!(
        c.cmd_s(&["COMMAND", "INFO", "get"]),
        r.cmd_s(&["COMMAND", "INFO", "get"])
    );
    let d = c.cmd_s(&["COMMAND", "DOCS", "get"]);
    assert!(d.starts_with("%1\r\n$3\r\nget\r\n%3\r\n"), "{d}");
}

#[test]
fn time_dbsize_and_shutdown_options() {
    let s = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    same_on_both(
        &s,
        &redis,
        &[
            &["DBSIZE"],
            &["SET", "k", "v"],
            &["DBSIZE"],
            &["TIME", "x"],
            &["SHUTDOWN", "ABORT"],
            &["SHUTDOWN", "SAVE", "NOSAVE"],
            &["SHUTDOWN", "ABORT", "NOW"],
            &["SHUTDOWN", "FOO"],
        ],
    );
    let mut c = Raw::connect(s.port);
    let t = c.cmd_s(&["TIME"]);
    let parts: Vec<&str> = t.split("\r\n").collect();
    assert_eq!(parts[0], "*2", "{t}");
    let secs: u64 = parts[2].parse().unwrap();
    let usecs: u64 = parts[4].parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) <= 2 && usecs < 1_000_000, "{t}");
}

#[test]
fn monitor_feeds_other_clients_commands() {
    let s = Server::start(&[]);
    let mut m = Raw::connect(s.port);
    assert_eq!(m.cmd_s(&["MONITOR"]), "+OK\r\n");
    let mut c = Raw::connect(s.port);
    c.cmd(&["SET", "k", "hello world"]);
    c.cmd(&["AUTH", "default", "secret"]);
    c.cmd(&["CONFIG", "GET", "hz"]);
    c.cmd(&["GET", "k"]);
    let mut seen = String::new();
    while !seen.contains("\"GET\" \"k\"") {
        let line = m.try_reply().expect("a MONITOR line");
        seen.push_str(&String::from_utf8_lossy(&line));
    }
    assert!(
        seen.contains(" \"SET\" \"k\" \"hello world\"\r\n"),
        "{seen}"
    );
    assert!(
        seen.contains("\"AUTH\" \"(redacted)\" \"(redacted)\""),
        "{seen}"
    );
    assert!(
        !seen.contains("secret") && !seen.contains("CONFIG"),
        "{seen}"
    );
    let first = seen.lines().next().unwrap();
    assert!(
        first.starts_with('+') && first.contains(" [0 127.0.0.1:"),
        "{first}"
    );
}

#[test]
fn slowlog_records_and_matches_redis_shape() {
    let s = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    same_on_both(
        &s,
        &redis,
        &[
            &["SLOWLOG", "GET", "-2"],
            &["SLOWLOG", "GET", "x"],
            &["SLOWLOG", "GET", "1", "2"],
            &["SLOWLOG", "LEN", "x"],
            &["SLOWLOG", "FOO"],
            &["SLOWLOG", "HELP"],
            &["SLOWLOG"],
            &["SLOWLOG", "GET", "0"],
        ],
    );
    let mut c = Raw::connect(s.port);
    c.cmd(&["CLIENT", "SETNAME", "worker1"]);
    c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    c.cmd(&["SET", "key", "value"]);
    let e = c.cmd_s(&["SLOWLOG", "GET", "1"]);
    let parts: Vec<&str> = e.split("\r\n").collect();
    assert_eq!(&parts[..2], ["*1", "*6"], "{e}");
    assert!(parts[2].starts_with(':') && parts[3].starts_with(':') && parts[4].starts_with(':'));
    assert_eq!(
        &parts[5..12],
        ["*3", "$3", "SET", "$3", "key", "$5", "value"],
        "{e}"
    );
    assert!(parts[13].starts_with("127.0.0.1:"), "{e}");
    assert_eq!(parts[15], "worker1", "{e}");
    c.cmd(&["CONFIG", "SET", "requirepass", "topsecret"]);
    let e = c.cmd_s(&["SLOWLOG", "GET", "1"]);
    assert!(e.contains("(redacted)") && !e.contains("topsecret"), "{e}");
    let len: usize = c.cmd_s(&["SLOWLOG", "LEN"])[1..].trim().parse().unwrap();
    assert!(len >= 4, "{len}");
    let all = c.cmd_s(&["SLOWLOG", "GET", "-1"]);
    assert!(all.starts_with(&format!("*{}\r\n", len + 1)), "{all}");
    assert_eq!(c.cmd_s(&["SLOWLOG", "RESET"]), "+OK\r\n");
    // The RESET itself is the only entry left.
    assert_eq!(c.cmd_s(&["SLOWLOG", "LEN"]), ":1\r\n");
    // A CONFIG SET applies to the very next command of the same pipeline.
    c.send(b"CONFIG SET slowlog-max-len 1\r\nSET pipelined 1\r\nSLOWLOG GET\r\n");
    assert_eq!(c.reply(), b"+OK\r\n");
    assert_eq!(c.reply(), b"+OK\r\n");
    let e = String::from_utf8_lossy(&c.reply()).into_owned();
    assert!(
        e.starts_with("*1\r\n") && e.contains("\r\npipelined\r\n"),
        "{e}"
    );
}

#[test]
fn latency_events_from_slow_commands() {
    let s = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    same_on_both(
        &s,
        &redis,
        &[
            &["LATENCY", "LATEST"],
            &["LATENCY", "HISTORY", "command"],
            &["LATENCY", "RESET"],
            &["LATENCY", "DOCTOR"],
            &["LATENCY", "HISTORY"],
            &["LATENCY", "FOO"],
        ],
    );
    let mut c = Raw::connect(s.port);
    c.cmd(&["CONFIG", "SET", "latency-monitor-threshold", "1"]);
    let big = vec![b'x'; 64 * 1024 * 1024];
    let deadline = Instant::now() + Duration::from_secs(30);
    let latest = loop {
        c.send(&rawresp::encode(&[b"SET", b"big", &big]));
        assert_eq!(c.reply(), b"+OK\r\n");
        let l = c.cmd_s(&["LATENCY", "LATEST"]);
        if l != "*0\r\n" || Instant::now() > deadline {
            break l;
        }
    };
    assert!(
        latest.starts_with("*1\r\n*4\r\n$7\r\ncommand\r\n:"),
        "{latest}"
    );
    let h = c.cmd_s(&["LATENCY", "HISTORY", "command"]);
    assert!(h.starts_with("*1\r\n*2\r\n:"), "{h}");
    let doctor = bulk_text(&c.cmd(&["LATENCY", "DOCTOR"]));
    assert!(doctor.contains("\n1. command: "), "{doctor}");
    assert_eq!(
        c.cmd_s(&["LATENCY", "RESET", "command", "nosuch"]),
        ":1\r\n"
    );
    assert_eq!(c.cmd_s(&["LATENCY", "LATEST"]), "*0\r\n");
}

#[test]
fn memory_usage_stats_doctor() {
    let s = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    same_on_both(
        &s,
        &redis,
        &[
            &["SET", "a", "1"],
            &["MEMORY", "USAGE", "nosuch"],
            &["MEMORY", "USAGE", "a", "SAMPLES", "x"],
            &["MEMORY", "USAGE", "a", "SAMPLES", "-1"],
            &["MEMORY", "USAGE", "a", "FOO", "1"],
            &["MEMORY", "USAGE", "a", "SAMPLES"],
            &["MEMORY", "USAGE"],
            &["MEMORY", "HELP"],
            &["MEMORY", "FOO"],
            &["MEMORY", "PURGE"],
        ],
    );
    let mut c = Raw::connect(s.port);
    let small = c.cmd_s(&["MEMORY", "USAGE", "a", "SAMPLES", "0"]);
    let small: usize = small[1..].trim().parse().unwrap();
    let value = "v".repeat(10_000);
    c.cmd(&["SET", "big", &value]);
    let big: usize = c.cmd_s(&["MEMORY", "USAGE", "big"])[1..]
        .trim()
        .parse()
        .unwrap();
    assert!(small > 0 && big > 10_000 && big < 20_000, "{small} {big}");
    let stats = c.cmd_s(&["MEMORY", "STATS"]);
    assert!(stats.contains("$10\r\nkeys.count\r\n:2\r\n"), "{stats}");
    assert!(stats.contains("$4\r\ndb.0\r\n*4\r\n$23\r\noverhead.hashtable.main\r\n"));
    for k in [
        "peak.allocated",
        "total.allocated",
        "dataset.bytes",
        "fragmentation",
    ] {
        assert!(stats.contains(&format!("\r\n{k}\r\n")), "{k}");
    }
    let doctor = bulk_text(&c.cmd(&["MEMORY", "DOCTOR"]));
    assert!(
        doctor.starts_with("Hi Sam") || doctor.starts_with("Sam, I detected"),
        "{doctor}"
    );
}

#[test]
fn client_setinfo_shows_in_client_list() {
    let s = Server::start(&[]);
    let mut c = Raw::connect(s.port);
    assert_eq!(
        c.cmd_s(&["CLIENT", "SETINFO", "LIB-NAME", "mylib"]),
        "+OK\r\n"
    );
    assert_eq!(
        c.cmd_s(&["CLIENT", "SETINFO", "lib-ver", "1.2.3"]),
        "+OK\r\n"
    );
    let line = bulk_text(&c.cmd(&["CLIENT", "INFO"]));
    assert!(line.contains(" lib-name=mylib lib-ver=1.2.3"), "{line}");
    let list = bulk_text(&c.cmd(&["CLIENT", "LIST"]));
    assert!(list.contains("lib-name=mylib"), "{list}");
    assert_eq!(
        c.cmd_s(&["CLIENT", "SETINFO", "foo", "x"]),
        "-ERR Unrecognized option 'foo'\r\n"
    );
    assert_eq!(
        c.cmd_s(&["CLIENT", "SETINFO", "lib-name", "a b"]),
        "-ERR lib-name cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        c.cmd_s(&["CLIENT", "SETINFO", "lib-name"]),
        "-ERR wrong number of arguments for 'client|setinfo' command\r\n"
    );
}

#[test]
fn info_rates_and_memory_move_with_load() {
    let s = Server::start(&[]);
    let mut c = Raw::connect(s.port);
    let mem = |c: &mut Raw| -> u64 {
        info_field(&info(c, &["memory"]), "used_memory")
            .unwrap()
            .parse()
            .unwrap()
    };
    let before = mem(&mut c);
    let v = vec![b'm'; 10 * 1024 * 1024];
    c.send(&rawresp::encode(&[b"SET", b"ten", &v]));
    assert_eq!(c.reply(), b"+OK\r\n");
    let after = mem(&mut c);
    assert!(after >= before + 10 * 1024 * 1024, "{before} -> {after}");
    let peak: u64 = info_field(&info(&mut c, &["memory"]), "used_memory_peak")
        .unwrap()
        .parse()
        .unwrap();
    assert!(peak >= after);

    // instantaneous_ops_per_sec follows a steady load within a couple of samples.
    let batch: Vec<u8> = b"PING\r\n".repeat(2000);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        c.send(&batch);
        for _ in 0..2000 {
            c.reply();
        }
        let ops: u64 = info_field(&info(&mut c, &["stats"]), "instantaneous_ops_per_sec")
            .unwrap()
            .parse()
            .unwrap();
        if ops > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "instantaneous_ops_per_sec stayed 0"
        );
    }
}

#[test]
fn protected_configs_are_refused_unless_enabled_as_in_redis() {
    let d = common::scratch_dir("protected");
    std::fs::create_dir_all(&d).expect("scratch dir");
    let dir = d.to_string_lossy().into_owned();
    let script: &[&[&str]] = &[
        &["CONFIG", "SET", "dir", &dir],
        &["CONFIG", "SET", "dbfilename", "x.rdb"],
        &["CONFIG", "SET", "maxmemory", "0", "dir", &dir],
        &["CONFIG", "SET", "enable-protected-configs", "yes"],
        &["CONFIG", "GET", "enable-protected-configs"],
        &["CONFIG", "GET", "dbfilename"],
    ];
    // Default `no`: refused, and nothing of the command applied.
    same_on_both(&Server::start(&[]), &Server::start_redis(&[]), script);
    // `local` allows loopback clients (the test's), `yes` everyone.
    for mode in ["local", "yes"] {
        let args = ["--enable-protected-configs", mode];
        same_on_both(&Server::start(&args), &Server::start_redis(&args), script);
    }
    let _ = std::fs::remove_dir_all(&d);
}
