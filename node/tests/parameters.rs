//! Every parameter of redis-server 7.0.15 is known to the node: the list is
//! taken from Debian's redis-server itself (`CONFIG GET *` on a running one,
//! and the directives of its `/etc/redis/redis.conf`), so it cannot drift.
//! Each name must be returned by the node's `CONFIG GET` with redis-server's
//! default, be changed by `CONFIG SET` exactly when redis-server allows it at
//! run time, and be accepted on the command line and in a config file.

mod common;
mod rawresp;

use common::Server;
use rawresp::Node;
use std::collections::BTreeMap;

/// Parameters another branch adds (cluster mode); they stay off the checks
/// until it lands.
fn pending(name: &str) -> bool {
    name.starts_with("cluster-")
}

/// Defaults that differ on purpose, and why.
const OWN_DEFAULTS: &[(&str, &str)] = &[
    ("dir", "each server runs in its own scratch directory"),
    ("port", "each server listens on its own port"),
    ("bind", "the harness binds redis-server to 127.0.0.1 only"),
    (
        "io-threads",
        "0: one event loop per CPU (redis-server's 1 is one thread)",
    ),
    ("save", "the harness starts redis-server with save \"\""),
    (
        "maxclients",
        "redis-server lowers it to the open-file limit",
    ),
];

/// Parameters redis-server changes at run time and the node only at start-up.
const START_UP_ONLY: &[(&str, &str)] = &[
    (
        "bind",
        "listeners are bound once; a pod's addresses do not change",
    ),
    (
        "port",
        "listeners are bound once; Services and probes name the port",
    ),
];

/// Directives of redis.conf that are not parameters (no CONFIG GET), each
/// either honoured or refused with a reason at start-up.
const CONF_ONLY: &[&str] = &["include", "loadmodule", "rename-command"];

fn config_get_all(c: &mut redis::Connection) -> BTreeMap<String, String> {
    let flat: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("*")
        .query(c)
        .expect("CONFIG GET *");
    flat.chunks(2)
        .map(|kv| (kv[0].clone(), kv[1].clone()))
        .collect()
}

/// `CONFIG SET name value` as an `Ok` or the error text.
fn config_set(c: &mut redis::Connection, name: &str, value: &str) -> Result<(), String> {
    redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query::<()>(c)
        .map_err(|e| e.to_string())
}

/// The directive names of Debian's redis.conf: lines that set one, and the
/// commented-out examples (`# name value`) of parameters and of [`CONF_ONLY`].
fn redis_conf_names(params: &BTreeMap<String, String>) -> Vec<String> {
    let text = std::fs::read_to_string("/etc/redis/redis.conf")
        .expect("read /etc/redis/redis.conf (apt-get install redis-server)");
    let mut names = std::collections::BTreeSet::new();
    for line in text.lines() {
        let (commented, rest) = match line.strip_prefix('#') {
            Some(r) => (true, r.strip_prefix(' ').unwrap_or(r)),
            None => (false, line),
        };
        let Some(word) = rest.split_whitespace().next() else {
            continue;
        };
        if rest.starts_with(char::is_whitespace) || !rest.contains(' ') {
            continue;
        }
        let known = params.contains_key(word) || CONF_ONLY.contains(&word);
        if !commented || known {
            names.insert(word.to_string());
        }
    }
    names.into_iter().collect()
}

