//! maxmemory and eviction: every policy fills a node past a limit of a few tens
//! of MB and checks, with INFO and with the set of surviving keys, that memory
//! stays near the limit and that the policy chose its victims as Redis's would.
//! Assertions are statistical with wide margins (eviction samples at random) and
//! never depend on timing: where LRU needs keys of different ages, the test waits
//! for the server's LRU clock to move, polling with a deadline.

mod common;

use std::time::{Duration, Instant};

use common::Server;

const MB: u64 = 1024 * 1024;
const LIMIT: u64 = 24 * MB;
const VALUE_LEN: usize = 1000;
const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// A node with `maxmemory` LIMIT and `policy`; few event loops, so that the
/// allocator counter's per-thread slack (256 KiB each) stays small.
fn node(policy: &str, extra: &[&str]) -> Server {
    let limit = LIMIT.to_string();
    let mut args = vec![
        "--io-threads",
        "2",
        "--maxmemory",
        &limit,
        "--maxmemory-policy",
        policy,
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn info_field(c: &mut redis::Connection, section: &str, field: &str) -> Option<String> {
    let text: String = redis::cmd("INFO").arg(section).query(c).expect("INFO");
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

fn info_u64(c: &mut redis::Connection, section: &str, field: &str) -> u64 {
    info_field(c, section, field)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("INFO {section} has no numeric {field}"))
}

fn used(c: &mut redis::Connection) -> u64 {
    info_u64(c, "memory", "used_memory")
}

fn evicted(c: &mut redis::Connection) -> u64 {
    info_u64(c, "stats", "evicted_keys")
}

/// Keys with a TTL in db 0 (INFO keyspace's `expires=`), 0 when the db is empty.
fn volatile_keys(c: &mut redis::Connection) -> u64 {
    info_field(c, "keyspace", "db0")
        .and_then(|v| {
            v.split(',')
                .find_map(|kv| kv.strip_prefix("expires=")?.parse().ok())
        })
        .unwrap_or(0)
}

fn key(prefix: &str, i: usize) -> String {
    format!("{prefix}:{i:07}")
}

/// SETs `prefix:i` for every i in `range`, with a TTL of `ttl(i)` seconds where
/// that is `Some`, in pipelines of 500.
fn fill(
    c: &mut redis::Connection,
    prefix: &str,
    range: std::ops::Range<usize>,
    ttl: impl Fn(usize) -> Option<u64>,
) {
    let value = "v".repeat(VALUE_LEN);
    let idx: Vec<usize> = range.collect();
    for chunk in idx.chunks(500) {
        let mut p = redis::pipe();
        for &i in chunk {
            let cmd = p.cmd("SET").arg(key(prefix, i)).arg(&value);
            if let Some(t) = ttl(i) {
                cmd.arg("EX").arg(t);
            }
            cmd.ignore();
        }
        p.query::<()>(c).expect("fill pipeline");
    }
}

/// How many of `prefix:i` (i in `idx`) still exist.
fn surviving(c: &mut redis::Connection, prefix: &str, idx: &[usize]) -> usize {
    let mut n = 0;
    for chunk in idx.chunks(500) {
        let mut p = redis::pipe();
        for &i in chunk {
            p.cmd("EXISTS").arg(key(prefix, i));
        }
        let found: Vec<u64> = p.query(c).expect("EXISTS pipeline");
        n += found.iter().filter(|&&x| x == 1).count();
    }
    n
}

fn ratio(c: &mut redis::Connection, prefix: &str, idx: &[usize]) -> f64 {
    surviving(c, prefix, idx) as f64 / idx.len() as f64
}

/// Reads every key of `idx` with GET, `times` times.
fn read_all(c: &mut redis::Connection, prefix: &str, idx: &[usize], times: usize) {
    for _ in 0..times {
        for chunk in idx.chunks(500) {
            let mut p = redis::pipe();
            for &i in chunk {
                p.cmd("GET").arg(key(prefix, i)).ignore();
            }
            p.query::<()>(c).expect("GET pipeline");
        }
    }
}

/// Polls until used_memory is within 10% above the limit (a command may leave
/// the rest of an eviction to the background), then checks it was not driven
/// far below it either.
fn assert_near_limit(c: &mut redis::Connection) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut u = used(c);
    while u > LIMIT + LIMIT / 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        u = used(c);
    }
    assert!(u <= LIMIT + LIMIT / 10, "used_memory {u} over {LIMIT}");
    assert!(u >= LIMIT * 6 / 10, "used_memory {u} far below {LIMIT}");
}

