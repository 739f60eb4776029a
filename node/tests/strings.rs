//! String commands against a real node: behaviour, limits, TTL handling, and a
//! side-by-side comparison of raw replies with redis-server.

mod common;
#[path = "support/diff.rs"]
mod diff;

use std::time::{Duration, Instant};

use common::Server;
use diff::RawConn;

/// Commands whose replies must be byte-identical to redis-server's (keys named
/// `k…` are prefixed per run). No TTL-reading commands: timing would differ.
const STRING_SCRIPT: &[&str] = &[
    // SET / SETNX / SETEX / PSETEX / GETSET / GETDEL / GETEX
    "SET k1 hello",
    "SET k1 v NX",
    "SET k1 v XX GET",
    "SET k1 v NX XX",
    "SET k1 v EX 10 PX 10",
    "SET k1 v EX 10 EX 20",
    "SET k1 v EX 0",
    "SET k1 v EX -5",
    "SET k1 v EX abc",
    "SET k1 v PX 9223372036854775807",
    "SET k1 v EX 9223372036854775",
    "SET k1 v KEEPTTL EX 5",
    "SET k1 v PERSIST",
    "SET k1 v GET NX",
    "SET k1 v EXAT 99999999999",
    "SET k1 v FOO",
    "SET k1 v EX",
    "GET k1",
    "SETNX k2 a",
    "SETNX k2 b",
    "GET k2",
    "SETNX",
    "SETEX k3 10 v",
    "SETEX k3 0 v",
    "SETEX k3 -1 v",
    "SETEX k3 x v",
    "SETEX k3 9223372036854775807 v",
    "PSETEX k3 100000 v",
    "PSETEX k3 0 v",
    "PSETEX k3 1.5 v",
    "GET k3",
    "GETSET k4 one",
    "GETSET k4 two",
    "GET k4",
    "GETDEL k4",
    "GETDEL k4",
    "GET k4",
    "GETEX k5",
    "GETEX k5 EX 0",
    "SET k5 v",
    "GETEX k5",
    "GETEX k5 EX 100",
    "GETEX k5 PX 100000",
    "GETEX k5 EXAT 99999999999",
    "GETEX k5 PXAT 99999999999000",
    "GETEX k5 PERSIST",
    "GETEX k5 EX 10 PERSIST",
    "GETEX k5 PERSIST EX 10",
    "GETEX k5 EX 0",
    "GETEX k5 EX -1",
    "GETEX k5 EX abc",
    "GETEX k5 KEEPTTL",
    "GETEX k5 NX",
    "GETEX k5 EX",
    "GETEX k5 EXAT 1",
    "GET k5",
    // MGET / MSET / MSETNX
    "MSET k6 a k7 b k8 c",
    "MGET k6 k7 k8 k9",
    "MSET k6 a k7",
    "MSET k6",
    "MSETNX k9 x k6 y",
    "MGET k9 k6",
    "MSETNX k9 x k10 y k9 z",
    "MGET k9 k10",
    "MSET k11 1 k11 2",
    "GET k11",
    "MSETNX k12",
    "MSETNX k12 a k13",
    "MGET",
    // APPEND / STRLEN / GETRANGE / SUBSTR / SETRANGE
    "APPEND k14 Hello",
    "APPEND k14 ,World",
    "APPEND k14 ''",
    "APPEND k15 ''",
    "STRLEN k15",
    "GET k15",
    "STRLEN k14",
    "STRLEN nokey:k",
    "GETRANGE k14 0 4",
    "GETRANGE k14 -5 -1",
    "GETRANGE k14 -1 -5",
    "GETRANGE k14 5 3",
    "GETRANGE k14 0 100",
    "GETRANGE k14 -100 2",
    "GETRANGE k14 9223372036854775807 -9223372036854775808",
    "GETRANGE k14 -9223372036854775808 9223372036854775807",
    "GETRANGE k14 a 1",
    "GETRANGE k14 1 b",
    "GETRANGE k16 0 -1",
    "GETRANGE k15 0 -1",
    "SUBSTR k14 1 3",
    "SETRANGE k14 7 Redis",
    "GET k14",
    "SETRANGE k17 5 x",
    "GET k17",
    "SETRANGE k18 5 ''",
    "GET k18",
    "SETRANGE k14 0 ''",
    "SETRANGE k14 -1 x",
    "SETRANGE k14 x x",
    "SETRANGE k14 536870912 x",
    "SETRANGE k14 9223372036854775807 x",
    "APPEND k14 !",
    "GET k14",
    // INCR family
    "INCR k19",
    "INCR k19",
    "DECR k19",
    "INCRBY k19 10",
    "DECRBY k19 3",
    "INCRBY k19 -20",
    "INCRBY k19 abc",
    "INCRBY k19 1.5",
    "DECRBY k19 -9223372036854775808",
    "DECRBY k19 9223372036854775807",
    "DECRBY k19 9223372036854775807",
    "SET k20 9223372036854775807",
    "INCR k20",
    "SET k20 -9223372036854775808",
    "DECR k20",
    "INCRBY k20 -1",
    "SET k20 ' 1'",
    "INCR k20",
    "SET k20 01",
    "INCR k20",
    "SET k20 -0",
    "INCR k20",
    "SET k20 +1",
    "INCR k20",
    "SET k20 12345678901234567890",
    "INCR k20",
    "SET k20 abc",
    "DECR k20",
    "SET k21 10.50",
    "INCRBYFLOAT k21 0.1",
    "INCRBYFLOAT k21 -5",
    "SET k21 5.0e3",
    "INCRBYFLOAT k21 2.0e2",
    "INCRBYFLOAT k22 3.0e3",
    "INCRBYFLOAT k22 5.0e-3",
    "INCRBYFLOAT k23 0.1",
    "INCRBYFLOAT k23 0.2",
    "INCRBYFLOAT k24 1e30",
    "INCRBYFLOAT k24 1e300",
    "INCRBYFLOAT k25 1e400",
    "INCRBYFLOAT k25 -1e400",
    "INCRBYFLOAT k26 1e5000",
    "INCRBYFLOAT k26 inf",
    "INCRBYFLOAT k26 -inf",
    "INCRBYFLOAT k26 nan",
    "INCRBYFLOAT k26 abc",
    "INCRBYFLOAT k26 ''",
    "INCRBYFLOAT k26 0x1p4",
    "INCRBYFLOAT k26 .5",
    "INCRBYFLOAT k26 5.",
    "INCRBYFLOAT k26 1e-20",
    "INCRBYFLOAT k26 -1.25e-3",
    "INCRBYFLOAT k26 123456789012345678901234567890",
    "INCRBYFLOAT k26 1e",
    "SET k27 abc",
    "INCRBYFLOAT k27 1",
    "SET k27 1e4932",
    "INCRBYFLOAT k27 1e4932",
    "SET k27 inf",
    "INCRBYFLOAT k27 abc",
    "SET k27 3",
    "INCRBYFLOAT k27 -3",
    "INCRBYFLOAT k27 -0.1",
    "INCR k27",
    // LCS
    "MSET k28 ohmytext k29 mynewtext",
    "LCS k28 k29",
    "LCS k28 k29 LEN",
    "LCS k28 k29 IDX",
    "LCS k28 k29 IDX MINMATCHLEN 4",
    "LCS k28 k29 IDX MINMATCHLEN 4 WITHMATCHLEN",
    "LCS k28 k29 IDX WITHMATCHLEN MINMATCHLEN -3",
    "LCS k28 k29 IDX LEN",
    "LCS k28 k29 FOO",
    "LCS k28 k29 MINMATCHLEN",
    "LCS k28 k29 MINMATCHLEN x",
    "LCS k28 nokey:k",
    "LCS nokey:k nokey:k IDX",
    "LCS k28 k28 IDX WITHMATCHLEN",
    "MSET k30 ABCBDAB k31 BDCABA",
    "LCS k30 k31",
    "LCS k30 k31 IDX WITHMATCHLEN",
    "LCS k28",
    // Arity errors
    "GET",
    "SET k1",
    "GETEX",
    "APPEND k1",
    "INCRBYFLOAT k1",
    "GETRANGE k1 0",
    "SETRANGE k1 0",
];

