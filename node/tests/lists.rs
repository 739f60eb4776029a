//! List commands (and SORT) against a real node: a byte-exact side-by-side run with
//! redis-server in RESP2 and RESP3 (errors, null shapes, edge indexes, node
//! splits under several `list-max-listpack-size` settings), plus checks of long
//! lists against a model and of LMOVE's atomicity under concurrency.

mod common;
mod rawresp;

use common::Server;
use rawresp::Raw;

const SCRIPT: &[&[&str]] = &[
    &["FLUSHALL"],
    // Pushes, including onto the wrong type and the X variants.
    &["LPUSH", "l", "c", "b", "a"],
    &["RPUSH", "l", "d", "e"],
    &["LPUSHX", "nokey", "x"],
    &["RPUSHX", "nokey", "x"],
    &["LPUSHX", "l", "z0"],
    &["RPUSHX", "l", "z9", "z10"],
    &["LRANGE", "l", "0", "-1"],
    &["SET", "s", "str"],
    &["LPUSH", "s", "x"],
    &["RPUSHX", "s", "x"],
    &["LLEN", "s"],
    &["LLEN", "nokey"],
    &["LLEN", "l"],
    &["TYPE", "l"],
    &["OBJECT", "ENCODING", "l"],
    // LINDEX / LSET.
    &["LINDEX", "l", "0"],
    &["LINDEX", "l", "-1"],
    &["LINDEX", "l", "-100"],
    &["LINDEX", "l", "100"],
    &["LINDEX", "l", "abc"],
    &["LINDEX", "nokey", "abc"],
    &["LINDEX", "s", "0"],
    &["LINDEX", "l", "9223372036854775807"],
    &["LINDEX", "l", "-9223372036854775808"],
    &["LSET", "l", "1", "B"],
    &["LSET", "l", "-1", "LAST"],
    &["LSET", "l", "100", "x"],
    &["LSET", "l", "-100", "x"],
    &["LSET", "l", "x", "x"],
    &["LSET", "nokey", "0", "x"],
    &["LSET", "nokey", "x", "x"],
    &["LSET", "s", "0", "x"],
    &["LRANGE", "l", "0", "-1"],
    // LRANGE clamping.
    &["LRANGE", "l", "-100", "100"],
    &["LRANGE", "l", "2", "1"],
    &["LRANGE", "l", "100", "200"],
    &["LRANGE", "l", "-2", "-1"],
    &["LRANGE", "l", "-9223372036854775808", "9223372036854775807"],
    &["LRANGE", "l", "0", "x"],
    &["LRANGE", "nokey", "0", "-1"],
    &["LRANGE", "nokey", "x", "-1"],
    &["LRANGE", "s", "0", "-1"],
    // LINSERT.
    &["LINSERT", "l", "BEFORE", "c", "c-"],
    &["LINSERT", "l", "after", "c", "c+"],
    &["LINSERT", "l", "before", "nope", "x"],
    &["LINSERT", "l", "middle", "c", "x"],
    &["LINSERT", "nokey", "before", "c", "x"],
    &["LINSERT", "nokey", "middle", "c", "x"],
    &["LINSERT", "s", "before", "c", "x"],
    &["LINSERT", "l", "before", "z0", "head"],
    &["LINSERT", "l", "after", "LAST", "tail"],
    &["LRANGE", "l", "0", "-1"],
    // LPOS.
    &["RPUSH", "p", "a", "b", "c", "1", "2", "3", "c", "c"],
    &["LPOS", "p", "c"],
    &["LPOS", "p", "c", "RANK", "2"],
    &["LPOS", "p", "c", "RANK", "-1"],
    &["LPOS", "p", "c", "RANK", "-3"],
    &["LPOS", "p", "c", "RANK", "-4"],
    &["LPOS", "p", "c", "COUNT", "0"],
    &["LPOS", "p", "c", "COUNT", "2"],
    &["LPOS", "p", "c", "COUNT", "0", "RANK", "-1"],
    &["LPOS", "p", "c", "COUNT", "0", "RANK", "2", "MAXLEN", "7"],
    &["LPOS", "p", "c", "MAXLEN", "2"],
    &["LPOS", "p", "c", "COUNT", "1", "MAXLEN", "2"],
    &["LPOS", "p", "c", "RANK", "-1", "MAXLEN", "1"],
    &["LPOS", "p", "x"],
    &["LPOS", "p", "x", "COUNT", "5"],
    &["LPOS", "nokey", "x"],
    &["LPOS", "nokey", "x", "COUNT", "5"],
    &["LPOS", "s", "x"],
    &["LPOS", "p", "c", "RANK", "0"],
    &["LPOS", "p", "c", "RANK", "abc"],
    &["LPOS", "p", "c", "RANK", "-9223372036854775808"],
    &["LPOS", "p", "c", "COUNT", "-1"],
    &["LPOS", "p", "c", "COUNT", "abc"],
    &["LPOS", "p", "c", "MAXLEN", "-1"],
    &["LPOS", "p", "c", "MAXLEN"],
    &["LPOS", "p", "c", "FOO", "1"],
    &["LPOS", "nokey", "c", "RANK", "0"],
    // LREM.
    &["RPUSH", "r", "a", "b", "a", "c", "a", "b", "a"],
    &["LREM", "r", "1", "a"],
    &["LRANGE", "r", "0", "-1"],
    &["LREM", "r", "-2", "a"],
    &["LRANGE", "r", "0", "-1"],
    &["LREM", "r", "0", "b"],
    &["LRANGE", "r", "0", "-1"],
    &["LREM", "r", "0", "zz"],
    &["LREM", "r", "x", "a"],
    &["LREM", "nokey", "1", "a"],
    &["LREM", "s", "1", "a"],
    &["LREM", "r", "0", "a"],
    &["LREM", "r", "0", "c"],
    &["EXISTS", "r"],
    // LTRIM.
    &["RPUSH", "t", "1", "2", "3", "4", "5", "6"],
    &["LTRIM", "t", "1", "-2"],
    &["LRANGE", "t", "0", "-1"],
    &["LTRIM", "t", "-100", "100"],
    &["LRANGE", "t", "0", "-1"],
    &["LTRIM", "t", "x", "1"],
    &["LTRIM", "nokey", "0", "1"],
    &["LTRIM", "s", "0", "1"],
    &["LTRIM", "t", "2", "1"],
    &["EXISTS", "t"],
    &["RPUSH", "t", "1", "2"],
    &["LTRIM", "t", "5", "10"],
    &["EXISTS", "t"],
    // LPOP / RPOP and their null shapes.
    &["RPUSH", "q", "1", "2", "3", "4", "5"],
    &["LPOP", "q"],
    &["RPOP", "q"],
    &["LPOP", "q", "2"],
    &["RPOP", "q", "0"],
    &["RPOP", "q", "10"],
    &["EXISTS", "q"],
    &["LPOP", "q"],
    &["LPOP", "q", "0"],
    &["LPOP", "q", "1"],
    &["RPOP", "q", "5"],
    &["LPOP", "q", "-1"],
    &["LPOP", "q", "x"],
    &["LPOP", "q", "1", "2"],
    &["LPOP", "s"],
    &["RPOP", "s", "1"],
    &["RPUSH", "q", "a", "b", "c"],
    &["RPOP", "q", "2"],
    &["LPOP", "q", "9223372036854775807"],
    // LMOVE / RPOPLPUSH.
    &["RPUSH", "src", "1", "2", "3"],
    &["LMOVE", "src", "dst", "LEFT", "RIGHT"],
    &["LMOVE", "src", "dst", "right", "left"],
    &["LRANGE", "dst", "0", "-1"],
    &["RPOPLPUSH", "src", "dst"],
    &["EXISTS", "src"],
    &["LRANGE", "dst", "0", "-1"],
    &["RPOPLPUSH", "dst", "dst"],
    &["LMOVE", "dst", "dst", "LEFT", "LEFT"],
    &["LRANGE", "dst", "0", "-1"],
    &["LMOVE", "nokey", "dst", "LEFT", "LEFT"],
    &["RPOPLPUSH", "nokey", "s"],
    &["LMOVE", "dst", "s", "LEFT", "LEFT"],
    &["LMOVE", "s", "dst", "LEFT", "LEFT"],
    &["LMOVE", "dst", "x", "UP", "LEFT"],
    &["LMOVE", "dst", "x", "LEFT", "DOWN"],
    &["LMOVE", "nokey", "x", "LEFT", "DOWN"],
    &["LRANGE", "dst", "0", "-1"],
    &["RPUSH", "one", "x"],
    &["EXPIRE", "one", "1000"],
    &["RPOPLPUSH", "one", "one"],
    &["TTL", "one"],
    // LMPOP.
    &["RPUSH", "m1", "a", "b", "c"],
    &["RPUSH", "m2", "x"],
    &["LMPOP", "2", "nokey", "m1", "LEFT"],
    &["LMPOP", "2", "nokey", "m1", "RIGHT", "COUNT", "10"],
    &["LMPOP", "3", "nokey", "m1", "m2", "LEFT", "COUNT", "2"],
    &["LMPOP", "2", "nokey", "m1", "LEFT"],
    &["LMPOP", "2", "s", "m1", "LEFT"],
    &["LMPOP", "0", "m1", "LEFT"],
    &["LMPOP", "-1", "m1", "LEFT"],
    &["LMPOP", "x", "m1", "LEFT"],
    &["LMPOP", "2", "m1", "LEFT"],
    &["LMPOP", "1", "m1", "MIDDLE"],
    &["LMPOP", "1", "m1", "LEFT", "COUNT", "0"],
    &["LMPOP", "1", "m1", "LEFT", "COUNT", "x"],
    &["LMPOP", "1", "m1", "LEFT", "COUNT", "1", "COUNT", "1"],
    &["LMPOP", "1", "m1", "LEFT", "COUNT"],
    &["LMPOP", "1", "m1", "LEFT", "FOO"],
    &["LMPOP", "9223372036854775807", "m1", "LEFT"],
    // Arity.
    &["LPUSH", "l"],
    &["LPOP"],
    &["LLEN"],
    &["LINDEX", "l"],
    &["LINSERT", "l", "before", "x"],
    &["LSET", "l", "0"],
    &["LRANGE", "l", "0"],
    &["LREM", "l", "0"],
    &["LTRIM", "l", "0"],
    &["LPOS", "l"],
    &["LMOVE", "a", "b", "LEFT"],
    &["RPOPLPUSH", "a"],
    &["LMPOP", "1", "a"],
    // Binary-safe, empty and long elements; the node split thresholds.
    &["RPUSH", "bin", "", "a\u{0}b", "\u{ff}\u{fe}"],
    &["LRANGE", "bin", "0", "-1"],
    &["LPOS", "bin", ""],
    &["DEL", "bin"],
];

