//! XREAD / XREADGROUP with BLOCK against a node with two event loops: wake-ups
//! by XADD from other connections, `$` and `>`, COUNT, several streams, FIFO
//! order among waiters, the errors for a deleted stream or a destroyed group,
//! MULTI, CLIENT UNBLOCK, timeouts, disconnects and the PEL a served
//! XREADGROUP leaves. Scripts run on kcache-node and on redis-server and their
//! reply bytes are compared; key replies are also asserted outright, so the
//! tests still check something where redis-server is missing. Every wait
//! polls with a deadline.

mod common;
mod rawresp;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::Server;
use rawresp::{encode, Raw};

fn node() -> Server {
    Server::start(&["--io-threads", "2"])
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One step of a script; connection 0 is the controller.
enum Step<'a> {
    /// Runs a command on a connection and records its reply.
    Cmd(usize, &'a [&'a str]),
    /// Runs a command whose reply differs between servers (HELLO): not recorded.
    Quiet(usize, &'a [&'a str]),
    /// Sends a command and waits until the server reports the client blocked.
    Block(usize, &'a [&'a str]),
    /// Records the reply a blocked connection was sent.
    Reply(usize),
    /// Asserts the connection is still blocked (nothing recorded).
    Blocked(usize),
    /// Closes a connection and waits until the server has dropped it.
    Close(usize),
}
use Step::*;

struct Conns {
    port: u16,
    conns: HashMap<usize, (Raw, String)>,
}

impl Conns {
    fn get(&mut self, i: usize) -> &mut Raw {
        let port = self.port;
        &mut self
            .conns
            .entry(i)
            .or_insert_with(|| {
                let mut c = Raw::connect(port);
                let id = c.cmd_s(&["CLIENT", "ID"]);
                let id = id.trim_start_matches(':').trim_end().to_string();
                (c, id)
            })
            .0
    }

    fn id(&mut self, i: usize) -> String {
        self.get(i);
        self.conns[&i].1.clone()
    }

    /// Polls CLIENT LIST until `pred` holds for client `i`'s line.
    fn wait_client(&mut self, i: usize, what: &str, pred: impl Fn(&str) -> bool) {
        let id = self.id(i);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let line = self.get(0).cmd_s(&["CLIENT", "LIST", "ID", &id]);
            if pred(&line) {
                return;
            }
            assert!(Instant::now() < deadline, "client {i} never {what}: {line}");
            std::thread::yield_now();
        }
    }
}

/// Runs `script` on the server at `port`; returns the recorded replies.
fn run(port: u16, script: &[Step]) -> Vec<String> {
    let mut c = Conns {
        port,
        conns: HashMap::new(),
    };
    let mut out = Vec::new();
    for step in script {
        match step {
            Cmd(i, args) => {
                let r = c.get(*i).cmd(args);
                out.push(format!("{i}> {args:?} -> {}", text(&r)));
            }
            Quiet(i, args) => {
                c.get(*i).cmd(args);
            }
            Block(i, args) => {
                let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
                c.get(*i).send(&encode(&a));
                c.wait_client(*i, "blocked", |l| l.contains("flags=b"));
            }
            Reply(i) => {
                let r = c.get(*i).reply();
                out.push(format!("{i}< {}", text(&r)));
            }
            Blocked(i) => {
                let id = c.id(*i);
                let line = c.get(0).cmd_s(&["CLIENT", "LIST", "ID", &id]);
                assert!(line.contains("flags=b"), "client {i} not blocked: {line}");
            }
            Close(i) => {
                let id = c.id(*i);
                c.conns.remove(i);
                let deadline = Instant::now() + Duration::from_secs(10);
                loop {
                    let l = c.get(0).cmd_s(&["CLIENT", "LIST", "ID", &id]);
                    if !l.contains(&format!("id={id} ")) {
                        break;
                    }
                    assert!(Instant::now() < deadline, "client {i} never dropped");
                    std::thread::yield_now();
                }
            }
        }
    }
    out
}

/// Runs `script` on a fresh node and, where installed, on redis-server;
/// asserts identical transcripts and returns the node's.
fn both(script: &[Step]) -> Vec<String> {
    let s = node();
    let got = run(s.port, script);
    let r = Server::start_redis(&[]);
    let want = run(r.port, script);
    assert_eq!(
        got, want,
        "kcache-node (left) and redis-server (right) differ"
    );
    got
}

