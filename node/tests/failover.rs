//! FAILOVER with real processes on loopback: a kcache primary handing its
//! role to the most caught-up of two kcache replicas under a write load
//! (no full sync, no acknowledged write lost), `FAILOVER TO`, TIMEOUT and
//! ABORT restoring writes, the error replies side by side with redis-server
//! 7.0, and the `PSYNC ... FAILOVER` handshake across kcache and redis-server
//! in both directions.

mod common;

use std::time::{Duration, Instant};

use common::{conn_on, field, info, missing, num, replicaof, signal, start_load, Server};

const DEADLINE: Duration = Duration::from_secs(30);

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for: {what}");
}

fn kcache_replica(primary: u16) -> Server {
    let spec = replicaof(primary);
    Server::start(&["--replicaof", spec.as_str()])
}

fn redis_replica(primary: u16) -> Server {
    let s = Server::start_redis(&[]);
    cmd(s.port, &["REPLICAOF", "127.0.0.1", &primary.to_string()]);
    s
}

/// A command's reply as text (`ERR ...` for an error).
fn cmd(port: u16, args: &[&str]) -> String {
    let mut c = conn_on(port);
    let mut q = redis::cmd(args[0]);
    for a in &args[1..] {
        q.arg(*a);
    }
    match q.query::<redis::Value>(&mut c) {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("ERR {}", e.detail().unwrap_or_default()),
    }
}

fn link_up(port: u16) -> bool {
    field(port, "replication", "master_link_status") == "up"
}

/// Whether `primary` lists the replica listening on `replica` as online.
fn online(primary: u16, replica: u16) -> bool {
    let want = format!("port={replica},state=online");
    info(primary, "replication")
        .iter()
        .any(|(k, v)| k.starts_with("slave") && v.contains(&want))
}

fn role(port: u16) -> String {
    field(port, "replication", "role")
}

fn failover_state(port: u16) -> String {
    field(port, "replication", "master_failover_state")
}

/// Waits until `replica` acknowledged everything `primary` has.
fn wait_caught_up(primary: u16, replica: u16) {
    wait_until("replica offset == primary offset", || {
        let p = num(primary, "replication", "master_repl_offset");
        let r = num(replica, "replication", "slave_repl_offset");
        p > 0 && p == r
    });
}

#[test]
fn failover_under_load_hands_over_to_the_most_caught_up_replica() {
    let p = Server::start(&[]);
    let r1 = kcache_replica(p.port);
    let r2 = kcache_replica(p.port);
    wait_until("both replicas online", || {
        online(p.port, r1.port) && online(p.port, r2.port)
    });
    let load = start_load(p.port, 4);
    wait_until("some writes", || load.count() > 2000);
    let started = Instant::now();
    assert_eq!(cmd(p.port, &["FAILOVER"]), "ok");
    wait_until("the old primary follows a replica with its link up", || {
        role(p.port) == "slave" && link_up(p.port) && failover_state(p.port) == "no-failover"
    });
    let took = started.elapsed();
    let acked = load.finish();
    eprintln!(
        "failover under load: {} writes acknowledged, hand-over done within {took:?}",
        acked.len()
    );
    assert!(acked.len() > 2000);
    let new_port: u16 = field(p.port, "replication", "master_port").parse().unwrap();
    let (new, other) = if new_port == r1.port {
        (&r1, &r2)
    } else {
        (&r2, &r1)
    };
    assert_eq!(new.port, new_port);
    assert_eq!(role(new.port), "master");
    let roles = cmd(new.port, &["ROLE"]);
    assert!(roles.contains(&p.port.to_string()), "{roles}");
    // The old primary continued without a full sync.
    assert_eq!(num(new.port, "stats", "sync_full"), 0);
    assert!(num(new.port, "stats", "sync_partial_ok") >= 1);
    assert_eq!(missing(new.port, &acked), 0, "acknowledged writes lost");
    // The other replica moves over with a partial resync.
    assert_eq!(
        cmd(
            other.port,
            &["REPLICAOF", "127.0.0.1", &new.port.to_string()]
        ),
        "ok"
    );
    wait_until("the other replica linked to the new primary", || {
        link_up(other.port)
            && field(other.port, "replication", "master_port") == new.port.to_string()
    });
    assert_eq!(num(new.port, "stats", "sync_full"), 0);
    assert!(num(new.port, "stats", "sync_partial_ok") >= 2);
    // Writes go to the new primary and reach both.
    assert_eq!(cmd(new.port, &["SET", "after", "1"]), "ok");
    wait_caught_up(new.port, p.port);
    wait_caught_up(new.port, other.port);
    assert_eq!(
        cmd(p.port, &["GET", "after"]),
        cmd(new.port, &["GET", "after"])
    );
    assert_eq!(missing(other.port, &acked), 0);
    assert!(cmd(p.port, &["SET", "x", "1"]).starts_with("ERR"));
}

