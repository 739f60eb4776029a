//! The event-loop watchdog: notices a loop stuck on one batch of events.
//!
//! A command that never returns (a pathological pattern, a bug) stalls its
//! event loop and every client the kernel gave to it, while the HTTP thread
//! keeps answering. Each loop therefore publishes its progress
//! ([`crate::stats::Progress`]: since when it has been busy on its current
//! batch, and which command of which client it is running), and:
//! - `/healthz` fails (503, naming the loop, the command and the client) while
//!   a loop has been busy on one batch for longer than
//!   `liveness-stall-seconds` (0 disables the check), so that Kubernetes
//!   restarts a node that no longer serves. It reads the progress directly, so
//!   the answer does not depend on this thread being scheduled.
//! - the `watchdog` thread logs a warning once per stalled batch, naming the
//!   loop, the command and the client (never arguments or values): past
//!   `watchdog-period` milliseconds when that is set (Redis's watchdog logs a
//!   stack trace then), and past the liveness limit in any case; and an info
//!   line when the loop moves on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::Server;
use crate::stats::Busy;

/// How often the watchdog thread looks (a timer, not synchronisation).
const TICK: Duration = Duration::from_millis(100);

/// An event loop busy on one batch for longer than some limit.
#[derive(Debug, Clone)]
pub struct Stall {
    /// Index of the event loop (its thread is `io-<index>`).
    pub worker: usize,
    pub busy_ms: u64,
    /// The command it runs (or last ran in this batch), if any.
    pub command: Option<&'static str>,
    pub client: u64,
}

impl std::fmt::Display for Stall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "event loop io-{} stuck for {:.1} s",
            self.worker,
            self.busy_ms as f64 / 1000.0
        )?;
        match self.command {
            Some(c) => write!(f, " running '{c}' for client {}", self.client),
            None => write!(f, " outside any command"),
        }
    }
}

fn stall(srv: &Server, worker: usize, busy: Busy, now_ms: u64) -> Stall {
    Stall {
        worker,
        busy_ms: now_ms.saturating_sub(busy.since_ms),
        command: busy
            .cmd
            .and_then(|c| srv.commands.specs.get(c))
            .map(|s| s.name),
        client: busy.client,
    }
}

/// Event loops busy on one batch for longer than `limit_ms`.
pub fn stalls(srv: &Server, limit_ms: u64) -> Vec<Stall> {
    let now = crate::util::mono_ms();
    srv.stats
        .workers
        .iter()
        .take(srv.io_threads)
        .enumerate()
        .filter_map(|(i, w)| w.progress.busy().map(|b| stall(srv, i, b, now)))
        .filter(|s| s.busy_ms > limit_ms)
        .collect()
}

/// `liveness-stall-seconds` in milliseconds; `None` when the check is off.
fn liveness_limit_ms(srv: &Server) -> Option<u64> {
    let secs = srv.config.get_i64("liveness-stall-seconds");
    (secs > 0).then(|| secs as u64 * 1000)
}

/// The liveness check of `/healthz`: an error naming every stuck loop.
pub fn liveness(srv: &Server) -> Result<(), String> {
    let Some(limit) = liveness_limit_ms(srv) else {
        return Ok(());
    };
    let stuck = stalls(srv, limit);
    if stuck.is_empty() {
        return Ok(());
    }
    Err(stuck
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("; "))
}

pub struct Watchdog {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// What has been logged about one loop's current batch.
#[derive(Default, Clone, Copy)]
struct Logged {
    /// The batch (its start) the lines below are about.
    since_ms: u64,
    period: bool,
    liveness: bool,
}

pub fn start(srv: Arc<Server>) -> std::io::Result<Watchdog> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            let mut logged = vec![Logged::default(); srv.io_threads];
            while !flag.load(Ordering::Acquire) {
                check(&srv, &mut logged);
                std::thread::park_timeout(TICK);
            }
        })?;
    Ok(Watchdog {
        stop,
        thread: Some(thread),
    })
}

fn check(srv: &Server, logged: &mut [Logged]) {
    let period = srv.config.get_i64("watchdog-period");
    let period = (period > 0).then_some(period as u64);
    let liveness = liveness_limit_ms(srv);
    let now = crate::util::mono_ms();
    for (i, seen) in logged.iter_mut().enumerate() {
        let busy = srv.stats.workers.get(i).and_then(|w| w.progress.busy());
        let Some(busy) = busy.filter(|b| b.since_ms == seen.since_ms || seen.since_ms == 0) else {
            // The loop finished the batch we reported (or is on a new one).
            if seen.period || seen.liveness {
                tracing::info!(event_loop = i, "event loop io-{i} is making progress again");
            }
            *seen = Logged::default();
            continue;
        };
        seen.since_ms = busy.since_ms;
        let s = stall(srv, i, busy, now);
        let command = s.command.unwrap_or("-");
        if liveness.is_some_and(|l| s.busy_ms > l) && !seen.liveness {
            seen.liveness = true;
            seen.period = true;
            tracing::warn!(
                event_loop = i,
                command,
                client = s.client,
                busy_ms = s.busy_ms,
                "{s}: past liveness-stall-seconds, /healthz fails until it moves on"
            );
        } else if period.is_some_and(|p| s.busy_ms > p) && !seen.period {
            seen.period = true;
            tracing::warn!(
                event_loop = i,
                command,
                client = s.client,
                busy_ms = s.busy_ms,
                "{s} (watchdog-period)"
            );
        }
    }
}
