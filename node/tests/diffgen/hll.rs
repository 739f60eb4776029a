//! Generators for PFADD, PFCOUNT and PFMERGE. HyperLogLogs are strings, so
//! the strings family also reads (GET, GETRANGE, STRLEN) and corrupts
//! (SETRANGE, APPEND) them on the same keys: the sparse and dense encodings
//! must match Redis byte for byte, and invalid ones be refused alike.

use super::{spec, Gen, Req, Spec};

const HOME: &[&[u8]] = &[b"p1", b"p2"];

pub fn table() -> Vec<Spec> {
    vec![
        spec!("pfadd", 6, pfadd),
        spec!("pfcount", 3, pfcount),
        spec!("pfmerge", 2, pfmerge),
    ]
}

fn key(g: &mut Gen) -> Vec<u8> {
    g.ckey(HOME)
}

/// An element: mostly from a pool of a few hundred, so registers collide and
/// some HLLs grow past the sparse limit over a run.
fn element(g: &mut Gen) -> Vec<u8> {
    if g.chance(10) {
        g.member()
    } else {
        format!("e{}", g.rng.below(3000)).into_bytes()
    }
}

/// `PFADD key [element [element ...]]`
fn pfadd(g: &mut Gen) -> Req {
    let most = if g.chance(20) { 60 } else { 5 };
    let n = g.rng.below(most);
    let e: Vec<Vec<u8>> = (0..n).map(|_| element(g)).collect();
    Req::new("PFADD").a(key(g)).extend(e)
}

/// `PFCOUNT key [key ...]`
fn pfcount(g: &mut Gen) -> Req {
    let n = 1 + g.rng.below(3);
    let k: Vec<Vec<u8>> = (0..n).map(|_| key(g)).collect();
    Req::new("PFCOUNT").extend(k)
}

/// `PFMERGE destkey [sourcekey [sourcekey ...]]`
fn pfmerge(g: &mut Gen) -> Req {
    let n = g.rng.below(3);
    let k: Vec<Vec<u8>> = (0..n).map(|_| key(g)).collect();
    Req::new("PFMERGE").a(key(g)).extend(k)
}
