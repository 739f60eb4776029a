//! Generators for the sorted set commands: scores are small integers, halves
//! and infinities (exact in binary, so no formatting edge depends on the
//! arithmetic), ranges by rank, score and lex with exclusive bounds and
//! invalid ones, the set operations with WEIGHTS and AGGREGATE, and pops.
//! ZRANDMEMBER is compared by shape, ZSCAN fully iterated.
//!
//! Lex ranges are only specified when all members have the same score (on
//! other sets Redis's answer depends on its encoding's scan), so the lex
//! commands read [`LEX`], a key only `ZADD LEX 0 ...` writes.

use super::{spec, Cmp, Gen, Req, Spec};

const HOME: &[&[u8]] = &[b"z1", b"z2"];
/// The sorted set whose members all have score 0 (not in `KEYS`, so nothing
/// else writes it).
pub const LEX: &[u8] = b"zlex";

pub fn table() -> Vec<Spec> {
    vec![
        spec!("zadd", 8, zadd),
        spec!("zadd-lex", 3, zadd_lex),
        spec!("zincrby", 2, zincrby),
        spec!("zrem", 2, zrem),
        spec!("zcard", 1, zcard),
        spec!("zscore", 2, zscore),
        spec!("zmscore", 1, zmscore),
        spec!("zrank", 2, zrank),
        spec!("zrevrank", 1, zrevrank),
        spec!("zcount", 1, zcount),
        spec!("zlexcount", 1, zlexcount),
        spec!("zrange", 4, zrange),
        spec!("zrangestore", 1, zrangestore),
        spec!("zrevrange", 1, zrevrange),
        spec!("zrangebyscore", 2, zrangebyscore),
        spec!("zrevrangebyscore", 1, zrevrangebyscore),
        spec!("zrangebylex", 1, zrangebylex),
        spec!("zremrangebyrank", 1, zremrangebyrank),
        spec!("zremrangebyscore", 1, zremrangebyscore),
        spec!("zremrangebylex", 1, zremrangebylex),
        spec!("zpopmin", 2, zpopmin),
        spec!("zpopmax", 1, zpopmax),
        spec!("zmpop", 1, zmpop),
        spec!("zunion", 1, zunion),
        spec!("zinter", 1, zinter),
        spec!("zdiff", 1, zdiff),
        spec!("zunionstore", 1, zunionstore),
        spec!("zinterstore", 1, zinterstore),
        spec!("zdiffstore", 1, zdiffstore),
        spec!("zintercard", 1, zintercard),
        spec!("zrandmember", 1, zrandmember),
        spec!("zscan", 1, zscan),
    ]
}

fn key(g: &mut Gen) -> Vec<u8> {
    g.ckey(HOME)
}

fn keys(g: &mut Gen) -> Vec<Vec<u8>> {
    let n = 1 + g.rng.below(3);
    (0..n).map(|_| key(g)).collect()
}

/// A score: mostly small integers and halves, sometimes an infinity or junk.
fn score(g: &mut Gen) -> Vec<u8> {
    match g.rng.below(20) {
        0 => g.rng.pick(&[&b"inf"[..], b"-inf", b"+inf"]).to_vec(),
        1 => g.rng.pick(&[&b"nan"[..], b"abc", b"", b"1e400"]).to_vec(),
        2..=5 => format!("{}.5", g.rng.range(-5, 5)).into_bytes(),
        _ => g.rng.range(-10, 10).to_string().into_bytes(),
    }
}

/// A score range bound: `(x` exclusive, infinities, or junk.
fn score_bound(g: &mut Gen) -> Vec<u8> {
    match g.rng.below(10) {
        0 => g
            .rng
            .pick(&[&b"-inf"[..], b"+inf", b"(inf", b"x", b"("])
            .to_vec(),
        1..=3 => {
            let mut v = b"(".to_vec();
            v.extend(g.rng.range(-10, 10).to_string().into_bytes());
            v
        }
        _ => g.rng.range(-10, 10).to_string().into_bytes(),
    }
}

/// A lex range bound: `[x`, `(x`, `-`, `+`, or invalid.
fn lex_bound(g: &mut Gen) -> Vec<u8> {
    match g.rng.below(10) {
        0 => g.rng.pick(&[&b"-"[..], b"+", b"a", b""]).to_vec(),
        1..=4 => [b"(".to_vec(), g.member()].concat(),
        _ => [b"[".to_vec(), g.member()].concat(),
    }
}

/// `ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]`
fn zadd(g: &mut Gen) -> Req {
    let mut r = Req::new("ZADD").a(key(g));
    for flag in ["NX", "XX", "GT", "LT", "CH"] {
        if g.chance(8) {
            r = r.a(g.opt(flag));
        }
    }
    let incr = g.chance(8);
    if incr {
        r = r.a(g.opt("INCR"));
    }
    let n = if incr && g.chance(80) {
        1
    } else {
        1 + g.rng.below(3)
    };
    for _ in 0..n {
        r = r.a(score(g)).a(g.member());
    }
    r
}