/// SORT and SORT_RO on lists: numeric and ALPHA, BY/GET patterns, LIMIT, STORE.
const SORT_SCRIPT: &[&[&str]] = &[
    &["FLUSHALL"],
    &[
        "RPUSH", "n", "3", "1", "2", "10", "-1.5", "1e2", " 7", "0x10", "",
    ],
    &["SORT", "n"],
    &["SORT", "n", "DESC"],
    &["SORT", "n", "ALPHA"],
    &["SORT", "n", "alpha", "desc"],
    &["SORT", "n", "LIMIT", "1", "3"],
    &["SORT", "n", "LIMIT", "-5", "2"],
    &["SORT", "n", "LIMIT", "2", "-1"],
    &["SORT", "n", "LIMIT", "0", "0"],
    &["SORT", "n", "LIMIT", "100", "5"],
    &["SORT", "n", "LIMIT", "1", "9223372036854775807"],
    &["SORT", "n", "LIMIT", "1"],
    &["SORT", "n", "LIMIT", "x", "1"],
    &["SORT", "n", "BY", "nosort"],
    &["SORT", "n", "BY", "nosort", "DESC"],
    &["SORT", "n", "BY", "nosort", "LIMIT", "2", "3"],
    &["SORT", "n", "BY", "nosort", "DESC", "LIMIT", "2", "3"],
    &["SORT", "n", "BY", "nosort", "LIMIT", "20", "3"],
    &["SORT", "n", "BY", "nosort", "GET", "#"],
    &["RPUSH", "w", "b", "a", "c", "a1", "B"],
    &["SORT", "w"],
    &["SORT", "w", "ALPHA"],
    &["SORT", "w", "ALPHA", "STORE", "out"],
    &["LRANGE", "out", "0", "-1"],
    &["TYPE", "out"],
    // BY and GET patterns over string keys.
    &["SET", "weight_a", "3"],
    &["SET", "weight_b", "1"],
    &["SET", "weight_c", "2"],
    &["SET", "weight_a1", "x"],
    &["SET", "data_a", "A"],
    &["SET", "data_c", "C"],
    &["SORT", "w", "BY", "weight_*"],
    &["DEL", "weight_a1"],
    &["SORT", "w", "BY", "weight_*"],
    &["SORT", "w", "BY", "weight_*", "DESC"],
    &["SORT", "w", "BY", "weight_*", "ALPHA"],
    &["SORT", "w", "BY", "weight_*", "GET", "data_*"],
    &[
        "SORT", "w", "BY", "weight_*", "GET", "#", "GET", "data_*", "GET", "nostar",
    ],
    &[
        "SORT", "w", "BY", "weight_*", "GET", "data_*", "LIMIT", "1", "2",
    ],
    &[
        "SORT", "w", "BY", "weight_*", "GET", "#", "GET", "data_*", "STORE", "out",
    ],
    &["LRANGE", "out", "0", "-1"],
    &["SORT", "w", "BY", "nosort", "GET", "data_*", "DESC"],
    &["SORT", "w", "BY", "data_*->f", "ALPHA"],
    &["SORT", "w", "BY", "weight_*", "BY", "nosort"],
    &["SORT", "w", "BY", "nosort", "BY", "weight_*"],
    // Hash fields through `*->field`.
    &["HSET", "hw_a", "f", "3", "name", "AA"],
    &["HSET", "hw_b", "f", "1"],
    &["HSET", "hw_c", "f", "2", "name", "CC"],
    &["SORT", "w", "BY", "hw_*->f"],
    &[
        "SORT",
        "w",
        "BY",
        "hw_*->f",
        "GET",
        "hw_*->name",
        "GET",
        "#",
    ],
    &[
        "SORT",
        "w",
        "BY",
        "hw_*->f",
        "ALPHA",
        "DESC",
        "GET",
        "hw_*->nofield",
    ],
    &["SORT", "w", "BY", "weight_*", "GET", "hw_*->"],
    &["SORT", "w", "BY", "nosort", "GET", "weight_*->f"],
    &[
        "SORT",
        "w",
        "BY",
        "hw_*->f",
        "GET",
        "hw_*->name",
        "STORE",
        "out",
    ],
    &["LRANGE", "out", "0", "-1"],
    // Sets: intsets have a defined order, so BY nosort can be compared too.
    &["SADD", "si", "5", "3", "9", "1", "-2"],
    &["SORT", "si"],
    &["SORT", "si", "DESC", "LIMIT", "1", "2"],
    &["SORT", "si", "BY", "nosort"],
    &["SORT", "si", "BY", "nosort", "DESC"],
    &["SORT", "si", "BY", "nosort", "LIMIT", "1", "2"],
    &["SORT", "si", "BY", "weight_*", "GET", "#"],
    &["SADD", "ss", "b", "a", "c", "B"],
    &["SORT", "ss", "ALPHA"],
    &["SORT", "ss", "ALPHA", "DESC", "LIMIT", "0", "2"],
    &["SORT", "ss"],
    &["SORT", "ss", "BY", "nosort", "STORE", "out"],
    &["LRANGE", "out", "0", "-1"],
    &["SORT", "ss", "BY", "nosort", "DESC", "STORE", "out"],
    &["LRANGE", "out", "0", "-1"],
    &["SORT_RO", "ss", "ALPHA"],
    // Errors and types.
    &["SORT", "hw_a"],
    &["SORT", "w", "BY", "data_*"],
    &["SORT", "w"],
    &["SORT", "nokey"],
    &["SORT", "nokey", "STORE", "out"],
    &["EXISTS", "out"],
    &["SET", "str", "x"],
    &["SORT", "str"],
    &["SORT", "n", "STORE"],
    &["SORT", "n", "FOO"],
    &["SORT", "n", "GET"],
    &["SORT_RO", "n"],
    &["SORT_RO", "n", "STORE", "out"],
    &["SORT_RO", "w", "BY", "weight_*", "GET", "data_*"],
    &["SORT", "n", "STORE", "str"],
    &["TYPE", "str"],
    &["SET", "ttl", "1"],
    &["EXPIRE", "ttl", "100"],
    &["SORT", "n", "STORE", "ttl"],
    &["TTL", "ttl"],
    &["SORT"],
    &["SORT_RO"],
];

