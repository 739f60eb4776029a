//! Key expiry: lazy (an expired key is invisible to every command) and active
//! (keys nobody touches are reclaimed by the cron cycle).
//!
//! The lazy tests run the command path in-process with no cron thread and a
//! clock the test sets, so "the key has expired but is still stored" is a state
//! the test creates exactly, without waiting.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use kcache_node::cmd::Args;
use kcache_node::config::Config;
use kcache_node::protocol::Out;
use kcache_node::server::client::{Client, ClientShared};
use kcache_node::server::exec::{execute, Env, Hot};
use kcache_node::server::Server;
use kcache_node::stats::WorkerStats;

/// A server with no threads: commands run on the test's thread at a given time.
struct Local {
    srv: Server,
    stats: WorkerStats,
    hot: Hot,
    client: Client,
}

impl Local {
    fn new() -> Local {
        let srv = Server::new(Config::defaults());
        let stats = WorkerStats::new(srv.commands.len());
        let hot = Hot::load(&srv.config);
        let shared = Arc::new(ClientShared {
            id: 1,
            addr: "127.0.0.1:1".into(),
            laddr: "127.0.0.1:6379".into(),
            fd: -1,
            worker: 0,
            token: 0,
            created_ms: 0,
            name: Default::default(),
            lib_name: Default::default(),
            lib_ver: Default::default(),
            db: Default::default(),
            resp: 2.into(),
            last_interaction_ms: Default::default(),
            last_cmd: usize::MAX.into(),
            qbuf: Default::default(),
            omem: Default::default(),
            monitor: Default::default(),
            no_evict: Default::default(),
            killed: Default::default(),
            commands: Default::default(),
            blocked: Default::default(),
            replica: Default::default(),
            subs: Default::default(),
            multi: (-1).into(),
            dirty_cas: Default::default(),
        });
        let client = Client::new(shared, true);
        Local {
            srv,
            stats,
            hot,
            client,
        }
    }

    /// Runs one command at `now_ms`; returns its raw RESP reply.
    fn run(&mut self, now_ms: i64, argv: &[&str]) -> String {
        let mut buf = Vec::new();
        let mut ranges = Vec::new();
        for a in argv {
            let start = buf.len();
            buf.extend_from_slice(a.as_bytes());
            ranges.push(start..buf.len());
        }
        let args = Args::new(&buf, &ranges);
        let mut out = Out::new();
        out.resp3 = self.client.resp3;
        let mut t0 = Instant::now();
        let env = Env {
            srv: &self.srv,
            stats: &self.stats,
            hot: &self.hot,
        };
        execute(env, &mut self.client, &mut out, &args, now_ms, &mut t0);
        String::from_utf8_lossy(&out.buf).into_owned()
    }
}

const T0: i64 = 1_700_000_000_000;
/// The instant "gone" expires: a key whose expiry is `<= now` is expired.
const T1: i64 = T0 + 1000;

/// db 0 holds "gone" (expires at T1), "kept" (no TTL) and "later" (expires long
/// after T1); db 1 holds "gone" too, live, for MOVE.
fn populated() -> Local {
    let mut l = Local::new();
    assert_eq!(l.run(T0, &["SET", "gone", "v", "PX", "1000"]), "+OK\r\n");
    assert_eq!(l.run(T0, &["SET", "kept", "k"]), "+OK\r\n");
    assert_eq!(l.run(T0, &["SET", "later", "l", "EX", "100000"]), "+OK\r\n");
    // One millisecond before its expiry the key is still there.
    assert_eq!(l.run(T1 - 1, &["GET", "gone"]), "$1\r\nv\r\n");
    assert_eq!(l.run(T1 - 1, &["PTTL", "gone"]), ":1\r\n");
    l
}

