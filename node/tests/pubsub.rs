//! Pub/sub against a real node: reply shapes compared byte for byte with
//! redis-server in RESP2 and RESP3, delivery across event loops, ordering,
//! restricted commands, cleanup on disconnect and the output buffer limit.

mod common;
mod rawresp;

use std::time::{Duration, Instant};

use common::Server;
use rawresp::{bulk_text, encode, Raw};

/// Sends one command and reads `n` replies (a SUBSCRIBE of n channels gets n).
fn cmd_n(c: &mut Raw, args: &[&str], n: usize) -> String {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    c.send(&encode(&a));
    let mut out = String::new();
    for _ in 0..n {
        out.push_str(&String::from_utf8_lossy(&c.reply()));
    }
    out
}

/// How many replies Redis sends to a command when subscriptions are known.
fn replies_for(args: &[&str]) -> usize {
    let name = args[0].to_ascii_lowercase();
    if name.ends_with("subscribe") && !name.contains("unsub") {
        args.len() - 1
    } else {
        1
    }
}

/// Runs a script on both servers (each on one connection) and compares every
/// reply. `(args, replies)` with replies 0 meaning "as `replies_for`".
fn same_on_both(node: &Server, redis: &Server, script: &[(&[&str], usize)]) {
    let mut a = Raw::connect(node.port);
    let mut b = Raw::connect(redis.port);
    for (args, n) in script {
        let n = if *n == 0 { replies_for(args) } else { *n };
        let ours = cmd_n(&mut a, args, n);
        let theirs = cmd_n(&mut b, args, n);
        assert_eq!(ours, theirs, "replies to {args:?}");
    }
}