/// `ZADD zlex [NX | XX] [CH] 0 member [0 member ...]`
fn zadd_lex(g: &mut Gen) -> Req {
    let mut r = Req::new("ZADD").a(LEX);
    for flag in ["NX", "XX", "CH"] {
        if g.chance(8) {
            r = r.a(g.opt(flag));
        }
    }
    for _ in 0..1 + g.rng.below(3) {
        r = r.a("0").a(g.member());
    }
    r
}

/// `ZINCRBY key increment member`
fn zincrby(g: &mut Gen) -> Req {
    Req::new("ZINCRBY").a(key(g)).a(score(g)).a(g.member())
}

/// `ZREM key member [member ...]`
fn zrem(g: &mut Gen) -> Req {
    let m = g.members(1, 3);
    Req::new("ZREM").a(key(g)).extend(m)
}

/// `ZCARD key`
fn zcard(g: &mut Gen) -> Req {
    Req::new("ZCARD").a(key(g))
}

/// `ZSCORE key member`
fn zscore(g: &mut Gen) -> Req {
    Req::new("ZSCORE").a(key(g)).a(g.member())
}

/// `ZMSCORE key member [member ...]`
fn zmscore(g: &mut Gen) -> Req {
    let m = g.members(1, 3);
    Req::new("ZMSCORE").a(key(g)).extend(m)
}

/// `ZRANK key member`
fn zrank(g: &mut Gen) -> Req {
    Req::new("ZRANK").a(key(g)).a(g.member())
}

/// `ZREVRANK key member`
fn zrevrank(g: &mut Gen) -> Req {
    Req::new("ZREVRANK").a(key(g)).a(g.member())
}

/// `ZCOUNT key min max`
fn zcount(g: &mut Gen) -> Req {
    Req::new("ZCOUNT")
        .a(key(g))
        .a(score_bound(g))
        .a(score_bound(g))
}

/// `ZLEXCOUNT key min max`
fn zlexcount(g: &mut Gen) -> Req {
    Req::new("ZLEXCOUNT").a(LEX).a(lex_bound(g)).a(lex_bound(g))
}

fn limit(g: &mut Gen, r: Req) -> Req {
    if g.chance(30) {
        r.a(g.opt("LIMIT")).a(g.index()).a(g.index())
    } else {
        r
    }
}

/// The source key and range part of ZRANGE / ZRANGESTORE: `src start stop
/// [BYSCORE | BYLEX] [REV] [LIMIT offset count]`.
fn range_spec(g: &mut Gen, r: Req) -> Req {
    let mode = g.rng.below(3);
    let r = if mode == 1 { r.a(LEX) } else { r.a(key(g)) };
    match mode {
        0 => {
            let r = r.a(score_bound(g)).a(score_bound(g)).a(g.opt("BYSCORE"));
            let r = if g.chance(30) { r.a(g.opt("REV")) } else { r };
            limit(g, r)
        }
        1 => {
            let r = r.a(lex_bound(g)).a(lex_bound(g)).a(g.opt("BYLEX"));
            let r = if g.chance(30) { r.a(g.opt("REV")) } else { r };
            limit(g, r)
        }
        _ => {
            let r = r.a(g.index()).a(g.index());
            if g.chance(30) {
                r.a(g.opt("REV"))
            } else {
                r
            }
        }
    }
}

/// `ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`
fn zrange(g: &mut Gen) -> Req {
    let r = range_spec(g, Req::new("ZRANGE"));
    if g.chance(40) {
        r.a(g.opt("WITHSCORES"))
    } else {
        r
    }
}

/// `ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]`
fn zrangestore(g: &mut Gen) -> Req {
    let r = Req::new("ZRANGESTORE").a(key(g));
    range_spec(g, r)
}

