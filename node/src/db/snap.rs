//! The keyspace's side of point-in-time snapshots (`persist::snapshot`): a
//! per-stripe "not yet dumped" bit and the hook that dumps a stripe the first
//! time anyone locks it while a snapshot runs.
//!
//! Each [`super::Db`] carries a `snapshot_on` flag read with one relaxed load
//! right after a stripe is locked; that is the whole cost when no snapshot
//! runs. The flag and the bits are set while [`super::Keyspace::begin_snapshot`]
//! holds every stripe, so a thread that locks a stripe afterwards (acquiring
//! the mutex the start released) sees them; a stripe's bit is cleared only by
//! the holder of that stripe's lock, so testing it under the lock is exact.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Stripe, STRIPES};

/// Serialises a stripe, as it is when first locked during a snapshot. Runs
/// with the stripe locked: it must not lock stripes or wait for anything that
/// may wait for a stripe.
pub trait StripeHook: Send + Sync {
    fn dump(&self, db: usize, stripe: usize, locked: &Stripe);
}

const WORDS: usize = STRIPES / 64;

/// The pending bits of every stripe and the running snapshot's hook.
pub struct SnapGate {
    pending: Box<[AtomicU64]>,
    hook: Mutex<Option<Arc<dyn StripeHook>>>,
}

impl SnapGate {
    pub fn new(dbs: usize) -> SnapGate {
        SnapGate {
            pending: (0..dbs * WORDS).map(|_| AtomicU64::new(0)).collect(),
            hook: Mutex::new(None),
        }
    }

    /// Marks every stripe pending and installs `hook`; the caller holds every
    /// stripe.
    pub(super) fn arm(&self, hook: Arc<dyn StripeHook>) {
        for w in self.pending.iter() {
            w.store(u64::MAX, Ordering::Relaxed);
        }
        *self.hook.lock() = Some(hook);
    }

    pub(super) fn disarm(&self) {
        *self.hook.lock() = None;
    }

    pub(super) fn is_armed(&self) -> bool {
        self.hook.lock().is_some()
    }

    /// Called with stripe `(db, stripe)` locked while a snapshot runs: dumps
    /// it if it is still pending.
    #[cold]
    #[inline(never)]
    pub(super) fn on_lock(&self, db: usize, stripe: usize, locked: &Stripe) {
        let Some(w) = self.pending.get(db * WORDS + stripe / 64) else {
            return;
        };
        let bit = 1u64 << (stripe % 64);
        if w.load(Ordering::Relaxed) & bit == 0 {
            return;
        }
        w.fetch_and(!bit, Ordering::Relaxed);
        let hook = self.hook.lock().clone();
        if let Some(h) = hook {
            h.dump(db, stripe, locked);
        }
    }
}
