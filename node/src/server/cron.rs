//! Background housekeeping: the active expiry cycle.
//!
//! Like Redis's `activeExpireCycle` (slow cycle): `hz` times a second, sample
//! keys that have a TTL, stripe by stripe, and delete the expired ones; keep
//! sampling a stripe while more than 10% of a sample was expired; stop when the
//! cycle has used 25% of its period, so expiry never takes more than a quarter of
//! a core whatever the keyspace looks like. The cursor carries over between
//! cycles so every stripe is visited in turn.
//!
//! It also keeps eviction's bookkeeping fresh ([`super::evict`]) and starts the
//! snapshots the `save` rules call for (`persist::save::cron`).
//!
//! The same thread samples the instantaneous rates of INFO (`instantaneous_ops_per_sec`
//! and the kbps figures) and tracks the memory peak.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Server;
use crate::util::Rng;

/// Keys sampled per stripe visit at effort 1 (Redis: 20).
const KEYS_PER_LOOP: usize = 20;
/// Share of the cycle period the cycle may use, in percent (Redis: 25).
const TIME_PERC: u64 = 25;
/// Resample a stripe while more than this percentage of its sample was expired.
const ACCEPTABLE_STALE: usize = 10;

pub struct Cron {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Cron {
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

pub fn start(srv: Arc<Server>) -> std::io::Result<Cron> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("cron".into())
        .spawn(move || {
            let mut cursor = (0usize, 0usize);
            let mut rng = Rng::from_entropy();
            let mut rates = RateSampler::new(&srv);
            srv.stats
                .startup_memory
                .store(crate::alloc::used_memory(), Ordering::Relaxed);
            while !flag.load(Ordering::Acquire) {
                rates.tick(&srv);
                let hz = srv.config.get_i64("hz").clamp(1, 500) as u64;
                let period = Duration::from_micros(1_000_000 / hz);
                let started = Instant::now();
                let effort = srv.config.get_i64("active-expire-effort").clamp(1, 10) as usize;
                let budget = period * (TIME_PERC as u32 + 2 * (effort as u32 - 1)) / 100;
                // CLIENT PAUSE keeps the data set still (pause.rs); a replica
                // waits for its primary's DELs (Redis: no active expiry on
                // replicas).
                let now = crate::util::now_ms();
                if srv.pause.keys_may_change(now) {
                    if !srv.repl.is_replica() {
                        cursor = expire_cycle(&srv, cursor, budget, effort, &mut rng);
                    }
                    srv.evictor.cron(&srv, now);
                }
                crate::persist::save::cron(&srv, crate::util::now_ms());
                crate::persist::aof::schedule::cron(&srv, crate::util::now_ms());
                // Streams expired or evicted here: their XREADGROUP clients
                // are answered now, not at the next command of this thread.
                super::blocked::handle_ready_keys(&srv);
                // Periodic timer, not synchronisation: park until the next tick.
                if let Some(rest) = period.checked_sub(started.elapsed()) {
                    std::thread::park_timeout(rest);
                }
            }
        })?;
    Ok(Cron {
        stop,
        thread: Some(thread),
    })
}

/// Samples kept for the instantaneous rates (Redis: `STATS_METRIC_SAMPLES`).
const RATE_SAMPLES: usize = 16;
/// Minimum time between two rate samples (Redis samples every 100 ms).
const RATE_PERIOD: Duration = Duration::from_millis(100);

/// Turns the monotonic counters into per-second rates averaged over the last
/// [`RATE_SAMPLES`] samples, as Redis's `trackInstantaneousMetric`.
pub struct RateSampler {
    last_at: Instant,
    last: [u64; 3],
    samples: [[u64; 3]; RATE_SAMPLES],
    idx: usize,
    filled: usize,
}

impl RateSampler {
    pub fn new(srv: &Server) -> RateSampler {
        RateSampler {
            last_at: Instant::now(),
            last: Self::counters(srv),
            samples: [[0; 3]; RATE_SAMPLES],
            idx: 0,
            filled: 0,
        }
    }