fn int_reply(r: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(r);
    s.trim_start_matches(':')
        .trim_end()
        .parse()
        .unwrap_or_else(|_| panic!("not an integer reply: {s:?}"))
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::yield_now();
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn resp2_replies_match_redis() {
    let node = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    same_on_both(
        &node,
        &redis,
        &[
            (&["UNSUBSCRIBE"], 1),
            (&["PUNSUBSCRIBE", "x"], 1),
            (&["SUBSCRIBE", "a", "b", "a"], 0),
            (&["PSUBSCRIBE", "p*", "q?"], 0),
            (&["SSUBSCRIBE", "s1"], 0),
            (&["GET", "x"], 1),
            (&["GET"], 1),
            (&["NOSUCHCOMMAND"], 1),
            (&["CLIENT", "LIST"], 1),
            (&["CLIENT", "NOSUCH"], 1),
            (&["PUBSUB", "NUMPAT"], 1),
            (&["PUBLISH", "a", "x"], 1),
            (&["PING"], 1),
            (&["PING", "hi"], 1),
            (&["UNSUBSCRIBE", "b", "a", "zz"], 3),
            (&["PUNSUBSCRIBE", "q?"], 1),
            (&["SUNSUBSCRIBE", "s1"], 1),
            (&["PING"], 1),
            (&["PUNSUBSCRIBE", "p*"], 1),
            // Out of the pub/sub context again.
            (&["PING"], 1),
            (&["UNSUBSCRIBE"], 1),
            (&["SUNSUBSCRIBE"], 1),
            (&["PUNSUBSCRIBE"], 1),
            (&["PUBLISH", "a", "x"], 1),
            (&["SPUBLISH", "a", "x"], 1),
            (&["PUBSUB", "NUMSUB", "a", "b"], 1),
            (&["PUBSUB", "NUMSUB"], 1),
            (&["PUBSUB", "SHARDNUMSUB", "a"], 1),
            (&["PUBSUB", "CHANNELS"], 1),
            (&["PUBSUB", "SHARDCHANNELS", "x*"], 1),
            (&["PUBSUB", "CHANNELS", "a", "b"], 1),
            (&["PUBSUB", "NUMPAT", "x"], 1),
            (&["PUBSUB", "HELP"], 1),
            (&["PUBSUB", "FOO"], 1),
            (&["PUBSUB"], 1),
            (&["SUBSCRIBE"], 1),
            (&["PUBLISH", "a"], 1),
            (&["SUBSCRIBE", "c"], 0),
            (&["RESET"], 1),
            (&["GET", "x"], 1),
            (&["PUBSUB", "NUMSUB", "c"], 1),
            (
                &[
                    "COMMAND",
                    "INFO",
                    "subscribe",
                    "ssubscribe",
                    "publish",
                    "spublish",
                ],
                1,
            ),
        ],
    );
}

#[test]
fn resp3_replies_match_redis() {
    let node = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let mut a = Raw::connect(node.port);
    let mut b = Raw::connect(redis.port);
    // HELLO's reply carries the client id, which differs.
    a.cmd(&["HELLO", "3"]);
    b.cmd(&["HELLO", "3"]);
    let script: &[(&[&str], usize)] = &[
        (&["UNSUBSCRIBE"], 1),
        (&["SUBSCRIBE", "a"], 0),
        (&["GET", "x"], 1),
        (&["SET", "x", "1"], 1),
        (&["PING"], 1),
        // A message to oneself comes before the PUBLISH reply.
        (&["PUBLISH", "a", "hello"], 2),
        (&["PSUBSCRIBE", "*"], 0),
        (&["PUBLISH", "a", "x"], 3),
        (&["SSUBSCRIBE", "s"], 0),
        (&["SPUBLISH", "s", "y"], 2),
        (&["PUBSUB", "NUMSUB", "a", "b"], 1),
        (&["UNSUBSCRIBE", "a"], 1),
        (&["PUNSUBSCRIBE"], 1),
        (&["SUNSUBSCRIBE"], 1),
        (&["UNSUBSCRIBE"], 1),
        (&["PUBLISH", "a", "x"], 1),
    ];
    for (args, n) in script {
        let n = if *n == 0 { replies_for(args) } else { *n };
        assert_eq!(
            cmd_n(&mut a, args, n),
            cmd_n(&mut b, args, n),
            "replies to {args:?}"
        );
    }
}

/// Many subscribers spread over two event loops receive every message of one
/// publisher, in order; PUBLISH counts channel and pattern receivers.
#[test]
fn delivery_across_event_loops_in_order() {
    let node = Server::start(&["--io-threads", "2"]);
    const CHANNEL_SUBS: usize = 30;
    const PATTERN_SUBS: usize = 10;
    const MESSAGES: usize = 300;
    let mut subs: Vec<Raw> = Vec::new();
    for i in 0..CHANNEL_SUBS + PATTERN_SUBS {
        let mut c = Raw::connect(node.port);
        if i % 3 == 0 {
            c.cmd(&["HELLO", "3"]);
        }
        let r = if i < CHANNEL_SUBS {
            c.cmd_s(&["SUBSCRIBE", "news"])
        } else {
            c.cmd_s(&["PSUBSCRIBE", "ne*"])
        };
        assert!(r.contains("subscribe"), "{r}");
        subs.push(c);
    }
    let mut p = Raw::connect(node.port);
    assert_eq!(
        p.cmd_s(&["PUBSUB", "NUMSUB", "news"]),
        format!("*2\r\n$4\r\nnews\r\n:{CHANNEL_SUBS}\r\n")
    );
    assert_eq!(int_reply(&p.cmd(&["PUBSUB", "NUMPAT"])), 1);
    // Pipelined: one read on the server publishes many messages at once.
    let mut batch = Vec::new();
    for i in 0..MESSAGES {
        let m = format!("m{i}");
        batch.extend(encode(&[b"PUBLISH", b"news", m.as_bytes()]));
    }
    p.send(&batch);
    for _ in 0..MESSAGES {
        assert_eq!(int_reply(&p.reply()), (CHANNEL_SUBS + PATTERN_SUBS) as i64);
    }
    for (i, c) in subs.iter_mut().enumerate() {
        let resp3 = i % 3 == 0;
        let head = if resp3 { ">" } else { "*" };
        for m in 0..MESSAGES {
            let got = String::from_utf8_lossy(&c.reply()).into_owned();
            let body = format!("m{m}");
            let want = if i < CHANNEL_SUBS {
                format!(
                    "{head}3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n${}\r\n{body}\r\n",
                    body.len()
                )
            } else {
                format!(
                    "{head}4\r\n$8\r\npmessage\r\n$3\r\nne*\r\n$4\r\nnews\r\n${}\r\n{body}\r\n",
                    body.len()
                )
            };
            assert_eq!(got, want, "subscriber {i}, message {m}");
        }
    }
}

/// Several publishers on different connections: each subscriber sees each
/// publisher's messages in that publisher's order.
#[test]
fn per_publisher_order_with_concurrent_publishers() {
    let node = Server::start(&["--io-threads", "2"]);
    let mut sub = Raw::connect(node.port);
    sub.cmd(&["SUBSCRIBE", "ch"]);
    let port = node.port;
    let publishers: Vec<_> = (0..4)
        .map(|p| {
            std::thread::spawn(move || {
                let mut c = Raw::connect(port);
                for i in 0..200 {
                    let m = format!("{p}:{i}");
                    assert_eq!(int_reply(&c.cmd(&["PUBLISH", "ch", &m])), 1);
                }
            })
        })
        .collect();
    let mut next = [0usize; 4];
    for _ in 0..800 {
        let r = sub.reply();
        let text = String::from_utf8_lossy(&r).into_owned();
        let payload = text.rsplit("\r\n").nth(1).expect("payload").to_string();
        let (p, i) = payload.split_once(':').expect("p:i");
        let p: usize = p.parse().expect("publisher");
        let i: usize = i.parse().expect("index");
        assert_eq!(i, next[p], "publisher {p} out of order");
        next[p] += 1;
    }
    for t in publishers {
        t.join().expect("publisher thread");
    }
    assert_eq!(next, [200; 4]);
}

#[test]
fn unsubscribe_all_reports_each_then_null() {
    let node = Server::start(&[]);
    let mut c = Raw::connect(node.port);
    cmd_n(&mut c, &["SUBSCRIBE", "a", "b", "c"], 3);
    cmd_n(&mut c, &["PSUBSCRIBE", "x*"], 1);
    c.send(&encode(&[b"UNSUBSCRIBE"]));
    let mut names = Vec::new();
    let mut counts = Vec::new();
    for _ in 0..3 {
        let r = String::from_utf8_lossy(&c.reply()).into_owned();
        let parts: Vec<&str> = r.split("\r\n").collect();
        // *3 $11 unsubscribe $1 <name> :<count>
        assert_eq!(parts[2], "unsubscribe", "{r}");
        names.push(parts[4].to_string());
        counts.push(parts[5].to_string());
    }
    names.sort();
    assert_eq!(names, ["a", "b", "c"]);
    // The pattern still counts.
    assert_eq!(counts, [":3", ":2", ":1"]);
    assert_eq!(
        c.cmd_s(&["UNSUBSCRIBE"]),
        "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:1\r\n"
    );
    // Still subscribed to the pattern: restricted.
    assert!(c
        .cmd_s(&["SET", "k", "v"])
        .starts_with("-ERR Can't execute 'set'"));
    assert_eq!(
        c.cmd_s(&["PUNSUBSCRIBE"]),
        "*3\r\n$12\r\npunsubscribe\r\n$2\r\nx*\r\n:0\r\n"
    );
    // Out of the pub/sub context: ordinary commands work again.
    assert_eq!(c.cmd_s(&["SET", "k", "v"]), "+OK\r\n");
}

#[test]
fn client_list_info_and_cleanup_on_disconnect() {
    let node = Server::start(&["--io-threads", "2"]);
    let mut admin = Raw::connect(node.port);
    let mut sub = Raw::connect(node.port);
    cmd_n(&mut sub, &["SUBSCRIBE", "c1", "c2"], 2);
    cmd_n(&mut sub, &["PSUBSCRIBE", "p*"], 1);
    cmd_n(&mut sub, &["SSUBSCRIBE", "s"], 1);
    let list = bulk_text(&admin.cmd(&["CLIENT", "LIST", "TYPE", "pubsub"]));
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(
        list.contains("flags=P ") && list.contains(" sub=2 psub=1 ssub=1 "),
        "{list}"
    );
    let normal = bulk_text(&admin.cmd(&["CLIENT", "LIST", "TYPE", "normal"]));
    assert_eq!(normal.lines().count(), 1, "{normal}");
    assert!(normal.contains("flags=N ") && normal.contains(" sub=0 psub=0 ssub=0 "));
    let info = bulk_text(&admin.cmd(&["INFO", "stats"]));
    assert!(info.contains("pubsub_channels:2\r\n"), "{info}");
    assert!(info.contains("pubsub_patterns:1\r\n"), "{info}");
    assert!(info.contains("pubsubshard_channels:1\r\n"), "{info}");
    drop(sub);
    wait_until("subscriptions to go away", || {
        admin.cmd_s(&["PUBSUB", "NUMSUB", "c1", "c2"])
            == "*4\r\n$2\r\nc1\r\n:0\r\n$2\r\nc2\r\n:0\r\n"
    });
    assert_eq!(int_reply(&admin.cmd(&["PUBSUB", "NUMPAT"])), 0);
    assert_eq!(admin.cmd_s(&["PUBSUB", "SHARDCHANNELS"]), "*0\r\n");
    assert_eq!(int_reply(&admin.cmd(&["PUBLISH", "c1", "x"])), 0);
    // CLIENT KILL TYPE pubsub closes subscribers only.
    let mut sub2 = Raw::connect(node.port);
    cmd_n(&mut sub2, &["SUBSCRIBE", "k"], 1);
    assert_eq!(
        int_reply(&admin.cmd(&["CLIENT", "KILL", "TYPE", "pubsub"])),
        1
    );
    assert!(sub2.until_closed(Duration::from_secs(10)).is_some());
    wait_until("killed subscriber to go away", || {
        int_reply(&admin.cmd(&["PUBLISH", "k", "x"])) == 0
    });
}

#[test]
fn reset_leaves_the_pubsub_context() {
    let node = Server::start(&[]);
    let mut c = Raw::connect(node.port);
    cmd_n(&mut c, &["SUBSCRIBE", "a"], 1);
    cmd_n(&mut c, &["PSUBSCRIBE", "b*"], 1);
    assert_eq!(c.cmd_s(&["RESET"]), "+RESET\r\n");
    assert_eq!(
        c.cmd_s(&["PUBSUB", "NUMSUB", "a"]),
        "*2\r\n$1\r\na\r\n:0\r\n"
    );
    assert_eq!(int_reply(&c.cmd(&["PUBSUB", "NUMPAT"])), 0);
}

/// A subscriber that never reads is closed once its pending output passes the
/// hard limit; a subscriber that reads is not.
#[test]
fn output_buffer_hard_limit_disconnects_slow_subscriber() {
    let node = Server::start(&["--io-threads", "2"]);
    let mut admin = Raw::connect(node.port);
    assert_eq!(
        admin.cmd_s(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 256kb 0 0"
        ]),
        "+OK\r\n"
    );
    let mut slow = Raw::connect(node.port);
    cmd_n(&mut slow, &["SUBSCRIBE", "flood"], 1);
    let payload = "x".repeat(64 * 1024);
    let mut published = 0usize;
    wait_until("the slow subscriber to be dropped", || {
        let n = int_reply(&admin.cmd(&["PUBLISH", "flood", &payload]));
        published += 1;
        assert!(published < 4000, "never disconnected");
        n == 0
    });
    let list = bulk_text(&admin.cmd(&["CLIENT", "LIST", "TYPE", "pubsub"]));
    assert!(list.is_empty(), "{list}");
    // A subscriber that keeps up stays connected under the same limit.
    let mut fast = Raw::connect(node.port);
    cmd_n(&mut fast, &["SUBSCRIBE", "flood"], 1);
    for _ in 0..50 {
        assert_eq!(int_reply(&admin.cmd(&["PUBLISH", "flood", &payload])), 1);
        let m = fast.reply();
        assert!(m.len() > payload.len());
    }
}