#[test]
fn replies_match_redis_server_side_by_side() {
    let redis = Server::start_redis(&[]);
    let node = Server::start(&[]);
    diff::assert_same(node.port, redis.port, STRING_SCRIPT);
}

#[test]
fn proto_max_bulk_len_limits_append_and_setrange() {
    let redis = Server::start_redis(&["--proto-max-bulk-len", "1mb"]);
    let node = Server::start(&["--proto-max-bulk-len", "1mb"]);
    let script = [
        "SETRANGE k1 1048575 x",
        "STRLEN k1",
        "SETRANGE k1 1048576 x",
        "SETRANGE k2 1048575 xy",
        "APPEND k1 y",
        "STRLEN k1",
        "SET k3 ''",
        "SETRANGE k3 1048576 ''",
    ];
    diff::assert_same(node.port, redis.port, &script);
}

#[test]
fn set_keeps_or_drops_ttl_like_redis() {
    // The node has no TTL command in this family, so expiry is observed by the
    // key disappearing (polled with a deadline).
    let s = Server::start(&[]);
    let mut c = RawConn::connect(s.port);
    let gone = |c: &mut RawConn, key: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if c.cmd(&format!("GET {key}")) == b"$-1\r\n" {
                return true;
            }
            std::thread::yield_now();
        }
        false
    };
    // APPEND, SETRANGE, INCR and INCRBYFLOAT keep the TTL.
    for (key, edit, reply) in [
        ("a", "APPEND a xyz", &b":4\r\n"[..]),
        ("b", "SETRANGE b 1 q", b":2\r\n"),
        ("c", "INCR c", b":2\r\n"),
        ("d", "INCRBYFLOAT d 1.5", b"$3\r\n2.5\r\n"),
    ] {
        assert_eq!(c.cmd(&format!("PSETEX {key} 300 1")), b"+OK\r\n");
        assert_eq!(c.cmd(edit), reply, "{edit}");
        assert!(gone(&mut c, key), "{edit} dropped the TTL");
    }
    // Long values edited in place keep it too.
    let long = "x".repeat(100);
    assert_eq!(c.cmd(&format!("PSETEX e 300 {long}")), b"+OK\r\n");
    assert_eq!(c.cmd("APPEND e y"), b":101\r\n");
    assert!(gone(&mut c, "e"));
    // SET, GETSET and MSET drop it; GETEX PERSIST removes it; KEEPTTL keeps it.
    for (setup, op) in [
        ("PSETEX f 200 1", "SET f 2"),
        ("PSETEX g 200 1", "GETSET g 2"),
        ("PSETEX h 200 1", "MSET h 2"),
        ("SET j 2 PX 200", "GETEX j PERSIST"),
    ] {
        assert_eq!(c.cmd(setup), b"+OK\r\n");
        assert!(!c.cmd(op).starts_with(b"-"), "{op}");
    }
    assert_eq!(c.cmd("PSETEX i 200 1"), b"+OK\r\n");
    assert_eq!(c.cmd("SET i 2 KEEPTTL"), b"+OK\r\n");
    assert!(gone(&mut c, "i"), "KEEPTTL lost the TTL");
    for k in ["f", "g", "h", "j"] {
        assert_eq!(c.cmd(&format!("GET {k}")), b"$1\r\n2\r\n", "{k} expired");
    }
    // GETEX with a past absolute time deletes the key but returns the value.
    assert_eq!(c.cmd("SET k v"), b"+OK\r\n");
    assert_eq!(c.cmd("GETEX k PXAT 1"), b"$1\r\nv\r\n");
    assert_eq!(c.cmd("GET k"), b"$-1\r\n");
}

