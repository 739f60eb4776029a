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

#[test]
fn first_non_empty_key_in_argument_order_wins() {
    let s = node();
    let mut c = Raw::connect(s.port);
    c.cmd(&["RPUSH", "k3", "c"]);
    c.cmd(&["RPUSH", "k2", "b"]);
    assert_eq!(
        c.cmd_s(&["BLPOP", "k1", "k2", "k3", "0"]),
        "*2\r\n$2\r\nk2\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        c.cmd_s(&["BLMPOP", "0", "3", "k1", "k2", "k3", "RIGHT"]),
        "*2\r\n$2\r\nk3\r\n*1\r\n$1\r\nc\r\n"
    );
    c.cmd(&["ZADD", "z2", "1", "m"]);
    c.cmd(&["ZADD", "z3", "0", "n"]);
    assert_eq!(
        c.cmd_s(&["BZPOPMIN", "z1", "z2", "z3", "0"]),
        "*3\r\n$2\r\nz2\r\n$1\r\nm\r\n$1\r\n1\r\n"
    );
    // Blocked on several keys: served from the one that gets data.
    let mut ctl = Raw::connect(s.port);
    let mut b = blocked(s.port, &mut ctl, &["BRPOP", "k1", "k2", "k3", "0"]);
    ctl.cmd(&["RPUSH", "k3", "x"]);
    assert_eq!(text(&b.reply()), "*2\r\n$2\r\nk3\r\n$1\r\nx\r\n");
    wait_blocked_count(&mut ctl, 0);
    // It no longer waits on k1: a later push stays in the list.
    ctl.cmd(&["RPUSH", "k1", "y"]);
    assert_eq!(ctl.cmd_s(&["LLEN", "k1"]), ":1\r\n");
}

#[test]
fn pipelined_input_waits_until_the_client_is_unblocked() {
    let s = node();
    let mut ctl = Raw::connect(s.port);
    let mut c = Raw::connect(s.port);
    let id = id_of(&mut c);
    let mut batch = Vec::new();
    for args in [
        &["BLPOP", "q", "0"][..],
        &["SET", "after", "1"],
        &["BLPOP", "q2", "0"],
        &["PING"],
    ] {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        batch.extend(encode(&a));
    }
    c.send(&batch);
    wait_blocked(&mut ctl, &id);
    assert_eq!(ctl.cmd_s(&["EXISTS", "after"]), ":0\r\n");
    // More input while blocked also waits.
    send(&mut c, &["INCR", "n"]);
    assert!(silent(&mut c));
    ctl.cmd(&["RPUSH", "q", "v"]);
    assert_eq!(text(&c.reply()), "*2\r\n$1\r\nq\r\n$1\r\nv\r\n");
    assert_eq!(text(&c.reply()), "+OK\r\n");
    // Blocked again by the second BLPOP of the same pipeline.
    wait_blocked(&mut ctl, &id);
    assert_eq!(ctl.cmd_s(&["EXISTS", "n"]), ":0\r\n");
    ctl.cmd(&["LPUSH", "q2", "w"]);
    assert_eq!(text(&c.reply()), "*2\r\n$2\r\nq2\r\n$1\r\nw\r\n");
    assert_eq!(text(&c.reply()), "+PONG\r\n");
    assert_eq!(text(&c.reply()), ":1\r\n");
    // A timeout resumes the buffered input too.
    send(&mut c, &["BLPOP", "q", "0.05"]);
    send(&mut c, &["ECHO", "next"]);
    assert_eq!(text(&c.reply()), "*-1\r\n");
    assert_eq!(text(&c.reply()), "$4\r\nnext\r\n");
}

