//! Transactions (MULTI EXEC DISCARD WATCH UNWATCH) against a real node: reply
//! shapes side by side with redis-server in RESP2 and RESP3, WATCH against other
//! clients, expiry and whole-database commands, and atomicity of EXEC under
//! concurrent clients on keys spread over many lock stripes.

mod common;
#[path = "support/diff.rs"]
mod diff;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Server;
use redis::Value;

/// Byte-identical to redis-server's replies (keys `k…` are prefixed per run).
const TX_SCRIPT: &[&str] = &[
    // Errors outside a transaction.
    "EXEC",
    "DISCARD",
    "UNWATCH",
    "WATCH",
    "UNWATCH k1",
    "MULTI x",
    // Queueing, runtime errors inside EXEC, every reply in the array.
    "MULTI",
    "SET k1 v",
    "LPUSH k1 x",
    "INCR k1",
    "GET k1",
    "HGETALL k2",
    "ZSCORE k2 m",
    "EXISTS k1 k2",
    "EXEC",
    // Empty transaction.
    "MULTI",
    "EXEC",
    // Nesting and WATCH inside MULTI are errors that do not abort.
    "MULTI",
    "MULTI",
    "WATCH k1",
    "PING",
    "EXEC",
    // Queue-time errors abort: unknown command, arity, subcommand, no-multi.
    "MULTI",
    "NOSUCHCOMMAND a b",
    "SET k1 v",
    "EXEC",
    "MULTI",
    "SET k1",
    "EXEC",
    "MULTI",
    "CLIENT NOSUCH",
    "EXEC",
    "MULTI",
    "CONFIG GET",
    "EXEC",
    "MULTI",
    "SHUTDOWN",
    "EXEC",
    "EXEC",
    // DISCARD.
    "MULTI",
    "INCR k3",
    "DISCARD",
    "GET k3",
    "MULTI",
    "INCR",
    "DISCARD",
    "EXEC",
    // SELECT inside a transaction; a failing SELECT keeps the database.
    "MULTI",
    "SELECT 1",
    "SET k4 one",
    "SELECT 99",
    "SET k5 five",
    "SELECT 0",
    "GET k4",
    "EXEC",
    "SELECT 1",
    "MGET k4 k5",
    "SELECT 0",
    // UNWATCH inside MULTI is queued.
    "MULTI",
    "UNWATCH",
    "EXEC",
    // WATCH: untouched key succeeds.
    "SET k6 1",
    "WATCH k6 k7",
    "GET k6",
    "MULTI",
    "INCR k6",
    "EXEC",
    // Modified by the same client before MULTI: EXEC fails with the null array.
    "WATCH k6",
    "SET k6 10",
    "MULTI",
    "INCR k6",
    "EXEC",
    "GET k6",
    // EXEC and failed EXEC unwatch.
    "SET k6 20",
    "MULTI",
    "INCR k6",
    "EXEC",
    // UNWATCH forgets.
    "WATCH k6",
    "SET k6 1",
    "UNWATCH",
    "MULTI",
    "GET k6",
    "EXEC",
    // DISCARD unwatches too.
    "WATCH k6",
    "SET k6 2",
    "MULTI",
    "DISCARD",
    "MULTI",
    "GET k6",
    "EXEC",
    // No-op deletions and expirations do not touch.
    "WATCH k8",
    "DEL k8",
    "EXPIRE k8 100",
    "MULTI",
    "PING",
    "EXEC",
    "SET k8 x",
    "WATCH k8",
    "EXPIRE k8 100",
    "MULTI",
    "PING",
    "EXEC",
    // Watched key in another database.
    "SELECT 1",
    "WATCH k9",
    "SELECT 0",
    "SET k9 x",
    "SELECT 1",
    "MULTI",
    "PING",
    "EXEC",
    "SELECT 0",
    // MOVE touches the key in the target database.
    "SELECT 1",
    "DEL k10",
    "WATCH k10",
    "SELECT 0",
    "SET k10 x",
    "MOVE k10 1",
    "SELECT 1",
    "MULTI",
    "PING",
    "EXEC",
    "SELECT 0",
    // Read-only sources of a STORE command are not touched; the destination is.
    "SADD k11 a b",
    "WATCH k11",
    "SUNIONSTORE k12 k11",
    "MULTI",
    "PING",
    "EXEC",
    "WATCH k12",
    "SUNIONSTORE k12 k11",
    "MULTI",
    "PING",
    "EXEC",
];

