//! TOPOLOGY (kcache's operator-driven roles) with real processes on
//! loopback: the epoch fence (older refused, equal accepted, newer stored
//! and kept across a SIGKILL restart), role changes both ways with the data
//! kept, an idempotent REPLICA that keeps the link, `/readyz` until the role
//! is confirmed under `managed-topology yes`, cluster mode, FAILOVER, and
//! that nothing reaches the replicas or the append-only file.

mod common;

use std::time::Duration;

use common::{conn_on, field, http_get, num, scratch_dir, signal, wait_until_for, Server};

const DEADLINE: Duration = Duration::from_secs(30);

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    wait_until_for(what, DEADLINE, &mut f);
}

/// A command's reply as text: the value, or `ERR <the whole error line>`.
fn cmd(port: u16, args: &[&str]) -> String {
    let mut c = conn_on(port);
    let mut q = redis::cmd(args[0]);
    for a in &args[1..] {
        q.arg(*a);
    }
    match q.query::<redis::Value>(&mut c) {
        Ok(redis::Value::Okay) => "OK".into(),
        Ok(redis::Value::Int(n)) => n.to_string(),
        Ok(v) => format!("{v:?}"),
        Err(e) => format!(
            "ERR {} {}",
            e.code().unwrap_or_default(),
            e.detail().unwrap_or_default()
        ),
    }
}

fn role(port: u16) -> String {
    field(port, "replication", "role")
}

fn link_up(port: u16) -> bool {
    field(port, "replication", "master_link_status") == "up"
}

fn epoch(port: u16) -> i64 {
    cmd(port, &["TOPOLOGY", "EPOCH"])
        .parse()
        .expect("integer epoch")
}

fn epoch_file(s: &Server) -> String {
    std::fs::read_to_string(s.dir.join("topology-epoch")).unwrap_or_default()
}

fn set(port: u16, k: &str, v: &str) {
    assert_eq!(cmd(port, &["SET", k, v]), "OK");
}

fn get(port: u16, k: &str) -> String {
    let mut c = conn_on(port);
    redis::cmd("GET")
        .arg(k)
        .query::<Option<String>>(&mut c)
        .expect("GET")
        .unwrap_or_default()
}

#[test]
fn epoch_fence_and_role_changes_both_ways_keep_the_data() {
    let a = Server::start(&[]);
    let b = Server::start(&[]);
    let a_port = a.port.to_string();
    let b_port = b.port.to_string();
    assert_eq!(epoch(b.port), 0);
    assert_eq!(num(b.port, "replication", "topology_epoch"), 0);
    // Unmanaged: confirmed from the start.
    assert_eq!(num(b.port, "replication", "topology_confirmed"), 1);
    for i in 0..100 {
        set(a.port, &format!("a:{i}"), "x");
    }

    assert_eq!(
        cmd(
            b.port,
            &["TOPOLOGY", "ROLE", "5", "REPLICA", "127.0.0.1", &a_port]
        ),
        "OK"
    );
    wait_until("b follows a", || {
        link_up(b.port) && get(b.port, "a:99") == "x"
    });
    assert_eq!(epoch(b.port), 5);
    assert_eq!(num(b.port, "replication", "topology_epoch"), 5);
    assert_eq!(epoch_file(&b), "5\n");

    // Older: refused, nothing changes.
    assert_eq!(
        cmd(b.port, &["TOPOLOGY", "ROLE", "4", "PRIMARY"]),
        "ERR STALEEPOCH topology epoch 4 is older than this node's 5"
    );
    assert_eq!(role(b.port), "slave");
    assert_eq!(epoch(b.port), 5);
    for bad in ["0", "-1", "x", "1.5", ""] {
        assert_eq!(
            cmd(b.port, &["TOPOLOGY", "ROLE", bad, "PRIMARY"]),
            "ERR ERR invalid topology epoch",
            "{bad:?}"
        );
    }

    // Equal: accepted. b becomes a primary with a's history as replid2.
    let a_replid = field(a.port, "replication", "master_replid");
    assert_eq!(cmd(b.port, &["TOPOLOGY", "ROLE", "5", "PRIMARY"]), "OK");
    assert_eq!(role(b.port), "master");
    assert_eq!(field(b.port, "replication", "master_replid2"), a_replid);
    assert_ne!(field(b.port, "replication", "master_replid"), a_replid);
    assert_eq!(get(b.port, "a:0"), "x", "data kept on promotion");
    // Already a primary: nothing to do, still OK.
    assert_eq!(cmd(b.port, &["TOPOLOGY", "ROLE", "5", "PRIMARY"]), "OK");
    assert_eq!(field(b.port, "replication", "master_replid2"), a_replid);

    // The other way: a (epoch 0) follows b under a newer epoch.
    set(b.port, "b:only", "y");
    assert_eq!(
        cmd(
            a.port,
            &["TOPOLOGY", "ROLE", "6", "REPLICA", "127.0.0.1", &b_port]
        ),
        "OK"
    );
    wait_until("a follows b", || {
        link_up(a.port) && get(a.port, "b:only") == "y"
    });
    assert_eq!(get(a.port, "a:42"), "x", "a kept its own writes");
    assert_eq!(role(a.port), "slave");
    assert_eq!(epoch(a.port), 6);

    // FENCE: stores only; no role change, no confirmation needed.
    assert_eq!(cmd(b.port, &["TOPOLOGY", "FENCE", "9"]), "OK");
    assert_eq!(epoch(b.port), 9);
    assert_eq!(epoch_file(&b), "9\n");
    assert_eq!(role(b.port), "master");
    assert_eq!(cmd(b.port, &["TOPOLOGY", "FENCE", "9"]), "OK");
    assert_eq!(
        cmd(b.port, &["TOPOLOGY", "FENCE", "8"]),
        "ERR STALEEPOCH topology epoch 8 is older than this node's 9"
    );
    assert_eq!(
        cmd(
            b.port,
            &["TOPOLOGY", "ROLE", "8", "REPLICA", "127.0.0.1", &a_port]
        ),
        "ERR STALEEPOCH topology epoch 8 is older than this node's 9"
    );
    assert_eq!(role(b.port), "master");
}