#[test]
fn client_unblock_flags_and_info() {
    let s = node();
    let mut ctl = Raw::connect(s.port);
    for (how, want) in [
        (None, "*-1\r\n"),
        (Some("TIMEOUT"), "*-1\r\n"),
        (
            Some("error"),
            "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n",
        ),
    ] {
        let mut c = Raw::connect(s.port);
        let id = id_of(&mut c);
        send(&mut c, &["BZPOPMIN", "z", "q", "0"]);
        wait_blocked(&mut ctl, &id);
        let line = ctl.cmd_s(&["CLIENT", "LIST", "ID", &id]);
        assert!(line.contains("cmd=bzpopmin"), "{line}");
        assert!(ctl
            .cmd_s(&["INFO", "clients"])
            .contains("blocked_clients:1\r\n"));
        let mut args = vec!["CLIENT", "UNBLOCK", id.as_str()];
        args.extend(how);
        assert_eq!(ctl.cmd_s(&args), ":1\r\n");
        assert_eq!(text(&c.reply()), want);
        assert!(!ctl
            .cmd_s(&["CLIENT", "LIST", "ID", &id])
            .contains("flags=b"));
        assert!(ctl
            .cmd_s(&["INFO", "clients"])
            .contains("blocked_clients:0\r\n"));
        // Not blocked any more: 0, and a later write is not consumed by it.
        assert_eq!(ctl.cmd_s(&["CLIENT", "UNBLOCK", &id]), ":0\r\n");
        ctl.cmd(&["ZADD", "z", "1", "a"]);
        assert_eq!(ctl.cmd_s(&["ZCARD", "z"]), ":1\r\n");
        ctl.cmd(&["DEL", "z"]);
        assert_eq!(c.cmd_s(&["PING"]), "+PONG\r\n");
    }
    // RESP3 timeout shape.
    let mut c = Raw::connect(s.port);
    c.cmd(&["HELLO", "3"]);
    let id = id_of(&mut c);
    send(&mut c, &["BLMOVE", "q", "d", "LEFT", "LEFT", "0"]);
    wait_blocked(&mut ctl, &id);
    assert_eq!(ctl.cmd_s(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"]), ":1\r\n");
    assert_eq!(text(&c.reply()), "_\r\n");
    // Errors and a client that is not blocked.
    assert_eq!(ctl.cmd_s(&["CLIENT", "UNBLOCK", "999999"]), ":0\r\n");
    assert_eq!(ctl.cmd_s(&["CLIENT", "UNBLOCK", "-5"]), ":0\r\n");
    assert_eq!(
        ctl.cmd_s(&["CLIENT", "UNBLOCK", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        ctl.cmd_s(&["CLIENT", "UNBLOCK", "1", "nope"]),
        "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n"
    );
}

#[test]
fn disconnecting_a_blocked_client_leaves_the_queue() {
    let s = node();
    let mut ctl = Raw::connect(s.port);
    let gone = blocked(s.port, &mut ctl, &["BLPOP", "q", "0"]);
    let mut stays = blocked(s.port, &mut ctl, &["BLPOP", "q", "0"]);
    let timed = blocked(
        s.port,
        &mut ctl,
        &["BLMOVE", "q", "d", "LEFT", "LEFT", "0.5"],
    );
    drop(gone);
    drop(timed);
    wait_blocked_count(&mut ctl, 1);
    // The first push goes to the client still connected, the second stays.
    ctl.cmd(&["RPUSH", "q", "a"]);
    assert_eq!(text(&stays.reply()), "*2\r\n$1\r\nq\r\n$1\r\na\r\n");
    wait_blocked_count(&mut ctl, 0);
    ctl.cmd(&["RPUSH", "q", "b"]);
    assert_eq!(ctl.cmd_s(&["LRANGE", "q", "0", "-1"]), "*1\r\n$1\r\nb\r\n");
    assert_eq!(ctl.cmd_s(&["EXISTS", "d"]), ":0\r\n");
    // CLIENT KILL of a blocked client also removes it.
    let mut k = Raw::connect(s.port);
    let id = id_of(&mut k);
    send(&mut k, &["BZPOPMAX", "z", "0"]);
    wait_blocked(&mut ctl, &id);
    assert_eq!(ctl.cmd_s(&["CLIENT", "KILL", "ID", &id]), ":1\r\n");
    wait_blocked_count(&mut ctl, 0);
    ctl.cmd(&["ZADD", "z", "1", "a"]);
    assert_eq!(ctl.cmd_s(&["ZCARD", "z"]), ":1\r\n");
}

#[test]
fn wrong_types() {
    let s = node();
    let mut c = Raw::connect(s.port);
    let wrongtype = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    c.cmd(&["SET", "s", "x"]);
    c.cmd(&["RPUSH", "l", "v"]);
    c.cmd(&["ZADD", "z", "1", "m"]);
    for args in [
        &["BLPOP", "s", "0"][..],
        &["BRPOP", "nokey", "s", "l", "0"],
        &["BLMPOP", "0", "2", "s", "l", "LEFT"],
        &["BLMOVE", "s", "d", "LEFT", "LEFT", "0"],
        &["BLMOVE", "l", "s", "LEFT", "LEFT", "0"],
        &["BRPOPLPUSH", "z", "d", "0"],
        &["BZPOPMIN", "l", "0"],
        &["BZPOPMAX", "nokey", "s", "0"],
        &["BZMPOP", "0", "1", "l", "MIN"],
    ] {
        assert_eq!(c.cmd_s(args), wrongtype, "{args:?}");
    }
    // The failed BLMOVE moved nothing.
    assert_eq!(c.cmd_s(&["LLEN", "l"]), ":1\r\n");
    // A non-empty key before a wrong-typed one is served.
    assert_eq!(
        c.cmd_s(&["BLPOP", "l", "s", "0"]),
        "*2\r\n$1\r\nl\r\n$1\r\nv\r\n"
    );
    // A BLMOVE woken with a wrong-typed destination gets the error, pops
    // nothing, and the next client is served.
    let mut ctl = Raw::connect(s.port);
    let mut m = blocked(s.port, &mut ctl, &["BLMOVE", "q", "s", "LEFT", "LEFT", "0"]);
    let mut p = blocked(s.port, &mut ctl, &["BLPOP", "q", "0"]);
    ctl.cmd(&["RPUSH", "q", "e"]);
    assert_eq!(text(&m.reply()), wrongtype);
    assert_eq!(text(&p.reply()), "*2\r\n$1\r\nq\r\n$1\r\ne\r\n");
    // A sorted-set waiter stays blocked when its key becomes a list (Redis 7.0);
    // a list waiter behind it on the same key is served.
    let mut zw = blocked(s.port, &mut ctl, &["BZPOPMIN", "k", "0"]);
    let mut lw = blocked(s.port, &mut ctl, &["BLPOP", "k", "0"]);
    ctl.cmd(&["RPUSH", "k", "1", "2"]);
    assert_eq!(text(&lw.reply()), "*2\r\n$1\r\nk\r\n$1\r\n1\r\n");
    assert!(silent(&mut zw));
    wait_blocked_count(&mut ctl, 1);
    assert_eq!(ctl.cmd_s(&["LLEN", "k"]), ":1\r\n");
    ctl.cmd(&["DEL", "k"]);
    ctl.cmd(&["ZADD", "k", "5", "five"]);
    assert_eq!(
        text(&zw.reply()),
        "*3\r\n$1\r\nk\r\n$4\r\nfive\r\n$1\r\n5\r\n"
    );
}

#[test]
fn blmove_chains_and_conserves_elements() {
    let s = node();
    let mut ctl = Raw::connect(s.port);
    // BLMOVE a -> b wakes a BLPOP on b in the same round, after the move.
    let mut mover = blocked(
        s.port,
        &mut ctl,
        &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"],
    );
    let mut popper = blocked(s.port, &mut ctl, &["BLPOP", "b", "0"]);
    ctl.cmd(&["RPUSH", "a", "1", "2", "3"]);
    assert_eq!(text(&mover.reply()), "$1\r\n1\r\n");
    assert_eq!(text(&popper.reply()), "*2\r\n$1\r\nb\r\n$1\r\n1\r\n");
    assert_eq!(
        ctl.cmd_s(&["LRANGE", "a", "0", "-1"]),
        "*2\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_eq!(ctl.cmd_s(&["EXISTS", "b"]), ":0\r\n");
    ctl.cmd(&["DEL", "a"]);

    // Rotation onto itself.
    let mut rot = blocked(
        s.port,
        &mut ctl,
        &["BLMOVE", "r", "r", "RIGHT", "LEFT", "0"],
    );
    ctl.cmd(&["RPUSH", "r", "x", "y"]);
    assert_eq!(text(&rot.reply()), "$1\r\ny\r\n");
    assert_eq!(
        ctl.cmd_s(&["LRANGE", "r", "0", "-1"]),
        "*2\r\n$1\r\ny\r\n$1\r\nx\r\n"
    );

    // Under concurrency: movers on both loops keep blocking on src while
    // pushers fill it; every element ends in dst exactly once, and a mover's
    // reply names an element already in dst.
    let n_movers = 4;
    let per_pusher = 150;
    let port = s.port;
    let movers: Vec<_> = (0..n_movers)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Raw::connect(port);
                let mut got = Vec::new();
                loop {
                    let r = c.cmd_s(&["BLMOVE", "src", "dst", "LEFT", "RIGHT", "2"]);
                    if r == "*-1\r\n" {
                        return got;
                    }
                    let v = r.split("\r\n").nth(1).unwrap_or_default().to_string();
                    let pos = c.cmd_s(&["LPOS", "dst", &v]);
                    assert!(pos.starts_with(':'), "{v} not in dst after its move: {pos}");
                    got.push(v);
                }
            })
        })
        .collect();
    let pushers: Vec<_> = (0..2)
        .map(|p| {
            std::thread::spawn(move || {
                let mut c = Raw::connect(port);
                for i in 0..per_pusher {
                    c.cmd(&["RPUSH", "src", &format!("{p}-{i}")]);
                }
            })
        })
        .collect();
    for p in pushers {
        p.join().expect("pusher");
    }
    let mut moved: Vec<String> = movers
        .into_iter()
        .flat_map(|m| m.join().expect("mover"))
        .collect();
    let left = ctl.cmd_s(&["LLEN", "src"]);
    let in_dst = ctl.cmd_s(&["LLEN", "dst"]);
    assert_eq!(left, ":0\r\n");
    assert_eq!(in_dst, format!(":{}\r\n", 2 * per_pusher));
    moved.sort();
    moved.dedup();
    assert_eq!(
        moved.len(),
        2 * per_pusher,
        "each element moved exactly once"
    );
}

#[test]
fn writes_that_fill_a_key_several_times_wake_after_the_command() {
    let s = node();
    let mut ctl = Raw::connect(s.port);
    // SORT ... STORE into a waited key.
    ctl.cmd(&["RPUSH", "src", "3", "1", "2"]);
    let mut w = blocked(s.port, &mut ctl, &["BLPOP", "sorted", "0"]);
    assert_eq!(ctl.cmd_s(&["SORT", "src", "STORE", "sorted"]), ":3\r\n");
    assert_eq!(text(&w.reply()), "*2\r\n$6\r\nsorted\r\n$1\r\n1\r\n");
    // ZUNIONSTORE into a waited key.
    ctl.cmd(&["ZADD", "za", "1", "a", "3", "c"]);
    ctl.cmd(&["ZADD", "zb", "2", "b"]);
    let mut w = blocked(s.port, &mut ctl, &["BZPOPMAX", "u", "0"]);
    assert_eq!(ctl.cmd_s(&["ZUNIONSTORE", "u", "2", "za", "zb"]), ":3\r\n");
    assert_eq!(text(&w.reply()), "*3\r\n$1\r\nu\r\n$1\r\nc\r\n$1\r\n3\r\n");
    // LMOVE into a waited key.
    let mut w = blocked(s.port, &mut ctl, &["BRPOP", "dst", "0"]);
    assert_eq!(
        ctl.cmd_s(&["LMOVE", "src", "dst", "LEFT", "LEFT"]),
        "$1\r\n3\r\n"
    );
    assert_eq!(text(&w.reply()), "*2\r\n$3\r\ndst\r\n$1\r\n3\r\n");
    // RENAME and COPY onto waited keys.
    let mut w = blocked(s.port, &mut ctl, &["BLPOP", "renamed", "0"]);
    assert_eq!(ctl.cmd_s(&["RENAME", "src", "renamed"]), "+OK\r\n");
    assert_eq!(text(&w.reply()), "*2\r\n$7\r\nrenamed\r\n$1\r\n1\r\n");
    let mut w = blocked(s.port, &mut ctl, &["BZMPOP", "0", "1", "copied", "MIN"]);
    assert_eq!(ctl.cmd_s(&["COPY", "za", "copied"]), ":1\r\n");
    assert_eq!(
        text(&w.reply()),
        "*2\r\n$6\r\ncopied\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    // MOVE from another database, and SWAPDB.
    let mut w = blocked(s.port, &mut ctl, &["BLPOP", "m", "0"]);
    let mut other = Raw::connect(s.port);
    other.cmd(&["SELECT", "1"]);
    other.cmd(&["RPUSH", "m", "from1"]);
    assert_eq!(other.cmd_s(&["MOVE", "m", "0"]), ":1\r\n");
    assert_eq!(text(&w.reply()), "*2\r\n$1\r\nm\r\n$5\r\nfrom1\r\n");
    let mut w = blocked(s.port, &mut ctl, &["BLPOP", "sw", "0"]);
    other.cmd(&["RPUSH", "sw", "from1"]);
    assert_eq!(other.cmd_s(&["SWAPDB", "0", "1"]), "+OK\r\n");
    assert_eq!(text(&w.reply()), "*2\r\n$2\r\nsw\r\n$5\r\nfrom1\r\n");
    // A write in another database does not wake a client of database 0.
    let mut w = blocked(s.port, &mut ctl, &["BLPOP", "db0only", "0.3"]);
    other.cmd(&["RPUSH", "db0only", "x"]);
    assert_eq!(text(&w.reply()), "*-1\r\n");
    assert_eq!(other.cmd_s(&["LLEN", "db0only"]), ":1\r\n");
}

/// Commands whose replies do not depend on timing, run on one connection.
const IMMEDIATE: &[&[&str]] = &[
    &["FLUSHALL"],
    &["RPUSH", "l", "a", "b", "c", "d"],
    &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
    &["SET", "s", "x"],
    &["BLPOP", "nokey", "l", "0"],
    &["BRPOP", "l", "0"],
    &["BLMPOP", "0", "2", "nokey", "l", "LEFT", "COUNT", "10"],
    &["RPUSH", "l", "a", "b", "c", "d"],
    &["BLMPOP", "0", "1", "l", "RIGHT"],
    &["BLMOVE", "l", "l2", "LEFT", "RIGHT", "0"],
    &["BRPOPLPUSH", "l", "l2", "0"],
    &["LRANGE", "l2", "0", "-1"],
    &["BZPOPMIN", "nokey", "z", "0"],
    &["BZPOPMAX", "z", "0"],
    &["BZMPOP", "0", "1", "z", "MIN", "COUNT", "5"],
    &["ZADD", "z", "1.5", "a", "-inf", "b", "inf", "c"],
    &["BZMPOP", "0", "1", "z", "MAX"],
    &["BZPOPMIN", "z", "0"],
    &["BZPOPMAX", "z", "0"],
    &["EXISTS", "z"],
    // Timeouts that expire at once.
    &["BLPOP", "nokey", "0.001"],
    &["BLMOVE", "nokey", "d", "LEFT", "LEFT", "0.001"],
    &["BRPOPLPUSH", "nokey", "d", "0.001"],
    &["BLMPOP", "0.001", "1", "nokey", "LEFT"],
    &["BZPOPMIN", "nokey", "0.001"],
    &["BZMPOP", "0.001", "1", "nokey", "MAX"],
    &["BLPOP", "nokey", "0x1p-10"],
    &["BLPOP", "nokey", "1e-4"],
    // Errors.
    &["BLPOP", "l"],
    &["BLPOP", "l", "-1"],
    &["BLPOP", "l", "abc"],
    &["BLPOP", "l", "inf"],
    &["BLPOP", "l", "-inf"],
    &["BLPOP", "l", "nan"],
    &["BLPOP", "l", "1e300"],
    &["BLPOP", "l", ""],
    &["BRPOP", "s", "0"],
    &["BLMOVE", "l", "d", "UP", "LEFT", "0"],
    &["BLMOVE", "l", "d", "LEFT", "LEFT", "x"],
    &["BLMOVE", "s", "d", "LEFT", "LEFT", "0"],
    &["BLMOVE", "l", "d", "LEFT", "LEFT"],
    &["BRPOPLPUSH", "l", "d", "-2"],
    &["BLMPOP", "0", "0", "l", "LEFT"],
    &["BLMPOP", "0", "1", "l", "MIDDLE"],
    &["BLMPOP", "0", "1", "l", "LEFT", "COUNT", "0"],
    &["BLMPOP", "0", "1", "l", "LEFT", "COUNT", "1", "COUNT", "1"],
    &["BLMPOP", "x", "1", "l", "LEFT"],
    &["BLMPOP", "x", "1", "l", "LEFT", "COUNT", "-1"],
    &["BLMPOP", "0", "5", "l", "LEFT"],
    &["BLMPOP", "0", "1", "s", "LEFT"],
    &["BZPOPMIN", "s", "0"],
    &["BZPOPMIN", "z", "-0.5"],
    &["BZMPOP", "0", "1", "z", "LEFT"],
    &["BZMPOP", "-1", "1", "z", "MIN"],
    &["BZMPOP", "0", "x", "z", "MIN"],
    &["BZMPOP", "0", "1", "s", "MIN"],
    &["BZMPOP", "0", "1", "z", "MIN", "COUNT", "0"],
    &["CLIENT", "UNBLOCK"],
    &["CLIENT", "UNBLOCK", "1", "2", "3"],
    &["CLIENT", "UNBLOCK", "1", "later"],
    &["CLIENT", "UNBLOCK", "abc"],
    &["CLIENT", "UNBLOCK", "123456"],
];

/// `(what was run, reply)` pairs.
type Transcript = Vec<(String, String)>;

fn run_immediate(port: u16, resp3: bool) -> Transcript {
    let mut c = Raw::connect(port);
    if resp3 {
        c.cmd(&["HELLO", "3"]);
    }
    IMMEDIATE
        .iter()
        .map(|args| (format!("{args:?}"), c.cmd_s(args)))
        .collect()
}

/// (blocking command, writes from another connection, keys to inspect after).
type Scenario<'a> = (&'a [&'a str], &'a [&'a [&'a str]], &'a [&'a str]);

