//! The primary side of replication with real processes on loopback: a
//! redis-server 7.0 replica following a kcache primary, kcache -> kcache full
//! and partial syncs, a promoted replica continuing its history (replid2),
//! WAIT-acknowledged writes surviving a SIGKILLed primary, min-replicas, and
//! a 1M-key full sync measured against redis-server -> redis-server.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{conn_on, field, info, num, replicaof, wait_until_for, Server};

const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `f` until it holds or the deadline passes.
fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    wait_until_for(what, DEADLINE, &mut f)
}

/// A kcache replica of `primary`.
fn kcache_replica(primary: u16, extra: &[&str]) -> Server {
    let spec = replicaof(primary);
    let mut args = vec!["--replicaof", spec.as_str()];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn link_up(port: u16) -> bool {
    field(port, "replication", "master_link_status") == "up"
}

/// Waits until the replica's applied offset equals the primary's.
fn wait_caught_up(primary: u16, replica: u16) {
    wait_until("replica offset == primary offset", || {
        let p = num(primary, "replication", "master_repl_offset");
        let r = num(replica, "replication", "slave_repl_offset");
        p > 0 && p == r
    });
}

/// Every key of every database as `(db, key) -> type:value` in a
/// canonical form (unordered collections sorted).
fn contents(port: u16) -> BTreeMap<(i64, Vec<u8>), String> {
    let mut c = conn_on(port);
    let mut all = BTreeMap::new();
    for db in 0..16 {
        redis::cmd("SELECT").arg(db).query::<()>(&mut c).unwrap();
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut c).unwrap();
        for k in keys {
            let t: String = redis::cmd("TYPE").arg(&k).query(&mut c).unwrap();
            let v = match t.as_str() {
                "string" => format!(
                    "{:?}",
                    redis::cmd("GET").arg(&k).query::<Vec<u8>>(&mut c).unwrap()
                ),
                "list" => format!(
                    "{:?}",
                    redis::cmd("LRANGE")
                        .arg(&k)
                        .arg(0)
                        .arg(-1)
                        .query::<Vec<Vec<u8>>>(&mut c)
                        .unwrap()
                ),
                "hash" => {
                    let m: BTreeMap<Vec<u8>, Vec<u8>> =
                        redis::cmd("HGETALL").arg(&k).query(&mut c).unwrap();
                    format!("{m:?}")
                }
                "set" => {
                    let mut m: Vec<Vec<u8>> = redis::cmd("SMEMBERS").arg(&k).query(&mut c).unwrap();
                    m.sort();
                    format!("{m:?}")
                }
                "zset" => format!(
                    "{:?}",
                    redis::cmd("ZRANGE")
                        .arg(&k)
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES")
                        .query::<Vec<Vec<u8>>>(&mut c)
                        .unwrap()
                ),
                "stream" => format!(
                    "{:?}",
                    redis::cmd("XRANGE")
                        .arg(&k)
                        .arg("-")
                        .arg("+")
                        .query::<redis::Value>(&mut c)
                        .unwrap()
                ),
                other => other.to_string(),
            };
            let ttl: i64 = redis::cmd("PTTL").arg(&k).query(&mut c).unwrap();
            // Expiry times are equal; remaining TTLs only roughly.
            let has_ttl = ttl >= 0;
            all.insert((db, k), format!("{t}:{v}:ttl={has_ttl}"));
        }
    }
    all
}

