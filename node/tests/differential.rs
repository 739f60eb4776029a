//! Differential test: the same seeded random command sequence is sent to
//! kcache-node and to redis-server 7.0, and every pair of replies is compared
//! (byte for byte, or normalised where the reply is unordered or time-dependent;
//! see `diffgen::Cmp`).
//!
//! Commands the node does not know yet (`ERR unknown command` on a probe) are
//! skipped, so the test passes on every branch and covers commands as they land.
//!
//! Environment: `KCACHE_DIFF_ITER` (commands to run, default 20000),
//! `KCACHE_DIFF_SEED` (default: from the clock; printed, and with the command
//! history on failure). `make fuzz-diff` runs a long one. `KCACHE_DIFF_SELFCHECK=1`
//! runs redis-server against a second redis-server: it checks that the generators
//! produce no outcome that depends on timing (it must always pass).
//! `KCACHE_DIFF_TRACE=1` prints every request with both replies.

mod common;
mod diffgen;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use common::Server;
use diffgen::resp::{Conn, V};
use diffgen::{Cmp, Gen, Req, Spec};

const HISTORY: usize = 60;

/// A reply as compared: its exact bytes and its decoded value.
type Reply = (Vec<u8>, V);

/// The node and redis sides of one logical connection.
struct Pair {
    node: Conn,
    redis: Conn,
    resp3: bool,
}

impl Pair {
    fn open(node: &Server, redis: &Server, resp3: bool) -> Pair {
        let mut p = Pair {
            node: Conn::connect(node.port),
            redis: Conn::connect(redis.port),
            resp3,
        };
        if resp3 {
            let hello = vec![b"HELLO".to_vec(), b"3".to_vec()];
            let (_, n) = p.node.call(&hello).expect("node HELLO 3");
            let (_, r) = p.redis.call(&hello).expect("redis HELLO 3");
            assert!(!n.is_error() && !r.is_error(), "HELLO 3: {n:?} / {r:?}");
        }
        p
    }

    /// Sends `args` to both servers (both requests in flight at once) and reads
    /// one reply from each.
    fn call(&mut self, args: &[Vec<u8>]) -> Result<(Reply, Reply), String> {
        self.node.send(args);
        self.redis.send(args);
        let n = self.node.read().map_err(|e| format!("node: {e}"))?;
        let r = self.redis.read().map_err(|e| format!("redis: {e}"))?;
        Ok((n, r))
    }
}

/// Iterates a SCAN (or, with `at` 2, an HSCAN/SSCAN/ZSCAN) from cursor 0 to
/// the end on one server: the sorted set of elements seen (field/value or
/// member/score pairs kept together when `pairs`), or the first (error) reply.
fn scan_all(
    conn: &mut Conn,
    args: &[Vec<u8>],
    at: usize,
    pairs: bool,
) -> Result<Result<Vec<V>, Vec<u8>>, String> {
    let mut args = args.to_vec();
    let mut seen = BTreeSet::new();
    for _ in 0..100_000 {
        let (raw, v) = conn.call(&args)?;
        let items = match v.items() {
            Some([V::Bulk(cursor), keys]) => (cursor.clone(), keys.items().map(<[V]>::to_vec)),
            _ => return Ok(Err(raw)),
        };
        let (cursor, Some(keys)) = items else {
            return Ok(Err(raw));
        };
        if pairs {
            seen.extend(keys.chunks(2).map(|p| V::Array(p.to_vec())));
        } else {
            seen.extend(keys);
        }
        if cursor == b"0" {
            return Ok(Ok(seen.into_iter().collect()));
        }
        args[at] = cursor;
    }
    Err("SCAN did not terminate".into())
}

fn sorted(v: &V) -> Option<Vec<V>> {
    let mut items = v.items()?.to_vec();
    items.sort();
    Some(items)
}

/// The items of `v` as sorted pairs (a flattened map or field/value array).
fn sorted_pairs(v: &V) -> Option<Vec<Vec<V>>> {
    let items = v.items()?;
    if !items.len().is_multiple_of(2) {
        return None;
    }
    let mut pairs: Vec<Vec<V>> = items.chunks(2).map(<[V]>::to_vec).collect();
    pairs.sort();
    Some(pairs)
}