#[test]
fn an_expired_key_is_invisible_to_every_command() {
    let probes: &[(&[&str], &str)] = &[
        (&["GET", "gone"], "$-1\r\n"),
        (&["EXISTS", "gone", "kept"], ":1\r\n"),
        (&["TTL", "gone"], ":-2\r\n"),
        (&["PTTL", "gone"], ":-2\r\n"),
        (&["EXPIRETIME", "gone"], ":-2\r\n"),
        (&["PEXPIRETIME", "gone"], ":-2\r\n"),
        (&["TYPE", "gone"], "+none\r\n"),
        (&["OBJECT", "ENCODING", "gone"], "$-1\r\n"),
        (&["OBJECT", "IDLETIME", "gone"], "$-1\r\n"),
        (&["TOUCH", "gone", "kept"], ":1\r\n"),
        (&["KEYS", "*e[p]*"], "*1\r\n$4\r\nkept\r\n"),
        (&["KEYS", "gone"], "*0\r\n"),
        (&["SCAN", "0", "MATCH", "gone"], "*2\r\n$1\r\n0\r\n*0\r\n"),
        (
            &["SCAN", "0", "TYPE", "string", "MATCH", "g*"],
            "*2\r\n$1\r\n0\r\n*0\r\n",
        ),
        (&["RENAME", "gone", "x"], "-ERR no such key\r\n"),
        (&["RENAMENX", "gone", "x"], "-ERR no such key\r\n"),
        (&["COPY", "gone", "x"], ":0\r\n"),
        (&["MOVE", "gone", "2"], ":0\r\n"),
        (&["EXPIRE", "gone", "100"], ":0\r\n"),
        (&["PEXPIREAT", "gone", "99999999999999"], ":0\r\n"),
        (&["PERSIST", "gone"], ":0\r\n"),
        (&["DEL", "gone"], ":0\r\n"),
        (&["UNLINK", "gone"], ":0\r\n"),
        (&["SET", "gone", "new", "NX"], "+OK\r\n"),
        // As a destination, an expired key counts as absent.
        (&["RENAMENX", "kept", "gone"], ":1\r\n"),
        (&["COPY", "kept", "gone"], ":1\r\n"),
    ];
    for (argv, want) in probes {
        let mut l = populated();
        // Still stored (DBSIZE counts it, as Redis's does): the probe has to hide it.
        assert_eq!(l.run(T1, &["DBSIZE"]), ":3\r\n", "before {argv:?}");
        assert_eq!(l.run(T1, argv), *want, "{argv:?}");
        assert!(
            !l.run(T1, &["GET", "gone"]).starts_with("$1\r\nv"),
            "{argv:?}"
        );
    }
}

#[test]
fn randomkey_and_scan_skip_and_reclaim_expired_keys() {
    let mut l = Local::new();
    for i in 0..500 {
        let k = format!("dead{i}");
        assert_eq!(l.run(T0, &["SET", &k, "v", "PX", "10"]), "+OK\r\n");
    }
    assert_eq!(l.run(T0, &["SET", "alive", "v"]), "+OK\r\n");
    let later = T0 + 10;
    for _ in 0..20 {
        assert_eq!(l.run(later, &["RANDOMKEY"]), "$5\r\nalive\r\n");
    }
    // Every expired key RANDOMKEY drew was deleted on the way; SCAN reclaims the rest.
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    loop {
        let r = l.run(later, &["SCAN", &cursor, "COUNT", "7"]);
        let mut lines = r.split("\r\n");
        assert_eq!(lines.next(), Some("*2"));
        lines.next();
        cursor = lines.next().expect("cursor").to_string();
        seen.extend(
            lines
                .filter(|s| !s.is_empty() && !s.starts_with(['$', '*']))
                .map(String::from),
        );
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen, ["alive"]);
    assert_eq!(l.run(later, &["DBSIZE"]), ":1\r\n");
    let expired = l
        .srv
        .keyspace
        .expired_keys
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(expired, 500);
    // With every key expired, RANDOMKEY deletes them all and answers nil.
    assert_eq!(l.run(later, &["SET", "alive", "v", "PX", "5"]), "+OK\r\n");
    assert_eq!(l.run(later + 5, &["RANDOMKEY"]), "$-1\r\n");
    assert_eq!(l.run(later + 5, &["DBSIZE"]), ":0\r\n");
}

