//! The keyspace: `databases` logical databases, each split into lock stripes.
//!
//! # Why lock striping and not shared-nothing threads
//! Two designs make a cache scale with cores. Shared-nothing (Dragonfly, Seastar)
//! gives each thread its own slice of the keyspace and forwards a command to the
//! thread that owns its key; a multi-key command becomes a message round between
//! threads. Lock striping (this module, as in KeyDB's later designs and most Java
//! caches) lets any I/O thread execute any command directly on the stripe its key
//! hashes to, under that stripe's mutex.
//!
//! On the small machines kcache targets (2-8 cores per pod), the forwarding hop of
//! shared-nothing costs a cross-thread wake-up per request, which is more than the
//! whole budget of a GET; an uncontended mutex costs two atomic operations. With
//! [`STRIPES`] stripes per database, two I/O threads collide on the same stripe
//! about once in 256 requests, and a stripe is held only for the in-memory work of
//! one command (never across I/O).
//!
//! # Atomicity of multi-key commands
//! A command that touches several keys (MSET, RENAME, BITOP, ...) locks every stripe
//! it needs *before* doing anything, in ascending (database, stripe) order, so two
//! such commands can never deadlock and every other client sees all of its effects
//! or none. Whole-keyspace commands (FLUSHALL, SWAPDB) lock every stripe they touch
//! in the same order.
//!
//! Every `lock*` method returns a [`StripeGuard`] (see [`guard`]): a transaction
//! holds its stripes for the whole EXEC and its commands' own lock calls then do
//! not lock them again; write commands observe the stripes they lock for WATCH.

pub mod access;
pub mod entry;
pub mod events;
pub mod guard;
pub mod log;
pub mod removed;
pub mod slots;
pub mod snap;
pub mod stripe;
pub mod table;
pub mod types;

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

pub use self::access::new_access;
use self::entry::Entry;
pub use self::guard::{StripeGuard, StripeSet};
pub use self::stripe::Stripe;

/// Lock stripes per database.
pub const STRIPES: usize = 256;

/// The AOF is being replayed: nothing expires (see [`entry::Entry::is_expired`]).
static LOADING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Marks the start and end of loading (process-wide, like Redis's
/// `server.loading`).
pub fn set_loading(on: bool) {
    LOADING.store(on, Ordering::Relaxed);
}

/// Whether the keyspace is being loaded.
#[inline]
pub fn loading() -> bool {
    LOADING.load(Ordering::Relaxed)
}

/// A stripe padded to its own cache line pair, so two threads working on
/// neighbouring stripes do not false-share.
#[repr(align(128))]
pub struct StripeLock(Mutex<Stripe>);

/// One logical database (SELECT index).
pub struct Db {
    /// This database's SELECT index (the guards report it to the lock scope).
    index: usize,
    stripes: Box<[StripeLock]>,
    /// A snapshot is running: the first lock of each stripe dumps it
    /// (`snap.rs`). One relaxed load per lock when off.
    snapshot_on: AtomicBool,
    snap: Arc<snap::SnapGate>,
}

/// The stripes locked by a multi-key command, sorted by index.
pub struct MultiLock<'a> {
    guards: Vec<(usize, StripeGuard<'a>)>,
}

impl MultiLock<'_> {
    /// The locked stripe that holds keys with this hash.
    pub fn stripe(&mut self, hash: u64) -> &mut Stripe {
        let idx = stripe_of(hash);
        let pos = self
            .guards
            .binary_search_by_key(&idx, |(i, _)| *i)
            // Callers lock every hash they later ask for; asking for another is a
            // programming error in the command, not a client-triggerable state.
            .expect("stripe was locked by lock_many");
        &mut self.guards[pos].1
    }

    /// The locked stripe that holds keys with this hash, shared: lets a command
    /// read values from several stripes at once (SINTER and friends), after
    /// lazy expiry has run through [`MultiLock::stripe`].
    pub fn get(&self, hash: u64) -> &Stripe {
        let idx = stripe_of(hash);
        let pos = self
            .guards
            .binary_search_by_key(&idx, |(i, _)| *i)
            // As in `stripe`: only hashes passed to lock_many are asked for.
            .expect("stripe was locked by lock_many");
        &self.guards[pos].1
    }
}

