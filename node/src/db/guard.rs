//! Stripe guards that know the calling thread's lock scope.
//!
//! Handlers lock stripes themselves (`Db::lock`, `lock_many`, `lock_all`,
//! `Keyspace::lock_two_dbs`). Two callers need to see or change what those calls
//! do without touching the handlers:
//! - EXEC (`server/multi.rs`) locks, in the global order, every stripe the queued
//!   commands may need, then runs their handlers unchanged: while
//!   [`Keyspace::with_held`](super::Keyspace::with_held) runs, a `Db::lock*` of a
//!   stripe this thread already holds returns a guard that does not lock it again
//!   (parking_lot mutexes are not reentrant).
//! - A write command (`server/watch.rs`) installs a [`LockObserver`] that is shown
//!   every stripe the command locks, while it is locked: WATCH's touches then
//!   happen in the same critical section as the write, so an EXEC that checks its
//!   watches under the same stripe lock is ordered with the write.
//!
//! Cost when neither is active (every read, and writes outside transactions pay
//! only the observer's check): one thread-local load and a branch per lock.

use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::{Mutex, MutexGuard};

use super::{Stripe, STRIPES};

/// Sees each stripe a thread locks (or finds already held) inside [`observe`].
pub trait LockObserver {
    fn locked(&self, db: usize, stripe: usize, locked: &Stripe);
}

const WORDS: usize = STRIPES / 64;

/// A set of (database, stripe) pairs, iterated in the global lock order.
#[derive(Clone)]
pub struct StripeSet {
    bits: Vec<[u64; WORDS]>,
}

impl StripeSet {
    /// The empty set over `dbs` databases.
    pub fn new(dbs: usize) -> StripeSet {
        StripeSet {
            bits: vec![[0; WORDS]; dbs],
        }
    }

    /// Every stripe of every one of `dbs` databases.
    pub fn all(dbs: usize) -> StripeSet {
        StripeSet {
            bits: vec![[u64::MAX; WORDS]; dbs],
        }
    }

    pub fn insert(&mut self, db: usize, stripe: usize) {
        if let Some(w) = self.bits.get_mut(db) {
            w[stripe / 64] |= 1 << (stripe % 64);
        }
    }

    #[inline]
    pub fn contains(&self, db: usize, stripe: usize) -> bool {
        self.bits
            .get(db)
            .is_some_and(|w| w[stripe / 64] & (1 << (stripe % 64)) != 0)
    }