/// Commands run under several fill settings: long lists that split into many
/// nodes, middle operations on them, and trims that empty them.
fn big_script(fill: &str) -> Vec<Vec<String>> {
    let mut v: Vec<Vec<String>> = vec![
        vec![
            "CONFIG".into(),
            "SET".into(),
            "list-max-listpack-size".into(),
            fill.into(),
        ],
        vec!["DEL".into(), "big".into()],
    ];
    let s = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    for i in 0..300 {
        let elem = format!("{i}-{}", "v".repeat(i % 97));
        v.push(s(&["RPUSH", "big", &elem]));
        if i % 3 == 0 {
            v.push(s(&["LPUSH", "big", &format!("h{i}")]));
        }
    }
    v.push(s(&["RPUSH", "big", &"L".repeat(20000)]));
    v.push(s(&["LPUSH", "big", &"H".repeat(9000)]));
    v.push(s(&["OBJECT", "ENCODING", "big"]));
    v.push(s(&["LLEN", "big"]));
    for i in [0, 1, 57, 199, 200, 399, -1, -2, -150] {
        v.push(s(&["LINDEX", "big", &i.to_string()]));
    }
    v.push(s(&["LRANGE", "big", "90", "130"]));
    v.push(s(&["LRANGE", "big", "-130", "-90"]));
    v.push(s(&[
        "LINSERT",
        "big",
        "BEFORE",
        "150-vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv",
        "ins",
    ]));
    v.push(s(&["LSET", "big", "100", &"S".repeat(5000)]));
    v.push(s(&["LSET", "big", "101", "short"]));
    v.push(s(&["LPOS", "big", "short"]));
    v.push(s(&["LPOS", "big", "h99", "RANK", "-1"]));
    v.push(s(&["LREM", "big", "0", "h33"]));
    v.push(s(&["LREM", "big", "-1", "ins"]));
    v.push(s(&["LRANGE", "big", "0", "-1"]));
    v.push(s(&["LPOP", "big", "50"]));
    v.push(s(&["RPOP", "big", "50"]));
    v.push(s(&["LTRIM", "big", "10", "-10"]));
    v.push(s(&["LRANGE", "big", "0", "-1"]));
    v.push(s(&["LMPOP", "1", "big", "RIGHT", "COUNT", "1000"]));
    v.push(s(&["EXISTS", "big"]));
    v
}

