//! BGREWRITEAOF on the snapshot engine: a rewrite under a concurrent write
//! load restarts to the same contents (counters incremented during the
//! rewrite included), the start-up order of Redis 7.0 with `appendonly yes`
//! and an RDB file, rewrites and saves taking turns (scheduling and Redis's
//! replies), and the automatic rewrite.

mod aof_support;
mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aof_support::{assert_same, dump, preload};
use common::Server;

/// A directory removed when the test ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn info_field(c: &mut redis::Connection, name: &str) -> String {
    let info: String = redis::cmd("INFO")
        .arg("persistence")
        .query(c)
        .expect("info");
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Polls INFO persistence until `name` is `want`.
fn wait_field(c: &mut redis::Connection, name: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = info_field(c, name);
        if v == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} stayed {v}, wanted {want}"
        );
        std::thread::yield_now();
    }
}

fn aof_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("appendonlydir"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

const WRITERS: usize = 3;

#[test]
fn rewrite_under_write_load_restarts_to_the_same_state() {
    let dir = TempDir(common::scratch_dir("rewrite-load"));
    let args = ["--appendonly", "yes", "--appendfsync", "everysec"];
    let mut node = Server::start_in(&dir.0, &args);
    preload(&node, 20_000, 64);
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Vec<Arc<AtomicU64>> = (0..WRITERS).map(|_| Arc::default()).collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (url, stop, acked) = (node.url(), stop.clone(), acked[w].clone());
            std::thread::spawn(move || {
                let mut c = redis::Client::open(url)
                    .and_then(|c| c.get_connection())
                    .expect("connect");
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    // A counter, and writes over the preloaded keys (some
                    // deleted, some with a TTL) while their stripes wait for
                    // the snapshot.
                    let n: i64 = redis::cmd("INCR")
                        .arg(format!("counter:{w}"))
                        .query(&mut c)
                        .expect("incr");
                    assert_eq!(n as u64, i + 1);
                    let k = format!("pre:{}", (i * 7919 + w as u64 * 104_729) % 20_000);
                    let _: () = match i % 4 {
                        0 => redis::cmd("APPEND").arg(&k).arg(w).query(&mut c),
                        1 => redis::cmd("DEL").arg(&k).query(&mut c),
                        2 => redis::cmd("SET")
                            .arg(&k)
                            .arg(i)
                            .arg("EX")
                            .arg(1000)
                            .query(&mut c),
                        _ => redis::cmd("RPUSH")
                            .arg(format!("list:{w}"))
                            .arg(i)
                            .query(&mut c),
                    }
                    .expect("write");
                    i += 1;
                    acked.store(i, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let mut c = node.conn();
    let deadline = Instant::now() + Duration::from_secs(10);
    while acked.iter().any(|a| a.load(Ordering::Relaxed) < 50) {
        assert!(Instant::now() < deadline, "writers never got going");
        std::thread::yield_now();
    }
    let during_start: Vec<u64> = acked.iter().map(|a| a.load(Ordering::Relaxed)).collect();
    let reply: String = redis::cmd("BGREWRITEAOF")
        .query(&mut c)
        .expect("bgrewriteaof");
    assert_eq!(reply, "Background append only file rewriting started");
    wait_field(&mut c, "aof_rewrite_in_progress", "0");
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    // Some more after the rewrite, then stop.
    let after: Vec<u64> = acked
        .iter()
        .map(|a| a.load(Ordering::Relaxed) + 50)
        .collect();
    while acked
        .iter()
        .zip(&after)
        .any(|(a, &n)| a.load(Ordering::Relaxed) < n)
    {
        assert!(
            Instant::now() < deadline + Duration::from_secs(30),
            "writers stalled"
        );
        std::thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    for t in writers {
        t.join().expect("writer");
    }
    let counted: Vec<u64> = acked.iter().map(|a| a.load(Ordering::Relaxed)).collect();
    assert!(counted.iter().zip(&during_start).all(|(a, b)| a > b));
    let files = aof_files(&dir.0);
    assert!(
        files.contains(&"appendonly.aof.2.base.rdb".to_string()),
        "{files:?}"
    );
    let before = dump(&mut c);
    node.kill9();
    let node = Server::start_in(&dir.0, &args);
    let mut c = node.conn();
    for (w, n) in counted.iter().enumerate() {
        let v: u64 = redis::cmd("GET")
            .arg(format!("counter:{w}"))
            .query(&mut c)
            .expect("get");
        assert_eq!(v, *n, "counter:{w}");
    }
    assert_same(
        &before,
        &dump(&mut c),
        "after a restart from the rewritten AOF",
    );
}

/// `appendonly yes`, an RDB file and no AOF directory yet: redis-server 7.0
/// loads nothing (the AOF alone is read) and writes an empty RDB-format
/// base; so does the node.
#[test]
fn appendonly_yes_with_only_an_rdb_file_starts_empty_as_redis() {
    for redis in [false, true] {
        let dir = TempDir(common::scratch_dir("rdb-then-aof"));
        let d = dir.0.to_string_lossy().into_owned();
        let start = |extra: &[&str]| -> Server {
            let mut a = vec!["--dir", d.as_str()];
            a.extend_from_slice(extra);
            if redis {
                Server::start_redis(&a)
            } else {
                Server::start_in(&dir.0, &a)
            }
        };
        let s = start(&[]);
        let mut c = s.conn();
        let _: () = redis::cmd("SET")
            .arg("a")
            .arg(1)
            .query(&mut c)
            .expect("set");
        let _: String = redis::cmd("SAVE").query(&mut c).expect("save");
        drop(c);
        drop(s);
        assert!(dir.0.join("dump.rdb").exists());
        let s = start(&["--appendonly", "yes"]);
        let mut c = s.conn();
        let n: i64 = redis::cmd("DBSIZE").query(&mut c).expect("dbsize");
        assert_eq!(n, 0, "redis={redis}: the RDB file is not loaded");
        assert_eq!(
            aof_files(&dir.0),
            vec![
                "appendonly.aof.1.base.rdb",
                "appendonly.aof.1.incr.aof",
                "appendonly.aof.manifest"
            ],
            "redis={redis}"
        );
        let base =
            std::fs::read(dir.0.join("appendonlydir/appendonly.aof.1.base.rdb")).expect("base");
        assert!(base.starts_with(b"REDIS"), "redis={redis}");
    }
}

#[test]
fn rewrites_and_saves_take_turns_as_in_redis() {
    let node = Server::start(&["--appendonly", "yes", "--auto-aof-rewrite-percentage", "0"]);
    preload(&node, 300_000, 100);
    let mut c = node.conn();
    // BGREWRITEAOF while BGSAVE runs: scheduled, started when it ends.
    let (saving, rewrite, scheduled): (String, String, String) = redis::pipe()
        .cmd("BGSAVE")
        .cmd("BGREWRITEAOF")
        .cmd("INFO")
        .arg("persistence")
        .query(&mut c)
        .expect("pipeline");
    assert_eq!(saving, "Background saving started");
    assert_eq!(rewrite, "Background append only file rewriting scheduled");
    assert!(scheduled.contains("aof_rewrite_scheduled:1"), "{scheduled}");
    assert!(
        scheduled.contains("rdb_bgsave_in_progress:1"),
        "{scheduled}"
    );
    wait_field(&mut c, "aof_rewrites", "1");
    wait_field(&mut c, "aof_rewrite_in_progress", "0");
    assert_eq!(info_field(&mut c, "aof_rewrite_scheduled"), "0");
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");

    // BGSAVE while a rewrite runs: Redis's error, or scheduled with SCHEDULE
    // (one command at a time: the rewrite of 300k keys outlasts them).
    let err = |cmd: &mut redis::Cmd, c: &mut redis::Connection| -> String {
        match cmd.query::<redis::Value>(c) {
            Err(e) => format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")),
            Ok(v) => format!("not an error: {v:?}"),
        }
    };
    let r: String = redis::cmd("BGREWRITEAOF")
        .query(&mut c)
        .expect("bgrewriteaof");
    assert_eq!(r, "Background append only file rewriting started");
    assert_eq!(
        err(&mut redis::cmd("BGSAVE"), &mut c),
        "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."
    );
    let r: String = redis::cmd("BGSAVE")
        .arg("SCHEDULE")
        .query(&mut c)
        .expect("bgsave schedule");
    assert_eq!(r, "Background saving scheduled");
    assert_eq!(
        err(&mut redis::cmd("BGREWRITEAOF"), &mut c),
        "ERR Background append only file rewriting already in progress"
    );
    assert_eq!(info_field(&mut c, "aof_rewrite_in_progress"), "1");
    // The scheduled BGSAVE runs after the rewrite.
    assert_eq!(info_field(&mut c, "rdb_saves"), "1");
    wait_field(&mut c, "aof_rewrites", "2");
    wait_field(&mut c, "rdb_saves", "2");
    wait_field(&mut c, "rdb_bgsave_in_progress", "0");
    // SAVE during a rewrite waits for it, then saves (Redis saves at once).
    let (r, s): (String, String) = redis::pipe()
        .cmd("BGREWRITEAOF")
        .cmd("SAVE")
        .query(&mut c)
        .expect("pipeline");
    assert_eq!(r, "Background append only file rewriting started");
    assert_eq!(s, "OK");
    assert_eq!(info_field(&mut c, "aof_rewrite_in_progress"), "0");
}

#[test]
fn the_aof_is_rewritten_automatically_when_it_grows() {
    let dir = TempDir(common::scratch_dir("rewrite-auto"));
    let node = Server::start_in(
        &dir.0,
        &[
            "--appendonly",
            "yes",
            "--auto-aof-rewrite-percentage",
            "100",
            "--auto-aof-rewrite-min-size",
            "200000",
        ],
    );
    let mut c = node.conn();
    let size: String = redis::cmd("CONFIG")
        .arg("GET")
        .arg("auto-aof-rewrite-min-size")
        .query::<Vec<String>>(&mut c)
        .expect("config get")
        .pop()
        .unwrap_or_default();
    assert_eq!(size, "200000");
    assert_eq!(info_field(&mut c, "aof_rewrites"), "0");
    // Overwriting one key: the incr file grows, the data does not.
    let value = "x".repeat(1000);
    for _ in 0..150 {
        let _: () = redis::cmd("SET")
            .arg("k")
            .arg(&value)
            .query(&mut c)
            .expect("set");
    }
    assert_eq!(
        info_field(&mut c, "aof_rewrites"),
        "0",
        "rewrote below the minimum size"
    );
    for _ in 0..100 {
        let _: () = redis::cmd("SET")
            .arg("k")
            .arg(&value)
            .query(&mut c)
            .expect("set");
    }
    wait_field(&mut c, "aof_rewrites", "1");
    wait_field(&mut c, "aof_rewrite_in_progress", "0");
    let current: u64 = info_field(&mut c, "aof_current_size")
        .parse()
        .expect("size");
    assert!(
        current < 100_000,
        "the rewrite did not shrink the AOF: {current}"
    );
    let base: u64 = info_field(&mut c, "aof_base_size").parse().expect("size");
    assert!(base > 0 && base <= current);
    // Off: no more automatic rewrites.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("auto-aof-rewrite-percentage")
        .arg(0)
        .query(&mut c)
        .expect("config set");
    for _ in 0..600 {
        let _: () = redis::cmd("SET")
            .arg("k")
            .arg(&value)
            .query(&mut c)
            .expect("set");
    }
    // Several cron ticks (hz 10) see the grown file and start nothing.
    let until = Instant::now() + Duration::from_millis(400);
    while Instant::now() < until {
        assert_eq!(info_field(&mut c, "aof_rewrites"), "1");
        assert_eq!(info_field(&mut c, "aof_rewrite_in_progress"), "0");
    }
}