#[test]
fn xread_dollar_is_served_by_the_next_xadd() {
    let t = both(&[
        Cmd(0, &["XADD", "s", "1-1", "f", "old"]),
        Block(1, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]),
        Blocked(1),
        Cmd(0, &["XADD", "s", "2-0", "f", "new"]),
        Reply(1),
        // RESP3: a one-key map.
        Quiet(2, &["HELLO", "3"]),
        Block(2, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]),
        Cmd(0, &["XADD", "s", "3-0", "f", "v3"]),
        Reply(2),
        // The client runs commands again.
        Cmd(1, &["PING"]),
    ]);
    assert_eq!(
        t[2],
        "1< *1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nf\r\n$3\r\nnew\r\n"
    );
    assert_eq!(
        t[4],
        "2< %1\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n3-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv3\r\n"
    );
}

#[test]
fn count_and_several_streams() {
    let t = both(&[
        // Neither stream exists yet: waits on both, served by the one written.
        Block(
            1,
            &[
                "XREAD", "COUNT", "2", "BLOCK", "0", "STREAMS", "a", "b", "$", "0-0",
            ],
        ),
        Cmd(0, &["MULTI"]),
        Cmd(0, &["XADD", "b", "1-0", "f", "1"]),
        Cmd(0, &["XADD", "b", "2-0", "f", "2"]),
        Cmd(0, &["XADD", "b", "3-0", "f", "3"]),
        Cmd(0, &["EXEC"]),
        Reply(1),
        // An ID before existing entries is served at once.
        Cmd(1, &["XREAD", "BLOCK", "0", "STREAMS", "a", "b", "$", "2-0"]),
        // XADD then XDEL in one transaction: Redis serves the waiter (the last
        // ID moved) with what is left, here nothing.
        Block(2, &["XREAD", "BLOCK", "0", "STREAMS", "b", "$"]),
        Cmd(0, &["MULTI"]),
        Cmd(0, &["XADD", "b", "4-0", "f", "4"]),
        Cmd(0, &["XDEL", "b", "4-0"]),
        Cmd(0, &["EXEC"]),
        Reply(2),
    ]);
    assert!(t[5].contains("*2\r\n*2\r\n$3\r\n1-0\r\n"), "{}", t[5]);
    assert!(!t[5].contains("3-0"), "COUNT 2 ignored: {}", t[5]);
    assert_eq!(t[11], "2< *1\r\n*2\r\n$1\r\nb\r\n*0\r\n");
}

#[test]
fn xreadgroup_is_served_with_the_pel_updated() {
    let t = both(&[
        Cmd(0, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]),
        Block(
            1,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "alice",
                "BLOCK",
                "0",
                "STREAMS",
                "s",
                ">",
            ],
        ),
        // A consumer is created only once served.
        Cmd(0, &["XINFO", "CONSUMERS", "s", "g"]),
        Cmd(0, &["XADD", "s", "5-0", "k", "v"]),
        Reply(1),
        Cmd(0, &["XINFO", "GROUPS", "s"]),
        // NOACK: delivered, nothing pending.
        Block(
            2,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "bob",
                "NOACK",
                "BLOCK",
                "0",
                "STREAMS",
                "s",
                ">",
            ],
        ),
        Cmd(0, &["XADD", "s", "6-0", "k", "v"]),
        Reply(2),
        Cmd(0, &["XPENDING", "s", "g"]),
        // History reads never block.
        Cmd(
            1,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "alice",
                "BLOCK",
                "0",
                "STREAMS",
                "s",
                "0",
            ],
        ),
    ]);
    assert!(t[1].ends_with("-> *0\r\n"), "{}", t[1]);
    assert!(t[3].contains("5-0"), "{}", t[3]);
    assert!(
        t[4].contains("last-delivered-id\r\n$3\r\n5-0\r\n"),
        "{}",
        t[4]
    );
    assert!(t[6].contains("6-0"), "{}", t[6]);
    let pel = "-> *4\r\n:1\r\n$3\r\n5-0\r\n$3\r\n5-0\r\n*1\r\n*2\r\n$5\r\nalice\r\n$1\r\n1\r\n";
    assert!(t[7].ends_with(pel), "{}", t[7]);
}

