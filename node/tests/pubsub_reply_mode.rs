//! Pub/sub under CLIENT REPLY OFF and SKIP, byte for byte against
//! redis-server 7.0.15: subscribe confirmations, published messages (from
//! others and from the client itself) and keyspace notifications still
//! arrive, in RESP2 and RESP3; replies do not.

mod common;
mod rawresp;

use std::time::Duration;

use common::Server;
use rawresp::{encode, Raw};

/// How long to wait for bytes that should come (a wait ends as soon as they do).
const WAIT: Duration = Duration::from_secs(3);

fn send(c: &mut Raw, args: &[&str]) {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    c.send(&encode(&a));
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Runs the script on one server: everything the subscriber received. Each
/// step waits for the bytes that end it, so that the publisher acts at the
/// same point on both servers.
fn transcript(port: u16, resp3: bool, mode: &str) -> String {
    let mut out = Vec::new();
    let mut publisher = Raw::connect(port);
    publisher.cmd(&["CONFIG", "SET", "notify-keyspace-events", "K$"]);
    let mut s = Raw::connect(port);
    if resp3 {
        s.cmd(&["HELLO", "3"]);
    }
    let mut step = |s: &mut Raw, until: &[u8]| {
        out.extend(s.read_until(WAIT, |b| contains(b, until)));
    };
    send(&mut s, &["CLIENT", "REPLY", mode]);
    send(&mut s, &["SUBSCRIBE", "ch", "__keyspace@0__:k"]);
    send(&mut s, &["PSUBSCRIBE", "c*"]);
    step(&mut s, b"psubscribe");

    publisher.cmd(&["PUBLISH", "ch", "hi"]);
    step(&mut s, b"pmessage");

    send(&mut s, &["PING"]);
    if resp3 {
        // A RESP3 subscriber may run any command: its own message and its
        // own write's notification come to it as pushes.
        send(&mut s, &["PUBLISH", "c1", "self"]);
        send(&mut s, &["SET", "k", "v"]);
        step(&mut s, b"set\r\n");
    }
    send(&mut s, &["UNSUBSCRIBE", "ch", "__keyspace@0__:k"]);
    send(&mut s, &["PUNSUBSCRIBE"]);
    step(&mut s, b"punsubscribe");

    // CLIENT REPLY ON answers, which marks the end.
    send(&mut s, &["CLIENT", "REPLY", "ON"]);
    step(&mut s, b"+OK\r\n");
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn pushes_arrive_under_client_reply_off_and_skip_as_in_redis() {
    let node = Server::start(&["--io-threads", "2"]);
    let redis = Server::start_redis(&[]);
    let mut diffs = Vec::new();
    for resp3 in [false, true] {
        for mode in ["OFF", "SKIP"] {
            let mine = transcript(node.port, resp3, mode);
            let theirs = transcript(redis.port, resp3, mode);
            if mine != theirs {
                diffs.push(format!(
                    "RESP{} {mode}:\n  node  {mine:?}\n  redis {theirs:?}",
                    if resp3 { 3 } else { 2 }
                ));
            }
            // The confirmations are there at all (not two equally empty runs).
            assert!(theirs.contains("psubscribe"), "{theirs:?}");
        }
    }
    common::assert_no_diffs(&diffs, "pub/sub under CLIENT REPLY");
}