    pub fn len(&self) -> usize {
        self.bits
            .iter()
            .flatten()
            .map(|w| w.count_ones() as usize)
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Members in ascending (database, stripe) order: the global lock order.
    /// Skips empty words, so a set of a few stripes costs a few steps.
    pub fn iter(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.bits.iter().enumerate().flat_map(|(db, words)| {
            words.iter().enumerate().flat_map(move |(w, &word)| {
                let mut rest = word;
                std::iter::from_fn(move || {
                    if rest == 0 {
                        return None;
                    }
                    let bit = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    Some((db, w * 64 + bit))
                })
            })
        })
    }
}

/// This thread's scope: stripes held by a running EXEC, and the observer of the
/// running write command. Raw pointers because a thread-local cannot borrow; the
/// RAII [`Restore`] guarantees they never outlive what they point to.
#[derive(Clone, Copy)]
struct Scope {
    held: *const StripeSet,
    /// The observer, and the gate that must be non-zero for it to be called.
    observer: Option<(*const AtomicUsize, *const (dyn LockObserver + 'static))>,
}

impl Scope {
    const NONE: Scope = Scope {
        held: std::ptr::null(),
        observer: None,
    };

    #[inline]
    fn is_none(&self) -> bool {
        self.held.is_null() && self.observer.is_none()
    }
}

thread_local! {
    static SCOPE: Cell<Scope> = const { Cell::new(Scope::NONE) };
}

/// Puts the previous scope back when dropped (also on unwind).
struct Restore(Scope);

impl Drop for Restore {
    fn drop(&mut self) {
        SCOPE.with(|s| s.set(self.0));
    }
}

/// Runs `f` with `set` marked as held by this thread. The caller must hold every
/// stripe in `set` for the whole call (see `Keyspace::with_held`).
pub(super) fn with_held_set<R>(set: &StripeSet, f: impl FnOnce() -> R) -> R {
    let prev = SCOPE.with(|s| {
        let prev = s.get();
        s.set(Scope {
            held: set as *const StripeSet,
            ..prev
        });
        prev
    });
    let _restore = Restore(prev);
    f()
}

/// Runs `f` with `obs` shown every stripe this thread locks while `gate` is
/// non-zero (read under the stripe's lock, so a gate raised inside an earlier
/// critical section on that stripe is seen).
#[inline]
pub fn observe<R>(gate: &AtomicUsize, obs: &dyn LockObserver, f: impl FnOnce() -> R) -> R {
    // SAFETY: only the lifetime bound of the trait object changes; the pointer is
    // removed from the thread-local by `_restore` before `obs`'s borrow ends.
    let ptr: *const (dyn LockObserver + 'static) = unsafe {
        std::mem::transmute::<*const dyn LockObserver, _>(obs as *const dyn LockObserver)
    };
    let prev = SCOPE.with(|s| {
        let prev = s.get();
        s.set(Scope {
            observer: Some((gate as *const AtomicUsize, ptr)),
            ..prev
        });
        prev
    });
    let _restore = Restore(prev);
    f()
}

/// A locked stripe: derefs to its [`Stripe`]. Either this guard locked it (and
/// unlocks it when dropped), or the running EXEC holds it for the whole
/// transaction.
pub struct StripeGuard<'a> {
    /// The stripe inside the mutex (a plain pointer, so a deref costs no branch).
    stripe: NonNull<Stripe>,
    /// The lock this guard took; `None` when EXEC holds the stripe.
    _lock: Option<MutexGuard<'a, Stripe>>,
}

impl<'a> StripeGuard<'a> {
    #[inline]
    fn locked(m: &'a Mutex<Stripe>) -> StripeGuard<'a> {
        StripeGuard {
            // SAFETY: `data_ptr` of a live mutex is non-null.
            stripe: unsafe { NonNull::new_unchecked(m.data_ptr()) },
            _lock: Some(m.lock()),
        }
    }

    /// A stripe this thread already holds (see `with_held_set`).
    fn held(m: &'a Mutex<Stripe>) -> StripeGuard<'a> {
        StripeGuard {
            // SAFETY: as in `locked`.
            stripe: unsafe { NonNull::new_unchecked(m.data_ptr()) },
            _lock: None,
        }
    }
}

impl Deref for StripeGuard<'_> {
    type Target = Stripe;

    #[inline]
    fn deref(&self) -> &Stripe {
        // SAFETY: the mutex is locked by this thread for the guard's lifetime:
        // by `_lock`, or by the running EXEC, whose guards outlive the scope
        // that made this one. A handler never holds two guards of one stripe
        // (outside EXEC that would deadlock), so no other reference is in use.
        unsafe { self.stripe.as_ref() }
    }
}

impl DerefMut for StripeGuard<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut Stripe {
        // SAFETY: as in `deref`; the `&mut self` borrow makes it exclusive.
        unsafe { self.stripe.as_mut() }
    }
}

/// Locks stripe `stripe` of database `db` (the mutex `m`), honouring the scope.
#[inline]
pub(super) fn lock(m: &Mutex<Stripe>, db: usize, stripe: usize) -> StripeGuard<'_> {
    let scope = SCOPE.with(|s| s.get());
    if scope.is_none() {
        return StripeGuard::locked(m);
    }
    lock_scoped(m, db, stripe, scope)
}

#[inline(never)]
fn lock_scoped(m: &Mutex<Stripe>, db: usize, stripe: usize, scope: Scope) -> StripeGuard<'_> {
    // SAFETY: a non-null `held` points at the set `with_held_set` is running with.
    let held = unsafe { scope.held.as_ref() };
    let guard = match held {
        Some(set) if set.contains(db, stripe) => StripeGuard::held(m),
        other => {
            // EXEC must have locked every stripe its commands use; locking another
            // now could deadlock with a command that locks in the global order.
            debug_assert!(other.is_none(), "EXEC did not hold stripe {db}/{stripe}");
            StripeGuard::locked(m)
        }
    };
    if let Some((gate, obs)) = scope.observer {
        // SAFETY: the gate and the observer outlive the `observe` call that
        // installed them.
        if unsafe { &*gate }.load(Ordering::Relaxed) != 0 {
            unsafe { &*obs }.locked(db, stripe, &guard);
        }
    }
    guard
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_iterates_in_lock_order() {
        let mut s = StripeSet::new(3);
        s.insert(2, 5);
        s.insert(0, 200);
        s.insert(0, 3);
        s.insert(9, 1); // out of range: ignored
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(0, 3), (0, 200), (2, 5)]);
        assert!(s.contains(0, 200) && !s.contains(1, 200) && !s.contains(9, 1));
        assert_eq!(StripeSet::all(2).len(), 2 * STRIPES);
    }

    struct Count(Cell<usize>);
    impl LockObserver for Count {
        fn locked(&self, _db: usize, _stripe: usize, _locked: &Stripe) {
            self.0.set(self.0.get() + 1);
        }
    }

    #[test]
    fn held_stripes_are_not_relocked_and_observed() {
        let ks = super::super::Keyspace::new(2, 1);
        let mut set = StripeSet::new(2);
        set.insert(1, 7);
        set.insert(0, 7);
        let count = Count(Cell::new(0));
        let gate = AtomicUsize::new(1);
        ks.with_held(&set, || {
            observe(&gate, &count, || {
                // Would self-deadlock if the held stripes were locked again.
                let _a = ks.db(0).lock_index(7);
                let _b = ks.db(1).lock_index(7);
            });
        });
        assert_eq!(count.0.get(), 2);
        // Out of scope: a plain lock, not observed.
        drop(ks.db(0).lock_index(7));
        assert_eq!(count.0.get(), 2);
    }
}
