//! `maxmemory`: evicting keys as Redis 7.0 does (`evict.c`).
//!
//! Before every command, when `maxmemory` is set and the memory figure is over
//! it, keys are evicted until it is not; if nothing can be evicted (policy
//! `noeviction`, or a `volatile-*` policy and no key with a TTL), commands flagged
//! DENYOOM are refused with [`OOM`] while every other command (reads, DEL, ...)
//! still runs. With `maxmemory 0` the whole cost is one relaxed atomic load.
//!
//! # Choosing a victim
//! The LRU, LFU and TTL policies are approximated as Redis does: each round
//! samples `maxmemory-samples` keys in every database (from a random stripe,
//! walking its table from a random slot, as `dictGetSomeKeys`), scores them
//! (idle seconds, `255 - LFU counter`, or how soon the TTL ends) and merges them
//! into a pool of the [`POOL_SIZE`] best candidates kept across rounds and across
//! commands; the best one still present is evicted. The random policies take a
//! random key of the next non-empty database in turn.
//!
//! # The memory figure and its precision
//! The figure is [`crate::alloc::used_memory_here`]: the allocator counter as seen
//! from the evicting thread. What this thread frees counts at once; what other
//! threads allocated or freed is published every 256 KiB, so the figure can lag by
//! up to 256 KiB per thread (event loops, cron, HTTP, lazy free). A `maxmemory`
//! of a few MB is therefore honoured only to within that slack; limits of tens of
//! MB and more are honoured to within a few percent.
//!
//! # Bounded work per command
//! A command evicts for at most the time `maxmemory-eviction-tenacity` allows
//! (500 us by default, checked every 16 keys); if memory is still over the limit
//! then, the command runs anyway and the cron thread finishes the job, as Redis's
//! eviction time proc does. With `lazyfree-lazy-eviction yes`, values that are
//! costly to free (more than 64 allocations, Redis's `LAZYFREE_THRESHOLD`) are
//! freed on a background thread, and their size is counted as freed meanwhile.
//!
//! # Finding keys without counting them
//! Redis knows each database's size in O(1); here a count means locking 256
//! stripes. So the evictor keeps per-database hints of how many keys (and keys
//! with a TTL) there are, refreshed by the cron thread every tick while a limit
//! is set, and samples only databases that seem to hold candidates. When a round
//! finds nothing, one full sweep of every stripe checks for sure before a command
//! is refused; its "nothing to evict" answer is reused until the next refresh, so
//! a node that can evict nothing refuses writes cheaply. Consequence: for up to one
//! cron tick after the first key with a TTL appears under a `volatile-*` policy
//! with nothing else to evict, writes may still be refused.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::Server;
use crate::cmd::flags::DENYOOM;
use crate::db::access::{lfu_decr_and_return, random_u64};
use crate::db::entry::{Entry, ValueRef};
use crate::db::types::Object;
use crate::db::{idle_seconds, Keyspace, SHARDS};

