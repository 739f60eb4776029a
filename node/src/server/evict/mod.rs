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

mod lazy;
mod victim;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::Server;
use crate::cmd::flags::DENYOOM;

use self::victim::Candidate;
pub use self::victim::{Policy, POOL_SIZE};

/// The error a DENYOOM command gets when memory cannot be freed (Redis's
/// `shared.oomerr`).
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

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
    /// Per database: (keys, keys with a TTL) at the last count, or `u64::MAX`
    /// for "not counted yet".
    hints: Mutex<Vec<(u64, u64)>>,
    /// Bumped by every refresh of the hints.
    hint_epoch: AtomicU64,
    /// The hint epoch in which a full sweep found nothing to evict (+1; 0: none).
    barren_epoch: AtomicU64,
    /// A command stopped at its time limit; the cron thread carries on.
    running: AtomicBool,
    lazy: lazy::LazyFree,
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
            lazy: lazy::LazyFree::default(),
        }
    }

    /// Values queued for the lazy-free thread and not freed yet (INFO's
    /// `lazyfree_pending_objects`).
    pub fn lazyfree_pending(&self) -> usize {
        self.lazy.pending()
    }

    /// Values the lazy-free thread has freed (INFO's `lazyfreed_objects`).
    pub fn lazyfreed(&self) -> u64 {
        self.lazy.freed()
    }

    /// Memory counted against the limit: the allocator figure less what is
    /// already queued for freeing in the background.
    fn counted(&self) -> usize {
        crate::alloc::used_memory_here().saturating_sub(self.lazy.pending_bytes())
    }

    /// Evicts until under the limit, the time limit, or nothing is left to evict
    /// (Redis's `performEvictions`). `background` lifts the time limit (cron).
    pub fn perform(&self, srv: &Server, now_ms: i64, background: bool) -> Outcome {
        let p = &srv.config.evict;
        let max = p.maxmemory() as usize;
        // A replica evicts nothing of its own (Redis's isSafeToPerformEvictions):
        // its primary's evictions arrive as DELs, which keeps the two identical.
        if max == 0
            || self.counted() <= max
            || (srv.repl.is_replica() && p.replica_ignore.load(Ordering::Relaxed))
        {
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
            self.lazy.free(entry, lazy);
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
        if self.lazy.pending() > 0 {
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
    fn time_limit_follows_tenacity() {
        assert_eq!(time_limit(10), Some(Duration::from_micros(500)));
        assert_eq!(time_limit(0), Some(Duration::ZERO));
        assert!(time_limit(50).is_some_and(|d| d > Duration::from_millis(100)));
        assert_eq!(time_limit(100), None);
    }
}
