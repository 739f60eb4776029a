//! The time-bound sweep: commands with adversarial arguments (hostile glob
//! patterns at every pattern site, huge COUNTs and ranges, LCS, SORT and
//! ZRANGESTORE on large inputs) run side by side on kcache-node and
//! redis-server 7.0.15 with the same data. Each must answer within
//! [`FACTOR`] times redis-server's time plus [`FLOOR`], and within [`LIMIT`]
//! in any case: where Redis is linear, a quadratic or exponential path shows
//! up as a large multiple (the recursive glob matcher took 81 s for
//! `KEYS a*a*a*a*a*a*a*a*b` on one 64-byte key, and forever with 33 `a*`).

mod common;

use std::time::{Duration, Instant};

use common::Server;

/// Elements per collection.
const N: usize = 50_000;
/// Generous, for a test machine shared with builds.
const FACTOR: u32 = 10;
const FLOOR: Duration = Duration::from_millis(250);
const LIMIT: Duration = Duration::from_secs(5);

fn conn(s: &Server) -> redis::Connection {
    let c = s.conn();
    c.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    c
}

fn hostile_pattern() -> String {
    let mut p = "a*".repeat(33);
    p.push('b');
    p
}

/// The same data on both servers: long keys and members of `a`s for the
/// patterns, large collections for the counts and ranges.
fn fill(c: &mut redis::Connection) {
    let a = "a".repeat(64);
    let mut p = redis::pipe();
    for chunk in (0..N).collect::<Vec<_>>().chunks(1000) {
        let mut list = redis::cmd("RPUSH");
        let mut set = redis::cmd("SADD");
        let mut zset = redis::cmd("ZADD");
        let mut hash = redis::cmd("HSET");
        let mut keys = redis::cmd("MSET");
        list.arg("l");
        set.arg("s");
        zset.arg("z");
        hash.arg("h");
        for &i in chunk {
            // Scrambled numbers, so that SORT has work to do.
            list.arg((i * 7919) % N);
            set.arg(format!("{a}{i}"));
            zset.arg(i).arg(format!("{a}{i}"));
            hash.arg(format!("{a}{i}")).arg(i);
            keys.arg(format!("{a}{i}")).arg(i);
        }
        p.add_command(list).ignore();
        p.add_command(set).ignore();
        p.add_command(zset).ignore();
        p.add_command(hash).ignore();
        p.add_command(keys).ignore();
    }
    p.cmd("SET").arg("s1").arg("ab".repeat(2000)).ignore();
    p.cmd("SET").arg("s2").arg("ba".repeat(2000)).ignore();
    p.query::<()>(c).expect("fill");
}

/// The fastest of two runs (every command here is idempotent).
fn time(c: &mut redis::Connection, args: &[String]) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..2 {
        let mut cmd = redis::cmd(&args[0]);
        for a in &args[1..] {
            cmd.arg(a.as_str());
        }
        let start = Instant::now();
        let _: redis::Value = cmd.query(c).expect("reply");
        best = best.min(start.elapsed());
    }
    best
}

#[test]
fn adversarial_arguments_answer_in_bounded_time() {
    let node = Server::start(&["--io-threads", "2"]);
    let redis = Server::start_redis(&[]);
    let (mut n, mut r) = (conn(&node), conn(&redis));
    fill(&mut n);
    fill(&mut r);
    // A channel and a pattern subscriber, for PUBLISH and PUBSUB CHANNELS.
    let evil = hostile_pattern();
    let channel = "a".repeat(64);
    let mut subs = Vec::new();
    for s in [&node, &redis] {
        let mut sub = s.conn();
        redis::cmd("SUBSCRIBE")
            .arg(&channel)
            .query::<()>(&mut sub)
            .expect("subscribe");
        let mut psub = s.conn();
        redis::cmd("PSUBSCRIBE")
            .arg(&evil)
            .query::<()>(&mut psub)
            .expect("psubscribe");
        subs.push((sub, psub));
    }
    let huge = "1000000000000";
    let script: &[&[&str]] = &[
        &["KEYS", &evil],
        &["SCAN", "0", "MATCH", &evil, "COUNT", huge],
        &["SSCAN", "s", "0", "MATCH", &evil, "COUNT", huge],
        &["HSCAN", "h", "0", "MATCH", &evil, "COUNT", huge],
        &["ZSCAN", "z", "0", "MATCH", &evil, "COUNT", huge],
        &["PUBLISH", &channel, "m"],
        &["PUBSUB", "CHANNELS", &evil],
        &["CONFIG", "GET", &evil],
        &["COMMAND", "LIST", "FILTERBY", "PATTERN", &evil],
        &["LCS", "s1", "s2"],
        &["LCS", "s1", "s2", "IDX", "MINMATCHLEN", "3", "WITHMATCHLEN"],
        &["SORT", "l"],
        &["SORT", "l", "LIMIT", "0", "10"],
        &["SORT", "l", "DESC", "LIMIT", "0", huge],
        &["SORT", "s", "ALPHA", "LIMIT", "0", "10"],
        &["SORT", "l", "BY", "nosort", "GET", "#"],
        &["SORT", "l", "STORE", "sorted"],
        &["ZRANGESTORE", "dst", "z", "0", "-1"],
        &[
            "ZRANGESTORE",
            "dst",
            "z",
            "-inf",
            "+inf",
            "BYSCORE",
            "LIMIT",
            "0",
            huge,
        ],
        &[
            "ZRANGESTORE",
            "dst",
            "z",
            "+",
            "-",
            "BYLEX",
            "REV",
            "LIMIT",
            "0",
            huge,
        ],
        &[
            "ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "40000", "10",
        ],
        &["ZRANGE", "z", "0", huge],
        &["ZCOUNT", "z", "-inf", "+inf"],
        &["LRANGE", "l", "-1000000000000", huge],
        &["LPOS", "l", "-1", "COUNT", "0", "MAXLEN", "0"],
        &["LPOS", "l", "-1", "RANK", "-1"],
        &["SRANDMEMBER", "s", huge],
        &["HRANDFIELD", "h", huge],
        &["ZRANDMEMBER", "z", huge],
        &["GETRANGE", "s1", "-1000000000000", huge],
        &["BITCOUNT", "s1", "0", huge, "BIT"],
        &["BITPOS", "s1", "1", "-1000000000000", huge, "BIT"],
        &["SINTERCARD", "2", "s", "s", "LIMIT", "0"],
        &["ZINTERCARD", "2", "z", "z"],
        &["ZUNION", "2", "z", "z", "WEIGHTS", "1", "-1"],
    ];
    let mut slow = Vec::new();
    for row in script {
        let args: Vec<String> = row.iter().map(|a| a.to_string()).collect();
        let (mine, theirs) = (time(&mut n, &args), time(&mut r, &args));
        let bound = (theirs * FACTOR + FLOOR).min(LIMIT);
        // Shown with --nocapture: the figures behind the bound.
        eprintln!(
            "{mine:>12.1?} {theirs:>12.1?}  {}",
            row.join(" ").chars().take(60).collect::<String>()
        );
        if mine > bound {
            slow.push(format!(
                "{}: node {mine:?}, redis-server {theirs:?}",
                row.join(" ").chars().take(80).collect::<String>()
            ));
        }
    }
    common::assert_no_diffs(&slow, "commands slower than their bound");
}