/// Blocks a client, runs `writes` from another connection, and records the
/// blocked client's reply and what is left in the keys.
fn run_woken(port: u16, resp3: bool) -> Transcript {
    let scenarios: &[Scenario] = &[
        (&["BLPOP", "q", "0"], &[&["RPUSH", "q", "a", "b"]], &["q"]),
        (
            &["BRPOP", "x", "q", "0"],
            &[&["LPUSH", "q", "a", "b"]],
            &["q"],
        ),
        (
            &["BLMPOP", "0", "2", "x", "q", "RIGHT", "COUNT", "3"],
            &[&["RPUSH", "q", "a", "b"]],
            &["q"],
        ),
        (
            &["BLMOVE", "q", "d", "RIGHT", "LEFT", "0"],
            &[&["RPUSH", "d", "old"], &["RPUSH", "q", "a", "b"]],
            &["q", "d"],
        ),
        (
            &["BRPOPLPUSH", "q", "d", "0"],
            &[&["RPUSH", "q", "a"]],
            &["q", "d"],
        ),
        (
            &["BLMOVE", "q", "s", "LEFT", "LEFT", "0"],
            &[&["SET", "s", "str"], &["RPUSH", "q", "a"]],
            &["q"],
        ),
        (
            &["BZPOPMIN", "z", "0"],
            &[&["ZADD", "z", "2.5", "a", "1", "b"]],
            &["z"],
        ),
        (
            &["BZPOPMAX", "x", "z", "0"],
            &[&["ZADD", "z", "2.5", "a", "1", "b"]],
            &["z"],
        ),
        (
            &["BZMPOP", "0", "1", "z", "MIN", "COUNT", "2"],
            &[&["ZADD", "z", "2.5", "a", "1", "b", "3", "c"]],
            &["z"],
        ),
        (
            &["BZMPOP", "0", "1", "z", "MAX"],
            &[&["ZUNIONSTORE", "z", "1", "src"]],
            &["z"],
        ),
        (
            &["BLPOP", "q", "0"],
            &[&["SORT", "srclist", "ALPHA", "STORE", "q"]],
            &["q"],
        ),
    ];
    let mut ctl = Raw::connect(port);
    let mut log = Vec::new();
    for (block, writes, inspect) in scenarios {
        ctl.cmd(&["FLUSHALL"]);
        ctl.cmd(&["ZADD", "src", "4", "m", "5", "n"]);
        ctl.cmd(&["RPUSH", "srclist", "b", "a"]);
        let mut c = Raw::connect(port);
        if resp3 {
            c.cmd(&["HELLO", "3"]);
        }
        let id = id_of(&mut c);
        send(&mut c, block);
        wait_blocked(&mut ctl, &id);
        for w in *writes {
            log.push((format!("{w:?}"), ctl.cmd_s(w)));
        }
        log.push((format!("{block:?}"), text(&c.reply())));
        for k in *inspect {
            for args in [&["TYPE", k][..], &["SORT", k, "ALPHA"]] {
                log.push((format!("after {block:?}: {args:?}"), ctl.cmd_s(args)));
            }
        }
    }
    log
}

