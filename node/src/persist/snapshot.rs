//! Point-in-time snapshots that neither stop writes nor double memory.
//!
//! # Why not fork
//! Redis forks and lets the kernel copy pages the parent writes while the child
//! serialises: under a write load nearly every page of a busy keyspace gets
//! copied, so peak memory approaches twice the data. Threads cannot fork, and a
//! container memory limit sized for 2x is expensive.
//!
//! # Copy-on-first-lock, per stripe
//! The keyspace is already cut into lock stripes (256 per database). A snapshot:
//! 1. locks every stripe of every database in the global order
//!    (`Keyspace::begin_snapshot`), marks each "not yet dumped", runs the
//!    caller's `at_start` hook and releases them. Writes append to the
//!    propagation log while holding their stripe locks, so a log offset read
//!    in `at_start` is exactly the snapshot's point in time (replication
//!    records it there);
//! 2. from then on, whoever next locks a not-yet-dumped stripe (any thread, for
//!    any reason: a write, a read doing lazy expiry, active expiry, eviction,
//!    FLUSH*, SWAPDB, EXEC) first serialises that stripe's entries as one chunk
//!    (`SELECTDB` + key/value records) and only then proceeds;
//! 3. the snapshot thread walks all stripes in order, locking each, which dumps
//!    those nobody has touched yet.
//!
//! Every stripe is therefore dumped exactly as it was at the start: nothing can
//! change it between the start and its dump, since changing it means locking
//! it, and the first lock dumps it. The check on each lock is one relaxed load
//! of a per-database flag when no snapshot runs (`db/snap.rs`).
//!
//! # Memory
//! The only copies are the serialised chunks on their way to the sink, and
//! they go through a byte-accounted queue with a budget: a thread whose chunk
//! would overflow it writes the queue and its chunk to the sink itself (a
//! file write lands in the page cache, outside the process), so the overhead
//! is bounded by the budget plus one chunk per thread, whatever the write
//! load. The peak of queued bytes is reported (INFO's `rdb_last_cow_size`).
//! The sink is any `Write`: a file for SAVE/BGSAVE, a replica's socket for a
//! full sync, an AOF base file. A slow sink slows the writers that overflow the
//! budget, which is the price of not buffering without bound.
//!
//! Keys already expired at the start are skipped.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::rdb::{crc64, write};
use crate::db::snap::StripeHook;
use crate::db::{Keyspace, Stripe, STRIPES};

/// How the stripes are serialised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Redis's RDB format: header and AUX fields, key records, EOF and
    /// checksum.
    #[default]
    Rdb,
    /// The commands that rebuild each key (`persist::aof::base`), for an AOF
    /// base written with `aof-use-rdb-preamble no`: no header, no trailer.
    Commands,
}

/// What the caller chooses about a snapshot.
#[derive(Clone, Debug)]
pub struct Options {
    /// `rdbcompression`.
    pub compress: bool,
    /// `rdbchecksum` (off: the trailer's checksum is 0).
    pub checksum: bool,
    /// AUX fields after the standard ones (replication adds its ID and offset).
    pub extra_aux: Vec<(&'static str, String)>,
    /// Written as `aof-base` (a snapshot used as an AOF's base file).
    pub aof_base: bool,
    /// Write each key's idle time (an LRU `maxmemory-policy` is in force);
    /// under an LFU policy the counters are written instead.
    pub lru_idle: bool,
    /// Queue budget in bytes (see the module docs); 0 picks one from the
    /// memory in use.
    pub budget: usize,
    /// RDB, or commands (an AOF base without preamble).
    pub format: Format,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            compress: true,
            checksum: true,
            extra_aux: Vec::new(),
            aof_base: false,
            lru_idle: false,
            budget: 0,
            format: Format::Rdb,
        }
    }
}

/// Live counters of a running snapshot (INFO reads them).
#[derive(Default)]
pub struct Progress {
    pub keys: AtomicU64,
    pub queued: AtomicUsize,
    pub peak_queued: AtomicUsize,
    pub bytes: AtomicU64,
    pub stripes_done: AtomicUsize,
    pub stripes_total: AtomicUsize,
}

/// How a finished snapshot went.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub keys: u64,
    pub bytes: u64,
    pub peak_queued: usize,
    pub duration: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("a snapshot is already in progress")]
    Busy,
    #[error("writing the snapshot failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Which access metadata records go with each key (Redis writes IDLE under an
