//! Keyspace commands against a real node: a side-by-side run with redis-server,
//! SCAN's guarantees, atomicity of two-key commands under concurrency, FLUSH*,
//! SWAPDB and OBJECT.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::Server;
use redis::Value;

type Reply = Result<Value, String>;

fn q(c: &mut redis::Connection, argv: &[&str]) -> Reply {
    let mut cmd = redis::cmd(argv[0]);
    for a in &argv[1..] {
        cmd.arg(*a);
    }
    cmd.query::<Value>(c).map_err(|e| {
        format!(
            "{} {}",
            e.code().unwrap_or("?"),
            e.detail().unwrap_or_default()
        )
    })
}

fn int(c: &mut redis::Connection, argv: &[&str]) -> i64 {
    match q(c, argv) {
        Ok(Value::Int(n)) => n,
        other => panic!("{argv:?}: expected an integer, got {other:?}"),
    }
}

/// Makes replies whose order Redis leaves unspecified comparable.
fn normalise(argv: &[&str], reply: Reply) -> Reply {
    let sort = |v: &mut Vec<Value>| v.sort_by_key(|x| format!("{x:?}"));
    let name = argv[0].to_ascii_uppercase();
    reply.map(|v| match (name.as_str(), v) {
        ("KEYS", Value::Array(mut keys)) => {
            sort(&mut keys);
            Value::Array(keys)
        }
        ("SCAN", Value::Array(mut parts)) => {
            if let Some(Value::Array(keys)) = parts.get_mut(1) {
                sort(keys);
            }
            Value::Array(parts)
        }
        (_, v) => v,
    })
}

