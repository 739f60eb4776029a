//! The append-only file end to end: a random workload over every command
//! family against a node with AOF on, then the same contents after a restart
//! from the AOF, and in redis-server 7.0 loading the node's AOF directory.

mod aof_support;
mod common;

use std::path::Path;

use aof_support::{assert_same, dump, settle, workload};
use common::Server;

/// A directory removed when the test ends.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

fn info_field(c: &mut redis::Connection, section: &str, name: &str) -> String {
    let info: String = redis::cmd("INFO").arg(section).query(c).expect("info");
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Runs the workload with a rewrite in the middle; returns the settled dump.
fn populate(node: &Server, seed: u64) -> std::collections::BTreeMap<String, String> {
    let mut c = node.conn();
    workload(&node.url(), seed, 2500);
    let _: String = redis::cmd("BGREWRITEAOF")
        .query(&mut c)
        .expect("bgrewriteaof");
    // Writes while the rewrite runs, and after.
    workload(&node.url(), seed + 1, 2500);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while info_field(&mut c, "persistence", "aof_rewrite_in_progress") != "0" {
        assert!(std::time::Instant::now() < deadline, "rewrite never ended");
        std::thread::yield_now();
    }
    assert_eq!(
        info_field(&mut c, "persistence", "aof_last_bgrewrite_status"),
        "ok"
    );
    workload(&node.url(), seed + 2, 1000);
    settle(&mut c);
    let d = dump(&mut c);
    assert!(d.len() > 50, "the workload left too few keys ({})", d.len());
    d
}

#[test]
fn restart_from_aof_restores_every_family() {
    let dir = TempDir(common::scratch_dir("aof-restart"));
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--databases",
        "4",
    ];
    let mut node = Server::start_in(&dir.0, &args);
    let before = populate(&node, 0x5eed_0001);
    node.kill9();
    let node = Server::start_in(&dir.0, &args);
    let mut c = node.conn();
    let after = dump(&mut c);
    assert_same(&before, &after, "kcache after a restart from its AOF");
}

#[test]
fn redis_server_loads_the_aof_to_the_same_contents() {
    let dir = TempDir(common::scratch_dir("aof-redis"));
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--databases",
        "4",
    ];
    let node = Server::start_in(&dir.0, &args);
    let ours = populate(&node, 0x5eed_0002);
    // The default `aof-use-rdb-preamble yes`: an RDB base, as Redis writes.
    let base = dir.0.join("appendonlydir/appendonly.aof.2.base.rdb");
    let bytes = std::fs::read(&base).expect("the rewrite's RDB base");
    assert!(bytes.starts_with(b"REDIS"));
    // A copy of the AOF directory, as the node left it, for redis-server.
    let rdir = TempDir(common::scratch_dir("aof-redis-copy"));
    copy_dir(&dir.0.join("appendonlydir"), &rdir.0.join("appendonlydir"));
    let rdir_s = rdir.0.to_string_lossy().into_owned();
    let redis = Server::start_redis(&["--appendonly", "yes", "--dir", &rdir_s]);
    let mut rc = redis.conn();
    let theirs = dump(&mut rc);
    assert_same(&ours, &theirs, "redis-server loading kcache's AOF");
}

#[test]
fn kcache_loads_an_aof_written_by_redis_server() {
    kcache_loads_redis_server_aof("no", 0x5eed_0003);
}

/// The base redis-server's BGREWRITEAOF writes by default: RDB, with the
/// `aof-base` AUX field, then the incr file's commands.
#[test]
fn kcache_loads_an_rdb_preamble_aof_written_by_redis_server() {
    kcache_loads_redis_server_aof("yes", 0x5eed_0004);
}

