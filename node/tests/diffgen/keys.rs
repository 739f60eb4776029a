//! Generators for the keyspace commands (the collection families write the
//! other types on the same keys, so TYPE, SCAN TYPE and WRONGTYPE run).

use super::{Cmp, Gen, Req, Spec};

pub fn table() -> Vec<Spec> {
    vec![
        Spec {
            name: "del",
            weight: 3,
            gen: del,
        },
        Spec {
            name: "unlink",
            weight: 2,
            gen: unlink,
        },
        Spec {
            name: "exists",
            weight: 3,
            gen: exists,
        },
        Spec {
            name: "type",
            weight: 2,
            gen: type_,
        },
        Spec {
            name: "rename",
            weight: 2,
            gen: rename,
        },
        Spec {
            name: "renamenx",
            weight: 2,
            gen: renamenx,
        },
        Spec {
            name: "copy",
            weight: 2,
            gen: copy,
        },
        Spec {
            name: "move",
            weight: 2,
            gen: move_,
        },
        Spec {
            name: "keys",
            weight: 2,
            gen: keys,
        },
        Spec {
            name: "scan",
            weight: 2,
            gen: scan,
        },
        Spec {
            name: "dbsize",
            weight: 1,
            gen: dbsize,
        },
        Spec {
            name: "randomkey",
            weight: 1,
            gen: randomkey,
        },
        Spec {
            name: "expire",
            weight: 3,
            gen: expire,
        },
        Spec {
            name: "pexpire",
            weight: 3,
            gen: pexpire,
        },
        Spec {
            name: "expireat",
            weight: 3,
            gen: expireat,
        },
        Spec {
            name: "pexpireat",
            weight: 3,
            gen: pexpireat,
        },
        Spec {
            name: "ttl",
            weight: 3,
            gen: ttl,
        },
        Spec {
            name: "pttl",
            weight: 3,
            gen: pttl,
        },
        Spec {
            name: "expiretime",
            weight: 2,
            gen: expiretime,
        },
        Spec {
            name: "pexpiretime",
            weight: 2,
            gen: pexpiretime,
        },
        Spec {
            name: "persist",
            weight: 2,
            gen: persist,
        },
        Spec {
            name: "touch",
            weight: 1,
            gen: touch,
        },
        Spec {
            name: "select",
            weight: 2,
            gen: select,
        },
        Spec {
            name: "flushdb",
            weight: 1,
            gen: flushdb,
        },
        Spec {
            name: "ping",
            weight: 1,
            gen: ping,
        },
        Spec {
            name: "echo",
            weight: 1,
            gen: echo,
        },
        Spec {
            name: "time",
            weight: 1,
            gen: time,
        },
    ]
}

/// A database index: mostly 0..=3 (so MOVE/COPY/SELECT meet), sometimes invalid.
fn db(g: &mut Gen) -> Vec<u8> {
    if g.chance(10) {
        g.rng
            .pick(&[&b"16"[..], b"-1", b"x", b"99999999999999999999"])
            .to_vec()
    } else {
        g.rng.range(0, 3).to_string().into_bytes()
    }
}

/// `DEL key [key ...]`
fn del(g: &mut Gen) -> Req {
    let k = g.keys(1, 3);
    Req::new("DEL").extend(k)
}

/// `UNLINK key [key ...]`
fn unlink(g: &mut Gen) -> Req {
    let k = g.keys(1, 3);
    Req::new("UNLINK").extend(k)
}

/// `EXISTS key [key ...]`
fn exists(g: &mut Gen) -> Req {
    let k = g.keys(1, 4);
    Req::new("EXISTS").extend(k)
}

/// `TYPE key`
fn type_(g: &mut Gen) -> Req {
    Req::new("TYPE").a(g.key())
}

/// `RENAME key newkey`
fn rename(g: &mut Gen) -> Req {
    Req::new("RENAME").a(g.key()).a(g.key())
}

/// `RENAMENX key newkey`
fn renamenx(g: &mut Gen) -> Req {
    Req::new("RENAMENX").a(g.key()).a(g.key())
}

/// `COPY source destination [DB destination-db] [REPLACE]`
fn copy(g: &mut Gen) -> Req {
    let mut r = Req::new("COPY").a(g.key()).a(g.key());
    if g.chance(40) {
        r = r.a(g.opt("DB")).a(db(g));
    }
    if g.chance(40) {
        r = r.a(g.opt("REPLACE"));
    }
    if g.chance(3) {
        r = r.a(g.opt("NOPE"));
    }
    r
}

/// `MOVE key db`
fn move_(g: &mut Gen) -> Req {
    Req::new("MOVE").a(g.key()).a(db(g))
}

const PATTERNS: &[&[u8]] = &[
    b"*", b"k*", b"k?", b"k[0-2]", b"k[^0]", b"k[2-0]", b"*1*", b"key:*", b"\\k*", b"k[", b"[",
    b"*\x00*", b"b*", b"", b"K*",
];

