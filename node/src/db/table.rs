//! A compact open-addressing hash table of entry pointers, kept sorted by hash tag.
//!
//! Why not `HashMap<Bytes, Value>`: a general map spends 40-60 bytes per key on its
//! own bookkeeping (boxed key, boxed value, control bytes, a capacity that doubles).
//! Here a slot is one `u64` holding the entry pointer (an 8-aligned address below
//! 2^48, stored shifted right by 3 in 45 bits) and a 19-bit hash tag in the top bits,
//! and capacity grows by 1.5x, so a key costs about 10-12 bytes of index.
//!
//! The table is *ordered linear probing* (Amble and Knuth, 1974): a tag's home slot
//! is `tag * home_cap >> 19`, which is monotone in the tag, and every run of occupied
//! slots is kept sorted by tag. That buys three things:
//! - a lookup stops at the first larger tag, so misses are as cheap as hits;
//! - growing is a single linear merge that never dereferences an entry;
//! - positions are sorted by tag at every size, so a SCAN cursor is simply "the
//!   next tag", which stays valid across resizes (stronger than Redis's guarantee).
//!
//! Slots past `home_cap` form an overflow tail so that runs never wrap around.
//! The table does not own what its pointers point to; [`super::stripe::Stripe`] does.

/// Bits of the hash kept in a slot as its tag.
pub const TAG_BITS: u32 = 19;
const PTR_BITS: u32 = 64 - TAG_BITS;
const PTR_MASK: u64 = (1 << PTR_BITS) - 1;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
/// Grow when `len > home_cap * MAX_LOAD_NUM / MAX_LOAD_DEN`.
const MAX_LOAD_NUM: usize = 17;
const MAX_LOAD_DEN: usize = 20;
/// Shrink when the load falls below 1/5.
const MIN_LOAD_DEN: usize = 5;
const MIN_CAP: usize = 4;

/// The tag of a 64-bit key hash: its low bits (stripe selection uses the high bits).
#[inline]
pub fn tag_of(hash: u64) -> u32 {
    (hash & TAG_MASK) as u32
}

#[inline]
fn slot_tag(slot: u64) -> u32 {
    (slot >> PTR_BITS) as u32
}

#[inline]
fn slot_ptr(slot: u64) -> *mut u8 {
    ((slot & PTR_MASK) << 3) as *mut u8
}

#[inline]
fn make_slot(tag: u32, ptr: *mut u8) -> u64 {
    let addr = ptr as u64;
    // Invariant of the platforms we build for (x86_64, aarch64 with 48-bit VAs) and of
    // Entry's 8-byte alignment; a violation would corrupt the table, so stop here.
    assert!(
        addr & 7 == 0 && addr >> 48 == 0,
        "entry address {addr:#x} does not fit a table slot"
    );
    ((tag as u64) << PTR_BITS) | (addr >> 3)
}

#[inline]
fn home(tag: u32, home_cap: usize) -> usize {
    ((tag as u64 * home_cap as u64) >> TAG_BITS) as usize
}

fn overflow_for(home_cap: usize) -> usize {
    home_cap / 8 + 8
}

/// See the module documentation.
#[derive(Default)]
pub struct Table {
    slots: Vec<u64>,
    home_cap: usize,
    len: usize,
}