fn run_both(resp3: bool, script: &[Vec<String>]) -> Vec<String> {
    let node = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let (mut a, mut b) = (Raw::connect(node.port), Raw::connect(redis.port));
    if resp3 {
        a.cmd(&["HELLO", "3"]);
        b.cmd(&["HELLO", "3"]);
    }
    let mut diffs = Vec::new();
    for argv in script {
        let argv: Vec<&str> = argv.iter().map(|s| s.as_str()).collect();
        let (got, want) = (a.cmd_s(&argv), b.cmd_s(&argv));
        if got != want {
            diffs.push(format!("{argv:?}\n  node:  {got:?}\n  redis: {want:?}"));
        }
    }
    diffs
}

fn owned(script: &[&[&str]]) -> Vec<Vec<String>> {
    script
        .iter()
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .collect()
}

#[test]
fn same_replies_as_redis_resp2() {
    let diffs = run_both(false, &owned(SCRIPT));
    common::assert_no_diffs(&diffs, "side by side with redis-server");
}

#[test]
fn same_replies_as_redis_resp3() {
    let diffs = run_both(true, &owned(SCRIPT));
    common::assert_no_diffs(&diffs, "side by side with redis-server");
}

#[test]
fn sort_matches_redis_resp2_and_resp3() {
    for resp3 in [false, true] {
        let diffs = run_both(resp3, &owned(SORT_SCRIPT));
        common::assert_no_diffs(&diffs, &format!("resp3={resp3}"));
    }
}