fn kcache_loads_redis_server_aof(preamble: &str, seed: u64) {
    let rdir = TempDir(common::scratch_dir("aof-from-redis"));
    let rdir_s = rdir.0.to_string_lossy().into_owned();
    let redis = Server::start_redis(&[
        "--appendonly",
        "yes",
        "--aof-use-rdb-preamble",
        preamble,
        "--dir",
        &rdir_s,
    ]);
    populate(&redis, seed);
    let ext = if preamble == "yes" { "rdb" } else { "aof" };
    let manifest = std::fs::read_to_string(rdir.0.join("appendonlydir/appendonly.aof.manifest"))
        .expect("manifest");
    assert!(
        manifest.contains(&format!(".base.{ext} ")),
        "redis-server's base: {manifest}"
    );
    // Take the files as redis-server leaves them (its everysec write is done
    // before it replies).
    let ndir = TempDir(common::scratch_dir("aof-from-redis-node"));
    copy_dir(&rdir.0.join("appendonlydir"), &ndir.0.join("appendonlydir"));
    let rdir2 = TempDir(common::scratch_dir("aof-from-redis-again"));
    copy_dir(
        &rdir.0.join("appendonlydir"),
        &rdir2.0.join("appendonlydir"),
    );
    drop(redis);
    // Redis's own AOF does not carry everything (a group's entries-read, the
    // counts of some claims): the reference is redis-server reloading it.
    let rdir2_s = rdir2.0.to_string_lossy().into_owned();
    let reloaded = Server::start_redis(&["--appendonly", "yes", "--dir", &rdir2_s]);
    let theirs = dump(&mut reloaded.conn());
    let node = Server::start_in(&ndir.0, &["--appendonly", "yes"]);
    let ours = dump(&mut node.conn());
    assert_same(
        &theirs,
        &ours,
        "kcache and redis-server loading redis-server's AOF",
    );
}

#[test]
fn config_set_appendonly_writes_a_base_of_the_current_data() {
    let dir = TempDir(common::scratch_dir("aof-config"));
    let mut node = Server::start_in(&dir.0, &[]);
    let mut c = node.conn();
    let _: () = redis::cmd("SET")
        .arg("a")
        .arg(1)
        .query(&mut c)
        .expect("set");
    let _: () = redis::cmd("RPUSH")
        .arg("l")
        .arg(&["x", "y"])
        .query(&mut c)
        .expect("rpush");
    let _: () = redis::cmd("HSET")
        .arg("h")
        .arg("f")
        .arg("v")
        .query(&mut c)
        .expect("hset");
    let _: () = redis::cmd("EXPIRE")
        .arg("h")
        .arg(1000)
        .query(&mut c)
        .expect("expire");
    let at: i64 = redis::cmd("PEXPIRETIME")
        .arg("h")
        .query(&mut c)
        .expect("pexpiretime");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("yes")
        .query(&mut c)
        .expect("config set");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while info_field(&mut c, "persistence", "aof_enabled") != "1"
        || info_field(&mut c, "persistence", "aof_rewrite_in_progress") != "0"
    {
        assert!(std::time::Instant::now() < deadline, "AOF never turned on");
        std::thread::yield_now();
    }
    let _: i64 = redis::cmd("INCR").arg("a").query(&mut c).expect("incr");
    node.kill9();
    let node = Server::start_in(&dir.0, &["--appendonly", "yes"]);
    let mut c = node.conn();
    let a: i64 = redis::cmd("GET").arg("a").query(&mut c).expect("get");
    assert_eq!(a, 2);
    let l: Vec<String> = redis::cmd("LRANGE")
        .arg("l")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .expect("lrange");
    assert_eq!(l, vec!["x", "y"]);
    let at2: i64 = redis::cmd("PEXPIRETIME")
        .arg("h")
        .query(&mut c)
        .expect("pexpiretime");
    assert_eq!(at2, at);
    // And off again: later writes are not in the AOF.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("no")
        .query(&mut c)
        .expect("config set");
    assert_eq!(info_field(&mut c, "persistence", "aof_enabled"), "0");
    let _: () = redis::cmd("SET")
        .arg("late")
        .arg(1)
        .query(&mut c)
        .expect("set");
    let mut node = node;
    node.kill9();
    let node = Server::start_in(&dir.0, &["--appendonly", "yes"]);
    let late: Option<i64> = redis::cmd("GET")
        .arg("late")
        .query(&mut node.conn())
        .expect("get");
    assert_eq!(late, None);
}

