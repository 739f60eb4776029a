//! Generators for the geo commands. Each member has its own fixed position
//! (a table below), so no two members share a distance from a search centre
//! except by coincidence and sorted searches compare exactly; unsorted ones
//! (no ASC/DESC, where the order follows the geohash cells scanned) compare
//! as sets, and only when they return bare names (with WITHDIST and friends
//! each item is an array; those searches are always sorted here).

use super::{spec, Cmp, Gen, Req, Spec};

const HOME: &[&[u8]] = &[b"g1", b"g2"];

/// (member, longitude, latitude): around Palermo/Catania as in Redis's docs,
/// plus edges of the valid range.
const PLACES: &[(&str, &str, &str)] = &[
    ("Palermo", "13.361389", "38.115556"),
    ("Catania", "15.087269", "37.502669"),
    ("Agrigento", "13.583333", "37.316667"),
    ("Messina", "15.556111", "38.193333"),
    ("Siracusa", "15.286586", "37.075474"),
    ("Trapani", "12.5138", "38.0174"),
    ("edge", "-179.9", "85.05"),
    ("south", "179.5", "-85.05112878"),
    ("zero", "0", "0"),
];

pub fn table() -> Vec<Spec> {
    vec![
        spec!("geoadd", 5, geoadd),
        spec!("geopos", 2, geopos),
        spec!("geodist", 2, geodist),
        spec!("geohash", 1, geohash),
        spec!("geosearch", 3, geosearch),
        spec!("geosearchstore", 1, geosearchstore),
        spec!("georadius", 1, georadius),
        spec!("georadiusbymember", 1, georadiusbymember),
    ]
}

fn key(g: &mut Gen) -> Vec<u8> {
    g.ckey(HOME)
}

fn place(g: &mut Gen) -> (&'static str, &'static str, &'static str) {
    g.rng.pick(PLACES)
}

fn name(g: &mut Gen) -> Vec<u8> {
    if g.chance(10) {
        g.member()
    } else {
        place(g).0.as_bytes().to_vec()
    }
}

/// `GEOADD key [NX | XX] [CH] longitude latitude member [...]`
fn geoadd(g: &mut Gen) -> Req {
    let mut r = Req::new("GEOADD").a(key(g));
    for flag in ["NX", "XX", "CH"] {
        if g.chance(8) {
            r = r.a(g.opt(flag));
        }
    }
    for _ in 0..1 + g.rng.below(3) {
        let (m, lon, lat) = place(g);
        if g.chance(5) {
            let bad = g
                .rng
                .pick(&[("181", "0"), ("0", "86"), ("x", "1"), ("-180.1", "0")]);
            r = r.a(bad.0).a(bad.1).a(m);
        } else {
            r = r.a(lon).a(lat).a(m);
        }
    }
    r
}

/// `GEOPOS key member [member ...]`
fn geopos(g: &mut Gen) -> Req {
    let n = 1 + g.rng.below(3);
    let m: Vec<Vec<u8>> = (0..n).map(|_| name(g)).collect();
    Req::new("GEOPOS").a(key(g)).extend(m)
}

fn unit(g: &mut Gen) -> Vec<u8> {
    let u = g.rng.pick(&["m", "km", "mi", "ft", "KM", "yd"]);
    u.as_bytes().to_vec()
}

/// `GEODIST key member1 member2 [M | KM | FT | MI]`
fn geodist(g: &mut Gen) -> Req {
    let r = Req::new("GEODIST").a(key(g)).a(name(g)).a(name(g));
    if g.chance(50) {
        r.a(unit(g))
    } else {
        r
    }
}

/// `GEOHASH key [member [member ...]]`
fn geohash(g: &mut Gen) -> Req {
    let n = g.rng.below(3);
    let m: Vec<Vec<u8>> = (0..n).map(|_| name(g)).collect();
    Req::new("GEOHASH").a(key(g)).extend(m)
}

fn radius(g: &mut Gen) -> Vec<u8> {
    g.rng
        .pick(&["10", "100", "200", "500", "5000", "0", "-1", "x"])
        .as_bytes()
        .to_vec()
}

