//! Differential checking: send the same commands to kcache-node and redis-server
//! over raw RESP and compare the reply bytes exactly.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A raw RESP connection that reads exactly one reply per command.
pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    pub fn connect(port: u16) -> RawConn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        RawConn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends one command and returns its complete raw reply.
    pub fn call(&mut self, args: &[Vec<u8>]) -> Vec<u8> {
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            req.extend_from_slice(a);
            req.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&req).expect("write");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut chunk = [0u8; 65536];
        loop {
            if let Some(n) = reply_len(&self.buf, 0) {
                return self.buf.drain(..n).collect();
            }
            assert!(Instant::now() < deadline, "no complete reply to {args:?}");
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("connection closed during {args:?}"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    pub fn cmd(&mut self, line: &str) -> Vec<u8> {
        self.call(&split(line))
    }
}

/// End of the reply starting at `at`, if complete.
fn reply_len(b: &[u8], at: usize) -> Option<usize> {
    let line_end = at + b.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
    let head = std::str::from_utf8(&b[at + 1..line_end]).ok()?;
    let next = line_end + 2;
    match *b.get(at)? {
        b'+' | b'-' | b':' | b',' | b'#' | b'_' | b'(' => Some(next),
        b'$' | b'=' | b'!' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some(next);
            }
            let end = next + n as usize + 2;
            (b.len() >= end).then_some(end)
        }
        t @ (b'*' | b'~' | b'>' | b'%' | b'|') => {
            let n: i64 = head.parse().ok()?;
            let items = if t == b'%' || t == b'|' { 2 * n } else { n };
            let mut pos = next;
            for _ in 0..items.max(0) {
                pos = reply_len(b, pos)?;
            }
            if t == b'|' {
                return reply_len(b, pos);
            }
            Some(pos)
        }
        _ => panic!("unexpected reply byte in {:?}", String::from_utf8_lossy(b)),
    }
}

/// Splits a command line on spaces; `''` is an empty argument and `\x..` escapes
/// give arbitrary bytes.
pub fn split(line: &str) -> Vec<Vec<u8>> {
    line.split(' ')
        .filter(|s| !s.is_empty())
        .map(|w| {
            if w == "''" {
                return Vec::new();
            }
            let mut out = Vec::new();
            let bytes = w.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'x') && i + 3 < bytes.len() + 1 {
                    let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).expect("hex");
                    out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
                    i += 4;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            out
        })
        .collect()
}

/// Runs every line on both servers and lists the replies that differ.
pub fn mismatches(node: &mut RawConn, redis: &mut RawConn, script: &[&str]) -> Vec<String> {
    let mut bad = Vec::new();
    for line in script {
        let args = split(line);
        let a = node.call(&args);
        let b = redis.call(&args);
        if a != b {
            bad.push(format!(
                "{line}\n   node:  {:?}\n   redis: {:?}",
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b)
            ));
        }
    }
    bad
}

/// Asserts that every line of `script` gets byte-identical replies, in RESP2 and
/// (after HELLO 3 on fresh connections) in RESP3. Keys are prefixed per protocol,
/// so the script runs on clean keys both times.
pub fn assert_same(node_port: u16, redis_port: u16, script: &[&str]) {
    let mut all = Vec::new();
    for (proto, prefix) in [(2, "r2:"), (3, "r3:")] {
        let mut n = RawConn::connect(node_port);
        let mut r = RawConn::connect(redis_port);
        if proto == 3 {
            n.cmd("HELLO 3");
            r.cmd("HELLO 3");
        }
        let prefixed: Vec<String> = script.iter().map(|l| prefix_keys(l, prefix)).collect();
        let refs: Vec<&str> = prefixed.iter().map(String::as_str).collect();
        for m in mismatches(&mut n, &mut r, &refs) {
            all.push(format!("[RESP{proto}] {m}"));
        }
    }
    assert!(
        all.is_empty(),
        "{} mismatches:\n{}",
        all.len(),
        all.join("\n")
    );
}

/// Prefixes every word that starts with `k` followed by a digit or `:` (the
/// scripts' key naming convention).
fn prefix_keys(line: &str, prefix: &str) -> String {
    line.split(' ')
        .map(|w| {
            let b = w.as_bytes();
            if b.len() >= 2 && b[0] == b'k' && (b[1].is_ascii_digit() || b[1] == b':') {
                format!("{prefix}{w}")
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
