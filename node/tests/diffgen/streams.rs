//! Generators for the stream commands, with explicit IDs only (`*` would
//! read each server's clock): appends that mostly grow and sometimes go
//! backwards, `ms-*`, trimming exact and approximate, non-blocking XREAD and
//! XREADGROUP, the consumer group commands, XCLAIM/XAUTOCLAIM with a zero
//! minimum idle time (so the outcome does not depend on when the servers
//! ran), and XINFO. Replies that carry idle times (XPENDING's extended form,
//! XINFO CONSUMERS) are compared by shape.

use super::{spec, Cmp, Gen, Req, Spec};

const HOME: &[&[u8]] = &[b"x1", b"x2"];
const GROUPS: &[&str] = &["g1", "g2", "g1", "nogroup"];
const CONSUMERS: &[&str] = &["c1", "c2", "c3"];

pub fn table() -> Vec<Spec> {
    vec![
        spec!("xadd", 10, xadd),
        spec!("xlen", 1, xlen),
        spec!("xrange", 3, xrange),
        spec!("xrevrange", 2, xrevrange),
        spec!("xdel", 2, xdel),
        spec!("xtrim", 1, xtrim),
        spec!("xsetid", 1, xsetid),
        spec!("xread", 2, xread),
        spec!("xgroup", 3, xgroup),
        spec!("xreadgroup", 4, xreadgroup),
        spec!("xack", 2, xack),
        spec!("xpending", 2, xpending),
        spec!("xclaim", 2, xclaim),
        spec!("xautoclaim", 1, xautoclaim),
        spec!("xinfo", 2, xinfo),
    ]
}

/// The stream no other family writes (not in `KEYS`): its groups live long
/// enough for XREADGROUP, XCLAIM and XPENDING to find them.
pub const STABLE: &[u8] = b"xs";

fn key(g: &mut Gen) -> Vec<u8> {
    if g.chance(50) {
        STABLE.to_vec()
    } else {
        g.ckey(HOME)
    }
}

fn group(g: &mut Gen) -> Vec<u8> {
    g.rng.pick(GROUPS).as_bytes().to_vec()
}

fn consumer(g: &mut Gen) -> Vec<u8> {
    g.rng.pick(CONSUMERS).as_bytes().to_vec()
}

/// An existing-ish ID: near the IDs appended so far, or a special one.
fn id(g: &mut Gen) -> Vec<u8> {
    match g.rng.below(12) {
        0 => g
            .rng
            .pick(&[
                &b"0"[..],
                b"0-0",
                b"abc",
                b"1-x",
                b"18446744073709551615-18446744073709551615",
            ])
            .to_vec(),
        1 => g.rng.range(0, g.stream_ms + 1).to_string().into_bytes(),
        _ => format!("{}-{}", g.rng.range(0, g.stream_ms + 1), g.rng.below(3)).into_bytes(),
    }
}

/// A range bound: an ID, `-`/`+`, or exclusive `(id`.
fn bound(g: &mut Gen, low: bool) -> Vec<u8> {
    match g.rng.below(6) {
        0 => {
            if low {
                b"-".to_vec()
            } else {
                b"+".to_vec()
            }
        }
        1 => [b"(".to_vec(), id(g)].concat(),
        _ => id(g),
    }
}

/// The ID of an append: mostly past the last one generated.
fn new_id(g: &mut Gen) -> Vec<u8> {
    match g.rng.below(20) {
        0 => g.rng.pick(&[&b"0-0"[..], b"0-1", b"x", b"5-*"]).to_vec(),
        1..=3 => format!("{}-*", g.stream_ms).into_bytes(),
        4..=5 => id(g),
        _ => {
            g.stream_ms += g.rng.range(0, 2);
            format!("{}-{}", g.stream_ms, g.rng.below(4)).into_bytes()
        }
    }
}

/// `[MAXLEN | MINID [= | ~] threshold [LIMIT count]]`
fn trim_args(g: &mut Gen, r: Req) -> Req {
    let minid = g.chance(40);
    let mut r = r.a(g.opt(if minid { "MINID" } else { "MAXLEN" }));
    let approx = g.chance(40);
    match g.rng.below(3) {
        0 => r = r.a("="),
        1 => r = r.a("~"),
        _ => {}
    }
    r = if minid { r.a(id(g)) } else { r.a(g.count()) };
    if approx && g.chance(50) {
        r = r.a(g.opt("LIMIT")).a(g.count());
    }
    r
}

