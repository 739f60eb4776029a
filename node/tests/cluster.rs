//! Cluster mode with real processes on loopback: the map pushed with
//! `TOPOLOGY MAP` (checked whole, fenced by the epoch, kept across a SIGKILL
//! restart with the node id), redirects (`MOVED`, `CROSSSLOT` for plain,
//! MULTI, movable-key and blocking commands, `CLUSTERDOWN` before a map),
//! replicas that follow the map and serve READONLY reads, a failover as a
//! new map, the per-slot key counts, clients blocked on a slot that moves,
//! and the `redis` crate's cluster client over 100k keys.

mod common;

use std::time::Duration;

use common::{conn_on, field, scratch_dir, Server};

const DEADLINE: Duration = Duration::from_secs(30);

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    common::wait_until_for(what, DEADLINE, &mut f);
}

/// A reply as text: the value, or `<code> <detail>` for an error.
fn reply(c: &mut redis::Connection, args: &[&str]) -> String {
    let mut q = redis::cmd(args[0]);
    for a in &args[1..] {
        q.arg(*a);
    }
    match q.query::<redis::Value>(c) {
        Ok(redis::Value::Okay) => "OK".into(),
        Ok(redis::Value::Int(n)) => n.to_string(),
        Ok(redis::Value::Nil) => "nil".into(),
        Ok(redis::Value::BulkString(b)) => String::from_utf8_lossy(&b).into_owned(),
        Ok(redis::Value::SimpleString(s)) => s,
        Ok(v) => format!("{v:?}"),
        Err(e) => format!(
            "{} {}",
            e.code().unwrap_or_default(),
            e.detail().unwrap_or_default()
        ),
    }
}

fn cmd(port: u16, args: &[&str]) -> String {
    reply(&mut conn_on(port), args)
}

fn myid(port: u16) -> String {
    cmd(port, &["CLUSTER", "MYID"])
}

/// A node of a map: its id, port and role (`None`: primary of `slots`).
struct Entry<'a> {
    id: &'a str,
    port: u16,
    slots: &'a str,
    of: Option<&'a str>,
}

fn map_args(epoch: u64, nodes: &[Entry]) -> Vec<String> {
    let mut v: Vec<String> = vec!["TOPOLOGY".into(), "MAP".into(), epoch.to_string()];
    for n in nodes {
        v.extend([
            "NODE".into(),
            n.id.into(),
            "127.0.0.1".into(),
            n.port.to_string(),
            format!("node-{}", n.port),
        ]);
        match n.of {
            None => v.extend(["PRIMARY".into(), n.slots.into()]),
            Some(p) => v.extend(["REPLICA".into(), p.into()]),
        }
    }
    v
}

fn push(port: u16, args: &[String]) -> String {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    cmd(port, &a)
}

/// A key whose slot is served by the shard of `range` (inclusive).
fn key_in(range: (u16, u16), tag: &str) -> String {
    (0..)
        .map(|i| format!("{tag}{i}"))
        .find(|k| {
            let s = slot(k);
            s >= range.0 && s <= range.1
        })
        .expect("some key hashes into any range")
}

fn slot(key: &str) -> u16 {
    kcache_node::util::slot::key_slot(key.as_bytes())
}