#[test]
fn output_buffer_soft_limit_disconnects_after_its_seconds() {
    let node = Server::start(&[]);
    let mut admin = Raw::connect(node.port);
    assert_eq!(
        admin.cmd_s(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 0 128kb 1"
        ]),
        "+OK\r\n"
    );
    let mut slow = Raw::connect(node.port);
    cmd_n(&mut slow, &["SUBSCRIBE", "flood"], 1);
    let payload = "y".repeat(32 * 1024);
    let started = Instant::now();
    let mut published = 0usize;
    wait_until("the soft limit to close the subscriber", || {
        published += 1;
        assert!(published < 100_000, "never disconnected");
        int_reply(&admin.cmd(&["PUBLISH", "flood", &payload])) == 0
    });
    // Over the soft limit for more than one second, not at once.
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[test]
fn config_output_limit_matches_redis() {
    let node = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let key = "client-output-buffer-limit";
    same_on_both(
        &node,
        &redis,
        &[
            (&["CONFIG", "GET", key], 1),
            (&["CONFIG", "SET", key, "pubsub 1mb 2k 5"], 1),
            (&["CONFIG", "GET", key], 1),
            (&["CONFIG", "SET", key, "pubsub 1mb 2k"], 1),
            (&["CONFIG", "SET", key, "foo 1 1 1"], 1),
            (&["CONFIG", "SET", key, "pubsub x 1 1"], 1),
            (&["CONFIG", "SET", key, "pubsub 1 1 -1"], 1),
            (&["CONFIG", "SET", key, "replica 1 1 1"], 1),
            (&["CONFIG", "GET", key], 1),
        ],
    );
}

/// `timeout` closes idle clients but not subscribers, as in Redis.
#[test]
fn idle_timeout_spares_subscribers() {
    let node = Server::start(&["--timeout", "1"]);
    let mut sub = Raw::connect(node.port);
    cmd_n(&mut sub, &["SUBSCRIBE", "a"], 1);
    let mut idle = Raw::connect(node.port);
    assert_eq!(idle.cmd_s(&["PING"]), "+PONG\r\n");
    assert!(idle.until_closed(Duration::from_secs(20)).is_some());
    assert_eq!(sub.cmd_s(&["PING"]), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
}