/// `XADD key [NOMKSTREAM] [MAXLEN | MINID [= | ~] threshold [LIMIT count]] id field value [field value ...]`
fn xadd(g: &mut Gen) -> Req {
    let mut r = Req::new("XADD").a(key(g));
    if g.chance(10) {
        r = r.a(g.opt("NOMKSTREAM"));
    }
    if g.chance(15) {
        r = trim_args(g, r);
    }
    r = r.a(new_id(g));
    for _ in 0..1 + g.rng.below(2) {
        r = r.a(g.member()).a(g.val());
    }
    r
}

/// `XLEN key`
fn xlen(g: &mut Gen) -> Req {
    Req::new("XLEN").a(key(g))
}

fn count_opt(g: &mut Gen, r: Req) -> Req {
    if g.chance(40) {
        r.a(g.opt("COUNT")).a(g.count())
    } else {
        r
    }
}

/// `XRANGE key start end [COUNT count]`
fn xrange(g: &mut Gen) -> Req {
    let r = Req::new("XRANGE")
        .a(key(g))
        .a(bound(g, true))
        .a(bound(g, false));
    count_opt(g, r)
}

/// `XREVRANGE key end start [COUNT count]`
fn xrevrange(g: &mut Gen) -> Req {
    let r = Req::new("XREVRANGE")
        .a(key(g))
        .a(bound(g, false))
        .a(bound(g, true));
    count_opt(g, r)
}

/// `XDEL key id [id ...]`
fn xdel(g: &mut Gen) -> Req {
    let n = 1 + g.rng.below(3);
    let ids: Vec<Vec<u8>> = (0..n).map(|_| id(g)).collect();
    Req::new("XDEL").a(key(g)).extend(ids)
}

/// `XTRIM key MAXLEN | MINID [= | ~] threshold [LIMIT count]`
fn xtrim(g: &mut Gen) -> Req {
    let r = Req::new("XTRIM").a(key(g));
    trim_args(g, r)
}

/// `XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]`
fn xsetid(g: &mut Gen) -> Req {
    let at = if g.chance(70) {
        format!("{}-{}", g.stream_ms + g.rng.range(0, 2), g.rng.below(5)).into_bytes()
    } else {
        id(g)
    };
    let mut r = Req::new("XSETID").a(key(g)).a(at);
    if g.chance(30) {
        r = r.a(g.opt("ENTRIESADDED")).a(g.int(0, 50));
    }
    if g.chance(30) {
        r = r.a(g.opt("MAXDELETEDID")).a(id(g));
    }
    r
}

/// `XREAD [COUNT count] STREAMS key [key ...] id [id ...]` (never BLOCK: the
/// differential run is one command at a time).
fn xread(g: &mut Gen) -> Req {
    let r = count_opt(g, Req::new("XREAD"));
    let n = 1 + g.rng.below(2);
    let keys: Vec<Vec<u8>> = (0..n).map(|_| key(g)).collect();
    let ids: Vec<Vec<u8>> = (0..n)
        .map(|_| if g.chance(15) { b"$".to_vec() } else { id(g) })
        .collect();
    r.a(g.opt("STREAMS")).extend(keys).extend(ids)
}

/// `XGROUP CREATE | SETID | DESTROY | CREATECONSUMER | DELCONSUMER ...`
fn xgroup(g: &mut Gen) -> Req {
    let k = key(g);
    let gr = group(g);
    let at = |g: &mut Gen| if g.chance(25) { b"$".to_vec() } else { id(g) };
    match g.rng.below(8) {
        0..=3 => {
            let mut r = Req::new("XGROUP").a(g.opt("CREATE")).a(k).a(gr).a(at(g));
            if g.chance(70) {
                r = r.a(g.opt("MKSTREAM"));
            }
            if g.chance(15) {
                r = r.a(g.opt("ENTRIESREAD")).a(g.int(-1, 20));
            }
            r
        }
        4 => {
            let mut r = Req::new("XGROUP").a(g.opt("SETID")).a(k).a(gr).a(at(g));
            if g.chance(15) {
                r = r.a(g.opt("ENTRIESREAD")).a(g.int(-1, 20));
            }
            r
        }
        5 => Req::new("XGROUP").a(g.opt("DESTROY")).a(k).a(gr),
        6 => Req::new("XGROUP")
            .a(g.opt("CREATECONSUMER"))
            .a(k)
            .a(gr)
            .a(consumer(g)),
        _ => Req::new("XGROUP")
            .a(g.opt("DELCONSUMER"))
            .a(k)
            .a(gr)
            .a(consumer(g)),
    }
}