#[test]
fn replica_of_the_same_primary_keeps_its_link() {
    let p = Server::start(&[]);
    let r = Server::start(&[]);
    let p_port = p.port.to_string();
    assert_eq!(
        cmd(
            r.port,
            &["TOPOLOGY", "ROLE", "1", "REPLICA", "127.0.0.1", &p_port]
        ),
        "OK"
    );
    wait_until("linked", || link_up(r.port));
    for i in 0..50 {
        set(p.port, &format!("k{i}"), "v");
    }
    wait_until("caught up", || {
        num(r.port, "replication", "slave_repl_offset")
            == num(p.port, "replication", "master_repl_offset")
    });
    let full = num(p.port, "stats", "sync_full");
    let partial = num(p.port, "stats", "sync_partial_ok");
    assert_eq!(full, 1);
    for e in ["1", "2", "2"] {
        assert_eq!(
            cmd(
                r.port,
                &["TOPOLOGY", "ROLE", e, "REPLICA", "127.0.0.1", &p_port]
            ),
            "OK"
        );
    }
    assert_eq!(epoch(r.port), 2);
    set(p.port, "after", "1");
    wait_until("the stream goes on", || get(r.port, "after") == "1");
    assert!(link_up(r.port));
    assert_eq!(num(p.port, "stats", "sync_full"), full, "no new full sync");
    assert_eq!(
        num(p.port, "stats", "sync_partial_ok"),
        partial,
        "the link was never dropped"
    );
    assert_eq!(
        num(r.port, "replication", "slave_repl_offset"),
        num(p.port, "replication", "master_repl_offset")
    );
}