impl Table {
    pub const fn new() -> Self {
        Table {
            slots: Vec::new(),
            home_cap: 0,
            len: 0,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of index memory (for INFO and MEMORY USAGE).
    pub fn index_bytes(&self) -> usize {
        self.slots.capacity() * 8
    }

    /// Number of slots (for sampling).
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Position of the entry with this tag for which `eq` holds.
    #[inline]
    pub fn find(&self, tag: u32, mut eq: impl FnMut(*mut u8) -> bool) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mut i = home(tag, self.home_cap);
        while let Some(&s) = self.slots.get(i) {
            if s == 0 {
                return None;
            }
            let t = slot_tag(s);
            if t == tag {
                if eq(slot_ptr(s)) {
                    return Some(i);
                }
            } else if t > tag {
                return None;
            }
            i += 1;
        }
        None
    }

    /// Position of the slot holding exactly this pointer.
    pub fn find_ptr(&self, tag: u32, ptr: *mut u8) -> Option<usize> {
        self.find(tag, |p| p == ptr)
    }

    #[inline]
    pub fn ptr_at(&self, i: usize) -> *mut u8 {
        slot_ptr(self.slots[i])
    }

    /// The pointer at slot `i`, or `None` when the slot is empty.
    #[inline]
    pub fn occupied(&self, i: usize) -> Option<*mut u8> {
        match self.slots.get(i) {
            Some(&s) if s != 0 => Some(slot_ptr(s)),
            _ => None,
        }
    }

    /// Replaces the pointer at `i`, keeping its tag (the entry was reallocated).
    #[inline]
    pub fn set_ptr_at(&mut self, i: usize, ptr: *mut u8) {
        let tag = slot_tag(self.slots[i]);
        self.slots[i] = make_slot(tag, ptr);
    }

    /// Inserts a pointer whose key is known to be absent.
    pub fn insert(&mut self, tag: u32, ptr: *mut u8) {
        if self.len + 1 > self.home_cap * MAX_LOAD_NUM / MAX_LOAD_DEN {
            let target = (self.home_cap * 3 / 2).max(MIN_CAP);
            self.resize(target);
        }
        loop {
            if self.try_insert(tag, ptr) {
                self.len += 1;
                return;
            }
            // The overflow tail is full: a rare, very long run at the end.
            let target = self.home_cap * 3 / 2 + MIN_CAP;
            self.resize(target);
        }
    }

    fn try_insert(&mut self, tag: u32, ptr: *mut u8) -> bool {
        let n = self.slots.len();
        let mut i = home(tag, self.home_cap);
        while i < n && self.slots[i] != 0 && slot_tag(self.slots[i]) <= tag {
            i += 1;
        }
        let mut e = i;
        while e < n && self.slots[e] != 0 {
            e += 1;
        }
        if e >= n {
            return false;
        }
        // Shift the rest of the run right by one to keep it sorted.
        self.slots.copy_within(i..e, i + 1);
        self.slots[i] = make_slot(tag, ptr);
        true
    }

    /// Removes the slot at `i` and returns its pointer.
    pub fn remove_at(&mut self, i: usize) -> *mut u8 {
        let ptr = slot_ptr(self.slots[i]);
        // Backward shift: pull displaced successors one step towards home.
        let n = self.slots.len();
        let mut j = i + 1;
        while j < n {
            let s = self.slots[j];
            if s == 0 || home(slot_tag(s), self.home_cap) >= j {
                break;
            }
            j += 1;
        }
        self.slots.copy_within(i + 1..j, i);
        self.slots[j - 1] = 0;
        self.len -= 1;
        if self.home_cap > 64 && self.len * MIN_LOAD_DEN < self.home_cap {
            let target = (self.len * 2).max(MIN_CAP);
            self.resize(target);
        }
        ptr
    }

    fn resize(&mut self, home_cap: usize) {
        let home_cap = home_cap.max(self.len * MAX_LOAD_DEN / MAX_LOAD_NUM + 1);
        let mut cap = home_cap;
        loop {
            let mut slots = vec![0u64; cap + overflow_for(cap)];
            if Self::merge_into(&self.slots, &mut slots, cap) {
                self.slots = slots;
                self.home_cap = cap;
                return;
            }
            cap = cap * 5 / 4 + MIN_CAP;
        }
    }

    /// Places the occupied slots of `old` (already sorted by tag) into `new`.
    fn merge_into(old: &[u64], new: &mut [u64], home_cap: usize) -> bool {
        let mut next = 0usize;
        for &s in old.iter().filter(|&&s| s != 0) {
            let pos = home(slot_tag(s), home_cap).max(next);
            if pos >= new.len() {
                return false;
            }
            new[pos] = s;
            next = pos + 1;
        }
        true
    }

    /// Removes everything, returning the pointers so the owner can free them.
    pub fn drain(&mut self) -> Vec<*mut u8> {
        let ptrs = self.iter().collect();
        *self = Table::new();
        ptrs
    }

    pub fn iter(&self) -> impl Iterator<Item = *mut u8> + '_ {
        self.slots.iter().filter(|&&s| s != 0).map(|&s| slot_ptr(s))
    }

