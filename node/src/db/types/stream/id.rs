//! Stream entry IDs: `<ms>-<seq>`, ordered as the 128-bit number `ms:seq`, and
//! their textual forms as Redis parses and prints them.

use std::fmt;

/// An entry ID. The derived order (ms first, then seq) is the stream order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn is_zero(&self) -> bool {
        self.ms == 0 && self.seq == 0
    }

    /// The next ID, or None past the largest (Redis's streamIncrID).
    pub fn incr(self) -> Option<StreamId> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(StreamId { ms: self.ms, seq }),
            None => self.ms.checked_add(1).map(|ms| StreamId { ms, seq: 0 }),
        }
    }

    /// The previous ID, or None before 0-0 (Redis's streamDecrID).
    pub fn decr(self) -> Option<StreamId> {
        match self.seq.checked_sub(1) {
            Some(seq) => Some(StreamId { ms: self.ms, seq }),
            None => self
                .ms
                .checked_sub(1)
                .map(|ms| StreamId { ms, seq: u64::MAX }),
        }
    }

    /// The ID as a 16-byte big-endian key (Redis's radix tree key).
    pub fn to_be_bytes(self) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&self.ms.to_be_bytes());
        k[8..].copy_from_slice(&self.seq.to_be_bytes());
        k
    }

    /// Appends `ms-seq` to `buf` (reply formatting without a String).
    pub fn write_to(&self, buf: &mut Vec<u8>) {
        let mut b = itoa::Buffer::new();
        buf.extend_from_slice(b.format(self.ms).as_bytes());
        buf.push(b'-');
        buf.extend_from_slice(b.format(self.seq).as_bytes());
    }

    /// `ms-seq` in a small stack buffer.
    pub fn format(&self) -> IdText {
        let mut t = IdText {
            buf: [0; 41],
            len: 0,
        };
        let mut b = itoa::Buffer::new();
        for (i, part) in [self.ms, self.seq].into_iter().enumerate() {
            if i == 1 {
                t.buf[t.len] = b'-';
                t.len += 1;
            }
            let s = b.format(part).as_bytes();
            t.buf[t.len..t.len + s.len()].copy_from_slice(s);
            t.len += s.len();
        }
        t
    }
}

/// A formatted ID (at most 20 + 1 + 20 bytes).
pub struct IdText {
    buf: [u8; 41],
    len: usize,
}

impl IdText {
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// How the sequence part of a parsed ID was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seq {
    /// `ms-seq`, or `-`/`+`.
    Given,
    /// `ms` alone: the caller's default was used.
    Missing,
    /// `ms-*` (XADD only): to be generated.
    Auto,
}

/// Parses an ID the way Redis's streamGenericParseIDOrReply does: `-` and `+`
/// (unless `strict`), `ms`, `ms-seq` and, when `allow_auto`, `ms-*`. A missing
/// sequence takes `missing_seq`. Both parts follow C's strtoull (so `+5` and
/// leading zeros are accepted, as Redis does) after a strict integer attempt.
pub fn parse(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    allow_auto: bool,
) -> Option<(StreamId, Seq)> {
    // Redis copies into a 128-byte C buffer: longer is invalid, and a NUL ends it.
    if arg.len() > 127 {
        return None;
    }
    let s = match arg.iter().position(|&b| b == 0) {
        Some(n) => &arg[..n],
        None => arg,
    };
    match s {
        b"-" if !strict => return Some((StreamId::MIN, Seq::Given)),
        b"+" if !strict => return Some((StreamId::MAX, Seq::Given)),
        b"-" | b"+" => return None,
        _ => {}
    }
    match s.iter().position(|&b| b == b'-') {
        None => Some((
            StreamId {
                ms: string2ull(s)?,
                seq: missing_seq,
            },
            Seq::Missing,
        )),
        Some(dash) => {
            let ms = string2ull(&s[..dash])?;
            let rest = &s[dash + 1..];
            if allow_auto && rest == b"*" {
                return Some((StreamId { ms, seq: 0 }, Seq::Auto));
            }
            Some((
                StreamId {
                    ms,
                    seq: string2ull(rest)?,
                },
                Seq::Given,
            ))
        }
    }
}

/// Redis's string2ull: a strict signed parse first (negative is out of range),
/// then strtoull, which skips leading white space, takes a sign and wraps a
/// negated value, and fails on overflow or trailing bytes.
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = crate::util::parse_i64_strict(s) {
        return u64::try_from(v).ok();
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<StreamId> {
        parse(s.as_bytes(), 0, false, false).map(|x| x.0)
    }

    #[test]
    fn parses_like_redis() {
        assert_eq!(p("1-2"), Some(StreamId::new(1, 2)));
        assert_eq!(p("5"), Some(StreamId::new(5, 0)));
        assert_eq!(p("+5"), Some(StreamId::new(5, 0)));
        assert_eq!(p("05-007"), Some(StreamId::new(5, 7)));
        assert_eq!(p("-"), Some(StreamId::MIN));
        assert_eq!(p("+"), Some(StreamId::MAX));
        assert_eq!(p("-1"), None);
        assert_eq!(p("1--1"), None);
        assert_eq!(p("1--01"), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(p("1-"), None);
        assert_eq!(p("1-2-3"), None);
        assert_eq!(p("0x5"), None);
        assert_eq!(p("18446744073709551616"), None);
        assert_eq!(
            p("18446744073709551615-18446744073709551615"),
            Some(StreamId::MAX)
        );
        assert_eq!(parse(b"-", 0, true, false), None);
        assert_eq!(
            parse(b"7-*", 0, true, true),
            Some((StreamId::new(7, 0), Seq::Auto))
        );
        assert_eq!(parse(b"7-*", 0, true, false), None);
        assert_eq!(
            parse(b"7", u64::MAX, false, false),
            Some((StreamId::new(7, u64::MAX), Seq::Missing))
        );
        assert_eq!(p(&"1".repeat(128)), None);
    }

    #[test]
    fn incr_decr_and_format() {
        assert_eq!(StreamId::new(1, u64::MAX).incr(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(StreamId::new(2, 0).decr(), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(StreamId::MIN.decr(), None);
        assert_eq!(StreamId::new(12, 3).format().as_bytes(), b"12-3");
        assert_eq!(StreamId::MAX.to_string().len(), 41);
    }
}
