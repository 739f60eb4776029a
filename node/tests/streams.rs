//! Stream commands against a real node: fixed scripts played side by side
//! with redis-server (RESP2 and RESP3, byte for byte), consumer-group flows
//! compared with delivery times masked, a seeded random run, blocking reads
//! without data, and memory per entry against redis-server.

mod common;
#[path = "zsets_support/mod.rs"]
mod support;

use common::{Rng, Server};
use support::{assert_same, pair, side_by_side, Raw};

#[test]
fn basics_match_redis() {
    assert_same(include_str!("streams_support/basics.txt"));
}

#[test]
fn trimming_and_node_limits_match_redis() {
    assert_same(include_str!("streams_support/trim.txt"));
}

#[test]
fn consumer_groups_match_redis() {
    assert_same(include_str!("streams_support/groups.txt"));
}

#[test]
fn xread_matches_redis() {
    assert_same(include_str!("streams_support/read.txt"));
}

/// One random command whose reply does not depend on the clock.
fn random_command(rng: &mut Rng, next_ms: &mut u64) -> Vec<String> {
    let key = rng.pick(&["s1", "s2"]).to_string();
    let id = |rng: &mut Rng, top: u64| format!("{}-{}", rng.below(top + 2), rng.below(3));
    let group = rng.pick(&["g1", "g2"]).to_string();
    let consumer = rng.pick(&["c1", "c2", "c3"]).to_string();
    let mut v: Vec<String> = match rng.below(16) {
        0..=4 => {
            *next_ms += rng.below(3);
            let mut c = vec!["XADD".into(), key];
            match rng.below(6) {
                0 => c.extend(["MAXLEN".into(), rng.below(40).to_string()]),
                1 => c.extend(["MAXLEN".into(), "~".into(), rng.below(40).to_string()]),
                2 => c.extend(["MINID".into(), "=".into(), id(rng, *next_ms)]),
                3 => c.extend(["MINID".into(), "~".into(), id(rng, *next_ms)]),
                _ => {}
            }
            c.push(if rng.below(3) == 0 {
                format!("{next_ms}-*")
            } else {
                format!("{next_ms}-{}", rng.below(2))
            });
            let fields = if rng.below(4) == 0 {
                vec!["x"]
            } else {
                vec!["f", "g"]
            };
            for f in fields {
                c.push(f.into());
                c.push(rng.below(1000).to_string());
            }
            c
        }
        5 => vec!["XDEL".into(), key, id(rng, *next_ms), id(rng, *next_ms)],
        6 => {
            let strategy = if rng.below(2) == 0 {
                vec!["MAXLEN".to_string(), rng.below(30).to_string()]
            } else {
                vec!["MINID".to_string(), id(rng, *next_ms)]
            };
            let mut c = vec!["XTRIM".into(), key];
            c.extend(strategy);
            c
        }
        7 => vec![
            if rng.below(2) == 0 {
                "XRANGE"
            } else {
                "XREVRANGE"
            }
            .into(),
            key,
            rng.pick(&["-", "+", "(3-0", "5"]).into(),
            rng.pick(&["-", "+", "(20-1", "12"]).into(),
            "COUNT".into(),
            rng.below(6).to_string(),
        ],
        8 => vec![
            "XGROUP".into(),
            "CREATE".into(),
            key,
            group,
            rng.pick(&["0", "$", "7-0"]).into(),
            "MKSTREAM".into(),
        ],
        9 | 10 => {
            let mut c = vec![
                "XREADGROUP".into(),
                "GROUP".into(),
                group,
                consumer,
                "COUNT".into(),
                rng.below(4).to_string(),
            ];
            if rng.below(4) == 0 {
                c.push("NOACK".into());
            }
            c.extend(["STREAMS".into(), key, rng.pick(&[">", ">", "0"]).into()]);
            c
        }
        11 => vec![
            "XACK".into(),
            key,
            group,
            id(rng, *next_ms),
            id(rng, *next_ms),
        ],
        12 => vec![
            "XCLAIM".into(),
            key,
            group,
            consumer,
            "0".into(),
            id(rng, *next_ms),
            id(rng, *next_ms),
            "JUSTID".into(),
        ],
        13 => vec![
            "XAUTOCLAIM".into(),
            key,
            group,
            consumer,
            "0".into(),
            "0".into(),
            "COUNT".into(),
            (1 + rng.below(4)).to_string(),
            "JUSTID".into(),
        ],
        14 => vec!["XINFO".into(), "GROUPS".into(), key],
        _ => vec!["XINFO".into(), rng.pick(&["STREAM", "STREAM"]).into(), key],
    };
    if v[0] == "XPENDING" {
        v.truncate(3);
    }
    v
}

#[test]
fn random_commands_match_redis() {
    let (node, redis) = pair();
    for (seed, entries) in [(7u64, "100"), (11, "3")] {
        let mut rng = Rng::new(seed);
        let mut script = format!("flushall\nconfig set stream-node-max-entries {entries}\n");
        let mut next_ms = 1;
        for _ in 0..1500 {
            script.push_str(&random_command(&mut rng, &mut next_ms).join(" "));
            script.push('\n');
            if rng.below(20) == 0 {
                script.push_str("xpending s1 g1\nxpending s2 g2\n");
            }
        }
        if let Ok(dir) = std::env::var("KCACHE_DUMP_SCRIPT") {
            std::fs::write(format!("{dir}/stream-{seed}.txt"), &script).expect("dump");
        }
        let diffs = side_by_side(&script, node.port, redis.port);
        assert!(
            diffs.is_empty(),
            "seed {seed}: {} differences, first:\n{}",
            diffs.len(),
            diffs.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
        );
    }
}