#[test]
fn replies_match_redis_in_resp2_and_resp3() {
    let s = node();
    let redis = Server::start_redis(&[]);
    for resp3 in [false, true] {
        for (what, run) in [
            ("immediate", run_immediate as fn(u16, bool) -> Transcript),
            ("woken", run_woken),
        ] {
            let (got, want) = (run(s.port, resp3), run(redis.port, resp3));
            let diffs: Vec<String> = got
                .iter()
                .zip(&want)
                .filter(|(g, w)| g != w)
                .map(|((a, g), (_, w))| format!("{a}\n  node:  {g:?}\n  redis: {w:?}"))
                .collect();
            assert_eq!(got.len(), want.len());
            common::assert_no_diffs(&diffs, &format!("{what} resp3={resp3}"));
        }
    }
}

#[test]
fn command_info_matches_redis_up_to_key_specs() {
    let s = node();
    let redis = Server::start_redis(&[]);
    let (mut a, mut b) = (s.conn(), redis.conn());
    for name in [
        "blpop",
        "brpop",
        "blmove",
        "brpoplpush",
        "blmpop",
        "bzpopmin",
        "bzpopmax",
        "bzmpop",
    ] {
        let info = |c: &mut redis::Connection| -> Vec<redis::Value> {
            let v: redis::Value = redis::cmd("COMMAND")
                .arg("INFO")
                .arg(name)
                .query(c)
                .expect("COMMAND INFO");
            match v {
                redis::Value::Array(mut outer) => match outer.pop() {
                    // Name, arity, flags, first, last, step, categories, tips;
                    // key specs are derived generically by COMMAND itself.
                    Some(redis::Value::Array(e)) => e.into_iter().take(8).collect(),
                    other => panic!("{name}: {other:?}"),
                },
                other => panic!("{name}: {other:?}"),
            }
        };
        assert_eq!(info(&mut a), info(&mut b), "{name}");
    }
}

