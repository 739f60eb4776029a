//! The set value type, with Redis 7.0's encodings: `intset` while every member
//! is an integer and there are at most `set-max-intset-entries` of them, then
//! `hashtable` (one way: a set never goes back, except where Redis 7.0 itself
//! rebuilds one, see SPOP).

use super::dense::Dense;
use super::intset::IntSet;
use crate::util::parse_i64_strict;

/// A set value.
#[derive(Clone)]
pub enum Set {
    Ints(IntSet),
    Table(Box<Dense<Box<[u8]>>>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(IntSet::default())
    }
}

/// One member, borrowed: integers of an intset are not stored as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// Calls `f` with the member's text (integers formatted on the stack).
    #[inline]
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match *self {
            Member::Int(v) => f(itoa::Buffer::new().format(v).as_bytes()),
            Member::Bytes(b) => f(b),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }
}

impl Set {
    /// An empty set in the encoding Redis 7.0's `setTypeCreate` picks for a
    /// first member: intset for an integer, hashtable otherwise.
    pub fn for_member(first: &[u8]) -> Set {
        if parse_i64_strict(first).is_some() {
            Set::Ints(IntSet::default())
        } else {
            Set::Table(Box::default())
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Ints(s) => s.len(),
            Set::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    pub fn memory_usage(&self) -> usize {
        match self {
            Set::Ints(s) => s.memory_usage(),
            Set::Table(t) => std::mem::size_of::<Dense<Box<[u8]>>>() + t.memory_usage(),
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => parse_i64_strict(m).is_some_and(|v| s.contains(v)),
            Set::Table(t) => t.find(m).is_some(),
        }
    }

    /// Like [`Set::contains`] for a member of another set (no formatting when
    /// both sides are integers).
    pub fn contains_member(&self, m: Member<'_>) -> bool {
        match (self, m) {
            (Set::Ints(s), Member::Int(v)) => s.contains(v),
            (_, m) => m.with_bytes(|b| self.contains(b)),
        }
    }

    /// Converts to the hashtable encoding (no-op when already there).
    fn ensure_table(&mut self, extra: usize) -> &mut Dense<Box<[u8]>> {
        if let Set::Ints(s) = self {
            let mut t = Dense::with_capacity(s.len() + extra);
            for v in s.iter() {
                t.push(Member::Int(v).to_vec().into_boxed_slice());
            }
            *self = Set::Table(Box::new(t));
        }
        match self {
            Set::Table(t) => t,
            Set::Ints(_) => unreachable!("converted above"),
        }
    }

    /// Adds `m`; false when already a member. Converts an intset that gets a
    /// non-integer or grows past `max_intset` entries (Redis's `setTypeAdd`).
    pub fn add(&mut self, m: &[u8], max_intset: usize) -> bool {
        if let Set::Ints(s) = self {
            if let Some(v) = parse_i64_strict(m) {
                if !s.insert(v) {
                    return false;
                }
                if s.len() > max_intset {
                    self.ensure_table(0);
                }
                return true;
            }
        }
        let t = self.ensure_table(1);
        if t.find(m).is_some() {
            return false;
        }
        t.push(m.into());
        true
    }

    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => parse_i64_strict(m).is_some_and(|v| s.remove(v)),
            Set::Table(t) => match t.find(m) {
                Some(p) => {
                    t.swap_remove(p);
                    true
                }
                None => false,
            },
        }
    }

    /// The member at position `i` (`i < len`), for random picks.
    pub fn get(&self, i: usize) -> Option<Member<'_>> {
        match self {
            Set::Ints(s) => s.get(i).map(Member::Int),
            Set::Table(t) => t.get(i).map(|b| Member::Bytes(b)),
        }
    }

    /// Removes and returns the member at position `i` (`i < len`).
    pub fn remove_at(&mut self, i: usize) -> Vec<u8> {
        match self {
            Set::Ints(s) => Member::Int(s.remove_at(i)).to_vec(),
            Set::Table(t) => t.swap_remove(i).into_vec(),
        }
    }

    pub fn iter(&self) -> Box<dyn Iterator<Item = Member<'_>> + '_> {
        match self {
            Set::Ints(s) => Box::new(s.iter().map(Member::Int)),
            Set::Table(t) => Box::new(t.iter().map(|b| Member::Bytes(b))),
        }
    }

    /// One SSCAN step: an intset is returned whole with cursor 0, as in Redis;
    /// see [`Dense::scan`] for the hashtable cursor.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(Member<'_>)) -> u64 {
        match self {
            Set::Ints(s) => {
                s.iter().for_each(|v| f(Member::Int(v)));
                0
            }
            Set::Table(t) => t.scan(cursor, count, |b| f(Member::Bytes(b))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_until_a_string_or_too_many() {
        let mut s = Set::for_member(b"1");
        assert!(s.add(b"1", 3) && !s.add(b"1", 3));
        s.add(b"2", 3);
        s.add(b"3", 3);
        assert_eq!(s.encoding_name(), "intset");
        s.add(b"4", 3);
        assert_eq!(s.encoding_name(), "hashtable");
        assert!(s.contains(b"4") && s.contains(b"1"));
        let mut t = Set::for_member(b"7");
        t.add(b"7", 512);
        t.add(b"01", 512);
        assert_eq!(t.encoding_name(), "hashtable");
        assert!(t.contains(b"7") && t.contains(b"01") && !t.contains(b"1"));
        assert!(t.remove(b"7") && !t.remove(b"7"));
    }
}
