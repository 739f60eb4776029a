//! Generators for the string commands.

use super::{Cmp, Gen, Req, Spec};

pub fn table() -> Vec<Spec> {
    vec![
        Spec {
            name: "get",
            weight: 8,
            gen: get,
        },
        Spec {
            name: "set",
            weight: 10,
            gen: set,
        },
        Spec {
            name: "setnx",
            weight: 2,
            gen: setnx,
        },
        Spec {
            name: "setex",
            weight: 2,
            gen: setex,
        },
        Spec {
            name: "psetex",
            weight: 2,
            gen: psetex,
        },
        Spec {
            name: "mget",
            weight: 3,
            gen: mget,
        },
        Spec {
            name: "mset",
            weight: 3,
            gen: mset,
        },
        Spec {
            name: "msetnx",
            weight: 2,
            gen: msetnx,
        },
        Spec {
            name: "getset",
            weight: 2,
            gen: getset,
        },
        Spec {
            name: "getdel",
            weight: 2,
            gen: getdel,
        },
        Spec {
            name: "getex",
            weight: 3,
            gen: getex,
        },
        Spec {
            name: "append",
            weight: 3,
            gen: append,
        },
        Spec {
            name: "strlen",
            weight: 2,
            gen: strlen,
        },
        Spec {
            name: "incr",
            weight: 3,
            gen: incr,
        },
        Spec {
            name: "decr",
            weight: 2,
            gen: decr,
        },
        Spec {
            name: "incrby",
            weight: 3,
            gen: incrby,
        },
        Spec {
            name: "decrby",
            weight: 2,
            gen: decrby,
        },
        Spec {
            name: "incrbyfloat",
            weight: 3,
            gen: incrbyfloat,
        },
        Spec {
            name: "getrange",
            weight: 3,
            gen: getrange,
        },
        Spec {
            name: "substr",
            weight: 1,
            gen: substr,
        },
        Spec {
            name: "setrange",
            weight: 3,
            gen: setrange,
        },
        Spec {
            name: "lcs",
            weight: 3,
            gen: lcs,
        },
    ]
}

/// `GET key`
fn get(g: &mut Gen) -> Req {
    Req::new("GET").a(g.key())
}

/// An expiry option for SET (`for_set`: KEEPTTL possible, no past times) or
/// GETEX, or none.
fn expiry_opt(g: &mut Gen, for_set: bool) -> Vec<Vec<u8>> {
    let past = !for_set;
    match g.rng.below(if for_set { 6 } else { 5 }) {
        0 => vec![g.opt("EX"), g.ttl_secs()],
        1 => vec![g.opt("PX"), g.ttl_ms()],
        2 => vec![g.opt("EXAT"), g.at_secs(past)],
        3 => vec![g.opt("PXAT"), g.at_ms(past)],
        4 => vec![],
        _ => vec![g.opt("KEEPTTL")],
    }
}

/// `SET key value [NX | XX] [GET] [EX seconds | PX milliseconds |
/// EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]`
fn set(g: &mut Gen) -> Req {
    let mut opts: Vec<Vec<u8>> = Vec::new();
    if g.chance(20) {
        opts.push(g.opt("NX"));
    } else if g.chance(20) {
        opts.push(g.opt("XX"));
    }
    if g.chance(25) {
        opts.push(g.opt("GET"));
    }
    opts.extend(expiry_opt(g, true));
    if g.chance(5) {
        // Conflicting or repeated options: NX XX, EX and PX, KEEPTTL and EX...
        let extra = g
            .rng
            .pick(&["NX", "XX", "KEEPTTL", "GET", "EX", "PX", "FOO"]);
        let o = g.opt(extra);
        opts.push(o);
        if matches!(extra, "EX" | "PX") {
            opts.push(g.ttl_secs());
        }
    }
    if g.chance(30) {
        let n = opts.len();
        for i in (1..n).rev() {
            opts.swap(i, g.rng.below(i + 1));
        }
    }
    Req::new("SET").a(g.key()).a(g.val()).extend(opts)
}

/// `SETNX key value`
fn setnx(g: &mut Gen) -> Req {
    Req::new("SETNX").a(g.key()).a(g.val())
}

/// `SETEX key seconds value`
fn setex(g: &mut Gen) -> Req {
    Req::new("SETEX").a(g.key()).a(g.ttl_secs()).a(g.val())
}

/// `PSETEX key milliseconds value`
fn psetex(g: &mut Gen) -> Req {
    Req::new("PSETEX").a(g.key()).a(g.ttl_ms()).a(g.val())
}

