//! Choosing what to evict: scoring by policy, sampling stripes, the pool of
//! best candidates, and the per-database hints that tell where keys are.

use std::sync::atomic::Ordering;

use super::Evictor;
use crate::db::access::{lfu_decr_and_return, random_u64};
use crate::db::entry::Entry;
use crate::db::{idle_seconds, Keyspace, STRIPES};

/// Candidates kept between rounds (Redis's `EVPOOL_SIZE`).
pub const POOL_SIZE: usize = 16;
/// Stripes a round visits in one database to gather its sample.
const STRIPES_PER_SAMPLE: usize = 16;
/// A hint meaning "not counted yet": sample the database to find out.
const UNKNOWN: u64 = u64::MAX;

/// `maxmemory-policy`, in Redis's order (the config's `policy_index`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Policy {
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    NoEviction,
}

impl Policy {
    pub fn from_index(i: u8) -> Policy {
        use Policy::*;
        [
            VolatileLru,
            VolatileLfu,
            VolatileRandom,
            VolatileTtl,
            AllkeysLru,
            AllkeysLfu,
            AllkeysRandom,
        ]
        .get(i as usize)
        .copied()
        .unwrap_or(NoEviction)
    }

    /// Whether only keys with a TTL may be evicted.
    pub fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    /// The eviction score of an entry: higher is evicted first (Redis's `idle`
    /// in `evictionPoolPopulate`).
    fn score(self, e: &Entry, now_ms: i64) -> u64 {
        match self {
            Policy::VolatileLru | Policy::AllkeysLru => idle_seconds(e.access(), now_ms),
            Policy::VolatileLfu | Policy::AllkeysLfu => {
                255 - lfu_decr_and_return(e.access(), now_ms).min(255) as u64
            }
            Policy::VolatileTtl => u64::MAX - e.expire().unwrap_or(i64::MAX).max(0) as u64,
            _ => 0,
        }
    }
}

/// A key in the eviction pool.
pub struct Candidate {
    score: u64,
    db: usize,
    key: Vec<u8>,
}

