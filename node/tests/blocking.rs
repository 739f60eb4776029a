//! Blocking commands (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX
//! BZMPOP, CLIENT UNBLOCK) against a node with two event loops: wake-ups from
//! other connections, FIFO fairness, timeouts, BLMOVE chains, pipelining behind
//! a blocked command, disconnects, and reply shapes side by side with
//! redis-server in RESP2 and RESP3. Every wait polls with a deadline.

mod common;
mod rawresp;

use std::time::{Duration, Instant};

use common::Server;
use rawresp::{encode, Raw};

fn node() -> Server {
    Server::start(&["--io-threads", "2"])
}

fn send(c: &mut Raw, args: &[&str]) {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    c.send(&encode(&a));
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The connection's client id.
fn id_of(c: &mut Raw) -> String {
    let r = c.cmd_s(&["CLIENT", "ID"]);
    r.trim_start_matches(':').trim_end().to_string()
}

/// Waits until client `id` shows flag `b` in CLIENT LIST.
fn wait_blocked(ctl: &mut Raw, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let line = ctl.cmd_s(&["CLIENT", "LIST", "ID", id]);
        if line.contains("flags=b") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "client {id} never blocked: {line}"
        );
        std::thread::yield_now();
    }
}

/// Waits until INFO reports `n` blocked clients.
fn wait_blocked_count(ctl: &mut Raw, n: usize) {
    let want = format!("blocked_clients:{n}\r\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = ctl.cmd_s(&["INFO", "clients"]);
        if info.contains(&want) {
            return;
        }
        assert!(Instant::now() < deadline, "never saw {want:?} in {info}");
        std::thread::yield_now();
    }
}

/// Sends a blocking command on a new connection and waits until it blocks.
fn blocked(port: u16, ctl: &mut Raw, args: &[&str]) -> Raw {
    let mut c = Raw::connect(port);
    let id = id_of(&mut c);
    send(&mut c, args);
    wait_blocked(ctl, &id);
    c
}

