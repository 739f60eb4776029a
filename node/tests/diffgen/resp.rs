//! A small RESP2/RESP3 reply reader for the differential test: frames exactly one
//! reply out of a byte buffer and builds a value tree for the comparisons that
//! cannot be byte-for-byte (unordered replies, TTLs, SCAN pages).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One decoded reply. Ordered so unordered replies can be normalised by sorting.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum V {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<V>),
    /// RESP3 map, flattened to key, value, key, value.
    Map(Vec<V>),
    Set(Vec<V>),
    Push(Vec<V>),
    /// RESP3 scalars compared as text: double, boolean, big number, verbatim.
    Other(u8, Vec<u8>),
}

impl V {
    pub fn is_error(&self) -> bool {
        matches!(self, V::Error(_))
    }

    /// The elements of an array, set or map reply.
    pub fn items(&self) -> Option<&[V]> {
        match self {
            V::Array(v) | V::Set(v) | V::Map(v) | V::Push(v) => Some(v),
            _ => None,
        }
    }
}

fn line(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(pos..)?;
    let cr = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..cr], pos + cr + 2))
}

fn int(s: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(s)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad integer {:?}", String::from_utf8_lossy(s)))
}

/// Parses one reply at `pos`: `Ok(None)` when more bytes are needed, else the
/// value and the position after it.
pub fn parse(buf: &[u8], pos: usize) -> Result<Option<(V, usize)>, String> {
    let Some((l, next)) = line(buf, pos) else {
        return Ok(None);
    };
    let (&kind, body) = l.split_first().ok_or("empty reply line")?;
    let aggregate = |n: i64, next: usize, per: usize| -> Result<Option<(Vec<V>, usize)>, String> {
        let mut items = Vec::new();
        let mut at = next;
        for _ in 0..n.max(0) as usize * per {
            match parse(buf, at)? {
                Some((v, p)) => {
                    items.push(v);
                    at = p;
                }
                None => return Ok(None),
            }
        }
        Ok(Some((items, at)))
    };
    let blob = |n: i64| -> Option<(Vec<u8>, usize)> {
        let end = next + n as usize;
        (buf.len() >= end + 2).then(|| (buf[next..end].to_vec(), end + 2))
    };
    Ok(match kind {
        b'+' => Some((V::Simple(body.to_vec()), next)),
        b'-' => Some((V::Error(body.to_vec()), next)),
        b':' => Some((V::Int(int(body)?), next)),
        b'_' => Some((V::Nil, next)),
        b',' | b'#' | b'(' => Some((V::Other(kind, body.to_vec()), next)),
        b'$' | b'=' | b'!' => {
            let n = int(body)?;
            if n < 0 {
                return Ok(Some((V::Nil, next)));
            }
            blob(n).map(|(b, p)| {
                let v = match kind {
                    b'$' => V::Bulk(b),
                    b'!' => V::Error(b),
                    _ => V::Other(kind, b),
                };
                (v, p)
            })
        }
        b'*' | b'~' | b'>' | b'%' => {
            let n = int(body)?;
            if n < 0 {
                return Ok(Some((V::Nil, next)));
            }
            let per = if kind == b'%' { 2 } else { 1 };
            aggregate(n, next, per)?.map(|(items, p)| {
                let v = match kind {
                    b'*' => V::Array(items),
                    b'~' => V::Set(items),
                    b'>' => V::Push(items),
                    _ => V::Map(items),
                };
                (v, p)
            })
        }
        other => return Err(format!("unknown reply type byte {:?}", other as char)),
    })
}

/// Encodes a request as a RESP multibulk.
pub fn encode(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A raw connection that sends a request and reads exactly one reply.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn connect(port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_nodelay(true).ok();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("set read timeout");
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, args: &[Vec<u8>]) {
        self.stream.write_all(&encode(args)).expect("write request");
    }

    /// Reads one reply: its exact bytes and its decoded value.
    pub fn read(&mut self) -> Result<(Vec<u8>, V), String> {
        let mut chunk = [0u8; 16384];
        loop {
            if let Some((v, end)) = parse(&self.buf, 0)? {
                let raw = self.buf.drain(..end).collect();
                return Ok((raw, v));
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err("connection closed".into()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    pub fn call(&mut self, args: &[Vec<u8>]) -> Result<(Vec<u8>, V), String> {
        self.send(args);
        self.read()
    }
}

#[test]
fn parses_nested_and_partial_replies() {
    let input = b"*2\r\n$1\r\na\r\n%1\r\n+k\r\n:5\r\n";
    let (v, end) = parse(input, 0).unwrap().unwrap();
    assert_eq!(end, input.len());
    assert_eq!(
        v,
        V::Array(vec![
            V::Bulk(b"a".to_vec()),
            V::Map(vec![V::Simple(b"k".to_vec()), V::Int(5)])
        ])
    );
    for cut in 0..input.len() {
        assert_eq!(parse(&input[..cut], 0).unwrap(), None);
    }
    assert_eq!(parse(b"$-1\r\n", 0).unwrap(), Some((V::Nil, 5)));
}
