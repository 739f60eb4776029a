//! Generators for the hash commands. Field order of HGETALL/HKEYS/HVALS is
//! unspecified (kcache's large hashes iterate in their own order), so those
//! replies are compared as sets; HRANDFIELD by shape; HSCAN fully iterated.

use super::{spec, Cmp, Gen, Req, Spec};

const HOME: &[&[u8]] = &[b"h1", b"h2"];

pub fn table() -> Vec<Spec> {
    vec![
        spec!("hset", 8, hset),
        spec!("hsetnx", 2, hsetnx),
        spec!("hmset", 1, hmset),
        spec!("hget", 3, hget),
        spec!("hmget", 2, hmget),
        spec!("hdel", 3, hdel),
        spec!("hlen", 2, hlen),
        spec!("hexists", 2, hexists),
        spec!("hstrlen", 1, hstrlen),
        spec!("hkeys", 1, hkeys),
        spec!("hvals", 1, hvals),
        spec!("hgetall", 2, hgetall),
        spec!("hincrby", 2, hincrby),
        spec!("hincrbyfloat", 2, hincrbyfloat),
        spec!("hrandfield", 2, hrandfield),
        spec!("hscan", 1, hscan),
    ]
}

fn key(g: &mut Gen) -> Vec<u8> {
    g.ckey(HOME)
}

fn field_values(g: &mut Gen) -> Vec<Vec<u8>> {
    let n = 1 + g.rng.below(3);
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(g.member());
        v.push(g.val());
    }
    v
}

/// `HSET key field value [field value ...]`
fn hset(g: &mut Gen) -> Req {
    let fv = field_values(g);
    Req::new("HSET").a(key(g)).extend(fv)
}

/// `HSETNX key field value`
fn hsetnx(g: &mut Gen) -> Req {
    Req::new("HSETNX").a(key(g)).a(g.member()).a(g.val())
}

/// `HMSET key field value [field value ...]`
fn hmset(g: &mut Gen) -> Req {
    let fv = field_values(g);
    Req::new("HMSET").a(key(g)).extend(fv)
}

/// `HGET key field`
fn hget(g: &mut Gen) -> Req {
    Req::new("HGET").a(key(g)).a(g.member())
}

/// `HMGET key field [field ...]`
fn hmget(g: &mut Gen) -> Req {
    let f = g.members(1, 4);
    Req::new("HMGET").a(key(g)).extend(f)
}

/// `HDEL key field [field ...]`
fn hdel(g: &mut Gen) -> Req {
    let f = g.members(1, 3);
    Req::new("HDEL").a(key(g)).extend(f)
}

/// `HLEN key`
fn hlen(g: &mut Gen) -> Req {
    Req::new("HLEN").a(key(g))
}

/// `HEXISTS key field`
fn hexists(g: &mut Gen) -> Req {
    Req::new("HEXISTS").a(key(g)).a(g.member())
}

/// `HSTRLEN key field`
fn hstrlen(g: &mut Gen) -> Req {
    Req::new("HSTRLEN").a(key(g)).a(g.member())
}

/// `HKEYS key`
fn hkeys(g: &mut Gen) -> Req {
    Req::new("HKEYS").a(key(g)).cmp(Cmp::Unordered)
}

/// `HVALS key`
fn hvals(g: &mut Gen) -> Req {
    Req::new("HVALS").a(key(g)).cmp(Cmp::Unordered)
}

/// `HGETALL key`
fn hgetall(g: &mut Gen) -> Req {
    Req::new("HGETALL").a(key(g)).cmp(Cmp::Pairs)
}

/// `HINCRBY key field increment`
fn hincrby(g: &mut Gen) -> Req {
    Req::new("HINCRBY")
        .a(key(g))
        .a(g.member())
        .a(g.int(-20, 20))
}

/// `HINCRBYFLOAT key field increment`
fn hincrbyfloat(g: &mut Gen) -> Req {
    Req::new("HINCRBYFLOAT")
        .a(key(g))
        .a(g.member())
        .a(g.float())
}

/// `HRANDFIELD key [count [WITHVALUES]]`: which fields is random.
fn hrandfield(g: &mut Gen) -> Req {
    let mut r = Req::new("HRANDFIELD").a(key(g));
    if g.chance(70) {
        r = r.a(g.count());
        if g.chance(50) {
            r = r.a(g.opt("WITHVALUES"));
        }
    }
    r.cmp(Cmp::Kind)
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count]`
fn hscan(g: &mut Gen) -> Req {
    let k = key(g);
    super::sets::scan_args(g, "HSCAN", k, true)
}
