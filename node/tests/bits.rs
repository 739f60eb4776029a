//! Bit commands against a real node, and a side-by-side comparison of raw
//! replies with redis-server.

mod common;
#[path = "support/diff.rs"]
mod diff;

use common::Server;
use diff::RawConn;

const BITS_SCRIPT: &[&str] = &[
    // SETBIT / GETBIT
    "SETBIT k1 7 1",
    "SETBIT k1 7 0",
    "SETBIT k1 7 1",
    "SETBIT k1 100 1",
    "GET k1",
    "GETBIT k1 7",
    "GETBIT k1 6",
    "GETBIT k1 100",
    "GETBIT k1 100000",
    "GETBIT nokey:k 3",
    "SETBIT k1 -1 1",
    "SETBIT k1 x 1",
    "SETBIT k1 1 2",
    "SETBIT k1 1 -1",
    "SETBIT k1 1 x",
    "SETBIT k1 4294967296 1",
    "SETBIT k1 9223372036854775807 1",
    "GETBIT k1 -1",
    "GETBIT k1 4294967296",
    "SETBIT k1 #3 1",
    "SETBIT k1",
    // BITCOUNT
    "SET k2 foobar",
    "BITCOUNT k2",
    "BITCOUNT k2 0 0",
    "BITCOUNT k2 1 1",
    "BITCOUNT k2 1 1 BYTE",
    "BITCOUNT k2 5 30 BIT",
    "BITCOUNT k2 -1 -1",
    "BITCOUNT k2 -1 -2",
    "BITCOUNT k2 -1 -2 FOO",
    "BITCOUNT k2 -100 100",
    "BITCOUNT k2 3 1",
    "BITCOUNT k2 0 -1 BIT",
    "BITCOUNT k2 -7 -3 BIT",
    "BITCOUNT k2 9 9 BIT",
    "BITCOUNT k2 0",
    "BITCOUNT k2 0 1 BYTE extra",
    "BITCOUNT k2 a 1",
    "BITCOUNT k2 0 1 FOO",
    "BITCOUNT nokey:k",
    "BITCOUNT nokey:k 0",
    "BITCOUNT nokey:k a b c d",
    "SET k3 ''",
    "BITCOUNT k3",
    "BITCOUNT k3 0 -1",
    "BITCOUNT k3 0 -1 BIT",
    // BITPOS
    "SET k4 \\xff\\xf0\\x00",
    "BITPOS k4 0",
    "BITPOS k4 1",
    "BITPOS k4 0 1",
    "BITPOS k4 1 2",
    "BITPOS k4 1 2 -1",
    "BITPOS k4 0 0 0",
    "BITPOS k4 0 0 1",
    "BITPOS k4 0 2 -1 BYTE",
    "BITPOS k4 1 7 15 BIT",
    "BITPOS k4 0 7 15 BIT",
    "BITPOS k4 0 0 7 BIT",
    "BITPOS k4 0 0 11 BIT",
    "BITPOS k4 0 12 BIT",
    "BITPOS k4 1 9 BIT",
    "BITPOS k4 1 -5 -1 BIT",
    "BITPOS k4 1 5 3",
    "BITPOS k4 2",
    "BITPOS k4 x",
    "BITPOS k4 1 x",
    "BITPOS k4 1 0 x",
    "BITPOS k4 1 0 1 FOO",
    "BITPOS k4 1 0 x FOO",
    "BITPOS k4 1 0 1 BIT extra",
    "SET k5 \\xff\\xff\\xff",
    "BITPOS k5 0",
    "BITPOS k5 0 0",
    "BITPOS k5 0 0 -1",
    "BITPOS k5 0 1 BIT",
    "BITPOS k5 0 0 20 BIT",
    "BITPOS k5 1 3 2",
    "BITPOS nokey:k 0",
    "BITPOS nokey:k 1",
    "BITPOS nokey:k 1 x",
    "BITPOS k3 0",
    "BITPOS k3 1",
    "SET k6 \\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x01",
    "BITPOS k6 1",
    "BITPOS k6 1 1 8",
    // BITOP
    "SET k7 foobar",
    "SET k8 abcdef",
    "BITOP AND k9 k7 k8",
    "GET k9",
    "BITOP OR k9 k7 k8",
    "GET k9",
    "BITOP XOR k9 k7 k8",
    "GET k9",
    "BITOP NOT k9 k7",
    "GET k9",
    "BITOP NOT k9 k7 k8",
    "BITOP FOO k9 k7",
    "SET k10 ab",
    "BITOP AND k9 k7 k10",
    "GET k9",
    "BITOP OR k9 k7 nokey:k",
    "GET k9",
    "BITOP AND k9 k7 nokey:k",
    "GET k9",
    "BITOP AND k9 nokey:k nokey:k2",
    "GET k9",
    "BITOP XOR k7 k7 k7",
    "GET k7",
    "BITOP AND k9",
    "bitop and k9 k8",
    "GET k9",
    // BITFIELD
    "BITFIELD k11 SET i8 0 100 GET i8 0",
    "BITFIELD k11 INCRBY i8 0 100",
    "BITFIELD k11 OVERFLOW SAT INCRBY i8 0 100",
    "BITFIELD k11 OVERFLOW FAIL INCRBY i8 0 100",
    "BITFIELD k11 OVERFLOW WRAP INCRBY i8 0 1",
    "BITFIELD k11 GET u8 0 GET i8 0 GET u4 4 GET i4 4",
    "BITFIELD k12 INCRBY u2 100 1 OVERFLOW SAT INCRBY u2 102 1",
    "BITFIELD k12 INCRBY u2 100 1 OVERFLOW SAT INCRBY u2 102 1",
    "BITFIELD k12 INCRBY u2 100 1 OVERFLOW SAT INCRBY u2 102 1",
    "BITFIELD k12 INCRBY u2 100 1 OVERFLOW SAT INCRBY u2 102 1",
    "BITFIELD k12 OVERFLOW FAIL INCRBY u2 102 1",
    "BITFIELD k12 OVERFLOW SAT INCRBY u2 102 -10",
    "BITFIELD k12 OVERFLOW WRAP INCRBY u2 102 -1",
    "BITFIELD k13 SET u8 #1 255 GET u8 #1 GET u4 #3",
    "BITFIELD k13 SET i64 0 -1 GET u63 0 GET i64 0 GET i64 1",
    "BITFIELD k13 INCRBY i64 0 -9223372036854775808",
    "BITFIELD k13 OVERFLOW SAT INCRBY i64 0 -9223372036854775808",
    "BITFIELD k13 OVERFLOW SAT SET i64 0 9223372036854775807 INCRBY i64 0 1",
    "BITFIELD k13 OVERFLOW WRAP SET i64 0 9223372036854775807 INCRBY i64 0 1",
    "BITFIELD k13 OVERFLOW SAT SET u8 0 300 SET i8 8 -300 GET u16 0",
    "BITFIELD k13 OVERFLOW WRAP SET u8 0 300 SET i8 8 -300 SET u8 16 -1 GET u24 0",
    "BITFIELD k13 OVERFLOW FAIL SET u8 0 300 SET i8 8 100 GET u16 0",
    "BITFIELD k13 OVERFLOW SAT INCRBY u63 0 9223372036854775807 INCRBY u63 0 9223372036854775807",
    "BITFIELD k13 SET u1 3 1 INCRBY i1 3 1 INCRBY i1 3 1 GET i1 3",
    "GET k13",
    "BITFIELD k14",
    "BITFIELD nokey:k GET u8 0 GET i16 3",
    "GET nokey:k",
    "BITFIELD k14 GET u64 0",
    "BITFIELD k14 GET i65 0",
    "BITFIELD k14 GET i0 0",
    "BITFIELD k14 GET x8 0",
    "BITFIELD k14 GET u8 -1",
    "BITFIELD k14 GET u8 #-1",
    "BITFIELD k14 GET u8 #x",
    "BITFIELD k14 GET u8 x",
    "BITFIELD k14 GET u8 4294967296",
    "BITFIELD k14 SET u8 0 x",
    "BITFIELD k14 SET u8 0",
    "BITFIELD k14 GET u8",
    "BITFIELD k14 OVERFLOW",
    "BITFIELD k14 OVERFLOW FOO GET u8 0",
    "BITFIELD k14 FOO u8 0",
    "BITFIELD k14 SET u8 0 1 GET x8 0",
    "BITFIELD k14 GET U8 0 get I8 0",
    "BITFIELD_RO k13 GET u8 0 GET i8 8",
    "BITFIELD_RO k13 SET u8 0 1",
    "BITFIELD_RO k13 INCRBY u8 0 1",
    "BITFIELD_RO k13 OVERFLOW SAT GET u8 0",
    "BITFIELD_RO nokey:k GET u8 0",
    "BITFIELD_RO k13",
    "BITFIELD_RO k13 SET u8 0 x",
    "BITFIELD",
    "BITFIELD_RO",
    "GETBIT",
    "BITOP",
    "BITPOS k1",
];