#[inline]
pub fn stripe_of(hash: u64) -> usize {
    (((hash >> 32) * STRIPES as u64) >> 32) as usize
}

impl Db {
    fn new(index: usize, snap: Arc<snap::SnapGate>) -> Db {
        Db {
            index,
            stripes: (0..STRIPES)
                .map(|_| StripeLock(Mutex::new(Stripe::for_db(index))))
                .collect(),
            snapshot_on: AtomicBool::new(false),
            snap,
        }
    }

    #[inline]
    pub fn lock(&self, hash: u64) -> StripeGuard<'_> {
        self.lock_index(stripe_of(hash))
    }

    #[inline]
    pub fn lock_index(&self, idx: usize) -> StripeGuard<'_> {
        let g = guard::lock(&self.stripes[idx].0, self.index, idx);
        // Read under the stripe lock: see snap.rs for why relaxed suffices.
        if self.snapshot_on.load(Ordering::Relaxed) {
            self.snap.on_lock(self.index, idx, &g);
        }
        g
    }

    /// Locks the stripes of all `hashes`, in ascending order.
    pub fn lock_many(&self, hashes: &[u64]) -> MultiLock<'_> {
        let mut idx: Vec<usize> = hashes.iter().map(|&h| stripe_of(h)).collect();
        idx.sort_unstable();
        idx.dedup();
        MultiLock {
            guards: idx.into_iter().map(|i| (i, self.lock_index(i))).collect(),
        }
    }

    pub fn lock_all(&self) -> Vec<StripeGuard<'_>> {
        (0..STRIPES).map(|i| self.lock_index(i)).collect()
    }

    /// Number of keys, expired-but-not-yet-reclaimed included (as Redis's DBSIZE).
    pub fn len(&self) -> usize {
        (0..STRIPES).map(|i| self.lock_index(i).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn volatile_len(&self) -> usize {
        (0..STRIPES)
            .map(|i| self.lock_index(i).volatile_len())
            .sum()
    }

    pub fn index_bytes(&self) -> usize {
        (0..STRIPES).map(|i| self.lock_index(i).index_bytes()).sum()
    }
}

/// All databases plus the key hasher and keyspace counters.
pub struct Keyspace {
    dbs: Box<[Db]>,
    snap: Arc<snap::SnapGate>,
    hasher: foldhash::quality::FixedState,
    /// Cluster mode: key hashes carry their slot and database 0 counts keys
    /// per slot ([`slots`]).
    slots_on: bool,
    pub expired_keys: AtomicU64,
    /// Hits and misses counted outside event loops; see [`Keyspace::hits`].
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    /// The `notify-keyspace-events` mask (shared with the config; see
    /// `server::notify`), read only when a key expires.
    pub events: Arc<AtomicU32>,
    /// A client turned CLIENT TRACKING on: lazily expired keys are logged for
    /// their invalidation too (never turned off again: one more log entry
    /// per expired key).
    pub track_expired: AtomicBool,
    /// The server's CLIENT PAUSE / FAILOVER state (`server/pause.rs`), handed
    /// down as a [`Freeze`]: while it is on, lazy expiry does not delete keys,
    /// so the data set stays still.
    pub pause: Arc<dyn Freeze>,
    /// Set while this node is a replica: lazy expiry hides a logically expired
    /// key from reads instead of deleting it, and the master link sees it as
    /// live, because a replica's keys are deleted only by its primary's DEL
    /// (Redis's `expireIfNeeded` on a replica). See [`ExpiryMode`].
    pub replica_expiry: AtomicBool,
    /// The propagation log (`db::log`): keys deleted by expiry or eviction
    /// are logged as `DEL` under the stripe lock that deleted them.
    pub log: Arc<log::ReplLog>,
}

/// Whether keys may change now, asked before lazy expiry deletes a key. The
/// server hands the keyspace its pause state (CLIENT PAUSE, FAILOVER, a
/// shutdown waiting for its replicas) as this trait, so the keyspace needs
/// nothing from the layers above it.
pub trait Freeze: Send + Sync {
    fn keys_may_change(&self, now_ms: i64) -> bool;
}

/// The [`Freeze`] of a keyspace that no server pauses.
struct NeverFrozen;

impl Freeze for NeverFrozen {
    fn keys_may_change(&self, _now_ms: i64) -> bool {
        true
    }
}

/// How the command running on this thread treats a logically expired key when
/// [`Keyspace::replica_expiry`] is set (set per command by the request path).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExpiryMode {
    /// Delete it (a write, or a primary): the default.
    Delete,
    /// Report it missing but keep it (a read on a replica).
    Hide,
    /// Report it live (the master link: the primary decides when it expires).
    Keep,
}