#[test]
fn failover_to_a_named_replica() {
    let p = Server::start(&[]);
    let r1 = kcache_replica(p.port);
    let r2 = kcache_replica(p.port);
    wait_until("both replicas online", || {
        online(p.port, r1.port) && online(p.port, r2.port)
    });
    for i in 0..100 {
        cmd(p.port, &["SET", &format!("k{i}"), "v"]);
    }
    wait_caught_up(p.port, r2.port);
    assert_eq!(
        cmd(
            p.port,
            &[
                "FAILOVER",
                "TO",
                "127.0.0.1",
                &r2.port.to_string(),
                "TIMEOUT",
                "20000"
            ]
        ),
        "ok"
    );
    wait_until("the old primary follows r2", || {
        role(p.port) == "slave"
            && link_up(p.port)
            && field(p.port, "replication", "master_port") == r2.port.to_string()
    });
    assert_eq!(role(r2.port), "master");
    assert_eq!(role(r1.port), "slave");
    assert_eq!(num(r2.port, "stats", "sync_full"), 0);
    assert_eq!(cmd(r2.port, &["DBSIZE"]), "int(100)");
}

/// The reply sequence of the error cases and an ABORT / TIMEOUT on `p`, a
/// primary with one replica `r` (SIGSTOPped for the waits).
fn error_script(p: &Server, r: &Server) -> Vec<String> {
    let rp = r.port.to_string();
    let mut out = vec![];
    let mut run = |port: u16, args: &[&str]| out.push(cmd(port, args));
    run(r.port, &["FAILOVER"]);
    run(p.port, &["FAILOVER", "TO", "127.0.0.1", "1"]);
    run(p.port, &["FAILOVER", "FORCE"]);
    run(p.port, &["FAILOVER", "TO", "127.0.0.1", &rp, "FORCE"]);
    run(p.port, &["FAILOVER", "TIMEOUT", "100", "FORCE"]);
    run(p.port, &["FAILOVER", "TIMEOUT", "0"]);
    run(p.port, &["FAILOVER", "TIMEOUT", "x"]);
    run(p.port, &["FAILOVER", "TO", "h", "x"]);
    run(p.port, &["FAILOVER", "TO"]);
    run(p.port, &["FAILOVER", "FORCE", "FORCE"]);
    run(p.port, &["FAILOVER", "ABORT"]);
    run(p.port, &["FAILOVER", "ABORT", "x"]);
    // A replica that cannot acknowledge keeps the failover waiting.
    signal(r.pid(), "-STOP");
    run(p.port, &["SET", "before", "1"]);
    run(p.port, &["FAILOVER", "TIMEOUT", "60000"]);
    run(p.port, &["FAILOVER"]);
    run(p.port, &["REPLICAOF", "NO", "ONE"]);
    run(p.port, &["REPLICAOF", "127.0.0.1", &rp]);
    out.push(failover_state(p.port));
    // A write is held meanwhile; reads go on.
    let port = p.port;
    let held = std::thread::spawn(move || cmd(port, &["SET", "held", "1"]));
    std::thread::sleep(Duration::from_millis(200));
    out.push(format!("held write done: {}", held.is_finished()));
    out.push(cmd(p.port, &["GET", "before"]));
    out.push(cmd(p.port, &["FAILOVER", "ABORT"]));
    out.push(held.join().unwrap());
    out.push(failover_state(p.port));
    // TIMEOUT without FORCE: aborted, writes resume, still a primary.
    out.push(cmd(p.port, &["FAILOVER", "TIMEOUT", "300"]));
    wait_until("the failover timed out", || {
        failover_state(p.port) == "no-failover"
    });
    out.push(cmd(p.port, &["SET", "after", "1"]));
    out.push(role(p.port));
    signal(r.pid(), "-CONT");
    out
}