/// Whether two replies agree under `cmp` (error replies always byte for byte).
fn agree(cmp: Cmp, n: &Reply, r: &Reply) -> bool {
    if n.0 == r.0 {
        return true;
    }
    if n.1.is_error() || r.1.is_error() {
        // Parsed error text has been through a lossy UTF-8 round trip (see
        // diffgen/resp.rs): equal there means equal but for invalid UTF-8.
        return n.1 == r.1;
    }
    let same_kind = std::mem::discriminant(&n.1) == std::mem::discriminant(&r.1);
    match cmp {
        Cmp::Exact | Cmp::ScanAll | Cmp::ScanKey(_) => false,
        Cmp::Unordered => same_kind && sorted(&n.1).is_some() && sorted(&n.1) == sorted(&r.1),
        Cmp::Pairs => {
            same_kind && sorted_pairs(&n.1).is_some() && sorted_pairs(&n.1) == sorted_pairs(&r.1)
        }
        Cmp::Within(tol) => match (&n.1, &r.1) {
            (V::Int(a), V::Int(b)) => *a >= 0 && *b >= 0 && (a - b).abs() <= tol,
            _ => false,
        },
        Cmp::Kind => {
            std::mem::discriminant(&n.1) == std::mem::discriminant(&r.1)
                && n.1.items().map(<[V]>::len) == r.1.items().map(<[V]>::len)
        }
    }
}

