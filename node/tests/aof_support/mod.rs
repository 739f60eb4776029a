//! Shared pieces of the AOF tests: a random workload over every command
//! family, and a canonical dump of a server's whole contents to compare.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use redis::Value;

pub use crate::common::Rng;

/// Runs one command, ignoring its reply (errors included: they must not be
/// logged either).
pub fn run(c: &mut redis::Connection, args: &[String]) -> Option<Value> {
    let mut cmd = redis::cmd(&args[0]);
    for a in &args[1..] {
        cmd.arg(a.as_str());
    }
    cmd.query::<Value>(c).ok()
}

fn s(v: impl ToString) -> String {
    v.to_string()
}

/// One random command of a random family.
pub fn random_command(r: &mut Rng, now_ms: i64) -> Vec<String> {
    let k = |r: &mut Rng, p: &str, n: u64| format!("{p}{}", r.below(n));
    let val = |r: &mut Rng| format!("v{}", r.below(50));
    let long_ttl = |r: &mut Rng| 1000 + r.below(5000);
    let kinds = ["s", "h", "l", "S", "z", "x"];
    let kind = kinds[r.below(6) as usize];
    let kind3 = ["h", "l", "z"][r.below(3) as usize];
    let kind5 = kinds[r.below(5) as usize];
    match r.below(60) {
        // strings
        0 => vec![s("SET"), k(r, "s", 20), val(r)],
        1 => vec![s("SET"), k(r, "s", 20), val(r), s("EX"), s(long_ttl(r))],
        2 => vec![
            s("SET"),
            k(r, "s", 20),
            val(r),
            s("PX"),
            s(1 + r.below(150)),
        ],
        3 => vec![s("SETEX"), k(r, "s", 20), s(long_ttl(r)), val(r)],
        4 => vec![s("PSETEX"), k(r, "s", 20), s(long_ttl(r) * 1000), val(r)],
        5 => vec![s("INCRBYFLOAT"), k(r, "n", 5), s("0.1")],
        6 => vec![s("INCRBY"), k(r, "n", 5), s(r.below(100))],
        7 => vec![s("APPEND"), k(r, "s", 20), val(r)],
        8 => {
            let opt = r.pick(&["EX", "PX", "EXAT", "PERSIST"]);
            let mut v = vec![s("GETEX"), k(r, "s", 20), s(opt)];
            match opt {
                "EX" => v.push(s(long_ttl(r))),
                "PX" => v.push(s(long_ttl(r) * 1000)),
                "EXAT" => v.push(s(now_ms / 1000 + long_ttl(r) as i64)),
                _ => {}
            }
            v
        }
        9 => vec![
            s("SET"),
            k(r, "s", 20),
            val(r),
            s("NX"),
            s("EXAT"),
            s(now_ms / 1000 + 3000),
        ],
        10 => vec![s("SETRANGE"), k(r, "s", 20), s(r.below(10)), val(r)],
        11 => vec![s("MSET"), k(r, "s", 20), val(r), k(r, "s", 20), val(r)],
        12 => vec![s("GETDEL"), k(r, "s", 20)],
        13 => vec![s("SETBIT"), k(r, "b", 3), s(r.below(64)), s(r.below(2))],
        14 => vec![
            s("BITOP"),
            s("OR"),
            k(r, "b", 3),
            k(r, "b", 3),
            k(r, "b", 3),
        ],
        15 => vec![
            s("BITFIELD"),
            k(r, "b", 3),
            s("INCRBY"),
            s("u8"),
            s(r.below(32)),
            s(7),
        ],
        // keys
        16 => vec![s("EXPIRE"), k(r, kind5, 10), s(long_ttl(r))],
        17 => vec![s("PEXPIRE"), k(r, kind5, 20), s(1 + r.below(120))],
        18 => vec![
            s("EXPIREAT"),
            k(r, "s", 20),
            s(now_ms / 1000 + long_ttl(r) as i64),
        ],
        19 => vec![s("PERSIST"), k(r, "s", 20)],
        20 => vec![s("DEL"), k(r, kind, 10)],
        21 => vec![s("RENAME"), k(r, "s", 20), k(r, "s", 20)],
        22 => vec![
            s("COPY"),
            k(r, kind3, 10),
            k(r, "c", 5),
            s("DB"),
            s(1),
            s("REPLACE"),
        ],
        23 => vec![s("MOVE"), k(r, "s", 20), s(1)],
        // hashes
        24 => vec![
            s("HSET"),
            k(r, "h", 10),
            k(r, "f", 8),
            val(r),
            k(r, "f", 8),
            val(r),
        ],
        25 => vec![s("HINCRBYFLOAT"), k(r, "h", 10), k(r, "ff", 3), s("1.5")],
        26 => vec![s("HDEL"), k(r, "h", 10), k(r, "f", 8)],
        27 => vec![s("HINCRBY"), k(r, "h", 10), k(r, "fi", 3), s(3)],
        // sets
        28 => vec![s("SADD"), k(r, "S", 10), val(r), val(r), s(r.below(100))],
        29 => vec![s("SPOP"), k(r, "S", 10)],
        30 => vec![s("SPOP"), k(r, "S", 10), s(r.below(5))],
        31 => vec![s("SMOVE"), k(r, "S", 10), k(r, "S", 10), val(r)],
        32 => vec![
            s("SUNIONSTORE"),
            k(r, "S", 10),
            k(r, "S", 10),
            k(r, "S", 10),
        ],
        33 => vec![s("SREM"), k(r, "S", 10), val(r)],
        // lists
        34 => vec![s("RPUSH"), k(r, "l", 10), val(r), val(r), val(r)],
        35 => vec![s("LPOP"), k(r, "l", 10)],
        36 => vec![s("RPOP"), k(r, "l", 10), s(2)],
        37 => vec![
            s("LMOVE"),
            k(r, "l", 10),
            k(r, "l", 10),
            s("LEFT"),
            s("RIGHT"),
        ],
        38 => vec![
            s("LMPOP"),
            s(2),
            k(r, "l", 10),
            k(r, "l", 10),
            s("RIGHT"),
            s("COUNT"),
            s(2),
        ],
        39 => vec![s("BLPOP"), k(r, "l", 10), k(r, "l", 10), s("0.01")],
        40 => vec![s("LINSERT"), k(r, "l", 10), s("BEFORE"), val(r), val(r)],
        41 => vec![s("LTRIM"), k(r, "l", 10), s(0), s(r.below(6))],
        // sorted sets and geo
        42 => vec![
            s("ZADD"),
            k(r, "z", 10),
            s(r.below(100) as f64 / 7.0),
            val(r),
            s(r.below(10)),
            val(r),
        ],
        43 => vec![s("ZINCRBY"), k(r, "z", 10), s("0.25"), val(r)],
        44 => vec![s("ZPOPMIN"), k(r, "z", 10)],
        45 => vec![
            s("ZMPOP"),
            s(2),
            k(r, "z", 10),
            k(r, "z", 10),
            s("MAX"),
            s("COUNT"),
            s(2),
        ],
        46 => vec![s("BZPOPMAX"), k(r, "z", 10), s("0.01")],
        47 => vec![
            s("ZUNIONSTORE"),
            k(r, "z", 10),
            s(2),
            k(r, "z", 10),
            k(r, "z", 10),
        ],
        48 => vec![s("ZRANGESTORE"), k(r, "z", 10), k(r, "z", 10), s(0), s(2)],
        49 => vec![
            s("GEOADD"),
            k(r, "g", 3),
            s(2.0 + r.below(100) as f64 / 50.0),
            s(48.0 + r.below(100) as f64 / 50.0),
            val(r),
        ],
        50 => vec![
            s("GEOSEARCHSTORE"),
            k(r, "gs", 2),
            k(r, "g", 3),
            s("FROMLONLAT"),
            s(2.5),
            s(48.5),
            s("BYRADIUS"),
            s(200),
            s("km"),
            s("ASC"),
        ],
        // HyperLogLog
        51 => vec![s("PFADD"), k(r, "p", 3), val(r), val(r)],
        52 => vec![s("PFMERGE"), k(r, "p", 3), k(r, "p", 3)],
        53 => vec![s("PFCOUNT"), k(r, "p", 3)],
        // streams
        54 => vec![
            s("XADD"),
            k(r, "x", 3),
            s("MAXLEN"),
            s("~"),
            s(8),
            s("*"),
            val(r),
            val(r),
        ],
        55 => vec![
            s("XGROUP"),
            s("CREATE"),
            k(r, "x", 3),
            k(r, "g", 2),
            s(0),
            s("MKSTREAM"),
        ],
        56 => {
            let id = if r.below(4) == 0 { s(0) } else { s(">") };
            vec![
                s("XREADGROUP"),
                s("GROUP"),
                k(r, "g", 2),
                k(r, "c", 3),
                s("COUNT"),
                s(2),
                s("STREAMS"),
                k(r, "x", 3),
                id,
            ]
        }
        57 => vec![
            s("XAUTOCLAIM"),
            k(r, "x", 3),
            k(r, "g", 2),
            k(r, "c", 3),
            s(0),
            s(0),
            s("COUNT"),
            s(1),
        ],
        58 => vec![s("XTRIM"), k(r, "x", 3), s("MAXLEN"), s("~"), s(4)],
        // server: rare, whole-database effects
        _ => match r.below(10) {
            0 => vec![s("SWAPDB"), s(0), s(1)],
            1 => vec![
                s("SORT"),
                k(r, "l", 10),
                s("ALPHA"),
                s("STORE"),
                k(r, "sorted", 2),
            ],
            2 => vec![s("XACK"), k(r, "x", 3), k(r, "g", 2), s("0-1")],
            _ => vec![s("SADD"), k(r, "S", 10), val(r)],
        },
    }
}