#[test]
fn repeated_append_builds_large_values() {
    let s = Server::start(&[]);
    let mut c = RawConn::connect(s.port);
    let chunk = "abcdefghij".repeat(10);
    let mut p = redis::pipe();
    for _ in 0..20_000 {
        p.cmd("APPEND").arg("big").arg(&chunk);
    }
    let mut conn = s.conn();
    let lens: Vec<i64> = p.query(&mut conn).unwrap();
    assert_eq!(lens.last(), Some(&2_000_000));
    assert_eq!(c.cmd("STRLEN big"), b":2000000\r\n");
    assert_eq!(c.cmd("GETRANGE big 1999990 -1"), b"$10\r\nabcdefghij\r\n");
    assert_eq!(c.cmd("SETRANGE big 2000000 Z"), b":2000001\r\n");
    assert_eq!(c.cmd("GETRANGE big -2 -1"), b"$2\r\njZ\r\n");
}

#[test]
fn mset_is_atomic_with_respect_to_mget() {
    // Writers flip 50 keys between all-"a" and all-"b"; readers must never see a mix.
    let s = Server::start(&[]);
    let keys: Vec<String> = (0..50).map(|i| format!("atomic:{i}")).collect();
    let mut writer = s.conn();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let client = s.client();
        let keys = keys.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut c = client.get_connection().unwrap();
            let mut seen = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let vals: Vec<Option<String>> =
                    redis::cmd("MGET").arg(&keys).query(&mut c).unwrap();
                if vals[0].is_some() {
                    assert!(vals.iter().all(|v| v == &vals[0]), "torn MGET: {vals:?}");
                    seen += 1;
                }
            }
            seen
        })
    };
    for round in 0..300 {
        let v = if round % 2 == 0 { "a" } else { "b" };
        let mut cmd = redis::cmd("MSET");
        for k in &keys {
            cmd.arg(k).arg(v);
        }
        let _: () = cmd.query(&mut writer).unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
}

#[test]
fn incr_is_atomic_across_connections() {
    let s = Server::start(&[]);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let client = s.client();
            std::thread::spawn(move || {
                let mut c = client.get_connection().unwrap();
                for _ in 0..500 {
                    let _: i64 = redis::cmd("INCR").arg("ctr").query(&mut c).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = s.conn();
    let v: i64 = redis::cmd("GET").arg("ctr").query(&mut c).unwrap();
    assert_eq!(v, 2000);
}

#[test]
fn binary_values_round_trip() {
    let s = Server::start(&[]);
    let mut c = RawConn::connect(s.port);
    let v: Vec<u8> = (0..=255u8).collect();
    let reply = c.call(&[b"SET".to_vec(), b"bin".to_vec(), v.clone()]);
    assert_eq!(reply, b"+OK\r\n");
    let reply = c.call(&[b"APPEND".to_vec(), b"bin".to_vec(), vec![0, 13, 10]]);
    assert_eq!(reply, b":259\r\n");
    let got = c.call(&[
        b"GETRANGE".to_vec(),
        b"bin".to_vec(),
        b"254".to_vec(),
        b"-1".to_vec(),
    ]);
    assert_eq!(got, b"$5\r\n\xfe\xff\x00\r\n\r\n");
}