#[test]
fn the_map_is_checked_fenced_and_kept_across_a_restart() {
    let dir = scratch_dir("cluster-map");
    let mut a = Server::start_in(&dir, &["--cluster-enabled", "yes"]);
    let id = myid(a.port);
    assert_eq!(id.len(), 40);
    assert!(id.bytes().all(|c| c.is_ascii_hexdigit()), "{id}");
    let other = "f".repeat(40);
    assert_eq!(
        cmd(a.port, &["SET", "k", "v"]),
        "CLUSTERDOWN Hash slot not served"
    );
    assert!(cmd(a.port, &["CLUSTER", "INFO"]).contains("cluster_state:fail"));
    let a_port = a.port;
    let one = |epoch, slots| {
        map_args(
            epoch,
            &[Entry {
                id: &id,
                port: a_port,
                slots,
                of: None,
            }],
        )
    };
    assert_eq!(
        push(a.port, &one(5, "0-16000")),
        "ERR 383 slots are not assigned (the first: 16001); a map assigns every slot exactly once"
    );
    assert_eq!(
        push(a.port, &one(5, "0-16383,7")),
        format!("ERR slot 7 is assigned twice (to {id} and {id})")
    );
    let stranger = map_args(
        5,
        &[Entry {
            id: &other,
            port: a.port,
            slots: "0-16383",
            of: None,
        }],
    );
    assert_eq!(
        push(a.port, &stranger),
        format!("ERR this node ({id}) is not in the map")
    );
    assert_eq!(
        cmd(a.port, &["TOPOLOGY", "EPOCH"]),
        "0",
        "refused maps keep no epoch"
    );
    assert_eq!(push(a.port, &one(5, "0-16383")), "OK");
    assert_eq!(cmd(a.port, &["SET", "k", "v"]), "OK");
    assert!(cmd(a.port, &["CLUSTER", "INFO"]).contains("cluster_state:ok"));
    assert_eq!(
        push(a.port, &one(4, "0-16383")),
        "STALEEPOCH topology epoch 4 is older than this node's 5"
    );
    let mut moved = one(5, "0-16383");
    moved[7] = "elsewhere".into();
    assert_eq!(
        push(a.port, &moved),
        "ERR topology epoch 5 already holds another cluster map"
    );
    assert_eq!(
        push(a.port, &one(5, "0-16383")),
        "OK",
        "a retry is accepted"
    );
    let nodes = cmd(a.port, &["CLUSTER", "NODES"]);
    assert_eq!(
        nodes,
        format!(
            "{id} 127.0.0.1:{}@0,node-{} myself,master - 0 0 5 connected 0-16383\n",
            a.port, a.port
        )
    );
    // A crash and a restart on the same directory: same id, same map, same
    // epoch (its own port changed: the map still names the old one).
    a.kill9();
    let b = Server::start_in(&dir, &["--cluster-enabled", "yes"]);
    assert_eq!(myid(b.port), id);
    assert_eq!(cmd(b.port, &["TOPOLOGY", "EPOCH"]), "5");
    assert_eq!(cmd(b.port, &["CLUSTER", "NODES"]), nodes);
    assert_eq!(
        push(b.port, &one(4, "0-16383")),
        "STALEEPOCH topology epoch 4 is older than this node's 5"
    );
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);

    let plain = Server::start(&[]);
    assert_eq!(
        push(plain.port, &one(6, "0-16383")),
        "ERR TOPOLOGY MAP needs cluster mode (cluster-enabled yes)"
    );
    assert_eq!(
        cmd(plain.port, &["CLUSTER", "INFO"]),
        "ERR This instance has cluster support disabled"
    );
    assert_eq!(cmd(plain.port, &["SELECT", "1"]), "OK");
}

const RANGES: [(u16, u16); 3] = [(0, 5460), (5461, 10922), (10923, 16383)];

/// Three shards of a primary and a replica each, with the map pushed.
struct Cluster {
    primaries: Vec<Server>,
    replicas: Vec<Server>,
    pids: Vec<String>,
    rids: Vec<String>,
}

impl Cluster {
    fn start() -> Cluster {
        let start = || Server::start(&["--cluster-enabled", "yes"]);
        let primaries: Vec<Server> = (0..3).map(|_| start()).collect();
        let replicas: Vec<Server> = (0..3).map(|_| start()).collect();
        let pids = primaries.iter().map(|s| myid(s.port)).collect();
        let rids = replicas.iter().map(|s| myid(s.port)).collect();
        let c = Cluster {
            primaries,
            replicas,
            pids,
            rids,
        };
        c.push_all(&c.map(1, false));
        c
    }

    /// The map at `epoch`; `swapped`: shard 0's replica leads it.
    fn map(&self, epoch: u64, swapped: bool) -> Vec<String> {
        let slots: Vec<String> = RANGES.iter().map(|(a, b)| format!("{a}-{b}")).collect();
        let mut nodes = Vec::new();
        for (i, shard_slots) in slots.iter().enumerate() {
            let (mut p, mut r) = (
                (&self.pids[i], self.primaries[i].port),
                (&self.rids[i], self.replicas[i].port),
            );
            if swapped && i == 0 {
                std::mem::swap(&mut p, &mut r);
            }
            nodes.push(Entry {
                id: p.0,
                port: p.1,
                slots: shard_slots,
                of: None,
            });
            nodes.push(Entry {
                id: r.0,
                port: r.1,
                slots: "",
                of: Some(p.0),
            });
        }
        map_args(epoch, &nodes)
    }