#[test]
fn expire_family_boundaries_at_a_fixed_clock() {
    let mut l = Local::new();
    let now = T0;
    l.run(now, &["SET", "k", "v"]);
    assert_eq!(l.run(now, &["PEXPIRE", "k", "1500"]), ":1\r\n");
    // Seconds round to the nearest: 1500 ms -> 2, 1499 ms -> 1.
    assert_eq!(l.run(now, &["TTL", "k"]), ":2\r\n");
    assert_eq!(l.run(now + 1, &["TTL", "k"]), ":1\r\n");
    assert_eq!(
        l.run(now, &["PEXPIRETIME", "k"]),
        format!(":{}\r\n", now + 1500)
    );
    assert_eq!(
        l.run(now, &["EXPIRETIME", "k"]),
        format!(":{}\r\n", (now + 1500 + 500) / 1000)
    );
    // GT/LT compare absolute times; LT against "no TTL" (infinite) succeeds.
    assert_eq!(
        l.run(now, &["PEXPIREAT", "k", &(now + 1500).to_string(), "GT"]),
        ":0\r\n"
    );
    assert_eq!(
        l.run(now, &["PEXPIREAT", "k", &(now + 1501).to_string(), "GT"]),
        ":1\r\n"
    );
    assert_eq!(
        l.run(now, &["PEXPIREAT", "k", &(now + 1501).to_string(), "LT"]),
        ":0\r\n"
    );
    assert_eq!(l.run(now, &["PERSIST", "k"]), ":1\r\n");
    assert_eq!(l.run(now, &["PEXPIRE", "k", "10", "LT"]), ":1\r\n");
    assert_eq!(l.run(now, &["PEXPIRE", "k", "20", "NX"]), ":0\r\n");
    assert_eq!(l.run(now, &["PEXPIRE", "k", "20", "XX"]), ":1\r\n");
    assert_eq!(l.srv.keyspace.db(0).volatile_len(), 1);
    // An expiry equal to now deletes at once and still answers 1.
    assert_eq!(l.run(now, &["PEXPIREAT", "k", &now.to_string()]), ":1\r\n");
    assert_eq!(l.run(now, &["DBSIZE"]), ":0\r\n");
    assert_eq!(l.srv.keyspace.db(0).volatile_len(), 0);
    l.run(now, &["SET", "k", "v"]);
    assert_eq!(l.run(now, &["EXPIRE", "k", "0"]), ":1\r\n");
    assert_eq!(l.run(now, &["EXISTS", "k"]), ":0\r\n");
}

/// Reads one counter from the node's Prometheus endpoint.
fn metric(http_port: u16, name: &str) -> f64 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", http_port)).expect("connect http");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut body = String::new();
    s.read_to_string(&mut body).expect("read");
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("metric {name} not found"))
}

#[test]
fn active_expiry_reclaims_keys_nobody_touches() {
    let http = common::free_port().to_string();
    let s = common::Server::start(&["--http-port", &http]);
    let http: u16 = http.parse().expect("port");
    let mut c = s.conn();
    let mut p = redis::pipe();
    for i in 0..10_000 {
        p.cmd("SET")
            .arg(format!("ttl:{i}"))
            .arg("v")
            .arg("PX")
            .arg(300 + i % 500)
            .ignore();
    }
    for i in 0..100 {
        p.cmd("SET").arg(format!("keep:{i}")).arg("v").ignore();
    }
    let () = p.query(&mut c).expect("load");
    let dbsize =
        |c: &mut redis::Connection| -> i64 { redis::cmd("DBSIZE").query(c).expect("dbsize") };
    // Only DBSIZE, which never looks keys up, runs until every TTL key is gone.
    let deadline = Instant::now() + Duration::from_secs(30);
    while dbsize(&mut c) != 100 {
        assert!(
            Instant::now() < deadline,
            "active expiry left {} keys",
            dbsize(&mut c)
        );
        std::thread::yield_now();
    }
    assert!(metric(http, "kcache_expired_keys_total") >= 10_000.0);
    let keep: Vec<String> = (0..100).map(|i| format!("keep:{i}")).collect();
    let n: i64 = redis::cmd("EXISTS")
        .arg(&keep)
        .query(&mut c)
        .expect("exists");
    assert_eq!(n, 100);
}
