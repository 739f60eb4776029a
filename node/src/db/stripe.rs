//! One lock stripe of a database: the keys whose hash falls in it, plus an index of
//! the subset that has a TTL (sampled by the active expiry cycle, as Redis samples
//! its `expires` dict).

use super::entry::{Entry, EntryView, ValueRef};
use super::table::{tag_of, Table};
use super::types::Object;

/// Owns every entry its `main` table points to; `volatile` points at the same
/// entries (those with an expiry) and owns nothing.
#[derive(Default)]
pub struct Stripe {
    main: Table,
    volatile: Table,
    /// The database this stripe belongs to (kept across SWAPDB), so lazy
    /// expiry can log `DEL` in the right one.
    db: usize,
    /// Cluster mode, database 0: how many keys each of this stripe's hash
    /// slots holds (`super::slots`). The only per-slot state: no per-key
    /// memory. `None` (one branch per insert and remove) otherwise.
    slot_counts: Option<Box<super::slots::StripeCounts>>,
}

impl Drop for Stripe {
    fn drop(&mut self) {
        self.clear();
    }
}

impl Stripe {
    pub const fn new() -> Stripe {
        Stripe::for_db(0)
    }

    pub const fn for_db(db: usize) -> Stripe {
        Stripe {
            main: Table::new(),
            volatile: Table::new(),
            db,
            slot_counts: None,
        }
    }

    /// Starts counting keys per hash slot (cluster mode; an empty stripe).
    pub(super) fn count_slots(&mut self) {
        self.slot_counts = Some(Box::new([0; super::slots::SLOTS_PER_STRIPE]));
    }

    /// Keys held in the hash slot whose keys have hashes like `hash`
    /// (cluster mode; 0 otherwise).
    pub fn slot_len(&self, hash: u64) -> usize {
        self.slot_counts
            .as_ref()
            .map_or(0, |c| c[super::slots::index_in_stripe(hash)] as usize)
    }

    /// The database this stripe belongs to.
    #[inline]
    pub fn db(&self) -> usize {
        self.db
    }

    /// Swaps the contents of two stripes, each keeping its database.
    pub(super) fn swap_contents(&mut self, other: &mut Stripe) {
        std::mem::swap(&mut self.main, &mut other.main);
        std::mem::swap(&mut self.volatile, &mut other.volatile);
        std::mem::swap(&mut self.slot_counts, &mut other.slot_counts);
    }

    pub fn len(&self) -> usize {
        self.main.len()
    }

    pub fn is_empty(&self) -> bool {
        self.main.is_empty()
    }

    pub fn volatile_len(&self) -> usize {
        self.volatile.len()
    }

    pub fn index_bytes(&self) -> usize {
        self.main.index_bytes() + self.volatile.index_bytes()
    }

    /// Slot of `key`, expired or not.
    #[inline]
    pub fn find(&self, hash: u64, key: &[u8]) -> Option<usize> {
        // SAFETY: every pointer in `main` is a live entry owned by this stripe.
        self.main
            .find(tag_of(hash), |p| unsafe { Entry::view(p) }.key() == key)
    }

