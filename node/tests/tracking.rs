//! CLIENT TRACKING side by side with redis-server: the same clients run the
//! same commands on both and must receive the same bytes (replies and
//! invalidation pushes, RESP3 and the RESP2 `__redis__:invalidate` channel).
//!
//! Pushes to a client reach it asynchronously on the node (another event loop
//! sends them), so each stream is read until a sentinel key's invalidation,
//! which the writer sends last: what came before it is complete.

mod common;
mod rawresp;

use std::time::Duration;

use common::Server;
use rawresp::Raw;

fn push(keys: &[&str]) -> String {
    let mut s = format!(">2\r\n$10\r\ninvalidate\r\n*{}\r\n", keys.len());
    for k in keys {
        s.push_str(&format!("${}\r\n{k}\r\n", k.len()));
    }
    s
}

fn message(keys: &[&str]) -> String {
    let mut s = format!(
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*{}\r\n",
        keys.len()
    );
    for k in keys {
        s.push_str(&format!("${}\r\n{k}\r\n", k.len()));
    }
    s
}

/// Everything `c` receives up to and including `until`, within a deadline.
fn read_through(c: &mut Raw, until: &str) -> String {
    let want = until.as_bytes().to_vec();
    let bytes = c.read_until(Duration::from_secs(10), |b| {
        b.windows(want.len()).any(|w| w == want.as_slice())
    });
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert!(
        text.contains(until),
        "never received {until:?}; got {text:?}"
    );
    text
}

/// A tracking scenario on one server: what the tracking clients received.
fn scenario(port: u16) -> Vec<String> {
    let mut seen = Vec::new();
    let mut w = Raw::connect(port);

    // Default mode, RESP3: reads are remembered until invalidated once.
    let mut a = Raw::connect(port);
    a.cmd(&["HELLO", "3"]);
    seen.push(a.cmd_s(&["CLIENT", "TRACKING", "ON"]));
    for c in [
        &["GET", "k1"][..],
        &["GET", "k2"],
        &["MGET", "k3", "k4"],
        &["GET", "s1"],
    ] {
        seen.push(a.cmd_s(c));
    }
    for c in [
        &["SET", "k1", "x"][..],
        &["SET", "other", "y"],
        &["MSET", "k3", "a", "k4", "b"],
        &["SET", "k1", "again"],
        // k2 is absent: a DEL of it changes nothing (the node would
        // invalidate it anyway: docs/compatibility.md).
        &["DEL", "nosuch", "k3"],
        &["SET", "s1", "1"],
    ] {
        w.cmd(c);
    }
    seen.push(read_through(&mut a, &push(&["s1"])));

    // Its own writes come after the reply; inside MULTI, after EXEC's.
    seen.push(a.cmd_s(&["GET", "k5"]));
    a.send(b"*3\r\n$3\r\nSET\r\n$2\r\nk5\r\n$1\r\nv\r\n");
    seen.push(read_through(&mut a, &push(&["k5"])));
    for c in [
        &["GET", "k5"][..],
        &["MULTI"],
        &["SET", "k5", "1"],
        &["GET", "k5"],
    ] {
        seen.push(a.cmd_s(c));
    }
    a.send(b"*1\r\n$4\r\nEXEC\r\n");
    seen.push(read_through(&mut a, &push(&["k5"])));
    seen.push(a.cmd_s(&["CLIENT", "TRACKINGINFO"]));
    seen.push(a.cmd_s(&["CLIENT", "GETREDIR"]));

    // NOLOOP: its own writes are not reported.
    let mut n = Raw::connect(port);
    n.cmd(&["HELLO", "3"]);
    seen.push(n.cmd_s(&["CLIENT", "TRACKING", "ON", "NOLOOP"]));
    seen.push(n.cmd_s(&["GET", "n1"]));
    seen.push(n.cmd_s(&["GET", "s2"]));
    seen.push(n.cmd_s(&["SET", "n1", "mine"]));
    w.cmd(&["SET", "s2", "1"]);
    seen.push(read_through(&mut n, &push(&["s2"])));

    // BCAST with prefixes: every change under them, read or not.
    let mut b = Raw::connect(port);
    b.cmd(&["HELLO", "3"]);
    seen.push(b.cmd_s(&[
        "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "s3",
    ]));
    seen.push(b.cmd_s(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "us"]));
    seen.push(b.cmd_s(&["CLIENT", "TRACKINGINFO"]));
    for c in [
        &["SET", "user:1", "a"][..],
        &["SET", "other", "b"],
        &["SET", "user:2", "c"],
        &["SET", "s3", "1"],
    ] {
        w.cmd(c);
    }
    seen.push(read_through(&mut b, &push(&["s3"])));

    // OPTIN: only reads after CLIENT CACHING yes.
    let mut o = Raw::connect(port);
    o.cmd(&["HELLO", "3"]);
    seen.push(o.cmd_s(&["CLIENT", "TRACKING", "ON", "OPTIN"]));
    seen.push(o.cmd_s(&["GET", "o1"]));
    seen.push(o.cmd_s(&["CLIENT", "CACHING", "YES"]));
    seen.push(o.cmd_s(&["CLIENT", "TRACKINGINFO"]));
    seen.push(o.cmd_s(&["GET", "o2"]));
    seen.push(o.cmd_s(&["GET", "o3"]));
    seen.push(o.cmd_s(&["CLIENT", "CACHING", "YES"]));
    seen.push(o.cmd_s(&["GET", "s4"]));
    for c in [
        &["SET", "o1", "a"][..],
        &["SET", "o2", "b"],
        &["SET", "o3", "c"],
        &["SET", "s4", "1"],
    ] {
        w.cmd(c);
    }
    seen.push(read_through(&mut o, &push(&["s4"])));

    // RESP2 with a redirect to a subscriber of __redis__:invalidate.
    let mut r = Raw::connect(port);
    let id = r.cmd_s(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim().to_string();
    r.cmd(&["SUBSCRIBE", "__redis__:invalidate"]);
    let mut t = Raw::connect(port);
    seen.push(t.cmd_s(&["CLIENT", "TRACKING", "ON", "REDIRECT", &id]));
    seen.push(t.cmd_s(&["GET", "r1"]));
    seen.push(t.cmd_s(&["GET", "s5"]));
    w.cmd(&["SET", "r1", "a"]);
    w.cmd(&["SET", "s5", "a"]);
    seen.push(read_through(&mut r, &message(&["s5"])));

    // FLUSHALL: everything changed, in each client's null.
    seen.push(a.cmd_s(&["GET", "k1"]));
    seen.push(t.cmd_s(&["GET", "k1"]));
    w.cmd(&["FLUSHALL"]);
    seen.push(read_through(&mut a, ">2\r\n$10\r\ninvalidate\r\n_\r\n"));
    seen.push(read_through(
        &mut r,
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n",
    ));

    // Off: nothing more.
    seen.push(a.cmd_s(&["CLIENT", "TRACKING", "OFF"]));
    seen.push(a.cmd_s(&["CLIENT", "TRACKINGINFO"]));
    seen.push(a.cmd_s(&["CLIENT", "GETREDIR"]));
    seen
}