    fn push_all(&self, map: &[String]) {
        for s in self.primaries.iter().chain(&self.replicas) {
            assert_eq!(push(s.port, map), "OK");
        }
    }
}

#[test]
fn three_shards_redirect_and_replicas_follow_the_map() {
    let c = Cluster::start();
    let p: Vec<u16> = c.primaries.iter().map(|s| s.port).collect();
    let r: Vec<u16> = c.replicas.iter().map(|s| s.port).collect();
    for (i, range) in RANGES.iter().enumerate() {
        let k = key_in(*range, "k");
        assert_eq!(cmd(p[i], &["SET", &k, "v"]), "OK");
        for j in (0..3).filter(|&j| j != i) {
            assert_eq!(
                cmd(p[j], &["GET", &k]),
                format!("MOVED {} 127.0.0.1:{}", slot(&k), p[i])
            );
        }
    }
    // Keys of one slot: the counters see them, in one shard only.
    let tagged: Vec<String> = (0..50).map(|i| format!("{{user7}}:{i}")).collect();
    let owner = RANGES
        .iter()
        .position(|&(a, b)| (a..=b).contains(&slot("user7")))
        .expect("owned");
    let mut mset = vec!["MSET"];
    for k in &tagged {
        mset.extend([k.as_str(), "x"]);
    }
    assert_eq!(cmd(p[owner], &mset), "OK");
    let s7 = slot("user7").to_string();
    assert_eq!(cmd(p[owner], &["CLUSTER", "COUNTKEYSINSLOT", &s7]), "50");
    assert_eq!(
        cmd(p[(owner + 1) % 3], &["CLUSTER", "COUNTKEYSINSLOT", &s7]),
        "0"
    );
    let mut conn = conn_on(p[owner]);
    let keys: Vec<String> = redis::cmd("CLUSTER")
        .arg("GETKEYSINSLOT")
        .arg(&s7)
        .arg(i64::MAX)
        .query(&mut conn)
        .expect("GETKEYSINSLOT");
    let mut want = tagged.clone();
    want.sort();
    let mut got = keys.clone();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(cmd(p[owner], &["DEL", &tagged[0], &tagged[1]]), "2");
    assert_eq!(cmd(p[owner], &["CLUSTER", "COUNTKEYSINSLOT", &s7]), "48");

    // CROSSSLOT: plain, movable keys, blocking, and in MULTI.
    let (a, b) = (key_in(RANGES[0], "a"), key_in(RANGES[0], "b"));
    assert_ne!(slot(&a), slot(&b));
    let cross = "CROSSSLOT Keys in request don't hash to the same slot";
    for args in [
        vec!["MSET", &a, "1", &b, "2"],
        vec!["ZUNIONSTORE", "{a}d", "2", &a, &b],
        vec!["BLPOP", &a, &b, "0"],
        vec!["BLMPOP", "0", "2", &a, &b, "LEFT"],
        vec!["XREAD", "STREAMS", &a, &b, "0", "0"],
    ] {
        assert_eq!(cmd(p[0], &args), cross, "{args:?}");
    }
    let mut m = conn_on(p[0]);
    assert_eq!(reply(&mut m, &["MULTI"]), "OK");
    assert_eq!(reply(&mut m, &["SET", &a, "1"]), "QUEUED");
    assert_eq!(reply(&mut m, &["SET", &b, "1"]), "QUEUED");
    assert_eq!(reply(&mut m, &["EXEC"]), cross);
    assert_eq!(
        reply(&mut m, &["EXEC"]),
        "ERR EXEC without MULTI",
        "the transaction was discarded"
    );
    assert_eq!(reply(&mut m, &["MULTI"]), "OK");
    let far = key_in(RANGES[2], "far");
    assert_eq!(
        reply(&mut m, &["SET", &far, "1"]),
        format!("MOVED {} 127.0.0.1:{}", slot(&far), p[2])
    );
    assert!(reply(&mut m, &["EXEC"]).starts_with("EXECABORT"));
    assert_eq!(
        cmd(p[0], &["SELECT", "1"]),
        "ERR SELECT is not allowed in cluster mode"
    );

    // Replicas follow the map, redirect by default, serve READONLY reads.
    let k0 = key_in(RANGES[0], "k");
    wait_until("shard 0's replica has the key", || {
        field(r[0], "replication", "master_link_status") == "up"
    });
    let mut rc = conn_on(r[0]);
    assert_eq!(
        reply(&mut rc, &["GET", &k0]),
        format!("MOVED {} 127.0.0.1:{}", slot(&k0), p[0])
    );
    assert_eq!(reply(&mut rc, &["READONLY"]), "OK");
    wait_until("the replica serves the read", || {
        reply(&mut rc, &["GET", &k0]) == "v"
    });
    assert_eq!(
        reply(&mut rc, &["SET", &k0, "w"]),
        format!("MOVED {} 127.0.0.1:{}", slot(&k0), p[0])
    );
    let k1 = key_in(RANGES[1], "k");
    assert_eq!(
        reply(&mut rc, &["GET", &k1]),
        format!("MOVED {} 127.0.0.1:{}", slot(&k1), p[1]),
        "READONLY serves only the own primary's slots"
    );
    assert_eq!(reply(&mut rc, &["READWRITE"]), "OK");
    assert!(reply(&mut rc, &["GET", &k0]).starts_with("MOVED"));

    // A failover is a new map: shard 0's replica leads, its old primary
    // follows it, and the data stays.
    c.push_all(&c.map(2, true));
    assert_eq!(field(r[0], "replication", "role"), "master");
    assert_eq!(cmd(r[0], &["GET", &k0]), "v");
    assert_eq!(cmd(r[0], &["SET", &k0, "w"]), "OK");
    assert_eq!(
        cmd(p[0], &["GET", &k0]),
        format!("MOVED {} 127.0.0.1:{}", slot(&k0), r[0])
    );
    wait_until("the old primary follows the new one", || {
        field(p[0], "replication", "role") == "slave"
            && field(p[0], "replication", "master_port") == r[0].to_string()
    });
    let mut old = conn_on(p[0]);
    assert_eq!(reply(&mut old, &["READONLY"]), "OK");
    wait_until("the old primary has the new write", || {
        reply(&mut old, &["GET", &k0]) == "w"
    });
    let slots = cmd(p[1], &["CLUSTER", "SLOTS"]);
    assert!(slots.contains(&c.rids[0]), "{slots}");
}