/// Runs `n` random commands, some inside transactions, with blocked pops
/// served from another connection now and then.
pub fn workload(url: &str, seed: u64, n: usize) {
    let client = redis::Client::open(url).expect("client");
    let mut c = client.get_connection().expect("connect");
    let mut r = Rng::new(seed);
    for i in 0..n {
        let now = now_ms();
        if i.is_multiple_of(97) {
            // A transaction: MULTI ... EXEC of several writes.
            let mut pipe = redis::pipe();
            pipe.atomic();
            for _ in 0..1 + r.below(4) {
                let argv = random_command(&mut r, now);
                if argv[0] == "BLPOP" || argv[0] == "BZPOPMAX" || argv[0] == "SWAPDB" {
                    continue;
                }
                let mut cmd = redis::cmd(&argv[0]);
                for a in &argv[1..] {
                    cmd.arg(a.as_str());
                }
                pipe.add_command(cmd);
            }
            let _: redis::RedisResult<Value> = pipe.query(&mut c);
            continue;
        }
        if i.is_multiple_of(401) {
            blocked_pop(&client, &mut c, i);
            continue;
        }
        let argv = random_command(&mut r, now);
        run(&mut c, &argv);
    }
}

/// A client blocks in BLMOVE / BZPOPMIN on an empty key and is served by a
/// push from this connection.
fn blocked_pop(client: &redis::Client, c: &mut redis::Connection, i: usize) {
    let (key, block, push): (String, Vec<String>, Vec<String>) = if i.is_multiple_of(2) {
        let k = format!("bl{i}");
        (
            k.clone(),
            vec![s("BLMOVE"), k.clone(), s("l0"), s("RIGHT"), s("LEFT"), s(5)],
            vec![s("RPUSH"), k, s("a"), s("b")],
        )
    } else {
        let k = format!("bz{i}");
        (
            k.clone(),
            vec![s("BZPOPMIN"), k.clone(), s(5)],
            vec![s("ZADD"), k, s(1), s("m1"), s(2), s("m2")],
        )
    };
    let _ = key;
    let mut c2 = client.get_connection().expect("connect");
    let before = blocked_clients(c);
    let t = std::thread::spawn(move || run(&mut c2, &block));
    let deadline = Instant::now() + Duration::from_secs(5);
    while blocked_clients(c) <= before && Instant::now() < deadline {
        std::thread::yield_now();
    }
    run(c, &push);
    let _ = t.join();
}

