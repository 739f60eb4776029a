//! Smoke tests of the node with real clients.

mod common;

use common::Server;

#[test]
fn ping_set_get_with_the_redis_crate() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let v: Option<String> = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    let missing: Option<String> = redis::cmd("GET").arg("nope").query(&mut c).unwrap();
    assert_eq!(missing, None);
}

#[test]
fn pipelined_replies_arrive_in_order() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let mut p = redis::pipe();
    for i in 0..1000 {
        p.cmd("SET").arg(format!("k{i}")).arg(i).ignore();
    }
    for i in 0..1000 {
        p.cmd("GET").arg(format!("k{i}"));
    }
    let vals: Vec<i64> = p.query(&mut c).unwrap();
    assert_eq!(vals, (0..1000).collect::<Vec<i64>>());
}

#[test]
fn protocol_error_replies_then_closes() {
    let s = Server::start(&[]);
    let out = common::raw(s.port, b"*1\r\n+foo\r\n", |b| b.ends_with(b"\r\n"));
    assert_eq!(out, b"-ERR Protocol error: expected '$', got '+'\r\n");
}

#[test]
fn redis_cli_inline_and_unknown_command() {
    let s = Server::start(&[]);
    assert_eq!(s.cli(&["PING"]).trim(), "PONG");
    let out = common::raw(s.port, b"FOO bar\r\nPING\r\n", |b| b.ends_with(b"PONG\r\n"));
    assert_eq!(
        String::from_utf8_lossy(&out),
        "-ERR unknown command 'FOO', with args beginning with: 'bar' \r\n+PONG\r\n"
    );
}

/// A pipeline far larger than one read (several MB in flight) must complete:
/// regression test for a read loop that stopped early on edge-triggered epoll.
#[test]
fn large_pipeline_is_fully_processed() {
    use std::io::{Read, Write};
    let s = Server::start(&[]);
    let n = 200_000usize;
    let mut req = Vec::with_capacity(n * 60);
    for i in 0..n {
        let k = format!("key:{i}");
        req.extend_from_slice(
            format!("*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n$32\r\n", k.len()).as_bytes(),
        );
        req.extend_from_slice(&[b'x'; 32]);
        req.extend_from_slice(b"\r\n");
    }
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    let mut writer = sock.try_clone().unwrap();
    let t = std::thread::spawn(move || writer.write_all(&req).unwrap());
    sock.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let want = n * 5;
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    while got < want {
        let r = sock.read(&mut buf).expect("replies stopped arriving");
        assert!(r > 0, "connection closed after {got} bytes");
        assert!(buf[..r].iter().all(|&b| b"+OK\r\n".contains(&b)));
        got += r;
    }
    t.join().unwrap();
    assert_eq!(got, want);
    let mut c = s.conn();
    let size: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(size, n as i64);
}
