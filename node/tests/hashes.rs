//! Hash commands against a real node: a side-by-side run with redis-server
//! (errors, encodings and their transitions, RESP2 and RESP3), random picks,
//! HSCAN over a large hash while it changes, and memory against redis-server.

mod common;
mod sidebyside;

use std::collections::{HashMap, HashSet};

use common::Server;
use redis::Value;
use sidebyside::row;

fn script() -> Vec<Vec<String>> {
    let mut s: Vec<Vec<String>> = [
        &["FLUSHALL"][..],
        &["HSET", "h", "f1", "v1", "f2", "v2"],
        &["HSET", "h", "f1", "new", "f3", "v3"],
        &["HSET", "h", "a"],
        &["HSET", "h"],
        &["HMSET", "h", "a", "1", "b"],
        &["HGET", "h", "f1"],
        &["HGET", "h", "nope"],
        &["HGET", "nx", "f"],
        &["HGET", "h"],
        &["HMGET", "h", "f1", "nope", "f3"],
        &["HMGET", "nx", "a", "b"],
        &["HSETNX", "h", "f1", "x"],
        &["HSETNX", "h", "f9", "x"],
        &["HSETNX", "h2", "f", "v"],
        &["HMSET", "h", "a", "1", "b", "2"],
        &["HLEN", "h"],
        &["HLEN", "nx"],
        &["HSTRLEN", "h", "f1"],
        &["HSTRLEN", "h", "nope"],
        &["HSTRLEN", "nx", "f"],
        &["HEXISTS", "h", "f1"],
        &["HEXISTS", "h", "nope"],
        &["HEXISTS", "nx", "f"],
        // A listpack keeps insertion order: compared exactly.
        &["HKEYS", "h"],
        &["HVALS", "h"],
        &["HGETALL", "h"],
        &["HGETALL", "nx"],
        &["HKEYS", "nx"],
        &["HDEL", "h", "f1", "nope", "f2", "f2"],
        &["HDEL", "nx", "a"],
        &["HGETALL", "h"],
        &["HDEL", "h2", "f"],
        &["EXISTS", "h2"],
        &["HINCRBY", "h", "n", "5"],
        &["HINCRBY", "h", "n", "-10"],
        &["HINCRBY", "h", "f3", "1"],
        &["HINCRBY", "h", "n", "x"],
        &["HINCRBY", "h", "n", "9223372036854775807"],
        &["HSET", "h", "max", "9223372036854775807"],
        &["HINCRBY", "h", "max", "1"],
        &["HINCRBY", "h", "sp", " 1"],
        &["HINCRBY", "nx2", "n", "7"],
        &["HINCRBYFLOAT", "h", "fl", "1.5"],
        &["HINCRBYFLOAT", "h", "fl", "2.0e2"],
        &["HINCRBYFLOAT", "h", "fl", "-0.25"],
        &["HINCRBYFLOAT", "h", "b", "1"],
        &["HINCRBYFLOAT", "h", "fl", "x"],
        &["HINCRBYFLOAT", "h", "f3", "1"],
        &["HINCRBYFLOAT", "h", "fl", "inf"],
        &["HINCRBYFLOAT", "h", "fl", "nan"],
        &["HGET", "h", "fl"],
        &["HRANDFIELD", "nx"],
        &["HRANDFIELD", "nx", "5"],
        &["HRANDFIELD", "nx", "-5", "WITHVALUES"],
        &["HRANDFIELD", "h", "0"],
        &["HRANDFIELD", "h", "100"],
        &["HRANDFIELD", "h", "100", "WITHVALUES"],
        &["#HRANDFIELD", "h", "-7", "WITHVALUES"],
        &["#HRANDFIELD", "h", "2"],
        &["#HRANDFIELD", "h"],
        &["HRANDFIELD", "h", "1", "x"],
        &["HRANDFIELD", "h", "1", "WITHVALUES", "x"],
        &["HRANDFIELD", "h", "x"],
        &["HRANDFIELD", "h", "-9223372036854775808"],
        &["HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"],
        &["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"],
        &["HSCAN", "h", "0"],
        &["HSCAN", "h", "0", "MATCH", "f*"],
        &["HSCAN", "h", "0", "MATCH", "f*", "COUNT", "1"],
        &["HSCAN", "h", "0", "COUNT", "0"],
        &["HSCAN", "h", "0", "COUNT", "x"],
        &["HSCAN", "nx", "0", "COUNT", "0"],
        &["HSCAN", "h", "x"],
        &["HSCAN", "h", "0", "FOO"],
        &["HSCAN", "h", "0", "MATCH"],
        &["SET", "str", "x"],
        &["HGET", "str", "f"],
        &["HSET", "str", "f", "v"],
        &["HGETALL", "str"],
        &["HLEN", "str"],
        &["HDEL", "str", "f"],
        &["HINCRBY", "str", "f", "1"],
        &["HRANDFIELD", "str"],
        &["HRANDFIELD", "str", "1"],
        &["HSCAN", "str", "0"],
        &["HMGET", "str", "f"],
        &["TYPE", "h"],
        &["OBJECT", "ENCODING", "h"],
        &["SET", "str", "y"],
        &["GET", "h"],
    ]
    .iter()
    .map(|r| row(r))
    .collect();

    // Encoding transitions at Redis 7.0's default thresholds (512 entries, 64
    // bytes; redis.conf and the compiled-in defaults agree).
    let long64 = "v".repeat(64);
    let long65 = "v".repeat(65);
    let mut lp = row(&["HSET", "lp"]);
    for i in 0..512 {
        lp.push(format!("field:{i}"));
        lp.push(format!("{i}"));
    }
    s.push(lp);
    for r in [
        row(&["OBJECT", "ENCODING", "lp"]),
        row(&["HSET", "lp", "field:0", &long64]),
        row(&["OBJECT", "ENCODING", "lp"]),
        row(&["HGETALL", "lp"]),
        row(&["HSET", "lp", "one-more", "x"]),
        row(&["OBJECT", "ENCODING", "lp"]),
        row(&["HLEN", "lp"]),
        row(&["~HGETALL", "lp"]),
        row(&["~HKEYS", "lp"]),
        row(&["~HVALS", "lp"]),
        row(&["~HRANDFIELD", "lp", "1000", "WITHVALUES"]),
        row(&["~HSCAN", "lp", "0", "COUNT", "1000"]),
        row(&["#HRANDFIELD", "lp", "-3"]),
        row(&["#HRANDFIELD", "lp", "5", "WITHVALUES"]),
        // Large stays large, even when it shrinks back.
        row(&["HDEL", "lp", "one-more", "field:1", "field:2"]),
        row(&["OBJECT", "ENCODING", "lp"]),
        row(&["HGET", "lp", "field:0"]),
        row(&["HSTRLEN", "lp", "field:0"]),
        row(&["HSET", "v65", "f", &long65]),
        row(&["OBJECT", "ENCODING", "v65"]),
        row(&["HSET", "f65", &long65, "v"]),
        row(&["OBJECT", "ENCODING", "f65"]),
        row(&["HSETNX", "nx65", "f", &long65]),
        row(&["OBJECT", "ENCODING", "nx65"]),
        row(&["HINCRBY", "inc65", &long65, "1"]),
        row(&["OBJECT", "ENCODING", "inc65"]),
        row(&["HINCRBYFLOAT", "incf", "f", "1e20"]),
        row(&["OBJECT", "ENCODING", "incf"]),
        row(&["HSET", "dup", "f", "1", "f", "2", "f", "3"]),
        row(&["HGETALL", "dup"]),
        // Lowered thresholds apply to the next write.
        row(&["CONFIG", "SET", "hash-max-listpack-entries", "2"]),
        row(&["HSET", "small", "a", "1", "b", "2"]),
        row(&["OBJECT", "ENCODING", "small"]),
        row(&["HSET", "small", "c", "3"]),
        row(&["OBJECT", "ENCODING", "small"]),
        row(&["CONFIG", "SET", "hash-max-listpack-entries", "0"]),
        row(&["HSET", "zero", "a", "1"]),
        row(&["OBJECT", "ENCODING", "zero"]),
        row(&["CONFIG", "SET", "hash-max-listpack-entries", "512"]),
        row(&["CONFIG", "SET", "hash-max-listpack-value", "3"]),
        row(&["HSET", "val", "abc", "abc"]),
        row(&["OBJECT", "ENCODING", "val"]),
        row(&["HSET", "val", "abcd", "x"]),
        row(&["OBJECT", "ENCODING", "val"]),
        row(&["CONFIG", "SET", "hash-max-listpack-value", "64"]),
        row(&["FLUSHALL"]),
    ] {
        s.push(r);
    }
    s
}

