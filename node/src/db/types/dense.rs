//! The large encoding shared by hashes and sets (Redis's `hashtable`): elements
//! in a dense vector plus a hash index of their positions.
//!
//! Why dense: random picks (HRANDFIELD, SRANDMEMBER, SPOP) are one index into
//! the vector, and removal is a swap with the last element, so both stay O(1)
//! without the empty-bucket probing of Redis's `dictGetRandomKey`. Each
//! element is one allocation (`Box<[u8]>`, the field and value packed together
//! for hashes), and the index costs a `u32` plus a control byte per slot.
//!
//! # Scan cursor
//! HSCAN/SSCAN walk the vector from the top down; the cursor is the number of
//! positions not yet visited. Elements only ever move *down* (a removal moves
//! the last element into the hole), and inserts land at the top, so an element
//! present for a whole iteration is below the cursor until it is returned:
//! it is returned at least once, as Redis guarantees.

use std::hash::BuildHasher;

use hashbrown::HashTable;

/// An element stored in a [`Dense`]: something with a lookup key.
pub trait Keyed {
    fn key(&self) -> &[u8];
    /// Heap bytes owned by the element.
    fn heap_bytes(&self) -> usize;
}

/// A set member.
impl Keyed for Box<[u8]> {
    #[inline]
    fn key(&self) -> &[u8] {
        self
    }
    fn heap_bytes(&self) -> usize {
        self.len()
    }
}

/// Elements plus an index from key hash to position.
#[derive(Clone)]
pub struct Dense<E> {
    items: Vec<E>,
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl<E: Keyed> Default for Dense<E> {
    fn default() -> Self {
        Dense::with_capacity(0)
    }
}

impl<E: Keyed> Dense<E> {
    pub fn with_capacity(n: usize) -> Dense<E> {
        Dense {
            items: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    #[inline]
    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Position of the element with `key`.
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        let items = &self.items;
        self.index
            .find(self.hash(key), |&i| items[i as usize].key() == key)
            .map(|&i| i as usize)
    }

    #[inline]
    pub fn get(&self, pos: usize) -> Option<&E> {
        self.items.get(pos)
    }

    #[inline]
    pub fn get_mut(&mut self, pos: usize) -> Option<&mut E> {
        self.items.get_mut(pos)
    }

    /// Replaces the element at `pos` with one of the same key.
    pub fn replace(&mut self, pos: usize, e: E) {
        debug_assert_eq!(self.items[pos].key(), e.key());
        self.items[pos] = e;
    }

    /// Appends an element whose key is absent; returns its position.
    pub fn push(&mut self, e: E) -> usize {
        let pos = self.items.len();
        // Positions are u32 to halve the index: 4 billion elements of at least a
        // few bytes each is beyond any memory this node runs with.
        let pos32 = u32::try_from(pos).expect("collection within u32 positions");
        let h = self.hash(e.key());
        let Dense {
            items,
            index,
            hasher,
        } = self;
        index.insert_unique(h, pos32, |&i| hasher.hash_one(items[i as usize].key()));
        items.push(e);
        pos
    }

    /// Removes the element at `pos`, moving the last element into its place.
    pub fn swap_remove(&mut self, pos: usize) -> E {
        let last = self.items.len() - 1;
        let h = self.hash(self.items[pos].key());
        if let Ok(entry) = self.index.find_entry(h, |&i| i as usize == pos) {
            entry.remove();
        }
        if pos != last {
            let hl = self.hash(self.items[last].key());
            if let Some(slot) = self.index.find_mut(hl, |&i| i as usize == last) {
                *slot = pos as u32;
            }
        }
        let e = self.items.swap_remove(pos);
        self.maybe_shrink();
        e
    }

    /// Gives memory back once the collection has shrunk well below its peak
    /// (Redis resizes its dicts below 10% fill for the same reason).
    fn maybe_shrink(&mut self) {
        let n = self.items.len();
        if self.items.capacity() > 64 && n < self.items.capacity() / 8 {
            self.items.shrink_to(n * 2);
            let Dense {
                items,
                index,
                hasher,
            } = self;
            index.shrink_to(n * 2, |&i| hasher.hash_one(items[i as usize].key()));
        }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, E> {
        self.items.iter()
    }

    /// Removes every element, returning them.
    pub fn into_items(self) -> Vec<E> {
        self.items
    }

    /// Visits positions downward from the cursor (0 = start at the top) until
    /// `count` positions are visited; returns the next cursor (0 when done).
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&E)) -> u64 {
        let len = self.items.len();
        let mut pos = if cursor == 0 {
            len
        } else {
            usize::try_from(cursor).unwrap_or(usize::MAX).min(len)
        };
        let mut visited = 0;
        while pos > 0 && visited < count {
            pos -= 1;
            f(&self.items[pos]);
            visited += 1;
        }
        pos as u64
    }

    pub fn memory_usage(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<E>()
            + self.items.iter().map(Keyed::heap_bytes).sum::<usize>()
            + self.index.allocation_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Box<[u8]> {
        s.as_bytes().into()
    }

    #[test]
    fn push_find_remove_keep_the_index_in_step() {
        let mut d: Dense<Box<[u8]>> = Dense::default();
        for i in 0..1000 {
            d.push(b(&format!("m{i}")));
        }
        for i in (0..1000).step_by(3) {
            let p = d.find(format!("m{i}").as_bytes()).expect("present");
            d.swap_remove(p);
        }
        for i in 0..1000 {
            assert_eq!(
                d.find(format!("m{i}").as_bytes()).is_some(),
                i % 3 != 0,
                "m{i}"
            );
        }
        while let Some(p) = (!d.is_empty()).then_some(0) {
            d.swap_remove(p);
        }
        assert!(d.is_empty());
        assert!(d.memory_usage() < 4096, "shrunk after emptying");
    }

    #[test]
    fn scan_returns_survivors_despite_removals_and_inserts() {
        let mut d: Dense<Box<[u8]>> = Dense::default();
        for i in 0..500 {
            d.push(b(&format!("m{i}")));
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = d.scan(cursor, 7, |e| {
                seen.insert(e.clone());
            });
            // Churn between calls: remove some even members, add new ones.
            let victim = format!("m{}", round * 2);
            if let Some(p) = d.find(victim.as_bytes()) {
                d.swap_remove(p);
            }
            d.push(b(&format!("new{round}")));
            round += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in (1..500).step_by(2) {
            assert!(seen.contains(&b(&format!("m{i}"))), "m{i} missed");
        }
    }
}
