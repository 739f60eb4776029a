//! Crash recovery of the AOF with real processes: SIGKILL under a concurrent
//! write load (every acknowledged write must survive with `appendfsync
//! always`; with `everysec` the loss is measured), and start-up on a file
//! with a truncated tail or a corrupt middle.

mod aof_support;
mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aof_support::preload;
use common::Server;

/// A directory removed when the test ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const WRITERS: usize = 4;

/// Runs `WRITERS` connections appending `0, 1, 2, ...` to their own list
/// until the node dies; returns how many appends each had acknowledged.
fn load_then_kill(node: &mut Server, run_for: Duration) -> Vec<u64> {
    load_then_kill_with(node, run_for, |_| {})
}

/// [`load_then_kill`], running `before_kill` on the node after `run_for` and
/// killing it right after.
fn load_then_kill_with(
    node: &mut Server,
    run_for: Duration,
    before_kill: impl FnOnce(&Server),
) -> Vec<u64> {
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Vec<Arc<std::sync::atomic::AtomicU64>> = (0..WRITERS)
        .map(|_| Arc::new(std::sync::atomic::AtomicU64::new(0)))
        .collect();
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let url = node.url();
            let stop = stop.clone();
            let acked = acked[w].clone();
            std::thread::spawn(move || {
                let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let r: redis::RedisResult<i64> = redis::cmd("RPUSH")
                        .arg(format!("list:{w}"))
                        .arg(i)
                        .query(&mut c);
                    if r.is_err() {
                        return;
                    }
                    // Acknowledged: the reply came back.
                    i += 1;
                    acked.store(i, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Kill in the middle of the load, once every writer is going.
    let deadline = Instant::now() + Duration::from_secs(10);
    while acked.iter().any(|a| a.load(Ordering::Relaxed) < 100) {
        assert!(Instant::now() < deadline, "writers never got going");
        std::thread::yield_now();
    }
    let until = Instant::now() + run_for;
    while Instant::now() < until {
        std::thread::yield_now();
    }
    before_kill(node);
    node.kill9();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    acked.iter().map(|a| a.load(Ordering::Relaxed)).collect()
}

/// After a restart: per writer, acknowledged appends that are missing (the
/// list must be exactly `0..len` with `len >= acked` to lose nothing).
fn lost_after_restart(dir: &Path, args: &[&str], acked: &[u64]) -> Vec<u64> {
    let node = Server::start_in(dir, args);
    let mut c = node.conn();
    acked
        .iter()
        .enumerate()
        .map(|(w, &n)| {
            let items: Vec<u64> = redis::cmd("LRANGE")
                .arg(format!("list:{w}"))
                .arg(0)
                .arg(-1)
                .query(&mut c)
                .expect("lrange");
            for (i, v) in items.iter().enumerate() {
                assert_eq!(*v, i as u64, "writer {w}: appends replayed out of order");
            }
            n.saturating_sub(items.len() as u64)
        })
        .collect()
}

#[test]
fn sigkill_with_fsync_always_loses_no_acknowledged_write() {
    let dir = TempDir(common::scratch_dir("crash-always"));
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let mut node = Server::start_in(&dir.0, &args);
    let acked = load_then_kill(&mut node, Duration::from_millis(700));
    let total: u64 = acked.iter().sum();
    let lost = lost_after_restart(&dir.0, &args, &acked);
    eprintln!("appendfsync always: {total} acknowledged appends, lost per writer {lost:?}");
    assert!(
        lost.iter().all(|&l| l == 0),
        "lost acknowledged writes: {lost:?}"
    );
}

/// The AOF directory's file names.
fn aof_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("appendonlydir"))
        .expect("aof dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn sigkill_during_a_rewrite_loses_no_acknowledged_write() {
    let dir = TempDir(common::scratch_dir("crash-rewrite"));
    // No automatic rewrite of the preload: the only rewrite is the one killed.
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--auto-aof-rewrite-percentage",
        "0",
    ];
    let mut node = Server::start_in(&dir.0, &args);
    preload(&node, 300_000, 200);
    let acked = load_then_kill_with(&mut node, Duration::from_millis(300), |node| {
        let reply: String = redis::cmd("BGREWRITEAOF")
            .query(&mut node.conn())
            .expect("bgrewriteaof");
        assert_eq!(reply, "Background append only file rewriting started");
        // Kill once the writers' appends reach the new incr file, while the
        // base is still being written.
        let incr = node.dir.join("appendonlydir/appendonly.aof.2.incr.aof");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&incr).map_or(0, |m| m.len()) == 0 {
            assert!(
                Instant::now() < deadline,
                "no write reached the new incr file"
            );
            std::thread::yield_now();
        }
    });
    // The kill landed inside the rewrite: its temp base is left behind and
    // the manifest lists the new incr file after the old one.
    let files = aof_files(&dir.0);
    assert!(
        files.iter().any(|f| f.starts_with("temp-rewriteaof-bg-")),
        "the rewrite had already finished: {files:?}"
    );
    let manifest = std::fs::read_to_string(dir.0.join("appendonlydir/appendonly.aof.manifest"))
        .expect("manifest");
    assert_eq!(manifest.matches("type i").count(), 2, "{manifest}");
    let total: u64 = acked.iter().sum();
    let lost = lost_after_restart(&dir.0, &args, &acked);
    eprintln!("SIGKILL during a rewrite: {total} acknowledged appends, lost per writer {lost:?}");
    assert!(
        lost.iter().all(|&l| l == 0),
        "lost acknowledged writes: {lost:?}"
    );
    // The preloaded keys are all there too (the old base and incr files).
    let node = Server::start_in(&dir.0, &args);
    let n: i64 = redis::cmd("DBSIZE")
        .query(&mut node.conn())
        .expect("dbsize");
    assert_eq!(n, 300_000 + WRITERS as i64);
}

