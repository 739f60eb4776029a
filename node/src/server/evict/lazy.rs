//! Freeing evicted values off the event loop (`lazyfree-lazy-eviction yes`):
//! one background thread, started on first use, drops what it is sent.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use crate::db::entry::{Entry, ValueRef};
use crate::db::types::Object;

/// Values whose freeing costs more allocations than this are freed in the
/// background (Redis's `LAZYFREE_THRESHOLD`).
const LAZYFREE_THRESHOLD: usize = 64;

/// The lazy-free thread's queue and progress.
#[derive(Default)]
pub struct LazyFree {
    sender: OnceLock<Option<Mutex<Sender<Entry>>>>,
    counts: Arc<LazyCounts>,
}

/// Progress of the lazy-free thread, shared with it.
#[derive(Default)]
struct LazyCounts {
    pending: AtomicUsize,
    pending_bytes: AtomicUsize,
    freed: AtomicU64,
}

impl LazyFree {
    /// Values queued and not freed yet (INFO's `lazyfree_pending_objects`).
    pub fn pending(&self) -> usize {
        self.counts.pending.load(Ordering::Relaxed)
    }

    /// Bytes queued and not freed yet (counted as freed by eviction).
    pub fn pending_bytes(&self) -> usize {
        self.counts.pending_bytes.load(Ordering::Relaxed)
    }

    /// Values freed so far (INFO's `lazyfreed_objects`).
    pub fn freed(&self) -> u64 {
        self.counts.freed.load(Ordering::Relaxed)
    }

    /// Frees `entry` here, or on the background thread when `lazy` and the
    /// value is costly to free.
    pub fn free(&self, entry: Entry, lazy: bool) {
        if !lazy || free_effort(&entry) <= LAZYFREE_THRESHOLD {
            drop(entry);
            return;
        }
        let bytes = entry.memory_usage();
        let Some(tx) = self.sender() else {
            drop(entry);
            return;
        };
        let counts = &self.counts;
        counts.pending.fetch_add(1, Ordering::Relaxed);
        counts.pending_bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Err(back) = tx.lock().send(entry) {
            counts.pending.fetch_sub(1, Ordering::Relaxed);
            counts.pending_bytes.fetch_sub(bytes, Ordering::Relaxed);
            drop(back.0);
        }
    }

    /// The queue, its thread started on first use. The thread ends when the
    /// server, and with it the sender, is dropped.
    fn sender(&self) -> Option<&Mutex<Sender<Entry>>> {
        self.sender
            .get_or_init(|| {
                let (tx, rx) = std::sync::mpsc::channel::<Entry>();
                let counts = self.counts.clone();
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
