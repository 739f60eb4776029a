//! Shared harness for integration tests: start a real `kcache-node` (or
//! `redis-server`) on a free port and talk to it with real clients.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server process, killed on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub dir: std::path::PathBuf,
    /// Remove `dir` on drop (false for a directory the test manages).
    pub owns_dir: bool,
    /// Everything the process wrote so far, stderr and (after its ready
    /// line) stdout, where its log goes.
    pub output: std::sync::Arc<std::sync::Mutex<String>>,
}

fn node_bin() -> String {
    std::env::var("KCACHE_NODE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_kcache-node").to_string())
}

pub fn scratch_dir(tag: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("kcache-test-{}-{tag}-{n}", std::process::id()));
    std::fs::create_dir_all(&d).expect("create scratch dir");
    d
}

impl Server {
    /// Starts kcache-node with `--port 0 --http-port 0` plus `args`, and waits for
    /// its ready line to learn the port.
    pub fn start(args: &[&str]) -> Server {
        let dir = scratch_dir("node");
        let mut s = Server::start_in(&dir, args);
        s.owns_dir = true;
        s
    }

    /// Like [`Server::start`] in a directory the caller owns (kept on drop),
    /// for restarts on the same data.
    pub fn start_in(dir: &std::path::Path, args: &[&str]) -> Server {
        Server::try_start_in(dir, args).expect("kcache-node did not report its port")
    }

    /// Starts kcache-node in `dir`; `Err(stderr)` when it exits before
    /// reporting its port (a refused start).
    pub fn try_start_in(dir: &std::path::Path, args: &[&str]) -> Result<Server, String> {
        let dir = dir.to_path_buf();
        let mut child = Command::new(node_bin())
            .args(["--port", "0", "--http-port", "0", "--dir"])
            .arg(&dir)
            .args(args)
            .current_dir(&dir)
            // KCACHE_TEST_LOG=info shows the nodes' logs when debugging a test.
            .env(
                "KCACHE_LOG",
                std::env::var("KCACHE_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kcache-node");
        // Forward stderr (as before) while keeping a copy for refused starts.
        let stderr = child.stderr.take().expect("stderr");
        let err_copy = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = err_copy.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut port = 0;
        while Instant::now() < deadline {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(p) = line.strip_prefix("Ready to accept connections tcp port=") {
                        port = p.trim().parse().expect("port number");
                        break;
                    }
                }
                _ => break,
            }
        }
        if port == 0 {
            let _ = child.kill();
            let _ = child.wait();
            // Let the stderr thread drain.
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline && err_copy.lock().map_or(true, |s| s.is_empty()) {
                std::thread::yield_now();
            }
            return Err(err_copy.lock().map(|s| s.clone()).unwrap_or_default());
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        let show = std::env::var("KCACHE_TEST_LOG").is_ok();
        let sink = err_copy.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if show {
                    eprintln!("[{port}] {line}");
                }
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        Ok(Server {
            child,
            port,
            dir,
            owns_dir: false,
            output: err_copy,
        })
    }

    /// SIGKILLs the process and waits for it (a crash, not a shutdown).
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts Debian's redis-server on a free port, for the side-by-side tests.
    /// Panics when it is not installed: those tests prove nothing without it.
    pub fn start_redis(args: &[&str]) -> Server {
        let dir = scratch_dir("redis");
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
                "--bind",
                "127.0.0.1",
            ])
            .args(args)
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server ({e}): the side-by-side tests need it (apt-get install redis-server)")
            });
        let s = Server {
            child,
            port,
            dir,
            owns_dir: true,
            output: Default::default(),
        };
        s.wait_ping();
        s
    }

    pub fn wait_ping(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(mut c) = self.client().get_connection() {
                if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                    return;
                }
            }
            std::thread::yield_now();
        }
        panic!("server on port {} never answered PING", self.port);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("client")
    }

    pub fn conn(&self) -> redis::Connection {
        self.client().get_connection().expect("connect")
    }

    /// Runs redis-cli against the server; returns stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The node's output so far, its log included (kcache-node only; the
    /// level is `warn` unless `KCACHE_TEST_LOG` says otherwise).
    pub fn log(&self) -> String {
        self.output.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The HTTP port (`/healthz`, `/readyz`, `/metrics`) from INFO server.
    pub fn http_port(&self) -> u16 {
        field(self.port, "server", "http_port")
            .parse()
            .expect("http_port in INFO server")
    }

    /// The exit code once the process exits within `limit` (None: still
    /// running, or killed by a signal).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// Sends `sig` (`-STOP`, `-CONT`, `-TERM`, ...) to a process with kill(1).
pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill {sig} {pid}");
}

