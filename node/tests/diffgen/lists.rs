//! Generators for the list commands (all deterministic): pushes, pops with
//! and without COUNT, ranges and indexes with negative and out-of-range
//! values, LINSERT, LREM, LSET, LTRIM, LPOS with RANK/COUNT/MAXLEN, and the
//! moves between two lists.

use super::{spec, Gen, Req, Spec};

const HOME: &[&[u8]] = &[b"l1", b"l2"];

pub fn table() -> Vec<Spec> {
    vec![
        spec!("lpush", 5, lpush),
        spec!("rpush", 5, rpush),
        spec!("lpushx", 1, lpushx),
        spec!("rpushx", 1, rpushx),
        spec!("lpop", 2, lpop),
        spec!("rpop", 2, rpop),
        spec!("llen", 1, llen),
        spec!("lrange", 3, lrange),
        spec!("lindex", 2, lindex),
        spec!("lset", 1, lset),
        spec!("linsert", 1, linsert),
        spec!("lrem", 1, lrem),
        spec!("ltrim", 1, ltrim),
        spec!("lpos", 2, lpos),
        spec!("lmove", 1, lmove),
        spec!("rpoplpush", 1, rpoplpush),
        spec!("lmpop", 1, lmpop),
    ]
}

fn key(g: &mut Gen) -> Vec<u8> {
    g.ckey(HOME)
}

fn end(g: &mut Gen) -> Vec<u8> {
    let e = g.rng.pick(&["LEFT", "RIGHT", "LEFT", "RIGHT", "UP"]);
    g.opt(e)
}

/// `LPUSH key element [element ...]`
fn lpush(g: &mut Gen) -> Req {
    let m = g.members(1, 4);
    Req::new("LPUSH").a(key(g)).extend(m)
}

/// `RPUSH key element [element ...]`
fn rpush(g: &mut Gen) -> Req {
    let m = g.members(1, 4);
    Req::new("RPUSH").a(key(g)).extend(m)
}

/// `LPUSHX key element [element ...]`
fn lpushx(g: &mut Gen) -> Req {
    let m = g.members(1, 2);
    Req::new("LPUSHX").a(key(g)).extend(m)
}

/// `RPUSHX key element [element ...]`
fn rpushx(g: &mut Gen) -> Req {
    let m = g.members(1, 2);
    Req::new("RPUSHX").a(key(g)).extend(m)
}

/// `LPOP key [count]`
fn lpop(g: &mut Gen) -> Req {
    let r = Req::new("LPOP").a(key(g));
    if g.chance(40) {
        r.a(g.count())
    } else {
        r
    }
}

/// `RPOP key [count]`
fn rpop(g: &mut Gen) -> Req {
    let r = Req::new("RPOP").a(key(g));
    if g.chance(40) {
        r.a(g.count())
    } else {
        r
    }
}

/// `LLEN key`
fn llen(g: &mut Gen) -> Req {
    Req::new("LLEN").a(key(g))
}

/// `LRANGE key start stop`
fn lrange(g: &mut Gen) -> Req {
    Req::new("LRANGE").a(key(g)).a(g.index()).a(g.index())
}

/// `LINDEX key index`
fn lindex(g: &mut Gen) -> Req {
    Req::new("LINDEX").a(key(g)).a(g.index())
}

/// `LSET key index element`
fn lset(g: &mut Gen) -> Req {
    Req::new("LSET").a(key(g)).a(g.index()).a(g.member())
}

/// `LINSERT key BEFORE | AFTER pivot element`
fn linsert(g: &mut Gen) -> Req {
    let w = g.rng.pick(&["BEFORE", "AFTER", "BEFORE", "AFTER", "AT"]);
    Req::new("LINSERT")
        .a(key(g))
        .a(g.opt(w))
        .a(g.member())
        .a(g.member())
}

/// `LREM key count element`
fn lrem(g: &mut Gen) -> Req {
    Req::new("LREM").a(key(g)).a(g.index()).a(g.member())
}

/// `LTRIM key start stop`
fn ltrim(g: &mut Gen) -> Req {
    Req::new("LTRIM").a(key(g)).a(g.index()).a(g.index())
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`
fn lpos(g: &mut Gen) -> Req {
    let mut r = Req::new("LPOS").a(key(g)).a(g.member());
    if g.chance(30) {
        r = r.a(g.opt("RANK")).a(g.index());
    }
    if g.chance(30) {
        r = r.a(g.opt("COUNT")).a(g.count());
    }
    if g.chance(20) {
        r = r.a(g.opt("MAXLEN")).a(g.count());
    }
    r
}

/// `LMOVE source destination LEFT | RIGHT LEFT | RIGHT`
fn lmove(g: &mut Gen) -> Req {
    Req::new("LMOVE").a(key(g)).a(key(g)).a(end(g)).a(end(g))
}

/// `RPOPLPUSH source destination`
fn rpoplpush(g: &mut Gen) -> Req {
    Req::new("RPOPLPUSH").a(key(g)).a(key(g))
}

/// `LMPOP numkeys key [key ...] LEFT | RIGHT [COUNT count]`
fn lmpop(g: &mut Gen) -> Req {
    let n = 1 + g.rng.below(2);
    let k: Vec<Vec<u8>> = (0..n).map(|_| key(g)).collect();
    let num = if g.chance(10) {
        g.index()
    } else {
        n.to_string().into_bytes()
    };
    let r = Req::new("LMPOP").a(num).extend(k).a(end(g));
    if g.chance(40) {
        r.a(g.opt("COUNT")).a(g.count())
    } else {
        r
    }
}
