//! Byte-level RESP client for tests that compare exact replies (with each other,
//! or between kcache-node and redis-server), plus a node launcher that takes a
//! config file and environment variables.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Length of the first complete RESP2/RESP3 reply in `buf`, if it is complete.
pub fn reply_len(buf: &[u8]) -> Option<usize> {
    fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
        let rest = buf.get(at..)?;
        let cr = rest.windows(2).position(|w| w == b"\r\n")?;
        Some((&rest[..cr], at + cr + 2))
    }
    fn one(buf: &[u8], at: usize) -> Option<usize> {
        let kind = *buf.get(at)?;
        let (body, next) = line(buf, at + 1)?;
        let num = || std::str::from_utf8(body).ok()?.parse::<i64>().ok();
        match kind {
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(next),
            b'$' | b'=' | b'!' => {
                let n = num()?;
                if n < 0 {
                    return Some(next);
                }
                let end = next + n as usize + 2;
                (buf.len() >= end).then_some(end)
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n = num()?;
                let items = if kind == b'%' || kind == b'|' {
                    n * 2
                } else {
                    n
                };
                let mut pos = next;
                for _ in 0..items.max(0) {
                    pos = one(buf, pos)?;
                }
                Some(pos)
            }
            _ => None,
        }
    }
    one(buf, 0)
}

/// Encodes a request as a RESP multibulk.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// A raw connection that reads whole replies.
pub struct Raw {
    pub s: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_millis(100))).ok();
        Raw { s, buf: Vec::new() }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).expect("write");
    }

    /// Reads more bytes; false on EOF or error.
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 65536];
        match self.s.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                true
            }
            Err(_) => false,
        }
    }

    /// The next complete reply, or None when the connection closed first or
    /// nothing came within 10 seconds.
    pub fn try_reply(&mut self) -> Option<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(n) = reply_len(&self.buf) {
                return Some(self.buf.drain(..n).collect());
            }
            if Instant::now() > deadline || !self.fill() {
                return None;
            }
        }
    }

    pub fn reply(&mut self) -> Vec<u8> {
        self.try_reply().expect("a complete reply")
    }

    /// Sends one command and returns its reply.
    pub fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.send(&encode(&a));
        self.reply()
    }

    /// Like [`Raw::cmd`], as text (for readable assertion messages).
    pub fn cmd_s(&mut self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.cmd(args)).into_owned()
    }

    /// Everything received until `done` holds for it (or `within` passes),
    /// for replies whose number is not known in advance (pushes under CLIENT
    /// REPLY OFF).
    pub fn read_until(&mut self, within: Duration, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let deadline = Instant::now() + within;
        while !done(&self.buf) && Instant::now() < deadline && self.fill() {}
        std::mem::take(&mut self.buf)
    }

    /// Waits until the server closes the connection; returns what it sent first.
    pub fn until_closed(&mut self, within: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if !self.fill() {
                return Some(std::mem::take(&mut self.buf));
            }
        }
        None
    }
}

/// A node started from an explicit command line (config file first, like
/// redis-server) and environment.
pub struct Node {
    pub child: Child,
    pub port: u16,
    pub dir: std::path::PathBuf,
}

pub fn node_bin() -> String {
    std::env::var("KCACHE_NODE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_kcache-node").to_string())
}

pub fn scratch(tag: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("kcache-sc-{}-{tag}-{n}", std::process::id()));
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

impl Node {
    /// `kcache-node [file] --port 0 --http-port 0 --dir <scratch> <args>` with `env`.
    pub fn start(file: Option<&std::path::Path>, args: &[&str], env: &[(&str, &str)]) -> Node {
        let dir = scratch("node");
        let mut cmd = Command::new(node_bin());
        if let Some(f) = file {
            cmd.arg(f);
        }
        let mut child = cmd
            .args(["--port", "0", "--http-port", "0", "--dir"])
            .arg(&dir)
            .args(args)
            .envs(env.iter().copied())
            .env("KCACHE_LOG", "warn")
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn kcache-node");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut port = 0;
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            if let Some(p) = line.strip_prefix("Ready to accept connections tcp port=") {
                port = p.trim().parse().expect("port");
                break;
            }
        }
        assert!(port != 0, "kcache-node did not report its port");
        std::thread::spawn(move || for _ in lines {});
        Node { child, port, dir }
    }

    /// Waits for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The value of `field` in an INFO text.
pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim_end().to_string())
}

/// The text of a bulk or verbatim reply.
pub fn bulk_text(reply: &[u8]) -> String {
    let s = String::from_utf8_lossy(reply);
    let body = s.split_once("\r\n").map_or("", |(_, b)| b);
    let body = body.strip_suffix("\r\n").unwrap_or(body);
    body.strip_prefix("txt:").unwrap_or(body).to_string()
}