/// The error a DENYOOM command gets when memory cannot be freed (Redis's
/// `shared.oomerr`).
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Candidates kept between rounds (Redis's `EVPOOL_SIZE`).
pub const POOL_SIZE: usize = 16;
/// Stripes a round visits in one database to gather its sample.
const STRIPES_PER_SAMPLE: usize = 16;
/// Values whose freeing costs more allocations than this are freed in the
/// background under `lazyfree-lazy-eviction` (Redis's `LAZYFREE_THRESHOLD`).
const LAZYFREE_THRESHOLD: usize = 64;
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
    fn volatile(self) -> bool {
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
struct Candidate {
    score: u64,
    db: usize,
    key: Vec<u8>,
}

/// What eviction achieved before a command.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    /// Under the limit (or no limit).
    Ok,
    /// Still over, but evicting continues in the background: let the command run.
    Running,
    /// Over the limit and nothing can be evicted.
    Fail,
}

/// Eviction state shared by every thread (one per server).
pub struct Evictor {
    pool: Mutex<Vec<Candidate>>,
    next_db: AtomicUsize,
    /// Per database: (keys, keys with a TTL) at the last count, or [`UNKNOWN`].
    hints: Mutex<Vec<(u64, u64)>>,
    /// Bumped by every refresh of the hints.
    hint_epoch: AtomicU64,
    /// The hint epoch in which a full sweep found nothing to evict (+1; 0: none).
    barren_epoch: AtomicU64,
    /// A command stopped at its time limit; the cron thread carries on.
    running: AtomicBool,
    lazy: OnceLock<Option<Mutex<Sender<Entry>>>>,
    lazy_counts: Arc<LazyCounts>,
}

impl Default for Evictor {
    fn default() -> Self {
        Evictor::new()
    }
}

impl Evictor {
    pub fn new() -> Evictor {
        Evictor {
            pool: Mutex::new(Vec::with_capacity(POOL_SIZE)),
            next_db: AtomicUsize::new(0),
            hints: Mutex::new(Vec::new()),
            hint_epoch: AtomicU64::new(1),
            barren_epoch: AtomicU64::new(0),
            running: AtomicBool::new(false),
            lazy: OnceLock::new(),
            lazy_counts: Arc::default(),
        }
    }

    /// Values queued for the lazy-free thread and not freed yet (INFO's
    /// `lazyfree_pending_objects`).
    pub fn lazyfree_pending(&self) -> usize {
        self.lazy_counts.pending.load(Ordering::Relaxed)
    }

    /// Values the lazy-free thread has freed (INFO's `lazyfreed_objects`).
    pub fn lazyfreed(&self) -> u64 {
        self.lazy_counts.freed.load(Ordering::Relaxed)
    }

    /// Memory counted against the limit: the allocator figure less what is
    /// already queued for freeing in the background.
    fn counted(&self) -> usize {
        crate::alloc::used_memory_here()
            .saturating_sub(self.lazy_counts.pending_bytes.load(Ordering::Relaxed))
    }

    /// Evicts until under the limit, the time limit, or nothing is left to evict
    /// (Redis's `performEvictions`). `background` lifts the time limit (cron).
    pub fn perform(&self, srv: &Server, now_ms: i64, background: bool) -> Outcome {
        let p = &srv.config.evict;
        let max = p.maxmemory() as usize;
        if max == 0 || self.counted() <= max {
            self.running.store(false, Ordering::Relaxed);
            return Outcome::Ok;
        }
        let policy = Policy::from_index(p.policy.load(Ordering::Relaxed));
        if policy == Policy::NoEviction {
            return Outcome::Fail;
        }
        let samples = p.samples.load(Ordering::Relaxed).clamp(1, 64) as usize;
        let lazy = p.lazy_eviction.load(Ordering::Relaxed);
        let limit = if background {
            None
        } else {
            time_limit(p.tenacity.load(Ordering::Relaxed))
        };
        let t0 = Instant::now();
        let mut evicted = 0u64;
        // The limit is re-read for every key, so that raising or removing it
        // (CONFIG SET) stops a background eviction at once.
        loop {
            let max = p.maxmemory() as usize;
            if max == 0 || self.counted() <= max {
                break;
            }
            let Some(entry) = self.pick(&srv.keyspace, policy, samples, now_ms) else {
                return self.cannot_free(max, limit);
            };
            srv.stats.evicted_keys.fetch_add(1, Ordering::Relaxed);
            self.free(entry, lazy);
            evicted += 1;
            if evicted.is_multiple_of(16) && limit.is_some_and(|l| t0.elapsed() > l) {
                self.running.store(true, Ordering::Relaxed);
                return Outcome::Running;
            }
        }
        self.running.store(false, Ordering::Relaxed);
        Outcome::Ok
    }

    /// Nothing left to evict. Values still being freed in the background may
    /// bring memory under the limit: wait for them briefly, as Redis does.
    fn cannot_free(&self, max: usize, limit: Option<Duration>) -> Outcome {
        self.running.store(false, Ordering::Relaxed);
        if self.lazy_counts.pending.load(Ordering::Relaxed) > 0 {
            std::thread::sleep(limit.unwrap_or(Duration::from_millis(1)));
            if self.counted() <= max {
                return Outcome::Ok;
            }
        }
        Outcome::Fail
    }

    /// Housekeeping from the cron thread: recount the hints while a limit is
    /// set, and finish an eviction a command left at its time limit.
    pub fn cron(&self, srv: &Server, now_ms: i64) {
        if srv.config.evict.maxmemory() == 0 {
            return;
        }
        self.refresh_hints(&srv.keyspace);
        if self.running.load(Ordering::Relaxed) {
            self.perform(srv, now_ms, true);
        }
    }

    fn refresh_hints(&self, ks: &Keyspace) {
        let counts: Vec<(u64, u64)> = (0..ks.db_count())
            .map(|i| {
                let db = ks.db(i);
                (0..SHARDS).fold((0, 0), |(k, v), s| {
                    let sh = db.lock_index(s);
                    (k + sh.len() as u64, v + sh.volatile_len() as u64)
                })
            })
            .collect();
        *self.hints.lock() = counts;
        self.hint_epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// Removes and returns the next victim, or `None` when nothing can be evicted.
    fn pick(&self, ks: &Keyspace, policy: Policy, samples: usize, now_ms: i64) -> Option<Entry> {
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
            for s in 0..SHARDS {
                let mut sh = ks.db(db).lock_index(s);
                let mut key = None;
                sh.sample(random_u64(), 1, volatile, |e| key = Some(e.key().to_vec()));
                if let Some(k) = key {
                    let h = ks.hash(&k);
                    let slot = sh.find(h, &k)?;
                    let e = sh.remove(slot, h);
                    drop(sh);
                    // Counts unknown again: sample everything until the next refresh.
                    self.hints.lock().clear();
                    return Some(e);
                }
            }
        }
        None
    }

    /// Frees an evicted entry: here, or on the lazy-free thread when that is
    /// enabled and the value is costly to free.
    fn free(&self, entry: Entry, lazy: bool) {
        if !lazy || free_effort(&entry) <= LAZYFREE_THRESHOLD {
            drop(entry);
            return;
        }
        let bytes = entry.memory_usage();
        let Some(tx) = self.lazy_sender() else {
            drop(entry);
            return;
        };
        let counts = &self.lazy_counts;
        counts.pending.fetch_add(1, Ordering::Relaxed);
        counts.pending_bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Err(back) = tx.lock().send(entry) {
            counts.pending.fetch_sub(1, Ordering::Relaxed);
            counts.pending_bytes.fetch_sub(bytes, Ordering::Relaxed);
            drop(back.0);
        }
    }

    /// The lazy-free thread's queue, started on first use. The thread ends when
    /// the server, and with it the sender, is dropped.
    fn lazy_sender(&self) -> Option<&Mutex<Sender<Entry>>> {
        self.lazy
            .get_or_init(|| {
                let (tx, rx) = std::sync::mpsc::channel::<Entry>();
                let counts = self.lazy_counts.clone();
                std::thread::Builder::new()
                    .name("lazyfree".into())
                    .spawn(move || {
                        for e in rx {
                            let bytes = e.memory_usage();
                            drop(e);
                            counts.pending.fetch_sub(1, Ordering::Relaxed);
                            counts.pending_bytes.fetch_sub(bytes, Ordering::Relaxed);
                            counts.freed.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                    .ok()
                    .map(|_| Mutex::new(tx))
            })
            .as_ref()
    }
}

/// Progress of the lazy-free thread, shared with it.
#[derive(Default)]
struct LazyCounts {
    pending: AtomicUsize,
    pending_bytes: AtomicUsize,
    freed: AtomicU64,
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
    let start = random_u64() as usize % SHARDS;
    let mut got = 0;
    for k in 0..STRIPES_PER_SAMPLE {
        let sh = d.lock_index((start + k) % SHARDS);
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
    Some(sh.remove(slot, h))
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

/// Roughly how many allocations freeing the entry takes (Redis's
/// `lazyfreeGetFreeEffort`): 1 for strings and compact encodings, the element
/// count for hash tables and skip lists, the node count for lists.
fn free_effort(e: &Entry) -> usize {
    let ValueRef::Obj(o) = e.value() else {
        return 1;
    };
    let compact = matches!(o.encoding_name(), "listpack" | "intset");
    match o {
        _ if compact => 1,
        Object::Hash(h) => h.len(),
        Object::Set(s) => s.len(),
        Object::ZSet(z) => z.len(),
        Object::List(l) => l.node_count(),
        Object::Stream(s) => s.len(),
    }
}

/// Redis's `evictionTimeLimitUs`: 50 us per tenacity step up to 10, then 15%
/// more per step; 100 means no limit.
fn time_limit(tenacity: u64) -> Option<Duration> {
    match tenacity {
        0..=10 => Some(Duration::from_micros(50 * tenacity)),
        11..=99 => Some(Duration::from_micros(
            (500.0 * 1.15f64.powi(tenacity as i32 - 10)) as u64,
        )),
        _ => None,
    }
}

/// The maxmemory step before a command (Redis's `processCommand`): evict as
/// needed, and say whether the command may run (false: reply [`OOM`]).
#[inline]
pub fn admit(srv: &Server, cmd_flags: u32, now_ms: i64) -> bool {
    srv.evictor.perform(srv, now_ms, false) != Outcome::Fail || cmd_flags & DENYOOM == 0
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

    #[test]
    fn time_limit_follows_tenacity() {
        assert_eq!(time_limit(10), Some(Duration::from_micros(500)));
        assert_eq!(time_limit(0), Some(Duration::ZERO));
        assert!(time_limit(50).is_some_and(|d| d > Duration::from_millis(100)));
        assert_eq!(time_limit(100), None);
    }
}