#[test]
fn waiters_on_one_key_are_served_first_blocked_first() {
    let xrg = |c: &'static str| -> [&'static str; 11] {
        [
            "XREADGROUP",
            "GROUP",
            "g",
            c,
            "COUNT",
            "1",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ]
    };
    let (a, b, c) = (xrg("c1"), xrg("c2"), xrg("c3"));
    let (d, e) = (xrg("c4"), xrg("c5"));
    let t = both(&[
        Cmd(0, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]),
        Block(1, &a),
        Block(2, &b),
        Block(3, &c),
        Block(4, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]),
        Block(5, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]),
        Cmd(0, &["MULTI"]),
        Cmd(0, &["XADD", "s", "1-0", "n", "1"]),
        Cmd(0, &["XADD", "s", "2-0", "n", "2"]),
        Cmd(0, &["EXEC"]),
        Reply(1),
        Reply(2),
        Blocked(3),
        Reply(4),
        Reply(5),
        Cmd(0, &["XADD", "s", "3-0", "n", "3"]),
        Reply(3),
        Cmd(0, &["XPENDING", "s", "g"]),
        // The first in line disconnects: the next one is served.
        Block(6, &d),
        Block(7, &e),
        Close(6),
        Cmd(0, &["XADD", "s", "4-0", "n", "4"]),
        Reply(7),
        Cmd(0, &["XPENDING", "s", "g"]),
    ]);
    assert!(
        t[13].starts_with("7< ") && t[13].contains("4-0"),
        "{}",
        t[13]
    );
    assert!(!t[14].contains("c4"), "{}", t[14]);
    assert!(t[5].contains("1-0") && !t[5].contains("2-0"), "{}", t[5]);
    assert!(t[6].contains("2-0") && !t[6].contains("1-0"), "{}", t[6]);
    assert_eq!(t[7][1..], t[8][1..]);
    assert!(t[7].contains("1-0") && t[7].contains("2-0"), "{}", t[7]);
    assert!(t[10].contains("3-0"), "{}", t[10]);
}

#[test]
fn a_lost_stream_or_group_ends_xreadgroup_but_not_xread() {
    let xrg: &[&str] = &[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ];
    let setup: &[&str] = &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"];
    let xread: &[&str] = &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"];
    let t = both(&[
        Cmd(0, setup),
        Block(1, xrg),
        Block(2, xread),
        Cmd(0, &["DEL", "s"]),
        Reply(1),
        Blocked(2),
        Cmd(0, setup),
        Block(1, xrg),
        Cmd(0, &["SET", "s", "x"]),
        Reply(1),
        Blocked(2),
        Cmd(0, &["DEL", "s"]),
        Cmd(0, setup),
        Block(1, xrg),
        Cmd(0, &["XGROUP", "DESTROY", "s", "g"]),
        Reply(1),
        Cmd(0, setup),
        Block(1, xrg),
        Cmd(0, &["RENAME", "s", "t"]),
        Reply(1),
        Cmd(0, setup),
        Block(1, xrg),
        Cmd(0, &["FLUSHALL"]),
        Reply(1),
        Cmd(0, setup),
        Block(1, xrg),
        // Rewinding the group does not wake anyone.
        Cmd(0, &["XGROUP", "SETID", "s", "g", "0"]),
        Blocked(1),
        Cmd(0, &["PEXPIRE", "s", "1"]),
        // Expired by the active cycle, with no command on the key.
        Reply(1),
        Blocked(2),
        Cmd(0, &["XADD", "s", "9-0", "f", "v"]),
        Reply(2),
    ]);
    let unblocked = "1< -UNBLOCKED the stream key no longer exists\r\n";
    assert_eq!(t[2], unblocked);
    assert_eq!(t[5], unblocked);
    assert_eq!(
        t[9],
        "1< -NOGROUP the consumer group this client was blocked on no longer exists\r\n"
    );
    assert_eq!(t[12], unblocked);
    assert_eq!(t[15], unblocked);
    assert_eq!(t[19], unblocked);
    assert!(t[21].starts_with("2< *1\r\n"), "{}", t[21]);
}

