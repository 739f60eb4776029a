//! Property tests of the request parser (`protocol::parse::Parser`), and a node
//! fed random garbage over TCP that must keep serving.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use kcache_node::protocol::{Limits, Parser, ProtocolError};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

type Request = Vec<Vec<u8>>;

/// Feeds `input` to a parser the way a connection does: in `chunks`, compacting
/// the buffer after each read and rebasing the parser. Returns the requests
/// parsed and the error that stopped it, if any.
fn feed(input: &[u8], cuts: &[usize]) -> (Vec<Request>, Option<ProtocolError>) {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.push(input.len());
    cuts.sort_unstable();
    let mut p = Parser::default();
    let limits = Limits::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut out = Vec::new();
    for cut in cuts {
        buf.extend_from_slice(&input[fed..cut]);
        fed = cut;
        let mut start = 0;
        loop {
            match p.parse(&buf, start, &limits) {
                Ok(Some(req)) => {
                    assert!(
                        req.end > start && req.end <= buf.len(),
                        "request end in range"
                    );
                    let src: &[u8] = if req.inline { &p.inline_buf } else { &buf };
                    if !p.args.is_empty() {
                        out.push(p.args.iter().map(|r| src[r.clone()].to_vec()).collect());
                    }
                    start = req.end;
                }
                Ok(None) => {
                    // Must not panic, whatever the state.
                    let _ = p.pending_bulk_hint(&buf);
                    buf.drain(..start);
                    p.rebase(start);
                    break;
                }
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

fn multibulk(req: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", req.len()).into_bytes();
    for a in req {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// An inline request with every argument double-quoted and every byte escaped
/// as `\xHH` (exercises the unescaping of `sdssplitargs`).
fn inline(req: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, a) in req.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.push(b'"');
        for b in a {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        }
        out.push(b'"');
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn request() -> impl Strategy<Value = Request> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::collection::vec(any::<u8>(), 0..24),
            1 => prop::collection::vec(any::<u8>(), 0..3000),
        ],
        1..6,
    )
}

/// Structured garbage: fragments of valid and broken protocol, and raw bytes.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        Just(b"*3\r\n$3\r\nSET\r\n".to_vec()),
        Just(b"*-1\r\n".to_vec()),
        Just(b"*0\r\n".to_vec()),
        Just(b"$5\r\n".to_vec()),
        Just(b"*2\r\n$-7\r\n".to_vec()),
        Just(b"*99999999999999999999\r\n".to_vec()),
        Just(b"*1\r\n$4\r\nPING\r\n".to_vec()),
        Just(b"\"unbalanced\r\n".to_vec()),
        Just(b"GET a\r\n".to_vec()),
        Just(b"\r\n\n\r".to_vec()),
        Just(b"\x00\xff".to_vec()),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(
        input in prop::collection::vec(any::<u8>(), 0..2048),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        feed(&input, &cuts);
    }

    #[test]
    fn structured_garbage_never_panics(
        input in garbage(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        feed(&input, &cuts);
    }

    #[test]
    fn split_requests_parse_like_whole_ones(
        reqs in prop::collection::vec((request(), any::<bool>()), 1..8),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut input = Vec::new();
        for (req, as_inline) in &reqs {
            input.extend(if *as_inline { inline(req) } else { multibulk(req) });
        }
        let want: Vec<Request> = reqs.into_iter().map(|(r, _)| r).collect();
        let (whole, err) = feed(&input, &[]);
        prop_assert_eq!(err, None);
        prop_assert_eq!(&whole, &want);
        let (split, err) = feed(&input, &cuts);
        prop_assert_eq!(err, None);
        prop_assert_eq!(&split, &want);
    }

    #[test]
    fn byte_at_a_time_matches_whole(req in request()) {
        let input = multibulk(&req);
        let cuts: Vec<usize> = (0..input.len()).collect();
        let (got, err) = feed(&input, &cuts);
        prop_assert_eq!(err, None);
        prop_assert_eq!(got, vec![req]);
    }
}

/// Writes `input`, half-closes, and drains replies until the node closes or a
/// short deadline passes (the node may legitimately wait for more bytes).
fn send_garbage(port: u16, input: &[u8]) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(50))).ok();
    // The node may close early on a protocol error: a failed write is fine.
    if s.write_all(input).is_ok() {
        let _ = s.shutdown(Shutdown::Write);
    }
    let deadline = Instant::now() + Duration::from_millis(100);
    let mut buf = [0u8; 16384];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) | Err(_) if Instant::now() >= deadline => break,
            Ok(0) => break,
            _ => {}
        }
    }
}