fn blocked_clients(c: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("clients")
        .query(c)
        .unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Waits until no key in databases 0 and 1 expires within a minute (the
/// workload's short TTLs have run out), so two dumps taken at different times
/// see the same keys.
pub fn settle(c: &mut redis::Connection) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut soon = 0;
        for db in 0..2 {
            let _: () = redis::cmd("SELECT").arg(db).query(c).expect("select");
            for k in keys(c) {
                let at: i64 = redis::cmd("PEXPIRETIME").arg(&k).query(c).unwrap_or(-2);
                if at >= 0 && at < now_ms() + 60_000 {
                    soon += 1;
                    // Touch it, so an expired key goes now.
                    let _: Value = redis::cmd("EXISTS").arg(&k).query(c).expect("exists");
                }
            }
        }
        let _: () = redis::cmd("SELECT").arg(0).query(c).expect("select");
        if soon == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{soon} short-lived keys never expired"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn keys(c: &mut redis::Connection) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query(c)
            .expect("scan");
        out.extend(batch);
        if next == 0 {
            return out;
        }
        cursor = next;
    }
}

/// A reply as text, sets and hashes in sorted order, consumer times dropped.
fn canon(v: &Value) -> String {
    match v {
        Value::Nil => "nil".into(),
        Value::Int(i) => i.to_string(),
        Value::BulkString(b) => format!("{:?}", String::from_utf8_lossy(b)),
        Value::SimpleString(s) => s.clone(),
        Value::Okay => "OK".into(),
        Value::Array(items) => {
            let mut parts = Vec::new();
            let mut i = 0;
            while i < items.len() {
                let is_time = matches!(&items[i], Value::BulkString(b)
                    if b == b"seen-time" || b == b"active-time");
                if is_time {
                    i += 2;
                    continue;
                }
                parts.push(canon(&items[i]));
                i += 1;
            }
            format!("[{}]", parts.join(","))
        }
        other => format!("{other:?}"),
    }
}