    /// Visits entries whose tag is `>= cursor`, in tag order, until at least `count`
    /// were visited and the tag changes. Returns the next cursor, or `None` when the
    /// table has been walked to its end.
    pub fn scan(&self, cursor: u32, count: usize, mut f: impl FnMut(*mut u8)) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let mut visited = 0usize;
        let mut last_tag: Option<u32> = None;
        let mut i = home(cursor, self.home_cap);
        while i < self.slots.len() {
            let s = self.slots[i];
            i += 1;
            if s == 0 {
                continue;
            }
            let t = slot_tag(s);
            if t < cursor {
                continue;
            }
            if visited >= count && last_tag != Some(t) {
                return Some(t);
            }
            f(slot_ptr(s));
            visited += 1;
            last_tag = Some(t);
        }
        None
    }

    /// An occupied slot chosen from a random starting point.
    pub fn random_slot(&self, rnd: u64) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let n = self.slots.len();
        let start = (rnd % n as u64) as usize;
        (start..n).chain(0..start).find(|&i| self.slots[i] != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn fake_ptr(i: u64) -> *mut u8 {
        ((i + 1) * 8) as *mut u8
    }

    fn check_invariants(t: &Table) {
        let mut prev_tag = 0u32;
        let mut count = 0;
        for (i, &s) in t.slots.iter().enumerate() {
            if s == 0 {
                continue;
            }
            count += 1;
            let tag = slot_tag(s);
            let h = home(tag, t.home_cap);
            assert!(h <= i, "slot {i} before its home {h}");
            assert!(t.slots[h..i].iter().all(|&x| x != 0), "gap in run");
            assert!(tag >= prev_tag, "tags out of order at {i}");
            prev_tag = tag;
        }
        assert_eq!(count, t.len);
    }

    #[test]
    fn insert_find_remove_against_a_model() {
        let mut t = Table::new();
        let mut model: HashMap<u64, u32> = HashMap::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for step in 0..60_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let id = x % 5000;
            let tag = tag_of(id.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 7);
            let ptr = fake_ptr(id);
            let found = t.find(tag, |p| p == ptr);
            assert_eq!(found.is_some(), model.contains_key(&id), "step {step}");
            if step % 3 == 0 {
                if let Some(i) = found {
                    assert_eq!(t.remove_at(i), ptr);
                    model.remove(&id);
                }
            } else if found.is_none() {
                t.insert(tag, ptr);
                model.insert(id, tag);
            }
            if step % 997 == 0 {
                check_invariants(&t);
            }
        }
        check_invariants(&t);
        for (&id, &tag) in &model {
            assert!(t.find_ptr(tag, fake_ptr(id)).is_some());
        }
    }

    #[test]
    fn scan_visits_every_entry_across_resizes() {
        let mut t = Table::new();
        for id in 0..3000u64 {
            t.insert(tag_of(id * 2654435761), fake_ptr(id));
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = Some(0u32);
        let mut extra = 3000u64;
        while let Some(c) = cursor {
            cursor = t.scan(c, 10, |p| {
                seen.insert(p as u64);
            });
            // Grow the table while the scan is in progress.
            for _ in 0..20 {
                t.insert(tag_of(extra * 2654435761), fake_ptr(extra));
                extra += 1;
            }
        }
        for id in 0..3000u64 {
            assert!(seen.contains(&(fake_ptr(id) as u64)), "missed {id}");
        }
    }

    #[test]
    fn shrinks_after_mass_delete() {
        let mut t = Table::new();
        for id in 0..10_000u64 {
            t.insert(tag_of(id * 40503), fake_ptr(id));
        }
        let big = t.slot_count();
        for id in 0..9_990u64 {
            let i = t
                .find_ptr(tag_of(id * 40503), fake_ptr(id))
                .expect("present");
            t.remove_at(i);
        }
        check_invariants(&t);
        assert!(t.slot_count() < big / 10);
    }
}
