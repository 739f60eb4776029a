//! Glob patterns at every site that takes one from a client. Adversarial
//! patterns answer within a bound (each of these hung its event loop forever
//! while the matcher backtracked exponentially), and KEYS and CONFIG GET match
//! exactly what redis-server 7.0.15 matches on generated patterns.

mod common;
mod rawresp;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Rng, Server};
use rawresp::{encode, Raw};

/// Generous for an optimised test build on a loaded machine: the matcher takes
/// microseconds here, the old one did not finish.
const BOUND: Duration = Duration::from_secs(1);

/// `a*a*...*b`: 33 `a*` then `b`, against 64 `a`s.
fn evil() -> String {
    let mut p = "a*".repeat(33);
    p.push('b');
    p
}

fn long_a() -> String {
    "a".repeat(64)
}

/// A `redis` connection whose reads give up: a hang fails the test rather
/// than blocking it.
fn conn(s: &Server) -> redis::Connection {
    let c = s.conn();
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    c
}

/// Runs `f`, failing when it took longer than [`BOUND`].
fn within_bound<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let r = f();
    let took = start.elapsed();
    assert!(took < BOUND, "{what} took {took:?}");
    r
}

fn q<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
        .unwrap_or_else(|e| panic!("{}: {e}", args.join(" ")))
}

#[test]
fn adversarial_patterns_answer_within_a_bound() {
    let node = Server::start(&["--io-threads", "2"]);
    let mut c = conn(&node);
    let (a, evil) = (long_a(), evil());
    let _: () = q(&mut c, &["SET", &a, "1"]);
    let _: () = q(&mut c, &["HSET", "h", &a, "1"]);
    let _: () = q(&mut c, &["SADD", "s", &a, "x"]);
    let _: () = q(&mut c, &["ZADD", "z", "1", &a]);

    let keys: Vec<String> = within_bound("KEYS", || q(&mut c, &["KEYS", &evil]));
    assert!(keys.is_empty());
    within_bound("SCAN MATCH", || {
        let mut cursor = "0".to_string();
        for _ in 0..1000 {
            let (next, found): (String, Vec<String>) =
                q(&mut c, &["SCAN", &cursor, "MATCH", &evil, "COUNT", "1000"]);
            assert!(found.is_empty());
            cursor = next;
            if cursor == "0" {
                return;
            }
        }
        panic!("SCAN never finished");
    });
    for (cmd, key) in [("HSCAN", "h"), ("SSCAN", "s"), ("ZSCAN", "z")] {
        let (_, found): (String, Vec<String>) = within_bound(cmd, || {
            q(&mut c, &[cmd, key, "0", "MATCH", &evil, "COUNT", "1000"])
        });
        assert!(found.is_empty(), "{cmd}");
    }
    let _: Vec<String> = within_bound("CONFIG GET", || q(&mut c, &["CONFIG", "GET", &evil]));
    let _: Vec<String> = within_bound("COMMAND LIST FILTERBY PATTERN", || {
        q(&mut c, &["COMMAND", "LIST", "FILTERBY", "PATTERN", &evil])
    });

    // A pattern subscriber: every PUBLISH on any loop matches it against the
    // channel, and PUBSUB CHANNELS matches channels against a pattern.
    let mut sub = Raw::connect(node.port);
    sub.send(&encode(&[b"PSUBSCRIBE", evil.as_bytes()]));
    sub.reply();
    let mut chan = Raw::connect(node.port);
    chan.send(&encode(&[b"SUBSCRIBE", a.as_bytes()]));
    chan.reply();
    for _ in 0..4 {
        // New connections spread over both loops.
        let mut p = conn(&node);
        let n: i64 = within_bound("PUBLISH", || q(&mut p, &["PUBLISH", &a, "m"]));
        assert_eq!(n, 1, "only the channel subscriber receives it");
        let chans: Vec<String> = within_bound("PUBSUB CHANNELS", || {
            q(&mut p, &["PUBSUB", "CHANNELS", &evil])
        });
        assert!(chans.is_empty());
    }
    let numpat: i64 = q(&mut c, &["PUBSUB", "NUMPAT"]);
    assert_eq!(numpat, 1);
    // PUNSUBSCRIBE compares pattern strings, it does not match them.
    sub.send(&encode(&[b"PUNSUBSCRIBE", evil.as_bytes()]));
    assert!(String::from_utf8_lossy(&sub.reply()).contains(":0"));
}