fn show_args(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| format!("\"{}\"", a.escape_ascii()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn show(raw: &[u8]) -> String {
    let s = raw.escape_ascii().to_string();
    if s.len() > 300 {
        format!("{}... ({} bytes)", &s[..300], raw.len())
    } else {
        s
    }
}

struct Run {
    seed: u64,
    iter: usize,
    history: VecDeque<String>,
    /// Per command: replies compared, of which errors.
    counts: BTreeMap<&'static str, (u64, u64)>,
    /// Print every request and both replies (`KCACHE_DIFF_TRACE=1`).
    trace: bool,
}

impl Run {
    fn record(&mut self, line: String) {
        if self.trace {
            println!("{line}");
        }
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(line);
    }

    fn fail(&self, what: &str) -> ! {
        let mut msg = format!(
            "\ndifferential mismatch at command {} (seed {})\n\
             reproduce: KCACHE_DIFF_SEED={} KCACHE_DIFF_ITER={} cargo test -p kcache-node \
             --test differential -- --nocapture\nlast commands (conn: request => node | redis):\n",
            self.iter,
            self.seed,
            self.seed,
            self.iter + 1
        );
        for h in &self.history {
            msg.push_str(h);
            msg.push('\n');
        }
        msg.push_str(what);
        panic!("{msg}");
    }
}

/// Runs one generated request on `pair` and compares.
fn step(run: &mut Run, pair: &mut Pair, name: &'static str, req: &Req) {
    let tag = if pair.resp3 { "resp3" } else { "resp2" };
    let scan = match req.cmp {
        Cmp::ScanAll => Some((1, false)),
        Cmp::ScanKey(pairs) => Some((2, pairs)),
        _ => None,
    };
    if let Some((at, pairs)) = scan {
        let n = scan_all(&mut pair.node, &req.args, at, pairs).unwrap_or_else(|e| run.fail(&e));
        let r = scan_all(&mut pair.redis, &req.args, at, pairs).unwrap_or_else(|e| run.fail(&e));
        let fmt = |x: &Result<Vec<V>, Vec<u8>>| match x {
            Ok(keys) => format!("{} keys {keys:?}", keys.len()),
            Err(raw) => show(raw),
        };
        run.record(format!(
            "{tag}: {} => {} | {}",
            show_args(&req.args),
            fmt(&n),
            fmt(&r)
        ));
        let c = run.counts.entry(name).or_default();
        c.0 += 1;
        c.1 += n.is_err() as u64;
        if n != r {
            run.fail("SCAN iterations differ");
        }
        return;
    }
    let (n, r) = pair.call(&req.args).unwrap_or_else(|e| {
        run.record(format!("{tag}: {} => ?", show_args(&req.args)));
        run.fail(&e)
    });
    run.record(format!(
        "{tag}: {} => {} | {}",
        show_args(&req.args),
        show(&n.0),
        show(&r.0)
    ));
    let c = run.counts.entry(name).or_default();
    c.0 += 1;
    c.1 += n.1.is_error() as u64;
    if !agree(req.cmp, &n, &r) {
        run.fail(&format!(
            "replies differ ({:?}):\n  node:  {}\n  redis: {}",
            req.cmp,
            show(&n.0),
            show(&r.0)
        ));
    }
    if let Some(then) = &req.then {
        pair.call(then).unwrap_or_else(|e| run.fail(&e));
        run.record(format!("{tag}: {} (not compared)", show_args(then)));
    }
}

/// Asks the node about each command with no arguments: `ERR unknown command`
/// means it is not implemented on this branch. Commands that take no arguments
/// run for real, on both servers, while both are still empty.
fn supported(pair: &mut Pair, specs: Vec<Spec>) -> (Vec<Spec>, Vec<&'static str>) {
    let mut yes = Vec::new();
    let mut no = Vec::new();
    for s in specs {
        let (n, _) = pair
            .call(&[s.name.as_bytes().to_vec()])
            .expect("probe command");
        if n.0.starts_with(b"-ERR unknown command") {
            no.push(s.name);
        } else {
            yes.push(s);
        }
    }
    (yes, no)
}

/// After the run: every database holds the same keys with the same values/TTLs.
fn final_sweep(run: &mut Run, pair: &mut Pair, has: &dyn Fn(&str) -> bool) {
    if !has("keys") {
        return;
    }
    for db in 0..4 {
        let select = Req::new("SELECT").a(db.to_string());
        step(run, pair, "select", &select);
        let all = Req::new("KEYS").a("*").cmp(Cmp::Unordered);
        step(run, pair, "keys", &all);
        let family = [diffgen::zsets::LEX, diffgen::streams::STABLE];
        for key in diffgen::KEYS.iter().chain(family.iter()) {
            step(run, pair, "get", &Req::new("GET").a(*key));
            // The whole value of every collection, as each type reads it.
            for (name, before, after, cmp) in [
                ("type", &["TYPE"][..], &[][..], Cmp::Exact),
                ("hgetall", &["HGETALL"], &[], Cmp::Pairs),
                ("smembers", &["SMEMBERS"], &[], Cmp::Unordered),
                (
                    "zrange",
                    &["ZRANGE"],
                    &["0", "-1", "WITHSCORES"],
                    Cmp::Exact,
                ),
                ("lrange", &["LRANGE"], &["0", "-1"], Cmp::Exact),
                ("xrange", &["XRANGE"], &["-", "+"], Cmp::Exact),
                ("xinfo", &["XINFO", "GROUPS"], &[], Cmp::Exact),
            ] {
                if has(name) || name == "type" {
                    let mut req = Req::new(before[0]).cmp(cmp);
                    req = req.extend(before[1..].iter().map(|a| a.as_bytes().to_vec()));
                    req = req.a(*key);
                    req = req.extend(after.iter().map(|a| a.as_bytes().to_vec()));
                    step(run, pair, name, &req);
                }
            }
            if has("pttl") {
                let pttl = Req::new("PTTL").a(*key).cmp(Cmp::Within(500));
                step(run, pair, "pttl", &pttl);
            }
        }
    }
}

#[test]
fn node_replies_match_redis() {
    let iters: usize = std::env::var("KCACHE_DIFF_ITER")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let seed: u64 = std::env::var("KCACHE_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    println!("differential: seed {seed}, {iters} commands");

    let redis = Server::start_redis(&[]);
    let node = if std::env::var_os("KCACHE_DIFF_SELFCHECK").is_some() {
        Server::start_redis(&[])
    } else {
        Server::start(&["--save", "", "--appendonly", "no"])
    };
    let mut pairs = [
        Pair::open(&node, &redis, false),
        Pair::open(&node, &redis, true),
    ];

    let (specs, skipped) = supported(&mut pairs[0], diffgen::table());
    let total: u32 = specs.iter().map(|s| s.weight).sum();
    let mut gen = Gen::new(seed);
    let mut run = Run {
        seed,
        iter: 0,
        history: VecDeque::new(),
        counts: BTreeMap::new(),
        trace: std::env::var_os("KCACHE_DIFF_TRACE").is_some(),
    };
    for i in 0..iters {
        run.iter = i;
        let mut w = gen.rng.below(total as usize) as u32;
        let spec = specs
            .iter()
            .find(|s| {
                if w < s.weight {
                    true
                } else {
                    w -= s.weight;
                    false
                }
            })
            .expect("weights cover the draw");
        let req = (spec.gen)(&mut gen);
        let req = gen.mutate_arity(req);
        let pair = if gen.chance(80) { 0 } else { 1 };
        step(&mut run, &mut pairs[pair], spec.name, &req);
    }
    let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
    final_sweep(&mut run, &mut pairs[0], &|n| names.contains(&n));

    println!("{:<14} {:>8} {:>8}", "command", "compared", "errors");
    for (name, (n, e)) in &run.counts {
        println!("{name:<14} {n:>8} {e:>8}");
    }
    println!("skipped (unknown to the node): {}", skipped.join(" "));
}
