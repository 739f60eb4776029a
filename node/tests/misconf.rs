//! Writes refused for a disk problem (MISCONF), as Redis 7.0 refuses them: after
//! a failed BGSAVE while save rules are set, side by side with redis-server
//! (the replies byte for byte), and after the append-only file hits a full
//! disk (a size-limited tmpfs), where nothing acknowledged may be lost once
//! space is back. Real processes; waits poll with deadlines.

mod common;
mod rawresp;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{info, wait_until_for, Server};
use rawresp::Raw;

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    wait_until_for(what, Duration::from_secs(20), &mut f);
}

/// Starts a BGSAVE and waits for it to end; returns its INFO status.
fn bgsave(port: u16) -> String {
    let mut c = Raw::connect(port);
    let started = c.cmd_s(&["BGSAVE"]);
    assert!(started.starts_with('+'), "BGSAVE: {started}");
    let mut status = String::new();
    wait_until("the BGSAVE to end", || {
        let p = info(port, "persistence");
        status = p["rdb_last_bgsave_status"].clone();
        p["rdb_bgsave_in_progress"] == "0"
    });
    status
}

/// One scripted step on both servers; the replies must be identical.
fn same(a: &mut Raw, b: &mut Raw, argv: &[&str]) -> String {
    let (x, y) = (a.cmd_s(argv), b.cmd_s(argv));
    assert_eq!(
        x, y,
        "{argv:?}: kcache-node (left) and redis-server (right)"
    );
    x
}

struct Dirs(Vec<PathBuf>);