/// `ZREVRANGE key start stop [WITHSCORES]`
fn zrevrange(g: &mut Gen) -> Req {
    let r = Req::new("ZREVRANGE").a(key(g)).a(g.index()).a(g.index());
    if g.chance(40) {
        r.a(g.opt("WITHSCORES"))
    } else {
        r
    }
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`
fn zrangebyscore(g: &mut Gen) -> Req {
    let r = Req::new("ZRANGEBYSCORE")
        .a(key(g))
        .a(score_bound(g))
        .a(score_bound(g));
    let r = if g.chance(40) {
        r.a(g.opt("WITHSCORES"))
    } else {
        r
    };
    limit(g, r)
}

/// `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]`
fn zrevrangebyscore(g: &mut Gen) -> Req {
    let r = Req::new("ZREVRANGEBYSCORE")
        .a(key(g))
        .a(score_bound(g))
        .a(score_bound(g));
    let r = if g.chance(40) {
        r.a(g.opt("WITHSCORES"))
    } else {
        r
    };
    limit(g, r)
}

/// `ZRANGEBYLEX key min max [LIMIT offset count]`
fn zrangebylex(g: &mut Gen) -> Req {
    let r = Req::new("ZRANGEBYLEX")
        .a(LEX)
        .a(lex_bound(g))
        .a(lex_bound(g));
    limit(g, r)
}

/// `ZREMRANGEBYRANK key start stop`
fn zremrangebyrank(g: &mut Gen) -> Req {
    Req::new("ZREMRANGEBYRANK")
        .a(key(g))
        .a(g.index())
        .a(g.index())
}

/// `ZREMRANGEBYSCORE key min max`
fn zremrangebyscore(g: &mut Gen) -> Req {
    Req::new("ZREMRANGEBYSCORE")
        .a(key(g))
        .a(score_bound(g))
        .a(score_bound(g))
}

/// `ZREMRANGEBYLEX key min max`
fn zremrangebylex(g: &mut Gen) -> Req {
    Req::new("ZREMRANGEBYLEX")
        .a(LEX)
        .a(lex_bound(g))
        .a(lex_bound(g))
}

/// `ZPOPMIN key [count]`
fn zpopmin(g: &mut Gen) -> Req {
    let r = Req::new("ZPOPMIN").a(key(g));
    if g.chance(50) {
        r.a(g.count())
    } else {
        r
    }
}

/// `ZPOPMAX key [count]`
fn zpopmax(g: &mut Gen) -> Req {
    let r = Req::new("ZPOPMAX").a(key(g));
    if g.chance(50) {
        r.a(g.count())
    } else {
        r
    }
}

/// `ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]`
fn zmpop(g: &mut Gen) -> Req {
    let k = keys(g);
    let n = if g.chance(10) {
        g.index()
    } else {
        k.len().to_string().into_bytes()
    };
    let which = g.rng.pick(&["MIN", "MAX", "MID"]);
    let r = Req::new("ZMPOP").a(n).extend(k).a(g.opt(which));
    if g.chance(40) {
        r.a(g.opt("COUNT")).a(g.count())
    } else {
        r
    }
}

/// `numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM | MIN | MAX]`
fn setop_args(g: &mut Gen, r: Req, weights: bool) -> Req {
    let k = keys(g);
    let n = if g.chance(10) {
        g.index()
    } else {
        k.len().to_string().into_bytes()
    };
    let mut r = r.a(n).extend(k.clone());
    if weights && g.chance(30) {
        r = r.a(g.opt("WEIGHTS"));
        for _ in 0..k.len() {
            r = r.a(score(g));
        }
    }
    if weights && g.chance(30) {
        let agg = g.rng.pick(&["SUM", "MIN", "MAX", "AVG"]);
        r = r.a(g.opt("AGGREGATE")).a(g.opt(agg));
    }
    r
}

fn withscores(g: &mut Gen, r: Req) -> Req {
    if g.chance(40) {
        r.a(g.opt("WITHSCORES"))
    } else {
        r
    }
}

/// `ZUNION numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...] [WITHSCORES]`
fn zunion(g: &mut Gen) -> Req {
    let r = setop_args(g, Req::new("ZUNION"), true);
    withscores(g, r)
}

/// `ZINTER numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...] [WITHSCORES]`
fn zinter(g: &mut Gen) -> Req {
    let r = setop_args(g, Req::new("ZINTER"), true);
    withscores(g, r)
}

/// `ZDIFF numkeys key [key ...] [WITHSCORES]`
fn zdiff(g: &mut Gen) -> Req {
    let r = setop_args(g, Req::new("ZDIFF"), false);
    withscores(g, r)
}

/// `ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]`
fn zunionstore(g: &mut Gen) -> Req {
    let dst = key(g);
    setop_args(g, Req::new("ZUNIONSTORE").a(dst), true)
}

/// `ZINTERSTORE destination numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]`
fn zinterstore(g: &mut Gen) -> Req {
    let dst = key(g);
    setop_args(g, Req::new("ZINTERSTORE").a(dst), true)
}

/// `ZDIFFSTORE destination numkeys key [key ...]`
fn zdiffstore(g: &mut Gen) -> Req {
    let dst = key(g);
    setop_args(g, Req::new("ZDIFFSTORE").a(dst), false)
}

/// `ZINTERCARD numkeys key [key ...] [LIMIT limit]`
fn zintercard(g: &mut Gen) -> Req {
    let r = setop_args(g, Req::new("ZINTERCARD"), false);
    if g.chance(40) {
        r.a(g.opt("LIMIT")).a(g.count())
    } else {
        r
    }
}

/// `ZRANDMEMBER key [count [WITHSCORES]]`
fn zrandmember(g: &mut Gen) -> Req {
    let mut r = Req::new("ZRANDMEMBER").a(key(g));
    if g.chance(70) {
        r = r.a(g.count());
        if g.chance(50) {
            r = r.a(g.opt("WITHSCORES"));
        }
    }
    r.cmp(Cmp::Kind)
}

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`
fn zscan(g: &mut Gen) -> Req {
    let k = key(g);
    super::sets::scan_args(g, "ZSCAN", k, true)
}
