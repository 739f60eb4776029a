//! Request parsing: our resumable `Parser` against `redis-protocol`'s RESP2
//! decoder on the same buffers. `cargo bench -p kcache-node --bench parser`.
//!
//! Both sides parse the whole buffer request by request and touch every
//! argument's length, so neither can skip work. `redis-protocol` is measured in
//! its two forms: `decode` (owned frames, one allocation per argument) and
//! `decode_range` (ranges into the buffer, the closest to what we do).

use std::hint::black_box;
use std::time::{Duration, Instant};

use kcache_node::protocol::{Limits, Parser};
use redis_protocol::resp2::decode::{decode, decode_range};
use redis_protocol::resp2::types::{OwnedFrame, RangeFrame};

fn multibulk(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn ours(buf: &[u8], parser: &mut Parser, limits: &Limits) -> usize {
    let mut start = 0;
    let mut n = 0;
    while let Ok(Some(req)) = parser.parse(buf, start, limits) {
        n += parser.args.iter().map(|r| r.len()).sum::<usize>();
        start = req.end;
    }
    n
}

fn owned_len(f: &OwnedFrame) -> usize {
    match f {
        OwnedFrame::Array(items) => items.iter().map(owned_len).sum(),
        OwnedFrame::BulkString(b) => b.len(),
        _ => 0,
    }
}

fn theirs_owned(buf: &[u8]) -> usize {
    let mut pos = 0;
    let mut n = 0;
    while let Ok(Some((frame, used))) = decode(&buf[pos..]) {
        n += owned_len(&frame);
        pos += used;
    }
    n
}

fn range_len(f: &RangeFrame) -> usize {
    match f {
        RangeFrame::Array(items) => items.iter().map(range_len).sum(),
        RangeFrame::BulkString((start, end)) => end - start,
        _ => 0,
    }
}

fn theirs_range(buf: &[u8]) -> usize {
    let mut pos = 0;
    let mut n = 0;
    while let Ok(Some((frame, used))) = decode_range(&buf[pos..]) {
        n += range_len(&frame);
        pos += used;
    }
    n
}

/// Runs `f` repeatedly for about `budget`; returns nanoseconds per call.
fn time(budget: Duration, mut f: impl FnMut() -> usize) -> f64 {
    let mut iters = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            black_box(f());
        }
        let el = t.elapsed();
        if el >= budget {
            return el.as_nanos() as f64 / iters as f64;
        }
        iters = if el < budget / 10 {
            iters * 10
        } else {
            iters * 2
        };
    }
}

fn main() {
    let budget = Duration::from_millis(
        std::env::var("PARSER_BENCH_MS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(700),
    );
    let value = [b'v'; 32];
    let sets: Vec<u8> = (0..16)
        .flat_map(|i| multibulk(&[b"SET", format!("key:{i}").as_bytes(), &value]))
        .collect();
    let gets: Vec<u8> = (0..16)
        .flat_map(|i| multibulk(&[b"GET", format!("key:{i}").as_bytes()]))
        .collect();
    let big = multibulk(&[b"SET", b"big", &vec![b'x'; 1 << 20]]);
    let cases: [(&str, &[u8], usize); 3] = [
        ("16 x SET key:N <32 B>", &sets, 16),
        ("16 x GET key:N", &gets, 16),
        ("SET big <1 MB>", &big, 1),
    ];

    let limits = Limits::default();
    let mut parser = Parser::default();
    println!(
        "{:<22} {:>12} {:>16} {:>16} {:>8} {:>8}",
        "buffer", "ours ns/req", "rp decode ns/req", "rp range ns/req", "x owned", "x range"
    );
    for (name, buf, reqs) in cases {
        let expect = ours(buf, &mut parser, &limits);
        assert_eq!(expect, theirs_owned(buf), "{name}: same arguments");
        assert_eq!(expect, theirs_range(buf), "{name}: same arguments");
        let a = time(budget, || ours(black_box(buf), &mut parser, &limits)) / reqs as f64;
        let b = time(budget, || theirs_owned(black_box(buf))) / reqs as f64;
        let c = time(budget, || theirs_range(black_box(buf))) / reqs as f64;
        println!(
            "{name:<22} {a:>12.1} {b:>16.1} {c:>16.1} {:>8.2} {:>8.2}",
            b / a,
            c / a
        );
    }
    println!("(x = how many times faster ours is; rp = redis-protocol 6 resp2)");
}
