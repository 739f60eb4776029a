//! Sorted set commands against a real node: fixed scripts and a seeded random
//! run side by side with redis-server (RESP2 and RESP3, byte for byte), the
//! encoding transitions, ZSCAN's guarantee on the large encoding, ZRANDMEMBER's
//! semantics, and memory against redis-server for the same data.

mod common;
#[path = "zsets_support/mod.rs"]
mod support;

use std::collections::HashSet;

use common::{Rng, Server};
use support::{assert_same, pair, Raw};

#[test]
fn basics_match_redis() {
    assert_same(include_str!("zsets_support/basics.txt"));
}

#[test]
fn set_operations_pops_and_scans_match_redis() {
    assert_same(include_str!("zsets_support/setops_pops.txt"));
}

#[test]
fn encoding_transitions_match_redis() {
    assert_same(include_str!("zsets_support/encodings.txt"));
}

fn random_command(rng: &mut Rng) -> Vec<String> {
    let keys = ["k1", "k2", "k3"];
    let k = rng.pick(&keys).to_string();
    let member = |rng: &mut Rng| format!("m{}", rng.below(300));
    let score = |rng: &mut Rng| match rng.below(6) {
        0 => "inf".to_string(),
        1 => "-inf".to_string(),
        2 => format!("{}", rng.below(100) as f64 / 8.0),
        _ => format!("{}", rng.below(100) as i64 - 50),
    };
    let bound = |rng: &mut Rng| match rng.below(4) {
        0 => "-inf".to_string(),
        1 => "+inf".to_string(),
        2 => format!("({}", score(rng)),
        _ => score(rng),
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut c: Vec<String>;
    match rng.below(18) {
        0..=5 => {
            c = s(&["ZADD", &k]);
            if rng.below(3) == 0 {
                c.push(rng.pick(&["NX", "XX", "GT", "LT", "CH"]).to_string());
            }
            for _ in 0..1 + rng.below(5) {
                c.push(score(rng));
                c.push(member(rng));
            }
        }
        6 => c = vec!["ZINCRBY".into(), k, score(rng), member(rng)],
        7 => c = vec!["ZREM".into(), k, member(rng), member(rng)],
        8 => {
            c = vec![
                "ZRANGE".into(),
                k,
                format!("{}", rng.below(400) as i64 - 200),
                format!("{}", rng.below(400) as i64 - 200),
            ];
            if rng.below(2) == 0 {
                c.push("REV".into());
            }
            c.push("WITHSCORES".into());
        }
        9 => {
            c = vec!["ZRANGE".into(), k, bound(rng), bound(rng), "BYSCORE".into()];
            if rng.below(2) == 0 {
                c.push("REV".into());
            }
            if rng.below(2) == 0 {
                c.extend(s(&["LIMIT", "1", "7"]));
            }
            c.push("WITHSCORES".into());
        }
        10 => {
            c = vec![
                rng.pick(&["ZRANK", "ZREVRANK", "ZSCORE"]).into(),
                k,
                member(rng),
            ]
        }
        11 => c = vec!["ZCOUNT".into(), k, bound(rng), bound(rng)],
        12 => c = vec!["ZREMRANGEBYSCORE".into(), k, bound(rng), bound(rng)],
        13 => {
            let (a, b) = (rng.below(40) as i64 - 20, rng.below(40) as i64 - 20);
            c = vec!["ZREMRANGEBYRANK".into(), k, a.to_string(), b.to_string()];
        }
        14 => {
            c = vec![
                rng.pick(&["ZPOPMIN", "ZPOPMAX"]).into(),
                k,
                rng.below(4).to_string(),
            ]
        }
        15 => {
            c = s(&[
                rng.pick(&["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]),
                rng.pick(&keys),
                "2",
                rng.pick(&keys),
                rng.pick(&keys),
            ])
        }
        16 => {
            c = s(&[
                rng.pick(&["ZUNION", "ZINTER"]),
                "3",
                "k1",
                "k2",
                "k3",
                "WEIGHTS",
                "1",
                "2",
                "0.5",
            ]);
            c.extend(s(&[
                "AGGREGATE",
                rng.pick(&["SUM", "MIN", "MAX"]),
                "WITHSCORES",
            ]));
        }
        _ => {
            // Lex commands on a key whose scores are all equal, where Redis
            // defines their result.
            c = vec![
                rng.pick(&["ZRANGEBYLEX", "ZREVRANGEBYLEX", "ZLEXCOUNT"])
                    .into(),
                "lx".into(),
            ];
            let lex = |rng: &mut Rng| match rng.below(4) {
                0 => "-".to_string(),
                1 => "+".to_string(),
                2 => format!("[m{}", rng.below(300)),
                _ => format!("(m{}", rng.below(300)),
            };
            c.push(lex(rng));
            c.push(lex(rng));
        }
    }
    c
}

#[test]
fn random_commands_match_redis_in_every_encoding() {
    let (node, redis) = pair();
    for (seed, threshold) in [(1u64, "0"), (2, "8"), (3, "128")] {
        for resp3 in [false, true] {
            let mut a = Raw::connect(node.port, resp3);
            let mut b = Raw::connect(redis.port, resp3);
            for c in [&mut a, &mut b] {
                c.cmd(&["FLUSHALL"]);
                c.cmd(&["CONFIG", "SET", "zset-max-listpack-entries", threshold]);
                let mut lx = vec!["ZADD".to_string(), "lx".into()];
                for i in 0..150 {
                    lx.push("0".into());
                    lx.push(format!("m{}", i * 2));
                }
                c.pipeline(&[lx]);
            }
            let mut rng = Rng::new(seed * 7919 + resp3 as u64);
            for i in 0..3000 {
                let cmd = random_command(&mut rng);
                let args: Vec<&str> = cmd.iter().map(|s| s.as_str()).collect();
                let (x, y) = (a.cmd(&args), b.cmd(&args));
                assert_eq!(
                    String::from_utf8_lossy(&x),
                    String::from_utf8_lossy(&y),
                    "step {i}, threshold {threshold}, resp3 {resp3}: {args:?}"
                );
                if i % 500 == 0 {
                    for k in ["k1", "k2", "k3", "lx"] {
                        assert_eq!(
                            a.cmd(&["OBJECT", "ENCODING", k]),
                            b.cmd(&["OBJECT", "ENCODING", k])
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn large_encoding_thresholds_and_one_way_conversion() {
    let node = Server::start(&[]);
    let mut c = Raw::connect(node.port, false);
    let enc = |c: &mut Raw, k: &str| {
        String::from_utf8_lossy(&c.cmd(&["OBJECT", "ENCODING", k])).into_owned()
    };
    for i in 0..128 {
        c.cmd(&["ZADD", "z", &i.to_string(), &format!("m{i}")]);
    }
    assert!(enc(&mut c, "z").contains("listpack"));
    c.cmd(&["ZADD", "z", "1000", "one-more"]);
    assert!(enc(&mut c, "z").contains("skiplist"));
    c.cmd(&["ZREMRANGEBYRANK", "z", "0", "-3"]);
    assert_eq!(c.int(&["ZCARD", "z"]), 2);
    assert!(enc(&mut c, "z").contains("skiplist"), "large stays large");
    let long = "x".repeat(65);
    c.cmd(&["ZADD", "w", "1", &long]);
    assert!(enc(&mut c, "w").contains("skiplist"));
    c.cmd(&["CONFIG", "SET", "zset-max-listpack-value", "100"]);
    c.cmd(&["ZADD", "v", "1", &long]);
    assert!(enc(&mut c, "v").contains("listpack"));
    // A STORE result takes the encoding of its size.
    assert_eq!(c.int(&["ZUNIONSTORE", "u", "1", "z"]), 2);
    assert!(enc(&mut c, "u").contains("listpack"));
}

#[test]
fn zscan_returns_every_member_of_a_large_set_despite_writes() {
    let node = Server::start(&[]);
    let mut c = Raw::connect(node.port, false);
    let mut batch = Vec::new();
    for i in 0..5000 {
        // Runs of equal scores, so the cursor has to finish runs.
        batch.push(vec![
            "ZADD".to_string(),
            "z".into(),
            (i / 7).to_string(),
            format!("m{i}"),
        ]);
    }
    c.pipeline(&batch);
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let reply = c.cmd(&["ZSCAN", "z", &cursor, "COUNT", "50"]);
        let text = String::from_utf8_lossy(&reply).into_owned();
        let lines: Vec<&str> = text.split("\r\n").collect();
        cursor = lines[2].to_string();
        for (i, l) in lines.iter().enumerate() {
            if l.starts_with('m') && lines[i - 1].starts_with('$') {
                seen.insert(l.to_string());
            }
        }
        // Writes between calls: new members and removals of others.
        c.cmd(&["ZADD", "z", "1", &format!("new{calls}")]);
        c.cmd(&["ZREM", "z", &format!("gone{calls}")]);
        calls += 1;
        assert!(calls < 1000, "ZSCAN does not terminate");
        if cursor == "0" {
            break;
        }
    }
    for i in 0..5000 {
        assert!(seen.contains(&format!("m{i}")), "m{i} never returned");
    }
    assert!(calls > 10, "COUNT is honoured roughly ({calls} calls)");
}

#[test]
fn zrandmember_counts() {
    let node = Server::start(&[]);
    let mut c = Raw::connect(node.port, false);
    for i in 0..300 {
        c.cmd(&["ZADD", "z", &i.to_string(), &format!("m{i}")]);
    }
    c.cmd(&["ZADD", "small", "1", "a", "2", "b"]);
    for key in ["z", "small"] {
        let distinct = c.cmd(&["ZRANDMEMBER", key, "50"]);
        let text = String::from_utf8_lossy(&distinct).into_owned();
        let members: Vec<&str> = text
            .split("\r\n")
            .filter(|l| l.starts_with('m') || *l == "a" || *l == "b")
            .collect();
        let unique: HashSet<&&str> = members.iter().collect();
        assert_eq!(
            members.len(),
            unique.len(),
            "positive count gives distinct members"
        );
        assert_eq!(members.len(), if key == "z" { 50 } else { 2 });
    }
    let rep = c.cmd(&["ZRANDMEMBER", "small", "-20", "WITHSCORES"]);
    assert!(
        rep.starts_with(b"*40\r\n"),
        "negative count repeats: {rep:?}"
    );
    let mut r3 = Raw::connect(node.port, true);
    let rep = r3.cmd(&["ZRANDMEMBER", "small", "-3", "WITHSCORES"]);
    assert!(
        rep.starts_with(b"*3\r\n*2\r\n$1\r\n"),
        "RESP3 pairs: {rep:?}"
    );
    assert!(c
        .cmd(&["ZRANDMEMBER", "z", "1", "x"])
        .starts_with(b"-ERR syntax error"));
}

fn used_memory(c: &mut Raw) -> i64 {
    let info = String::from_utf8_lossy(&c.cmd(&["INFO", "memory"])).into_owned();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO")
}

/// Bytes the server's used_memory grows by while `load` runs.
fn measure(port: u16, load: &dyn Fn(&mut Raw)) -> i64 {
    let mut c = Raw::connect(port, false);
    c.cmd(&["FLUSHALL"]);
    let before = used_memory(&mut c);
    load(&mut c);
    used_memory(&mut c) - before
}

#[test]
fn memory_is_at_most_redis_for_small_and_large_sets() {
    let (node, redis) = pair();
    let small = |c: &mut Raw| {
        let mut batch = Vec::new();
        for i in 0..20_000 {
            let mut cmd = vec!["ZADD".to_string(), format!("zset:{i}")];
            for j in 0..10 {
                cmd.push(j.to_string());
                cmd.push(format!("member:{j}"));
            }
            batch.push(cmd);
            if batch.len() == 1000 {
                c.pipeline(&batch);
                batch.clear();
            }
        }
    };
    let large = |c: &mut Raw| {
        let mut batch = Vec::new();
        let mut rng = Rng::new(99);
        for i in 0..200_000u64 {
            batch.push(vec![
                "ZADD".to_string(),
                "big".into(),
                rng.below(1 << 40).to_string(),
                format!("member:{i}"),
            ]);
            if batch.len() == 2000 {
                c.pipeline(&batch);
                batch.clear();
            }
        }
    };
    let (ns, rs) = (measure(node.port, &small), measure(redis.port, &small));
    let (nl, rl) = (measure(node.port, &large), measure(redis.port, &large));
    eprintln!(
        "bytes per member: small sets node {:.1} redis {:.1}; large set node {:.1} redis {:.1}",
        ns as f64 / 200_000.0,
        rs as f64 / 200_000.0,
        nl as f64 / 200_000.0,
        rl as f64 / 200_000.0
    );
    assert!(ns <= rs, "20k sets of 10: node {ns} bytes > redis {rs}");
    assert!(nl <= rl, "one set of 200k: node {nl} bytes > redis {rl}");
}

#[test]
fn wrong_types_and_arity() {
    let node = Server::start(&[]);
    let mut c = Raw::connect(node.port, false);
    c.cmd(&["SET", "s", "x"]);
    for cmd in [
        &["ZADD", "s", "1", "a"][..],
        &["ZCARD", "s"],
        &["ZRANGE", "s", "0", "1"],
        &["ZUNIONSTORE", "d", "1", "s"],
        &["ZPOPMIN", "s"],
        &["ZRANDMEMBER", "s"],
        &["ZSCAN", "s", "0"],
    ] {
        let r = c.cmd(cmd);
        assert!(
            r.starts_with(b"-WRONGTYPE"),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&r)
        );
    }
    assert!(c
        .cmd(&["ZADD", "k", "1"])
        .starts_with(b"-ERR wrong number of arguments for 'zadd'"));
    assert!(c
        .cmd(&["ZCARD"])
        .starts_with(b"-ERR wrong number of arguments for 'zcard'"));
    // A huge count is clamped to the set, never allocated up front.
    c.cmd(&["ZADD", "k", "1", "a"]);
    assert_eq!(
        c.cmd(&["ZPOPMIN", "k", "9223372036854775807"]),
        b"*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(c.int(&["EXISTS", "k"]), 0);
}