#[test]
fn auto_ids_follow_the_clock_and_never_go_back() {
    let node = Server::start(&[]);
    let mut c = support::Raw::connect(node.port, false);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after epoch")
        .as_millis() as u64;
    let parse = |r: Vec<u8>| -> (u64, u64) {
        let s = String::from_utf8(r).expect("utf8");
        let id = s.lines().nth(1).expect("bulk id").to_string();
        let (ms, seq) = id.split_once('-').expect("ms-seq");
        (ms.parse().expect("ms"), seq.parse().expect("seq"))
    };
    let first = parse(c.cmd(&["XADD", "s", "*", "f", "v"]));
    assert!(
        first.0 >= now && first.0 < now + 60_000,
        "{first:?} vs {now}"
    );
    let mut last = first;
    for _ in 0..200 {
        let id = parse(c.cmd(&["XADD", "s", "*", "f", "v"]));
        assert!(id > last, "{id:?} after {last:?}");
        last = id;
    }
    // A future top ID: `*` continues its sequence rather than go back.
    c.cmd(&["XADD", "s", "99999999999999-5", "f", "v"]);
    assert_eq!(
        parse(c.cmd(&["XADD", "s", "*", "f", "v"])),
        (99_999_999_999_999, 6)
    );
    assert_eq!(
        parse(c.cmd(&["XADD", "s", "99999999999999-*", "f", "v"])),
        (99_999_999_999_999, 7)
    );
    assert_eq!(c.cmd(&["TYPE", "s"]), b"+stream\r\n");
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "s"]), b"$6\r\nstream\r\n");
}

/// Waiting and waking are in `streams_block.rs`; here, the timeout of a read
/// that finds nothing.
#[test]
fn block_without_data_times_out() {
    let node = Server::start(&[]);
    for resp3 in [false, true] {
        let mut c = support::Raw::connect(node.port, resp3);
        c.cmd(&["XADD", "s", "1-1", "f", "v"]);
        c.cmd(&["XGROUP", "CREATE", "s", "g", "$"]);
        let null: &[u8] = if resp3 { b"_\r\n" } else { b"*-1\r\n" };
        let started = std::time::Instant::now();
        assert_eq!(c.cmd(&["XREAD", "BLOCK", "20", "STREAMS", "s", "$"]), null);
        assert_eq!(
            c.cmd(&["XREAD", "BLOCK", "20", "STREAMS", "s", "nokey", "1-1", "0"]),
            null
        );
        assert_eq!(
            c.cmd(&[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "BLOCK",
                "20",
                "STREAMS",
                "s",
                ">"
            ]),
            null
        );
        let took = started.elapsed();
        assert!(took >= std::time::Duration::from_millis(60), "{took:?}");
        assert!(took < std::time::Duration::from_secs(5), "{took:?}");
        // With data, BLOCK serves at once.
        let r = c.cmd(&["XREAD", "BLOCK", "0", "STREAMS", "s", "0"]);
        assert!(r.starts_with(if resp3 { b"%1" } else { b"*1" }), "{r:?}");
        // As in Redis 7.0, a group read that serves nothing creates no consumer.
        assert_eq!(c.cmd(&["XINFO", "CONSUMERS", "s", "g"]), b"*0\r\n");
        c.cmd(&["DEL", "s"]);
    }
}

fn used_memory(c: &mut Raw) -> i64 {
    let info = String::from_utf8_lossy(&c.cmd(&["INFO", "memory"])).into_owned();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO")
}

/// Bytes per entry of `n` entries `XADD s * <pairs>` on the server at `port`.
fn bytes_per_entry(port: u16, n: usize, pairs: &[&str]) -> f64 {
    let mut c = Raw::connect(port, false);
    c.cmd(&["FLUSHALL"]);
    let before = used_memory(&mut c);
    let mut batch = Vec::new();
    for _ in 0..n {
        let mut cmd = vec!["XADD".to_string(), "s".into(), "*".into()];
        cmd.extend(pairs.iter().map(|p| p.to_string()));
        batch.push(cmd);
        if batch.len() == 2000 {
            c.pipeline(&batch);
            batch.clear();
        }
    }
    c.pipeline(&batch);
    assert_eq!(c.int(&["XLEN", "s"]), n as i64);
    (used_memory(&mut c) - before) as f64 / n as f64
}

#[test]
fn memory_per_entry_is_below_redis() {
    let (node, redis) = pair();
    let n: usize = std::env::var("KCACHE_STREAM_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    for pairs in [&["f", "v"][..], &["f1", "v1", "f2", "v2"][..]] {
        let ours = bytes_per_entry(node.port, n, pairs);
        let theirs = bytes_per_entry(redis.port, n, pairs);
        eprintln!("{n} entries {pairs:?}: node {ours:.2} bytes/entry, redis {theirs:.2}");
        assert!(
            ours <= theirs,
            "{pairs:?}: node {ours:.2} > redis {theirs:.2} bytes/entry"
        );
    }
}