#[test]
fn a_hundred_waiters_on_one_key_are_served_in_order() {
    let s = node();
    let mut ctl = Raw::connect(s.port);
    let n = 100;
    let mut cs = Vec::new();
    for i in 0..n {
        let mut c = Raw::connect(s.port);
        send(&mut c, &["BLPOP", "q", "0"]);
        wait_blocked_count(&mut ctl, i + 1);
        cs.push(c);
    }
    let mut push = vec!["RPUSH".to_string(), "q".to_string()];
    push.extend((0..n + 5).map(|i| i.to_string()));
    let push: Vec<&str> = push.iter().map(|s| s.as_str()).collect();
    ctl.cmd(&push);
    for (i, c) in cs.iter_mut().enumerate() {
        let v = i.to_string();
        let want = format!("*2\r\n$1\r\nq\r\n${}\r\n{v}\r\n", v.len());
        assert_eq!(text(&c.reply()), want, "client {i}");
    }
    assert_eq!(ctl.cmd_s(&["LLEN", "q"]), ":5\r\n");
    wait_blocked_count(&mut ctl, 0);
}

/// What a client blocked in `cmd` on a primary sees when the primary becomes a
/// replica of `target`, and whether the connection is then closed.
fn unblocked_by_replicaof(primary: u16, target: u16, cmd: &[&str]) -> (String, bool) {
    let mut blocked = Raw::connect(primary);
    let a: Vec<&[u8]> = cmd.iter().map(|s| s.as_bytes()).collect();
    blocked.send(&encode(&a));
    let mut ctl = Raw::connect(primary);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ctl
        .cmd_s(&["INFO", "clients"])
        .contains("blocked_clients:1\r\n")
    {
        assert!(Instant::now() < deadline, "{cmd:?} did not block");
        std::thread::sleep(Duration::from_millis(5)); // polling, bounded by the deadline
    }
    let port = target.to_string();
    assert_eq!(ctl.cmd_s(&["REPLICAOF", "127.0.0.1", &port]), "+OK\r\n");
    let reply = String::from_utf8_lossy(&blocked.reply()).into_owned();
    let closed = blocked.until_closed(Duration::from_secs(10)).is_some();
    assert_eq!(ctl.cmd_s(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    (reply, closed)
}

#[test]
fn a_primary_turned_replica_unblocks_and_closes_its_blocked_clients_as_redis() {
    let (node, node_target) = (Server::start(&[]), Server::start(&[]));
    let (redis, redis_target) = (Server::start_redis(&[]), Server::start_redis(&[]));
    for cmd in [
        &["BLPOP", "nothing", "0"][..],
        &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
        &["WAIT", "1", "0"],
    ] {
        let ours = unblocked_by_replicaof(node.port, node_target.port, cmd);
        let theirs = unblocked_by_replicaof(redis.port, redis_target.port, cmd);
        assert_eq!(
            ours, theirs,
            "{cmd:?}: kcache-node (left) and redis-server (right)"
        );
        assert!(ours.0.starts_with("-UNBLOCKED "), "{cmd:?}: {}", ours.0);
    }
}