#[test]
fn sigkill_with_fsync_everysec_loss_is_measured() {
    let dir = TempDir(common::scratch_dir("crash-everysec"));
    let args = ["--appendonly", "yes", "--appendfsync", "everysec"];
    let mut node = Server::start_in(&dir.0, &args);
    let t = Instant::now();
    let acked = load_then_kill(&mut node, Duration::from_millis(1500));
    let secs = t.elapsed().as_secs_f64();
    let total: u64 = acked.iter().sum();
    let lost: u64 = lost_after_restart(&dir.0, &args, &acked).iter().sum();
    eprintln!(
        "appendfsync everysec: {total} acknowledged appends in {secs:.1} s ({:.0}/s), {lost} lost after SIGKILL",
        total as f64 / secs
    );
    // Bytes are written before the reply (only their fsync is deferred), so
    // a killed process loses nothing; at most a second's worth after an OS
    // crash, which a test cannot cause.
    let per_sec = (total as f64 / secs).ceil() as u64;
    assert!(
        lost <= per_sec,
        "lost {lost}, more than a second's worth ({per_sec})"
    );
}

fn incr_file(dir: &Path) -> PathBuf {
    let m = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest"))
        .expect("manifest");
    let name = m
        .lines()
        .rfind(|l| l.ends_with("type i"))
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("an incr file")
        .to_string();
    dir.join("appendonlydir").join(name)
}

/// A node with keys a..=e written through the AOF, then killed.
fn prepared(tag: &str) -> (TempDir, PathBuf) {
    let dir = TempDir(common::scratch_dir(tag));
    let mut node = Server::start_in(&dir.0, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = node.conn();
    for k in ["a", "b", "c", "d", "e"] {
        let _: () = redis::cmd("SET").arg(k).arg(k).query(&mut c).expect("set");
    }
    node.kill9();
    let incr = incr_file(&dir.0);
    (dir, incr)
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open");
    f.write_all(bytes).expect("append");
}

#[test]
fn truncated_tail_is_cut_when_allowed_and_refused_otherwise() {
    let (dir, incr) = prepared("aof-truncated");
    let good = std::fs::metadata(&incr).expect("incr").len();
    // A crash in the middle of writing `SET f f`.
    append(&incr, b"*3\r\n$3\r\nSET\r\n$1\r\nf\r\n$1");
    let err = Server::try_start_in(
        &dir.0,
        &["--appendonly", "yes", "--aof-load-truncated", "no"],
    )
    .err()
    .expect("start refused with aof-load-truncated no");
    assert!(
        err.contains("truncated") && err.contains(&good.to_string()),
        "{err}"
    );
    assert!(
        std::fs::metadata(&incr).expect("incr").len() > good,
        "file untouched"
    );

    let node = Server::start_in(&dir.0, &["--appendonly", "yes"]);
    let mut c = node.conn();
    let got: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&["a", "e", "f"])
        .query(&mut c)
        .expect("mget");
    assert_eq!(got, vec![Some("a".into()), Some("e".into()), None]);
    assert_eq!(
        std::fs::metadata(&incr).expect("incr").len(),
        good,
        "tail cut"
    );
    // The node goes on appending after the cut.
    let _: () = redis::cmd("SET")
        .arg("g")
        .arg("g")
        .query(&mut c)
        .expect("set");
    drop(c);
    let mut node = node;
    node.kill9();
    let node = Server::start_in(&dir.0, &["--appendonly", "yes"]);
    let v: Option<String> = redis::cmd("GET")
        .arg("g")
        .query(&mut node.conn())
        .expect("get");
    assert_eq!(v.as_deref(), Some("g"));
}

#[test]
fn transaction_cut_by_the_end_of_the_file_is_dropped() {
    let (dir, incr) = prepared("aof-multi");
    let good = std::fs::metadata(&incr).expect("incr").len();
    append(
        &incr,
        b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nm\r\n$1\r\nm\r\n*1\r\n$4\r\nEX",
    );
    let node = Server::start_in(&dir.0, &["--appendonly", "yes"]);
    let mut c = node.conn();
    let m: Option<String> = redis::cmd("GET").arg("m").query(&mut c).expect("get");
    assert_eq!(m, None, "half a transaction must not be applied");
    let a: Option<String> = redis::cmd("GET").arg("a").query(&mut c).expect("get");
    assert_eq!(a.as_deref(), Some("a"));
    assert_eq!(
        std::fs::metadata(&incr).expect("incr").len(),
        good,
        "cut before MULTI"
    );
}

#[test]
fn corrupt_middle_stops_the_start_naming_file_and_offset() {
    let (dir, incr) = prepared("aof-corrupt");
    let good = std::fs::metadata(&incr).expect("incr").len();
    append(
        &incr,
        b"*2\r\n$3\r\nDEL\r\nxx\r\n*3\r\n$3\r\nSET\r\n$1\r\nz\r\n$1\r\nz\r\n",
    );
    let before = std::fs::read(&incr).expect("read");
    let err = Server::try_start_in(&dir.0, &["--appendonly", "yes"])
        .err()
        .expect("start refused on a corrupt AOF");
    assert!(err.contains("appendonly.aof.1.incr.aof"), "{err}");
    // The bad `$` line of the DEL's key: the command starts at `good`, its
    // second line 4 + 9 bytes later.
    assert!(err.contains(&format!("offset {}", good + 4 + 9)), "{err}");
    assert_eq!(
        std::fs::read(&incr).expect("read"),
        before,
        "nothing dropped"
    );
}