/// A Redis 6 single-file AOF (`dir/appendonly.aof`): plain commands, or an RDB
/// preamble followed by commands.
fn legacy_aof(dir: &Path, preamble: Option<&[u8]>) {
    let mut bytes = preamble.map(<[u8]>::to_vec).unwrap_or_default();
    for cmd in [
        &["SELECT", "0"][..],
        &["SET", "plain", "1"],
        &["RPUSH", "list", "a", "b", "c"],
        &["INCR", "plain"],
        &["PEXPIREAT", "list", "4102444800000"],
        &["SELECT", "1"],
        &["HSET", "h", "f", "v", "g", "w"],
        &["SADD", "s", "1", "2", "x"],
    ] {
        bytes.extend_from_slice(format!("*{}\r\n", cmd.len()).as_bytes());
        for a in cmd {
            bytes.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
    }
    std::fs::write(dir.join("appendonly.aof"), bytes).expect("write legacy AOF");
}

#[test]
fn a_redis_6_single_file_aof_is_migrated_as_redis_7_does() {
    // An RDB preamble as Redis 6 writes it with aof-use-rdb-preamble: a dump.
    let seed = TempDir(common::scratch_dir("legacy-seed"));
    std::fs::create_dir_all(&seed.0).expect("mkdir");
    let rdb = {
        let s = Server::start_in(&seed.0, &["--save", ""]);
        let mut c = s.conn();
        let _: () = redis::cmd("SET")
            .arg("from-rdb")
            .arg("yes")
            .query(&mut c)
            .expect("set");
        let _: () = redis::cmd("ZADD")
            .arg("z")
            .arg(1)
            .arg("m")
            .query(&mut c)
            .expect("zadd");
        let _: () = redis::cmd("SAVE").query(&mut c).expect("save");
        std::fs::read(seed.0.join("dump.rdb")).expect("dump.rdb")
    };
    for preamble in [None, Some(rdb.as_slice())] {
        let root = TempDir(common::scratch_dir("legacy"));
        let (nd, rd) = (root.0.join("node"), root.0.join("redis"));
        let mut contents = Vec::new();
        let mut manifests = Vec::new();
        for d in [&nd, &rd] {
            std::fs::create_dir_all(d).expect("mkdir");
            legacy_aof(d, preamble);
            let ds = d.to_string_lossy().into_owned();
            let args = ["--appendonly", "yes", "--dir", ds.as_str(), "--save", ""];
            let s = if d == &nd {
                Server::start_in(d, &args)
            } else {
                Server::start_redis(&args)
            };
            let mut c = s.conn();
            contents.push(dump(&mut c));
            assert!(!d.join("appendonly.aof").exists(), "the old file was moved");
            let dir = d.join("appendonlydir");
            assert!(
                dir.join("appendonly.aof").is_file(),
                "the old file is the base"
            );
            manifests.push(
                std::fs::read_to_string(dir.join("appendonly.aof.manifest")).expect("manifest"),
            );
        }
        let what = format!("preamble={}", preamble.is_some());
        assert_same(&contents[0], &contents[1], &what);
        assert_eq!(manifests[0], manifests[1], "{what}: manifests");
        assert!(contents[0].len() >= 4, "{what}: {:?}", contents[0]);
        // The migrated set keeps working: a write, a restart, everything there.
        let args = ["--appendonly", "yes", "--save", ""];
        let s = Server::start_in(&nd, &args);
        let mut c = s.conn();
        let _: () = redis::cmd("SET")
            .arg("after")
            .arg("1")
            .query(&mut c)
            .expect("set");
        let want = dump(&mut c);
        drop(c);
        drop(s);
        let s = Server::start_in(&nd, &args);
        let got = dump(&mut s.conn());
        assert_same(&got, &want, &format!("{what}: after a restart"));
    }
}