#[test]
fn replies_match_redis_server_side_by_side() {
    let redis = Server::start_redis(&[]);
    let node = Server::start(&[]);
    diff::assert_same(node.port, redis.port, BITS_SCRIPT);
}

#[test]
fn offsets_are_limited_by_proto_max_bulk_len() {
    let redis = Server::start_redis(&["--proto-max-bulk-len", "1mb"]);
    let node = Server::start(&["--proto-max-bulk-len", "1mb"]);
    let script = [
        "SETBIT k1 8388607 1",
        "STRLEN k1",
        "SETBIT k1 8388608 1",
        "GETBIT k1 8388608",
        "BITFIELD k1 SET u8 8388600 1",
        "BITFIELD k1 SET u8 8388601 1",
        "BITFIELD k1 GET u8 #1048575",
        "BITFIELD k1 GET u8 #1048576",
        "BITFIELD k1 GET i64 #288230376151711745",
        "STRLEN k1",
    ];
    diff::assert_same(node.port, redis.port, &script);
}

#[test]
fn setbit_grows_long_values_in_place_and_keeps_ttl() {
    let s = Server::start(&[]);
    let mut c = RawConn::connect(s.port);
    assert_eq!(c.cmd("PSETEX b 300 x"), b"+OK\r\n");
    assert_eq!(c.cmd("SETBIT b 8000 1"), b":0\r\n");
    assert_eq!(c.cmd("STRLEN b"), b":1001\r\n");
    assert_eq!(c.cmd("BITCOUNT b"), b":5\r\n");
    assert_eq!(c.cmd("BITFIELD b INCRBY u8 #999 7"), b"*1\r\n:7\r\n");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while c.cmd("GET b") != b"$-1\r\n" {
        assert!(
            std::time::Instant::now() < deadline,
            "SETBIT dropped the TTL"
        );
        std::thread::yield_now();
    }
}