#[test]
fn errors_abort_and_timeout_side_by_side_with_redis() {
    let rp = Server::start_redis(&[]);
    let rr = redis_replica(rp.port);
    wait_until("redis replica online", || online(rp.port, rr.port));
    let kp = Server::start(&[]);
    let kr = kcache_replica(kp.port);
    wait_until("kcache replica online", || online(kp.port, kr.port));
    // The replica's port differs between the two pairs: compare shapes.
    let theirs = error_script(&rp, &rr);
    let ours = error_script(&kp, &kr);
    eprintln!("redis-server: {theirs:?}");
    assert_eq!(ours, theirs);
    assert!(theirs.iter().any(|l| l == "waiting-for-sync"), "{theirs:?}");
    assert!(theirs.iter().any(|l| l == "held write done: false"));
}

/// One primary failing over to its only replica: the roles swap without a
/// full sync.
fn cross_failover(p: &Server, r: &Server) {
    wait_until("replica linked", || {
        link_up(r.port) && online(p.port, r.port)
    });
    for i in 0..200 {
        cmd(p.port, &["SET", &format!("k{i}"), "v"]);
    }
    let full_before = num(r.port, "stats", "sync_full");
    assert_eq!(cmd(p.port, &["FAILOVER"]), "ok");
    wait_until("roles swapped", || {
        role(p.port) == "slave"
            && link_up(p.port)
            && role(r.port) == "master"
            && failover_state(p.port) == "no-failover"
    });
    assert_eq!(num(r.port, "stats", "sync_full"), full_before);
    assert_eq!(cmd(r.port, &["DBSIZE"]), "int(200)");
    assert_eq!(cmd(r.port, &["SET", "new", "1"]), "ok");
    wait_until("write reaches the old primary", || {
        cmd(p.port, &["GET", "new"]) == cmd(r.port, &["GET", "new"])
    });
}

#[test]
fn kcache_primary_fails_over_to_a_redis_replica() {
    let p = Server::start(&[]);
    let r = redis_replica(p.port);
    cross_failover(&p, &r);
}

#[test]
fn redis_primary_fails_over_to_a_kcache_replica() {
    let p = Server::start_redis(&[]);
    let r = kcache_replica(p.port);
    cross_failover(&p, &r);
}

/// FORCE: after the timeout the hand-over goes ahead though the target never
/// acknowledged (it was stopped); the roles swap once it runs again, with a
/// full sync from the target when it is behind (even an empty one: the
/// failing-over node chose that primary).
#[test]
fn force_fails_over_after_the_timeout() {
    let p = Server::start(&[]);
    let r = kcache_replica(p.port);
    wait_until("replica linked", || {
        link_up(r.port) && online(p.port, r.port)
    });
    signal(r.pid(), "-STOP");
    assert_eq!(cmd(p.port, &["SET", "k", "v"]), "ok");
    let rp = r.port.to_string();
    assert_eq!(
        cmd(
            p.port,
            &[
                "FAILOVER",
                "TO",
                "127.0.0.1",
                &rp,
                "TIMEOUT",
                "200",
                "FORCE"
            ]
        ),
        "ok"
    );
    assert_eq!(failover_state(p.port), "waiting-for-sync");
    wait_until("failover in progress", || {
        failover_state(p.port) == "failover-in-progress"
    });
    assert_eq!(role(p.port), "slave");
    signal(r.pid(), "-CONT");
    wait_until("roles swapped", || {
        role(r.port) == "master" && link_up(p.port) && failover_state(p.port) == "no-failover"
    });
    // The target may have missed the write (a partial resync keeps it, a
    // full one drops it, as FORCE allows): either way both nodes agree.
    wait_until("the old primary has the new primary's data", || {
        cmd(p.port, &["GET", "k"]) == cmd(r.port, &["GET", "k"])
            && cmd(p.port, &["DBSIZE"]) == cmd(r.port, &["DBSIZE"])
    });
}