/// Writes one key of each type in database `db`, named with `tag`.
fn write_every_type(port: u16, db: i64, tag: &str) {
    let mut c = conn_on(port);
    redis::cmd("SELECT").arg(db).query::<()>(&mut c).unwrap();
    let k = |t: &str| format!("{tag}:{t}");
    let _: () = redis::pipe()
        .cmd("SET")
        .arg(k("str"))
        .arg("hello")
        .ignore()
        .cmd("SET")
        .arg(k("int"))
        .arg(12345)
        .ignore()
        .cmd("SET")
        .arg(k("ttl"))
        .arg("v")
        .arg("EX")
        .arg(1000)
        .ignore()
        .cmd("RPUSH")
        .arg(k("list"))
        .arg("a")
        .arg("b")
        .arg("c")
        .ignore()
        .cmd("HSET")
        .arg(k("hash"))
        .arg("f1")
        .arg("v1")
        .arg("f2")
        .arg("v2")
        .ignore()
        .cmd("SADD")
        .arg(k("set"))
        .arg("x")
        .arg("y")
        .arg(7)
        .ignore()
        .cmd("ZADD")
        .arg(k("zset"))
        .arg(1.5)
        .arg("m1")
        .arg(2)
        .arg("m2")
        .ignore()
        .cmd("XADD")
        .arg(k("stream"))
        .arg("1-1")
        .arg("f")
        .arg("v")
        .ignore()
        .cmd("PFADD")
        .arg(k("hll"))
        .arg("a")
        .arg("b")
        .ignore()
        .cmd("INCRBYFLOAT")
        .arg(k("float"))
        .arg("1.5")
        .ignore()
        .query(&mut c)
        .unwrap();
    let big: Vec<String> = (0..300).map(|i| format!("member-{i}")).collect();
    let _: () = redis::cmd("SADD")
        .arg(k("bigset"))
        .arg(&big)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("RPUSH")
        .arg(k("biglist"))
        .arg(&big)
        .query(&mut c)
        .unwrap();
}

#[test]
fn redis_server_replica_follows_a_kcache_primary() {
    let primary = Server::start(&[]);
    for db in [0, 3, 9] {
        write_every_type(primary.port, db, &format!("before{db}"));
    }
    let port = primary.port.to_string();
    let replica = Server::start_redis(&["--replicaof", "127.0.0.1", &port]);
    wait_until("redis replica link up", || link_up(replica.port));
    assert_eq!(
        contents(primary.port),
        contents(replica.port),
        "after the full sync"
    );
    // Streamed writes, including a transaction and a database switch.
    for db in [0, 5] {
        write_every_type(primary.port, db, &format!("after{db}"));
    }
    let mut c = conn_on(primary.port);
    let _: () = redis::cmd("DEL").arg("before0:str").query(&mut c).unwrap();
    let _: () = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("tx:counter")
        .ignore()
        .cmd("LPUSH")
        .arg("tx:list")
        .arg("z")
        .ignore()
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("EXPIRE")
        .arg("before3:str")
        .arg(500)
        .query(&mut c)
        .unwrap();
    wait_caught_up(primary.port, replica.port);
    assert_eq!(
        contents(primary.port),
        contents(replica.port),
        "after streaming"
    );
    // The primary sees the replica and its offset.
    let i = info(primary.port, "replication");
    assert_eq!(i["connected_slaves"], "1");
    assert!(i["slave0"].contains("state=online"), "{}", i["slave0"]);
    assert_eq!(i["repl_backlog_active"], "1");
    wait_until(
        "the replica's ACK reaches the offset (INFO and ROLE)",
        || {
            let i = info(primary.port, "replication");
            let off = &i["master_repl_offset"];
            let role: redis::Value = redis::cmd("ROLE")
                .query(&mut conn_on(primary.port))
                .unwrap();
            i["slave0"].contains(&format!("offset={off},"))
                && format!("{role:?}").contains(&format!("\"{off}\""))
        },
    );
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("replica")
        .query(&mut c)
        .unwrap();
    assert!(list.contains("flags=S"), "{list}");
}