#[test]
fn bitop_is_consistent_with_bitcount_on_large_inputs() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let a: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + 3) as u8).collect();
    let b: Vec<u8> = (0..60_000u32).map(|i| (i * 13 + 1) as u8).collect();
    let _: () = redis::cmd("MSET")
        .arg("a")
        .arg(&a)
        .arg("b")
        .arg(&b)
        .query(&mut c)
        .unwrap();
    let n: usize = redis::cmd("BITOP")
        .arg("XOR")
        .arg("x")
        .arg("a")
        .arg("b")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, a.len());
    let got: Vec<u8> = redis::cmd("GET").arg("x").query(&mut c).unwrap();
    let want: Vec<u8> = (0..a.len())
        .map(|i| a[i] ^ b.get(i).copied().unwrap_or(0))
        .collect();
    assert_eq!(got, want);
    let count: u64 = redis::cmd("BITCOUNT").arg("x").query(&mut c).unwrap();
    assert_eq!(
        count,
        want.iter().map(|b| b.count_ones() as u64).sum::<u64>()
    );
    let pos: i64 = redis::cmd("BITPOS")
        .arg("x")
        .arg(1)
        .arg(60_000)
        .query(&mut c)
        .unwrap();
    let first = (60_000..a.len()).find(|&i| want[i] != 0).unwrap();
    assert_eq!(
        pos,
        (first * 8 + want[first].leading_zeros() as usize) as i64
    );
}
