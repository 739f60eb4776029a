//! HyperLogLog against redis-server: after the same PFADD/PFMERGE/PFCOUNT
//! sequence, GET of each key must return the same bytes on both servers, and
//! every reply (counts, errors, PFDEBUG output) must be identical, in RESP2 and
//! RESP3, across sparse-to-dense promotions under several
//! `hll-sparse-max-bytes` settings.

mod common;
mod rawresp;

use common::Server;
use rawresp::{encode, Raw};

fn send(c: &mut Raw, args: &[&[u8]]) -> Vec<u8> {
    c.send(&encode(args));
    c.reply()
}

/// Runs `script` on both servers; returns the differences.
fn compare(script: &[Vec<Vec<u8>>], resp3: bool) -> Vec<String> {
    let node = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let (mut a, mut b) = (Raw::connect(node.port), Raw::connect(redis.port));
    if resp3 {
        a.cmd(&["HELLO", "3"]);
        b.cmd(&["HELLO", "3"]);
    }
    let mut diffs = Vec::new();
    for argv in script {
        let args: Vec<&[u8]> = argv.iter().map(|v| v.as_slice()).collect();
        let (got, want) = (send(&mut a, &args), send(&mut b, &args));
        if got != want {
            let show = |v: &[u8]| String::from_utf8_lossy(&v[..v.len().min(300)]).into_owned();
            let cmd: Vec<String> = argv.iter().map(|a| show(a)).collect();
            diffs.push(format!(
                "{cmd:?}\n  node:  {:?}\n  redis: {:?}",
                show(&got),
                show(&want)
            ));
        }
    }
    diffs
}