#[test]
fn kcache_replica_resyncs_partially_after_a_link_kill() {
    let primary = Server::start(&[]);
    write_every_type(primary.port, 0, "a");
    let replica = kcache_replica(primary.port, &[]);
    wait_until("link up", || link_up(replica.port));
    wait_caught_up(primary.port, replica.port);
    assert_eq!(num(primary.port, "stats", "sync_full"), 1);
    let mut c = conn_on(primary.port);
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("replica")
        .query(&mut c)
        .unwrap();
    assert_eq!(killed, 1);
    write_every_type(primary.port, 2, "b");
    wait_until("partial resync", || {
        num(primary.port, "stats", "sync_partial_ok") == 1
    });
    wait_caught_up(primary.port, replica.port);
    assert_eq!(contents(primary.port), contents(replica.port));
    assert_eq!(
        num(primary.port, "stats", "sync_full"),
        1,
        "no second full sync"
    );
    // WAIT counts the replica once it acknowledged.
    let _: () = redis::cmd("SET").arg("w").arg("1").query(&mut c).unwrap();
    let n: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut c).unwrap();
    assert_eq!(n, 1);
    let n: i64 = redis::cmd("WAIT").arg(2).arg(100).query(&mut c).unwrap();
    assert_eq!(n, 1, "times out with the count");
}

#[test]
fn promoted_replica_continues_the_history_for_its_sibling() {
    let mut primary = Server::start(&[]);
    write_every_type(primary.port, 0, "p");
    let a = kcache_replica(primary.port, &[]);
    let b = kcache_replica(primary.port, &[]);
    for r in [&a, &b] {
        wait_until("link up", || link_up(r.port));
        wait_caught_up(primary.port, r.port);
    }
    let old_id = field(primary.port, "replication", "master_replid");
    primary.kill9();
    let mut ca = conn_on(a.port);
    let _: () = redis::cmd("REPLICAOF")
        .arg("NO")
        .arg("ONE")
        .query(&mut ca)
        .unwrap();
    assert_eq!(field(a.port, "replication", "master_replid2"), old_id);
    let _: () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(a.port)
        .query(&mut conn_on(b.port))
        .unwrap();
    wait_until("sibling link up", || link_up(b.port));
    assert_eq!(
        num(a.port, "stats", "sync_partial_ok"),
        1,
        "+CONTINUE with replid2"
    );
    assert_eq!(num(a.port, "stats", "sync_full"), 0);
    write_every_type(a.port, 1, "new");
    wait_caught_up(a.port, b.port);
    assert_eq!(contents(a.port), contents(b.port));
    assert_eq!(
        field(b.port, "replication", "master_replid"),
        field(a.port, "replication", "master_replid")
    );
}

#[test]
fn wait_acknowledged_writes_survive_a_killed_primary() {
    let mut primary = Server::start(&[]);
    let replica = kcache_replica(primary.port, &[]);
    wait_until("link up", || link_up(replica.port));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (acked, stop, port) = (acked.clone(), stop.clone(), primary.port);
        writers.push(std::thread::spawn(move || {
            let mut c = conn_on(port);
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("w{w}:{i}");
                if redis::cmd("SET")
                    .arg(&key)
                    .arg(i)
                    .query::<()>(&mut c)
                    .is_err()
                {
                    return;
                }
                match redis::cmd("WAIT").arg(1).arg(1000).query::<i64>(&mut c) {
                    Ok(1) => acked.lock().unwrap().push(key),
                    Ok(_) => {}
                    Err(_) => return,
                }
                i += 1;
            }
        }));
    }
    wait_until("some acknowledged writes", || {
        acked.lock().unwrap().len() > 500
    });
    primary.kill9();
    stop.store(true, Ordering::Relaxed);
    for t in writers {
        t.join().unwrap();
    }
    let _: () = redis::cmd("REPLICAOF")
        .arg("NO")
        .arg("ONE")
        .query(&mut conn_on(replica.port))
        .unwrap();
    let keys = acked.lock().unwrap().clone();
    let mut c = conn_on(replica.port);
    let mut missing = 0;
    for chunk in keys.chunks(1000) {
        let vals: Vec<Option<String>> = redis::cmd("MGET").arg(chunk).query(&mut c).unwrap();
        missing += vals.iter().filter(|v| v.is_none()).count();
    }
    assert_eq!(missing, 0, "of {} acknowledged writes", keys.len());
}