/// PINGs on several new connections, so every event loop is reached (a loop
/// stuck on the garbage would leave its connections unanswered).
fn ping(port: u16) -> Vec<u8> {
    let mut all = Vec::new();
    for _ in 0..8 {
        all.extend(common::raw(port, b"PING\r\n", |b| b.ends_with(b"\r\n")));
    }
    all
}

fn pongs() -> Vec<u8> {
    b"+PONG\r\n".repeat(8)
}

#[test]
fn node_survives_garbage() {
    // One node for all cases (a static would never be dropped, leaving the
    // process behind), so the runner is driven by hand.
    let node = common::Server::start(&["--save", "", "--appendonly", "no"]);
    let mut runner = TestRunner::new(ProptestConfig::with_cases(32));
    runner
        .run(&garbage(), |input| {
            send_garbage(node.port, &input);
            prop_assert_eq!(ping(node.port), pongs());
            Ok(())
        })
        .unwrap();
}

#[test]
fn node_survives_raw_random_bytes_on_many_connections() {
    let node = common::Server::start(&["--save", "", "--appendonly", "no"]);
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..30 {
        let len = (x % 8192) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        send_garbage(node.port, &bytes);
    }
    assert_eq!(ping(node.port), pongs());
}

/// Inputs that once hung or killed an event loop: a NUL in an inline request
/// (the splitter looped forever) and a long non-UTF-8 command name (the
/// unknown-command error sliced a string mid-character and panicked).
#[test]
fn node_regressions_nul_inline_and_binary_command_name() {
    let node = common::Server::start(&[]);
    let out = common::raw(node.port, b"ECHO ab\x00cd \"x\r\nPING\r\n", |b| {
        b.ends_with(b"PONG\r\n")
    });
    assert_eq!(out, b"$2\r\nab\r\n+PONG\r\n");
    let mut req = b"*1\r\n$200\r\n".to_vec();
    req.extend([0xe2; 200]);
    req.extend_from_slice(b"\r\nPING\r\n");
    let out = common::raw(node.port, &req, |b| b.ends_with(b"PONG\r\n"));
    assert!(out.starts_with(b"-ERR unknown command '"), "{out:?}");
    assert!(
        out.ends_with(b"', with args beginning with: \r\n+PONG\r\n"),
        "{out:?}"
    );
    assert_eq!(ping(node.port), pongs());
}

/// A pipeline much larger than one read, written while replies are read: every
/// request must be answered. (A full read into a connection's partial-request
/// buffer was once treated as a short one, so with edge-triggered readiness the
/// rest of the pipeline was never read.)
#[test]
fn node_reads_a_large_pipeline_to_the_end() {
    let node = common::Server::start(&[]);
    let n = 30_000;
    let input: Vec<u8> = (0..n)
        .flat_map(|i| {
            let v = format!("v{i:031}");
            let k = format!("key:{i}");
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
                k.len(),
                v.len()
            )
            .into_bytes()
        })
        .collect();
    let mut s = TcpStream::connect(("127.0.0.1", node.port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut w = s.try_clone().expect("clone stream");
    let writer = std::thread::spawn(move || w.write_all(&input).expect("write pipeline"));
    let want = b"+OK\r\n".len() * n;
    let mut got = 0;
    let mut buf = [0u8; 65536];
    while got < want {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => got += k,
        }
    }
    writer.join().expect("writer");
    assert_eq!(got, want, "replies for all {n} requests");
}
