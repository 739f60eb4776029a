//! Counters for INFO, `/metrics`, SLOWLOG and LATENCY.
//!
//! Every event loop owns a [`WorkerStats`] and is its only writer, so updates are
//! uncontended relaxed atomics on cache lines no other thread writes; readers sum
//! over workers.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

/// Upper bounds (microseconds) of the command latency histogram buckets.
pub const LATENCY_BUCKETS_US: [u64; 14] = [
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 100_000,
];

/// Buckets of a command's latency histogram (`LATENCY HISTOGRAM`): bucket `k`
/// counts calls that took at most `1024 << k` nanoseconds, Redis's log-2 steps
/// from 1024 ns; the last counts everything slower.
pub const CMD_HIST_BUCKETS: usize = 32;

#[derive(Default)]
pub struct CmdStat {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
    pub hist: [AtomicU64; CMD_HIST_BUCKETS],
}

/// The [`CmdStat::hist`] bucket of a call that took `usec` microseconds.
#[inline]
pub fn cmd_hist_bucket(usec: u64) -> usize {
    let q = usec.saturating_mul(1000).saturating_sub(1) >> 10;
    ((64 - q.leading_zeros()) as usize).min(CMD_HIST_BUCKETS - 1)
}

/// Counters of one event loop.
pub struct WorkerStats {
    pub commands: Box<[CmdStat]>,
    /// Cumulative counts per bucket; the last slot counts everything slower.
    pub latency: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub error_replies: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    /// Successful write commands (persistence's changes counter; never reset
    /// by CONFIG RESETSTAT, as Redis's `dirty` is not).
    pub writes: AtomicU64,
    /// What the loop is working on, for the watchdog and `/healthz`.
    pub progress: Progress,
}

/// What an event loop is doing, published for the watchdog
/// (`server::watchdog`): since when it has been working on its current batch
/// of events, and which command of which client it is running. Names and ids
/// only, never arguments. Written by its loop alone with relaxed stores (two
/// per command), on a cache line of its own so that readers never slow the
/// writer's other counters.
#[repr(align(64))]
pub struct Progress {
    /// [`crate::util::mono_ms`] when the current batch began; 0 while the loop
    /// waits for events.
    busy_since_ms: AtomicU64,
    /// Command table index of the command running, or last run, in this
    /// batch (`usize::MAX`: none yet).
    cmd: AtomicUsize,
    client: AtomicU64,
}

/// One reading of a busy loop's [`Progress`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Busy {
    /// [`crate::util::mono_ms`] when the batch began.
    pub since_ms: u64,
    /// Command table index, if a command has started in this batch.
    pub cmd: Option<usize>,
    pub client: u64,
}

impl Default for Progress {
    fn default() -> Progress {
        Progress {
            busy_since_ms: AtomicU64::new(0),
            cmd: AtomicUsize::new(usize::MAX),
            client: AtomicU64::new(0),
        }
    }
}

impl Progress {
    /// The loop starts a batch of events at `now_ms` (a `mono_ms` reading).
    #[inline]
    pub fn begin_batch(&self, now_ms: u64) {
        self.cmd.store(usize::MAX, Ordering::Relaxed);
        self.busy_since_ms.store(now_ms.max(1), Ordering::Relaxed);
    }

    /// The loop is about to wait for events.
    #[inline]
    pub fn end_batch(&self) {
        self.busy_since_ms.store(0, Ordering::Relaxed);
    }

    /// The loop starts running command `cmd` for client `client`.
    #[inline]
    pub fn command(&self, cmd: usize, client: u64) {
        self.cmd.store(cmd, Ordering::Relaxed);
        self.client.store(client, Ordering::Relaxed);
    }

    /// The current batch, or `None` while the loop waits for events. The
    /// fields are read without a lock: a reading taken as a batch ends may
    /// name the next batch's command, which is good enough for a diagnosis.
    pub fn busy(&self) -> Option<Busy> {
        let since_ms = self.busy_since_ms.load(Ordering::Relaxed);
        if since_ms == 0 {
            return None;
        }
        let cmd = self.cmd.load(Ordering::Relaxed);
        Some(Busy {
            since_ms,
            cmd: (cmd != usize::MAX).then_some(cmd),
            client: self.client.load(Ordering::Relaxed),
        })
    }
}

thread_local! {
    /// The stats of the event loop running on this thread, if any.
    static CURRENT: std::cell::OnceCell<Arc<WorkerStats>> = const { std::cell::OnceCell::new() };
}