/// Sends one command on a raw connection (the reply is read later).
fn send(s: &mut std::net::TcpStream, args: &[&str]) {
    use std::io::Write;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).expect("write");
}

/// Reads one line-terminated reply (an error or simple reply is enough).
fn read_line(s: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while !out.ends_with(b"\r\n") {
        match s.read(&mut b) {
            Ok(1) => out.push(b[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&out).trim_end().to_string()
}

#[test]
fn clients_blocked_or_subscribed_on_a_slot_that_moves_away_are_told() {
    let a = Server::start(&["--cluster-enabled", "yes"]);
    let b = Server::start(&["--cluster-enabled", "yes"]);
    let (ida, idb) = (myid(a.port), myid(b.port));
    let first = map_args(
        1,
        &[
            Entry {
                id: &ida,
                port: a.port,
                slots: "0-16383",
                of: None,
            },
            Entry {
                id: &idb,
                port: b.port,
                slots: "",
                of: None,
            },
        ],
    );
    assert_eq!(push(a.port, &first), "OK");
    let (gone, kept) = ("{x}list", "{y}list");
    let stay = slot(kept);
    let mut moving = std::net::TcpStream::connect(("127.0.0.1", a.port)).expect("connect");
    let mut staying = std::net::TcpStream::connect(("127.0.0.1", a.port)).expect("connect");
    send(&mut moving, &["BLPOP", gone, "0"]);
    send(&mut staying, &["BLPOP", kept, "0"]);
    // Shard channels follow their slot too.
    let mut sub = std::net::TcpStream::connect(("127.0.0.1", a.port)).expect("connect");
    send(&mut sub, &["SSUBSCRIBE", gone]);
    let confirm: Vec<String> = (0..6).map(|_| read_line(&mut sub)).collect();
    assert_eq!(confirm[2], "ssubscribe");
    wait_until("both clients blocked", || {
        common::num(a.port, "clients", "blocked_clients") == 2
    });
    // A keeps only the slot of `kept`; B takes every other one.
    let rest = match stay {
        0 => "1-16383".to_string(),
        16383 => "0-16382".to_string(),
        s => format!("0-{},{}-16383", s - 1, s + 1),
    };
    let keep = stay.to_string();
    let second = map_args(
        2,
        &[
            Entry {
                id: &ida,
                port: a.port,
                slots: &keep,
                of: None,
            },
            Entry {
                id: &idb,
                port: b.port,
                slots: &rest,
                of: None,
            },
        ],
    );
    assert_eq!(push(a.port, &second), "OK");
    assert_eq!(
        read_line(&mut moving),
        format!("-MOVED {} 127.0.0.1:{}", slot(gone), b.port)
    );
    assert_eq!(common::num(a.port, "clients", "blocked_clients"), 1);
    let gone_push: Vec<String> = (0..6).map(|_| read_line(&mut sub)).collect();
    assert_eq!(
        gone_push,
        ["*3", "$12", "sunsubscribe", "$7", gone, ":0"].map(String::from)
    );
    assert_eq!(
        cmd(a.port, &["SPUBLISH", gone, "m"]),
        format!("MOVED {} 127.0.0.1:{}", slot(gone), b.port)
    );
    assert_eq!(cmd(a.port, &["RPUSH", kept, "e"]), "1");
    assert_eq!(read_line(&mut staying), "*2");
}

#[test]
fn the_redis_crate_cluster_client_reads_and_writes_100k_keys() {
    use redis::Commands;
    let c = Cluster::start();
    let url = format!("redis://127.0.0.1:{}/", c.replicas[2].port);
    let client = redis::cluster::ClusterClient::new(vec![url]).expect("cluster client");
    let mut conn = client.get_connection().expect("cluster connection");
    const N: usize = 100_000;
    for batch in (0..N).collect::<Vec<_>>().chunks(2000) {
        let mut pipe = redis::cluster::cluster_pipe();
        for i in batch {
            pipe.set(format!("rs:{i}"), i).ignore();
        }
        pipe.query::<()>(&mut conn).expect("pipelined SETs");
    }
    // Multi-key commands on one slot, through the cluster client.
    for t in 0..200 {
        let (a, b) = (format!("{{t{t}}}:a"), format!("{{t{t}}}:b"));
        let () = conn.mset(&[(&a, t), (&b, t + 1)]).expect("MSET");
        let got: Vec<i64> = conn.mget(&[&a, &b]).expect("MGET");
        assert_eq!(got, vec![t, t + 1]);
    }
    let read_all = |conn: &mut redis::cluster::ClusterConnection| {
        for batch in (0..N).collect::<Vec<_>>().chunks(2000) {
            let mut pipe = redis::cluster::cluster_pipe();
            for i in batch {
                pipe.get(format!("rs:{i}"));
            }
            let got: Vec<usize> = pipe.query(conn).expect("pipelined GETs");
            assert_eq!(got, batch.to_vec());
        }
    };
    read_all(&mut conn);
    let sizes: Vec<i64> = c
        .primaries
        .iter()
        .map(|s| cmd(s.port, &["DBSIZE"]).parse().expect("integer"))
        .collect();
    assert_eq!(sizes.iter().sum::<i64>(), N as i64 + 400);
    assert!(sizes.iter().all(|&n| n > 30_000), "{sizes:?}");
    // A failover by map under the client's feet: a command follows the
    // MOVED reply to shard 0's new primary (the client reloads the slots;
    // its pipelines do not retry), then everything reads again.
    let (p0, r0) = (c.primaries[0].port, c.replicas[0].port);
    wait_until("shard 0's replica caught up", || {
        field(r0, "replication", "master_repl_offset")
            == field(p0, "replication", "master_repl_offset")
    });
    c.push_all(&c.map(2, true));
    let i = (0..N)
        .find(|i| slot(&format!("rs:{i}")) <= RANGES[0].1)
        .expect("a key of shard 0");
    let v: usize = conn.get(format!("rs:{i}")).expect("GET after MOVED");
    assert_eq!(v, i);
    read_all(&mut conn);
}
