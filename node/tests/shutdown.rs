//! A primary's shutdown waits for its replicas (Redis 7.0's
//! `shutdown-timeout`), with real processes on loopback: SIGTERM under a
//! write load with the replica stopped holds writes until the replica is
//! back and caught up, and every acknowledged write is on the replica; the
//! same run with redis-server 7.0 as the primary; SHUTDOWN ABORT and NOW,
//! the timeout and the `shutdown-on-sigterm` options, side by side with
//! redis-server.

mod common;
mod rawresp;

use std::time::{Duration, Instant};

use common::{field, missing, replicaof, signal, start_load, wait_until_for, Server};
use rawresp::Raw;

const DEADLINE: Duration = Duration::from_secs(30);

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    wait_until_for(what, DEADLINE, &mut f);
}

/// A kcache replica of `primary`, linked and listed online by it.
fn replica_of(primary: u16) -> Server {
    let spec = replicaof(primary);
    let r = Server::start(&["--replicaof", spec.as_str()]);
    wait_until("replica online", || {
        field(r.port, "replication", "master_link_status") == "up"
            && field(primary, "replication", "slave0").contains("state=online")
    });
    r
}

/// No byte arrived on `c` (a held or blocked client) yet.
fn quiet(c: &Raw) -> bool {
    let _ = c.s.set_nonblocking(true);
    let r = c.s.peek(&mut [0u8; 1]);
    let _ = c.s.set_nonblocking(false);
    matches!(r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// SIGTERM on a primary whose replica is stopped, under four writers:
/// returns (acknowledged writes, milliseconds from SIGTERM to exit).
fn sigterm_under_load(p: &mut Server) -> (usize, u128) {
    let r = replica_of(p.port);
    let load = start_load(p.port, 4);
    wait_until("writes flow", || load.count() > 2000);
    signal(r.pid(), "-STOP");
    let at_stop = load.count();
    wait_until("writes the stopped replica has not seen", || {
        load.count() > at_stop + 2000
    });
    let t0 = Instant::now();
    signal(p.pid(), "-TERM");
    // Waiting for the replica: the process stays, writes are held.
    assert_eq!(p.wait_exit(Duration::from_millis(300)), None, "no wait");
    let held = load.count();
    assert_eq!(p.wait_exit(Duration::from_millis(300)), None, "no wait");
    assert_eq!(load.count(), held, "writes were not held");
    signal(r.pid(), "-CONT");
    assert_eq!(p.wait_exit(Duration::from_secs(15)), Some(0));
    let waited = t0.elapsed().as_millis();
    wait_until("the writers saw the primary go", || load.all_stopped());
    let acked = load.finish();
    // The primary exited only once the replica acknowledged its offset.
    assert_eq!(missing(r.port, &acked), 0, "acknowledged writes lost");
    (acked.len(), waited)
}

#[test]
fn sigterm_waits_for_the_replica_and_loses_no_acknowledged_write() {
    let mut p = Server::start(&[]);
    let (acked, ms) = sigterm_under_load(&mut p);
    eprintln!("kcache primary: {acked} writes acknowledged, all on the replica; exit {ms} ms after SIGTERM");
}

#[test]
fn redis_server_as_primary_behaves_the_same() {
    let mut p = Server::start_redis(&[]);
    let (acked, ms) = sigterm_under_load(&mut p);
    eprintln!("redis-server primary: {acked} writes acknowledged, all on the replica; exit {ms} ms after SIGTERM");
}

#[test]
fn shutdown_command_waits_then_saves_and_readyz_says_so() {
    let mut p = Server::start(&[]);
    let r = replica_of(p.port);
    signal(r.pid(), "-STOP");
    let mut c = Raw::connect(p.port);
    assert_eq!(c.cmd_s(&["SET", "k", "v"]), "+OK\r\n");
    let mut a = Raw::connect(p.port);
    a.send(b"*1\r\n$8\r\nSHUTDOWN\r\n");
    wait_until("SHUTDOWN blocks", || {
        c.cmd_s(&["CLIENT", "LIST"]).contains("cmd=shutdown")
    });
    // Out of the Services while it waits: writes are held.
    assert_eq!(
        common::http_get(p.http_port(), "/readyz"),
        (503, "shutting down\n".to_string())
    );
    assert!(quiet(&a));
    signal(r.pid(), "-CONT");
    // Like Redis: no reply, the connection closes and the process exits 0.
    assert_eq!(
        a.until_closed(Duration::from_secs(15)).as_deref(),
        Some(&b""[..])
    );
    assert_eq!(p.wait_exit(Duration::from_secs(15)), Some(0));
    assert!(p.dir.join("dump.rdb").exists(), "saved after the wait");
    assert_eq!(missing(r.port, &["k".to_string()]), 0);
}

/// SHUTDOWN waits (a second one, NOW included, joins it), reads are
/// served, writes held, ABORT answers the waiting clients and lets the
/// writes through; then SHUTDOWN NOW exits at once. What each client saw.
fn abort_and_now(p: &mut Server) -> Vec<String> {
    let r = replica_of(p.port);
    let mut seen = Vec::new();
    let mut c = Raw::connect(p.port);
    seen.push(c.cmd_s(&["SET", "k", "1"]));
    signal(r.pid(), "-STOP");
    seen.push(c.cmd_s(&["SET", "k", "2"]));
    let mut a = Raw::connect(p.port);
    a.send(b"*1\r\n$8\r\nSHUTDOWN\r\n");
    wait_until("SHUTDOWN blocks", || {
        c.cmd_s(&["CLIENT", "LIST"]).contains("cmd=shutdown")
    });
    let mut now = Raw::connect(p.port);
    now.send(&rawresp::encode(&[b"SHUTDOWN", b"NOW"]));
    let mut w = Raw::connect(p.port);
    w.send(&rawresp::encode(&[b"SET", b"x", b"1"]));
    seen.push(c.cmd_s(&["GET", "k"]));
    // Held, not refused: nothing comes back within a moment.
    let end = Instant::now() + Duration::from_millis(300);
    while Instant::now() < end {
        assert!(
            quiet(&a) && quiet(&now) && quiet(&w),
            "answered while waiting"
        );
        std::thread::yield_now();
    }
    assert!(p.running());
    seen.push(c.cmd_s(&["SHUTDOWN", "ABORT"]));
    seen.push(String::from_utf8_lossy(&a.reply()).into_owned());
    seen.push(String::from_utf8_lossy(&now.reply()).into_owned());
    seen.push(String::from_utf8_lossy(&w.reply()).into_owned());
    seen.push(c.cmd_s(&["SHUTDOWN", "ABORT"]));
    seen.push(c.cmd_s(&["SHUTDOWN", "ABORT", "NOW"]));
    seen.push(c.cmd_s(&["SHUTDOWN", "SAVE", "NOSAVE"]));
    // NOW does not wait for the stopped replica.
    let t0 = Instant::now();
    let mut d = Raw::connect(p.port);
    d.send(&rawresp::encode(&[b"SHUTDOWN", b"NOW", b"NOSAVE"]));
    let closed = d.until_closed(Duration::from_secs(10)).expect("closed");
    seen.push(format!(
        "closed after {:?}",
        String::from_utf8_lossy(&closed)
    ));
    seen.push(format!("exit {:?}", p.wait_exit(Duration::from_secs(10))));
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    signal(r.pid(), "-CONT");
    seen
}

#[test]
fn abort_and_now_side_by_side_with_redis() {
    let mut k = Server::start(&["--save", ""]);
    let mut r = Server::start_redis(&[]);
    let ours = abort_and_now(&mut k);
    let theirs = abort_and_now(&mut r);
    assert_eq!(ours, theirs);
    let refused = "-ERR Errors trying to SHUTDOWN. Check logs.\r\n";
    assert_eq!(ours[4], refused, "{ours:?}");
    assert_eq!(ours[5], refused, "{ours:?}");
    assert_eq!(ours[6], "+OK\r\n", "{ours:?}");
}

/// The options' CONFIG replies, then a SIGTERM with `shutdown-timeout 1`
/// and a stopped replica (exits after the timeout).
/// What was seen, and the milliseconds from SIGTERM to exit.
fn timeout_and_options(p: &mut Server) -> (Vec<String>, u128) {
    let mut c = Raw::connect(p.port);
    let mut seen = Vec::new();
    for args in [
        &["CONFIG", "GET", "shutdown-timeout"][..],
        &["CONFIG", "GET", "shutdown-on-sigterm"],
        &["CONFIG", "GET", "shutdown-on-sigint"],
        &["CONFIG", "SET", "shutdown-on-sigterm", "force now"],
        &["CONFIG", "GET", "shutdown-on-sigterm"],
        &["CONFIG", "SET", "shutdown-on-sigterm", "save nosave"],
        &["CONFIG", "SET", "shutdown-on-sigterm", "bogus"],
        &["CONFIG", "SET", "shutdown-on-sigint", "default nosave"],
        &["CONFIG", "GET", "shutdown-on-sigint"],
        &["CONFIG", "SET", "shutdown-timeout", "-1"],
        &["CONFIG", "SET", "shutdown-on-sigterm", "default"],
        &["CONFIG", "SET", "shutdown-timeout", "1"],
    ] {
        seen.push(c.cmd_s(args));
    }
    let r = replica_of(p.port);
    signal(r.pid(), "-STOP");
    seen.push(c.cmd_s(&["SET", "k", "1"]));
    let t0 = Instant::now();
    signal(p.pid(), "-TERM");
    seen.push(format!("exit {:?}", p.wait_exit(Duration::from_secs(10))));
    let timed_out = t0.elapsed().as_millis();
    signal(r.pid(), "-CONT");
    (seen, timed_out)
}

#[test]
fn timeout_and_signal_options_side_by_side_with_redis() {
    let mut k = Server::start(&["--save", ""]);
    let mut r = Server::start_redis(&[]);
    let (ours, k_ms) = timeout_and_options(&mut k);
    let (theirs, r_ms) = timeout_and_options(&mut r);
    assert_eq!(ours, theirs);
    for ms in [k_ms, r_ms] {
        assert!((900..5000).contains(&ms), "exit {ms} ms after SIGTERM");
    }
    eprintln!("shutdown-timeout 1 with a stopped replica: kcache exits after {k_ms} ms, redis-server after {r_ms} ms");

    // `now` skips the wait on a signal.
    for mut p in [
        Server::start(&["--shutdown-on-sigterm", "now"]),
        Server::start_redis(&["--shutdown-on-sigterm", "now"]),
    ] {
        let rep = replica_of(p.port);
        signal(rep.pid(), "-STOP");
        assert_eq!(Raw::connect(p.port).cmd_s(&["SET", "k", "1"]), "+OK\r\n");
        let t0 = Instant::now();
        signal(p.pid(), "-TERM");
        assert_eq!(p.wait_exit(Duration::from_secs(10)), Some(0));
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        signal(rep.pid(), "-CONT");
    }
}