/// LRU policy, FREQ under an LFU one).
#[derive(Clone, Copy)]
enum AccessMode {
    None,
    Lru,
    Lfu,
}

struct SinkState<W> {
    w: Option<W>,
    crc: Option<u64>,
    err: Option<std::io::Error>,
}

impl<W: Write> SinkState<W> {
    fn write(&mut self, bytes: &[u8], progress: &Progress) {
        if self.err.is_some() {
            return;
        }
        let Some(w) = self.w.as_mut() else {
            return;
        };
        if let Err(e) = w.write_all(bytes) {
            self.err = Some(e);
            return;
        }
        if let Some(c) = self.crc.as_mut() {
            *c = crc64::update(*c, bytes);
        }
        progress
            .bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    }
}

/// The state the stripe hook and the snapshot thread share.
struct Shared<W> {
    opts: write::Opts,
    now_ms: i64,
    access: AccessMode,
    format: Format,
    budget: usize,
    queue: Mutex<VecDeque<Vec<u8>>>,
    sink: Mutex<SinkState<W>>,
    progress: Arc<Progress>,
}

impl<W: Write + Send> Shared<W> {
    fn encode(&self, db: usize, locked: &Stripe) -> Vec<u8> {
        if self.format == Format::Commands {
            return self.encode_commands(db, locked);
        }
        let mut out = Vec::new();
        let mut keys = 0u64;
        for e in locked.iter() {
            if e.is_expired(self.now_ms) {
                continue;
            }
            if keys == 0 {
                write::select_db(&mut out, db);
            }
            let access = match self.access {
                AccessMode::None => None,
                AccessMode::Lru => Some(write::Access::Idle(crate::db::idle_seconds(
                    e.access(),
                    self.now_ms,
                ))),
                AccessMode::Lfu => Some(write::Access::Freq(
                    crate::db::access::lfu_decr_and_return(e.access(), self.now_ms) as u8,
                )),
            };
            write::key_value(&mut out, e.key(), e.value(), e.expire(), access, self.opts);
            keys += 1;
        }
        self.progress.keys.fetch_add(keys, Ordering::Relaxed);
        out
    }

    /// [`Format::Commands`]: the stripe's live keys as the commands that
    /// rebuild them, after a `SELECT`.
    fn encode_commands(&self, db: usize, locked: &Stripe) -> Vec<u8> {
        let mut out = Vec::new();
        let live: Vec<_> = locked
            .iter()
            .filter(|e| !e.is_expired(self.now_ms))
            .collect();
        let keys = live.len() as u64;
        if keys > 0 {
            // Writing to a Vec cannot fail.
            let _ =
                crate::persist::aof::base::write_base(&mut out, live.iter().map(|e| (db, &**e)));
        }
        self.progress.keys.fetch_add(keys, Ordering::Relaxed);
        out
    }

    /// Queues a chunk, or writes it through when the queue is over budget.
    fn deliver(&self, chunk: Vec<u8>) {
        if chunk.is_empty() {
            return;
        }
        let p = &self.progress;
        {
            let mut q = self.queue.lock();
            let queued = p.queued.load(Ordering::Relaxed);
            if queued + chunk.len() <= self.budget {
                let now = queued + chunk.len();
                p.queued.store(now, Ordering::Relaxed);
                p.peak_queued.fetch_max(now, Ordering::Relaxed);
                q.push_back(chunk);
                return;
            }
        }
        let mut s = self.sink.lock();
        self.drain_locked(&mut s);
        s.write(&chunk, p);
    }

    /// Writes every queued chunk, oldest first; the caller holds the sink.
    fn drain_locked(&self, s: &mut SinkState<W>) {
        loop {
            let Some(c) = self.queue.lock().pop_front() else {
                return;
            };
            s.write(&c, &self.progress);
            self.progress.queued.fetch_sub(c.len(), Ordering::Relaxed);
        }
    }

    fn drain(&self) {
        let mut s = self.sink.lock();
        self.drain_locked(&mut s);
    }
}

impl<W: Write + Send> StripeHook for Shared<W> {
    fn dump(&self, db: usize, _stripe: usize, locked: &Stripe) {
        let chunk = self.encode(db, locked);
        self.deliver(chunk);
    }
}