#[test]
fn replies_match_redis_server_side_by_side() {
    let redis = Server::start_redis(&[]);
    let node = Server::start(&[]);
    diff::assert_same(node.port, redis.port, TX_SCRIPT);
}

/// FLUSHDB / FLUSHALL / SWAPDB touch the watched keys that exist, and only them.
#[test]
fn whole_database_commands_side_by_side() {
    let redis = Server::start_redis(&[]);
    let node = Server::start(&[]);
    let script = [
        "FLUSHALL",
        "SET k1 x",
        "WATCH k1",
        "FLUSHDB",
        "MULTI",
        "PING",
        "EXEC",
        "WATCH k2",
        "FLUSHDB",
        "MULTI",
        "PING",
        "EXEC",
        "SET k1 x",
        "WATCH k1",
        "FLUSHALL",
        "MULTI",
        "PING",
        "EXEC",
        "WATCH k2",
        "FLUSHALL",
        "MULTI",
        "PING",
        "EXEC",
        // FLUSHDB of another database leaves the watch alone.
        "SET k1 x",
        "WATCH k1",
        "SELECT 1",
        "FLUSHDB",
        "SELECT 0",
        "MULTI",
        "PING",
        "EXEC",
        // SWAPDB: a watched key that exists in either database is touched.
        "WATCH k1",
        "SWAPDB 0 1",
        "MULTI",
        "PING",
        "EXEC",
        "WATCH k1",
        "SWAPDB 0 1",
        "MULTI",
        "PING",
        "EXEC",
        "WATCH k3",
        "SWAPDB 0 1",
        "MULTI",
        "PING",
        "EXEC",
        "FLUSHALL",
    ];
    diff::assert_same(node.port, redis.port, &script);
}

fn exec(c: &mut redis::Connection) -> Value {
    redis::cmd("EXEC").query(c).expect("EXEC")
}

fn q(c: &mut redis::Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).expect("query")
}

fn is_ok(v: &Value) -> bool {
    matches!(v, Value::Okay) || matches!(v, Value::SimpleString(s) if s == "OK")
}

#[test]
fn watch_fails_when_another_client_writes() {
    let s = Server::start(&[]);
    let (mut a, mut b) = (s.conn(), s.conn());
    q(&mut a, &["SET", "w", "1"]);
    assert!(is_ok(&q(&mut a, &["WATCH", "w", "other"])));
    q(&mut b, &["INCR", "w"]);
    q(&mut a, &["MULTI"]);
    q(&mut a, &["SET", "w", "100"]);
    assert_eq!(exec(&mut a), Value::Nil);
    assert_eq!(q(&mut b, &["GET", "w"]), Value::BulkString(b"2".to_vec()));

    // A read by another client does not count.
    q(&mut a, &["WATCH", "w"]);
    q(&mut b, &["GET", "w"]);
    q(&mut a, &["MULTI"]);
    q(&mut a, &["SET", "w", "100"]);
    assert!(matches!(exec(&mut a), Value::Array(v) if v.len() == 1));

    // Another client's transaction touches too.
    q(&mut a, &["WATCH", "w"]);
    q(&mut b, &["MULTI"]);
    q(&mut b, &["DEL", "w"]);
    assert!(matches!(exec(&mut b), Value::Array(v) if v == vec![Value::Int(1)]));
    q(&mut a, &["MULTI"]);
    q(&mut a, &["SET", "w", "1"]);
    assert_eq!(exec(&mut a), Value::Nil);
}

