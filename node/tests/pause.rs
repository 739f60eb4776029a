//! CLIENT PAUSE / UNPAUSE against a node with two event loops: which commands
//! are held in WRITE and ALL modes, held input resuming on UNPAUSE and at the
//! deadline, transactions, keys that neither expire nor disappear while paused,
//! and the error replies side by side with redis-server. Waits poll with
//! deadlines; the only timing assertion is a lower bound (a held reply cannot
//! come before the pause ends).

mod common;
mod rawresp;

use std::time::{Duration, Instant};

use common::Server;
use rawresp::Raw;

fn node() -> Server {
    Server::start(&["--io-threads", "2"])
}

fn id_of(c: &mut Raw) -> String {
    let r = c.cmd_s(&["CLIENT", "ID"]);
    r.trim_start_matches(':').trim_end().to_string()
}

/// Waits until client `id` has unprocessed input in its buffer (the request the
/// pause holds), as CLIENT LIST's `qbuf` shows it.
fn wait_held(ctl: &mut Raw, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let line = ctl.cmd_s(&["CLIENT", "LIST", "ID", id]);
        if line.contains(" qbuf=") && !line.contains(" qbuf=0 ") {
            return;
        }
        assert!(Instant::now() < deadline, "client {id} never held: {line}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn send(c: &mut Raw, args: &[&str]) {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    c.send(&rawresp::encode(&a));
}

#[test]
fn write_pause_holds_writes_not_reads_until_unpause() {
    let n = node();
    let mut ctl = Raw::connect(n.port);
    let mut writer = Raw::connect(n.port);
    let mut reader = Raw::connect(n.port);
    assert_eq!(ctl.cmd_s(&["SET", "k", "old"]), "+OK\r\n");
    assert_eq!(ctl.cmd_s(&["CLIENT", "PAUSE", "60000", "WRITE"]), "+OK\r\n");

    let wid = id_of(&mut writer);
    // A pipeline: the held SET and a GET behind it, which must wait its turn.
    send(&mut writer, &["SET", "k", "new"]);
    send(&mut writer, &["GET", "k"]);
    wait_held(&mut ctl, &wid);
    // Reads from others go on, and see the old value.
    assert_eq!(reader.cmd_s(&["GET", "k"]), "$3\r\nold\r\n");
    assert_eq!(reader.cmd_s(&["PING"]), "+PONG\r\n");
    // PUBLISH and PFCOUNT are held too (Redis propagates them).
    let mut publisher = Raw::connect(n.port);
    let pid = id_of(&mut publisher);
    send(&mut publisher, &["PUBLISH", "ch", "m"]);
    wait_held(&mut ctl, &pid);

    assert_eq!(ctl.cmd_s(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
    assert_eq!(writer.reply(), b"+OK\r\n");
    assert_eq!(writer.reply(), b"$3\r\nnew\r\n");
    assert_eq!(publisher.reply(), b":0\r\n");
    assert_eq!(reader.cmd_s(&["GET", "k"]), "$3\r\nnew\r\n");
}

#[test]
fn all_pause_holds_every_command_until_its_deadline() {
    let n = node();
    let mut ctl = Raw::connect(n.port);
    let mut other = Raw::connect(n.port);
    let started = Instant::now();
    assert_eq!(ctl.cmd_s(&["CLIENT", "PAUSE", "300"]), "+OK\r\n");
    // The pausing client itself is held too (Redis holds every normal client).
    assert_eq!(other.cmd_s(&["PING"]), "+PONG\r\n");
    assert!(
        started.elapsed() >= Duration::from_millis(290),
        "PING answered {:?} after a 300 ms ALL pause began",
        started.elapsed()
    );
    // Unknown commands are answered at once even while paused; CLIENT UNPAUSE
    // itself is held by ALL, as in Redis, so this pause runs to its end.
    let started = Instant::now();
    assert_eq!(ctl.cmd_s(&["CLIENT", "PAUSE", "300", "ALL"]), "+OK\r\n");
    let r = other.cmd_s(&["NOSUCHCMD"]);
    assert!(r.starts_with("-ERR unknown command"), "{r}");
    assert_eq!(ctl.cmd_s(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
    assert!(started.elapsed() >= Duration::from_millis(290));
}

#[test]
fn exec_is_held_only_when_the_transaction_writes() {
    let n = node();
    let mut ctl = Raw::connect(n.port);
    let mut tx = Raw::connect(n.port);
    assert_eq!(ctl.cmd_s(&["SET", "a", "1"]), "+OK\r\n");
    assert_eq!(tx.cmd_s(&["MULTI"]), "+OK\r\n");
    assert_eq!(tx.cmd_s(&["GET", "a"]), "+QUEUED\r\n");
    assert_eq!(ctl.cmd_s(&["CLIENT", "PAUSE", "60000", "WRITE"]), "+OK\r\n");
    // A read-only transaction runs during a WRITE pause.
    assert_eq!(tx.cmd_s(&["EXEC"]), "*1\r\n$1\r\n1\r\n");
    // A write is held before it is even queued, as in Redis.
    let tid = id_of(&mut tx);
    assert_eq!(tx.cmd_s(&["MULTI"]), "+OK\r\n");
    send(&mut tx, &["INCR", "a"]);
    wait_held(&mut ctl, &tid);
    assert_eq!(ctl.cmd_s(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
    assert_eq!(tx.reply(), b"+QUEUED\r\n");
    // With the INCR queued, EXEC itself is held by a new WRITE pause.
    assert_eq!(ctl.cmd_s(&["CLIENT", "PAUSE", "60000", "WRITE"]), "+OK\r\n");
    send(&mut tx, &["EXEC"]);
    wait_held(&mut ctl, &tid);
    assert_eq!(ctl.cmd_s(&["GET", "a"]), "$1\r\n1\r\n");
    assert_eq!(ctl.cmd_s(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
    assert_eq!(tx.reply(), b"*1\r\n:2\r\n");
}

#[test]
fn keys_do_not_expire_while_paused() {
    let n = node();
    let mut c = Raw::connect(n.port);
    assert_eq!(c.cmd_s(&["SET", "t", "v", "PX", "50"]), "+OK\r\n");
    assert_eq!(c.cmd_s(&["CLIENT", "PAUSE", "60000", "WRITE"]), "+OK\r\n");
    // Logically expired: reads miss it...
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.cmd_s(&["GET", "t"]) != "$-1\r\n" {
        assert!(Instant::now() < deadline, "key never expired logically");
        std::thread::sleep(Duration::from_millis(10));
    }
    // ...but nothing was deleted: no lazy or active expiry during the pause,
    // whichever command looks at it.
    for _ in 0..5 {
        assert_eq!(c.cmd_s(&["PTTL", "t"]), ":-2\r\n");
        assert_eq!(c.cmd_s(&["TTL", "t"]), ":-2\r\n");
        assert_eq!(c.cmd_s(&["EXISTS", "t"]), ":0\r\n");
        assert_eq!(c.cmd_s(&["TYPE", "t"]), "+none\r\n");
        let info = c.cmd_s(&["INFO", "stats"]);
        assert!(info.contains("expired_keys:0\r\n"), "{info}");
        assert_eq!(c.cmd_s(&["DBSIZE"]), ":1\r\n");
        std::thread::sleep(Duration::from_millis(120)); // spans an active-expiry cycle
    }
    assert_eq!(c.cmd_s(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
    assert_eq!(c.cmd_s(&["GET", "t"]), "$-1\r\n");
    assert!(c.cmd_s(&["INFO", "stats"]).contains("expired_keys:1\r\n"));
    assert_eq!(c.cmd_s(&["DBSIZE"]), ":0\r\n");
}

#[test]
fn errors_match_redis() {
    let n = node();
    let cases: &[&[&str]] = &[
        &["CLIENT", "PAUSE", "abc"],
        &["CLIENT", "PAUSE", "-1"],
        &["CLIENT", "PAUSE", "10", "foo"],
        &["CLIENT", "PAUSE", "10", "write", "extra"],
        &["CLIENT", "PAUSE"],
        &["CLIENT", "UNPAUSE", "x"],
        &["CLIENT", "PAUSE", "0", "WRITE"],
        &["CLIENT", "UNPAUSE"],
    ];
    let mut k = Raw::connect(n.port);
    let got: Vec<String> = cases.iter().map(|c| k.cmd_s(c)).collect();
    let r = Server::start_redis(&[]);
    let mut rc = Raw::connect(r.port);
    let want: Vec<String> = cases.iter().map(|c| rc.cmd_s(c)).collect();
    assert_eq!(got, want);
}