/// `MGET key [key ...]`
fn mget(g: &mut Gen) -> Req {
    let keys = g.keys(1, 5);
    Req::new("MGET").extend(keys)
}

fn pairs(g: &mut Gen) -> Vec<Vec<u8>> {
    let n = 1 + g.rng.below(4);
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(g.key());
        out.push(g.val());
    }
    if g.chance(5) {
        out.pop();
    }
    out
}

/// `MSET key value [key value ...]`
fn mset(g: &mut Gen) -> Req {
    let p = pairs(g);
    Req::new("MSET").extend(p)
}

/// `MSETNX key value [key value ...]`
fn msetnx(g: &mut Gen) -> Req {
    let p = pairs(g);
    Req::new("MSETNX").extend(p)
}

/// `GETSET key value`
fn getset(g: &mut Gen) -> Req {
    Req::new("GETSET").a(g.key()).a(g.val())
}

/// `GETDEL key`
fn getdel(g: &mut Gen) -> Req {
    Req::new("GETDEL").a(g.key())
}

/// `GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds |
/// PXAT unix-time-milliseconds | PERSIST]`
fn getex(g: &mut Gen) -> Req {
    let mut opts = if g.chance(20) {
        vec![g.opt("PERSIST")]
    } else {
        expiry_opt(g, false)
    };
    if g.chance(5) {
        let extra = g.rng.pick(&["PERSIST", "EX", "KEEPTTL", "NX"]);
        let o = g.opt(extra);
        opts.push(o);
        if extra == "EX" {
            opts.push(g.ttl_secs());
        }
    }
    Req::new("GETEX").a(g.key()).extend(opts)
}

/// `APPEND key value`
fn append(g: &mut Gen) -> Req {
    Req::new("APPEND").a(g.key()).a(g.val())
}

/// `STRLEN key`
fn strlen(g: &mut Gen) -> Req {
    Req::new("STRLEN").a(g.key())
}

/// `INCR key`
fn incr(g: &mut Gen) -> Req {
    Req::new("INCR").a(g.key())
}

/// `DECR key`
fn decr(g: &mut Gen) -> Req {
    Req::new("DECR").a(g.key())
}

/// `INCRBY key increment`
fn incrby(g: &mut Gen) -> Req {
    Req::new("INCRBY").a(g.key()).a(g.int(-1000, 1000))
}

/// `DECRBY key decrement`
fn decrby(g: &mut Gen) -> Req {
    Req::new("DECRBY").a(g.key()).a(g.int(-1000, 1000))
}

/// `INCRBYFLOAT key increment`
fn incrbyfloat(g: &mut Gen) -> Req {
    Req::new("INCRBYFLOAT").a(g.key()).a(g.float())
}

/// `GETRANGE key start end`
fn getrange(g: &mut Gen) -> Req {
    Req::new("GETRANGE")
        .a(g.key())
        .a(g.int(-30, 30))
        .a(g.int(-30, 30))
}

/// `SUBSTR key start end` (the old name of GETRANGE).
fn substr(g: &mut Gen) -> Req {
    Req::new("SUBSTR")
        .a(g.key())
        .a(g.int(-10, 10))
        .a(g.int(-10, 10))
}

/// `SETRANGE key offset value`
fn setrange(g: &mut Gen) -> Req {
    let key = g.key();
    match g.rng.below(12) {
        // Past the 512 MB limit: an error, nothing allocated.
        0 => Req::new("SETRANGE").a(key).a("536870912").a("x"),
        // At the limit with an empty value: Redis returns the length untouched.
        1 => Req::new("SETRANGE").a(key).a("536870911").a(""),
        2 => Req::new("SETRANGE").a(key).a("-1").a(g.val()),
        _ => Req::new("SETRANGE").a(key).a(g.int(0, 40)).a(g.val()),
    }
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]`
fn lcs(g: &mut Gen) -> Req {
    let mut r = Req::new("LCS").a(g.key()).a(g.key());
    if g.chance(25) {
        r = r.a(g.opt("LEN"));
    }
    if g.chance(35) {
        r = r.a(g.opt("IDX"));
    }
    if g.chance(25) {
        r = r.a(g.opt("MINMATCHLEN")).a(g.int(-1, 5));
    }
    if g.chance(25) {
        r = r.a(g.opt("WITHMATCHLEN"));
    }
    if g.chance(3) {
        r = r.a(g.opt("FOO"));
    }
    r.cmp(Cmp::Exact)
}
