//! The event-loop watchdog: `/healthz` fails while a loop is stuck on one
//! batch past `liveness-stall-seconds`, names the loop, command and client,
//! and recovers when the loop moves on; DEBUG (which stalls a loop on purpose)
//! is gated as in Redis.

mod common;
mod rawresp;

use std::time::{Duration, Instant};

use common::{http_get, wait_until_for, Server};
use rawresp::{encode, Raw};

fn client_id(c: &mut Raw) -> i64 {
    let r = c.cmd_s(&["CLIENT", "ID"]);
    r.trim()
        .trim_start_matches(':')
        .parse()
        .unwrap_or_else(|_| panic!("CLIENT ID answered {r:?}"))
}

#[test]
fn healthz_fails_while_a_loop_is_stuck_then_recovers() {
    let node = Server::start(&[
        "--io-threads",
        "2",
        "--liveness-stall-seconds",
        "1",
        "--enable-debug-command",
        "local",
    ]);
    let http = node.http_port();
    assert_eq!(http_get(http, "/healthz"), (200, "ok\n".to_string()));

    let mut sleeper = Raw::connect(node.port);
    let id = client_id(&mut sleeper);
    sleeper.send(&encode(&[b"DEBUG", b"SLEEP", b"3"]));
    let started = Instant::now();
    let mut body = String::new();
    wait_until_for("/healthz to fail", Duration::from_secs(10), &mut || {
        let (code, b) = http_get(http, "/healthz");
        body = b;
        code == 503
    });
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "failed before the limit: {body}"
    );
    assert!(
        body.contains("event loop io-")
            && body.contains("running 'debug'")
            && body.contains(&format!("for client {id}")),
        "{body}"
    );
    // The stalled client gets its reply, and the node is live again.
    assert_eq!(sleeper.reply(), b"+OK\r\n");
    wait_until_for("/healthz to recover", Duration::from_secs(5), &mut || {
        http_get(http, "/healthz").0 == 200
    });
    // The warning names the loop, the command and the client.
    let line = format!("running 'debug' for client {id}: past liveness-stall-seconds");
    wait_until_for(
        "the stall to be logged",
        Duration::from_secs(5),
        &mut || node.log().contains(&line),
    );
}

#[test]
fn zero_disables_the_liveness_check() {
    let node = Server::start(&[
        "--liveness-stall-seconds",
        "0",
        "--enable-debug-command",
        "yes",
    ]);
    let http = node.http_port();
    let mut sleeper = Raw::connect(node.port);
    sleeper.send(&encode(&[b"DEBUG", b"SLEEP", b"1.5"]));
    let started = Instant::now();
    // Probe until the reply arrives (each read waits up to 100 ms for it).
    let mut reply = Vec::new();
    while reply.is_empty() && started.elapsed() < Duration::from_secs(10) {
        assert_eq!(http_get(http, "/healthz").0, 200);
        reply = sleeper.read_until(Duration::from_millis(100), |b| b.ends_with(b"\r\n"));
    }
    assert_eq!(reply, b"+OK\r\n");
    assert!(started.elapsed() >= Duration::from_millis(1400));
    // Runtime-changeable, and 5 seconds by default.
    let node = Server::start(&[]);
    let mut c = Raw::connect(node.port);
    assert!(c
        .cmd_s(&["CONFIG", "GET", "liveness-stall-seconds"])
        .contains("\r\n5\r\n"));
    assert_eq!(
        c.cmd_s(&["CONFIG", "SET", "liveness-stall-seconds", "2"]),
        "+OK\r\n"
    );
    assert_eq!(
        c.cmd_s(&["CONFIG", "SET", "watchdog-period", "500"]),
        "+OK\r\n"
    );
}

/// DEBUG is refused unless enable-debug-command allows it, with Redis's
/// errors; DEBUG SLEEP answers as Redis's does.
#[test]
fn debug_gate_and_sleep_match_redis() {
    for setting in ["no", "local"] {
        let node = Server::start(&["--enable-debug-command", setting]);
        let redis = Server::start_redis(&["--enable-debug-command", setting]);
        for args in [
            &["DEBUG", "SLEEP", "0"][..],
            &["DEBUG", "SLEEP", "0.01"],
            &["DEBUG", "SLEEP", "abc"],
            &["DEBUG", "SLEEP"],
            &["DEBUG", "SLEEP", "1", "2"],
            &["DEBUG", "NOSUCH"],
            &["DEBUG"],
        ] {
            let mine = Raw::connect(node.port).cmd_s(args);
            let theirs = Raw::connect(redis.port).cmd_s(args);
            assert_eq!(mine, theirs, "{setting}: {args:?}");
        }
        let config = ["CONFIG", "SET", "enable-debug-command", "yes"];
        assert_eq!(
            Raw::connect(node.port).cmd_s(&config),
            Raw::connect(redis.port).cmd_s(&config)
        );
    }
}
