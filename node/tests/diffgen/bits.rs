//! Generators for the bit commands. Offsets stay small (a valid offset near 2^32
//! would make both servers allocate 512 MB); the out-of-range ones are errors.

use super::{Gen, Req, Spec};

pub fn table() -> Vec<Spec> {
    vec![
        Spec {
            name: "setbit",
            weight: 4,
            gen: setbit,
        },
        Spec {
            name: "getbit",
            weight: 3,
            gen: getbit,
        },
        Spec {
            name: "bitcount",
            weight: 3,
            gen: bitcount,
        },
        Spec {
            name: "bitpos",
            weight: 3,
            gen: bitpos,
        },
        Spec {
            name: "bitop",
            weight: 3,
            gen: bitop,
        },
        Spec {
            name: "bitfield",
            weight: 4,
            gen: bitfield,
        },
        Spec {
            name: "bitfield_ro",
            weight: 2,
            gen: bitfield_ro,
        },
    ]
}

fn bit_offset(g: &mut Gen) -> Vec<u8> {
    match g.rng.below(15) {
        0 => g
            .rng
            .pick(&[&b"-1"[..], b"4294967296", b"abc", b"1.5", b""])
            .to_vec(),
        _ => g.rng.range(0, 200).to_string().into_bytes(),
    }
}

/// `SETBIT key offset value`
fn setbit(g: &mut Gen) -> Req {
    let bit = if g.chance(5) {
        g.rng.pick(&[&b"2"[..], b"-1", b"x"]).to_vec()
    } else {
        g.rng.range(0, 1).to_string().into_bytes()
    };
    Req::new("SETBIT").a(g.key()).a(bit_offset(g)).a(bit)
}

/// `GETBIT key offset`
fn getbit(g: &mut Gen) -> Req {
    Req::new("GETBIT").a(g.key()).a(bit_offset(g))
}

fn range_unit(g: &mut Gen, r: Req) -> Req {
    match g.rng.below(6) {
        0 => r.a(g.opt("BYTE")),
        1 => r.a(g.opt("BIT")),
        2 if g.chance(20) => r.a(g.opt("NIBBLE")),
        _ => r,
    }
}

/// `BITCOUNT key [start end [BYTE | BIT]]`
fn bitcount(g: &mut Gen) -> Req {
    let r = Req::new("BITCOUNT").a(g.key());
    match g.rng.below(4) {
        0 => r,
        1 if g.chance(30) => r.a(g.int(-10, 10)),
        _ => {
            let r = r.a(g.int(-40, 40)).a(g.int(-40, 40));
            range_unit(g, r)
        }
    }
}

/// `BITPOS key bit [start [end [BYTE | BIT]]]`
fn bitpos(g: &mut Gen) -> Req {
    let bit = if g.chance(5) {
        b"2".to_vec()
    } else {
        g.rng.range(0, 1).to_string().into_bytes()
    };
    let r = Req::new("BITPOS").a(g.key()).a(bit);
    match g.rng.below(4) {
        0 => r,
        1 => r.a(g.int(-10, 10)),
        _ => {
            let r = r.a(g.int(-40, 40)).a(g.int(-40, 40));
            range_unit(g, r)
        }
    }
}

/// `BITOP <AND | OR | XOR | NOT> destkey key [key ...]`
fn bitop(g: &mut Gen) -> Req {
    let op = g.rng.pick(&["AND", "OR", "XOR", "NOT", "NOT", "NAND"]);
    let n = if op == "NOT" && g.chance(80) {
        1
    } else {
        1 + g.rng.below(3)
    };
    let srcs = (0..n).map(|_| g.key()).collect::<Vec<_>>();
    Req::new("BITOP").a(g.opt(op)).a(g.key()).extend(srcs)
}

fn bf_type(g: &mut Gen) -> Vec<u8> {
    match g.rng.below(20) {
        0 => g
            .rng
            .pick(&[&b"u64"[..], b"i65", b"i0", b"x8", b"u", b"I8", b""])
            .to_vec(),
        1..=9 => format!("i{}", g.rng.range(1, 64)).into_bytes(),
        _ => format!("u{}", g.rng.range(1, 63)).into_bytes(),
    }
}

fn bf_offset(g: &mut Gen) -> Vec<u8> {
    match g.rng.below(15) {
        0 => g
            .rng
            .pick(&[&b"-1"[..], b"#-1", b"abc", b"#", b"4294967296"])
            .to_vec(),
        1..=4 => format!("#{}", g.rng.range(0, 6)).into_bytes(),
        _ => g.rng.range(0, 120).to_string().into_bytes(),
    }
}

fn bf_value(g: &mut Gen) -> Vec<u8> {
    match g.rng.below(8) {
        0 => g.int(0, 0),
        1 => g
            .rng
            .pick(&[
                &b"9223372036854775807"[..],
                b"-9223372036854775808",
                b"255",
                b"-129",
            ])
            .to_vec(),
        _ => g.rng.range(-300, 300).to_string().into_bytes(),
    }
}

/// `BITFIELD key [GET encoding offset | [OVERFLOW <WRAP | SAT | FAIL>]
/// <SET encoding offset value | INCRBY encoding offset increment> ...]`
fn bitfield(g: &mut Gen) -> Req {
    let mut r = Req::new("BITFIELD").a(g.key());
    for _ in 0..g.rng.below(4) {
        r = match g.rng.below(9) {
            0..=1 => r.a(g.opt("GET")).a(bf_type(g)).a(bf_offset(g)),
            2..=3 => r
                .a(g.opt("SET"))
                .a(bf_type(g))
                .a(bf_offset(g))
                .a(bf_value(g)),
            4..=6 => r
                .a(g.opt("INCRBY"))
                .a(bf_type(g))
                .a(bf_offset(g))
                .a(bf_value(g)),
            7 => {
                let how = g.rng.pick(&["WRAP", "SAT", "FAIL", "SAT", "BOGUS"]);
                r.a(g.opt("OVERFLOW")).a(g.opt(how))
            }
            _ => {
                let word = g.rng.pick(&["GETX", "SET"]);
                r.a(g.opt(word))
            }
        };
    }
    r
}

/// `BITFIELD_RO key [GET encoding offset ...]`
fn bitfield_ro(g: &mut Gen) -> Req {
    let mut r = Req::new("BITFIELD_RO").a(g.key());
    for _ in 0..g.rng.below(3) {
        r = if g.chance(90) {
            r.a(g.opt("GET")).a(bf_type(g)).a(bf_offset(g))
        } else {
            r.a(g.opt("SET"))
                .a(bf_type(g))
                .a(bf_offset(g))
                .a(bf_value(g))
        };
    }
    r
}