#[test]
fn min_replicas_to_write_refuses_writes_without_a_good_replica() {
    let primary = Server::start(&[
        "--min-replicas-to-write",
        "1",
        "--min-replicas-max-lag",
        "2",
    ]);
    let mut c = conn_on(primary.port);
    let e = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("NOREPLICAS"), "{e}");
    let mut replica = kcache_replica(primary.port, &[]);
    wait_until("writes accepted with a good replica", || {
        redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query::<()>(&mut c)
            .is_ok()
    });
    // A replica that stops answering: refused once its lag passes 2 s.
    let pid = replica.pid().to_string();
    assert!(Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    let stopped = Instant::now();
    wait_until("NOREPLICAS after the max lag", || {
        redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query::<()>(&mut c)
            .is_err()
    });
    assert!(
        stopped.elapsed() >= Duration::from_secs(1),
        "refused too early"
    );
    let e = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("Not enough good replicas"), "{e}");
    // Reads still work.
    let _: Option<String> = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert!(Command::new("kill")
        .args(["-CONT", &pid])
        .status()
        .unwrap()
        .success());
    wait_until("writes accepted again", || {
        redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query::<()>(&mut c)
            .is_ok()
    });
    replica.kill9();
    wait_until("refused once the replica is gone", || {
        redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query::<()>(&mut c)
            .is_err()
    });
}

/// Loads `n` string keys `key:<i>` = `value:<i>` with redis-cli --pipe.
fn populate(port: u16, n: usize) {
    let mut child = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    {
        let mut w = std::io::BufWriter::new(child.stdin.take().unwrap());
        for i in 0..n {
            let k = format!("key:{i}");
            let v = format!("value:{i}:{}", "x".repeat(i % 50));
            write!(
                w,
                "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
                k.len(),
                v.len()
            )
            .unwrap();
        }
    }
    assert!(child.wait().unwrap().success());
}

/// An order-independent digest of db 0: (keys, sum of per-key hashes).
fn digest(port: u16) -> (u64, u64) {
    fn fnv(bytes: &[u8], mut h: u64) -> u64 {
        for b in bytes {
            h ^= *b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        h
    }
    let mut c = conn_on(port);
    let (mut keys, mut sum) = (0u64, 0u64);
    let mut cursor = 0u64;
    // SCAN may return a key twice; count each once.
    let mut seen = std::collections::HashSet::new();
    loop {
        let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(20000)
            .query(&mut c)
            .unwrap();
        let batch: Vec<Vec<u8>> = batch
            .into_iter()
            .filter(|k| seen.insert(k.clone()))
            .collect();
        if !batch.is_empty() {
            let vals: Vec<Option<Vec<u8>>> = redis::cmd("MGET").arg(&batch).query(&mut c).unwrap();
            for (k, v) in batch.iter().zip(vals) {
                let h = fnv(k, 0xcbf29ce484222325);
                sum = sum.wrapping_add(fnv(&v.unwrap_or_default(), h));
                keys += 1;
            }
        }
        cursor = next;
        if cursor == 0 {
            return (keys, sum);
        }
    }
}

/// Full sync of `n` keys from `primary` to a new replica started by
/// `start_replica`, with writes running during it. Returns (seconds to
/// online, payload bytes).
fn timed_full_sync(
    primary: &Server,
    start_replica: impl FnOnce() -> Server,
    n: usize,
) -> (f64, Server) {
    let stop = Arc::new(AtomicBool::new(false));
    let (s, port) = (stop.clone(), primary.port);
    let writer = std::thread::spawn(move || {
        let mut c = conn_on(port);
        let mut i = 0usize;
        while !s.load(Ordering::Relaxed) {
            let _: () = redis::pipe()
                .cmd("APPEND")
                .arg(format!("key:{}", (i * 7919) % n))
                .arg("+")
                .ignore()
                .cmd("SET")
                .arg(format!("new:{i}"))
                .arg(i)
                .ignore()
                .cmd("DEL")
                .arg(format!("key:{}", (i * 104729) % n))
                .ignore()
                .query(&mut c)
                .unwrap();
            i += 1;
        }
        i
    });
    let started = Instant::now();
    let replica = start_replica();
    wait_until_for(
        "1M-key replica online",
        Duration::from_secs(300),
        &mut || link_up(replica.port),
    );
    let secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let writes = writer.join().unwrap();
    assert!(writes > 0, "writes ran during the sync");
    (secs, replica)
}

/// Size of the snapshot a replica gets (redis-cli --rdb, which syncs too).
fn payload_bytes(port: u16) -> u64 {
    let dir = common::scratch_dir("rdb");
    let path = dir.join("dump.rdb");
    let ok = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "--rdb"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok && len > 0, "redis-cli --rdb");
    len
}