impl Drop for Dirs {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

#[test]
fn a_failed_bgsave_refuses_writes_as_redis_does() {
    let root = common::scratch_dir("misconf");
    let (nd, rd) = (root.join("node"), root.join("redis"));
    let _dirs = Dirs(vec![root.clone()]);
    for d in [&nd, &rd] {
        std::fs::create_dir_all(d).expect("scratch dir");
    }
    let ns = nd.to_string_lossy().into_owned();
    let rs = rd.to_string_lossy().into_owned();
    let protected = ["--enable-protected-configs", "yes"];
    let node = Server::start(&[&protected[..], &["--save", "3600 1", "--dir", &ns]].concat());
    let redis =
        Server::start_redis(&[&protected[..], &["--save", "3600 1", "--dir", &rs]].concat());
    let (mut a, mut b) = (Raw::connect(node.port), Raw::connect(redis.port));
    let (mut a2, mut b2) = (Raw::connect(node.port), Raw::connect(redis.port));
    same(&mut a, &mut b, &["SET", "a", "1"]);
    // A transaction queued before the failure, run after it.
    same(&mut a2, &mut b2, &["MULTI"]);
    same(&mut a2, &mut b2, &["SET", "queued", "1"]);

    // The snapshot directory disappears: the next BGSAVE fails on both.
    std::fs::remove_dir_all(&nd).expect("remove dir");
    std::fs::remove_dir_all(&rd).expect("remove dir");
    assert_eq!(bgsave(node.port), "err");
    assert_eq!(bgsave(redis.port), "err");

    let refused = same(&mut a, &mut b, &["SET", "b", "1"]);
    assert!(refused.starts_with("-MISCONF "), "{refused}");
    same(&mut a, &mut b, &["PING"]);
    same(&mut a, &mut b, &["INCR", "a"]);
    assert_eq!(same(&mut a, &mut b, &["GET", "a"]), "$1\r\n1\r\n");
    same(&mut a, &mut b, &["ECHO", "reads still work"]);
    same(&mut a2, &mut b2, &["EXEC"]);
    // A write refused while queueing aborts the transaction.
    same(&mut a, &mut b, &["MULTI"]);
    same(&mut a, &mut b, &["GET", "a"]);
    same(&mut a, &mut b, &["DEL", "a"]);
    same(&mut a, &mut b, &["EXEC"]);
    // A read-only transaction runs.
    same(&mut a, &mut b, &["MULTI"]);
    same(&mut a, &mut b, &["GET", "a"]);
    same(&mut a, &mut b, &["EXEC"]);
    // Either setting lifts the refusal, and restoring it brings it back.
    same(
        &mut a,
        &mut b,
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"],
    );
    same(&mut a, &mut b, &["SET", "c", "1"]);
    same(
        &mut a,
        &mut b,
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"],
    );
    same(&mut a, &mut b, &["SET", "c", "2"]);
    same(&mut a, &mut b, &["CONFIG", "SET", "save", ""]);
    same(&mut a, &mut b, &["SET", "c", "3"]);
    same(&mut a, &mut b, &["CONFIG", "SET", "save", "3600 1"]);
    same(&mut a, &mut b, &["SET", "c", "4"]);
    // Counted as Redis counts them (the test's INFO connections add CLIENT
    // SETINFO errors on redis-server 7.0, so only these two are compared).
    let errors = |port| {
        let e = info(port, "errorstats");
        (
            e["errorstat_MISCONF"].clone(),
            e["errorstat_EXECABORT"].clone(),
        )
    };
    assert_eq!(errors(node.port), errors(redis.port));

    // The directory is back: a successful BGSAVE clears the error.
    for (d, s, port) in [(&nd, &ns, node.port), (&rd, &rs, redis.port)] {
        std::fs::create_dir_all(d).expect("scratch dir");
        // Redis works in its directory: CONFIG SET dir moves it into the new one.
        assert_eq!(
            Raw::connect(port).cmd_s(&["CONFIG", "SET", "dir", s]),
            "+OK\r\n"
        );
    }
    assert_eq!(bgsave(node.port), "ok");
    assert_eq!(bgsave(redis.port), "ok");
    same(&mut a, &mut b, &["SET", "d", "1"]);
    same(&mut a, &mut b, &["PING"]);
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = common::scratch_dir("misconf-tmpfs");
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "mounting a {size} tmpfs on {} failed: this test fills a disk and needs root",
            dir.display()
        );
        Tmpfs(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Fills the file system of `dir` with `dir/filler` until it is full.
fn fill(dir: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(dir.join("filler")).expect("filler");
    let chunk = vec![0u8; 64 * 1024];
    let mut small = vec![0u8; 512];
    loop {
        if f.write_all(&chunk).is_err() {
            break;
        }
    }
    // The last bytes, so that even a small append fails.
    while f.write_all(&small).is_ok() {}
    small.truncate(1);
    while f.write_all(&small).is_ok() {}
}

#[test]
fn a_full_disk_refuses_writes_and_loses_nothing_acknowledged() {
    let fs = Tmpfs::mount("8m");
    // No save rules: only the AOF can fail here.
    let args = [
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
    ];
    let mut node = Server::start_in(&fs.0, &args);
    let mut c = Raw::connect(node.port);
    let value = "v".repeat(200);
    let mut acked = Vec::new();
    for i in 0..100 {
        assert_eq!(c.cmd_s(&["SET", &format!("before:{i}"), &value]), "+OK\r\n");
        acked.push(format!("before:{i}"));
    }

    fill(&fs.0);
    // Acknowledged until the first failed write is seen, then refused.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut refusal = String::new();
    for i in 0..1_000_000 {
        assert!(
            Instant::now() < deadline,
            "no MISCONF after {i} writes to a full disk"
        );
        let r = c.cmd_s(&["SET", &format!("during:{i}"), &value]);
        if r == "+OK\r\n" {
            acked.push(format!("during:{i}"));
        } else {
            refusal = r;
            break;
        }
    }
    assert_eq!(
        refusal,
        "-MISCONF Errors writing to the AOF file: No space left on device\r\n"
    );
    assert_eq!(
        info(node.port, "persistence")["aof_last_write_status"],
        "err"
    );
    assert_eq!(
        c.cmd_s(&["PING"]),
        refusal,
        "PING is refused too, as in Redis"
    );
    assert!(c
        .cmd_s(&["GET", "before:0"])
        .ends_with(&format!("{value}\r\n")));

    // Space is back: the retried write succeeds and writes are accepted again.
    std::fs::remove_file(fs.0.join("filler")).expect("remove filler");
    wait_until("writes accepted again", || {
        c.cmd_s(&["SET", "after:0", &value]) == "+OK\r\n"
    });
    acked.push("after:0".into());
    assert_eq!(
        info(node.port, "persistence")["aof_last_write_status"],
        "ok"
    );
    for i in 1..100 {
        assert_eq!(c.cmd_s(&["SET", &format!("after:{i}"), &value]), "+OK\r\n");
        acked.push(format!("after:{i}"));
    }
    wait_until("the AOF written out", || {
        info(node.port, "persistence")["aof_buffer_length"] == "0"
    });

    // Every acknowledged write is in the file: a restart from it has them all.
    node.kill9();
    drop(node);
    let node = Server::start_in(&fs.0, &args);
    let mut c = Raw::connect(node.port);
    let missing: Vec<&String> = acked
        .iter()
        .filter(|k| c.cmd_s(&["EXISTS", k]) != ":1\r\n")
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged writes missing after the restart: {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(10)]
    );
    assert_eq!(
        c.cmd_s(&["DBSIZE"]),
        format!(":{}\r\n", acked.len()),
        "no refused write was applied"
    );
}
