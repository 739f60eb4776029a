//! Snapshots under load and damaged files: BGSAVE while a client keeps writing
//! yields a point-in-time image, and a corrupt or truncated dump stops the
//! start with a reason naming the offset. (Cross-loading with redis-server,
//! restarts and DUMP/RESTORE: `tests/py/test_persist.py`.)

mod common;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Server;

fn info_field(c: &mut redis::Connection, field: &str) -> String {
    let info: String = redis::cmd("INFO")
        .arg("persistence")
        .query(c)
        .expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
        .trim()
        .to_string()
}

fn wait_bgsave(c: &mut redis::Connection) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while info_field(c, "rdb_bgsave_in_progress") == "1" {
        assert!(Instant::now() < deadline, "BGSAVE did not finish");
        std::thread::yield_now();
    }
}

fn fresh_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("kcache-persist-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create dir");
    d
}

const COUNTERS: usize = 16;

#[test]
fn bgsave_under_concurrent_writes_is_point_in_time() {
    let srv = Server::start(&["--save", ""]);
    let mut c = srv.conn();
    // Enough data that the snapshot takes a while.
    let value = "v".repeat(100);
    for batch in 0..200 {
        let mut p = redis::pipe();
        let mut mset = redis::cmd("MSET");
        for i in 0..1000 {
            mset.arg(format!("fill:{batch}:{i}")).arg(&value);
        }
        p.add_command(mset).ignore();
        p.query::<()>(&mut c).expect("MSET");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, done) = (stop.clone(), done.clone());
        let mut w = srv.conn();
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // One transaction moves every counter, then the sequence grows:
                // a point-in-time image has equal counters and a gap-free
                // sequence one shorter or equal to them.
                let mut p = redis::pipe();
                p.atomic();
                for k in 0..COUNTERS {
                    p.cmd("INCR").arg(format!("counter:{k}")).ignore();
                }
                p.query::<()>(&mut w).expect("EXEC");
                redis::cmd("SET")
                    .arg(format!("seq:{i}"))
                    .arg(i)
                    .query::<()>(&mut w)
                    .expect("SET");
                i += 1;
                done.store(i, Ordering::Relaxed);
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while done.load(Ordering::Relaxed) < 50 {
        assert!(Instant::now() < deadline, "writer made no progress");
        std::thread::yield_now();
    }
    let before: String = redis::cmd("BGSAVE").query(&mut c).expect("BGSAVE");
    assert_eq!(before, "Background saving started");
    let at_start = done.load(Ordering::Relaxed);
    wait_bgsave(&mut c);
    let at_end = done.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    let cow: u64 = info_field(&mut c, "rdb_last_cow_size")
        .parse()
        .expect("number");
    assert!(cow > 0);

    // Load the image into a fresh node.
    let dir = fresh_dir("pit");
    std::fs::copy(srv.dir.join("dump.rdb"), dir.join("dump.rdb")).expect("copy dump");
    let loaded = Server::start(&["--save", "", "--dir", dir.to_str().expect("utf-8 path")]);
    let mut l = loaded.conn();
    let counters: Vec<Option<u64>> = (0..COUNTERS)
        .map(|k| {
            redis::cmd("GET")
                .arg(format!("counter:{k}"))
                .query(&mut l)
                .expect("GET")
        })
        .collect();
    let v = counters[0].expect("counters were saved");
    assert!(counters.iter().all(|c| *c == Some(v)), "{counters:?}");
    let mut n = 0u64;
    while redis::cmd("EXISTS")
        .arg(format!("seq:{n}"))
        .query::<i64>(&mut l)
        .expect("EXISTS")
        == 1
    {
        n += 1;
    }
    let dbsize: u64 = redis::cmd("DBSIZE").query(&mut l).expect("DBSIZE");
    assert_eq!(
        dbsize,
        200_000 + COUNTERS as u64 + n,
        "a gap in the sequence"
    );
    eprintln!("bgsave window: writer at {at_start}..{at_end}, image at {n}");
    assert!(v == n || v == n + 1, "counters {v}, sequence {n}");
    assert!(
        n + 1 >= at_start,
        "image older than the BGSAVE: {n} < {at_start}"
    );
    assert!(n <= at_end, "image newer than the end of the BGSAVE");
    drop(loaded);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts a node on `dir` and expects it to refuse to start; returns stderr.
fn refused_start(dir: &std::path::Path) -> String {
    let bin = std::env::var("KCACHE_NODE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_kcache-node").to_string());
    let mut child = Command::new(bin)
        .args(["--port", "0", "--http-port", "0", "--save", "", "--dir"])
        .arg(dir)
        .env("KCACHE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the node started on a bad file");
        }
        std::thread::yield_now();
    };
    assert!(!status.success());
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read stderr");
    err
}

#[test]
fn corrupt_and_truncated_files_are_refused_with_the_offset() {
    let srv = Server::start(&["--save", ""]);
    let mut c = srv.conn();
    for i in 0..2000 {
        redis::cmd("RPUSH")
            .arg("list")
            .arg(format!("element-{i}"))
            .query::<()>(&mut c)
            .expect("RPUSH");
        redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query::<()>(&mut c)
            .expect("SET");
    }
    let _: () = redis::cmd("SAVE").query(&mut c).expect("SAVE");
    let good = std::fs::read(srv.dir.join("dump.rdb")).expect("dump.rdb");
    let dir = fresh_dir("bad");
    let path = dir.join("dump.rdb");

    std::fs::write(&path, &good[..good.len() / 2]).expect("write");
    let e = refused_start(&dir);
    assert!(e.contains("unexpected end of data"), "{e}");
    assert!(e.contains(&format!("offset {}", good.len() / 2)), "{e}");

    let mut flipped = good.clone();
    let mid = good.len() / 3;
    flipped[mid] ^= 0x20;
    std::fs::write(&path, &flipped).expect("write");
    let e = refused_start(&dir);
    assert!(e.contains("offset"), "{e}");

    std::fs::write(&path, b"not an rdb file at all").expect("write");
    let e = refused_start(&dir);
    assert!(e.contains("offset") && e.contains("REDIS magic"), "{e}");

    // The intact file loads.
    std::fs::write(&path, &good).expect("write");
    let ok = Server::start(&["--save", "", "--dir", dir.to_str().expect("utf-8 path")]);
    let n: i64 = redis::cmd("LLEN")
        .arg("list")
        .query(&mut ok.conn())
        .expect("LLEN");
    assert_eq!(n, 2000);
    drop(ok);
    let _ = std::fs::remove_dir_all(&dir);
}
