//! Divergences from redis-server 7.0 that the differential test
//! (`differential.rs`, `make fuzz-diff`) found, each kept as a fixed script
//! whose replies are compared byte for byte with redis-server's, and asserted
//! outright where redis-server is missing.

mod common;
mod rawresp;

use common::Server;
use rawresp::Raw;

/// Runs `script` on the node and on redis-server; asserts equal replies and
/// returns the node's.
fn same_as_redis(script: &[&[&str]]) -> Vec<String> {
    let node = Server::start(&[]);
    let run = |port: u16| -> Vec<String> {
        let mut c = Raw::connect(port);
        script.iter().map(|args| c.cmd_s(args)).collect()
    };
    let got = run(node.port);
    let redis = Server::start_redis(&[]);
    let want = run(redis.port);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(
            g, w,
            "{:?}: node (left) and redis-server (right)",
            script[i]
        );
    }
    got
}

/// Scores that overflow or underflow a double are errors (strtod's ERANGE),
/// hex floats are numbers; range bounds take strtod's value regardless.
#[test]
fn double_arguments_follow_strtod() {
    let t = same_as_redis(&[
        &["ZADD", "z", "1e400", "a"],
        &["ZADD", "z", "-1e400", "a"],
        &["ZADD", "z", "1e-400", "a"],
        &["ZADD", "z", "0x10", "a", "0X1P-2", "b", "1e-310", "c"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["ZCOUNT", "z", "-1e400", "1e400"],
        &["ZCOUNT", "z", "(0x1", "+inf"],
        &["ZINCRBY", "z", "1e400", "a"],
        &["GEOADD", "g", "1e400", "0", "m"],
    ]);
    let not_float = "-ERR value is not a valid float\r\n";
    assert_eq!(t[0], not_float);
    assert_eq!(t[2], not_float);
    assert_eq!(t[3], ":3\r\n");
    assert_eq!(t[5], ":3\r\n");
    assert_eq!(t[6], ":1\r\n");
}

/// A small sorted set gives back 0 for a score of -0 (Redis's listpack).
#[test]
fn negative_zero_score_in_a_small_sorted_set() {
    let t = same_as_redis(&[
        &["ZADD", "z", "-0", "m"],
        &["ZSCORE", "z", "m"],
        &["ZINCRBY", "z", "-0", "n"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    ]);
    assert_eq!(t[1], "$1\r\n0\r\n");
}

/// HINCRBYFLOAT computes in long double, as INCRBYFLOAT.
#[test]
fn hincrbyfloat_is_long_double() {
    let t = same_as_redis(&[
        &[
            "HSET",
            "h",
            "a",
            "9223372036854775807",
            "b",
            "0.1",
            "c",
            "inf",
        ],
        &["HINCRBYFLOAT", "h", "a", "2"],
        &["HINCRBYFLOAT", "h", "b", "0.2"],
        &["HINCRBYFLOAT", "h", "c", "1"],
        &["HINCRBYFLOAT", "h", "d", "inf"],
        &["HINCRBYFLOAT", "h", "d", "1e400"],
        &["HINCRBYFLOAT", "h", "d", "0x10"],
    ]);
    assert_eq!(t[1], "$19\r\n9223372036854775809\r\n");
    assert_eq!(t[2], "$3\r\n0.3\r\n");
    assert_eq!(t[3], "-ERR increment would produce NaN or Infinity\r\n");
    assert_eq!(t[4], "-ERR value is NaN or Infinity\r\n");
}

/// A sparse HyperLogLog with a value run past its last register: PFCOUNT of
/// several keys and PFMERGE refuse it as PFCOUNT of one key does.
#[test]
fn hll_merge_refuses_a_run_past_the_registers() {
    let mut value = b"HYLL\x01\x00\x00\x00".to_vec();
    // Cached cardinality marked stale, so PFCOUNT of one key reads the registers.
    value.extend([0, 0, 0, 0, 0, 0, 0, 0x80]);
    value.extend([0x7f, 0xff, 0xb7]);
    let run = |port: u16| -> Vec<String> {
        let mut c = Raw::connect(port);
        c.send(&rawresp::encode(&[b"SET", b"k", &value]));
        let mut out = vec![String::from_utf8_lossy(&c.reply()).into_owned()];
        for args in [
            &["PFCOUNT", "k"][..],
            &["PFCOUNT", "k", "k"],
            &["PFMERGE", "d", "k"],
            &["PFADD", "k", "a"],
        ] {
            out.push(c.cmd_s(args));
        }
        out
    };
    let node = Server::start(&[]);
    let got = run(node.port);
    let corrupt = "-INVALIDOBJ Corrupted HLL object detected\r\n";
    assert_eq!(got[1..4], [corrupt, corrupt, corrupt]);
    let redis = Server::start_redis(&[]);
    assert_eq!(got, run(redis.port));
}

/// Sorted set members GEOADD did not write (negative, huge or infinite
/// scores) decode to the positions Redis's `(uint64_t)` cast gives on x86-64.
#[test]
fn geo_decodes_any_score_as_redis() {
    let t = same_as_redis(&[
        &[
            "ZADD", "g", "-7", "a", "1e19", "b", "inf", "c", "-inf", "d", "1e30", "e", "1.5", "h",
        ],
        &["GEOPOS", "g", "a", "b", "c", "d", "e", "h"],
        &["GEOHASH", "g", "a", "b", "c", "d", "e", "h"],
        &["GEODIST", "g", "a", "h"],
    ]);
    assert!(t[1].starts_with("*6\r\n*2\r\n$3\r\n180\r\n"), "{}", t[1]);
}

/// An argument echoed at the end of an error loses a trailing CR or LF
/// (Redis trims them; inside the text they become spaces).
#[test]
fn errors_trim_trailing_newlines_of_echoed_arguments() {
    let t = same_as_redis(&[
        &["EXPIREAT", "k", "1", "ZZ\r"],
        &["EXPIREAT", "k", "1", "Z\nZ\n"],
        &["SET", "k", "v", "BOGUS\r\n"],
    ]);
    assert_eq!(t[0], "-ERR Unsupported option ZZ\r\n");
    assert_eq!(t[1], "-ERR Unsupported option Z Z\r\n");
}

/// Arguments echoed in errors stop at their first NUL, as C strings in
/// Redis's `%s` (seed 99039 of the differential test found XCLAIM's).
#[test]
fn echoed_arguments_stop_at_nul() {
    let t = same_as_redis(&[
        &["XADD", "xs", "1-1", "f", "v"],
        &["XGROUP", "CREATE", "xs", "g1", "0"],
        &["XCLAIM", "xs", "g1", "c1", "0", "1-1", "FORCE", "a\0b"],
        &["OBJECT", "a\0b"],
        &["CLIENT", "x\0y"],
    ]);
    assert_eq!(t[2], "-ERR Unrecognized XCLAIM option 'a'\r\n");
    assert_eq!(t[3], "-ERR unknown subcommand 'a'. Try OBJECT HELP.\r\n");
}
