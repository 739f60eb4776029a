//! Protocol and resource limits, authentication, and hostile input, each
//! compared with redis-server configured the same way.

mod common;
mod rawresp;

use std::io::Write;
use std::time::Duration;

use common::Server;
use rawresp::Raw;

/// Sends `input` on a fresh connection and returns what the server sent before
/// closing it (panics if it stays open).
fn closed_after(port: u16, input: &[u8]) -> String {
    let mut c = Raw::connect(port);
    // The server may close before taking everything; a failed write is fine.
    let _ = c.s.write_all(input);
    let got = c
        .until_closed(Duration::from_secs(10))
        .expect("the server closes the connection");
    String::from_utf8_lossy(&got).into_owned()
}

/// redis-server with `requirepass` (set after start, so the harness can PING it).
fn redis_with_password(pass: &str) -> Server {
    let r = Server::start_redis(&[]);
    let set = Raw::connect(r.port).cmd_s(&["CONFIG", "SET", "requirepass", pass]);
    assert_eq!(set, "+OK\r\n");
    r
}

fn alive(port: u16) {
    assert_eq!(Raw::connect(port).cmd_s(&["PING"]), "+PONG\r\n");
}

#[test]
fn bulk_and_multibulk_lengths() {
    let s = Server::start(&["--proto-max-bulk-len", "1mb"]);
    let r = Server::start_redis(&["--proto-max-bulk-len", "1mb"]);
    let cases: [&[u8]; 4] = [
        b"*2\r\n$3\r\nGET\r\n$2097152\r\n",
        b"*1048577\r\n",
        b"*2\r\n$3\r\nGET\r\n$-3\r\n",
        b"*1\r\n+PING\r\n",
    ];
    let expected = [
        "-ERR Protocol error: invalid bulk length\r\n",
        "-ERR Protocol error: invalid multibulk length\r\n",
        "-ERR Protocol error: invalid bulk length\r\n",
        "-ERR Protocol error: expected '$', got '+'\r\n",
    ];
    for (input, want) in cases.iter().zip(expected) {
        assert_eq!(closed_after(s.port, input), want);
        // Redis 7.0 accepts up to INT_MAX arguments; kcache keeps the 1M limit of
        // earlier Redis versions, which bounds what one header can make it allocate.
        if input.starts_with(b"*1048577") {
            continue;
        }
        assert_eq!(closed_after(r.port, input), want, "redis-server");
    }
    // Exactly the limit is accepted.
    let mut c = Raw::connect(s.port);
    let v = vec![b'v'; 1024 * 1024];
    c.send(&rawresp::encode(&[b"SET", b"k", &v]));
    assert_eq!(c.reply(), b"+OK\r\n");
    alive(s.port);
}

#[test]
fn unauthenticated_clients_are_limited() {
    let s = Server::start(&["--requirepass", "secret"]);
    let r = redis_with_password("secret");
    let cases: [(&[u8], &str); 2] = [
        (
            b"*11\r\n",
            "-ERR Protocol error: unauthenticated multibulk length\r\n",
        ),
        (
            b"*2\r\n$4\r\nAUTH\r\n$16385\r\n",
            "-ERR Protocol error: unauthenticated bulk length\r\n",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(closed_after(s.port, input), want);
        assert_eq!(closed_after(r.port, input), want, "redis-server");
    }
    // Once authenticated, the normal limits apply.
    let mut c = Raw::connect(s.port);
    assert_eq!(c.cmd_s(&["AUTH", "secret"]), "+OK\r\n");
    let args: Vec<String> = std::iter::once("DEL".to_string())
        .chain((0..20).map(|i| format!("k{i}")))
        .collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(c.cmd_s(&a), ":0\r\n");
}

#[test]
fn query_buffer_limit_closes_the_client() {
    let args = ["--client-query-buffer-limit", "1mb"];
    let s = Server::start(&args);
    let r = Server::start_redis(&args);
    let mut input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4000000\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
    assert_eq!(closed_after(s.port, &input), "");
    assert_eq!(closed_after(r.port, &input), "", "redis-server");
    alive(s.port);
}

#[test]
fn maxclients_refuses_the_extra_client() {
    let args = ["--maxclients", "2"];
    let s = Server::start(&args);
    let r = Server::start_redis(&args);
    for port in [s.port, r.port] {
        // Two clients that are known to be accepted (a client of the start-up
        // check may still be closing, so retry until two answer).
        let mut held = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while held.len() < 2 && std::time::Instant::now() < deadline {
            let mut c = Raw::connect(port);
            if c.cmd_s(&["PING"]) == "+PONG\r\n" {
                held.push(c);
            }
        }
        assert_eq!(held.len(), 2);
        assert_eq!(
            closed_after(port, b""),
            "-ERR max number of clients reached\r\n"
        );
        drop(held);
    }
    // Slots free up when clients leave.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = Raw::connect(s.port);
        c.send(b"PING\r\n");
        if c.try_reply().as_deref() == Some(b"+PONG\r\n") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "slots never freed");
    }
}

#[test]
fn hundred_megabyte_value_round_trip() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let value: Vec<u8> = (0..100 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&value)
        .query(&mut c)
        .unwrap();
    let back: Vec<u8> = redis::cmd("GET").arg("big").query(&mut c).unwrap();
    assert_eq!(back.len(), value.len());
    assert!(back == value, "the value came back different");
}

