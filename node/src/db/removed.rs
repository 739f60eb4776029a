//! Keys of streams removed from the keyspace while a client is blocked in
//! XREADGROUP.
//!
//! Redis 7.0 answers such a client `-UNBLOCKED the stream key no longer
//! exists` when its stream is deleted, overwritten, renamed away, moved,
//! flushed or expired. A stream can leave the keyspace by many paths, and all
//! of them end in [`Stripe`](super::Stripe)'s `remove`, `replace`, `clear` or
//! `take_all`; hooking those four is the one place that cannot miss a path.
//! The stripe does not know its database (SWAPDB moves stripe contents), so a
//! removal is recorded by key only: the blocking machinery
//! (`server::blocked`) resolves it against the databases that have clients
//! waiting on that key, and re-checks the key's state under its lock before
//! replying, so a spurious record costs a lookup and nothing else.
//!
//! With no XREADGROUP client blocked (the [`WATCHERS`] count is zero), a
//! removal pays one relaxed atomic load.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::entry::{Entry, ValueRef};
use super::types::Object;

/// Clients blocked in XREADGROUP; maintained by the blocking registry.
pub static WATCHERS: AtomicUsize = AtomicUsize::new(0);

/// Bound on a thread's record, for threads that remove keys but never drain
/// (the keys past it are only served late, by their clients' timeouts).
const MAX_RECORDED: usize = 65536;

thread_local! {
    static REMOVED: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// Whether removals are being recorded.
#[inline]
pub fn watching() -> bool {
    WATCHERS.load(Ordering::Relaxed) != 0
}

/// Records `e`'s key if it holds a stream and someone watches.
#[inline]
pub fn on_removed(e: &Entry) {
    if watching() {
        note(e);
    }
}

#[cold]
fn note(e: &Entry) {
    if !matches!(e.value(), ValueRef::Obj(Object::Stream(_))) {
        return;
    }
    REMOVED.with(|r| {
        let mut r = r.borrow_mut();
        if r.len() < MAX_RECORDED && !r.iter().any(|k| k.as_slice() == e.key()) {
            r.push(e.key().to_vec());
        }
    });
}

/// Takes the keys this thread recorded since the last call.
pub fn take() -> Vec<Vec<u8>> {
    REMOVED.with(|r| std::mem::take(&mut *r.borrow_mut()))
}
