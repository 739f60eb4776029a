//! The replica side of replication against a real redis-server 7.0 primary:
//! handshake, full sync (both payload forms), the command stream with
//! identical contents and offsets, partial resync after a link kill, ACKs
//! (WAIT), READONLY / MASTERDOWN, promotion, /readyz, the empty-dataset
//! safety rule, and no active expiry on a replica.
//!
//! Full syncs load the primary's snapshot with the RDB reader
//! (`full_sync_loads_the_primary_dataset`); most tests write their data after
//! the sync so that they exercise the stream.

mod common;
mod rawresp;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{conn_on, http_get, info, wait_until_for, Server};
use rawresp::Raw;

const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `f` until it holds or the deadline passes.
fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    wait_until_for(what, DEADLINE, &mut f)
}

fn field(port: u16, name: &str) -> String {
    info(port, "replication")
        .get(name)
        .cloned()
        .unwrap_or_default()
}

fn cmd_s(port: u16, args: &[&str]) -> String {
    Raw::connect(port).cmd_s(args)
}

/// A diskless redis-server primary (the fastest to sync).
fn primary(extra: &[&str]) -> Server {
    let mut args = vec![
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ];
    args.extend_from_slice(extra);
    Server::start_redis(&args)
}

/// A redis-server on a given port (to restart a primary in place).
fn redis_on(port: u16, args: &[&str]) -> Server {
    let dir = std::env::temp_dir().join(format!(
        "kcache-replica-link-{}-{port}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--bind",
            "127.0.0.1",
        ])
        .args(args)
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server");
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

fn replicate(node: &Server, primary: &Server) {
    assert_eq!(
        cmd_s(
            node.port,
            &["REPLICAOF", "127.0.0.1", &primary.port.to_string()]
        ),
        "+OK\r\n"
    );
    wait_until("master_link_status:up", || {
        field(node.port, "master_link_status") == "up"
    });
}

/// Waits until the replica has applied everything the primary produced.
fn caught_up(node: &Server, primary: &Server) -> i64 {
    let mut last = (String::new(), String::new());
    let end = Instant::now() + DEADLINE;
    while Instant::now() < end {
        let theirs = field(primary.port, "master_repl_offset");
        let ours = field(node.port, "master_repl_offset");
        if theirs == ours && field(node.port, "slave_repl_offset") == ours {
            return ours.parse().unwrap();
        }
        last = (theirs, ours);
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("offsets never met: primary {} replica {}", last.0, last.1);
}

/// Every key of the first `dbs` databases with its type, contents and
/// absolute expiry, in a form that does not depend on hash order.
fn snapshot(port: u16, dbs: usize) -> BTreeMap<(usize, String), String> {
    let mut c = conn_on(port);
    let mut out = BTreeMap::new();
    for db in 0..dbs {
        redis::cmd("SELECT").arg(db).query::<()>(&mut c).unwrap();
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut c).unwrap();
        for k in keys {
            let t: String = redis::cmd("TYPE").arg(&k).query(&mut c).unwrap();
            let body = match t.as_str() {
                "string" => format!(
                    "{:?}",
                    redis::cmd("GET").arg(&k).query::<redis::Value>(&mut c)
                ),
                "hash" => format!(
                    "{:?}",
                    redis::cmd("HGETALL")
                        .arg(&k)
                        .query::<BTreeMap<String, String>>(&mut c)
                ),
                "set" => {
                    let mut m: Vec<String> = redis::cmd("SMEMBERS").arg(&k).query(&mut c).unwrap();
                    m.sort();
                    format!("{m:?}")
                }
                "list" => format!(
                    "{:?}",
                    redis::cmd("LRANGE")
                        .arg(&k)
                        .arg(0)
                        .arg(-1)
                        .query::<Vec<String>>(&mut c)
                ),
                "zset" => format!(
                    "{:?}",
                    redis::cmd("ZRANGE")
                        .arg(&k)
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES")
                        .query::<Vec<String>>(&mut c)
                ),
                "stream" => format!(
                    "{:?} {:?}",
                    redis::cmd("XRANGE")
                        .arg(&k)
                        .arg("-")
                        .arg("+")
                        .query::<redis::Value>(&mut c),
                    // Not XINFO GROUPS: `entries-read` is not replicated by
                    // Redis either (XREADGROUP propagates as XCLAIM ... LASTID).
                    redis::cmd("XPENDING")
                        .arg(&k)
                        .arg("grp")
                        .query::<redis::Value>(&mut c)
                ),
                other => other.to_string(),
            };
            let at: i64 = redis::cmd("PEXPIRETIME").arg(&k).query(&mut c).unwrap();
            out.insert((db, k), format!("{t} {body} expire={at}"));
        }
    }
    out
}

/// Writes of every family over three databases, including relative TTLs
/// (propagated as absolute times) and a transaction.
fn write_mix(port: u16, round: &str) {
    let mut c = Raw::connect(port);
    let cmds: Vec<Vec<String>> = [
        "SELECT 0",
        "SET s{r} hello",
        "APPEND s{r} -world",
        "SET n{r} 10",
        "INCRBY n{r} 5",
        "INCRBYFLOAT n{r} 0.5",
        "SET ttl{r} v EX 1000",
        "SETEX ttl2{r} 500 v",
        "SETBIT bits{r} 77 1",
        "PFADD hll{r} a b c d",
        "HSET h{r} f1 v1 f2 v2 f3 v3",
        "HDEL h{r} f2",
        "RPUSH l{r} a b c d",
        "LPOP l{r}",
        "LPUSH l{r} z",
        "SELECT 1",
        "SADD st{r} x y z",
        "SREM st{r} y",
        "ZADD z{r} 1 a 2 b 3.5 c",
        "ZINCRBY z{r} 10 a",
        "EXPIRE z{r} 3000",
        "XADD x{r} 1-1 f v",
        "XADD x{r} * g w",
        "XGROUP CREATE x{r} grp 0",
        "XREADGROUP GROUP grp c1 COUNT 1 STREAMS x{r} >",
        "SELECT 2",
        "MULTI",
        "SET tx1{r} a",
        "SET tx2{r} b",
        "DEL tx1{r}",
        "EXEC",
        "GEOADD geo{r} 13.361389 38.115556 Palermo",
        "SET gone{r} x",
        "DEL gone{r}",
        "RENAME tx2{r} tx3{r}",
    ]
    .iter()
    .map(|l| {
        l.replace("{r}", round)
            .split(' ')
            .map(str::to_string)
            .collect()
    })
    .collect();
    for cmd in &cmds {
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let r = c.cmd_s(&args);
        assert!(!r.starts_with('-'), "{args:?} failed on the primary: {r}");
    }
}

#[test]
fn follows_a_redis_primary_with_identical_contents_and_offsets() {
    let p = primary(&[]);
    let node = Server::start(&[]);
    let hp = node.http_port();
    assert_eq!(http_get(hp, "/readyz").0, 200, "a primary is ready");
    replicate(&node, &p);
    assert_eq!(
        http_get(hp, "/readyz").0,
        200,
        "an in-sync replica is ready"
    );

    write_mix(p.port, "a");
    write_mix(p.port, "b");
    let offset = caught_up(&node, &p);
    assert!(offset > 0);
    assert_eq!(snapshot(node.port, 3), snapshot(p.port, 3));
    assert!(snapshot(node.port, 3).len() > 20);

    // The replica's INFO and ROLE.
    let r = info(node.port, "replication");
    assert_eq!(r["role"], "slave");
    assert_eq!(r["master_host"], "127.0.0.1");
    assert_eq!(r["master_port"], p.port.to_string());
    assert_eq!(r["master_sync_in_progress"], "0");
    assert_eq!(r["slave_read_only"], "1");
    assert_eq!(r["master_sync_refused_empty"], "0");
    assert!(!r.contains_key("master_link_down_since_seconds"));
    let pi = info(p.port, "replication");
    assert_eq!(
        r["master_replid"], pi["master_replid"],
        "the primary's id is ours"
    );
    assert_eq!(r["slave_repl_offset"], pi["master_repl_offset"]);
    let role = cmd_s(node.port, &["ROLE"]);
    assert_eq!(
        role,
        format!(
            "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:{}\r\n$9\r\nconnected\r\n:{offset}\r\n",
            p.port
        )
    );
    // The primary sees us online at our listening port, with our offset.
    let slave0 = &pi["slave0"];
    assert!(slave0.contains(&format!("port={}", node.port)), "{slave0}");
    assert!(slave0.contains("state=online"), "{slave0}");
    // WAIT counts our ACKs.
    assert_eq!(cmd_s(p.port, &["SET", "acked", "1"]), "+OK\r\n");
    assert_eq!(cmd_s(p.port, &["WAIT", "1", "5000"]), ":1\r\n");
    wait_until("primary sees our ACKed offset", || {
        let o = field(p.port, "master_repl_offset");
        field(p.port, "slave0").contains(&format!("offset={o},"))
    });

    // Clients cannot write; reads and non-write commands work.
    assert_eq!(
        cmd_s(node.port, &["SET", "x", "1"]),
        "-READONLY You can't write against a read only replica.\r\n"
    );
    assert_eq!(cmd_s(node.port, &["GET", "sa"]), "$11\r\nhello-world\r\n");
    let mut c = Raw::connect(node.port);
    c.cmd(&["MULTI"]);
    assert!(c.cmd_s(&["INCR", "na"]).starts_with("-READONLY"));
    assert!(c.cmd_s(&["EXEC"]).starts_with("-EXECABORT"));
    // The master link is listed, and is what TYPE master kills.
    let list = cmd_s(node.port, &["CLIENT", "LIST", "TYPE", "master"]);
    assert!(list.contains(&format!("127.0.0.1:{}", p.port)), "{list}");
    let hello = cmd_s(node.port, &["HELLO", "3"]);
    assert!(hello.contains("$4\r\nrole\r\n$7\r\nreplica\r\n"), "{hello}");
}

#[test]
fn partial_resync_after_the_link_is_killed_on_either_side() {
    let p = primary(&[]);
    let node = Server::start(&[]);
    replicate(&node, &p);
    write_mix(p.port, "a");
    caught_up(&node, &p);
    let stats = |k: &str| info(p.port, "stats")[k].clone();
    assert_eq!(stats("sync_full"), "1");

    // Killed on the replica: writes during the gap arrive through the backlog.
    let killed = cmd_s(node.port, &["CLIENT", "KILL", "TYPE", "master"]);
    assert_eq!(killed, ":1\r\n");
    write_mix(p.port, "b");
    wait_until("partial resync accepted", || {
        stats("sync_partial_ok") == "1"
    });
    caught_up(&node, &p);
    assert_eq!(snapshot(node.port, 3), snapshot(p.port, 3));

    // Killed on the primary, with a write inside a database other than 0
    // just before: the stream resumes in the database it was in.
    let mut pc = Raw::connect(p.port);
    pc.cmd(&["SELECT", "1"]);
    pc.cmd(&["SET", "in-db1-before", "x"]);
    caught_up(&node, &p);
    assert_eq!(
        cmd_s(p.port, &["CLIENT", "KILL", "TYPE", "replica"]),
        ":1\r\n"
    );
    pc.cmd(&["SET", "in-db1-after", "y"]);
    write_mix(p.port, "c");
    wait_until("second partial resync", || stats("sync_partial_ok") == "2");
    caught_up(&node, &p);
    assert_eq!(snapshot(node.port, 3), snapshot(p.port, 3));
    assert_eq!(stats("sync_full"), "1", "never a second full sync");
}

#[test]
fn replicaof_no_one_promotes_and_keeps_the_data() {
    let p = primary(&[]);
    let node = Server::start(&[]);
    replicate(&node, &p);
    write_mix(p.port, "a");
    let offset = caught_up(&node, &p);
    let before = snapshot(node.port, 3);
    let old_id = field(node.port, "master_replid");

    assert_eq!(cmd_s(node.port, &["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    let r = info(node.port, "replication");
    assert_eq!(r["role"], "master");
    assert_eq!(r["master_replid2"], old_id);
    assert_ne!(r["master_replid"], old_id);
    assert_eq!(r["master_repl_offset"], offset.to_string());
    assert_eq!(r["second_repl_offset"], (offset + 1).to_string());
    assert_eq!(snapshot(node.port, 3), before, "promotion keeps the data");
    assert_eq!(cmd_s(node.port, &["SET", "x", "1"]), "+OK\r\n");
    // The history goes on: the write is in the backlog kept since the sync.
    let now: i64 = field(node.port, "master_repl_offset").parse().unwrap();
    assert!(now > offset, "{now} > {offset}");
    assert_eq!(
        cmd_s(node.port, &["ROLE"]),
        format!("*3\r\n$6\r\nmaster\r\n:{now}\r\n*0\r\n")
    );
    // The old primary no longer feeds us.
    assert_eq!(cmd_s(p.port, &["SET", "late", "1"]), "+OK\r\n");
    wait_until("the primary dropped us", || {
        field(p.port, "connected_slaves") == "0"
    });
    assert_eq!(cmd_s(node.port, &["EXISTS", "late"]), ":0\r\n");
    // Again NO ONE on a primary: +OK, nothing changes.
    assert_eq!(cmd_s(node.port, &["SLAVEOF", "NO", "ONE"]), "+OK\r\n");
    assert_eq!(field(node.port, "master_replid2"), old_id);
}

#[test]
fn replicaof_replies_match_redis() {
    let redis = Server::start_redis(&[]);
    let node = Server::start(&[]);
    let dead = common::free_port().to_string();
    let cmds: Vec<Vec<&str>> = vec![
        vec!["REPLICAOF", "NO", "ONE"],
        vec!["REPLICAOF", "127.0.0.1", "x"],
        vec!["REPLICAOF", "127.0.0.1", "70000"],
        vec!["REPLICAOF", "127.0.0.1", "-1"],
        vec!["REPLICAOF", "no", "two"],
        vec!["REPLICAOF", "127.0.0.1"],
        vec!["SLAVEOF"],
        vec!["REPLICAOF", "127.0.0.1", &dead],
        vec!["REPLICAOF", "127.0.0.1", &dead],
        vec!["SLAVEOF", "127.0.0.1", &dead],
        vec!["SET", "k", "v"],
        vec!["CONFIG", "GET", "replicaof"],
        vec!["CONFIG", "SET", "replicaof", "a 1"],
        vec!["REPLICAOF", "no", "one"],
        vec!["CONFIG", "GET", "replicaof"],
        vec!["ROLE", "x"],
    ];
    let mut a = Raw::connect(node.port);
    let mut b = Raw::connect(redis.port);
    for c in &cmds {
        let (ours, theirs) = (a.cmd_s(c), b.cmd_s(c));
        if c[0] == "CONFIG" && c[1] == "SET" {
            // Both refuse it; the wording of immutable-parameter errors is
            // the config module's.
            assert!(
                ours.starts_with("-ERR") && theirs.starts_with("-ERR"),
                "{ours} {theirs}"
            );
            continue;
        }
        assert_eq!(ours, theirs, "reply to {c:?}");
    }
}

#[test]
fn readyz_masterdown_and_link_states() {
    let dead = common::free_port();
    let node = Server::start(&["--replica-serve-stale-data", "no"]);
    let hp = node.http_port();
    assert_eq!(
        cmd_s(node.port, &["REPLICAOF", "127.0.0.1", &dead.to_string()]),
        "+OK\r\n"
    );
    let (code, body) = http_get(hp, "/readyz");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("replica link down"), "{body}");
    let r = info(node.port, "replication");
    assert_eq!(r["master_link_status"], "down");
    assert_eq!(r["master_last_io_seconds_ago"], "-1");
    assert_eq!(r["master_link_down_since_seconds"], "-1");
    let role = cmd_s(node.port, &["ROLE"]);
    assert!(
        role.contains("connect") && role.ends_with(":-1\r\n"),
        "{role}"
    );
    // Stale data refused; STALE-flagged commands still answer.
    assert_eq!(
        cmd_s(node.port, &["GET", "k"]),
        "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    );
    assert!(cmd_s(node.port, &["INFO", "replication"]).starts_with('$'));

    // The primary appears: in sync, ready, serving.
    let p = redis_on(dead, &["--repl-diskless-sync", "no"]);
    wait_until("link up", || field(node.port, "master_link_status") == "up");
    assert_eq!(http_get(hp, "/readyz").0, 200);
    assert_eq!(cmd_s(p.port, &["SET", "k", "v"]), "+OK\r\n");
    caught_up(&node, &p);
    assert_eq!(cmd_s(node.port, &["GET", "k"]), "$1\r\nv\r\n");

    // The primary dies: not ready, down since, MASTERDOWN again.
    drop(p);
    wait_until("link down", || {
        field(node.port, "master_link_status") == "down"
    });
    assert_eq!(http_get(hp, "/readyz").0, 503);
    assert!(cmd_s(node.port, &["GET", "k"]).starts_with("-MASTERDOWN"));
    let since: i64 = field(node.port, "master_link_down_since_seconds")
        .parse()
        .unwrap();
    assert!(since >= 0);
}

#[test]
fn refuses_an_empty_sync_from_a_primary_that_restarted_empty() {
    let port = common::free_port();
    // A disk-based primary: the payload comes as `$<len>`.
    let p = redis_on(port, &["--repl-diskless-sync", "no"]);
    let node = Server::start(&[]);
    let hp = node.http_port();
    replicate(&node, &p);
    write_mix(p.port, "a");
    caught_up(&node, &p);
    let data = snapshot(node.port, 3);
    let old_id = field(node.port, "master_replid");

    // SIGKILL, then the primary comes back empty with a new id.
    drop(p);
    let p = redis_on(
        port,
        &[
            "--repl-diskless-sync",
            "yes",
            "--repl-diskless-sync-delay",
            "0",
        ],
    );
    wait_until("the refusal is reported", || {
        field(node.port, "master_sync_refused_empty") == "1"
    });
    let r = info(node.port, "replication");
    assert_eq!(
        r["master_sync_refused_replid"],
        field(p.port, "master_replid")
    );
    assert_eq!(r["master_link_status"], "down");
    assert_eq!(r["master_replid"], old_id, "nothing adopted from it");
    assert_eq!(snapshot(node.port, 3), data, "the data is kept");
    let (code, body) = http_get(hp, "/readyz");
    assert_eq!(code, 503);
    assert!(body.contains("refused"), "{body}");

    // The operator's override: the next attempt loads the empty dataset.
    assert_eq!(
        cmd_s(
            node.port,
            &["CONFIG", "SET", "replica-accept-empty-sync", "yes"]
        ),
        "+OK\r\n"
    );
    wait_until("link up after the override", || {
        field(node.port, "master_link_status") == "up"
    });
    assert_eq!(field(node.port, "master_sync_refused_empty"), "0");
    assert_eq!(cmd_s(node.port, &["DBSIZE"]), ":0\r\n");
    assert_eq!(http_get(hp, "/readyz").0, 200);
}

#[test]
fn a_replica_waits_for_its_primary_to_expire_keys() {
    // Active expiry off on the primary, so only our own cycle could delete.
    let p = primary(&["--enable-debug-command", "yes"]);
    assert_eq!(
        cmd_s(p.port, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]),
        "+OK\r\n"
    );
    let node = Server::start(&["--hz", "100"]);
    replicate(&node, &p);
    assert_eq!(cmd_s(p.port, &["SET", "k", "v", "PX", "100"]), "+OK\r\n");
    assert_eq!(cmd_s(p.port, &["SET", "keep", "v"]), "+OK\r\n");
    caught_up(&node, &p);
    let expire_at: i64 = cmd_s(node.port, &["PEXPIRETIME", "k"])
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    wait_until("the key's time passed", || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
            > expire_at + 300
    });
    // Reads see it as gone, but it stays until the primary's DEL: many of our
    // expiry cycles (hz 100) have run by now.
    assert_eq!(cmd_s(node.port, &["GET", "k"]), "$-1\r\n");
    assert_eq!(cmd_s(node.port, &["EXISTS", "k"]), ":0\r\n");
    assert_eq!(cmd_s(node.port, &["DBSIZE"]), ":2\r\n");
    assert_eq!(info(node.port, "stats")["expired_keys"], "0");
    // A read on the primary expires it there; the DEL it propagates removes it.
    assert_eq!(cmd_s(p.port, &["GET", "k"]), "$-1\r\n");
    caught_up(&node, &p);
    assert_eq!(cmd_s(node.port, &["DBSIZE"]), ":1\r\n");
}

#[test]
fn full_sync_loads_the_primary_dataset() {
    let p = primary(&[]);
    write_mix(p.port, "pre");
    let node = Server::start(&[]);
    replicate(&node, &p);
    caught_up(&node, &p);
    assert_eq!(snapshot(node.port, 3), snapshot(p.port, 3));
}