#[test]
fn invalidations_match_redis_server() {
    let redis = Server::start_redis(&[]);
    let node = Server::start(&[]);
    let theirs = scenario(redis.port);
    let ours = scenario(node.port);
    for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(o, t, "step {i}");
    }
    assert_eq!(ours.len(), theirs.len());
}

#[test]
fn errors_match_redis_server() {
    let redis = Server::start_redis(&[]);
    let node = Server::start(&[]);
    let mut a = Raw::connect(node.port);
    let mut b = Raw::connect(redis.port);
    for c in [
        &["CLIENT", "CACHING", "YES"][..],
        &["CLIENT", "TRACKING", "MAYBE"],
        &["CLIENT", "TRACKING", "ON", "PREFIX", "a"],
        &["CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"],
        &["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"],
        &["CLIENT", "TRACKING", "ON", "REDIRECT", "999999"],
        &["CLIENT", "TRACKING", "ON", "REDIRECT", "x"],
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "a",
        ],
        &["CLIENT", "TRACKING", "ON", "NOSUCH"],
        &["CLIENT", "TRACKING"],
        &["CLIENT", "GETREDIR", "x"],
        &["CLIENT", "TRACKING", "ON", "OPTIN"],
        &["CLIENT", "TRACKING", "ON", "OPTOUT"],
        &["CLIENT", "TRACKING", "ON", "BCAST"],
        &["CLIENT", "CACHING", "NO"],
        &["CLIENT", "CACHING", "MAYBE"],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "TRACKING", "OFF"],
        &["CLIENT", "TRACKING", "ON", "OPTOUT"],
        &["CLIENT", "CACHING", "YES"],
        &["CLIENT", "CACHING", "NO"],
        &["CLIENT", "TRACKINGINFO"],
    ] {
        assert_eq!(a.cmd_s(c), b.cmd_s(c), "{c:?}");
    }
}

#[test]
fn table_is_bounded_and_clients_are_forgotten() {
    let node = Server::start(&["--tracking-table-max-keys", "3"]);
    // The invalidations go to another RESP3 client, so that the reader's
    // replies and the pushes do not interleave.
    let mut r = Raw::connect(node.port);
    r.cmd(&["HELLO", "3"]);
    let id = r.cmd_s(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim().to_string();
    let mut a = Raw::connect(node.port);
    a.cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", &id]);
    for i in 0..10 {
        a.cmd(&["GET", &format!("key{i}")]);
    }
    let info = || common::info(node.port, "stats");
    let keys: usize = info()["tracking_total_keys"]
        .parse()
        .expect("tracking_total_keys");
    assert!(keys <= 3, "{keys} keys tracked");
    assert_eq!(common::num(node.port, "clients", "tracking_clients"), 1);
    // The keys pushed out were invalidated early: a client must not keep them.
    let got = r.read_until(Duration::from_secs(10), |b| {
        String::from_utf8_lossy(b).matches("invalidate").count() >= 7
    });
    let got = String::from_utf8_lossy(&got);
    assert_eq!(got.matches("invalidate").count(), 7, "{got}");
    drop(a);
    common::wait_until_for(
        "the tracker is forgotten",
        Duration::from_secs(10),
        &mut || common::num(node.port, "clients", "tracking_clients") == 0,
    );
}

#[test]
fn expired_keys_are_invalidated() {
    let node = Server::start(&[]);
    let mut w = Raw::connect(node.port);
    let mut a = Raw::connect(node.port);
    a.cmd(&["HELLO", "3"]);
    a.cmd(&["CLIENT", "TRACKING", "ON"]);
    w.cmd(&["SET", "ttl", "v", "PX", "200"]);
    assert_eq!(a.cmd_s(&["GET", "ttl"]), "$1\r\nv\r\n");
    // The active expiry cycle removes it and tells the reader.
    read_through(&mut a, &push(&["ttl"]));
}