#[test]
fn same_replies_as_redis_resp2() {
    sidebyside::run(&script(), false);
}

#[test]
fn same_replies_as_redis_resp3() {
    sidebyside::run(&script(), true);
}

fn bulks(v: Value) -> Vec<String> {
    match v {
        Value::Array(a) | Value::Set(a) => a
            .into_iter()
            .map(|x| match x {
                Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
                other => panic!("not a bulk: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

#[test]
fn hrandfield_counts_and_shapes() {
    let node = Server::start(&[]);
    let mut c = node.conn();
    for (name, n) in [("small", 20), ("big", 500)] {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(name);
        for i in 0..n {
            cmd.arg(format!("f{i}")).arg(format!("v{i}"));
        }
        let _: i64 = cmd.query(&mut c).expect("hset");
        for count in [1, 5, n - 1] {
            let v: Value = redis::cmd("HRANDFIELD")
                .arg(name)
                .arg(count)
                .query(&mut c)
                .expect("pick");
            let fields = bulks(v);
            assert_eq!(fields.len(), count as usize);
            let distinct: HashSet<_> = fields.iter().collect();
            assert_eq!(distinct.len(), fields.len(), "{name} {count}: repeats");
            assert!(fields.iter().all(|f| f
                .strip_prefix('f')
                .and_then(|n| n.parse::<i32>().ok())
                .is_some_and(|i| i < n)));
        }
        // Negative counts repeat: 2000 picks from 20 fields must repeat.
        let v: Value = redis::cmd("HRANDFIELD")
            .arg(name)
            .arg(-2000)
            .arg("WITHVALUES")
            .query(&mut c)
            .expect("pick");
        let flat = bulks(v);
        assert_eq!(flat.len(), 4000);
        for pair in flat.chunks(2) {
            assert_eq!(
                pair[1],
                pair[0].replacen('f', "v", 1),
                "value belongs to its field"
            );
        }
        let distinct: HashSet<_> = flat.chunks(2).map(|p| p[0].clone()).collect();
        assert!(distinct.len() > 1 && distinct.len() <= n as usize);
    }
    // A repeat count the node will not buffer is refused, not attempted.
    let e = redis::cmd("HRANDFIELD")
        .arg("small")
        .arg(-(1i64 << 40))
        .query::<Value>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
}

#[test]
fn hscan_returns_every_surviving_field_of_a_changing_hash() {
    let node = Server::start(&[]);
    let mut c = node.conn();
    let mut cmd = redis::cmd("HSET");
    cmd.arg("h");
    for i in 0..2000 {
        cmd.arg(format!("f{i}")).arg(i);
    }
    let _: i64 = cmd.query(&mut c).expect("hset");
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let (next, items): (String, Vec<String>) = redis::cmd("HSCAN")
            .arg("h")
            .arg(&cursor)
            .arg("COUNT")
            .arg(50)
            .query(&mut c)
            .expect("hscan");
        for p in items.chunks(2) {
            seen.insert(p[0].clone(), p[1].clone());
        }
        // Churn between calls: delete even fields, add new ones.
        let _: i64 = redis::cmd("HDEL")
            .arg("h")
            .arg(format!("f{}", calls * 2))
            .query(&mut c)
            .expect("hdel");
        let _: i64 = redis::cmd("HSET")
            .arg("h")
            .arg(format!("new{calls}"))
            .arg(1)
            .query(&mut c)
            .expect("hset");
        calls += 1;
        cursor = next;
        if cursor == "0" {
            break;
        }
        assert!(calls < 1000, "scan does not end");
    }
    for i in (1..2000).step_by(2) {
        assert_eq!(seen.get(&format!("f{i}")), Some(&i.to_string()), "f{i}");
    }
    assert!(calls > 10, "COUNT is honoured on a hashtable");
}

/// Loads `hashes` hashes of 10 short fields through pipelined HSETs and
/// returns the growth of INFO's used_memory per field.
fn load_and_measure(s: &Server, hashes: usize) -> f64 {
    let mut c = s.conn();
    let used = |c: &mut redis::Connection| -> i64 {
        let info: String = redis::cmd("INFO").arg("memory").query(c).expect("info");
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("used_memory")
    };
    let before = used(&mut c);
    for chunk in (0..hashes).collect::<Vec<_>>().chunks(1000) {
        let mut p = redis::pipe();
        for i in chunk {
            let cmd = p.cmd("HSET").arg(format!("hash:{i}"));
            for f in 0..10 {
                cmd.arg(format!("field:{f}"))
                    .arg(format!("{:08}", i * 10 + f));
            }
            cmd.ignore();
        }
        let () = p.query(&mut c).expect("load");
    }
    (used(&mut c) - before) as f64 / (hashes * 10) as f64
}

#[test]
fn small_hashes_cost_less_than_in_redis() {
    let node = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let ours = load_and_measure(&node, 20_000);
    let theirs = load_and_measure(&redis, 20_000);
    eprintln!("bytes per field: node {ours:.1}, redis-server {theirs:.1}");
    assert!(
        ours < theirs,
        "node {ours:.1} B/field, redis-server {theirs:.1} B/field"
    );
    let mut c = node.conn();
    let enc: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("hash:7")
        .query(&mut c)
        .expect("encoding");
    assert_eq!(enc, "listpack");
}
