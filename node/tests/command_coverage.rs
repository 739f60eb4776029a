//! Every command redis-server 7.0.15 lists in `COMMAND LIST` is known to the
//! node, compared with a running redis-server so the list cannot drift:
//! commands that other work adds stay on an explicit pending list until it
//! lands. The commands added for coverage answer in redis-server's shapes.

mod common;
mod rawresp;

use std::collections::BTreeSet;

use common::Server;
use rawresp::Raw;

/// Commands (and `container|sub` names) that other work adds, and why.
const PENDING: &[(&str, &str)] = &[
    ("acl", "ACL users"),
    (
        "cluster|addslots",
        "cluster mode: slot migration and the gossip-era subcommands",
    ),
    (
        "cluster|addslotsrange",
        "cluster mode: slot migration and the gossip-era subcommands",
    ),
    (
        "cluster|bumpepoch",
        "cluster mode: slot migration and the gossip-era subcommands",
    ),
    (
        "cluster|count-failure-reports",
        "cluster mode: slot migration and the gossip-era subcommands",
    ),
    (
        "cluster|delslots",
        "cluster mode: slot migration and the gossip-era subcommands",
    ),
    (
        "cluster|delslotsrange",
        "cluster mode: slot migration and the gossip-era subcommands",
    ),
    (
        "cluster|failover",
        "cluster mode: slot migration and the gossip-era subcommands",
    ),
    (
        "cluster|flushslots",
        "cluster mode: slot migration and the gossip-era subcommands",
    ),
    (
        "cluster|forget",
        "cluster mode: slot migration and the gossip-era subcommands",
    ),
    (
        "cluster|links",
        "cluster mode: slot migration and the gossip-era subcommands",
    ),
    (
        "cluster|meet",
        "cluster mode: slot migration and the gossip-era subcommands",
    ),
    (
        "cluster|replicate",
        "cluster mode: slot migration and the gossip-era subcommands",
    ),
    (
        "cluster|reset",
        "cluster mode: slot migration and the gossip-era subcommands",
    ),
    (
        "cluster|saveconfig",
        "cluster mode: slot migration and the gossip-era subcommands",
    ),
    (
        "cluster|set-config-epoch",
        "cluster mode: slot migration and the gossip-era subcommands",
    ),
    (
        "cluster|setslot",
        "cluster mode: slot migration and the gossip-era subcommands",
    ),
    ("asking", "cluster mode"),
    ("migrate", "cluster mode"),
    ("restore-asking", "cluster mode"),
    ("eval", "scripting"),
    ("eval_ro", "scripting"),
    ("evalsha", "scripting"),
    ("evalsha_ro", "scripting"),
    ("script", "scripting"),
    ("function", "scripting"),
    ("fcall", "scripting"),
    ("fcall_ro", "scripting"),
];

/// The node's own commands, which redis-server does not have.
const OWN: &[&str] = &[
    "topology",
    "topology|epoch",
    "topology|fence",
    "topology|help",
    "topology|map",
    "topology|role",
    // Redis 7.2's, which clients send on connect.
    "client|setinfo",
];

fn pending(name: &str) -> bool {
    let top = name.split('|').next().unwrap_or(name);
    PENDING.iter().any(|(p, _)| *p == top || *p == name)
}

fn names(c: &mut redis::Connection) -> BTreeSet<String> {
    redis::cmd("COMMAND")
        .arg("LIST")
        .query::<Vec<String>>(c)
        .expect("COMMAND LIST")
        .into_iter()
        .collect()
}

fn count(c: &mut redis::Connection) -> usize {
    redis::cmd("COMMAND")
        .arg("COUNT")
        .query(c)
        .expect("COMMAND COUNT")
}

/// Arity and subcommand names of one command from COMMAND INFO.
fn info(c: &mut redis::Connection, name: &str) -> Option<(i64, BTreeSet<String>)> {
    let v: Vec<redis::Value> = redis::cmd("COMMAND")
        .arg("INFO")
        .arg(name)
        .query(c)
        .expect("COMMAND INFO");
    let redis::Value::Array(entry) = v.into_iter().next()? else {
        return None;
    };
    let arity = match entry.get(1)? {
        redis::Value::Int(n) => *n,
        _ => return None,
    };
    let mut subs = BTreeSet::new();
    if let Some(redis::Value::Array(list)) = entry.get(9) {
        for s in list {
            if let redis::Value::Array(e) = s {
                if let Some(redis::Value::BulkString(n)) = e.first() {
                    subs.insert(String::from_utf8_lossy(n).into_owned());
                }
            }
        }
    }
    Some((arity, subs))
}