thread_local! {
    static EXPIRY_MODE: std::cell::Cell<ExpiryMode> = const { std::cell::Cell::new(ExpiryMode::Delete) };
}

/// Sets how the command about to run on this thread treats expired keys.
#[inline]
pub fn set_expiry_mode(mode: ExpiryMode) {
    EXPIRY_MODE.with(|m| m.set(mode));
}

thread_local! {
    /// Keys this thread expired lazily while expiry events are on; the request
    /// path drains it after each command (`server::notify::after`).
    static EXPIRED_LOG: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// Bound on [`EXPIRED_LOG`], for threads that expire keys but never drain.
const EXPIRED_LOG_MAX: usize = 65536;

/// Reads the keys this thread expired lazily since the last take, leaving them.
pub fn with_expired_log<R>(f: impl FnOnce(&[Vec<u8>]) -> R) -> R {
    EXPIRED_LOG.with(|l| f(&l.borrow()))
}

/// Takes the keys this thread expired lazily since the last call.
pub fn take_expired_log() -> Vec<Vec<u8>> {
    EXPIRED_LOG.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

impl Keyspace {
    pub fn new(databases: usize, seed: u64) -> Keyspace {
        let snap = Arc::new(snap::SnapGate::new(databases.max(1)));
        Keyspace {
            dbs: (0..databases.max(1))
                .map(|i| Db::new(i, snap.clone()))
                .collect(),
            snap,
            hasher: foldhash::quality::FixedState::with_seed(seed),
            slots_on: false,
            expired_keys: AtomicU64::new(0),
            keyspace_hits: AtomicU64::new(0),
            keyspace_misses: AtomicU64::new(0),
            events: Arc::default(),
            track_expired: AtomicBool::new(false),
            pause: Arc::new(NeverFrozen),
            replica_expiry: AtomicBool::new(false),
            log: Arc::default(),
        }
    }

    /// Accounts for a key of database `db` removed by lazy expiry, propagates
    /// its `DEL` (the caller still holds its stripe), and logs it for an
    /// `expired` notification when those are on.
    #[cold]
    pub fn note_expired(&self, db: usize, key: &[u8]) {
        self.expired_keys.fetch_add(1, Ordering::Relaxed);
        self.log_del(db, key);
        if self.events.load(Ordering::Relaxed) & events::EXPIRED != 0
            || self.track_expired.load(Ordering::Relaxed)
        {
            EXPIRED_LOG.with(|l| {
                let mut l = l.borrow_mut();
                if l.len() < EXPIRED_LOG_MAX {
                    l.push(key.to_vec());
                }
            });
        }
    }

    /// Whether a pause keeps expired keys from being deleted at `now_ms`.
    #[inline]
    pub fn expiry_frozen(&self, now_ms: i64) -> bool {
        !self.pause.keys_may_change(now_ms)
    }

    /// Propagates the deletion of `key` by expiry or eviction (Redis 7.0
    /// sends `DEL`). Call with the key's stripe held.
    #[inline]
    pub fn log_del(&self, db: usize, key: &[u8]) {
        if self.log.active() {
            self.log.append_argv(db, &[b"DEL", key]);
        }
    }

    /// Turns on hash slots (cluster mode), before any key is stored.
    pub fn enable_slots(&mut self) {
        self.slots_on = true;
        for s in self.dbs[0].stripes.iter_mut() {
            s.0.get_mut().count_slots();
        }
    }

    /// Whether key hashes carry hash slots (cluster mode).
    #[inline]
    pub fn slots_on(&self) -> bool {
        self.slots_on
    }

    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        let h = self.hasher.hash_one(key);
        if self.slots_on {
            slots::stamp(h, crate::util::slot::key_slot(key))
        } else {
            h
        }
    }

    /// Keys of database 0 in hash `slot`, expired-but-not-yet-reclaimed
    /// included, as Redis's COUNTKEYSINSLOT (cluster mode; 0 otherwise).
    pub fn count_keys_in_slot(&self, slot: u16) -> usize {
        let h = slots::slot_hash(slot);
        self.dbs[0].lock(h).slot_len(h)
    }

    /// Up to `max` keys of database 0 in hash `slot` (cluster mode). Walks
    /// the one stripe that holds the slot, and stops once it has every key
    /// the slot's counter says there is.
    pub fn keys_in_slot(&self, slot: u16, max: usize) -> Vec<Vec<u8>> {
        let h = slots::slot_hash(slot);
        let stripe = self.dbs[0].lock(h);
        let want = max.min(stripe.slot_len(h));
        let mut keys = Vec::with_capacity(want);
        if want == 0 {
            return keys;
        }
        for e in stripe.iter() {
            if crate::util::slot::key_slot(e.key()) == slot {
                keys.push(e.key().to_vec());
                if keys.len() == want {
                    break;
                }
            }
        }
        keys
    }

    pub fn hasher_fn(&self) -> impl Fn(&[u8]) -> u64 + '_ {
        move |k| self.hash(k)
    }

    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }

    #[inline]
    pub fn db(&self, idx: usize) -> &Db {
        &self.dbs[idx]
    }

    /// The live slot of `key`, deleting it first if it has expired (lazy expiry).
    #[inline]
    pub fn live(&self, stripe: &mut Stripe, hash: u64, key: &[u8], now_ms: i64) -> Option<usize> {
        let slot = stripe.find(hash, key)?;
        if stripe.view(slot).is_expired(now_ms) {
            return self.expired(stripe, slot, hash, key);
        }
        Some(slot)
    }

    /// Lazy expiry of a key found expired: deleted on a primary; on a replica
    /// hidden from reads and live for the master link ([`ExpiryMode`]). Writes
    /// always delete, so a write never inserts next to a hidden key.
    #[cold]
    fn expired(&self, stripe: &mut Stripe, slot: usize, hash: u64, key: &[u8]) -> Option<usize> {
        // A replica waits for its primary's DEL; a paused node (CLIENT PAUSE,
        // FAILOVER) keeps its data set still. Reads then see the key as
        // missing without deleting it; writes (which do not run while paused
        // on a primary) still delete, so nothing is ever inserted next to it.
        if self.replica_expiry.load(Ordering::Relaxed) || self.expiry_frozen(crate::util::now_ms())
        {
            match EXPIRY_MODE.with(|m| m.get()) {
                ExpiryMode::Keep => return Some(slot),
                ExpiryMode::Hide => return None,
                ExpiryMode::Delete => {}
            }
        }
        drop(stripe.remove(slot, hash));
        self.note_expired(stripe.db(), key);
        None
    }

    /// Like [`Keyspace::live`] for a write that keeps the value (Redis's
    /// `lookupKeyWrite`): touches the access word without counting a hit.
    #[inline]
    pub fn write(&self, stripe: &mut Stripe, hash: u64, key: &[u8], now_ms: i64) -> Option<usize> {
        let slot = self.live(stripe, hash, key, now_ms)?;
        let mut e = stripe.view_mut(slot);
        let word = access::touched(e.access(), now_ms);
        e.set_access(word);
        Some(slot)
    }

    /// Like [`Keyspace::live`] for a read: counts a hit or a miss and touches the
    /// key's access word (LRU clock, or LFU counter under an LFU policy).
    #[inline]
    pub fn read(&self, stripe: &mut Stripe, hash: u64, key: &[u8], now_ms: i64) -> Option<usize> {
        let found = self.live(stripe, hash, key, now_ms);
        match found {
            Some(slot) => {
                // Per-event-loop counters: a shared atomic here would bounce one
                // cache line between cores on every read.
                if !crate::stats::with_current(|w| {
                    crate::stats::WorkerStats::add(&w.keyspace_hits, 1)
                }) {
                    self.keyspace_hits.fetch_add(1, Ordering::Relaxed);
                }
                let mut e = stripe.view_mut(slot);
                let word = access::touched(e.access(), now_ms);
                e.set_access(word);
            }
            None => {
                if !crate::stats::with_current(|w| {
                    crate::stats::WorkerStats::add(&w.keyspace_misses, 1)
                }) {
                    self.keyspace_misses.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        found
    }

    /// Removes every key of one database; returns the entries so the caller can
    /// free them where it wants (inline, or on a background thread for ASYNC).
    pub fn take_db(&self, idx: usize) -> Vec<Vec<Entry>> {
        let mut guards = self.dbs[idx].lock_all();
        guards.iter_mut().map(|g| g.take_all()).collect()
    }

    /// Swaps two databases atomically with respect to every other command.
    pub fn swap_dbs(&self, a: usize, b: usize) {
        if a == b {
            return;
        }
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        let mut ga = self.dbs[lo].lock_all();
        let mut gb = self.dbs[hi].lock_all();
        for (x, y) in ga.iter_mut().zip(gb.iter_mut()) {
            // The contents move; each stripe stays in its database.
            x.swap_contents(y);
        }
    }

    /// Locks one stripe in each of two databases in the global lock order.
    pub fn lock_two_dbs(
        &self,
        db_a: usize,
        hash_a: u64,
        db_b: usize,
        hash_b: u64,
    ) -> (StripeGuard<'_>, StripeGuard<'_>) {
        let (ia, ib) = (stripe_of(hash_a), stripe_of(hash_b));
        if (db_a, ia) <= (db_b, ib) {
            let a = self.dbs[db_a].lock_index(ia);
            let b = self.dbs[db_b].lock_index(ib);
            (a, b)
        } else {
            let b = self.dbs[db_b].lock_index(ib);
            let a = self.dbs[db_a].lock_index(ia);
            (a, b)
        }
    }

    /// Locks every stripe in `set` in the global order and runs `f`, during which
    /// this thread's `lock*` calls on those stripes do not lock again (EXEC).
    /// `f` must not lock stripes outside `set`: that could deadlock with a
    /// command locking in the global order.
    pub fn with_held<R>(&self, set: &StripeSet, f: impl FnOnce() -> R) -> R {
        let _guards: Vec<_> = set
            .iter()
            .filter_map(|(db, s)| {
                self.dbs.get(db).map(|d| {
                    let g = d.stripes[s].0.lock();
                    if d.snapshot_on.load(Ordering::Relaxed) {
                        self.snap.on_lock(db, s, &g);
                    }
                    g
                })
            })
            .collect();
        guard::with_held_set(set, f)
    }

    /// Starts a snapshot: with every stripe of every database locked (in the
    /// global order), marks each stripe "not yet dumped", installs `hook`
    /// (see [`snap`]) and runs `at_start`, which must not lock stripes. From
    /// then on the first lock of each stripe dumps it through `hook` before
    /// its locker proceeds. Returns false (and does nothing) when a snapshot
    /// is already running.
    pub fn begin_snapshot(&self, hook: Arc<dyn snap::StripeHook>, at_start: impl FnOnce()) -> bool {
        let _all: Vec<Vec<StripeGuard<'_>>> = self.dbs.iter().map(|d| d.lock_all()).collect();
        if self.snap.is_armed() {
            return false;
        }
        self.snap.arm(hook);
        for d in self.dbs.iter() {
            d.snapshot_on.store(true, Ordering::Relaxed);
        }
        at_start();
        true
    }

    /// Ends the running snapshot (its stripes all dumped, or abandoned).
    pub fn end_snapshot(&self) {
        for d in self.dbs.iter() {
            d.snapshot_on.store(false, Ordering::Relaxed);
        }
        self.snap.disarm();
    }

    /// Keyspace hits counted off the event loops (add `Stats::totals().keyspace_hits`).
    pub fn hits(&self) -> u64 {
        self.keyspace_hits.load(Ordering::Relaxed)
    }

    pub fn misses(&self) -> u64 {
        self.keyspace_misses.load(Ordering::Relaxed)
    }

    pub fn total_keys(&self) -> usize {
        self.dbs.iter().map(|d| d.len()).sum()
    }
}

/// Redis's 24-bit LRU clock, in seconds.
#[inline]
pub fn lru_clock(now_ms: i64) -> u32 {
    ((now_ms / 1000) as u32) & 0x00ff_ffff
}

/// Seconds since the LRU clock value `lru` (wrapping as Redis's `estimateObjectIdleTime`).
pub fn idle_seconds(lru: u32, now_ms: i64) -> u64 {
    let now = lru_clock(now_ms);
    if now >= lru {
        (now - lru) as u64
    } else {
        (now as u64 + 0x0100_0000) - lru as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(ks: &Keyspace, key: &[u8], val: &[u8], exp: Option<i64>) {
        let h = ks.hash(key);
        let mut sh = ks.db(0).lock(h);
        match sh.find(h, key) {
            Some(slot) => drop(sh.replace(slot, h, Entry::new_string(key, val, exp, 0))),
            None => sh.insert(h, Entry::new_string(key, val, exp, 0)),
        }
    }

    #[test]
    fn lazy_expiry_removes_on_access() {
        let ks = Keyspace::new(2, 7);
        put(&ks, b"a", b"1", Some(1000));
        put(&ks, b"b", b"2", None);
        assert_eq!(ks.db(0).len(), 2);
        assert_eq!(ks.db(0).volatile_len(), 1);
        let h = ks.hash(b"a");
        let mut sh = ks.db(0).lock(h);
        assert!(ks.live(&mut sh, h, b"a", 999).is_some());
        assert!(ks.live(&mut sh, h, b"a", 1000).is_none());
        drop(sh);
        assert_eq!(ks.db(0).len(), 1);
        assert_eq!(ks.db(0).volatile_len(), 0);
        assert_eq!(ks.expired_keys.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn replace_keeps_volatile_index_in_step() {
        let ks = Keyspace::new(1, 1);
        for i in 0..2000u32 {
            let k = format!("k{i}");
            put(&ks, k.as_bytes(), b"v", Some(10_000));
        }
        for i in 0..2000u32 {
            let k = format!("k{i}");
            let exp = if i % 2 == 0 { None } else { Some(20_000) };
            put(&ks, k.as_bytes(), b"w", exp);
        }
        assert_eq!(ks.db(0).volatile_len(), 1000);
        let mut sampled = Vec::new();
        for s in 0..STRIPES {
            ks.db(0)
                .lock_index(s)
                .sample_volatile(3, 1000, &mut sampled);
        }
        assert_eq!(sampled.len(), 1000);
        assert!(sampled.iter().all(|(_, e)| *e == 20_000));
    }

    #[test]
    fn keys_are_counted_per_slot() {
        let mut ks = Keyspace::new(1, 3);
        ks.enable_slots();
        for i in 0..3000u32 {
            put(&ks, format!("{{t{}}}:{i}", i % 7).as_bytes(), b"v", None);
        }
        let slot = crate::util::slot::key_slot(b"t3");
        assert_eq!(ks.count_keys_in_slot(slot), 429);
        let keys = ks.keys_in_slot(slot, 10);
        assert_eq!(keys.len(), 10);
        assert!(keys.iter().all(|k| k.starts_with(b"{t3}:")));
        assert_eq!(ks.keys_in_slot(slot, usize::MAX).len(), 429);
        let h = ks.hash(b"{t3}:3");
        {
            let mut sh = ks.db(0).lock(h);
            let at = sh.find(h, b"{t3}:3").expect("present");
            drop(sh.remove(at, h));
        }
        assert_eq!(ks.count_keys_in_slot(slot), 428);
        drop(ks.take_db(0));
        assert_eq!(ks.count_keys_in_slot(slot), 0);
        assert!(ks.keys_in_slot(slot, 5).is_empty());
    }

    #[test]
    fn swap_dbs_swaps_contents() {
        let ks = Keyspace::new(2, 1);
        put(&ks, b"x", b"1", None);
        ks.swap_dbs(0, 1);
        assert_eq!(ks.db(0).len(), 0);
        assert_eq!(ks.db(1).len(), 1);
    }
}