#[test]
fn multi_unblock_and_disconnect() {
    let xrg: &[&str] = &[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ];
    let s = node();
    let mut ctl = Raw::connect(s.port);
    // Inside MULTI a BLOCK read answers at once.
    let mut m = Raw::connect(s.port);
    m.cmd(&["MULTI"]);
    m.cmd(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    assert_eq!(m.cmd_s(&["EXEC"]), "*1\r\n*-1\r\n");
    m.cmd(&["HELLO", "3"]);
    m.cmd(&["MULTI"]);
    m.cmd(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    assert_eq!(m.cmd_s(&["EXEC"]), "*1\r\n_\r\n");
    ctl.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);

    // CLIENT UNBLOCK, both forms, then a pipelined PING runs.
    for (how, want) in [
        ("TIMEOUT", "*-1\r\n"),
        (
            "ERROR",
            "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n",
        ),
    ] {
        let mut c = Raw::connect(s.port);
        let id = c.cmd_s(&["CLIENT", "ID"]);
        let id = id.trim_start_matches(':').trim_end().to_string();
        let mut pipe = encode(&xrg.iter().map(|a| a.as_bytes()).collect::<Vec<_>>());
        pipe.extend(encode(&[b"PING"]));
        c.send(&pipe);
        wait_info(&mut ctl, "blocked_clients:1\r\n");
        assert_eq!(ctl.cmd_s(&["CLIENT", "UNBLOCK", &id, how]), ":1\r\n");
        assert_eq!(text(&c.reply()), want);
        assert_eq!(text(&c.reply()), "+PONG\r\n");
        assert_eq!(ctl.cmd_s(&["CLIENT", "UNBLOCK", &id, how]), ":0\r\n");
    }

    // A waiter that disconnects is forgotten: the next entry stays undelivered.
    let mut c = Raw::connect(s.port);
    c.send(&encode(
        &xrg.iter().map(|a| a.as_bytes()).collect::<Vec<_>>(),
    ));
    wait_info(&mut ctl, "blocked_clients:1\r\n");
    drop(c);
    wait_info(&mut ctl, "blocked_clients:0\r\n");
    ctl.cmd(&["XADD", "s", "1-0", "f", "v"]);
    assert_eq!(
        ctl.cmd_s(&["XPENDING", "s", "g"]),
        "*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n"
    );
    let info = ctl.cmd_s(&["XINFO", "GROUPS", "s"]);
    assert!(
        info.contains("$17\r\nlast-delivered-id\r\n$3\r\n0-0\r\n"),
        "{info}"
    );
}

fn wait_info(ctl: &mut Raw, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = ctl.cmd_s(&["INFO", "clients"]);
        if info.contains(want) {
            return;
        }
        assert!(Instant::now() < deadline, "never saw {want:?} in {info}");
        std::thread::yield_now();
    }
}

#[test]
fn timeouts_answer_null_after_the_requested_milliseconds() {
    let s = node();
    for (resp3, want) in [(false, "*-1\r\n"), (true, "_\r\n")] {
        let mut c = Raw::connect(s.port);
        if resp3 {
            c.cmd(&["HELLO", "3"]);
        }
        let t0 = Instant::now();
        let r = c.cmd_s(&["XREAD", "BLOCK", "150", "STREAMS", "s", "$"]);
        let took = t0.elapsed();
        assert_eq!(r, want);
        assert!(took >= Duration::from_millis(150), "woke early: {took:?}");
        assert!(took < Duration::from_millis(1500), "woke late: {took:?}");
    }
    let mut c = Raw::connect(s.port);
    c.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    let t0 = Instant::now();
    let r = c.cmd_s(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "20",
        "STREAMS",
        "s",
        ">",
    ]);
    assert_eq!(r, "*-1\r\n");
    assert!(t0.elapsed() >= Duration::from_millis(20));
    // Timed out before being served: no consumer was created.
    assert_eq!(c.cmd_s(&["XINFO", "CONSUMERS", "s", "g"]), "*0\r\n");
    // Errors come before blocking.
    assert_eq!(
        c.cmd_s(&["XREAD", "BLOCK", "-1", "STREAMS", "s", "$"]),
        "-ERR timeout is negative\r\n"
    );
    assert_eq!(
        c.cmd_s(&["XREAD", "BLOCK", "1.5", "STREAMS", "s", "$"]),
        "-ERR timeout is not an integer or out of range\r\n"
    );
}