/// Commands whose replies must be identical on kcache-node and redis-server.
/// Only deterministic replies: no PTTL, no IDLETIME, SCAN with a COUNT that
/// covers the whole database.
const SCRIPT: &[&[&str]] = &[
    &["FLUSHALL"],
    &["SET", "a", "1"],
    &["SET", "b", "hello"],
    &[
        "SET",
        "c",
        "a-value-that-is-longer-than-forty-four-bytes-long",
    ],
    &["SET", "n", "123"],
    &["TYPE", "a"],
    &["TYPE", "nokey"],
    &["EXISTS", "a", "b", "nokey", "a"],
    &["OBJECT", "ENCODING", "a"],
    &["OBJECT", "ENCODING", "b"],
    &["OBJECT", "ENCODING", "c"],
    &["OBJECT", "ENCODING", "nokey"],
    &["OBJECT", "REFCOUNT", "n"],
    &["OBJECT", "REFCOUNT", "b"],
    &["OBJECT", "FREQ", "a"],
    &["OBJECT", "FREQ", "nokey"],
    &["OBJECT", "foo", "a"],
    &["OBJECT", "ENCODING"],
    &["OBJECT", "ENCODING", "a", "b"],
    &["OBJECT", "HELP"],
    &["OBJECT", "HELP", "x"],
    &["OBJECT"],
    // EXPIRE family: options, errors, conditions.
    &["EXPIRE", "a", "100", "foo"],
    &["EXPIRE", "a", "abc", "foo"],
    &["EXPIRE", "a", "abc"],
    &["EXPIRE", "a", "10", "nx", "xx"],
    &["EXPIRE", "a", "10", "gt", "lt"],
    &["EXPIRE", "a", "10", "NX", "GT"],
    &["EXPIRE", "a", "9223372036854775807"],
    &["EXPIRE", "a", "9223372036854775"],
    &["EXPIRE", "a", "-9223372036854775808"],
    &["PEXPIRE", "a", "9223372036854775807"],
    &["EXPIREAT", "a", "9223372036854775807"],
    &["PEXPIREAT", "a", "abc"],
    &["TTL", "a"],
    &["EXPIRETIME", "a"],
    &["PEXPIRETIME", "nokey"],
    &["TTL", "nokey"],
    &["EXPIRE", "a", "100", "XX"],
    &["EXPIRE", "a", "100", "GT"],
    &["EXPIRE", "a", "100", "LT"],
    &["TTL", "a"],
    &["EXPIRE", "a", "50", "gt"],
    &["EXPIRE", "a", "200", "gt"],
    &["TTL", "a"],
    &["EXPIRE", "a", "300", "nx"],
    &["EXPIRE", "a", "10", "lt"],
    &["TTL", "a"],
    &["EXPIREAT", "b", "4102444800"],
    &["EXPIRETIME", "b"],
    &["PEXPIRETIME", "b"],
    &["PEXPIREAT", "b", "4102444800123"],
    &["EXPIRETIME", "b"],
    &["PEXPIRETIME", "b"],
    &["PEXPIREAT", "b", "9223372036854775807"],
    &["EXPIRETIME", "b"],
    &["PEXPIRETIME", "b"],
    &["PERSIST", "b"],
    &["PERSIST", "b"],
    &["PERSIST", "nokey"],
    &["TTL", "b"],
    &["EXPIRE", "nokey", "10"],
    &["EXPIRE", "a", "-1"],
    &["EXISTS", "a"],
    &["SET", "a", "1"],
    &["EXPIREAT", "a", "1"],
    &["GET", "a"],
    // RENAME / RENAMENX.
    &["RENAME", "nokey", "x"],
    &["RENAMENX", "nokey", "x"],
    &["RENAME", "nokey", "nokey"],
    &["RENAME", "b", "b"],
    &["RENAMENX", "b", "b"],
    &["RENAME", "b", "b2"],
    &["GET", "b2"],
    &["EXISTS", "b"],
    &["SET", "t", "v", "EX", "1000"],
    &["RENAME", "t", "t2"],
    &["TTL", "t2"],
    &["RENAMENX", "t2", "b2"],
    &["RENAMENX", "t2", "t3"],
    &["TTL", "t3"],
    &["RENAME", "c", "b2"],
    &["GET", "b2"],
    &["OBJECT", "ENCODING", "b2"],
    // COPY.
    &["COPY", "b2", "b2"],
    &["COPY", "b2", "b3"],
    &["COPY", "b2", "b3"],
    &["COPY", "b2", "b3", "REPLACE"],
    &["COPY", "b2", "b3", "DB", "99"],
    &["COPY", "b2", "b3", "DB", "x"],
    &["COPY", "b2", "b3", "DB", "-1"],
    &["COPY", "b2", "b3", "DB", "4294967296"],
    &["COPY", "b2", "b3", "foo"],
    &["COPY", "b2", "b3", "DB"],
    &["COPY", "b2", "b2", "DB", "0"],
    &["COPY", "nokey", "x"],
    &["COPY", "t3", "t4"],
    &["TTL", "t4"],
    &["COPY", "b2", "b2", "DB", "1"],
    &["COPY", "b2", "b2", "db", "1", "replace"],
    // MOVE.
    &["MOVE", "b2", "0"],
    &["MOVE", "b2", "16"],
    &["MOVE", "b2", "abc"],
    &["MOVE", "b2", "-1"],
    &["MOVE", "b2", "4294967296"],
    &["MOVE", "b2", "99999999999999999999"],
    &["MOVE", "nokey", "0"],
    &["MOVE", "nokey", "1"],
    &["MOVE", "b2", "1"],
    &["MOVE", "t4", "1"],
    &["TTL", "t4"],
    &["SELECT", "1"],
    &["KEYS", "*"],
    &["TTL", "t4"],
    &["SELECT", "0"],
    // SWAPDB.
    &["SWAPDB", "0", "x"],
    &["SWAPDB", "x", "0"],
    &["SWAPDB", "99", "x"],
    &["SWAPDB", "0", "99"],
    &["SWAPDB", "0", "-1"],
    &["SWAPDB", "4294967296", "0"],
    &["SWAPDB", "0", "-4294967296"],
    &["SWAPDB", "0", "0"],
    &["SWAPDB", "0", "1"],
    &["KEYS", "*"],
    &["SWAPDB", "1", "0"],
    &["DBSIZE"],
    // KEYS and SCAN.
    &["KEYS", "*"],
    &["KEYS", "b*"],
    &["KEYS", "?"],
    &["KEYS", "[nt]*"],
    &["KEYS", "t[^2]"],
    &["KEYS", "nomatch"],
    &["SCAN", "abc"],
    &["SCAN", "1.5"],
    &["SCAN", " 0"],
    &["SCAN", "18446744073709551616"],
    &["SCAN", "0", "COUNT", "0"],
    &["SCAN", "0", "COUNT", "-1"],
    &["SCAN", "0", "COUNT", "x"],
    &["SCAN", "0", "foo", "bar"],
    &["SCAN", "0", "MATCH"],
    &["SCAN", "0", "COUNT", "1000"],
    &["SCAN", "", "COUNT", "1000"],
    &["SCAN", "+0", "count", "1000", "match", "b*"],
    &["SCAN", "0", "COUNT", "1000", "TYPE", "string"],
    &[
        "SCAN", "0", "COUNT", "1000", "TYPE", "STRING", "MATCH", "t*",
    ],
    &["SCAN", "0", "COUNT", "1000", "TYPE", "hash"],
    // TOUCH, UNLINK, DEL, RANDOMKEY.
    &["TOUCH", "n", "b2", "nokey", "n"],
    &["UNLINK", "b2", "nokey", "b2"],
    &["DEL", "t3", "t3"],
    &["FLUSHDB"],
    &["RANDOMKEY"],
    &["SET", "only", "1"],
    &["RANDOMKEY"],
    // FLUSHDB / FLUSHALL.
    &["SELECT", "1"],
    &["SET", "x", "1"],
    &["FLUSHDB", "foo"],
    &["FLUSHDB", "ASYNC", "SYNC"],
    &["FLUSHDB", "SYNC"],
    &["DBSIZE"],
    &["SELECT", "0"],
    &["DBSIZE"],
    &["FLUSHALL", "async"],
    &["DBSIZE"],
    &["FLUSHALL", "SYNC"],
    &["FLUSHALL", "x"],
    // Arity.
    &["TTL"],
    &["TTL", "a", "b"],
    &["EXPIRE", "a"],
    &["RENAME", "a"],
    &["COPY", "a"],
    &["MOVE", "a"],
    &["KEYS"],
    &["SCAN"],
    &["SWAPDB", "0"],
    &["RANDOMKEY", "x"],
    &["PERSIST"],
    &["TOUCH"],
    &["UNLINK"],
    &["TYPE", "a", "b"],
];

