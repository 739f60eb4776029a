//! The compact encoding of small sorted sets (Redis's `listpack`): one flat
//! byte buffer holding the elements in (score, member) order.
//!
//! ```text
//! [count u32 LE] then per element: [member len varint][member][score]
//! score = varint(zigzag(i) << 1)        integral scores with |i| <= 2^53
//!       | 0x01 [f64 LE, 8 bytes]        everything else (fractions, ±inf, -0)
//! ```
//!
//! A 6-byte member with a small integer score costs 8 bytes, against 10-11 in a
//! Redis listpack (which also keeps a back-length per entry). Every operation is
//! a linear walk, as in Redis: the encoding is only used up to
//! `zset-max-listpack-entries` elements. The buffer is a boxed slice resized
//! exactly on each change (one reallocation per write, as Redis's listpack),
//! so no capacity slack is kept.

use std::cmp::Ordering;

/// Largest integer magnitude stored in the varint form (exact in an f64).
const INT_LIMIT: f64 = 9_007_199_254_740_992.0;

pub(super) fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint at `buf[pos..]`; the buffer is written only by this module,
/// so a well-formed varint is an invariant.
#[inline]
pub(super) fn get_varint(buf: &[u8], mut pos: usize) -> (u64, usize) {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[pos];
        pos += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            return (v, pos);
        }
        shift += 7;
    }
}

/// -0 is stored as the integer 0, so a small sorted set gives back 0 where
/// it was given -0: Redis 7.0.15's listpack does the same (`ZADD z -0 m`
/// then `ZSCORE z m` is `0` there while the set is small, `-0` once it is a
/// skiplist).
fn score_as_int(score: f64) -> Option<i64> {
    if score.fract() == 0.0 && score.abs() <= INT_LIMIT {
        Some(score as i64)
    } else {
        None
    }
}

fn put_score(out: &mut Vec<u8>, score: f64) {
    match score_as_int(score) {
        Some(i) => put_varint(out, (((i << 1) ^ (i >> 63)) as u64) << 1),
        None => {
            out.push(1);
            out.extend_from_slice(&score.to_le_bytes());
        }
    }
}

fn score_len(score: f64) -> usize {
    match score_as_int(score) {
        Some(i) => varint_len((((i << 1) ^ (i >> 63)) as u64) << 1),
        None => 9,
    }
}

#[inline]
fn get_score(buf: &[u8], pos: usize) -> (f64, usize) {
    let (v, next) = get_varint(buf, pos);
    if v & 1 == 0 {
        let z = v >> 1;
        let i = ((z >> 1) as i64) ^ -((z & 1) as i64);
        (i as f64, next)
    } else {
        let mut b = [0u8; 8];
        b.copy_from_slice(&buf[next..next + 8]);
        (f64::from_le_bytes(b), next + 8)
    }
}

/// Total order of elements: by score, then by member bytes (Redis's order).
#[inline]
pub fn cmp_elem(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    s1.partial_cmp(&s2)
        .unwrap_or(Ordering::Equal)
        .then_with(|| m1.cmp(m2))
}

/// A small sorted set in one buffer.
#[derive(Clone)]
pub struct Pack {
    buf: Box<[u8]>,
}

impl Default for Pack {
    fn default() -> Self {
        Pack {
            buf: Box::new([0, 0, 0, 0]),
        }
    }
}

/// One element as found in the buffer: its byte span and decoded parts.
#[derive(Clone, Copy)]
struct Found {
    start: usize,
    end: usize,
    score: f64,
}

impl Pack {
    pub fn len(&self) -> usize {
        u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize
    }