/// The default queue budget: 1/32 of the memory in use, within 1-64 MiB.
fn default_budget() -> usize {
    (crate::alloc::used_memory() / 32).clamp(1 << 20, 64 << 20)
}

/// Takes a snapshot of `ks` into `w` and returns the sink (flushed, not
/// synced) with a report. `at_start` runs while every stripe is held (see the
/// module docs); it must not lock stripes. Runs on the calling thread.
pub fn run<W: Write + Send + 'static>(
    ks: &Keyspace,
    w: W,
    opts: &Options,
    progress: Arc<Progress>,
    at_start: impl FnOnce(),
) -> Result<(W, Report), SnapshotError> {
    run_with_aux(ks, w, opts, progress, || {
        at_start();
        Vec::new()
    })
}

/// [`run`], where `at_start` also returns AUX fields for the header, read at
/// the snapshot's point in time (replication's `repl-id` and `repl-offset`:
/// the offset must be the one the data matches). They follow the standard
/// fields and `opts.extra_aux`.
pub fn run_with_aux<W: Write + Send + 'static>(
    ks: &Keyspace,
    w: W,
    opts: &Options,
    progress: Arc<Progress>,
    at_start: impl FnOnce() -> Vec<(&'static str, String)>,
) -> Result<(W, Report), SnapshotError> {
    let started = Instant::now();
    let now_ms = crate::util::now_ms();
    let access = if crate::db::access::lfu_mode() {
        AccessMode::Lfu
    } else if opts.lru_idle {
        AccessMode::Lru
    } else {
        AccessMode::None
    };
    let rdb = opts.format == Format::Rdb;
    let mut aux = write::standard_aux(now_ms, crate::alloc::used_memory() as u64, opts.aof_base);
    aux.extend(opts.extra_aux.iter().cloned());
    progress
        .stripes_total
        .store(ks.db_count() * STRIPES, Ordering::Relaxed);
    let shared = Arc::new(Shared {
        opts: write::Opts {
            compress: opts.compress,
        },
        now_ms,
        access,
        format: opts.format,
        budget: if opts.budget == 0 {
            default_budget()
        } else {
            opts.budget
        },
        queue: Mutex::new(VecDeque::new()),
        sink: Mutex::new(SinkState {
            w: Some(w),
            crc: opts.checksum.then_some(0),
            err: None,
        }),
        progress: progress.clone(),
    });
    // The header is written before any chunk: it is queued while every
    // stripe is still held (no chunk exists yet), and chunks only reach the
    // sink after the queue is drained.
    // A command-format snapshot (an AOF base) has neither header nor trailer.
    let started_hook = || {
        aux.extend(at_start());
        if rdb {
            let mut header = Vec::new();
            write::header(&mut header, &aux);
            shared.deliver(header);
        }
    };
    if !ks.begin_snapshot(shared.clone(), started_hook) {
        return Err(SnapshotError::Busy);
    }
    let mut failed = false;
    for db in 0..ks.db_count() {
        for stripe in 0..STRIPES {
            // Locking dumps the stripe if nobody has since the start.
            drop(ks.db(db).lock_index(stripe));
            shared.drain();
            progress.stripes_done.fetch_add(1, Ordering::Relaxed);
            if shared.sink.lock().err.is_some() {
                failed = true;
                break;
            }
        }
        if failed {
            break;
        }
    }
    ks.end_snapshot();
    let mut s = shared.sink.lock();
    shared.drain_locked(&mut s);
    if let Some(e) = s.err.take() {
        return Err(e.into());
    }
    let mut trailer = Vec::new();
    if rdb {
        write::trailer(s.crc, &mut trailer);
    }
    // The trailer's checksum covers its EOF byte, not itself.
    let crc = s.crc.take();
    s.write(&trailer, &progress);
    s.crc = crc;
    if let Some(e) = s.err.take() {
        return Err(e.into());
    }
    let mut w =
        s.w.take()
            .ok_or_else(|| std::io::Error::other("snapshot sink taken twice"))?;
    w.flush()?;
    Ok((
        w,
        Report {
            keys: progress.keys.load(Ordering::Relaxed),
            bytes: progress.bytes.load(Ordering::Relaxed),
            peak_queued: progress.peak_queued.load(Ordering::Relaxed),
            duration: started.elapsed(),
        },
    ))
}
