//! Set commands against a real node: a side-by-side run with redis-server
//! (errors, intset/hashtable encodings and their transitions, RESP2 and
//! RESP3), random picks, SSCAN over a changing set, and the atomicity of the
//! multi-key commands under concurrent writers.

mod common;
mod sidebyside;

use std::collections::HashSet;

use common::Server;
use sidebyside::row;

fn script() -> Vec<Vec<String>> {
    let mut s: Vec<Vec<String>> = [
        &["FLUSHALL"][..],
        &["SADD", "s", "3", "1", "2"],
        &["SADD", "s", "3", "4"],
        &["SADD", "s"],
        &["SCARD", "s"],
        &["SCARD", "nx"],
        &["OBJECT", "ENCODING", "s"],
        &["SMEMBERS", "s"],
        &["SMEMBERS", "nx"],
        &["SISMEMBER", "s", "1"],
        &["SISMEMBER", "s", "a"],
        &["SISMEMBER", "s", "01"],
        &["SISMEMBER", "nx", "1"],
        &["SMISMEMBER", "s", "1", "a", "4"],
        &["SMISMEMBER", "nx", "a"],
        &["SMISMEMBER", "s"],
        &[
            "SADD",
            "w",
            "-70000",
            "5",
            "9223372036854775807",
            "-9223372036854775808",
        ],
        &["SMEMBERS", "w"],
        &["OBJECT", "ENCODING", "w"],
        &["SADD", "nonint", "-0", "01", "+1", " 1", "1.0"],
        &["OBJECT", "ENCODING", "nonint"],
        &["~SMEMBERS", "nonint"],
        &["SADD", "s", "a"],
        &["OBJECT", "ENCODING", "s"],
        &["~SMEMBERS", "s"],
        &["SREM", "s", "a", "1", "nope", "1"],
        &["SREM", "nx", "a"],
        &["SREM", "s"],
        &["OBJECT", "ENCODING", "s"],
        &["SADD", "t", "2", "3", "10"],
        &["SADD", "u", "x", "y", "3"],
        &["SINTER", "t", "s"],
        &["SINTER", "t"],
        &["SINTER", "t", "nx"],
        &["~SINTER", "s", "u"],
        &["SUNION", "t", "nx"],
        &["~SUNION", "t", "u", "s"],
        &["SDIFF", "t", "s"],
        &["SDIFF", "nx", "t"],
        &["~SDIFF", "u", "t"],
        &["SDIFF", "t", "t"],
        &["SINTERSTORE", "d", "t", "s"],
        &["OBJECT", "ENCODING", "d"],
        &["SMEMBERS", "d"],
        &["SINTERSTORE", "d", "t", "nx"],
        &["EXISTS", "d"],
        &["SUNIONSTORE", "d", "t", "w"],
        &["SMEMBERS", "d"],
        &["OBJECT", "ENCODING", "d"],
        &["SUNIONSTORE", "d", "t", "u"],
        &["OBJECT", "ENCODING", "d"],
        &["~SMEMBERS", "d"],
        &["SDIFFSTORE", "d", "t", "s"],
        &["SMEMBERS", "d"],
        &["SDIFFSTORE", "d", "t", "t"],
        &["EXISTS", "d"],
        // A hashtable of integers stored elsewhere becomes an intset again.
        &["SINTERSTORE", "d", "s", "s"],
        &["OBJECT", "ENCODING", "s"],
        &["OBJECT", "ENCODING", "d"],
        &["SINTERCARD", "2", "t", "s"],
        &["SINTERCARD", "1", "t"],
        &["SINTERCARD", "1", "t", "LIMIT", "2"],
        &["SINTERCARD", "1", "t", "LIMIT", "0"],
        &["SINTERCARD", "2", "t", "nx"],
        &["SINTERCARD", "0", "t"],
        &["SINTERCARD", "x", "t"],
        &["SINTERCARD", "3", "t"],
        &["SINTERCARD", "1", "t", "LIMIT", "-1"],
        &["SINTERCARD", "1", "t", "LIMIT", "x"],
        &["SINTERCARD", "1", "t", "LIMIT"],
        &["SINTERCARD", "1", "t", "FOO", "1"],
        &["SET", "str", "x"],
        &["SINTER", "t", "str"],
        &["SINTER", "nx", "str"],
        &["SINTER", "str", "nx"],
        &["SUNION", "nx", "str"],
        &["SDIFF", "str"],
        &["SINTERSTORE", "d", "str"],
        &["SINTERCARD", "2", "t", "str"],
        &["SUNIONSTORE", "str", "t"],
        &["TYPE", "str"],
        &["SET", "str", "x"],
        &["SADD", "str", "1"],
        &["SCARD", "str"],
        &["SISMEMBER", "str", "1"],
        &["SMISMEMBER", "str", "1"],
        &["SMEMBERS", "str"],
        &["SREM", "str", "1"],
        &["SPOP", "str"],
        &["SRANDMEMBER", "str"],
        &["SSCAN", "str", "0"],
        // SMOVE
        &["SMOVE", "nx", "t", "1"],
        &["SMOVE", "nx", "str", "1"],
        &["SMOVE", "str", "t", "1"],
        &["SMOVE", "t", "str", "2"],
        &["SMOVE", "t", "t", "2"],
        &["SMOVE", "t", "t", "99"],
        &["SMOVE", "t", "u", "99"],
        &["SMOVE", "t", "u", "2"],
        &["~SMEMBERS", "u"],
        &["SMEMBERS", "t"],
        &["SMOVE", "t", "fresh", "3"],
        &["OBJECT", "ENCODING", "fresh"],
        &["SMOVE", "u", "fresh2", "x"],
        &["OBJECT", "ENCODING", "fresh2"],
        &["SADD", "one", "z"],
        &["SMOVE", "one", "fresh", "z"],
        &["EXISTS", "one"],
        &["OBJECT", "ENCODING", "fresh"],
        &["SMOVE", "a", "b"],
        // SPOP / SRANDMEMBER
        &["SPOP", "nx"],
        &["SPOP", "nx", "3"],
        &["SPOP", "t", "0"],
        &["SPOP", "t", "-1"],
        &["SPOP", "t", "x"],
        &["SPOP", "t", "1", "2"],
        &["SADD", "p", "5", "1", "3"],
        &["SPOP", "p", "100"],
        &["EXISTS", "p"],
        &["SADD", "p", "7"],
        &["SPOP", "p"],
        &["EXISTS", "p"],
        &["SRANDMEMBER", "nx"],
        &["SRANDMEMBER", "nx", "5"],
        &["SRANDMEMBER", "nx", "-5"],
        &["SRANDMEMBER", "w", "0"],
        &["SRANDMEMBER", "w", "100"],
        &["SRANDMEMBER", "w", "4"],
        &["#SRANDMEMBER", "w", "2"],
        &["#SRANDMEMBER", "w", "-9"],
        &["#SRANDMEMBER", "w"],
        &["SRANDMEMBER", "w", "x"],
        &["SRANDMEMBER", "w", "1", "2"],
        &["SRANDMEMBER", "w", "-9223372036854775808"],
        &["#SPOP", "w", "1"],
        &["#SPOP", "w"],
        &["SCARD", "w"],
        // Most of a hashtable of integers popped: the rest is an intset again.
        &[
            "SADD", "m", "a", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10",
        ],
        &["SREM", "m", "a"],
        &["OBJECT", "ENCODING", "m"],
        &["#SPOP", "m", "9"],
        &["OBJECT", "ENCODING", "m"],
        &["SCARD", "m"],
        // Few popped: stays a hashtable.
        &[
            "SADD", "m2", "a", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10",
        ],
        &["SREM", "m2", "a"],
        &["#SPOP", "m2", "2"],
        &["OBJECT", "ENCODING", "m2"],
        // SSCAN
        &["SSCAN", "t", "0"],
        &["SSCAN", "t", "0", "MATCH", "1*"],
        &["SSCAN", "t", "0", "COUNT", "1"],
        &["SSCAN", "nx", "0", "COUNT", "0"],
        &["SSCAN", "t", "x"],
        &["SSCAN", "t", "0", "COUNT", "0"],
        &["SSCAN", "t", "0", "FOO", "1"],
        &["~SSCAN", "u", "0", "COUNT", "1000"],
    ]
    .iter()
    .map(|r| row(r))
    .collect();

    // The intset limit (512) and the switch to hashtable one past it.
    let mut big = row(&["SADD", "big"]);
    big.extend((0..512).map(|i| (i * 3).to_string()));
    s.push(big);
    for r in [
        row(&["OBJECT", "ENCODING", "big"]),
        row(&["SRANDMEMBER", "big", "1000"]),
        row(&["SADD", "big", "100000"]),
        row(&["OBJECT", "ENCODING", "big"]),
        row(&["~SMEMBERS", "big"]),
        row(&["SREM", "big", "100000", "0"]),
        row(&["OBJECT", "ENCODING", "big"]),
        row(&["SCARD", "big"]),
        row(&["~SINTER", "big", "big"]),
        row(&["SINTERCARD", "2", "big", "big", "LIMIT", "7"]),
        row(&["CONFIG", "SET", "set-max-intset-entries", "2"]),
        row(&["SADD", "tiny", "1", "2"]),
        row(&["OBJECT", "ENCODING", "tiny"]),
        row(&["SADD", "tiny", "3"]),
        row(&["OBJECT", "ENCODING", "tiny"]),
        row(&["SUNIONSTORE", "tiny2", "tiny"]),
        row(&["OBJECT", "ENCODING", "tiny2"]),
        row(&["CONFIG", "SET", "set-max-intset-entries", "512"]),
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

#[test]
fn random_picks_are_members_and_distinct_when_asked() {
    let node = Server::start(&[]);
    let mut c = node.conn();
    for (name, prefix) in [("ints", ""), ("strs", "m")] {
        let members: Vec<String> = (0..300).map(|i| format!("{prefix}{i}")).collect();
        let _: i64 = redis::cmd("SADD")
            .arg(name)
            .arg(&members)
            .query(&mut c)
            .expect("sadd");
        let all: HashSet<String> = members.into_iter().collect();
        for count in [1i64, 10, 150, 299] {
            let got: Vec<String> = redis::cmd("SRANDMEMBER")
                .arg(name)
                .arg(count)
                .query(&mut c)
                .expect("pick");
            assert_eq!(got.len(), count as usize);
            assert_eq!(
                got.iter().collect::<HashSet<_>>().len(),
                got.len(),
                "distinct"
            );
            assert!(got.iter().all(|m| all.contains(m)));
        }
        let got: Vec<String> = redis::cmd("SRANDMEMBER")
            .arg(name)
            .arg(-1000)
            .query(&mut c)
            .expect("pick");
        assert_eq!(got.len(), 1000);
        assert!(got.iter().all(|m| all.contains(m)));
        // Popping everything in steps returns each member exactly once.
        let mut popped = Vec::new();
        for step in [1usize, 7, 50, 100, 1000] {
            let got: Vec<String> = redis::cmd("SPOP")
                .arg(name)
                .arg(step)
                .query(&mut c)
                .expect("spop");
            popped.extend(got);
        }
        let one: Option<String> = redis::cmd("SPOP").arg(name).query(&mut c).expect("spop");
        assert_eq!(one, None);
        assert_eq!(popped.len(), 300);
        assert_eq!(popped.into_iter().collect::<HashSet<_>>(), all);
        let exists: i64 = redis::cmd("EXISTS")
            .arg(name)
            .query(&mut c)
            .expect("exists");
        assert_eq!(exists, 0);
    }
    let e = redis::cmd("SRANDMEMBER")
        .arg("x")
        .arg(-(1i64 << 40))
        .query::<redis::Value>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
}

#[test]
fn sscan_returns_every_surviving_member_of_a_changing_set() {
    let node = Server::start(&[]);
    let mut c = node.conn();
    let members: Vec<String> = (0..3000).map(|i| format!("m{i}")).collect();
    let _: i64 = redis::cmd("SADD")
        .arg("s")
        .arg(&members)
        .query(&mut c)
        .expect("sadd");
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let (next, items): (String, Vec<String>) = redis::cmd("SSCAN")
            .arg("s")
            .arg(&cursor)
            .arg("COUNT")
            .arg(40)
            .query(&mut c)
            .expect("sscan");
        seen.extend(items);
        let _: i64 = redis::cmd("SREM")
            .arg("s")
            .arg(format!("m{}", calls * 2))
            .query(&mut c)
            .expect("srem");
        let _: i64 = redis::cmd("SADD")
            .arg("s")
            .arg(format!("new{calls}"))
            .query(&mut c)
            .expect("sadd");
        calls += 1;
        cursor = next;
        if cursor == "0" {
            break;
        }
        assert!(calls < 1000, "scan does not end");
    }
    for i in (1..3000).step_by(2) {
        assert!(seen.contains(&format!("m{i}")), "m{i} missed");
    }
}

/// SMOVE between two sets while other clients watch: the member is always in
/// exactly one of them, and SUNIONSTORE/SINTERCARD never see a half-done move.
#[test]
fn multi_key_commands_are_atomic() {
    let node = Server::start(&[]);
    let mut c = node.conn();
    let _: i64 = redis::cmd("SADD")
        .arg("{a}")
        .arg("tok")
        .query(&mut c)
        .expect("sadd");
    // Pad both sets so the union has a known size.
    for k in ["{a}", "{b}"] {
        let pad: Vec<String> = (0..50).map(|i| format!("{k}{i}")).collect();
        let _: i64 = redis::cmd("SADD")
            .arg(k)
            .arg(&pad)
            .query(&mut c)
            .expect("pad");
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mover = {
        let stop = stop.clone();
        let mut c = node.conn();
        std::thread::spawn(move || {
            let mut moves = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (src, dst) = if moves % 2 == 0 {
                    ("{a}", "{b}")
                } else {
                    ("{b}", "{a}")
                };
                let n: i64 = redis::cmd("SMOVE")
                    .arg(src)
                    .arg(dst)
                    .arg("tok")
                    .query(&mut c)
                    .expect("smove");
                assert_eq!(n, 1, "the token is always in the source");
                moves += 1;
            }
            moves
        })
    };
    for _ in 0..500 {
        let n: i64 = redis::cmd("SUNIONSTORE")
            .arg("u")
            .arg("{a}")
            .arg("{b}")
            .query(&mut c)
            .expect("sunionstore");
        assert_eq!(n, 101, "union sees the token exactly once");
        let both: i64 = redis::cmd("SINTERCARD")
            .arg(2)
            .arg("{a}")
            .arg("{b}")
            .query(&mut c)
            .expect("sintercard");
        assert_eq!(both, 0);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let moves = mover.join().expect("mover");
    assert!(moves > 0);
}
