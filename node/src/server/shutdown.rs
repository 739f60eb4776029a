//! Shutting down as Redis 7.0 does (SHUTDOWN, SIGTERM, SIGINT): a primary
//! waits for its replicas first.
//!
//! A node with replicas does not stop at once: it holds writes (a pause of
//! its own, `server::pause`), asks its replicas for an ACK, and waits until
//! every replica acknowledged its offset or `shutdown-timeout` seconds
//! passed; then it saves (as configured) and stops. So every write a client
//! saw acknowledged is on the replicas when the primary exits, which is what
//! lets Kubernetes delete a primary's pod without losing writes. Skipped
//! with `SHUTDOWN NOW` (or `now` in `shutdown-on-sigterm`/`shutdown-on-sigint`),
//! `shutdown-timeout 0`, or no replica.
//!
//! While it waits, reads are served; a second SHUTDOWN (NOW included) or
//! signal joins the wait, as in Redis; `SHUTDOWN ABORT` ends it, writes
//! resume and the waiting SHUTDOWN clients get `-ERR Errors trying to
//! SHUTDOWN. Check logs.`. A waiting SHUTDOWN client is blocked like WAIT
//! (`server::blocked`), but listed only here: CLIENT UNBLOCK and role
//! changes leave it alone.
//!
//! Saving: after a wait, the snapshot is taken while writes are held, so it
//! holds every acknowledged write; a failed save refuses a SHUTDOWN without
//! FORCE (writes resume). A signal never refuses: its failed save is logged
//! and the node exits, as it did before the wait existed. Without a wait,
//! SHUTDOWN saves before the event loops stop and a signal after
//! (`persist::save::on_exit`).
//!
//! Why a thread for the wait: like FAILOVER's, it polls ACK offsets every few
//! milliseconds with a deadline, off the event loops.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::blocked::Waiter;
use super::Server;
use crate::repl::primary::catchup::CatchUp;

/// What a refused or aborted SHUTDOWN replies.
pub const ERRORS: &str = "ERR Errors trying to SHUTDOWN. Check logs.";
const TICK: Duration = Duration::from_millis(5);

/// SHUTDOWN's options, or a signal's (`shutdown-on-sigterm`,
/// `shutdown-on-sigint`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    pub save: bool,
    pub nosave: bool,
    pub now: bool,
    pub force: bool,
}

impl Flags {
    /// A `shutdown-on-sig*` value (`default`, or words among save, nosave,
    /// now, force; `config` validated it).
    pub fn from_config(v: &str) -> Flags {
        let mut f = Flags::default();
        for w in v.split_whitespace() {
            match w {
                "save" => f.save = true,
                "nosave" => f.nosave = true,
                "now" => f.now = true,
                "force" => f.force = true,
                _ => {}
            }
        }
        f
    }
}

/// Who asked for the shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Command,
    Signal(&'static str),
}

/// What [`request`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Started {
    /// No wait: the caller stops the node now.
    Now,
    /// A wait for the replicas runs (started or joined); the SHUTDOWN
    /// client, if any, is registered and blocks.
    Waiting,
}

/// The shutdown state of a server.
#[derive(Default)]
pub struct Shutdown {
    pending: Mutex<Option<Pending>>,
    /// Bumped by every start and abort: a driver with an older one stops.
    generation: AtomicU64,
    /// From the start of a wait until it is cancelled (the node stops
    /// otherwise): `/readyz` and signals read it without waiting for the
    /// lock, which the final save holds.
    stopping: AtomicBool,
    /// What the exit path saves by: a signal's flags.
    exit: Mutex<Flags>,
}

impl Shutdown {
    /// Whether a shutdown waited or waits for replicas, or saves after it.
    pub fn waiting(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// The flags the exit path (`persist::save::on_exit`) honours.
    pub fn exit_flags(&self) -> Flags {
        *self.exit.lock()
    }
}

struct Pending {
    flags: Flags,
    origin: Origin,
    generation: u64,
    waiters: Vec<Arc<Waiter>>,
}

/// A signal: shuts down with the flags its parameter names.
pub fn on_signal(srv: &Server, name: &'static str, param: &str) {
    let flags = Flags::from_config(&srv.config.get(param));
    tracing::info!(signal = name, "received {name}, shutting down");
    if srv.shutdown_state.waiting() {
        tracing::info!("shutdown already in progress");
        return;
    }
    if request(srv, flags, Origin::Signal(name), None) == Started::Now {
        *srv.shutdown_state.exit.lock() = flags;
        srv.shutdown();
    }
}

/// Starts a shutdown, or joins the one waiting. `waiter`: the SHUTDOWN
/// client, kept to be answered if the shutdown is aborted.
pub fn request(srv: &Server, flags: Flags, origin: Origin, waiter: Option<Arc<Waiter>>) -> Started {
    let st = &srv.shutdown_state;
    let mut pending = st.pending.lock();
    if let Some(p) = pending.as_mut() {
        tracing::info!(?origin, "shutdown already waiting for replicas: joining it");
        p.waiters.extend(waiter);
        return Started::Waiting;
    }
    let timeout = srv.config.get_i64("shutdown-timeout").max(0) as u64;
    let replicas = srv.primary.replicas().len();
    if flags.now || timeout == 0 || replicas == 0 || srv.shutting_down.load(Ordering::Acquire) {
        return Started::Now;
    }
    let Some(arc) = srv.me() else {
        return Started::Now;
    };
    let generation = st.generation.fetch_add(1, Ordering::AcqRel) + 1;
    srv.pause.set_shutdown(true);
    st.stopping.store(true, Ordering::Release);
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let spawned = std::thread::Builder::new()
        .name("shutdown".into())
        .spawn(move || drive(arc, generation, deadline));
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start waiting for replicas: shutting down now");
        srv.pause.set_shutdown(false);
        st.stopping.store(false, Ordering::Release);
        return Started::Now;
    }
    tracing::info!(
        ?origin,
        replicas,
        timeout_secs = timeout,
        "Waiting for replicas before shutting down (writes are held)"
    );
    *pending = Some(Pending {
        flags,
        origin,
        generation,
        waiters: waiter.into_iter().collect(),
    });
    Started::Waiting
}