impl Evictor {
    pub(super) fn refresh_hints(&self, ks: &Keyspace) {
        let counts: Vec<(u64, u64)> = (0..ks.db_count())
            .map(|i| {
                let db = ks.db(i);
                (0..STRIPES).fold((0, 0), |(k, v), s| {
                    let sh = db.lock_index(s);
                    (k + sh.len() as u64, v + sh.volatile_len() as u64)
                })
            })
            .collect();
        *self.hints.lock() = counts;
        self.hint_epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// Removes and returns the next victim, or `None` when nothing can be evicted.
    pub(super) fn pick(
        &self,
        ks: &Keyspace,
        policy: Policy,
        samples: usize,
        now_ms: i64,
    ) -> Option<Entry> {
        let volatile = policy.volatile();
        let dbs = self.candidate_dbs(ks, volatile);
        let found = match policy {
            Policy::AllkeysRandom | Policy::VolatileRandom => self.pick_random(ks, &dbs, volatile),
            _ => self.pick_pooled(ks, &dbs, policy, samples, now_ms),
        };
        if found.is_some() {
            return found;
        }
        // Nothing in the databases the hints point at: check every stripe before
        // giving up, once per hint epoch.
        let epoch = self.hint_epoch.load(Ordering::Relaxed);
        if self.barren_epoch.load(Ordering::Relaxed) == epoch + 1 {
            return None;
        }
        let found = self.sweep(ks, volatile);
        if found.is_none() {
            self.barren_epoch.store(epoch + 1, Ordering::Relaxed);
        }
        found
    }

    /// The databases whose hint says they may hold candidates.
    fn candidate_dbs(&self, ks: &Keyspace, volatile: bool) -> Vec<usize> {
        let mut hints = self.hints.lock();
        if hints.len() != ks.db_count() {
            *hints = vec![(UNKNOWN, UNKNOWN); ks.db_count()];
        }
        hints
            .iter()
            .enumerate()
            .filter(|(_, (k, v))| if volatile { *v > 0 } else { *k > 0 })
            .map(|(i, _)| i)
            .collect()
    }

    /// Records that sampling found no candidate in `db` (a hint, corrected by
    /// the next refresh).
    fn mark_empty(&self, db: usize, volatile: bool) {
        if let Some(h) = self.hints.lock().get_mut(db) {
            if volatile {
                h.1 = 0;
            } else {
                h.0 = 0;
                h.1 = 0;
            }
        }
    }

    /// Refills the pool from every candidate database and evicts its best live
    /// key (Redis's LRU/LFU/TTL branch of `performEvictions`).
    fn pick_pooled(
        &self,
        ks: &Keyspace,
        dbs: &[usize],
        policy: Policy,
        samples: usize,
        now_ms: i64,
    ) -> Option<Entry> {
        let volatile = policy.volatile();
        let mut pool = self.pool.lock();
        // Each round either evicts or met only ghosts (keys changed since
        // sampling); a few rounds settle it, and the caller's sweep is the backstop.
        for _ in 0..16 {
            let mut sampled = 0;
            for &db in dbs {
                let n = sample_db(ks, db, samples, volatile, |e| {
                    insert(&mut pool, policy.score(e, now_ms), db, e.key());
                });
                if n == 0 {
                    self.mark_empty(db, volatile);
                }
                sampled += n;
            }
            if sampled == 0 && pool.is_empty() {
                return None;
            }
            // Best first; keys deleted or changed since they were pooled are
            // ghosts and skipped.
            while let Some(c) = pool.pop() {
                if let Some(e) = remove_key(ks, c.db, &c.key, volatile) {
                    return Some(e);
                }
            }
            if sampled == 0 {
                return None;
            }
        }
        None
    }

    /// A random key of the next candidate database in turn.
    fn pick_random(&self, ks: &Keyspace, dbs: &[usize], volatile: bool) -> Option<Entry> {
        if dbs.is_empty() {
            return None;
        }
        for _ in 0..dbs.len() {
            let db = dbs[self.next_db.fetch_add(1, Ordering::Relaxed) % dbs.len()];
            let mut key = None;
            let n = sample_db(ks, db, 1, volatile, |e| key = Some(e.key().to_vec()));
            match key {
                Some(k) => {
                    if let Some(e) = remove_key(ks, db, &k, volatile) {
                        return Some(e);
                    }
                }
                None if n == 0 => self.mark_empty(db, volatile),
                None => {}
            }
        }
        None
    }

    /// Every stripe of every database, in order, until one holds a candidate;
    /// also resets the hints from what it saw.
    fn sweep(&self, ks: &Keyspace, volatile: bool) -> Option<Entry> {
        for db in 0..ks.db_count() {
            for s in 0..STRIPES {
                let mut sh = ks.db(db).lock_index(s);
                let mut key = None;
                sh.sample(random_u64(), 1, volatile, |e| key = Some(e.key().to_vec()));
                if let Some(k) = key {
                    let h = ks.hash(&k);
                    let slot = sh.find(h, &k)?;
                    let e = sh.remove(slot, h);
                    ks.log_del(db, &k);
                    drop(sh);
                    // Counts unknown again: sample everything until the next refresh.
                    self.hints.lock().clear();
                    return Some(e);
                }
            }
        }
        None
    }
}

/// Samples up to `n` entries of database `db` (keys with a TTL only when
/// `volatile`), from a random stripe on, visiting at most
/// [`STRIPES_PER_SAMPLE`] stripes. Returns how many were sampled.
fn sample_db(
    ks: &Keyspace,
    db: usize,
    n: usize,
    volatile: bool,
    mut f: impl FnMut(&Entry),
) -> usize {
    let d = ks.db(db);
    let start = random_u64() as usize % STRIPES;
    let mut got = 0;
    for k in 0..STRIPES_PER_SAMPLE {
        let sh = d.lock_index((start + k) % STRIPES);
        got += sh.sample(random_u64(), n - got, volatile, &mut f);
        if got >= n {
            break;
        }
    }
    got
}

/// Removes `key` from database `db` if it is still there (and, for a volatile
/// policy, still has a TTL).
fn remove_key(ks: &Keyspace, db: usize, key: &[u8], volatile: bool) -> Option<Entry> {
    let h = ks.hash(key);
    let mut sh = ks.db(db).lock(h);
    let slot = sh.find(h, key)?;
    if volatile && sh.view(slot).expire().is_none() {
        return None;
    }
    let e = sh.remove(slot, h);
    // Logged under the stripe lock, so no later write to the key precedes it.
    ks.log_del(db, key);
    Some(e)
}

/// Inserts a sampled key into the pool, kept sorted by ascending score (Redis's
/// `evictionPoolPopulate`): when the pool is full, a key worse than all pooled
/// ones is dropped, otherwise the worst pooled one makes room.
fn insert(pool: &mut Vec<Candidate>, score: u64, db: usize, key: &[u8]) {
    let pos = pool.partition_point(|c| c.score < score);
    if pool.len() >= POOL_SIZE {
        if pos == 0 {
            return;
        }
        pool.remove(0);
        pool.insert(
            pos - 1,
            Candidate {
                score,
                db,
                key: key.to_vec(),
            },
        );
    } else {
        pool.insert(
            pos,
            Candidate {
                score,
                db,
                key: key.to_vec(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_keeps_the_best_candidates_sorted() {
        let mut pool = Vec::new();
        for (i, score) in [5u64, 1, 9, 3, 7].iter().enumerate() {
            insert(&mut pool, *score, 0, format!("k{i}").as_bytes());
        }
        let scores: Vec<u64> = pool.iter().map(|c| c.score).collect();
        assert_eq!(scores, [1, 3, 5, 7, 9]);
        for s in 10..30u64 {
            insert(&mut pool, s, 0, b"x");
        }
        assert_eq!(pool.len(), POOL_SIZE);
        assert_eq!(pool.first().map(|c| c.score), Some(14));
        assert_eq!(pool.last().map(|c| c.score), Some(29));
        // Worse than everything in a full pool: not taken.
        insert(&mut pool, 0, 0, b"y");
        assert!(pool.iter().all(|c| c.key != b"y"));
    }

    #[test]
    fn policy_indexes_follow_the_config_order() {
        for name in [
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ] {
            let i = crate::config::policy_index(name).expect("known policy");
            let p = Policy::from_index(i);
            assert_eq!(format!("{p:?}").to_ascii_lowercase(), name.replace('-', ""));
        }
    }
}