/// `KEYS pattern`
fn keys(g: &mut Gen) -> Req {
    Req::new("KEYS").a(g.rng.pick(PATTERNS)).cmp(Cmp::Unordered)
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`: a full iteration
/// from cursor 0 (pages are implementation-specific), or an invalid request.
fn scan(g: &mut Gen) -> Req {
    let cursor: &[u8] = if g.chance(10) {
        // Redis 7.0 reads the cursor with strtoul: "" and "-1" are valid cursors.
        g.rng.pick(&[&b"abc"[..], b"1.5", b"1x"])
    } else {
        b"0"
    };
    let mut r = Req::new("SCAN").a(cursor);
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
    if g.chance(25) {
        let t = g.rng.pick(&[
            "string", "list", "set", "hash", "zset", "stream", "STRING", "bogus",
        ]);
        r = r.a(g.opt("TYPE")).a(t);
    }
    if g.chance(3) {
        r = r.a(g.opt("BOGUS"));
    }
    if cursor == b"0" {
        r.cmp(Cmp::ScanAll)
    } else {
        r
    }
}

/// `DBSIZE`
fn dbsize(_g: &mut Gen) -> Req {
    Req::new("DBSIZE")
}

/// `RANDOMKEY`: which key is random; only the reply's type is compared.
fn randomkey(_g: &mut Gen) -> Req {
    Req::new("RANDOMKEY").cmp(Cmp::Kind)
}

/// `[NX | XX | GT | LT]`, sometimes two of them (an error).
fn expire_flags(g: &mut Gen, r: Req) -> Req {
    let mut r = r;
    let n = match g.rng.below(10) {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    };
    for _ in 0..n {
        let f = g
            .rng
            .pick(&["NX", "XX", "GT", "LT", "NX", "XX", "GT", "LT", "ZZ"]);
        r = r.a(g.opt(f));
    }
    r
}

/// `EXPIRE key seconds [NX | XX | GT | LT]`
fn expire(g: &mut Gen) -> Req {
    let r = Req::new("EXPIRE").a(g.key()).a(g.ttl_secs());
    expire_flags(g, r)
}

/// `PEXPIRE key milliseconds [NX | XX | GT | LT]`
fn pexpire(g: &mut Gen) -> Req {
    let r = Req::new("PEXPIRE").a(g.key()).a(g.ttl_ms());
    expire_flags(g, r)
}

/// `EXPIREAT key unix-time-seconds [NX | XX | GT | LT]`
fn expireat(g: &mut Gen) -> Req {
    let r = Req::new("EXPIREAT").a(g.key()).a(g.at_secs(true));
    expire_flags(g, r)
}

/// `PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]`
fn pexpireat(g: &mut Gen) -> Req {
    let r = Req::new("PEXPIREAT").a(g.key()).a(g.at_ms(true));
    expire_flags(g, r)
}

/// `TTL key`: within a second (the servers ran each command microseconds apart
/// and round independently).
fn ttl(g: &mut Gen) -> Req {
    Req::new("TTL").a(g.key()).cmp(Cmp::Within(1))
}

/// `PTTL key`
fn pttl(g: &mut Gen) -> Req {
    Req::new("PTTL").a(g.key()).cmp(Cmp::Within(500))
}

/// `EXPIRETIME key`
fn expiretime(g: &mut Gen) -> Req {
    Req::new("EXPIRETIME").a(g.key()).cmp(Cmp::Within(1))
}

/// `PEXPIRETIME key`
fn pexpiretime(g: &mut Gen) -> Req {
    Req::new("PEXPIRETIME").a(g.key()).cmp(Cmp::Within(500))
}

/// `PERSIST key`
fn persist(g: &mut Gen) -> Req {
    Req::new("PERSIST").a(g.key())
}

/// `TOUCH key [key ...]`
fn touch(g: &mut Gen) -> Req {
    let k = g.keys(1, 3);
    Req::new("TOUCH").extend(k)
}

/// `SELECT index`
fn select(g: &mut Gen) -> Req {
    Req::new("SELECT").a(db(g))
}

/// `FLUSHDB [ASYNC | SYNC]`
fn flushdb(g: &mut Gen) -> Req {
    match g.rng.below(4) {
        0 => Req::new("FLUSHDB").a(g.opt("ASYNC")),
        1 => Req::new("FLUSHDB").a(g.opt("SYNC")),
        2 if g.chance(30) => Req::new("FLUSHDB").a("LAZY"),
        _ => Req::new("FLUSHDB"),
    }
}

/// `PING [message]`
fn ping(g: &mut Gen) -> Req {
    if g.chance(50) {
        Req::new("PING")
    } else {
        Req::new("PING").a(g.val())
    }
}

/// `ECHO message`
fn echo(g: &mut Gen) -> Req {
    Req::new("ECHO").a(g.val())
}

/// `TIME`: only the shape is comparable.
fn time(_g: &mut Gen) -> Req {
    Req::new("TIME").cmp(Cmp::Kind)
}