#[test]
fn full_sync_of_a_million_keys_under_writes_matches_and_is_measured() {
    const N: usize = 1_000_000;
    let primary = Server::start(&[]);
    populate(primary.port, N);
    let (k_secs, replica) = timed_full_sync(&primary, || kcache_replica(primary.port, &[]), N);
    wait_caught_up(primary.port, replica.port);
    let (pd, rd) = (digest(primary.port), digest(replica.port));
    assert!(pd.0 > N as u64 / 2, "{pd:?}");
    assert_eq!(pd, rd, "contents after the sync and the writes");
    let k_bytes = payload_bytes(primary.port);
    drop(replica);

    let rprimary = Server::start_redis(&[
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ]);
    populate(rprimary.port, N);
    let rport = rprimary.port.to_string();
    let (r_secs, rreplica) = timed_full_sync(
        &rprimary,
        || Server::start_redis(&["--replicaof", "127.0.0.1", &rport]),
        N,
    );
    wait_caught_up(rprimary.port, rreplica.port);
    assert_eq!(digest(rprimary.port), digest(rreplica.port));
    let r_bytes = payload_bytes(rprimary.port);
    let mb = |b: u64, s: f64| b as f64 / s / 1e6;
    eprintln!(
        "FULL SYNC 1M keys: kcache->kcache {k_secs:.2}s to online, {:.0} keys/s, {:.1} MB/s ({k_bytes} B); \
         redis->redis {r_secs:.2}s, {:.0} keys/s, {:.1} MB/s ({r_bytes} B); kcache/redis time ratio {:.2}",
        N as f64 / k_secs,
        mb(k_bytes, k_secs),
        N as f64 / r_secs,
        mb(r_bytes, r_secs),
        k_secs / r_secs
    );
}

/// Starts kcache in `dir` on a fixed port (to restart it in place).
fn node_in(dir: &std::path::Path, port: u16, extra: &[&str]) -> Server {
    let p = port.to_string();
    let mut args = vec!["--port", p.as_str()];
    args.extend_from_slice(extra);
    Server::start_in(dir, &args)
}

#[test]
fn restarted_primary_and_replica_resume_with_partial_resyncs() {
    let pdir = common::scratch_dir("primary");
    let rdir = common::scratch_dir("replica");
    let pport = common::free_port();
    // A disk-based full sync ($<len> form) the first time.
    let mut primary = node_in(&pdir, pport, &["--repl-diskless-sync", "no"]);
    write_every_type(pport, 0, "one");
    let spec = replicaof(pport);
    let mut replica = Server::start_in(&rdir, &["--replicaof", &spec]);
    wait_until("link up", || link_up(replica.port));
    wait_caught_up(pport, replica.port);
    assert_eq!(num(pport, "stats", "sync_full"), 1);
    write_every_type(pport, 1, "two");
    wait_caught_up(pport, replica.port);

    // The replica restarts from its own RDB: PSYNC continues its history.
    let _: () = redis::cmd("SAVE")
        .query(&mut conn_on(replica.port))
        .unwrap();
    replica.kill9();
    write_every_type(pport, 2, "three");
    let mut replica = Server::start_in(&rdir, &["--replicaof", &spec]);
    wait_until("restarted replica up", || link_up(replica.port));
    wait_caught_up(pport, replica.port);
    assert_eq!(num(pport, "stats", "sync_partial_ok"), 1, "replica restart");
    assert_eq!(num(pport, "stats", "sync_full"), 1);
    assert_eq!(contents(pport), contents(replica.port));

    // The primary restarts from its RDB: its old id becomes replid2 and the
    // replica resumes with it.
    let old_id = field(pport, "replication", "master_replid");
    let offset = num(pport, "replication", "master_repl_offset");
    let _: () = redis::cmd("SAVE").query(&mut conn_on(pport)).unwrap();
    primary.kill9();
    let primary = node_in(&pdir, pport, &[]);
    let i = info(pport, "replication");
    assert_eq!(i["master_replid2"], old_id);
    assert_eq!(i["second_repl_offset"], (offset + 1).to_string());
    assert_eq!(i["master_repl_offset"], offset.to_string());
    wait_until("replica back", || link_up(replica.port));
    assert_eq!(num(pport, "stats", "sync_partial_ok"), 1, "primary restart");
    assert_eq!(num(pport, "stats", "sync_full"), 0);
    write_every_type(pport, 3, "four");
    wait_caught_up(pport, replica.port);
    assert_eq!(contents(pport), contents(replica.port));
    drop(primary);
    replica.kill9();
    let _ = std::fs::remove_dir_all(&pdir);
    let _ = std::fs::remove_dir_all(&rdir);
}