/// `FROMMEMBER m | FROMLONLAT lon lat`, then `BYRADIUS r unit | BYBOX w h unit`.
fn search_shape(g: &mut Gen, r: Req) -> Req {
    let r = if g.chance(50) {
        r.a(g.opt("FROMMEMBER")).a(name(g))
    } else {
        let (_, lon, lat) = place(g);
        r.a(g.opt("FROMLONLAT")).a(lon).a(lat)
    };
    if g.chance(60) {
        r.a(g.opt("BYRADIUS")).a(radius(g)).a(unit(g))
    } else {
        r.a(g.opt("BYBOX")).a(radius(g)).a(radius(g)).a(unit(g))
    }
}

/// How a search's reply can be compared.
#[derive(PartialEq)]
enum Order {
    /// ASC / DESC, or COUNT (which implies ASC): exactly.
    Sorted,
    /// In geohash cell order: as a set.
    Unsorted,
    /// COUNT n ANY: the first n found, which depends on the scan: by shape.
    Any,
}

/// `[ASC | DESC] [COUNT n [ANY]]` (`any`: whether ANY may be drawn).
fn order(g: &mut Gen, r: Req, any: bool) -> (Req, Order) {
    let mut o = Order::Unsorted;
    let mut r = r;
    if g.chance(70) {
        let d = g.rng.pick(&["ASC", "DESC"]);
        r = r.a(g.opt(d));
        o = Order::Sorted;
    }
    if g.chance(30) {
        r = r.a(g.opt("COUNT")).a(g.count());
        o = Order::Sorted;
        if any && g.chance(20) {
            r = r.a(g.opt("ANY"));
            o = Order::Any;
        }
    }
    (r, o)
}

/// WITHCOORD / WITHDIST / WITHHASH, only on sorted searches (see the module doc).
fn with_opts(g: &mut Gen, r: Req, o: Order) -> Req {
    let mut r = r;
    if o != Order::Unsorted {
        for w in ["WITHCOORD", "WITHDIST", "WITHHASH"] {
            if g.chance(25) {
                r = r.a(g.opt(w));
            }
        }
    }
    match o {
        Order::Sorted => r,
        Order::Unsorted => r.cmp(Cmp::Unordered),
        Order::Any => r.cmp(Cmp::Kind),
    }
}

/// `GEOSEARCH key FROMMEMBER m | FROMLONLAT lon lat BYRADIUS r unit | BYBOX w h unit [ASC | DESC] [COUNT n [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]`
fn geosearch(g: &mut Gen) -> Req {
    let r = Req::new("GEOSEARCH").a(key(g));
    let r = search_shape(g, r);
    let (r, o) = order(g, r, true);
    with_opts(g, r, o)
}

/// `GEOSEARCHSTORE dst src ... [STOREDIST]`
fn geosearchstore(g: &mut Gen) -> Req {
    let r = Req::new("GEOSEARCHSTORE").a(key(g)).a(key(g));
    let r = search_shape(g, r);
    // No ANY: which members it stores would depend on the scan.
    let (r, _) = order(g, r, false);
    if g.chance(30) {
        r.a(g.opt("STOREDIST"))
    } else {
        r
    }
}

/// `GEORADIUS key lon lat radius unit [WITH...] [COUNT n [ANY]] [ASC | DESC]`
fn georadius(g: &mut Gen) -> Req {
    let (_, lon, lat) = place(g);
    let r = Req::new("GEORADIUS")
        .a(key(g))
        .a(lon)
        .a(lat)
        .a(radius(g))
        .a(unit(g));
    let (r, o) = order(g, r, true);
    with_opts(g, r, o)
}

/// `GEORADIUSBYMEMBER key member radius unit [WITH...] [COUNT n [ANY]] [ASC | DESC]`
fn georadiusbymember(g: &mut Gen) -> Req {
    let r = Req::new("GEORADIUSBYMEMBER")
        .a(key(g))
        .a(name(g))
        .a(radius(g))
        .a(unit(g));
    let (r, o) = order(g, r, true);
    with_opts(g, r, o)
}
