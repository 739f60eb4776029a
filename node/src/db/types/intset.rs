//! Redis's `intset`: a sorted array of integers stored at the narrowest width
//! (16, 32 or 64 bits) that holds every member, widened on demand and never
//! narrowed, as in Redis.

/// A sorted set of distinct integers.
#[derive(Clone, Debug)]
pub enum IntSet {
    W16(Vec<i16>),
    W32(Vec<i32>),
    W64(Vec<i64>),
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet::W16(Vec::new())
    }
}

/// Inserts `v` into a sorted vector; false when present.
fn insert_sorted<T: Ord + Copy>(xs: &mut Vec<T>, v: T) -> bool {
    match xs.binary_search(&v) {
        Ok(_) => false,
        Err(at) => {
            // One element at a time, like Redis's intset resize: the exact
            // capacity keeps small sets small.
            xs.reserve_exact(1);
            xs.insert(at, v);
            true
        }
    }
}

fn remove_sorted<T: Ord + Copy>(xs: &mut Vec<T>, v: T) -> bool {
    match xs.binary_search(&v) {
        Ok(at) => {
            xs.remove(at);
            true
        }
        Err(_) => false,
    }
}

impl IntSet {
    pub fn len(&self) -> usize {
        match self {
            IntSet::W16(x) => x.len(),
            IntSet::W32(x) => x.len(),
            IntSet::W64(x) => x.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th smallest member.
    pub fn get(&self, i: usize) -> Option<i64> {
        match self {
            IntSet::W16(x) => x.get(i).map(|&v| v as i64),
            IntSet::W32(x) => x.get(i).map(|&v| v as i64),
            IntSet::W64(x) => x.get(i).copied(),
        }
    }

    pub fn contains(&self, v: i64) -> bool {
        match self {
            IntSet::W16(x) => i16::try_from(v).is_ok_and(|v| x.binary_search(&v).is_ok()),
            IntSet::W32(x) => i32::try_from(v).is_ok_and(|v| x.binary_search(&v).is_ok()),
            IntSet::W64(x) => x.binary_search(&v).is_ok(),
        }
    }

    /// Adds `v`, widening the array first if `v` does not fit; false when present.
    pub fn insert(&mut self, v: i64) -> bool {
        if let IntSet::W16(x) = self {
            if i16::try_from(v).is_err() {
                *self = IntSet::W32(x.iter().map(|&e| e as i32).collect());
            }
        }
        if let IntSet::W32(x) = self {
            if i32::try_from(v).is_err() {
                *self = IntSet::W64(x.iter().map(|&e| e as i64).collect());
            }
        }
        match self {
            // The width checks above make these conversions exact.
            IntSet::W16(x) => insert_sorted(x, v as i16),
            IntSet::W32(x) => insert_sorted(x, v as i32),
            IntSet::W64(x) => insert_sorted(x, v),
        }
    }

    pub fn remove(&mut self, v: i64) -> bool {
        match self {
            IntSet::W16(x) => i16::try_from(v).is_ok_and(|v| remove_sorted(x, v)),
            IntSet::W32(x) => i32::try_from(v).is_ok_and(|v| remove_sorted(x, v)),
            IntSet::W64(x) => remove_sorted(x, v),
        }
    }

    /// Removes the member at position `i` (which must exist).
    pub fn remove_at(&mut self, i: usize) -> i64 {
        match self {
            IntSet::W16(x) => x.remove(i) as i64,
            IntSet::W32(x) => x.remove(i) as i64,
            IntSet::W64(x) => x.remove(i),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).filter_map(move |i| self.get(i))
    }

    pub fn memory_usage(&self) -> usize {
        match self {
            IntSet::W16(x) => x.capacity() * 2,
            IntSet::W32(x) => x.capacity() * 4,
            IntSet::W64(x) => x.capacity() * 8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widens_and_stays_sorted() {
        let mut s = IntSet::default();
        for v in [5, -3, 70_000, 5, i64::MIN, 12] {
            s.insert(v);
        }
        assert!(matches!(s, IntSet::W64(_)));
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![i64::MIN, -3, 5, 12, 70_000]
        );
        assert!(s.contains(70_000) && !s.contains(6));
        assert!(s.remove(-3) && !s.remove(-3));
        assert_eq!(s.len(), 4);
    }
}