/// Keys with every byte the patterns give meaning to, plus case and high bytes.
fn tricky_keys() -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = [
        "", "a", "b", "A", "B", "ab", "aB", "ba", "abc", "aab", "abb", "a-b", "a]b", "a^b", "a*b",
        "a?b", "a[b", "a\\b", "\\", "*", "?", "[", "]", "^", "-", "[]", "hello", "hallo", "Hello",
        "key:1", "key:22", "aaaa", "abab",
    ]
    .iter()
    .map(|k| k.as_bytes().to_vec())
    .collect();
    for k in [&b"\xe9"[..], b"\xff", b"\x01", b"a\xe9", b"\xc9b", b"\x7f"] {
        keys.push(k.to_vec());
    }
    keys
}

/// A random pattern over the glob syntax, letters in both cases and high
/// bytes.
fn pattern(rng: &mut Rng, alphabet: &[&[u8]], max_len: u64) -> Vec<u8> {
    let len = rng.below(max_len + 1);
    let mut p = Vec::new();
    for _ in 0..len {
        p.extend_from_slice(alphabet[rng.below(alphabet.len() as u64) as usize]);
    }
    p
}

fn reply_set(c: &mut redis::Connection, args: &[&[u8]]) -> BTreeSet<Vec<u8>> {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).expect("command name"));
    for a in &args[1..] {
        cmd.arg(*a);
    }
    let v: Vec<Vec<u8>> = cmd.query(c).expect("reply");
    v.into_iter().collect()
}

#[test]
fn keys_matches_like_redis_server() {
    let node = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let (mut n, mut r) = (conn(&node), conn(&redis));
    for k in tricky_keys() {
        for c in [&mut n, &mut r] {
            let _: () = redis::cmd("SET").arg(&k).arg(1).query(c).expect("SET");
        }
    }
    const ALPHABET: &[&[u8]] = &[
        b"*", b"*", b"?", b"[", b"[", b"]", b"]", b"^", b"-", b"\\", b"a", b"a", b"b", b"A", b"B",
        b"c", b"\xe9", b"\xff", b"\x01",
    ];
    let mut rng = Rng::new(19);
    let mut diffs = Vec::new();
    for _ in 0..3000 {
        let p = pattern(&mut rng, ALPHABET, 8);
        let (mine, theirs) = (
            reply_set(&mut n, &[b"KEYS", &p]),
            reply_set(&mut r, &[b"KEYS", &p]),
        );
        if mine != theirs {
            diffs.push(format!(
                "KEYS {:?}: node {:?} redis {:?}",
                String::from_utf8_lossy(&p),
                mine,
                theirs
            ));
        }
    }
    common::assert_no_diffs(&diffs, "KEYS with generated patterns");
}

/// CONFIG GET matches without case. Only patterns with a glob character go
/// through the matcher (Redis looks other names up directly), and only names
/// both servers know are compared.
#[test]
fn config_get_matches_like_redis_server() {
    let node = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let (mut n, mut r) = (conn(&node), conn(&redis));
    let names = |c: &mut redis::Connection, p: &[u8]| -> BTreeSet<Vec<u8>> {
        let v: Vec<Vec<u8>> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(p)
            .query(c)
            .expect("CONFIG GET");
        v.chunks(2).map(|kv| kv[0].clone()).collect()
    };
    let both: BTreeSet<Vec<u8>> = names(&mut n, b"*")
        .intersection(&names(&mut r, b"*"))
        .cloned()
        .collect();
    assert!(both.len() > 50, "only {} common parameters", both.len());
    const ALPHABET: &[&[u8]] = &[
        b"*", b"*", b"?", b"[", b"]", b"^", b"-", b"\\", b"a", b"e", b"m", b"x", b"A", b"E", b"M",
        b"S", b"-m", b"ax", b"\xe9", b"\xff",
    ];
    let mut rng = Rng::new(7);
    let mut diffs = Vec::new();
    let mut compared = 0;
    while compared < 1500 {
        let p = pattern(&mut rng, ALPHABET, 8);
        if !p.iter().any(|b| b"*?[".contains(b)) {
            continue;
        }
        compared += 1;
        let mine: BTreeSet<_> = names(&mut n, &p).intersection(&both).cloned().collect();
        let theirs: BTreeSet<_> = names(&mut r, &p).intersection(&both).cloned().collect();
        if mine != theirs {
            diffs.push(format!(
                "CONFIG GET {:?}: node {:?} redis {:?}",
                String::from_utf8_lossy(&p),
                mine.iter()
                    .map(|k| String::from_utf8_lossy(k))
                    .collect::<Vec<_>>(),
                theirs
                    .iter()
                    .map(|k| String::from_utf8_lossy(k))
                    .collect::<Vec<_>>()
            ));
        }
    }
    common::assert_no_diffs(&diffs, "CONFIG GET with generated patterns");
}