/// Checks that `expected` keys were written to the selected database: each one
/// is either still there or was evicted (counted before and after DBSIZE, as the
/// cron thread may still be finishing an eviction).
fn assert_accounted(c: &mut redis::Connection, expected: u64) {
    let before = evicted(c);
    let n: u64 = redis::cmd("DBSIZE").query(c).unwrap();
    let after = evicted(c);
    assert!(
        n + before <= expected && expected <= n + after,
        "{n} keys, {before}..{after} evicted, {expected} written"
    );
}

/// Waits until the server's LRU clock (seconds) has moved past `after`.
fn wait_lru_tick(c: &mut redis::Connection) {
    let start = info_u64(c, "server", "lru_clock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_u64(c, "server", "lru_clock") == start {
        assert!(Instant::now() < deadline, "LRU clock did not move");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn noeviction_refuses_denyoom_commands_like_redis() {
    let s = Server::start(&["--io-threads", "2"]);
    let r = Server::start_redis(&[]);
    let script: &[&[&str]] = &[
        &["SET", "a", "1"],
        &["RPUSH", "l", "x", "y"],
        &["CONFIG", "SET", "maxmemory", "1"],
        &["SET", "b", "1"],
        &["GET", "a"],
        &["EXPIRE", "a", "100"],
        &["PERSIST", "a"],
        &["LPOP", "l"],
        &["INCR", "a"],
        &["HSET", "h", "f", "v"],
        &["SETEX", "q", "10", "v"],
        &["APPEND", "a", "x"],
        &["MSET", "x", "1", "y", "2"],
        &["DEL", "a"],
        &["EXISTS", "a"],
        &["CONFIG", "SET", "maxmemory", "0"],
        &["SET", "b", "1"],
    ];
    let mut cn = s.conn();
    let mut cr = r.conn();
    for cmd in script {
        let run = |c: &mut redis::Connection| -> String {
            let mut q = redis::cmd(cmd[0]);
            for a in &cmd[1..] {
                q.arg(*a);
            }
            match q.query::<redis::Value>(c) {
                Ok(v) => format!("{v:?}"),
                Err(e) => format!("ERR {:?} {}", e.code(), e.detail().unwrap_or("")),
            }
        };
        assert_eq!(run(&mut cn), run(&mut cr), "{cmd:?}");
    }
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("1")
        .query(&mut cn)
        .unwrap();
    let e = redis::cmd("SET")
        .arg("c")
        .arg("1")
        .query::<()>(&mut cn)
        .expect_err("refused");
    assert_eq!(
        format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")),
        OOM
    );
}

#[test]
fn noeviction_fills_up_then_refuses_writes_but_serves_reads_and_del() {
    let s = node("noeviction", &[]);
    let mut c = s.conn();
    let value = "v".repeat(VALUE_LEN);
    let mut stored = 0usize;
    let refused = loop {
        assert!(stored < 200_000, "never refused a write");
        let r: redis::RedisResult<()> = redis::cmd("SET")
            .arg(key("k", stored))
            .arg(&value)
            .query(&mut c);
        match r {
            Ok(()) => stored += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(
        format!(
            "{} {}",
            refused.code().unwrap_or(""),
            refused.detail().unwrap_or("")
        ),
        OOM
    );
    assert!(stored > 10_000, "refused after only {stored} keys");
    assert_eq!(evicted(&mut c), 0);
    // Reads still work, and so do commands that free memory.
    let v: String = redis::cmd("GET").arg(key("k", 0)).query(&mut c).unwrap();
    assert_eq!(v.len(), VALUE_LEN);
    let n: u64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n as usize, stored);
    let mut del = redis::cmd("DEL");
    for i in 0..stored / 2 {
        del.arg(key("k", i));
    }
    let deleted: u64 = del.query(&mut c).unwrap();
    assert_eq!(deleted as usize, stored / 2);
    // Memory is available again.
    let () = redis::cmd("SET")
        .arg("after")
        .arg(&value)
        .query(&mut c)
        .unwrap();
    assert_eq!(evicted(&mut c), 0);
    let rejected = info_field(&mut c, "commandstats", "cmdstat_set").unwrap();
    assert!(rejected.contains("rejected_calls=1"), "{rejected}");
}

/// Fills 70 MB worth of keys through a 24 MB limit.
fn overfill_and_check(policy: &str) -> Server {
    let s = node(policy, &[]);
    let mut c = s.conn();
    fill(&mut c, "k", 0..60_000, |_| None);
    assert_near_limit(&mut c);
    let ev = evicted(&mut c);
    assert!(ev > 20_000, "{policy}: only {ev} evicted");
    assert_accounted(&mut c, 60_000);
    s
}

#[test]
fn allkeys_random_evicts_across_the_keyspace() {
    let s = overfill_and_check("allkeys-random");
    let mut c = s.conn();
    // Random victims: old keys survive too, unlike an oldest-first order.
    let first: Vec<usize> = (0..10_000).collect();
    let last: Vec<usize> = (50_000..60_000).collect();
    let (old, new) = (ratio(&mut c, "k", &first), ratio(&mut c, "k", &last));
    eprintln!("allkeys-random survival: first {old:.3} last {new:.3}");
    assert!(old > 0.05, "old keys surviving: {old}");
    assert!(new > old, "new {new} vs old {old}");
    // The counter is exported on /metrics too.
    let http: u16 = info_field(&mut c, "server", "http_port")
        .and_then(|p| p.parse().ok())
        .expect("http port");
    let ev = evicted(&mut c);
    assert_eq!(metric(http, "kcache_evicted_keys_total"), ev as f64);
}

#[test]
fn allkeys_lru_keeps_the_hot_set() {
    let s = node("allkeys-lru", &[]);
    let mut c = s.conn();
    let cold: Vec<usize> = (0..16_000).collect();
    fill(&mut c, "k", 0..16_000, |_| None);
    assert_eq!(evicted(&mut c), 0, "the cold fill must fit");
    let hot: Vec<usize> = cold.iter().copied().filter(|i| i % 10 == 0).collect();
    let others: Vec<usize> = cold.iter().copied().filter(|i| i % 10 != 0).collect();
    // Reads after the clock moved make the hot keys strictly younger.
    wait_lru_tick(&mut c);
    read_all(&mut c, "k", &hot, 1);
    for b in 0..8 {
        fill(&mut c, "new", b * 2000..(b + 1) * 2000, |_| None);
        read_all(&mut c, "k", &hot, 1);
    }
    assert_near_limit(&mut c);
    assert!(evicted(&mut c) > 5000);
    let hot_r = ratio(&mut c, "k", &hot);
    let cold_r = ratio(&mut c, "k", &others);
    let new: Vec<usize> = (0..16_000).collect();
    let new_r = ratio(&mut c, "new", &new);
    eprintln!("allkeys-lru survival: hot {hot_r:.3} cold {cold_r:.3} new {new_r:.3}");
    assert!(hot_r >= 0.9, "hot survival {hot_r}");
    assert!(cold_r <= 0.75, "cold survival {cold_r}");
    assert!(new_r >= 0.85, "new survival {new_r}");
}

#[test]
fn allkeys_lfu_keeps_frequently_read_keys() {
    let s = node("allkeys-lfu", &[]);
    let mut c = s.conn();
    fill(&mut c, "k", 0..16_000, |_| None);
    let hot: Vec<usize> = (0..16_000).filter(|i| i % 10 == 0).collect();
    let others: Vec<usize> = (0..16_000).filter(|i| i % 10 != 0).collect();
    // The first access of a new key always raises its counter (5 -> 6).
    read_all(&mut c, "k", &hot, 5);
    let freq: u64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg(key("k", 0))
        .query(&mut c)
        .unwrap();
    assert!(freq >= 6, "hot key counter {freq}");
    for b in 0..8 {
        fill(&mut c, "new", b * 2000..(b + 1) * 2000, |_| None);
        read_all(&mut c, "k", &hot, 1);
    }
    assert_near_limit(&mut c);
    assert!(evicted(&mut c) > 5000);
    let hot_r = ratio(&mut c, "k", &hot);
    let cold_r = ratio(&mut c, "k", &others);
    eprintln!("allkeys-lfu survival: hot {hot_r:.3} cold {cold_r:.3}");
    assert!(hot_r >= 0.9, "hot survival {hot_r}");
    assert!(cold_r <= hot_r - 0.2, "cold {cold_r} vs hot {hot_r}");
}

/// Persistent keys and keys with a TTL, filled past the limit: a volatile
/// policy evicts only the latter, and once they are gone refuses writes.
fn volatile_policy(policy: &str) {
    let s = node(policy, &[]);
    let mut c = s.conn();
    let persistent: Vec<usize> = (0..8000).collect();
    fill(&mut c, "p", 0..8000, |_| None);
    fill(&mut c, "t", 0..30_000, |_| Some(3600));
    assert_near_limit(&mut c);
    let ev = evicted(&mut c);
    assert!(ev > 5000, "{policy}: {ev} evicted");
    assert_eq!(
        surviving(&mut c, "p", &persistent),
        persistent.len(),
        "{policy} evicted a key without a TTL"
    );
    let vk = volatile_keys(&mut c);
    let ev2 = evicted(&mut c);
    assert!(vk + ev <= 30_000 && 30_000 <= vk + ev2, "{vk} {ev} {ev2}");
    // Only persistent keys from now on: the TTL keys are evicted until none is
    // left, then writes are refused.
    let value = "v".repeat(VALUE_LEN);
    let mut i = 8000;
    let refused = loop {
        assert!(i < 100_000, "{policy}: never refused");
        let r: redis::RedisResult<()> =
            redis::cmd("SET").arg(key("p", i)).arg(&value).query(&mut c);
        match r {
            Ok(()) => i += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(
        format!(
            "{} {}",
            refused.code().unwrap_or(""),
            refused.detail().unwrap_or("")
        ),
        OOM
    );
    assert_eq!(
        volatile_keys(&mut c),
        0,
        "{policy}: refused with TTL keys left"
    );
    let all: Vec<usize> = (0..i).collect();
    assert_eq!(surviving(&mut c, "p", &all), i);
    let v: String = redis::cmd("GET").arg(key("p", 0)).query(&mut c).unwrap();
    assert_eq!(v.len(), VALUE_LEN);
}

#[test]
fn volatile_lru_evicts_only_keys_with_ttl() {
    volatile_policy("volatile-lru");
}

#[test]
fn volatile_lfu_evicts_only_keys_with_ttl() {
    volatile_policy("volatile-lfu");
}

#[test]
fn volatile_random_evicts_only_keys_with_ttl() {
    volatile_policy("volatile-random");
}

#[test]
fn volatile_ttl_evicts_the_shortest_ttls_first() {
    let s = node("volatile-ttl", &[]);
    let mut c = s.conn();
    let ttl = |i: usize| -> Option<u64> {
        Some(match i % 3 {
            0 => 10_000 + i as u64 % 100,
            1 => 100_000 + i as u64 % 100,
            _ => 1_000_000 + i as u64 % 100,
        })
    };
    fill(&mut c, "t", 0..28_000, ttl);
    assert_near_limit(&mut c);
    assert!(evicted(&mut c) > 2000);
    let group = |g: usize| -> Vec<usize> { (0..28_000).filter(|i| i % 3 == g).collect() };
    let short = ratio(&mut c, "t", &group(0));
    let medium = ratio(&mut c, "t", &group(1));
    let long = ratio(&mut c, "t", &group(2));
    eprintln!("volatile-ttl survival: short {short:.3} medium {medium:.3} long {long:.3}");
    assert!(long >= 0.9, "long TTLs survival {long}");
    assert!(medium >= short + 0.2, "medium {medium} vs short {short}");
    assert!(short <= 0.7, "short TTLs survival {short}");
}

#[test]
fn lowering_maxmemory_evicts_on_the_next_command() {
    let s = Server::start(&["--io-threads", "2", "--maxmemory-policy", "allkeys-lru"]);
    let mut c = s.conn();
    fill(&mut c, "k", 0..40_000, |_| None);
    assert!(used(&mut c) > 40 * MB);
    assert_eq!(evicted(&mut c), 0);
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(LIMIT)
        .query(&mut c)
        .unwrap();
    let () = redis::cmd("SET").arg("x").arg("y").query(&mut c).unwrap();
    assert!(evicted(&mut c) > 0);
    assert_near_limit(&mut c);
    assert_accounted(&mut c, 40_001);
    // Raising it again stops eviction.
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("0")
        .query(&mut c)
        .unwrap();
    // (The cron thread may be finishing a background eviction: it re-reads the
    // limit before each key, so at most one more eviction was under way.)
    let before = evicted(&mut c);
    fill(&mut c, "more", 0..20_000, |_| None);
    let after = evicted(&mut c);
    assert!(after <= before + 1, "{before} -> {after}");
}

#[test]
fn keys_in_other_databases_are_evicted_too() {
    let s = node("allkeys-lru", &[]);
    let mut c = s.conn();
    let () = redis::cmd("SELECT").arg(9).query(&mut c).unwrap();
    fill(&mut c, "k", 0..50_000, |_| None);
    assert_near_limit(&mut c);
    assert!(evicted(&mut c) > 10_000);
    assert_accounted(&mut c, 50_000);
}

#[test]
fn lazy_eviction_frees_large_collections_in_the_background() {
    let s = node("allkeys-random", &["--lazyfree-lazy-eviction", "yes"]);
    let mut c = s.conn();
    let field_value = "f".repeat(60);
    for h in 0..400 {
        let mut p = redis::pipe();
        for f in 0..1000 {
            p.cmd("HSET")
                .arg(format!("h{h}"))
                .arg(format!("field{f}"))
                .arg(&field_value)
                .ignore();
        }
        p.query::<()>(&mut c).expect("HSET pipeline");
    }
    assert_near_limit(&mut c);
    let ev = evicted(&mut c);
    assert!(ev > 20, "{ev} evicted");
    let deadline = Instant::now() + Duration::from_secs(20);
    while info_u64(&mut c, "memory", "lazyfree_pending_objects") > 0 {
        assert!(Instant::now() < deadline, "lazy free never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    let freed = info_u64(&mut c, "memory", "lazyfreed_objects");
    assert!(freed > 0 && freed <= ev, "lazyfreed {freed} of {ev}");
    assert_near_limit(&mut c);
}

#[test]
fn object_freq_counts_like_redis() {
    let args = ["--maxmemory-policy", "allkeys-lfu", "--lfu-log-factor", "0"];
    let s = Server::start(&args);
    let r = Server::start_redis(&args);
    for srv in [&s, &r] {
        let mut c = srv.conn();
        let () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
        let () = redis::cmd("HSET")
            .arg("h")
            .arg("a")
            .arg("1")
            .query(&mut c)
            .map(|_: i64| ())
            .unwrap();
    }
    let freq = |srv: &Server, k: &str| -> i64 {
        redis::cmd("OBJECT")
            .arg("FREQ")
            .arg(k)
            .query(&mut srv.conn())
            .unwrap()
    };
    assert_eq!(freq(&s, "k"), 5);
    for srv in [&s, &r] {
        let mut c = srv.conn();
        let mut p = redis::pipe();
        for _ in 0..100 {
            p.cmd("GET").arg("k").ignore();
        }
        for _ in 0..7 {
            p.cmd("HSET").arg("h").arg("b").arg("2").ignore();
        }
        p.cmd("SET").arg("k").arg("v2").ignore();
        p.query::<()>(&mut c).unwrap();
    }
    assert_eq!(freq(&s, "k"), 106);
    assert_eq!(freq(&s, "k"), freq(&r, "k"));
    assert_eq!(freq(&s, "h"), freq(&r, "h"));
    // Under an LRU policy the same word is read as a clock, as in Redis.
    for srv in [&s, &r] {
        let () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory-policy")
            .arg("allkeys-lru")
            .query(&mut srv.conn())
            .unwrap();
        let e = redis::cmd("OBJECT")
            .arg("FREQ")
            .arg("k")
            .query::<i64>(&mut srv.conn())
            .expect_err("LFU not selected");
        assert!(e
            .to_string()
            .contains("An LFU maxmemory policy is not selected"));
        let idle: i64 = redis::cmd("OBJECT")
            .arg("IDLETIME")
            .arg("k")
            .query(&mut srv.conn())
            .unwrap();
        assert!(idle > 0);
    }
}

/// Reads one counter from the node's Prometheus endpoint.
fn metric(http_port: u16, name: &str) -> f64 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", http_port)).expect("connect http");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut body = String::new();
    s.read_to_string(&mut body).expect("read");
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("metric {name} not found"))
}