/// SHUTDOWN ABORT: false when no shutdown is waiting.
pub fn abort(srv: &Server) -> bool {
    let Some(p) = srv.shutdown_state.pending.lock().take() else {
        return false;
    };
    srv.shutdown_state.generation.fetch_add(1, Ordering::AcqRel);
    tracing::info!("Shutdown manually aborted");
    cancel(srv, p);
    true
}

/// Back to serving: writes resume, the SHUTDOWN clients get the error.
fn cancel(srv: &Server, p: Pending) {
    srv.shutdown_state.stopping.store(false, Ordering::Release);
    srv.pause.set_shutdown(false);
    srv.wake_loops();
    for w in p.waiters {
        if w.claim() {
            super::blocked::deliver_reply(srv, &w, format!("-{ERRORS}\r\n").into_bytes());
        }
    }
}

/// The wait: until every replica acknowledged the offset (seen on two ticks
/// in a row with the offset unchanged: a write that passed the pause check
/// just before it started may still be landing), or the deadline.
fn drive(srv: Arc<Server>, generation: u64, deadline: Instant) {
    let st = &srv.shutdown_state;
    let mut probe = CatchUp::default();
    probe.ask(&srv);
    let mut seen: Option<i64> = None;
    loop {
        std::thread::sleep(TICK);
        if st.generation.load(Ordering::Acquire) != generation {
            return;
        }
        let offset = srv.repl.offset.load(Ordering::Relaxed);
        let ready = srv
            .primary
            .replicas()
            .iter()
            .all(|r| probe.caught_up(offset, r.ack_offset.load(Ordering::Relaxed)));
        if ready {
            if seen == Some(offset) {
                break;
            }
            seen = Some(offset);
        } else {
            seen = None;
            probe.ask(&srv);
        }
        if Instant::now() >= deadline {
            tracing::warn!("shutdown-timeout reached before every replica caught up");
            break;
        }
    }
    finish(&srv, generation, &probe);
}

/// After the wait: reports the replicas, saves, and stops the node (or, on a
/// failed save of a SHUTDOWN without FORCE, goes back to serving).
fn finish(srv: &Server, generation: u64, probe: &CatchUp) {
    let st = &srv.shutdown_state;
    let mut pending = st.pending.lock();
    if pending.as_ref().is_none_or(|p| p.generation != generation) {
        return;
    }
    let offset = srv.repl.offset.load(Ordering::Relaxed);
    let replicas = srv.primary.replicas();
    let now_ms = crate::util::now_ms();
    let mut lagging = 0;
    for r in &replicas {
        let ack = r.ack_offset.load(Ordering::Relaxed);
        if !probe.caught_up(offset, ack) {
            lagging += 1;
            tracing::warn!(
                replica = %format!("{}:{}", r.ip, r.port.load(Ordering::Relaxed)),
                behind = offset - ack,
                lag = r.lag_secs(now_ms),
                state = r.state().name(),
                "Lagging replica reported offset behind master"
            );
        }
    }
    tracing::info!(
        "{} of {} replicas are in sync when shutting down",
        replicas.len() - lagging,
        replicas.len()
    );
    let Some(p) = pending.take() else {
        return;
    };
    use crate::persist::save as persist;
    if !p.flags.nosave && (p.flags.save || !persist::save_points(srv).is_empty()) {
        if let Err(e) = persist::save_for_shutdown(srv) {
            tracing::error!(error = %e, "could not save the DB before shutting down");
            if p.origin == Origin::Command && !p.flags.force {
                tracing::warn!("Errors trying to shut down the server: it goes on serving");
                drop(pending);
                cancel(srv, p);
                return;
            }
        }
    }
    srv.persist.shutdown_decided.store(true, Ordering::Release);
    // The pause stays on: held writes are never answered, so never
    // acknowledged without being on the replicas. Under the lock, so a
    // SHUTDOWN arriving now finds the node already stopping.
    srv.shutdown();
    drop(pending);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_flags_from_the_parameter() {
        assert_eq!(Flags::from_config("default"), Flags::default());
        assert_eq!(
            Flags::from_config("nosave now force"),
            Flags {
                nosave: true,
                now: true,
                force: true,
                ..Flags::default()
            }
        );
    }
}