fn side_by_side(resp3: bool) {
    let node = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let suffix = if resp3 { "?protocol=resp3" } else { "" };
    let connect = |s: &Server| {
        redis::Client::open(format!("{}{suffix}", s.url()))
            .and_then(|c| c.get_connection())
            .expect("connect")
    };
    let (mut n, mut r) = (connect(&node), connect(&redis));
    let mut mismatches = Vec::new();
    for argv in SCRIPT {
        let got = normalise(argv, q(&mut n, argv));
        let want = normalise(argv, q(&mut r, argv));
        if got != want {
            mismatches.push(format!("{argv:?}\n  node:  {got:?}\n  redis: {want:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} replies differ (resp3={resp3}):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn same_replies_as_redis_resp2() {
    side_by_side(false);
}

#[test]
fn same_replies_as_redis_resp3() {
    side_by_side(true);
}

/// Runs a whole SCAN iteration; returns every key and the number of calls.
fn scan_all(
    c: &mut redis::Connection,
    extra: &[&str],
    mut between: impl FnMut(&mut redis::Connection),
) -> (Vec<String>, usize) {
    let mut cursor = "0".to_string();
    let mut keys = Vec::new();
    let mut calls = 0;
    loop {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(&cursor);
        for a in extra {
            cmd.arg(*a);
        }
        let (next, batch): (String, Vec<String>) = cmd.query(c).expect("scan");
        calls += 1;
        let n: u64 = next.parse().expect("numeric cursor");
        assert!(n < 256 << 19, "cursor {n} is outside stripe * 2^19 + tag");
        keys.extend(batch);
        between(c);
        cursor = next;
        if cursor == "0" {
            return (keys, calls);
        }
        assert!(calls < 100_000, "SCAN does not terminate");
    }
}

#[test]
fn scan_returns_every_key_while_the_tables_resize() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let mut p = redis::pipe();
    for i in 0..3000 {
        p.cmd("SET").arg(format!("orig:{i}")).arg(i).ignore();
    }
    let () = p.query(&mut c).expect("load");
    // Between calls, grow the tables a lot, then shrink them again.
    let mut added = 0;
    let (keys, calls) = scan_all(&mut c, &["COUNT", "20"], |c| {
        let mut p = redis::pipe();
        for _ in 0..40 {
            p.cmd("SET").arg(format!("new:{added}")).arg(1).ignore();
            added += 1;
        }
        if added % 2000 == 0 {
            p.cmd("KEYS").arg("nothing").ignore();
            let old: Vec<String> = (added - 2000..added).map(|i| format!("new:{i}")).collect();
            p.cmd("DEL").arg(old).ignore();
        }
        let () = p.query(c).expect("mutate");
    });
    let seen: HashSet<&String> = keys.iter().collect();
    for i in 0..3000 {
        assert!(seen.contains(&format!("orig:{i}")), "SCAN missed orig:{i}");
    }
    assert!(
        calls > 3000 / 40,
        "COUNT 20 should take many calls, took {calls}"
    );
    // Without concurrent writes no key is returned twice.
    let (keys, _) = scan_all(&mut c, &["COUNT", "50", "MATCH", "orig:*"], |_| {});
    assert_eq!(keys.len(), 3000);
    assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 3000);
}

#[test]
fn scan_count_type_and_match() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    for i in 0..200 {
        let _: () = redis::cmd("SET")
            .arg(format!("user:{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
        let _: () = redis::cmd("SET")
            .arg(format!("item:{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    let (keys, _) = scan_all(&mut c, &["MATCH", "user:1?"], |_| {});
    let mut keys: Vec<String> = keys;
    keys.sort();
    let mut want: Vec<String> = (10..20).map(|i| format!("user:{i}")).collect();
    want.sort();
    assert_eq!(keys, want);
    let (keys, _) = scan_all(&mut c, &["TYPE", "list"], |_| {});
    assert!(keys.is_empty());
    let (keys, _) = scan_all(&mut c, &["TYPE", "String"], |_| {});
    assert_eq!(keys.len(), 400);
    // One call with a large COUNT covers everything and ends the iteration.
    let (next, batch): (String, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("COUNT")
        .arg(10_000)
        .query(&mut c)
        .unwrap();
    assert_eq!((next.as_str(), batch.len()), ("0", 400));
    // A small COUNT returns about that many keys per call (whole tag runs).
    let (next, batch): (String, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("COUNT")
        .arg(5)
        .query(&mut c)
        .unwrap();
    assert_ne!(next, "0");
    assert!(
        (5..20).contains(&batch.len()),
        "COUNT 5 gave {}",
        batch.len()
    );
    // A cursor the node never hands out ends the iteration.
    let (next, batch): (String, Vec<String>) =
        redis::cmd("SCAN").arg(u64::MAX).query(&mut c).unwrap();
    assert_eq!((next.as_str(), batch.len()), ("0", 0));
}

#[test]
fn rename_persist_and_copy_move_large_values_intact() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .arg("EX")
        .arg(1000)
        .query(&mut c)
        .unwrap();
    let get = |c: &mut redis::Connection, k: &str| -> Vec<u8> {
        redis::cmd("GET").arg(k).query(c).unwrap()
    };
    assert_eq!(q(&mut c, &["RENAME", "big", "big2"]), Ok(Value::Okay));
    assert_eq!(get(&mut c, "big2"), big);
    assert_eq!(int(&mut c, &["TTL", "big2"]), 1000);
    assert_eq!(int(&mut c, &["PERSIST", "big2"]), 1);
    assert_eq!(get(&mut c, "big2"), big);
    assert_eq!(int(&mut c, &["EXPIRE", "big2", "500"]), 1);
    assert_eq!(int(&mut c, &["EXPIRE", "big2", "600"]), 1);
    assert_eq!(get(&mut c, "big2"), big);
    assert_eq!(int(&mut c, &["COPY", "big2", "big3", "DB", "3"]), 1);
    assert_eq!(int(&mut c, &["MOVE", "big2", "5"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "big2"]), 0);
    assert_eq!(q(&mut c, &["SELECT", "5"]), Ok(Value::Okay));
    assert_eq!(get(&mut c, "big2"), big);
    assert_eq!(int(&mut c, &["TTL", "big2"]), 600);
    assert_eq!(q(&mut c, &["SELECT", "3"]), Ok(Value::Okay));
    assert_eq!(get(&mut c, "big3"), big);
    assert_eq!(int(&mut c, &["TTL", "big3"]), 600);
    assert_eq!(
        q(&mut c, &["OBJECT", "ENCODING", "big3"]),
        Ok(Value::BulkString(b"raw".to_vec()))
    );
}

#[test]
fn two_key_commands_are_atomic_under_concurrency() {
    let s = Server::start(&["--io-threads", "4"]);
    let mut c = s.conn();
    let _: () = redis::cmd("SET")
        .arg("ping")
        .arg("v")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("mover")
        .arg("m")
        .query(&mut c)
        .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let client = s.client();
            std::thread::spawn(move || {
                let mut c = client.get_connection().expect("connect");
                for i in 0..1500 {
                    let (from, to) = if (i + t) % 2 == 0 {
                        ("ping", "pong")
                    } else {
                        ("pong", "ping")
                    };
                    match q(&mut c, &["RENAME", from, to]) {
                        Ok(Value::Okay) => {}
                        Err(e) if e == "ERR no such key" => {}
                        other => panic!("RENAME: {other:?}"),
                    }
                    let db = ((i + t) % 3).to_string();
                    let _ = q(&mut c, &["SELECT", &db]);
                    let target = ((i + t + 1) % 3).to_string();
                    match q(&mut c, &["MOVE", "mover", &target]) {
                        Ok(Value::Int(0 | 1)) => {}
                        other => panic!("MOVE: {other:?}"),
                    }
                    let _ = q(&mut c, &["SELECT", "0"]);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("worker thread");
    }
    // Exactly one of ping/pong survives: no RENAME lost or duplicated the key.
    assert_eq!(int(&mut c, &["EXISTS", "ping", "pong"]), 1);
    // MOVE never duplicated nor lost "mover" across the three databases.
    let mut movers = 0;
    for db in 0..3 {
        let _ = q(&mut c, &["SELECT", &db.to_string()]);
        movers += int(&mut c, &["EXISTS", "mover"]);
    }
    assert_eq!(movers, 1);
}

#[test]
fn flush_commands_and_lazy_user_flush_default() {
    let s = Server::start(&["--lazyfree-lazy-user-flush", "yes"]);
    let mut c = s.conn();
    for db in [0, 1] {
        let _ = q(&mut c, &["SELECT", &db.to_string()]);
        let mut p = redis::pipe();
        for i in 0..20_000 {
            p.cmd("SET")
                .arg(format!("k{i}"))
                .arg(vec![b'x'; 100])
                .ignore();
        }
        let () = p.query(&mut c).unwrap();
    }
    assert_eq!(q(&mut c, &["FLUSHDB"]), Ok(Value::Okay));
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
    let _ = q(&mut c, &["SELECT", "0"]);
    assert_eq!(int(&mut c, &["DBSIZE"]), 20_000);
    assert_eq!(q(&mut c, &["FLUSHALL"]), Ok(Value::Okay));
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
    assert_eq!(q(&mut c, &["SET", "after", "1"]), Ok(Value::Okay));
    assert_eq!(q(&mut c, &["FLUSHALL", "SYNC"]), Ok(Value::Okay));
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
}

#[test]
fn swapdb_is_seen_by_clients_of_either_database() {
    let s = Server::start(&[]);
    let mut a = s.conn();
    let mut b = s.conn();
    assert_eq!(q(&mut b, &["SELECT", "1"]), Ok(Value::Okay));
    assert_eq!(
        q(&mut a, &["SET", "k", "from0", "EX", "100"]),
        Ok(Value::Okay)
    );
    assert_eq!(q(&mut b, &["SET", "other", "from1"]), Ok(Value::Okay));
    assert_eq!(q(&mut a, &["SWAPDB", "0", "1"]), Ok(Value::Okay));
    assert_eq!(
        q(&mut b, &["GET", "k"]),
        Ok(Value::BulkString(b"from0".to_vec()))
    );
    assert_eq!(int(&mut b, &["TTL", "k"]), 100);
    assert_eq!(
        q(&mut a, &["GET", "other"]),
        Ok(Value::BulkString(b"from1".to_vec()))
    );
    assert_eq!(int(&mut a, &["EXISTS", "k"]), 0);
}

#[test]
fn object_idletime_resets_on_touch_and_lfu_gates_freq() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert_eq!(q(&mut c, &["SET", "k", "v"]), Ok(Value::Okay));
    assert_eq!(int(&mut c, &["OBJECT", "IDLETIME", "k"]), 0);
    // The LRU clock has a one-second resolution: poll until it has moved.
    let deadline = Instant::now() + Duration::from_secs(10);
    while int(&mut c, &["OBJECT", "IDLETIME", "k"]) < 1 {
        assert!(Instant::now() < deadline, "IDLETIME never grew");
        std::thread::yield_now();
    }
    // OBJECT and TTL do not count as accesses; TOUCH does.
    assert_eq!(int(&mut c, &["TTL", "k"]), -1);
    assert!(int(&mut c, &["OBJECT", "IDLETIME", "k"]) >= 1);
    assert_eq!(int(&mut c, &["TOUCH", "k", "nokey"]), 1);
    assert_eq!(int(&mut c, &["OBJECT", "IDLETIME", "k"]), 0);

    let lfu = Server::start(&["--maxmemory-policy", "allkeys-lfu"]);
    let mut c = lfu.conn();
    assert_eq!(q(&mut c, &["SET", "k", "v"]), Ok(Value::Okay));
    assert!(
        matches!(q(&mut c, &["OBJECT", "FREQ", "k"]), Ok(Value::Int(n)) if (0..=255).contains(&n))
    );
    let e = q(&mut c, &["OBJECT", "IDLETIME", "k"]).unwrap_err();
    assert!(
        e.starts_with("ERR An LFU maxmemory policy is selected, idle time not tracked."),
        "{e}"
    );
}

/// Regression: a read that exactly filled the connection's query buffer was taken
/// for a short read, so the rest of a large pipeline stayed in the socket
/// unread (edge-triggered epoll does not report it again).
#[test]
fn large_pipelines_are_read_to_the_end() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let mut p = redis::pipe();
    for i in 0..20_000 {
        p.cmd("SET")
            .arg(format!("key:{i}"))
            .arg("v")
            .arg("PX")
            .arg(100_000 + i)
            .ignore();
    }
    p.cmd("DBSIZE");
    let (n,): (i64,) = p.query(&mut c).expect("pipeline");
    assert_eq!(n, 20_000);
}
