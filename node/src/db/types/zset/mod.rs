//! The sorted set value type: members with scores, ordered by (score, member).
//!
//! Two encodings, as Redis: [`pack::Pack`] (`listpack`), one flat buffer for
//! small sets, and [`tree::Tree`] (`skiplist`), a member index plus a counted
//! B+tree for large ones (its module docs explain the choice and the memory
//! figures). A set starts compact and converts, one way only, when it grows past
//! `zset-max-listpack-entries` elements or gets a member longer than
//! `zset-max-listpack-value` bytes. Results built whole (the *STORE commands) pick
//! their encoding from their final size, as Redis's convert-if-needed does.

pub mod pack;
pub mod tree;

pub use pack::{cmp_elem, Pack};
pub use tree::Tree;

/// The `zset-max-listpack-*` thresholds in force for one command.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Limits {
    fn fits(&self, len: usize, max_member: usize) -> bool {
        len <= self.max_entries && max_member <= self.max_value
    }
}

/// A sorted set value.
#[derive(Clone)]
pub enum ZSet {
    Pack(Pack),
    Tree(Box<Tree>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Pack(Pack::default())
    }
}

impl ZSet {
    /// An empty set for a write that will add about `size_hint` elements whose
    /// longest member is `max_member` bytes (Redis's `zsetTypeCreate`).
    pub fn with_hint(limits: Limits, size_hint: usize, max_member: usize) -> ZSet {
        if limits.max_entries > 0 && limits.fits(size_hint, max_member) {
            ZSet::Pack(Pack::default())
        } else {
            ZSet::Tree(Box::default())
        }
    }

    /// A set from elements already in (score, member) order, encoded by size.
    pub fn from_sorted(items: &[(Vec<u8>, f64)], limits: Limits) -> ZSet {
        let longest = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        if limits.fits(items.len(), longest) {
            ZSet::Pack(Pack::from_sorted(items.iter().map(|(m, s)| (&m[..], *s))))
        } else {
            let mut t = Tree::default();
            for (m, s) in items {
                t.set(m, *s);
            }
            ZSet::Tree(Box::new(t))
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.len(),
            ZSet::Tree(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            ZSet::Pack(_) => "listpack",
            ZSet::Tree(_) => "skiplist",
        }
    }

    pub fn memory_usage(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.bytes(),
            ZSet::Tree(t) => t.memory_usage(),
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Pack(p) => p.score(member),
            ZSet::Tree(t) => t.score(member),
        }
    }