#[test]
fn readyz_waits_for_the_role_and_the_epoch_survives_a_restart() {
    let dir = scratch_dir("managed");
    let mut s = Server::start_in(&dir, &["--managed-topology", "yes"]);
    let unconfirmed = (
        503,
        "awaiting role confirmation from the operator\n".to_string(),
    );
    assert_eq!(http_get(s.http_port(), "/readyz"), unconfirmed);
    assert_eq!(num(s.port, "replication", "topology_confirmed"), 0);
    assert_eq!(
        cmd(s.port, &["CONFIG", "GET", "managed-topology"]),
        format!("{:?}", conn_value(&["managed-topology", "yes"]))
    );
    assert!(cmd(s.port, &["CONFIG", "SET", "managed-topology", "no"]).contains("immutable"));
    // Serving is unchanged meanwhile.
    set(s.port, "k", "v");
    // FENCE does not confirm.
    assert_eq!(cmd(s.port, &["TOPOLOGY", "FENCE", "3"]), "OK");
    assert_eq!(http_get(s.http_port(), "/readyz"), unconfirmed);
    assert_eq!(
        cmd(s.port, &["TOPOLOGY", "ROLE", "7", "PRIMARY"]),
        "OK",
        "confirms a primary that already is one"
    );
    assert_eq!(http_get(s.http_port(), "/readyz"), (200, "ready\n".into()));
    assert_eq!(num(s.port, "replication", "topology_confirmed"), 1);
    assert_eq!(num(s.port, "replication", "topology_epoch"), 7);

    // A crash and a restart on the same directory: the epoch is kept, the
    // confirmation is not.
    s.kill9();
    drop(s);
    let s = Server::start_in(&dir, &["--managed-topology", "yes"]);
    assert_eq!(epoch(s.port), 7);
    assert_eq!(http_get(s.http_port(), "/readyz"), unconfirmed);
    assert_eq!(num(s.port, "replication", "topology_confirmed"), 0);
    assert_eq!(
        cmd(s.port, &["TOPOLOGY", "ROLE", "6", "PRIMARY"]),
        "ERR STALEEPOCH topology epoch 6 is older than this node's 7"
    );
    assert_eq!(http_get(s.http_port(), "/readyz"), unconfirmed);
    assert_eq!(cmd(s.port, &["TOPOLOGY", "ROLE", "7", "PRIMARY"]), "OK");
    assert_eq!(http_get(s.http_port(), "/readyz").0, 200);
    drop(s);

    // A damaged epoch file stops the start rather than dropping the fence.
    std::fs::write(dir.join("topology-epoch"), "seven\n").unwrap();
    let refused = Server::try_start_in(&dir, &[])
        .err()
        .expect("start refused");
    assert!(refused.contains("damaged topology epoch file"), "{refused}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn conn_value(words: &[&str]) -> redis::Value {
    redis::Value::Array(
        words
            .iter()
            .map(|w| redis::Value::BulkString(w.as_bytes().to_vec()))
            .collect(),
    )
}

#[test]
fn errors_help_and_command_docs() {
    let s = Server::start(&[]);
    let p = s.port;
    let cases: &[(&[&str], &str)] = &[
        (
            &["TOPOLOGY"],
            "ERR ERR wrong number of arguments for 'topology' command",
        ),
        (
            &["TOPOLOGY", "NOPE"],
            "ERR ERR unknown subcommand 'NOPE'. Try TOPOLOGY HELP.",
        ),
        (
            &["TOPOLOGY", "FENCE"],
            "ERR ERR wrong number of arguments for 'topology|fence' command",
        ),
        (
            &["TOPOLOGY", "EPOCH", "1"],
            "ERR ERR wrong number of arguments for 'topology|epoch' command",
        ),
        (
            &["TOPOLOGY", "ROLE", "1"],
            "ERR ERR wrong number of arguments for 'topology|role' command",
        ),
        (&["TOPOLOGY", "ROLE", "1", "LEADER"], "ERR ERR syntax error"),
        (
            &["TOPOLOGY", "ROLE", "1", "PRIMARY", "x"],
            "ERR ERR syntax error",
        ),
        (
            &["TOPOLOGY", "ROLE", "1", "REPLICA", "127.0.0.1"],
            "ERR ERR syntax error",
        ),
        (
            &["TOPOLOGY", "ROLE", "1", "REPLICA", "127.0.0.1", "70000"],
            "ERR ERR Invalid master port",
        ),
        (
            &["TOPOLOGY", "FENCE", "0"],
            "ERR ERR invalid topology epoch",
        ),
    ];
    for (args, want) in cases {
        assert_eq!(&cmd(p, args), want, "{args:?}");
    }
    assert_eq!(epoch(p), 0, "no error stored an epoch");
    let help = s.cli(&["TOPOLOGY", "HELP"]);
    assert!(
        help.starts_with("TOPOLOGY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\n"),
        "{help}"
    );
    assert!(help.contains("\nFENCE <epoch>\n") && help.ends_with("    Prints this help.\n"));
    let info = s.cli(&["COMMAND", "INFO", "topology"]);
    for word in [
        "topology", "role", "fence", "epoch", "admin", "noscript", "loading", "stale",
    ] {
        assert!(info.contains(word), "{word} in {info}");
    }
    let docs = s.cli(&["COMMAND", "DOCS", "topology"]);
    assert!(docs.contains("topology epoch"), "{docs}");
    // Like REPLICAOF, not inside a transaction.
    let mut c = conn_on(p);
    redis::cmd("MULTI").query::<()>(&mut c).unwrap();
    let e = redis::cmd("TOPOLOGY")
        .arg("EPOCH")
        .query::<redis::Value>(&mut c)
        .unwrap_err();
    assert_eq!(e.detail(), Some("Command not allowed inside a transaction"));
}

#[test]
fn cluster_mode_takes_roles_from_topology_only() {
    let p = Server::start(&["--cluster-enabled", "yes"]);
    let r = Server::start(&["--cluster-enabled", "yes"]);
    let p_port = p.port.to_string();
    assert_eq!(
        cmd(r.port, &["REPLICAOF", "127.0.0.1", &p_port]),
        "ERR ERR REPLICAOF not allowed in cluster mode."
    );
    // Keyed commands need a map that gives the primary its slots.
    let id: String = redis::cmd("CLUSTER")
        .arg("MYID")
        .query(&mut conn_on(p.port))
        .expect("CLUSTER MYID");
    let map = [
        "TOPOLOGY",
        "MAP",
        "1",
        "NODE",
        &id,
        "127.0.0.1",
        &p_port,
        "",
        "PRIMARY",
        "0-16383",
    ];
    assert_eq!(cmd(p.port, &map), "OK");
    set(p.port, "k", "v");
    assert_eq!(
        cmd(
            r.port,
            &["TOPOLOGY", "ROLE", "1", "REPLICA", "127.0.0.1", &p_port]
        ),
        "OK"
    );
    wait_until("replica in cluster mode", || {
        cmd(r.port, &["DBSIZE"]) == "1"
    });
    assert_eq!(cmd(r.port, &["TOPOLOGY", "ROLE", "2", "PRIMARY"]), "OK");
    assert_eq!(role(r.port), "master");
}

#[test]
fn refused_while_failing_over() {
    let p = Server::start(&[]);
    let mut r = Server::start(&[]);
    let p_port = p.port.to_string();
    let r_port = r.port.to_string();
    assert_eq!(
        cmd(
            r.port,
            &["TOPOLOGY", "ROLE", "1", "REPLICA", "127.0.0.1", &p_port]
        ),
        "OK"
    );
    wait_until("linked", || {
        link_up(r.port) && field(p.port, "replication", "slave0").contains("online")
    });
    // A stopped replica cannot acknowledge: the failover stays waiting.
    signal(r.pid(), "-STOP");
    set(p.port, "k", "v");
    assert_eq!(
        cmd(
            p.port,
            &["FAILOVER", "TO", "127.0.0.1", &r_port, "TIMEOUT", "60000"]
        ),
        "OK"
    );
    assert_eq!(
        field(p.port, "replication", "master_failover_state"),
        "waiting-for-sync"
    );
    assert_eq!(
        cmd(p.port, &["TOPOLOGY", "ROLE", "3", "PRIMARY"]),
        "ERR ERR TOPOLOGY ROLE not allowed while failing over."
    );
    assert_eq!(epoch(p.port), 0, "a refused ROLE stores nothing");
    // FENCE is what the operator sends before a FAILOVER: it is not refused.
    assert_eq!(cmd(p.port, &["TOPOLOGY", "FENCE", "3"]), "OK");
    assert_eq!(cmd(p.port, &["FAILOVER", "ABORT"]), "OK");
    signal(r.pid(), "-CONT");
    assert!(r.running());
    assert_eq!(cmd(p.port, &["TOPOLOGY", "ROLE", "3", "PRIMARY"]), "OK");
}

#[test]
fn never_propagated_to_replicas_or_the_aof() {
    // No PINGs in the stream during the test: only writes move the offset.
    let p = Server::start(&["--appendonly", "yes", "--repl-ping-replica-period", "3600"]);
    let r = Server::start(&["--appendonly", "yes"]);
    let p_port = p.port.to_string();
    assert_eq!(
        cmd(
            r.port,
            &["TOPOLOGY", "ROLE", "4", "REPLICA", "127.0.0.1", &p_port]
        ),
        "OK"
    );
    wait_until("linked", || link_up(r.port));
    // A write in the stream first (with its SELECT), then the baseline.
    set(p.port, "k", "v");
    wait_until("caught up", || {
        get(r.port, "k") == "v"
            && num(r.port, "replication", "slave_repl_offset")
                == num(p.port, "replication", "master_repl_offset")
    });
    let offset = num(p.port, "replication", "master_repl_offset");
    for args in [
        &["TOPOLOGY", "FENCE", "10"][..],
        &["TOPOLOGY", "ROLE", "11", "PRIMARY"][..],
        &["TOPOLOGY", "EPOCH"][..],
    ] {
        cmd(p.port, args);
    }
    assert_eq!(epoch(p.port), 11);
    set(p.port, "marker", "1");
    wait_until("marker replicated", || get(r.port, "marker") == "1");
    // Only the SET moved the offset, and the replica's epoch is its own.
    let set_len = "*3\r\n$3\r\nSET\r\n$6\r\nmarker\r\n$1\r\n1\r\n".len() as i64;
    assert_eq!(
        num(p.port, "replication", "master_repl_offset"),
        offset + set_len
    );
    assert_eq!(epoch(r.port), 4);
    for s in [&p, &r] {
        let dir = s.dir.join("appendonlydir");
        wait_until("the AOF has the marker (fsync every second)", || {
            aof_text(&dir).contains("marker")
        });
        let aof = aof_text(&dir);
        assert!(!aof.to_ascii_lowercase().contains("topology"), "{aof}");
    }
}

/// Every file of an append-only directory, as text.
fn aof_text(dir: &std::path::Path) -> String {
    let mut text = String::new();
    for e in std::fs::read_dir(dir).expect("appendonlydir").flatten() {
        text.push_str(&String::from_utf8_lossy(
            &std::fs::read(e.path()).unwrap_or_default(),
        ));
    }
    text
}