/// Producers and consumers on both event loops with the `redis` crate: every
/// entry is delivered to exactly one consumer of the group and acknowledged,
/// and every XREAD follower sees every entry in order.
#[test]
fn concurrent_producers_and_blocked_consumers() {
    const PRODUCERS: usize = 3;
    const PER_PRODUCER: usize = 200;
    const CONSUMERS: usize = 4;
    let s = node();
    let client = s.client();
    let mut c = client.get_connection().expect("connect");
    redis::cmd("XGROUP")
        .arg(&["CREATE", "s", "g", "$", "MKSTREAM"])
        .query::<()>(&mut c)
        .expect("create group");
    let total = PRODUCERS * PER_PRODUCER;
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|i| {
            let client = client.clone();
            std::thread::spawn(move || {
                let mut c = client.get_connection().expect("connect");
                let mut got: Vec<String> = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    let r: redis::Value = redis::cmd("XREADGROUP")
                        .arg(&["GROUP", "g", &format!("c{i}"), "COUNT", "7", "BLOCK", "200"])
                        .arg(&["STREAMS", "s", ">"])
                        .query(&mut c)
                        .expect("xreadgroup");
                    let ids = entry_ids(&r);
                    if ids.is_empty() {
                        let done: usize = redis::cmd("GET")
                            .arg("done")
                            .query::<Option<usize>>(&mut c)
                            .expect("get")
                            .unwrap_or(0);
                        if done == PRODUCERS {
                            return got;
                        }
                        assert!(Instant::now() < deadline, "consumer {i} stuck");
                        continue;
                    }
                    let mut ack = redis::cmd("XACK");
                    ack.arg("s").arg("g");
                    for id in &ids {
                        ack.arg(id);
                    }
                    let n: usize = ack.query(&mut c).expect("xack");
                    assert_eq!(n, ids.len());
                    got.extend(ids);
                }
            })
        })
        .collect();
    let follower = {
        let client = client.clone();
        std::thread::spawn(move || {
            let mut c = client.get_connection().expect("connect");
            let mut last = "0-0".to_string();
            let mut seen = Vec::new();
            while seen.len() < total {
                let r: redis::Value = redis::cmd("XREAD")
                    .arg(&["BLOCK", "0", "STREAMS", "s", &last])
                    .query(&mut c)
                    .expect("xread");
                let ids = entry_ids(&r);
                assert!(!ids.is_empty(), "BLOCK 0 answered empty");
                last = ids[ids.len() - 1].clone();
                seen.extend(ids);
            }
            seen
        })
    };
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let client = client.clone();
            std::thread::spawn(move || {
                let mut c = client.get_connection().expect("connect");
                for i in 0..PER_PRODUCER {
                    redis::cmd("XADD")
                        .arg(&["s", "*", "p", &p.to_string(), "i", &i.to_string()])
                        .query::<String>(&mut c)
                        .expect("xadd");
                }
                redis::cmd("INCR")
                    .arg("done")
                    .query::<i64>(&mut c)
                    .expect("incr");
            })
        })
        .collect();
    for p in producers {
        p.join().expect("producer");
    }
    let mut all: Vec<String> = consumers
        .into_iter()
        .flat_map(|h| h.join().expect("consumer"))
        .collect();
    let followed = follower.join().expect("follower");
    let mut in_log: Vec<String> = entry_list_ids(
        &redis::cmd("XRANGE")
            .arg(&["s", "-", "+"])
            .query(&mut c)
            .expect("xrange"),
    );
    assert_eq!(in_log.len(), total);
    assert_eq!(
        followed, in_log,
        "XREAD follower missed or reordered entries"
    );
    all.sort();
    in_log.sort();
    assert_eq!(all, in_log, "entries not delivered exactly once");
    let pending: Vec<redis::Value> = redis::cmd("XPENDING")
        .arg(&["s", "g"])
        .query(&mut c)
        .expect("xpending");
    assert_eq!(pending[0], redis::Value::Int(0));
}

/// The IDs in an XREAD / XREADGROUP reply of one stream (RESP2).
fn entry_ids(v: &redis::Value) -> Vec<String> {
    match v {
        redis::Value::Array(streams) => match streams.first() {
            Some(redis::Value::Array(kv)) if kv.len() == 2 => entry_list_ids(&kv[1]),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn entry_list_ids(v: &redis::Value) -> Vec<String> {
    let redis::Value::Array(entries) = v else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| match e {
            redis::Value::Array(pair) => match pair.first() {
                Some(redis::Value::BulkString(id)) => Some(text(id)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}