    /// 0-based ascending rank and score of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self {
            ZSet::Pack(p) => p.rank(member),
            ZSet::Tree(t) => t.rank(member),
        }
    }

    /// Adds `member` or changes its score, converting to the large encoding
    /// first when the addition would pass the limits. Returns the old score.
    pub fn set(&mut self, member: &[u8], score: f64, limits: Limits) -> Option<f64> {
        if let ZSet::Pack(p) = self {
            if let Some(old) = p.score(member) {
                if old.to_bits() != score.to_bits() {
                    p.remove(member);
                    p.insert(member, score);
                }
                return Some(old);
            }
            if p.len() < limits.max_entries && member.len() <= limits.max_value {
                p.insert(member, score);
                return None;
            }
            self.convert();
        }
        match self {
            ZSet::Tree(t) => t.set(member, score),
            ZSet::Pack(_) => unreachable!("converted above"),
        }
    }

    /// Converts to the large encoding (never back, as Redis).
    fn convert(&mut self) {
        if let ZSet::Pack(p) = self {
            let mut t = Tree::default();
            for (m, s) in p.iter() {
                t.set(m, s);
            }
            *self = ZSet::Tree(Box::new(t));
        }
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Pack(p) => p.remove(member),
            ZSet::Tree(t) => t.remove(member),
        }
    }

    /// Number of leading elements (in order) for which `pred(score, member)`
    /// holds; `pred` must hold on a prefix of the order only.
    pub fn count_while(&self, pred: &dyn Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSet::Pack(p) => p.iter().take_while(|(m, s)| pred(*s, m)).count(),
            ZSet::Tree(t) => t.count_while(pred),
        }
    }

    /// Calls `f(member, score)` for ascending ranks `start..end` (clamped),
    /// visiting them from the last when `rev`.
    pub fn range<'a>(
        &'a self,
        start: usize,
        end: usize,
        rev: bool,
        f: &mut dyn FnMut(&'a [u8], f64),
    ) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        match self {
            ZSet::Pack(p) => {
                let it = p.iter().skip(start).take(end - start);
                if rev {
                    let all: Vec<_> = it.collect();
                    all.into_iter().rev().for_each(|(m, s)| f(m, s));
                } else {
                    it.for_each(|(m, s)| f(m, s));
                }
            }
            ZSet::Tree(t) => t.range(start, end, rev, f),
        }
    }

    /// The elements at ascending ranks `start..end`, copied out.
    pub fn collect(&self, start: usize, end: usize, rev: bool) -> Vec<(Vec<u8>, f64)> {
        let mut v = Vec::with_capacity(end.min(self.len()).saturating_sub(start));
        self.range(start, end, rev, &mut |m, s| v.push((m.to_vec(), s)));
        v
    }

    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        match self {
            ZSet::Pack(p) => p.iter().nth(rank),
            ZSet::Tree(t) => t.get(rank),
        }
    }

    /// Removes ascending ranks `start..end` (clamped).
    pub fn remove_ranks(&mut self, start: usize, end: usize) {
        let end = end.min(self.len());
        match self {
            ZSet::Pack(p) => p.remove_ranks(start, end),
            ZSet::Tree(t) => t.remove_ranks(start, end),
        }
    }

    /// Every element in order, as (member, score).
    pub fn for_each<'a>(&'a self, f: &mut dyn FnMut(&'a [u8], f64)) {
        self.range(0, self.len(), false, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limits = Limits {
        max_entries: 3,
        max_value: 8,
    };

    #[test]
    fn converts_one_way_at_the_limits() {
        let mut z = ZSet::default();
        for (i, m) in ["a", "b", "c"].iter().enumerate() {
            z.set(m.as_bytes(), i as f64, SMALL);
        }
        assert_eq!(z.encoding_name(), "listpack");
        z.set(b"d", 0.5, SMALL);
        assert_eq!(z.encoding_name(), "skiplist");
        assert_eq!(z.rank(b"d"), Some((1, 0.5)));
        z.remove(b"d");
        assert_eq!(z.encoding_name(), "skiplist");
        let mut z = ZSet::default();
        z.set(b"a-long-member", 1.0, SMALL);
        assert_eq!(z.encoding_name(), "skiplist");
        let built = ZSet::from_sorted(&[(b"x".to_vec(), 1.0)], SMALL);
        assert_eq!(built.encoding_name(), "listpack");
    }

    #[test]
    fn both_encodings_answer_alike() {
        let big = Limits {
            max_entries: 1000,
            max_value: 64,
        };
        let tiny = Limits {
            max_entries: 0,
            max_value: 64,
        };
        let mut a = ZSet::default();
        let mut b = ZSet::with_hint(tiny, 1, 1);
        assert_eq!(b.encoding_name(), "skiplist");
        let mut rng = crate::util::Rng::new(5);
        for _ in 0..2000 {
            let m = format!("{}", rng.next_u64() % 200);
            let s = (rng.next_u64() % 50) as f64 / 4.0;
            if rng.next_u64().is_multiple_of(3) {
                assert_eq!(a.remove(m.as_bytes()), b.remove(m.as_bytes()));
            } else {
                assert_eq!(a.set(m.as_bytes(), s, big), b.set(m.as_bytes(), s, tiny));
            }
        }
        assert_eq!(
            a.collect(0, usize::MAX, false),
            b.collect(0, usize::MAX, false)
        );
        assert_eq!(a.collect(5, 50, true), b.collect(5, 50, true));
        let p = |s: f64, _: &[u8]| s < 5.0;
        assert_eq!(a.count_while(&p), b.count_while(&p));
        a.remove_ranks(3, 9);
        b.remove_ranks(3, 9);
        assert_eq!(
            a.collect(0, usize::MAX, false),
            b.collect(0, usize::MAX, false)
        );
    }
}