fn c(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

fn pfadd(key: &str, from: usize, to: usize, prefix: &str) -> Vec<Vec<u8>> {
    let mut v = c(&["PFADD", key]);
    v.extend((from..to).map(|i| format!("{prefix}{i}").into_bytes()));
    v
}

fn growth_script(sparse_max: &str) -> Vec<Vec<Vec<u8>>> {
    let mut s = vec![
        c(&["FLUSHALL"]),
        c(&["CONFIG", "SET", "hll-sparse-max-bytes", sparse_max]),
        c(&["PFADD", "empty"]),
        c(&["GET", "empty"]),
        c(&["PFCOUNT", "empty"]),
        c(&["GET", "empty"]),
        c(&["PFADD", "empty"]),
    ];
    // Grow one key step by step through the sparse form into the dense one,
    // checking the bytes and the estimate at every step.
    let mut n = 0;
    for step in [1, 1, 3, 10, 50, 100, 300, 600, 1500, 3000, 10000, 40000] {
        s.push(pfadd("h", n, n + step, "el:"));
        s.push(c(&["GET", "h"]));
        s.push(c(&["PFCOUNT", "h"]));
        s.push(c(&["GET", "h"]));
        s.push(c(&["PFDEBUG", "ENCODING", "h"]));
        s.push(pfadd("h", n, n + step.min(5), "el:"));
        n += step;
    }
    s.push(c(&["PFDEBUG", "DECODE", "h"]));
    // Merges: sparse+sparse stays sparse, any dense source makes it dense.
    s.push(pfadd("a", 0, 200, "a"));
    s.push(pfadd("b", 100, 400, "a"));
    s.push(c(&["PFMERGE", "ab", "a", "b", "nokey"]));
    s.push(c(&["GET", "ab"]));
    s.push(c(&["PFCOUNT", "ab"]));
    s.push(c(&["PFCOUNT", "a", "b"]));
    s.push(c(&["PFCOUNT", "a", "b", "h", "nokey"]));
    s.push(c(&["PFDEBUG", "DECODE", "a"]));
    s.push(c(&["PFMERGE", "abh", "a", "h"]));
    s.push(c(&["GET", "abh"]));
    s.push(c(&["PFMERGE", "a", "b"]));
    s.push(c(&["GET", "a"]));
    s.push(c(&["PFMERGE", "fresh"]));
    s.push(c(&["GET", "fresh"]));
    s.push(c(&["PFDEBUG", "TODENSE", "b"]));
    s.push(c(&["PFDEBUG", "TODENSE", "b"]));
    s.push(c(&["GET", "b"]));
    s.push(c(&["PFDEBUG", "GETREG", "a"]));
    s.push(c(&["GET", "a"]));
    s
}

const ERRORS: &[&[&str]] = &[
    &["FLUSHALL"],
    &["SET", "str", "hello"],
    &["SET", "short", "HYLL"],
    &["SET", "badenc", "HYLL\u{2}\0\0\0\0\0\0\0\0\0\0\0xx"],
    &["SET", "baddense", "HYLL\0\0\0\0\0\0\0\0\0\0\0\0xx"],
    &["RPUSH", "list", "a"],
    &["PFADD", "str", "x"],
    &["PFADD", "short", "x"],
    &["PFADD", "badenc", "x"],
    &["PFADD", "baddense", "x"],
    &["PFADD", "list", "x"],
    &["PFCOUNT", "str"],
    &["PFCOUNT", "list"],
    &["PFCOUNT", "nokey"],
    &["PFCOUNT", "nokey", "str"],
    &["PFCOUNT", "nokey", "list"],
    &["PFMERGE", "dst", "str"],
    &["PFMERGE", "list", "nokey"],
    &["PFMERGE", "dst", "list"],
    &["EXISTS", "dst"],
    &["PFDEBUG", "ENCODING", "nokey"],
    &["PFDEBUG", "ENCODING", "str"],
    &["PFDEBUG", "NOPE", "str"],
    &["PFADD", "ok", "x"],
    &["PFDEBUG", "NOPE", "ok"],
    &["PFDEBUG", "DECODE", "ok"],
    &["PFDEBUG", "TODENSE", "ok"],
    &["PFDEBUG", "DECODE", "ok"],
    &["PFDEBUG", "ENCODING", "ok"],
    // A sparse value whose opcodes do not cover all registers is corrupted.
    &["SET", "corrupt", "HYLL\u{1}\0\0\0\0\0\0\0\0\0\0\0\u{7f}"],
    &["PFCOUNT", "corrupt"],
    &["PFCOUNT", "corrupt", "ok"],
    &["PFADD", "corrupt", "a", "b", "c"],
    &["PFMERGE", "dst", "corrupt"],
    &["PFDEBUG", "TODENSE", "corrupt"],
    &["PFADD"],
    &["PFCOUNT"],
    &["PFMERGE"],
    &["PFDEBUG", "ENCODING"],
    &["PFADD", "ttl", "a"],
    &["EXPIRE", "ttl", "1000"],
    &["PFADD", "ttl", "b"],
    &["TTL", "ttl"],
];

#[test]
fn bytes_and_counts_match_redis_across_promotions() {
    let mut script = Vec::new();
    for max in ["3000", "100", "0", "12000"] {
        script.extend(growth_script(max));
    }
    let diffs = compare(&script, false);
    common::assert_no_diffs(&diffs, "side by side with redis-server");
}

#[test]
fn errors_match_redis_resp2_and_resp3() {
    let script: Vec<Vec<Vec<u8>>> = ERRORS.iter().map(|a| c(a)).collect();
    for resp3 in [false, true] {
        let diffs = compare(&script, resp3);
        common::assert_no_diffs(&diffs, &format!("resp3={resp3}"));
    }
}

#[test]
fn estimates_stay_within_the_standard_error() {
    let s = Server::start(&[]);
    let mut conn = s.conn();
    let mut added = 0;
    let encoding = |conn: &mut redis::Connection| -> String {
        redis::cmd("PFDEBUG")
            .arg("ENCODING")
            .arg("k")
            .query(conn)
            .expect("pfdebug")
    };
    let _: i64 = redis::cmd("PFADD")
        .arg("k")
        .arg("first")
        .query(&mut conn)
        .expect("pfadd");
    assert_eq!(encoding(&mut conn), "sparse");
    for target in [1000usize, 20000, 100000] {
        let batch: Vec<String> = (added..target).map(|i| format!("item-{i}")).collect();
        for chunk in batch.chunks(5000) {
            let _: i64 = redis::cmd("PFADD")
                .arg("k")
                .arg(chunk)
                .query(&mut conn)
                .expect("pfadd");
        }
        added = target;
        let n: i64 = redis::cmd("PFCOUNT")
            .arg("k")
            .query(&mut conn)
            .expect("pfcount");
        let err = (n as f64 - target as f64).abs() / target as f64;
        assert!(err < 0.03, "estimate {n} for {target} is off by {err}");
    }
    assert_eq!(encoding(&mut conn), "dense");
}