fn sorted(v: &Value, pairs: bool) -> String {
    let Value::Array(items) = v else {
        return canon(v);
    };
    let mut parts: Vec<String> = if pairs {
        items
            .chunks(2)
            .map(|p| p.iter().map(canon).collect::<Vec<_>>().join("="))
            .collect()
    } else {
        items.iter().map(canon).collect()
    };
    parts.sort();
    parts.join(",")
}

/// Every key of databases 0 and 1: type, absolute expiry and value.
pub fn dump(c: &mut redis::Connection) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for db in 0..2 {
        let _: () = redis::cmd("SELECT").arg(db).query(c).expect("select");
        for k in keys(c) {
            let q = |c: &mut redis::Connection, name: &str, extra: &[&str]| -> Value {
                let mut cmd = redis::cmd(name);
                cmd.arg(&k);
                for e in extra {
                    cmd.arg(*e);
                }
                cmd.query(c).unwrap_or(Value::Nil)
            };
            let t = match q(c, "TYPE", &[]) {
                Value::SimpleString(s) => s,
                Value::Okay => "ok".into(),
                other => format!("{other:?}"),
            };
            let at = canon(&q(c, "PEXPIRETIME", &[]));
            let value = match t.as_str() {
                "string" => canon(&q(c, "GET", &[])),
                "hash" => sorted(&q(c, "HGETALL", &[]), true),
                "set" => sorted(&q(c, "SMEMBERS", &[]), false),
                "list" => canon(&q(c, "LRANGE", &["0", "-1"])),
                "zset" => canon(&q(c, "ZRANGE", &["0", "-1", "WITHSCORES"])),
                "stream" => canon(&q(c, "XRANGE", &["-", "+"])) + &canon(&xinfo_full(c, &k)),
                other => other.to_string(),
            };
            out.insert(
                format!("{db}:{}", String::from_utf8_lossy(&k)),
                format!("{t} exp={at} {value}"),
            );
        }
    }
    let _: () = redis::cmd("SELECT").arg(0).query(c).expect("select");
    out
}

fn xinfo_full(c: &mut redis::Connection, k: &[u8]) -> Value {
    redis::cmd("XINFO")
        .arg("STREAM")
        .arg(k)
        .arg("FULL")
        .query(c)
        .unwrap_or(Value::Nil)
}

/// Asserts two dumps are equal, listing the first differences.
pub fn assert_same(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>, what: &str) {
    let mut diffs = Vec::new();
    for (k, v) in a {
        match b.get(k) {
            Some(w) if w == v => {}
            Some(w) => diffs.push(format!("{k}:\n  before {v}\n  after  {w}")),
            None => diffs.push(format!("{k}: missing after ({v})")),
        }
    }
    for k in b.keys().filter(|k| !a.contains_key(*k)) {
        diffs.push(format!("{k}: only after ({})", b[k]));
    }
    assert!(
        diffs.is_empty(),
        "{what}: {} of {} keys differ:\n{}",
        diffs.len(),
        a.len(),
        diffs
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Fills the node with `n` string keys (pipelined MSETs of 100 keys).
pub fn preload(node: &crate::common::Server, n: usize, value_len: usize) {
    let mut c = node.conn();
    let value = "v".repeat(value_len);
    let keys: Vec<usize> = (0..n).collect();
    for chunk in keys.chunks(10_000) {
        let mut p = redis::pipe();
        for batch in chunk.chunks(100) {
            let mut cmd = redis::cmd("MSET");
            for i in batch {
                cmd.arg(format!("pre:{i}")).arg(&value);
            }
            p.add_command(cmd).ignore();
        }
        let () = p.query(&mut c).expect("preload");
    }
}