#[test]
fn command_list_matches_redis_server() {
    let redis = Server::start_redis(&[]);
    let node = Server::start(&[]);
    let (mut rc, mut nc) = (redis.conn(), node.conn());
    let theirs = names(&mut rc);
    let ours = names(&mut nc);
    let missing: Vec<&String> = theirs
        .iter()
        .filter(|n| !ours.contains(*n) && !pending(n))
        .collect();
    assert!(
        missing.is_empty(),
        "not in the node's COMMAND LIST: {missing:?}"
    );
    let extra: Vec<&String> = ours
        .iter()
        .filter(|n| !theirs.contains(*n) && !OWN.contains(&n.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "not in redis-server's COMMAND LIST: {extra:?}"
    );
    // A pending command that arrived must leave the list.
    let landed: Vec<&&str> = PENDING
        .iter()
        .map(|(p, _)| p)
        .filter(|p| ours.contains(**p))
        .collect();
    assert!(
        landed.is_empty(),
        "implemented, remove from PENDING: {landed:?}"
    );

    let top = |s: &BTreeSet<String>| s.iter().filter(|n| !n.contains('|')).count();
    let pending_top = theirs
        .iter()
        .filter(|n| !n.contains('|') && pending(n))
        .count();
    let own_top = OWN.iter().filter(|n| !n.contains('|')).count();
    assert_eq!(count(&mut rc), top(&theirs));
    assert_eq!(count(&mut nc), top(&ours));
    assert_eq!(top(&ours), top(&theirs) - pending_top + own_top);
    println!(
        "COMMAND LIST: redis-server {}, node {}; COMMAND COUNT: redis-server {}, node {} ({} pending)",
        theirs.len(),
        ours.len(),
        count(&mut rc),
        count(&mut nc),
        pending_top
    );

    // COMMAND INFO: the same arity and the same subcommands.
    let mut problems = Vec::new();
    for name in theirs.iter().filter(|n| !n.contains('|') && !pending(n)) {
        let want = info(&mut rc, name);
        let got = info(&mut nc, name);
        match (want, got) {
            (Some((wa, ws)), Some((ga, gs))) => {
                if wa != ga {
                    problems.push(format!("{name}: arity {ga}, redis-server {wa}"));
                }
                let ws: BTreeSet<_> = ws.into_iter().filter(|s| !pending(s)).collect();
                let gs: BTreeSet<_> = gs
                    .into_iter()
                    .filter(|s| !OWN.contains(&s.as_str()))
                    .collect();
                if ws != gs {
                    problems.push(format!("{name}: subcommands {gs:?}, redis-server {ws:?}"));
                }
            }
            (w, g) => problems.push(format!("{name}: COMMAND INFO {g:?}, redis-server {w:?}")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn added_commands_answer_as_redis_server() {
    let redis = Server::start_redis(&[]);
    let node = Server::start(&[]);
    for resp3 in [false, true] {
        let mut a = Raw::connect(node.port);
        let mut b = Raw::connect(redis.port);
        if resp3 {
            a.cmd(&["HELLO", "3"]);
            b.cmd(&["HELLO", "3"]);
        }
        for c in [
            &["MODULE", "LIST"][..],
            &["MODULE", "HELP"],
            &["MODULE", "LOAD", "/nonexistent/module.so"],
            &["MODULE", "LOADEX", "/nonexistent/module.so"],
            &["MODULE", "UNLOAD", "nosuch"],
            &["MODULE", "NOSUCH"],
            &["MODULE"],
            &["LOLWUT"],
            &["LOLWUT", "VERSION", "x"],
            &["LOLWUT", "VERSION", "7"],
            &["COMMAND", "GETKEYSANDFLAGS", "GET", "k"],
            &["COMMAND", "GETKEYSANDFLAGS", "MGET", "a", "b"],
            &["COMMAND", "GETKEYSANDFLAGS", "ZUNION", "2", "a", "b"],
            &["COMMAND", "GETKEYSANDFLAGS", "PING", "x"],
            &["COMMAND", "GETKEYSANDFLAGS", "NOSUCH", "x"],
            &["COMMAND", "GETKEYSANDFLAGS", "GET"],
            // MODULE's subcommands come in redis-server's hash order.
            &["COMMAND", "INFO", "LOLWUT", "PFSELFTEST"],
            &["PFSELFTEST"],
            &["LATENCY", "GRAPH", "command"],
            &["LATENCY", "HISTOGRAM", "nosuch"],
        ] {
            assert_eq!(a.cmd_s(c), b.cmd_s(c), "{c:?} (RESP3: {resp3})");
        }
    }
}

#[test]
fn module_commands_follow_enable_module_command() {
    let redis = Server::start_redis(&["--enable-module-command", "yes"]);
    let node = Server::start(&["--enable-module-command", "yes"]);
    let mut a = Raw::connect(node.port);
    let mut b = Raw::connect(redis.port);
    for c in [
        &["MODULE", "LOAD", "/nonexistent/module.so"][..],
        &["MODULE", "UNLOAD", "nosuch"],
        &["MODULE", "LIST"],
    ] {
        assert_eq!(a.cmd_s(c), b.cmd_s(c), "{c:?}");
    }
}

#[test]
fn latency_histogram_counts_calls_in_log2_steps() {
    let node = Server::start(&[]);
    let mut c = Raw::connect(node.port);
    for i in 0..50 {
        c.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    c.cmd(&["GET", "k1"]);
    let mut rc = node.conn();
    let v: redis::Value = redis::cmd("LATENCY")
        .arg("HISTOGRAM")
        .arg("set")
        .arg("get")
        .query(&mut rc)
        .expect("LATENCY HISTOGRAM");
    let text = format!("{v:?}");
    let redis::Value::Array(top) = v else {
        panic!("RESP2 map as an array: {text}");
    };
    assert_eq!(top.len(), 4, "{text}");
    let redis::Value::Array(set) = &top[1] else {
        panic!("{text}");
    };
    assert_eq!(
        set[0],
        redis::Value::BulkString(b"calls".to_vec()),
        "{text}"
    );
    assert_eq!(set[1], redis::Value::Int(50), "{text}");
    let redis::Value::Array(steps) = &set[3] else {
        panic!("{text}");
    };
    // Buckets rise in powers of two and the last cumulative count is every call.
    let pairs: Vec<i64> = steps
        .iter()
        .map(|s| match s {
            redis::Value::Int(n) => *n,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(pairs.chunks(2).all(|p| p[0] >= 1), "{text}");
    assert!(
        pairs
            .chunks(2)
            .zip(pairs.chunks(2).skip(1))
            .all(|(x, y)| x[0] < y[0] && x[1] < y[1]),
        "{text}"
    );
    assert_eq!(pairs.last(), Some(&50), "{text}");
}

#[test]
fn latency_graph_draws_recorded_events() {
    let node = Server::start(&["--latency-monitor-threshold", "1"]);
    let mut c = Raw::connect(node.port);
    let mut rc = node.conn();
    // DEBUG SLEEP is refused by default; a slow command of its own: a big SORT.
    let members: Vec<String> = (0..200_000).map(|i| i.to_string()).collect();
    redis::cmd("SADD")
        .arg("s")
        .arg(&members)
        .query::<i64>(&mut rc)
        .expect("SADD");
    common::wait_until_for(
        "a latency event",
        std::time::Duration::from_secs(30),
        &mut || {
            c.cmd(&["SORT", "s"]);
            let latest = c.cmd_s(&["LATENCY", "LATEST"]);
            latest.contains("command")
        },
    );
    let g: String = redis::cmd("LATENCY")
        .arg("GRAPH")
        .arg("command")
        .query(&mut rc)
        .expect("LATENCY GRAPH");
    let lines: Vec<&str> = g.lines().collect();
    assert!(lines[0].starts_with("command - high "), "{g}");
    assert_eq!(lines[1], "-".repeat(80), "{g}");
    assert!(g.contains('s'), "ages in seconds: {g}");
}