/// A target that dies during the hand-over: the failover is aborted and the
/// old primary is a primary again, taking writes.
#[test]
fn a_dead_target_aborts_the_hand_over() {
    let p = Server::start(&[]);
    let mut r = kcache_replica(p.port);
    wait_until("replica linked", || {
        link_up(r.port) && online(p.port, r.port)
    });
    signal(r.pid(), "-STOP");
    assert_eq!(cmd(p.port, &["SET", "k", "v"]), "ok");
    let rp = r.port.to_string();
    assert_eq!(
        cmd(
            p.port,
            &[
                "FAILOVER",
                "TO",
                "127.0.0.1",
                &rp,
                "TIMEOUT",
                "100",
                "FORCE"
            ]
        ),
        "ok"
    );
    wait_until("failover in progress", || {
        failover_state(p.port) == "failover-in-progress"
    });
    r.kill9();
    wait_until("failover aborted", || {
        failover_state(p.port) == "no-failover" && role(p.port) == "master"
    });
    assert_eq!(cmd(p.port, &["SET", "after", "1"]), "ok");
}

/// While a failover waits, reads do not delete expired keys (a propagated
/// DEL would move the offset the target must reach); they still read as
/// missing, and are deleted once it is over.
#[test]
fn expired_keys_stay_while_failing_over() {
    let p = Server::start(&[]);
    let r = kcache_replica(p.port);
    wait_until("replica online", || online(p.port, r.port));
    assert_eq!(cmd(p.port, &["SET", "k", "v", "PX", "800"]), "ok");
    wait_caught_up(p.port, r.port);
    signal(r.pid(), "-STOP");
    // A write the stopped replica cannot acknowledge keeps the failover waiting.
    assert_eq!(cmd(p.port, &["SET", "other", "1"]), "ok");
    assert_eq!(cmd(p.port, &["FAILOVER", "TIMEOUT", "60000"]), "ok");
    assert_eq!(
        cmd(p.port, &["PTTL", "k"]).len(),
        "int(800)".len(),
        "k expired too soon"
    );
    wait_until("k expired", || cmd(p.port, &["GET", "k"]) == "nil");
    assert_eq!(cmd(p.port, &["GET", "k"]), "nil");
    assert_eq!(num(p.port, "stats", "expired_keys"), 0);
    // CLIENT UNPAUSE does not end FAILOVER's pause or its freeze.
    assert_eq!(cmd(p.port, &["CLIENT", "UNPAUSE"]), "ok");
    assert_eq!(cmd(p.port, &["GET", "k"]), "nil");
    assert_eq!(num(p.port, "stats", "expired_keys"), 0);
    assert_eq!(failover_state(p.port), "waiting-for-sync");
    assert_eq!(cmd(p.port, &["FAILOVER", "ABORT"]), "ok");
    assert_eq!(cmd(p.port, &["GET", "k"]), "nil");
    wait_until("k deleted", || num(p.port, "stats", "expired_keys") == 1);
    signal(r.pid(), "-CONT");
}

/// FAILOVER ABORT during the hand-over: the node is a primary again (a new
/// replication id, the old one kept as replid2) and takes writes.
#[test]
fn abort_during_the_hand_over_restores_the_primary() {
    let p = Server::start(&[]);
    let r = kcache_replica(p.port);
    wait_until("replica online", || online(p.port, r.port));
    let replid = field(p.port, "replication", "master_replid");
    signal(r.pid(), "-STOP");
    assert_eq!(cmd(p.port, &["SET", "k", "v"]), "ok");
    let rp = r.port.to_string();
    let args = [
        "FAILOVER",
        "TO",
        "127.0.0.1",
        &rp,
        "TIMEOUT",
        "100",
        "FORCE",
    ];
    assert_eq!(cmd(p.port, &args), "ok");
    wait_until("failover in progress", || {
        failover_state(p.port) == "failover-in-progress"
    });
    assert_eq!(role(p.port), "slave");
    assert_eq!(cmd(p.port, &["FAILOVER", "ABORT"]), "ok");
    assert_eq!(role(p.port), "master");
    assert_eq!(failover_state(p.port), "no-failover");
    assert_eq!(field(p.port, "replication", "master_replid2"), replid);
    assert_eq!(cmd(p.port, &["SET", "after", "1"]), "ok");
    signal(r.pid(), "-CONT");
    // The replica comes back to the primary it never left and resumes.
    wait_until("replica back", || online(p.port, r.port));
    wait_caught_up(p.port, r.port);
    assert_eq!(cmd(r.port, &["GET", "after"]), "bulk-string('\"1\"')");
}
