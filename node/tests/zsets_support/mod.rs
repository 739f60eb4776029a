//! Shared by the sorted set, stream and geo integration tests: a raw RESP client that
//! keeps replies as bytes (so RESP2 and RESP3 shapes are compared exactly) and
//! a side-by-side runner that plays a script on kcache-node and redis-server.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A connection that returns each reply as its raw bytes.
pub struct Raw {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

pub fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl Raw {
    pub fn connect(port: u16, resp3: bool) -> Raw {
        let w = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        w.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let r = BufReader::new(w.try_clone().expect("clone stream"));
        let mut c = Raw { w, r };
        if resp3 {
            let hello = c.cmd(&["HELLO", "3"]);
            assert!(hello.starts_with(b"%"), "HELLO 3 failed: {hello:?}");
        }
        c
    }

    /// Sends one command and reads one whole reply.
    pub fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        self.w.write_all(&encode(args)).expect("write");
        self.read_reply()
    }

    /// Sends many commands at once and discards their replies.
    pub fn pipeline(&mut self, cmds: &[Vec<String>]) {
        let mut buf = Vec::new();
        for c in cmds {
            let v: Vec<&str> = c.iter().map(|s| s.as_str()).collect();
            buf.extend_from_slice(&encode(&v));
        }
        self.w.write_all(&buf).expect("write");
        for _ in cmds {
            self.read_reply();
        }
    }

    pub fn read_reply(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        self.r.read_until(b'\n', &mut line).expect("read");
        assert!(line.ends_with(b"\r\n"), "truncated reply {line:?}");
        let head = line[0];
        let n: i64 = std::str::from_utf8(&line[1..line.len() - 2])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut out = line.clone();
        match head {
            b'$' | b'=' | b'!' if n >= 0 => {
                let mut body = vec![0u8; n as usize + 2];
                self.r.read_exact(&mut body).expect("read bulk");
                out.extend_from_slice(&body);
            }
            b'*' | b'~' | b'>' | b'%' if n > 0 => {
                let items = if head == b'%' { 2 * n } else { n };
                for _ in 0..items {
                    out.extend(self.read_reply());
                }
            }
            _ => {}
        }
        out
    }

    pub fn int(&mut self, args: &[&str]) -> i64 {
        let r = self.cmd(args);
        assert_eq!(r[0], b':', "{args:?} -> {}", String::from_utf8_lossy(&r));
        String::from_utf8_lossy(&r[1..r.len() - 2])
            .parse()
            .expect("integer reply")
    }
}

/// A fresh node and a fresh redis-server.
pub fn pair() -> (crate::common::Server, crate::common::Server) {
    let node = crate::common::Server::start(&[]);
    let redis = crate::common::Server::start_redis(&[]);
    (node, redis)
}

/// Plays `script` on a fresh node and a fresh redis-server and fails with
/// every differing reply.
pub fn assert_same(script: &str) {
    let (node, redis) = pair();
    let diffs = side_by_side(script, node.port, redis.port);
    crate::common::assert_no_diffs(&diffs, "side by side with redis-server");
}

/// Plays `script` (one command a line, words split on spaces, `#` comments)
/// on both servers in RESP2 and RESP3; returns a line per differing reply.
pub fn side_by_side(script: &str, node: u16, redis: u16) -> Vec<String> {
    let mut diffs = Vec::new();
    for resp3 in [false, true] {
        let mut a = Raw::connect(node, resp3);
        let mut b = Raw::connect(redis, resp3);
        for line in script.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let args: Vec<&str> = line.split(' ').collect();
            let (x, y) = (a.cmd(&args), b.cmd(&args));
            if x != y {
                diffs.push(format!(
                    "RESP{} {line}\n  node:  {}\n  redis: {}",
                    if resp3 { 3 } else { 2 },
                    String::from_utf8_lossy(&x).escape_debug(),
                    String::from_utf8_lossy(&y).escape_debug()
                ));
            }
        }
    }
    diffs
}