    #[inline]
    pub fn view(&self, slot: usize) -> EntryView<'_> {
        // SAFETY: `slot` is occupied (callers got it from `find`), and the view's
        // lifetime is tied to this borrow of the stripe.
        unsafe { Entry::view(self.main.ptr_at(slot)) }
    }

    #[inline]
    pub fn view_mut(&mut self, slot: usize) -> EntryView<'_> {
        // SAFETY: as in `view`; the exclusive borrow of the stripe makes it unique.
        unsafe { Entry::view(self.main.ptr_at(slot)) }
    }

    /// The value at `slot`, borrowed from the stripe (not from a temporary view),
    /// so replies can be written from it while the guard is held.
    #[inline]
    pub fn value(&self, slot: usize) -> ValueRef<'_> {
        // SAFETY: `slot` is occupied; the borrow of `self` keeps the entry alive
        // and unmodified.
        unsafe { Entry::value_at(self.main.ptr_at(slot)) }
    }

    /// The collection at `slot`, mutably; `None` when it holds a string.
    #[inline]
    pub fn object_mut(&mut self, slot: usize) -> Option<&mut Object> {
        // SAFETY: `slot` is occupied and `&mut self` makes the access exclusive.
        unsafe { Entry::object_at(self.main.ptr_at(slot)) }
    }

    /// Entry at any slot index, if occupied (for sampling and iteration).
    pub fn view_slot(&self, slot: usize) -> Option<EntryView<'_>> {
        // SAFETY: occupied slots hold live entries owned by this stripe.
        self.main.occupied(slot).map(|p| unsafe { Entry::view(p) })
    }

    pub fn slot_count(&self) -> usize {
        self.main.slot_count()
    }

    /// Inserts an entry whose key is absent.
    pub fn insert(&mut self, hash: u64, entry: Entry) {
        let has_ttl = entry.expire().is_some();
        let tag = tag_of(hash);
        let p = entry.into_raw();
        if let Some(c) = &mut self.slot_counts {
            c[super::slots::index_in_stripe(hash)] += 1;
        }
        self.main.insert(tag, p);
        if has_ttl {
            self.volatile.insert(tag, p);
        }
    }

    /// Replaces the entry at `slot` (same key) and returns the old one.
    pub fn replace(&mut self, slot: usize, hash: u64, entry: Entry) -> Entry {
        let tag = tag_of(hash);
        let old_p = self.main.ptr_at(slot);
        let new_ttl = entry.expire().is_some();
        let new_p = entry.into_raw();
        // SAFETY: old_p is the live entry at `slot`, owned by us; we take it back.
        let old = unsafe { Entry::from_raw(old_p) };
        super::removed::on_removed(&old);
        self.main.set_ptr_at(slot, new_p);
        let old_ttl = old.expire().is_some();
        match (old_ttl, new_ttl) {
            (true, true) => {
                if let Some(v) = self.volatile.find_ptr(tag, old_p) {
                    self.volatile.set_ptr_at(v, new_p);
                }
            }
            (true, false) => {
                if let Some(v) = self.volatile.find_ptr(tag, old_p) {
                    self.volatile.remove_at(v);
                }
            }
            (false, true) => self.volatile.insert(tag, new_p),
            (false, false) => {}
        }
        old
    }

    /// Sets or clears the expiry of the entry at `slot`, keeping the TTL index in
    /// step. An existing expiry field is overwritten in place; adding or removing
    /// one rebuilds the entry around its value (moved, not copied).
    pub fn set_expire(&mut self, slot: usize, hash: u64, expire: Option<i64>) {
        if let Some(at) = expire {
            if self.view_mut(slot).set_expire_in_place(at) {
                return;
            }
        }
        let tag = tag_of(hash);
        let old_p = self.main.ptr_at(slot);
        // SAFETY: old_p is the live entry at `slot`, owned by us; its successor is
        // stored back in the same slot before anything else can see the table.
        // `with_expire` cannot unwind (allocation failure aborts).
        let old = unsafe { Entry::from_raw(old_p) };
        let had_ttl = old.expire().is_some();
        let new_p = old.with_expire(expire).into_raw();
        self.main.set_ptr_at(slot, new_p);
        if had_ttl {
            if let Some(v) = self.volatile.find_ptr(tag, old_p) {
                self.volatile.remove_at(v);
            }
        }
        if expire.is_some() {
            self.volatile.insert(tag, new_p);
        }
    }

    /// Removes and returns the entry at `slot`.
    pub fn remove(&mut self, slot: usize, hash: u64) -> Entry {
        let p = self.main.remove_at(slot);
        // SAFETY: `p` was owned by the main table and is now ours.
        let e = unsafe { Entry::from_raw(p) };
        super::removed::on_removed(&e);
        if let Some(c) = &mut self.slot_counts {
            let n = &mut c[super::slots::index_in_stripe(hash)];
            *n = n.saturating_sub(1);
        }
        if e.expire().is_some() {
            if let Some(v) = self.volatile.find_ptr(tag_of(hash), p) {
                self.volatile.remove_at(v);
            }
        }
        e
    }

    /// Removes and returns the entry at `slot`, computing its hash from its key.
    pub fn remove_slot(&mut self, slot: usize, hasher: &impl Fn(&[u8]) -> u64) -> Entry {
        let hash = hasher(self.view(slot).key());
        self.remove(slot, hash)
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.volatile = Table::new();
        if let Some(c) = &mut self.slot_counts {
            c.fill(0);
        }
        let watching = super::removed::watching();
        for p in self.main.drain() {
            // SAFETY: drained pointers were owned by the main table.
            let e = unsafe { Entry::from_raw(p) };
            if watching {
                super::removed::on_removed(&e);
            }
            drop(e);
        }
    }

    /// Takes every entry out (for FLUSHALL ASYNC, which frees them elsewhere).
    pub fn take_all(&mut self) -> Vec<Entry> {
        self.volatile = Table::new();
        if let Some(c) = &mut self.slot_counts {
            c.fill(0);
        }
        let all: Vec<Entry> = self
            .main
            .drain()
            .into_iter()
            // SAFETY: drained pointers were owned by the main table.
            .map(|p| unsafe { Entry::from_raw(p) })
            .collect();
        if super::removed::watching() {
            all.iter().for_each(super::removed::on_removed);
        }
        all
    }

    /// See [`Table::scan`]; visits live and expired entries alike.
    pub fn scan(&self, cursor: u32, count: usize, mut f: impl FnMut(&Entry)) -> Option<u32> {
        #[allow(clippy::explicit_auto_deref)]
        // SAFETY: scanned pointers are live entries owned by this stripe.
        self.main
            .scan(cursor, count, |p| f(&*unsafe { Entry::view(p) }))
    }

    pub fn iter(&self) -> impl Iterator<Item = EntryView<'_>> + '_ {
        // SAFETY: iterated pointers are live entries owned by this stripe.
        self.main.iter().map(|p| unsafe { Entry::view(p) })
    }

    /// A random key with a TTL, for the active expiry cycle: (key, expire).
    pub fn random_volatile(&self, rnd: u64) -> Option<(Vec<u8>, i64)> {
        let slot = self.volatile.random_slot(rnd)?;
        let p = self.volatile.occupied(slot)?;
        // SAFETY: volatile pointers are live entries owned by `main`.
        let e = unsafe { Entry::view(p) };
        Some((e.key().to_vec(), e.expire().unwrap_or(i64::MAX)))
    }

    /// Up to `n` volatile keys starting at a random point, with their expiry.
    pub fn sample_volatile(&self, rnd: u64, n: usize, out: &mut Vec<(Vec<u8>, i64)>) {
        let total = self.volatile.slot_count();
        if total == 0 || self.volatile.is_empty() {
            return;
        }
        let start = (rnd % total as u64) as usize;
        let mut taken = 0;
        for k in 0..total {
            if taken >= n {
                break;
            }
            let i = (start + k) % total;
            if let Some(p) = self.volatile.occupied(i) {
                // SAFETY: volatile pointers are live entries owned by `main`.
                let e = unsafe { Entry::view(p) };
                out.push((e.key().to_vec(), e.expire().unwrap_or(i64::MAX)));
                taken += 1;
            }
        }
    }

    /// Calls `f` on up to `n` entries met walking the table (the TTL index when
    /// `volatile`) from a random slot, as Redis's `dictGetSomeKeys`: eviction
    /// sampling. Returns how many were visited.
    pub fn sample(&self, rnd: u64, n: usize, volatile: bool, mut f: impl FnMut(&Entry)) -> usize {
        let t = if volatile { &self.volatile } else { &self.main };
        let total = t.slot_count();
        if total == 0 || t.is_empty() {
            return 0;
        }
        let start = (rnd % total as u64) as usize;
        let mut taken = 0;
        for k in 0..total {
            if taken >= n {
                break;
            }
            let i = if start + k >= total {
                start + k - total
            } else {
                start + k
            };
            if let Some(p) = t.occupied(i) {
                // SAFETY: both tables point at live entries owned by `main`.
                f(&*unsafe { Entry::view(p) });
                taken += 1;
            }
        }
        taken
    }

    /// Random occupied slot of the main table.
    pub fn random_slot(&self, rnd: u64) -> Option<usize> {
        self.main.random_slot(rnd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_expire_keeps_the_ttl_index_in_step() {
        let mut sh = Stripe::new();
        let keys: Vec<(Vec<u8>, u64)> = (0..500u64)
            .map(|i| {
                (
                    format!("k{i}").into_bytes(),
                    i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                )
            })
            .collect();
        for (k, h) in &keys {
            sh.insert(*h, Entry::new_string(k, b"v", None, 0));
        }
        let slot_of = |sh: &Stripe, k: &[u8], h: u64| sh.find(h, k).expect("present");
        for (k, h) in &keys {
            let s = slot_of(&sh, k, *h);
            sh.set_expire(s, *h, Some(10));
        }
        assert_eq!(sh.volatile_len(), 500);
        for (k, h) in keys.iter().step_by(2) {
            let s = slot_of(&sh, k, *h);
            sh.set_expire(s, *h, Some(20));
            let s = slot_of(&sh, k, *h);
            assert_eq!(sh.view(s).expire(), Some(20));
        }
        for (k, h) in keys.iter().skip(1).step_by(2) {
            let s = slot_of(&sh, k, *h);
            sh.set_expire(s, *h, None);
        }
        assert_eq!(sh.volatile_len(), 250);
        let mut sample = Vec::new();
        sh.sample_volatile(1, 1000, &mut sample);
        assert_eq!(sample.len(), 250);
        assert!(sample.iter().all(|(_, at)| *at == 20));
        for (k, h) in &keys {
            let s = slot_of(&sh, k, *h);
            drop(sh.remove(s, *h));
        }
        assert_eq!((sh.len(), sh.volatile_len()), (0, 0));
    }
}