#[test]
fn inline_commands_up_to_and_over_64k() {
    let s = Server::start(&[]);
    let r = Server::start_redis(&[]);
    let arg = "a".repeat(60_000);
    let ok = format!("ECHO {arg}\r\n");
    let mut c = Raw::connect(s.port);
    c.send(ok.as_bytes());
    assert_eq!(c.reply(), format!("$60000\r\n{arg}\r\n").as_bytes());
    let too_big = "b".repeat(70_000);
    let want = "-ERR Protocol error: too big inline request\r\n";
    assert_eq!(closed_after(s.port, too_big.as_bytes()), want);
    assert_eq!(
        closed_after(r.port, too_big.as_bytes()),
        want,
        "redis-server"
    );
    let mut rc = Raw::connect(r.port);
    rc.send(ok.as_bytes());
    assert_eq!(rc.reply(), format!("$60000\r\n{arg}\r\n").as_bytes());
    let unbalanced = closed_after(s.port, b"SET \"a b\r\n");
    assert_eq!(
        unbalanced,
        "-ERR Protocol error: unbalanced quotes in request\r\n"
    );
    alive(s.port);
}

#[test]
fn garbage_never_kills_the_node() {
    let s = Server::start(&[]);
    let fixed: [&[u8]; 14] = [
        b"*-5\r\n",
        b"*99999999999999999999999\r\n",
        b"*1\r\n$99999999999999999999999\r\n",
        b"*2\r\n$3\r\nGET\r\n$abc\r\n",
        b"*1\r\n$-1\r\n",
        b"*1\r\n$0\r\n\r\n",
        b"$5\r\nhello\r\n",
        b"\x00\x01\x02\xff\xfe\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nvXX",
        b"\"\\x\"\r\n",
        b"*1\r\n$4\r\nPING",
        b"\r\n\r\n\r\n\n\n",
        b"*0\r\n*-1\r\n",
        b"'unterminated\r\n",
    ];
    for input in fixed {
        let mut c = Raw::connect(s.port);
        let _ = c.s.write_all(input);
        let _ = c.until_closed(Duration::from_millis(300));
    }
    // Pseudo-random blobs, biased towards protocol characters.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let alphabet = b"*$+-:\r\n0123456789-abcGETSETPING \"'\\\x00\xff";
    for _ in 0..150 {
        let len = (next() % 200) as usize;
        let blob: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        let mut c = Raw::connect(s.port);
        let _ = c.s.write_all(&blob);
        let _ = c.until_closed(Duration::from_millis(20));
    }
    alive(s.port);
    let mut c = Raw::connect(s.port);
    assert_eq!(c.cmd_s(&["SET", "still", "here"]), "+OK\r\n");
    assert_eq!(c.cmd_s(&["GET", "still"]), "$4\r\nhere\r\n");
}

#[test]
fn auth_flows_match_redis() {
    let s = Server::start(&["--requirepass", "secret"]);
    let r = redis_with_password("secret");
    let script: &[&[&str]] = &[
        &["GET", "k"],
        &["AUTH", "wrong"],
        &["AUTH", "default", "wrong"],
        &["AUTH", "nosuchuser", "secret"],
        &["HELLO", "3"],
        &["HELLO", "3", "AUTH", "default", "wrong"],
        &["CLIENT", "ID", "x"],
        &["CLIENT", "NOSUCH"],
        &["GET"],
        &["AUTH", "secret"],
        &["AUTH", "a", "b", "c"],
        &["PING"],
        &["AUTH", "default", "secret"],
        &["GET", "k"],
    ];
    let mut ours = Raw::connect(s.port);
    let replies: Vec<String> = script.iter().map(|c| ours.cmd_s(c)).collect();
    assert_eq!(replies[0], "-NOAUTH Authentication required.\r\n");
    assert_eq!(
        replies[1],
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(replies[9], "+OK\r\n");
    assert_eq!(replies[13], "$-1\r\n");
    let mut theirs = Raw::connect(r.port);
    for (c, mine) in script.iter().zip(&replies) {
        assert_eq!(mine, &theirs.cmd_s(c), "reply to {c:?}");
    }
    // HELLO AUTH authenticates and switches protocol at once.
    let mut h = Raw::connect(s.port);
    let hello = h.cmd_s(&["HELLO", "3", "AUTH", "default", "secret", "SETNAME", "me"]);
    assert!(
        hello.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
        "{hello}"
    );
    assert_eq!(h.cmd_s(&["GET", "nosuch"]), "_\r\n");
    assert_eq!(h.cmd_s(&["CLIENT", "GETNAME"]), "$2\r\nme\r\n");

    // Without a password, AUTH is an error.
    let open = Server::start(&[]);
    let want = "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n";
    assert_eq!(Raw::connect(open.port).cmd_s(&["AUTH", "x"]), want);
}

#[test]
fn requirepass_from_the_environment() {
    let n = rawresp::Node::start(None, &[], &[("KCACHE_REQUIREPASS", "from-env")]);
    let mut c = Raw::connect(n.port);
    assert_eq!(c.cmd_s(&["PING"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(
        c.cmd_s(&["AUTH", "secret"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(c.cmd_s(&["AUTH", "from-env"]), "+OK\r\n");
    assert_eq!(c.cmd_s(&["PING"]), "+PONG\r\n");
    // The secret is not echoed by CONFIG GET to anyone unauthenticated.
    let mut d = Raw::connect(n.port);
    assert_eq!(
        d.cmd_s(&["CONFIG", "GET", "requirepass"]),
        "-NOAUTH Authentication required.\r\n"
    );
}