/// `XREADGROUP GROUP group consumer [COUNT count] [NOACK] STREAMS key [key ...] id [id ...]`
fn xreadgroup(g: &mut Gen) -> Req {
    let mut r = Req::new("XREADGROUP")
        .a(g.opt("GROUP"))
        .a(group(g))
        .a(consumer(g));
    r = count_opt(g, r);
    if g.chance(15) {
        r = r.a(g.opt("NOACK"));
    }
    let n = if g.chance(20) { 2 } else { 1 };
    let keys: Vec<Vec<u8>> = (0..n).map(|_| key(g)).collect();
    let ids: Vec<Vec<u8>> = (0..n)
        .map(|_| if g.chance(70) { b">".to_vec() } else { id(g) })
        .collect();
    r.a(g.opt("STREAMS")).extend(keys).extend(ids)
}

/// `XACK key group id [id ...]`
fn xack(g: &mut Gen) -> Req {
    let n = 1 + g.rng.below(3);
    let ids: Vec<Vec<u8>> = (0..n).map(|_| id(g)).collect();
    Req::new("XACK").a(key(g)).a(group(g)).extend(ids)
}

/// `XPENDING key group [[IDLE min-idle-time] start end count [consumer]]`:
/// the summary exactly, the extended form (idle times) by shape.
fn xpending(g: &mut Gen) -> Req {
    let r = Req::new("XPENDING").a(key(g)).a(group(g));
    if g.chance(50) {
        return r;
    }
    let r = r.a(bound(g, true)).a(bound(g, false)).a(g.count());
    let r = if g.chance(30) { r.a(consumer(g)) } else { r };
    r.cmp(Cmp::Kind)
}

/// `XCLAIM key group consumer 0 id [id ...] [RETRYCOUNT count] [FORCE] [JUSTID]`
fn xclaim(g: &mut Gen) -> Req {
    let n = 1 + g.rng.below(3);
    let ids: Vec<Vec<u8>> = (0..n).map(|_| id(g)).collect();
    let mut r = Req::new("XCLAIM")
        .a(key(g))
        .a(group(g))
        .a(consumer(g))
        .a("0")
        .extend(ids);
    if g.chance(20) {
        r = r.a(g.opt("RETRYCOUNT")).a(g.int(0, 5));
    }
    if g.chance(20) {
        r = r.a(g.opt("FORCE"));
    }
    if g.chance(30) {
        r = r.a(g.opt("JUSTID"));
    }
    r
}

/// `XAUTOCLAIM key group consumer 0 start [COUNT count] [JUSTID]`
fn xautoclaim(g: &mut Gen) -> Req {
    let mut r = Req::new("XAUTOCLAIM")
        .a(key(g))
        .a(group(g))
        .a(consumer(g))
        .a("0")
        .a(id(g));
    r = count_opt(g, r);
    if g.chance(30) {
        r = r.a(g.opt("JUSTID"));
    }
    r
}

/// `XINFO STREAM key | GROUPS key | CONSUMERS key group` (CONSUMERS carries
/// idle times: by shape).
fn xinfo(g: &mut Gen) -> Req {
    match g.rng.below(3) {
        0 => Req::new("XINFO").a(g.opt("STREAM")).a(key(g)),
        1 => Req::new("XINFO").a(g.opt("GROUPS")).a(key(g)),
        _ => Req::new("XINFO")
            .a(g.opt("CONSUMERS"))
            .a(key(g))
            .a(group(g))
            .cmp(Cmp::Kind),
    }
}