    fn set_len(buf: &mut [u8], n: usize) {
        buf[..4].copy_from_slice(&(n as u32).to_le_bytes());
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// Builds a pack from elements already in (score, member) order.
    pub fn from_sorted<'a>(items: impl Iterator<Item = (&'a [u8], f64)>) -> Pack {
        let mut v = vec![0u8; 4];
        let mut n = 0;
        for (m, s) in items {
            put_varint(&mut v, m.len() as u64);
            v.extend_from_slice(m);
            put_score(&mut v, s);
            n += 1;
        }
        Self::set_len(&mut v, n);
        Pack {
            buf: v.into_boxed_slice(),
        }
    }

    /// Iterates elements in order: (member, score).
    pub fn iter(&self) -> PackIter<'_> {
        PackIter {
            buf: &self.buf,
            pos: 4,
        }
    }

    /// Finds `member`: its span and score.
    fn find(&self, member: &[u8]) -> Option<(Found, usize)> {
        let buf = &self.buf;
        let mut pos = 4;
        let mut rank = 0;
        while pos < buf.len() {
            let start = pos;
            let (ml, p) = get_varint(buf, pos);
            let mend = p + ml as usize;
            let (score, end) = get_score(buf, mend);
            if &buf[p..mend] == member {
                return Some((Found { start, end, score }, rank));
            }
            pos = end;
            rank += 1;
        }
        None
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|(f, _)| f.score)
    }

    /// 0-based ascending rank and score of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        self.find(member).map(|(f, r)| (r, f.score))
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (f, _) = self.find(member)?;
        self.cut(f.start, f.end);
        Some(f.score)
    }

    fn cut(&mut self, start: usize, end: usize) {
        let n = self.len();
        let mut v = std::mem::take(&mut self.buf).into_vec();
        v.drain(start..end);
        Self::set_len(&mut v, n - 1);
        self.buf = v.into_boxed_slice();
    }

    /// Inserts `member` (which must be absent) in order.
    pub fn insert(&mut self, member: &[u8], score: f64) {
        let buf = &self.buf;
        let mut pos = 4;
        while pos < buf.len() {
            let (ml, p) = get_varint(buf, pos);
            let mend = p + ml as usize;
            let (s, end) = get_score(buf, mend);
            if cmp_elem(s, &buf[p..mend], score, member) == Ordering::Greater {
                break;
            }
            pos = end;
        }
        let add = varint_len(member.len() as u64) + member.len() + score_len(score);
        let mut enc = Vec::with_capacity(add);
        put_varint(&mut enc, member.len() as u64);
        enc.extend_from_slice(member);
        put_score(&mut enc, score);
        let n = self.len();
        let mut v = std::mem::take(&mut self.buf).into_vec();
        v.reserve_exact(add);
        v.splice(pos..pos, enc);
        Self::set_len(&mut v, n + 1);
        self.buf = v.into_boxed_slice();
    }

    /// Removes the elements with ranks in `start..end`.
    pub fn remove_ranks(&mut self, start: usize, end: usize) {
        if start >= end {
            return;
        }
        let mut offsets = Vec::with_capacity(end - start + 1);
        let mut pos = 4;
        let mut rank = 0;
        for (m, s) in self.iter() {
            if rank == start {
                offsets.push(pos);
            }
            pos += varint_len(m.len() as u64) + m.len() + score_len(s);
            rank += 1;
            if rank == end {
                offsets.push(pos);
                break;
            }
        }
        if let [a, .., b] = offsets[..] {
            let n = self.len();
            let mut v = std::mem::take(&mut self.buf).into_vec();
            v.drain(a..b);
            Self::set_len(&mut v, n - (end - start));
            self.buf = v.into_boxed_slice();
        }
    }
}

/// Forward iterator over a [`Pack`].
pub struct PackIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = (&'a [u8], f64);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let (ml, p) = get_varint(self.buf, self.pos);
        let mend = p + ml as usize;
        let (s, end) = get_score(self.buf, mend);
        self.pos = end;
        Some((&self.buf[p..mend], s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_round_trip() {
        for s in [
            0.0,
            1.0,
            -1.0,
            1.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            INT_LIMIT,
            -INT_LIMIT,
            INT_LIMIT * 2.0,
            1e300,
            4_503_599_627_370_495.0,
        ] {
            let mut v = Vec::new();
            put_score(&mut v, s);
            assert_eq!(v.len(), score_len(s));
            let (back, end) = get_score(&v, 0);
            assert_eq!(back.to_bits(), s.to_bits(), "{s}");
            assert_eq!(end, v.len());
        }
    }

    #[test]
    fn negative_zero_reads_back_as_zero() {
        let mut v = Vec::new();
        put_score(&mut v, -0.0);
        assert_eq!(get_score(&v, 0).0.to_bits(), 0.0f64.to_bits());
        let mut p = Pack::default();
        p.insert(b"m", -0.0);
        assert_eq!(p.score(b"m").map(f64::to_bits), Some(0.0f64.to_bits()));
    }

    #[test]
    fn ordered_insert_remove() {
        let mut p = Pack::default();
        p.insert(b"b", 2.0);
        p.insert(b"a", 2.0);
        p.insert(b"z", -1.5);
        p.insert(b"c", 10.0);
        let all: Vec<_> = p.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        assert_eq!(
            all,
            vec![
                (b"z".to_vec(), -1.5),
                (b"a".to_vec(), 2.0),
                (b"b".to_vec(), 2.0),
                (b"c".to_vec(), 10.0)
            ]
        );
        assert_eq!(p.len(), 4);
        assert_eq!(p.rank(b"b"), Some((2, 2.0)));
        assert_eq!(p.remove(b"a"), Some(2.0));
        assert_eq!(p.remove(b"a"), None);
        p.remove_ranks(0, 2);
        assert_eq!(p.len(), 1);
        assert_eq!(p.iter().next(), Some((&b"c"[..], 10.0)));
    }
}