#[test]
fn watch_fails_when_the_key_expires() {
    let s = Server::start(&[]);
    let (mut a, mut b) = (s.conn(), s.conn());
    q(&mut a, &["SET", "e", "1", "PX", "40"]);
    q(&mut a, &["WATCH", "e"]);
    // Wait (polling another connection) until the key has expired.
    let deadline = Instant::now() + Duration::from_secs(10);
    while q(&mut b, &["EXISTS", "e"]) != Value::Int(0) {
        assert!(Instant::now() < deadline, "key never expired");
        std::thread::sleep(Duration::from_millis(5));
    }
    q(&mut a, &["MULTI"]);
    q(&mut a, &["PING"]);
    assert_eq!(exec(&mut a), Value::Nil);

    // Expiry that is not yet due does not fail EXEC.
    q(&mut a, &["SET", "e", "1", "EX", "100"]);
    q(&mut a, &["WATCH", "e"]);
    q(&mut a, &["MULTI"]);
    q(&mut a, &["PING"]);
    assert!(matches!(exec(&mut a), Value::Array(_)));
}

#[test]
fn client_list_shows_multi_and_flags() {
    let s = Server::start(&[]);
    let (mut a, mut b) = (s.conn(), s.conn());
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut a).expect("id");
    let line = |b: &mut redis::Connection| -> String {
        redis::cmd("CLIENT")
            .arg("LIST")
            .arg("ID")
            .arg(id)
            .query(b)
            .expect("client list")
    };
    assert!(line(&mut b).contains(" flags=N "), "{}", line(&mut b));
    assert!(line(&mut b).contains(" multi=-1 "));
    q(&mut a, &["WATCH", "cl"]);
    q(&mut b, &["SET", "cl", "x"]);
    assert!(line(&mut b).contains(" flags=d "), "{}", line(&mut b));
    q(&mut a, &["MULTI"]);
    q(&mut a, &["PING"]);
    q(&mut a, &["PING"]);
    let l = line(&mut b);
    assert!(l.contains(" flags=xd ") && l.contains(" multi=2 "), "{l}");
    assert_eq!(exec(&mut a), Value::Nil);
    let l = line(&mut b);
    assert!(l.contains(" flags=N ") && l.contains(" multi=-1 "), "{l}");
}

/// CLIENT REPLY inside and around transactions, byte for byte as redis-server.
#[test]
fn client_reply_modes_match_redis() {
    let redis = Server::start_redis(&[]);
    let node = Server::start(&[]);
    let scripts: &[&[&str]] = &[
        &[
            "MULTI",
            "CLIENT REPLY OFF",
            "SET a 1",
            "GET a",
            "EXEC",
            "PING",
            "CLIENT REPLY ON",
            "PING x",
        ],
        &[
            "CLIENT REPLY OFF",
            "MULTI",
            "SET a 1",
            "EXEC",
            "CLIENT REPLY ON",
            "PING x",
        ],
        &[
            "MULTI",
            "CLIENT REPLY SKIP",
            "SET a 1",
            "GET a",
            "EXEC",
            "PING",
            "PING x",
        ],
        &["CLIENT REPLY SKIP", "MULTI", "SET a 1", "EXEC", "PING x"],
        &["MULTI", "HELLO 3", "GET nokey", "EXEC", "HELLO 2", "PING x"],
        &["MULTI", "RESET", "EXEC", "PING x"],
        &["MULTI", "MONITOR", "EXEC", "PING x"],
    ];
    for script in scripts {
        let mut req = Vec::new();
        for line in script.iter() {
            let args = diff::split(line);
            req.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
            for a in args {
                req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                req.extend_from_slice(&a);
                req.extend_from_slice(b"\r\n");
            }
        }
        let done = |b: &[u8]| b.ends_with(b"$1\r\nx\r\n");
        let ours = common::raw(node.port, &req, done);
        let theirs = common::raw(redis.port, &req, done);
        // HELLO's reply carries the connection id: compare without it.
        let strip = |b: Vec<u8>| {
            String::from_utf8_lossy(&b)
                .split("\r\n")
                .filter(|l| !l.starts_with(':'))
                .collect::<Vec<_>>()
                .join("\r\n")
        };
        assert_eq!(strip(ours), strip(theirs), "script {script:?}");
    }
}