/// `(status code, body)` of an HTTP GET on loopback.
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect http");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").expect("send http request");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read http response");
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (code, body)
}

/// Writers that SET `w:<t>:<i>` until a write fails, recording each one
/// acknowledged with +OK (the failover and shutdown tests' load).
pub struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    acked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

pub fn start_load(port: u16, writers: usize) -> Load {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let threads = (0..writers)
        .map(|t| {
            let stop = stop.clone();
            let acked = acked.clone();
            std::thread::spawn(move || {
                let mut c = conn_on(port);
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let k = format!("w:{t}:{i}");
                    let r: redis::RedisResult<String> =
                        redis::cmd("SET").arg(&k).arg(i).query(&mut c);
                    match r {
                        Ok(s) if s == "OK" => acked.lock().unwrap().push(k),
                        _ => return,
                    }
                    i += 1;
                }
            })
        })
        .collect();
    Load {
        stop,
        acked,
        threads,
    }
}

impl Load {
    /// Stops the writers (those still running) and returns every key acknowledged.
    pub fn finish(self) -> Vec<String> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        let v = self.acked.lock().unwrap().clone();
        v
    }

    pub fn count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// Whether every writer has stopped by itself (a write failed).
    pub fn all_stopped(&self) -> bool {
        self.threads.iter().all(|t| t.is_finished())
    }
}

/// How many of `keys` are missing on the server at `port`.
pub fn missing(port: u16, keys: &[String]) -> usize {
    let mut c = conn_on(port);
    keys.chunks(500)
        .map(|ch| {
            let n: usize = redis::cmd("EXISTS").arg(ch).query(&mut c).unwrap();
            ch.len() - n
        })
        .sum()
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Sends raw bytes and reads until `expect_len` bytes or the deadline.
pub fn raw(port: u16, input: &[u8], until: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(200))).ok();
    s.write_all(input).expect("write");
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 65536];
    while Instant::now() < deadline && !until(&out) {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    out
}

/// Polls `f` every 20 ms until it holds; panics naming `what` after `limit`.
pub fn wait_until_for(what: &str, limit: Duration, f: &mut impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for: {what}");
}

/// A `redis` crate connection to a server on loopback.
pub fn conn_on(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .expect("client")
        .get_connection()
        .expect("connection")
}

/// One INFO section as `field -> value`.
pub fn info(port: u16, section: &str) -> std::collections::HashMap<String, String> {
    let mut c = conn_on(port);
    let text: String = redis::cmd("INFO").arg(section).query(&mut c).expect("INFO");
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// One INFO field, empty when absent.
pub fn field(port: u16, section: &str, name: &str) -> String {
    info(port, section).get(name).cloned().unwrap_or_default()
}

/// One numeric INFO field, -1 when absent.
pub fn num(port: u16, section: &str, name: &str) -> i64 {
    field(port, section, name).parse().unwrap_or(-1)
}

/// The `replicaof` value naming a primary on loopback.
pub fn replicaof(port: u16) -> String {
    format!("127.0.0.1 {port}")
}

/// A seeded generator for the randomised tests (xorshift64*): a fixed seed
/// replays the same commands, so a failure can be reproduced.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// Fails with every difference listed when `diffs` (one line per differing
/// reply, from a side-by-side run) is not empty.
pub fn assert_no_diffs(diffs: &[String], what: &str) {
    assert!(
        diffs.is_empty(),
        "{what}: {} replies differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