#[test]
fn a_replica_of_a_replica_gets_the_primarys_stream_byte_for_byte() {
    let primary = Server::start(&[]);
    write_every_type(primary.port, 0, "x");
    let a = kcache_replica(primary.port, &[]);
    wait_until("a up", || link_up(a.port));
    let b = kcache_replica(a.port, &[]);
    wait_until("b up", || link_up(b.port));
    write_every_type(primary.port, 4, "y");
    let _: () = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("t")
        .arg("1")
        .ignore()
        .cmd("INCR")
        .arg("t")
        .ignore()
        .query(&mut conn_on(primary.port))
        .unwrap();
    wait_caught_up(primary.port, a.port);
    // Offsets agree along the chain: b's is the primary's.
    wait_caught_up(primary.port, b.port);
    assert_eq!(contents(primary.port), contents(b.port));
    assert_eq!(
        field(b.port, "replication", "master_replid"),
        field(primary.port, "replication", "master_replid")
    );
}

/// A replica over its maxmemory evicts nothing by default (its primary's DELs
/// keep it identical, as Redis's `replica-ignore-maxmemory yes`), and evicts on
/// its own when that is turned off.
#[test]
fn a_replica_over_maxmemory_leaves_eviction_to_its_primary() {
    let primary = Server::start(&[]);
    let limits = ["--maxmemory", "2mb", "--maxmemory-policy", "allkeys-random"];
    let replica = kcache_replica(primary.port, &limits);
    wait_until("link up", || link_up(replica.port));
    populate(primary.port, 60_000);
    wait_caught_up(primary.port, replica.port);
    let dbsize = |port: u16| -> i64 {
        redis::cmd("DBSIZE")
            .query(&mut conn_on(port))
            .expect("DBSIZE")
    };
    assert_eq!(dbsize(replica.port), 60_000, "the replica evicted keys");
    assert!(
        num(replica.port, "memory", "used_memory") > 2 << 20,
        "the data set must exceed the replica's maxmemory for this test"
    );
    // Reads on the replica run (no OOM, no eviction).
    let v: Option<String> = redis::cmd("GET")
        .arg("key:7")
        .query(&mut conn_on(replica.port))
        .expect("GET");
    assert!(v.is_some_and(|v| v.starts_with("value:7:")));
    assert_eq!(num(replica.port, "stats", "evicted_keys"), 0);
    assert_eq!(digest(primary.port), digest(replica.port));

    // With the setting off the replica enforces its own limit.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("replica-ignore-maxmemory")
        .arg("no")
        .query(&mut conn_on(replica.port))
        .expect("CONFIG SET");
    let _: Option<String> = redis::cmd("GET")
        .arg("key:7")
        .query(&mut conn_on(replica.port))
        .expect("GET");
    wait_until("the replica evicts", || {
        num(replica.port, "stats", "evicted_keys") > 0
    });
    assert!(dbsize(replica.port) < 60_000);
}