#[test]
fn long_lists_match_redis_under_every_fill() {
    let mut script = Vec::new();
    for fill in ["-1", "-2", "-5", "1", "4", "128"] {
        script.extend(big_script(fill));
    }
    let diffs = run_both(false, &script);
    common::assert_no_diffs(&diffs, "side by side with redis-server");
}

#[test]
fn lmove_is_atomic_under_concurrent_rotation() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let n = 200;
    let items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let _: i64 = redis::cmd("RPUSH")
        .arg("a")
        .arg(&items)
        .query(&mut c)
        .expect("rpush");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let client = s.client();
            std::thread::spawn(move || {
                let mut c = client.get_connection().expect("connect");
                for i in 0..500 {
                    let (from, to) = if (i + t) % 2 == 0 {
                        ("a", "b")
                    } else {
                        ("b", "a")
                    };
                    let _: Option<String> = redis::cmd("LMOVE")
                        .arg(from)
                        .arg(to)
                        .arg("LEFT")
                        .arg("RIGHT")
                        .query(&mut c)
                        .expect("lmove");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("worker");
    }
    let a: Vec<String> = redis::cmd("LRANGE")
        .arg("a")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .expect("a");
    let b: Vec<String> = redis::cmd("LRANGE")
        .arg("b")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .expect("b");
    let mut all: Vec<u32> = a
        .iter()
        .chain(b.iter())
        .map(|x| x.parse().expect("number"))
        .collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..n).collect::<Vec<u32>>(),
        "every element is in exactly one list"
    );
}
