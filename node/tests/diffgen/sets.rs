//! Generators for the set commands. Member order is unspecified, so
//! SMEMBERS and the SUNION/SINTER/SDIFF family compare as sets; random picks
//! (SRANDMEMBER, SPOP) by shape and size, and an SPOP that may leave the two
//! servers with different members deletes the key on both afterwards.

use super::{spec, Cmp, Gen, Req, Spec};

const HOME: &[&[u8]] = &[b"s1", b"s2"];

pub fn table() -> Vec<Spec> {
    vec![
        spec!("sadd", 8, sadd),
        spec!("srem", 3, srem),
        spec!("scard", 2, scard),
        spec!("sismember", 2, sismember),
        spec!("smismember", 1, smismember),
        spec!("smembers", 2, smembers),
        spec!("spop", 2, spop),
        spec!("srandmember", 2, srandmember),
        spec!("smove", 2, smove),
        spec!("sinter", 1, sinter),
        spec!("sunion", 1, sunion),
        spec!("sdiff", 1, sdiff),
        spec!("sinterstore", 1, sinterstore),
        spec!("sunionstore", 1, sunionstore),
        spec!("sdiffstore", 1, sdiffstore),
        spec!("sintercard", 1, sintercard),
        spec!("sscan", 1, sscan),
    ]
}

fn key(g: &mut Gen) -> Vec<u8> {
    g.ckey(HOME)
}

fn keys(g: &mut Gen) -> Vec<Vec<u8>> {
    let n = 1 + g.rng.below(3);
    (0..n).map(|_| key(g)).collect()
}

/// `SADD key member [member ...]`
fn sadd(g: &mut Gen) -> Req {
    let m = g.members(1, 4);
    Req::new("SADD").a(key(g)).extend(m)
}

/// `SREM key member [member ...]`
fn srem(g: &mut Gen) -> Req {
    let m = g.members(1, 3);
    Req::new("SREM").a(key(g)).extend(m)
}

/// `SCARD key`
fn scard(g: &mut Gen) -> Req {
    Req::new("SCARD").a(key(g))
}

/// `SISMEMBER key member`
fn sismember(g: &mut Gen) -> Req {
    Req::new("SISMEMBER").a(key(g)).a(g.member())
}

/// `SMISMEMBER key member [member ...]`
fn smismember(g: &mut Gen) -> Req {
    let m = g.members(1, 4);
    Req::new("SMISMEMBER").a(key(g)).extend(m)
}

/// `SMEMBERS key`
fn smembers(g: &mut Gen) -> Req {
    Req::new("SMEMBERS").a(key(g)).cmp(Cmp::Unordered)
}

/// `SPOP key [count]`: popping everything is deterministic (compared as a
/// set); a partial pop is compared by shape and the key deleted after.
fn spop(g: &mut Gen) -> Req {
    let k = key(g);
    if g.chance(40) {
        let del: &[&[u8]] = &[b"DEL", &k];
        return Req::new("SPOP")
            .a(k.clone())
            .a("1000")
            .cmp(Cmp::Unordered)
            .then(del);
    }
    let r = Req::new("SPOP").a(k.clone());
    let r = if g.chance(50) { r.a(g.count()) } else { r };
    r.cmp(Cmp::Kind).then(&[b"DEL", &k])
}

/// `SRANDMEMBER key [count]`
fn srandmember(g: &mut Gen) -> Req {
    let r = Req::new("SRANDMEMBER").a(key(g));
    let r = if g.chance(70) { r.a(g.count()) } else { r };
    r.cmp(Cmp::Kind)
}

/// `SMOVE source destination member`
fn smove(g: &mut Gen) -> Req {
    Req::new("SMOVE").a(key(g)).a(key(g)).a(g.member())
}

/// `SINTER key [key ...]`
fn sinter(g: &mut Gen) -> Req {
    let k = keys(g);
    Req::new("SINTER").extend(k).cmp(Cmp::Unordered)
}

/// `SUNION key [key ...]`
fn sunion(g: &mut Gen) -> Req {
    let k = keys(g);
    Req::new("SUNION").extend(k).cmp(Cmp::Unordered)
}

/// `SDIFF key [key ...]`
fn sdiff(g: &mut Gen) -> Req {
    let k = keys(g);
    Req::new("SDIFF").extend(k).cmp(Cmp::Unordered)
}

/// `SINTERSTORE destination key [key ...]`
fn sinterstore(g: &mut Gen) -> Req {
    let k = keys(g);
    Req::new("SINTERSTORE").a(key(g)).extend(k)
}

/// `SUNIONSTORE destination key [key ...]`
fn sunionstore(g: &mut Gen) -> Req {
    let k = keys(g);
    Req::new("SUNIONSTORE").a(key(g)).extend(k)
}

/// `SDIFFSTORE destination key [key ...]`
fn sdiffstore(g: &mut Gen) -> Req {
    let k = keys(g);
    Req::new("SDIFFSTORE").a(key(g)).extend(k)
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`
fn sintercard(g: &mut Gen) -> Req {
    let k = keys(g);
    let n = if g.chance(10) {
        g.index()
    } else {
        k.len().to_string().into_bytes()
    };
    let mut r = Req::new("SINTERCARD").a(n).extend(k);
    if g.chance(40) {
        r = r.a(g.opt("LIMIT")).a(g.count());
    }
    r
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`
fn sscan(g: &mut Gen) -> Req {
    let k = key(g);
    scan_args(g, "SSCAN", k, false)
}

const PATTERNS: &[&[u8]] = &[b"*", b"a*", b"?", b"[a-c]", b"1*", b"*-*", b"", b"\\a"];

/// `<cmd> key cursor [MATCH pattern] [COUNT count]`: a full iteration from
/// cursor 0 (`pairs` for HSCAN/ZSCAN), or an invalid cursor.
pub fn scan_args(g: &mut Gen, cmd: &str, key: Vec<u8>, pairs: bool) -> Req {
    let cursor: &[u8] = if g.chance(10) {
        g.rng.pick(&[&b"abc"[..], b"1.5", b"-1x"])
    } else {
        b"0"
    };
    let mut r = Req::new(cmd).a(key).a(cursor);
    if g.chance(40) {
        r = r.a(g.opt("MATCH")).a(g.rng.pick(PATTERNS));
    }
    if g.chance(40) {
        let count = if g.chance(10) {
            g.rng.pick(&[&b"0"[..], b"-1", b"x"]).to_vec()
        } else {
            g.rng.range(1, 20).to_string().into_bytes()
        };
        r = r.a(g.opt("COUNT")).a(count);
    }
    if g.chance(3) {
        r = r.a(g.opt("BOGUS"));
    }
    if cursor == b"0" {
        r.cmp(Cmp::ScanKey(pairs))
    } else {
        r
    }
}