/// Marks the calling thread as the event loop that owns `stats`.
pub fn set_current(stats: Arc<WorkerStats>) {
    CURRENT.with(|c| {
        let _ = c.set(stats);
    });
}

/// Runs `f` with the calling event loop's stats; `false` on other threads.
#[inline]
pub fn with_current(f: impl FnOnce(&WorkerStats)) -> bool {
    CURRENT
        .try_with(|c| match c.get() {
            Some(s) => {
                f(s);
                true
            }
            None => false,
        })
        .unwrap_or(false)
}

impl WorkerStats {
    pub fn new(commands: usize) -> WorkerStats {
        WorkerStats {
            commands: (0..commands).map(|_| CmdStat::default()).collect(),
            latency: Default::default(),
            net_input_bytes: AtomicU64::new(0),
            net_output_bytes: AtomicU64::new(0),
            connections_received: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            error_replies: AtomicU64::new(0),
            keyspace_hits: AtomicU64::new(0),
            keyspace_misses: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            progress: Progress::default(),
        }
    }

    #[inline]
    pub fn record(&self, cmd: usize, usec: u64) {
        let c = &self.commands[cmd];
        // Single writer: a load and a store are enough and avoid locked instructions.
        c.calls
            .store(c.calls.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        c.usec
            .store(c.usec.load(Ordering::Relaxed) + usec, Ordering::Relaxed);
        let h = &c.hist[cmd_hist_bucket(usec)];
        h.store(h.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        let b = LATENCY_BUCKETS_US
            .iter()
            .position(|&ub| usec <= ub)
            .unwrap_or(LATENCY_BUCKETS_US.len());
        let l = &self.latency[b];
        l.store(l.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.store(counter.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }

    fn reset(&self) {
        for c in self.commands.iter() {
            c.calls.store(0, Ordering::Relaxed);
            c.usec.store(0, Ordering::Relaxed);
            c.rejected.store(0, Ordering::Relaxed);
            c.failed.store(0, Ordering::Relaxed);
            for h in &c.hist {
                h.store(0, Ordering::Relaxed);
            }
        }
        for l in &self.latency {
            l.store(0, Ordering::Relaxed);
        }
        for c in [
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.connections_received,
            &self.rejected_connections,
            &self.error_replies,
            &self.keyspace_hits,
            &self.keyspace_misses,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// Totals over every worker.
#[derive(Default, Debug, Clone)]
pub struct Totals {
    pub commands: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub connections_received: u64,
    pub rejected_connections: u64,
    pub error_replies: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
}

/// One SLOWLOG entry.
#[derive(Clone)]
pub struct SlowEntry {
    pub id: u64,
    pub unix_time: i64,
    pub usec: u64,
    pub args: Vec<Vec<u8>>,
    pub addr: String,
    pub name: String,
}

/// Instantaneous rates, sampled by the cron thread every 100 ms and averaged over
/// the last 16 samples, as Redis's `trackInstantaneousMetric`.
#[derive(Default)]
pub struct Rates {
    pub ops_per_sec: AtomicU64,
    pub input_bytes_per_sec: AtomicU64,
    pub output_bytes_per_sec: AtomicU64,
}

/// Server-wide statistics.
pub struct Stats {
    pub rates: Rates,
    /// Highest `used_memory` seen (INFO `used_memory_peak`); reset by RESETSTAT.
    pub peak_memory: AtomicUsize,
    /// `used_memory` when the server became ready (INFO `used_memory_startup`).
    pub startup_memory: AtomicUsize,
    pub workers: Vec<Arc<WorkerStats>>,
    pub evicted_keys: AtomicU64,
    pub slowlog: Mutex<VecDeque<SlowEntry>>,
    pub slowlog_next_id: AtomicU64,
    /// INFO errorstats: error replies by code (the first word, `ERR`, `WRONGTYPE`).
    pub error_codes: Mutex<std::collections::BTreeMap<String, u64>>,
    /// LATENCY: event name -> (time, latest ms, max ms) history.
    pub latency_events: Mutex<std::collections::BTreeMap<String, Vec<(i64, u64)>>>,
}

impl Stats {
    pub fn new(workers: usize, commands: usize) -> Stats {
        Stats {
            rates: Rates::default(),
            peak_memory: AtomicUsize::new(0),
            startup_memory: AtomicUsize::new(0),
            workers: (0..workers)
                .map(|_| Arc::new(WorkerStats::new(commands)))
                .collect(),
            evicted_keys: AtomicU64::new(0),
            slowlog: Mutex::new(VecDeque::new()),
            slowlog_next_id: AtomicU64::new(0),
            latency_events: Mutex::new(Default::default()),
            error_codes: Mutex::new(Default::default()),
        }
    }

    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for w in &self.workers {
            t.commands += w
                .commands
                .iter()
                .map(|c| c.calls.load(Ordering::Relaxed))
                .sum::<u64>();
            t.net_input_bytes += w.net_input_bytes.load(Ordering::Relaxed);
            t.net_output_bytes += w.net_output_bytes.load(Ordering::Relaxed);
            t.connections_received += w.connections_received.load(Ordering::Relaxed);
            t.rejected_connections += w.rejected_connections.load(Ordering::Relaxed);
            t.error_replies += w.error_replies.load(Ordering::Relaxed);
            t.keyspace_hits += w.keyspace_hits.load(Ordering::Relaxed);
            t.keyspace_misses += w.keyspace_misses.load(Ordering::Relaxed);
        }
        t
    }

    /// Successful write commands since start, over all workers.
    pub fn writes(&self) -> u64 {
        self.workers
            .iter()
            .map(|w| w.writes.load(Ordering::Relaxed))
            .sum()
    }

    /// (calls, usec, rejected, failed) of one command over all workers.
    pub fn command(&self, idx: usize) -> (u64, u64, u64, u64) {
        let mut r = (0, 0, 0, 0);
        for w in &self.workers {
            let c = &w.commands[idx];
            r.0 += c.calls.load(Ordering::Relaxed);
            r.1 += c.usec.load(Ordering::Relaxed);
            r.2 += c.rejected.load(Ordering::Relaxed);
            r.3 += c.failed.load(Ordering::Relaxed);
        }
        r
    }

    /// One command's latency histogram over all workers, per bucket (not
    /// cumulative).
    pub fn command_histogram(&self, idx: usize) -> [u64; CMD_HIST_BUCKETS] {
        let mut h = [0u64; CMD_HIST_BUCKETS];
        for w in &self.workers {
            for (i, b) in w.commands[idx].hist.iter().enumerate() {
                h[i] += b.load(Ordering::Relaxed);
            }
        }
        h
    }

    /// Cumulative latency histogram over all workers.
    pub fn latency_histogram(&self) -> Vec<u64> {
        let mut h = vec![0u64; LATENCY_BUCKETS_US.len() + 1];
        for w in &self.workers {
            for (i, l) in w.latency.iter().enumerate() {
                h[i] += l.load(Ordering::Relaxed);
            }
        }
        h
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for w in &self.workers {
            w.reset();
        }
        self.evicted_keys.store(0, Ordering::Relaxed);
        self.error_codes.lock().clear();
        self.peak_memory
            .store(crate::alloc::used_memory(), Ordering::Relaxed);
    }

    /// Current `used_memory`, raising the recorded peak if it is higher.
    pub fn used_memory_and_peak(&self) -> (usize, usize) {
        let used = crate::alloc::used_memory();
        let peak = self
            .peak_memory
            .fetch_max(used, Ordering::Relaxed)
            .max(used);
        (used, peak)
    }

    /// Counts one error reply under its code. Like Redis, at most 128 distinct
    /// codes are tracked, so clients cannot grow the table without bound.
    pub fn count_error_code(&self, msg: &str) {
        let code = msg.split(' ').next().unwrap_or("ERR");
        let mut codes = self.error_codes.lock();
        if let Some(n) = codes.get_mut(code) {
            *n += 1;
        } else if codes.len() < 128 {
            codes.insert(code.to_string(), 1);
        }
    }

    pub fn slowlog_push(&self, mut entry: SlowEntry, max_len: usize) {
        if max_len == 0 {
            return;
        }
        entry.id = self.slowlog_next_id.fetch_add(1, Ordering::Relaxed);
        let mut log = self.slowlog.lock();
        log.push_front(entry);
        log.truncate(max_len);
    }

    pub fn latency_record(&self, event: &str, unix_time: i64, ms: u64) {
        let mut ev = self.latency_events.lock();
        let hist = ev.entry(event.to_string()).or_default();
        // One sample per second per event, keeping the worst (Redis's latencyAddSample).
        if let Some(last) = hist.last_mut().filter(|l| l.0 == unix_time) {
            last.1 = last.1.max(ms);
            return;
        }
        hist.push((unix_time, ms));
        if hist.len() > 160 {
            hist.remove(0);
        }
    }
}