    fn counters(srv: &Server) -> [u64; 3] {
        let t = srv.stats.totals();
        [t.commands, t.net_input_bytes, t.net_output_bytes]
    }

    /// Takes a sample if [`RATE_PERIOD`] has passed and publishes the averages.
    pub fn tick(&mut self, srv: &Server) {
        let elapsed = self.last_at.elapsed();
        if elapsed < RATE_PERIOD {
            return;
        }
        let now = Self::counters(srv);
        let ms = elapsed.as_millis().max(1) as u64;
        let mut sample = [0u64; 3];
        for (i, s) in sample.iter_mut().enumerate() {
            // CONFIG RESETSTAT can move a counter backwards: count that as zero.
            *s = now[i].saturating_sub(self.last[i]).saturating_mul(1000) / ms;
        }
        self.samples[self.idx] = sample;
        self.idx = (self.idx + 1) % RATE_SAMPLES;
        self.filled = (self.filled + 1).min(RATE_SAMPLES);
        self.last = now;
        self.last_at = Instant::now();
        let avg = |i: usize| {
            self.samples[..self.filled]
                .iter()
                .map(|s| s[i])
                .sum::<u64>()
                / self.filled as u64
        };
        let r = &srv.stats.rates;
        r.ops_per_sec.store(avg(0), Ordering::Relaxed);
        r.input_bytes_per_sec.store(avg(1), Ordering::Relaxed);
        r.output_bytes_per_sec.store(avg(2), Ordering::Relaxed);
        srv.stats.used_memory_and_peak();
    }
}

/// One cycle; returns where the next one starts.
pub fn expire_cycle(
    srv: &Server,
    mut cursor: (usize, usize),
    budget: Duration,
    effort: usize,
    rng: &mut Rng,
) -> (usize, usize) {
    let ks = &srv.keyspace;
    let started = Instant::now();
    let per_loop = KEYS_PER_LOOP + KEYS_PER_LOOP / 4 * (effort - 1);
    let stripes = crate::db::STRIPES;
    let total = ks.db_count() * stripes;
    let mut sample = Vec::with_capacity(per_loop);
    // Keys to announce as `expired` once the stripe lock is released.
    let mut gone: Vec<Vec<u8>> = Vec::new();
    for _ in 0..total {
        let (db, stripe) = cursor;
        loop {
            let now = crate::util::now_ms();
            let mut locked = ks.db(db).lock_index(stripe);
            if locked.volatile_len() == 0 {
                break;
            }
            sample.clear();
            locked.sample_volatile(rng.next_u64(), per_loop, &mut sample);
            let mut expired = 0;
            let notify = ks.events.load(Ordering::Relaxed) & crate::db::events::EXPIRED != 0
                || srv.tracking.active();
            for (key, at) in &sample {
                if *at > now {
                    continue;
                }
                let h = ks.hash(key);
                if let Some(slot) = locked.find(h, key) {
                    drop(locked.remove(slot, h));
                    ks.log_del(db, key);
                    expired += 1;
                    if notify {
                        gone.push(key.clone());
                    }
                }
            }
            drop(locked);
            for key in gone.drain(..) {
                super::notify::expired(srv, db, &key);
            }
            if expired > 0 {
                ks.expired_keys.fetch_add(expired as u64, Ordering::Relaxed);
            }
            if started.elapsed() >= budget {
                return cursor;
            }
            if sample.is_empty() || expired * 100 <= sample.len() * ACCEPTABLE_STALE {
                break;
            }
        }
        cursor = if stripe + 1 < stripes {
            (db, stripe + 1)
        } else {
            ((db + 1) % ks.db_count(), 0)
        };
        if started.elapsed() >= budget {
            break;
        }
    }
    cursor
}