/// A value as a quoted redis.conf word.
fn quoted(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

#[test]
fn every_redis_parameter_is_known() {
    let redis = Server::start_redis(&[]);
    let mut rc = redis.conn();
    let theirs = config_get_all(&mut rc);
    assert!(theirs.len() > 150, "redis-server listed {}", theirs.len());
    let conf_names = redis_conf_names(&theirs);
    for d in CONF_ONLY {
        assert!(conf_names.iter().any(|n| n == d), "redis.conf has no {d}");
    }
    for n in &conf_names {
        assert!(
            theirs.contains_key(n) || CONF_ONLY.contains(&n.as_str()),
            "redis.conf directive {n} is neither a parameter nor a known directive"
        );
    }

    let node = Server::start(&[]);
    let mut nc = node.conn();
    let ours = config_get_all(&mut nc);
    let mut problems = Vec::new();
    let mut checked = 0;
    for (name, value) in &theirs {
        if pending(name) {
            continue;
        }
        checked += 1;
        let Some(mine) = ours.get(name) else {
            problems.push(format!("{name}: not in CONFIG GET *"));
            continue;
        };
        let single: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(name)
            .query(&mut nc)
            .expect("CONFIG GET name");
        if single.first() != Some(name) {
            problems.push(format!("{name}: CONFIG GET {name} answered {single:?}"));
        }
        let own_default = OWN_DEFAULTS.iter().any(|(n, _)| n == name);
        if mine != value && !own_default {
            problems.push(format!("{name}: default {mine:?}, redis-server {value:?}"));
        }
        let want = config_set(&mut rc, name, value);
        let got = config_set(&mut nc, name, value);
        match (&want, &got) {
            (Ok(()), Ok(())) => {}
            (Err(w), Err(g)) if w == g => {}
            (Ok(()), Err(g))
                if START_UP_ONLY.iter().any(|(n, _)| n == name)
                    && g.contains("can't set immutable config") => {}
            _ => problems.push(format!(
                "{name}: CONFIG SET {value:?}: node {got:?}, redis-server {want:?}"
            )),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    println!(
        "{checked} redis-server parameters checked ({} in its CONFIG GET *, {} known to the node)",
        theirs.len(),
        ours.len()
    );

    // Every name on the command line at once, with redis-server's value.
    let skip = |n: &str| pending(n) || OWN_DEFAULTS.iter().any(|(o, _)| *o == n);
    let mut args: Vec<String> = Vec::new();
    for (name, value) in theirs.iter().filter(|(n, _)| !skip(n)) {
        args.push(format!("--{name}"));
        args.push(value.clone());
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let cli = Node::start(None, &argv, &[]);
    let mut cc = common::conn_on(cli.port);
    let set = config_get_all(&mut cc);
    for (name, value) in theirs.iter().filter(|(n, _)| !skip(n)) {
        assert_eq!(set.get(name), Some(value), "--{name} {value:?}");
    }

    // And every name in a config file, with the directives that are not
    // parameters: an include, and rename-command (a long name as in
    // redis.conf's example, and an empty one that removes a command).
    let dir = common::scratch_dir("params");
    let extra = dir.join("extra.conf");
    std::fs::write(&extra, "hz 42\n").expect("write extra.conf");
    let mut text = String::new();
    for (name, value) in theirs.iter().filter(|(n, _)| !skip(n) && *n != "hz") {
        text.push_str(&format!("{name} {}\n", quoted(value)));
    }
    text.push_str(&format!("include {}\n", extra.display()));
    text.push_str("rename-command DBSIZE dbsize_b840fc02d524045429941cc15f59e41cb7be6c52\n");
    text.push_str("rename-command FLUSHALL \"\"\n");
    let file = dir.join("all.conf");
    std::fs::write(&file, &text).expect("write all.conf");
    let from_file = Node::start(Some(&file), &[], &[]);
    let mut fc = common::conn_on(from_file.port);
    let set = config_get_all(&mut fc);
    for (name, value) in theirs.iter().filter(|(n, _)| !skip(n) && *n != "hz") {
        assert_eq!(set.get(name), Some(value), "{name} {value:?} in a file");
    }
    assert_eq!(set.get("hz").map(String::as_str), Some("42"), "include");
    let n: i64 = redis::cmd("dbsize_b840fc02d524045429941cc15f59e41cb7be6c52")
        .query(&mut fc)
        .expect("renamed DBSIZE");
    assert_eq!(n, 0);
    for gone in ["DBSIZE", "FLUSHALL"] {
        let e = redis::cmd(gone).query::<redis::Value>(&mut fc).unwrap_err();
        assert!(e.to_string().contains("unknown command"), "{gone}: {e}");
    }

    // loadmodule cannot be honoured: the start is refused, naming it.
    let bad = dir.join("module.conf");
    std::fs::write(&bad, "loadmodule /nonexistent/module.so\n").expect("write module.conf");
    let out = std::process::Command::new(rawresp::node_bin())
        .arg(&bad)
        .args(["--port", "0", "--http-port", "0"])
        .output()
        .expect("run kcache-node");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("loadmodule"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn refused_values_say_why() {
    let node = Server::start(&[]);
    let mut c = node.conn();
    let e = config_set(&mut c, "tls-port", "6380").unwrap_err();
    assert!(e.contains("TLS is not supported"), "{e}");
    assert_eq!(config_set(&mut c, "maxmemory-clients", "10%"), Ok(()));
    assert!(config_set(&mut c, "maxmemory-clients", "101%").is_err());
    assert_eq!(config_set(&mut c, "lua-time-limit", "100"), Ok(()));
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("busy-reply-threshold")
        .query(&mut c)
        .expect("CONFIG GET");
    assert_eq!(v, ["busy-reply-threshold", "100"]);
}

#[test]
fn replica_announces_what_it_is_told() {
    let primary = Server::start(&[]);
    let replica = Server::start(&[
        "--replicaof",
        "127.0.0.1",
        &primary.port.to_string(),
        "--replica-announce-ip",
        "10.1.2.3",
        "--slave-announce-port",
        "7777",
    ]);
    common::wait_until_for(
        "the primary lists the replica as announced",
        std::time::Duration::from_secs(20),
        &mut || {
            common::field(primary.port, "replication", "slave0")
                .starts_with("ip=10.1.2.3,port=7777,")
        },
    );
    drop(replica);
}