/// Queued arguments are copies: a transaction pipelined with large values in
/// one write, and queued over several reads, runs with the right arguments.
#[test]
fn queued_arguments_survive_the_read_buffer() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let big = "v".repeat(200_000);
    q(&mut c, &["MULTI"]);
    for i in 0..50 {
        let k = format!("qa{i}");
        let v = format!("{i}{big}");
        q(&mut c, &["SET", &k, &v]);
    }
    let Value::Array(replies) = exec(&mut c) else {
        panic!("EXEC did not return an array");
    };
    assert_eq!(replies.len(), 50);
    for i in 0..50 {
        let v: String = redis::cmd("GET")
            .arg(format!("qa{i}"))
            .query(&mut c)
            .expect("get");
        assert_eq!(v, format!("{i}{big}"));
    }
    // The same as one pipelined write.
    let mut p = redis::pipe();
    p.atomic();
    for i in 0..200 {
        p.cmd("SET").arg(format!("pa{i}")).arg(i);
    }
    p.cmd("MGET").arg("pa0").arg("pa199");
    let out: Vec<Value> = p.query(&mut c).expect("pipeline");
    assert_eq!(out.len(), 201);
}

/// N clients increment every one of 16 counters (spread over stripes) in each
/// MULTI/EXEC; readers, reading them in reverse order in their own EXEC, never
/// see two counters differ.
#[test]
fn exec_is_atomic_for_readers() {
    let s = Server::start(&["--io-threads", "4"]);
    let keys: Vec<String> = (0..16).map(|i| format!("ctr:{i}")).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|_| {
            let client = s.client();
            let keys = keys.clone();
            std::thread::spawn(move || {
                let mut c = client.get_connection().expect("connect");
                for _ in 0..300 {
                    let mut p = redis::pipe();
                    p.atomic();
                    for k in &keys {
                        p.cmd("INCR").arg(k);
                    }
                    let _: Vec<i64> = p.query(&mut c).expect("exec");
                }
            })
        })
        .collect();
    let checked = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let client = s.client();
            let keys = keys.clone();
            let (stop, checked) = (stop.clone(), checked.clone());
            std::thread::spawn(move || {
                let mut c = client.get_connection().expect("connect");
                while !stop.load(Ordering::Relaxed) || checked.load(Ordering::Relaxed) == 0 {
                    // One GET per key (each locks one stripe) inside one EXEC.
                    let mut p = redis::pipe();
                    p.atomic();
                    for k in keys.iter().rev() {
                        p.cmd("GET").arg(k);
                    }
                    let vals: Vec<Option<i64>> = p.query(&mut c).expect("read");
                    assert!(vals.windows(2).all(|w| w[0] == w[1]), "torn read: {vals:?}");
                    checked.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("reader");
    }
    let mut c = s.conn();
    let v: Vec<i64> = redis::cmd("MGET").arg(&keys).query(&mut c).expect("mget");
    assert_eq!(v, vec![3 * 300; 16]);
}

/// Transfers between many accounts keep the total constant for an observer,
/// whether its transaction locks some stripes (GETs) or all (DBSIZE inside).
#[test]
fn transfers_keep_the_total_for_observers() {
    let s = Server::start(&["--io-threads", "4"]);
    const ACCOUNTS: usize = 24;
    const OBSERVATIONS: usize = 150;
    let accounts: Vec<String> = (0..ACCOUNTS).map(|i| format!("acct:{i}")).collect();
    let mut c = s.conn();
    for a in &accounts {
        let _: () = redis::cmd("SET")
            .arg(a)
            .arg(100)
            .query(&mut c)
            .expect("set");
    }
    let observed = Arc::new(AtomicUsize::new(0));
    let movers: Vec<_> = (0..4)
        .map(|w| {
            let client = s.client();
            let accounts = accounts.clone();
            let observed = observed.clone();
            std::thread::spawn(move || {
                let mut c = client.get_connection().expect("connect");
                let mut x = w as u64 * 7919 + 1;
                // Keep moving money until the observers are done.
                while observed.load(Ordering::Relaxed) < 2 * OBSERVATIONS {
                    let mut p = redis::pipe();
                    p.atomic();
                    for _ in 0..6 {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let from = &accounts[(x >> 33) as usize % ACCOUNTS];
                        let to = &accounts[(x >> 17) as usize % ACCOUNTS];
                        let amount = (x >> 40) % 10;
                        p.cmd("DECRBY").arg(from).arg(amount);
                        p.cmd("INCRBY").arg(to).arg(amount);
                    }
                    let _: Vec<i64> = p.query(&mut c).expect("transfer");
                }
            })
        })
        .collect();
    let observers: Vec<_> = [false, true]
        .into_iter()
        .map(|whole| {
            let client = s.client();
            let accounts = accounts.clone();
            let observed = observed.clone();
            std::thread::spawn(move || {
                let mut c = client.get_connection().expect("connect");
                for _ in 0..OBSERVATIONS {
                    let mut p = redis::pipe();
                    p.atomic();
                    if whole {
                        p.cmd("DBSIZE");
                    }
                    for a in accounts.iter().rev() {
                        p.cmd("GET").arg(a);
                    }
                    let vals: Vec<i64> = p.query(&mut c).expect("observe");
                    let sum: i64 = vals.iter().skip(usize::from(whole)).sum();
                    observed.fetch_add(1, Ordering::Relaxed);
                    assert_eq!(sum, 100 * ACCOUNTS as i64, "total changed: {vals:?}");
                }
            })
        })
        .collect();
    let results: Vec<_> = observers.into_iter().map(|o| o.join()).collect();
    // A failed observer must not leave the movers running.
    observed.fetch_add(2 * OBSERVATIONS, Ordering::Relaxed);
    for m in movers {
        m.join().expect("mover");
    }
    for r in results {
        r.expect("observer");
    }
}

/// Optimistic increments with WATCH retry loops never lose an update.
#[test]
fn watch_retry_loops_do_not_lose_updates() {
    let s = Server::start(&["--io-threads", "4"]);
    const CLIENTS: usize = 4;
    const EACH: usize = 150;
    let retries = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let client = s.client();
            let retries = retries.clone();
            std::thread::spawn(move || {
                let mut c = client.get_connection().expect("connect");
                for _ in 0..EACH {
                    loop {
                        let _: () = redis::cmd("WATCH").arg("cas").query(&mut c).expect("watch");
                        let v: Option<i64> =
                            redis::cmd("GET").arg("cas").query(&mut c).expect("get");
                        let mut p = redis::pipe();
                        p.atomic()
                            .cmd("SET")
                            .arg("cas")
                            .arg(v.unwrap_or(0) + 1)
                            .ignore();
                        let r: Option<()> = p.query(&mut c).expect("exec");
                        if r.is_some() {
                            break;
                        }
                        retries.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let mut c = s.conn();
    let v: i64 = redis::cmd("GET").arg("cas").query(&mut c).expect("get");
    assert_eq!(
        v,
        (CLIENTS * EACH) as i64,
        "retries: {}",
        retries.load(Ordering::Relaxed)
    );
}

/// Transactions over all stripes, multi-key commands and cross-database
/// commands run concurrently without deadlocking.
#[test]
fn mixed_locking_does_not_deadlock() {
    let s = Server::start(&["--io-threads", "4"]);
    let handles: Vec<_> = (0..6)
        .map(|w| {
            let client = s.client();
            std::thread::spawn(move || {
                let mut c = client.get_connection().expect("connect");
                for i in 0..200 {
                    let (a, b) = (
                        format!("m{}", (i + w) % 13),
                        format!("m{}", (i * 7 + w) % 13),
                    );
                    let mut p = redis::pipe();
                    match w % 3 {
                        0 => {
                            p.atomic()
                                .cmd("MSET")
                                .arg(&a)
                                .arg(1)
                                .arg(&b)
                                .arg(2)
                                .cmd("DBSIZE");
                        }
                        1 => {
                            p.cmd("MSET").arg(&a).arg(3).arg(&b).arg(4);
                            p.cmd("COPY")
                                .arg(&a)
                                .arg(&b)
                                .arg("DB")
                                .arg(1)
                                .arg("REPLACE");
                        }
                        _ => {
                            p.atomic()
                                .cmd("SET")
                                .arg(&a)
                                .arg(5)
                                .cmd("MOVE")
                                .arg(&b)
                                .arg(2);
                            p.cmd("RENAME").arg(&a).arg(&b);
                        }
                    }
                    let _: Value = p.query(&mut c).unwrap_or(Value::Nil);
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    for h in handles {
        while !h.is_finished() {
            assert!(Instant::now() < deadline, "clients stuck: deadlock?");
            std::thread::sleep(Duration::from_millis(10));
        }
        h.join().expect("client");
    }
}