/// True when no reply bytes are waiting on `c` right now.
fn silent(c: &mut Raw) -> bool {
    c.s.set_nonblocking(true).expect("nonblocking");
    let r = c.s.peek(&mut [0u8; 1]);
    c.s.set_nonblocking(false).expect("blocking");
    matches!(r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

#[test]
fn push_from_another_connection_wakes_each_command() {
    let s = node();
    let mut ctl = Raw::connect(s.port);
    // (blocking command, the write that serves it, expected reply)
    let cases: &[(&[&str], &[&str], &str)] = &[
        (
            &["BLPOP", "q", "0"],
            &["RPUSH", "q", "a", "b"],
            "*2\r\n$1\r\nq\r\n$1\r\na\r\n",
        ),
        (
            &["BRPOP", "q", "0"],
            &["RPUSH", "q", "a", "b"],
            "*2\r\n$1\r\nq\r\n$1\r\nb\r\n",
        ),
        (
            &["BLPOP", "q", "0"],
            &["LPUSH", "q", "a", "b"],
            "*2\r\n$1\r\nq\r\n$1\r\nb\r\n",
        ),
        (
            &["BLMPOP", "0", "1", "q", "LEFT", "COUNT", "2"],
            &["RPUSH", "q", "a", "b", "c"],
            "*2\r\n$1\r\nq\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n",
        ),
        (
            &["BRPOPLPUSH", "q", "d", "0"],
            &["RPUSH", "q", "a", "b"],
            "$1\r\nb\r\n",
        ),
        (
            &["BLMOVE", "q", "d", "LEFT", "RIGHT", "0"],
            &["RPUSH", "q", "a", "b"],
            "$1\r\na\r\n",
        ),
        (
            &["BZPOPMIN", "z", "0"],
            &["ZADD", "z", "1", "a", "2", "b"],
            "*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n",
        ),
        (
            &["BZPOPMAX", "z", "0"],
            &["ZADD", "z", "1", "a", "2", "b"],
            "*3\r\n$1\r\nz\r\n$1\r\nb\r\n$1\r\n2\r\n",
        ),
        (
            &["BZMPOP", "0", "1", "z", "MAX", "COUNT", "5"],
            &["ZADD", "z", "1", "a", "2", "b"],
            "*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
        ),
    ];
    for (block, write, want) in cases {
        ctl.cmd(&["FLUSHALL"]);
        let mut c = blocked(s.port, &mut ctl, block);
        assert!(silent(&mut c), "{block:?} replied before any push");
        let info = ctl.cmd_s(&["INFO", "clients"]);
        assert!(info.contains("blocked_clients:1\r\n"), "{info}");
        // Several writers, so some run on the other event loop.
        let mut w = Raw::connect(s.port);
        w.cmd(write);
        assert_eq!(text(&c.reply()), *want, "{block:?} woken by {write:?}");
        wait_blocked_count(&mut ctl, 0);
        // The client runs commands again.
        assert_eq!(c.cmd_s(&["PING"]), "+PONG\r\n");
    }
}

#[test]
fn clients_blocked_on_one_key_are_served_in_order() {
    let s = node();
    let mut ctl = Raw::connect(s.port);
    for round in 0..3 {
        let mut cs: Vec<Raw> = (0..3)
            .map(|_| blocked(s.port, &mut ctl, &["BLPOP", "q", "other", "0"]))
            .collect();
        match round {
            // One push serves as many as it can, first blocked first.
            0 => {
                ctl.cmd(&["RPUSH", "q", "1", "2", "3"]);
            }
            // One element at a time: each push serves the oldest waiter.
            1 => {
                for v in ["1", "2", "3"] {
                    let mut w = Raw::connect(s.port);
                    w.cmd(&["RPUSH", "q", v]);
                    wait_blocked_count(&mut ctl, 3 - v.parse::<usize>().unwrap_or(0));
                }
            }
            // More data than waiters: the rest stays in the list.
            _ => {
                ctl.cmd(&["RPUSH", "q", "1", "2", "3", "4", "5"]);
            }
        }
        for (i, c) in cs.iter_mut().enumerate() {
            let want = format!("*2\r\n$1\r\nq\r\n$1\r\n{}\r\n", i + 1);
            assert_eq!(text(&c.reply()), want, "round {round}, client {i}");
        }
        let rest = ctl.cmd_s(&["LRANGE", "q", "0", "-1"]);
        let want = if round == 2 {
            "*2\r\n$1\r\n4\r\n$1\r\n5\r\n"
        } else {
            "*0\r\n"
        };
        assert_eq!(rest, want, "round {round}");
        ctl.cmd(&["DEL", "q"]);
        wait_blocked_count(&mut ctl, 0);
    }
}

#[test]
fn a_push_serves_waiters_of_every_kind_on_the_key_in_order() {
    let s = node();
    let mut ctl = Raw::connect(s.port);
    let mut a = blocked(s.port, &mut ctl, &["BRPOP", "q", "0"]);
    let mut b = blocked(
        s.port,
        &mut ctl,
        &["BLMPOP", "0", "2", "x", "q", "LEFT", "COUNT", "2"],
    );
    let mut c = blocked(s.port, &mut ctl, &["BLMOVE", "q", "d", "LEFT", "LEFT", "0"]);
    let mut d = blocked(s.port, &mut ctl, &["BLPOP", "q", "0"]);
    assert_eq!(ctl.cmd_s(&["RPUSH", "q", "1", "2", "3", "4"]), ":4\r\n");
    assert_eq!(text(&a.reply()), "*2\r\n$1\r\nq\r\n$1\r\n4\r\n");
    assert_eq!(
        text(&b.reply()),
        "*2\r\n$1\r\nq\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
    assert_eq!(text(&c.reply()), "$1\r\n3\r\n");
    // Nothing left for the fourth: it stays blocked.
    assert!(silent(&mut d));
    wait_blocked_count(&mut ctl, 1);
    assert_eq!(ctl.cmd_s(&["EXISTS", "q"]), ":0\r\n");
    assert_eq!(ctl.cmd_s(&["LRANGE", "d", "0", "-1"]), "*1\r\n$1\r\n3\r\n");
    ctl.cmd(&["LPUSH", "q", "5"]);
    assert_eq!(text(&d.reply()), "*2\r\n$1\r\nq\r\n$1\r\n5\r\n");
}

#[test]
fn timeouts_reply_null_no_sooner_than_asked() {
    let s = node();
    let cases: &[(&[&str], &str, &str)] = &[
        (&["BLPOP", "q", "0.2"], "*-1\r\n", "_\r\n"),
        (&["BRPOP", "q", "r", "0.15"], "*-1\r\n", "_\r\n"),
        (
            &["BLMOVE", "q", "d", "LEFT", "LEFT", "0.1"],
            "*-1\r\n",
            "_\r\n",
        ),
        (&["BRPOPLPUSH", "q", "d", "0.1"], "*-1\r\n", "_\r\n"),
        (&["BLMPOP", "0.1", "1", "q", "LEFT"], "*-1\r\n", "_\r\n"),
        (&["BZPOPMIN", "z", "0.1"], "*-1\r\n", "_\r\n"),
        (&["BZPOPMAX", "z", "0.1"], "*-1\r\n", "_\r\n"),
        (&["BZMPOP", "0.25", "1", "z", "MIN"], "*-1\r\n", "_\r\n"),
    ];
    for resp3 in [false, true] {
        for (args, r2, r3) in cases {
            let mut c = Raw::connect(s.port);
            if resp3 {
                c.cmd(&["HELLO", "3"]);
            }
            let secs: f64 = args
                .iter()
                .filter_map(|a| a.parse::<f64>().ok())
                .find(|v| v.fract() != 0.0)
                .unwrap_or(0.0);
            let t0 = Instant::now();
            let got = c.cmd_s(args);
            let elapsed = t0.elapsed();
            assert_eq!(got, if resp3 { *r3 } else { *r2 }, "{args:?} resp3={resp3}");
            assert!(
                elapsed >= Duration::from_secs_f64(secs),
                "{args:?} returned after {elapsed:?}"
            );
            assert_eq!(c.cmd_s(&["PING"]), "+PONG\r\n");
        }
    }
    let mut ctl = Raw::connect(s.port);
    wait_blocked_count(&mut ctl, 0);
}

#[test]
fn many_clients_time_out_on_both_loops() {
    let s = node();
    let t0 = Instant::now();
    let mut cs: Vec<(Raw, f64)> = (0..8)
        .map(|i| {
            let mut c = Raw::connect(s.port);
            let t = 0.05 + 0.03 * i as f64;
            send(&mut c, &["BLPOP", "q", &format!("{t}")]);
            (c, t)
        })
        .collect();
    for (c, t) in cs.iter_mut() {
        assert_eq!(text(&c.reply()), "*-1\r\n");
        let elapsed = t0.elapsed();
        assert!(
            elapsed >= Duration::from_secs_f64(*t),
            "{t}s timeout after {elapsed:?}"
        );
    }
    let mut ctl = Raw::connect(s.port);
    wait_blocked_count(&mut ctl, 0);
}
