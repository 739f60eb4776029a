//! FAILOVER: a coordinated hand-over of the primary role to one of our
//! replicas, with Redis 7.0's states and replies.
//!
//! 1. `waiting-for-sync`: writes are paused (FAILOVER's own WRITE pause,
//!    `server::pause`) so `master_repl_offset` stops moving; a driver thread
//!    waits until the target replica (the `TO` one, or the most caught-up
//!    one) acknowledged that offset (`repl::primary::catchup`: it asks with
//!    `REPLCONF GETACK *`).
//!    At the `TIMEOUT` the failover is aborted (writes resume), or with
//!    `FORCE` goes on regardless.
//! 2. `failover-in-progress`: this node becomes a replica of the target
//!    (`repl::replica::set_master`, offering its own id and offset) and its
//!    handshake sends `PSYNC <replid> <offset+1> FAILOVER`; the target, whose
//!    id that is, promotes itself (as REPLICAOF NO ONE) before answering, so
//!    the answer is `+CONTINUE <new id>`: no full sync. Any answer to PSYNC
//!    ends the failover (pause lifted); an error or a failed connection
//!    aborts it and this node is a primary again.
//!
//! The state is a small atomic the request path never reads: the pause
//! does the holding. Why a thread: the wait is a poll of ACK offsets every
//! few milliseconds with a deadline, off the event loops.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::primary::catchup::CatchUp;
use super::primary::ReplicaState;
use super::replica::state::Master;
use crate::server::Server;

const TICK: Duration = Duration::from_millis(5);

/// The failover's state, named as INFO prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    None = 0,
    WaitForSync = 1,
    InProgress = 2,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::None => "no-failover",
            State::WaitForSync => "waiting-for-sync",
            State::InProgress => "failover-in-progress",
        }
    }
}

/// What FAILOVER asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub to: Option<(String, u16)>,
    pub force: bool,
    /// Milliseconds (0: none).
    pub timeout_ms: i64,
}

/// The failover of one server (on `Primary`).
#[derive(Default)]
pub struct Failover {
    state: AtomicU8,
    /// Bumped by every start and end: a driver with an older one stops.
    generation: AtomicU64,
    /// The target, once known (`TO`, or the replica found caught up).
    target: Mutex<Option<Master>>,
}

impl Failover {
    pub fn state(&self) -> State {
        match self.state.load(Ordering::Acquire) {
            1 => State::WaitForSync,
            2 => State::InProgress,
            _ => State::None,
        }
    }

    fn set(&self, s: State) {
        self.state.store(s as u8, Ordering::Release);
    }
}

/// Parses FAILOVER's arguments as Redis 7.0 does (each option once; a
/// repeated one is a syntax error). `Ok(None)`: `FAILOVER ABORT`.
pub fn parse(args: &crate::cmd::Args) -> Result<Option<Request>, String> {
    if args.len() == 2 && args.is(1, "abort") {
        return Ok(None);
    }
    let mut r = Request::default();
    let mut j = 1;
    while j < args.len() {
        if args.is(j, "timeout") && j + 1 < args.len() && r.timeout_ms == 0 {
            let t = crate::util::parse_i64_strict(args.get(j + 1))
                .ok_or_else(|| crate::cmd::NOT_INTEGER.to_string())?;
            if t <= 0 {
                return Err("ERR FAILOVER timeout must be greater than 0".into());
            }
            r.timeout_ms = t;
            j += 2;
        } else if args.is(j, "to") && j + 2 < args.len() && r.to.is_none() {
            let port = crate::util::parse_i64_strict(args.get(j + 2))
                .ok_or_else(|| crate::cmd::NOT_INTEGER.to_string())?;
            // Redis takes any long here; a port outside u16 matches no replica.
            let port = u16::try_from(port).unwrap_or(0);
            r.to = Some((args.str_lossy(j + 1).into_owned(), port));
            j += 3;
        } else if args.is(j, "force") && !r.force {
            r.force = true;
            j += 1;
        } else {
            return Err(crate::cmd::SYNTAX.to_string());
        }
    }
    Ok(Some(r))
}

/// The online replica at `host:port` (as ROLE lists it), if connected.
fn find_replica(srv: &Server, host: &str, port: u16) -> Option<Arc<super::primary::Replica>> {
    srv.primary
        .replicas()
        .into_iter()
        .find(|r| r.port.load(Ordering::Relaxed) == port && r.ip.eq_ignore_ascii_case(host))
}

/// FAILOVER [TO host port [FORCE]] [TIMEOUT ms]: checks and starts.
pub fn start(srv: &Server, req: Request) -> Result<(), String> {
    if srv.primary.failover.state() != State::None {
        return Err("ERR FAILOVER already in progress.".into());
    }
    if srv.repl.is_replica() {
        return Err("ERR FAILOVER is not valid when server is a replica.".into());
    }
    if srv.primary.replicas().is_empty() {
        return Err("ERR FAILOVER requires connected replicas.".into());
    }
    if req.force && (req.timeout_ms == 0 || req.to.is_none()) {
        return Err(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP.".into(),
        );
    }
    let target = match &req.to {
        Some((host, port)) => {
            let Some(r) = find_replica(srv, host, *port) else {
                return Err("ERR FAILOVER target HOST and PORT is not a replica.".into());
            };
            if r.state() != ReplicaState::Online {
                return Err("ERR FAILOVER target replica is not online.".into());
            }
            tracing::info!(host = %host, port, "FAILOVER requested");
            Some(Master {
                host: host.clone(),
                port: *port,
            })
        }
        None => {
            tracing::info!("FAILOVER requested to any replica");
            None
        }
    };
    let Some(arc) = srv.repl.server() else {
        return Err("ERR FAILOVER not possible: server not running".into());
    };
    let f = &srv.primary.failover;
    let mut t = f.target.lock();
    *t = target;
    let generation = f.generation.fetch_add(1, Ordering::AcqRel) + 1;
    f.set(State::WaitForSync);
    // Also stops lazy expiry (db::Keyspace::expiry_frozen): a propagated DEL
    // would move the offset the target must reach.
    srv.pause.set_failover(true);
    let deadline = (req.timeout_ms > 0)
        .then(|| Instant::now().checked_add(Duration::from_millis(req.timeout_ms as u64)))
        .flatten();
    let force = req.force;
    let spawned = std::thread::Builder::new()
        .name("repl-failover".into())
        .spawn(move || drive(arc, generation, deadline, force));
    if let Err(e) = spawned {
        clear(srv, &mut t);
        return Err(format!("ERR FAILOVER could not start: {e}"));
    }
    Ok(())
}

/// FAILOVER ABORT.
pub fn abort_cmd(srv: &Server) -> Result<(), String> {
    if srv.primary.failover.state() == State::None {
        return Err("ERR No failover in progress.".into());
    }
    abort(srv, "Failover manually aborted");
    Ok(())
}

/// Aborts the failover: back to a primary if the hand-over had begun.
pub fn abort(srv: &Server, why: &str) {
    let f = &srv.primary.failover;
    // Held across the role change: a hand-over cannot start meanwhile.
    let mut t = f.target.lock();
    let state = f.state();
    if state == State::None {
        return;
    }
    match t.as_ref() {
        Some(t) => tracing::info!(host = %t.host, port = t.port, reason = why, "FAILOVER aborted"),
        None => tracing::info!(reason = why, "FAILOVER to any replica aborted"),
    }
    if state == State::InProgress {
        super::replica::unset_master(srv);
    }
    clear(srv, &mut t);
}

/// Back to no failover: the pause ends and held clients run.
fn clear(srv: &Server, target: &mut Option<Master>) {
    let f = &srv.primary.failover;
    f.generation.fetch_add(1, Ordering::AcqRel);
    *target = None;
    f.set(State::None);
    srv.pause.set_failover(false);
    srv.wake_loops();
}

/// Whether the handshake's PSYNC carries `FAILOVER`.
pub fn in_progress(srv: &Server) -> bool {
    srv.primary.failover.state() == State::InProgress
}

/// The link's handshake got an answer to PSYNC (CONTINUE or FULLRESYNC):
/// the failover is done.
pub fn on_psync_answered(srv: &Server) {
    let mut t = srv.primary.failover.target.lock();
    if in_progress(srv) {
        tracing::info!("FAILOVER: the target accepted the PSYNC; failover complete");
        clear(srv, &mut t);
    }
}

/// The link failed before an answer to PSYNC while failing over.
pub fn on_link_failed(srv: &Server, why: &str) {
    if in_progress(srv) {
        abort(srv, why);
    }
}

/// The driver of `waiting-for-sync` (see the module docs).
fn drive(srv: Arc<Server>, generation: u64, deadline: Option<Instant>, force: bool) {
    let f = &srv.primary.failover;
    let current = || f.generation.load(Ordering::Acquire) == generation;
    let mut probe = CatchUp::default();
    // A target must be seen caught up on two ticks in a row with the offset
    // unchanged: a write that passed the pause check just before it started
    // may still be landing.
    let mut seen: Option<(String, u16, i64)> = None;
    loop {
        std::thread::sleep(TICK);
        if !current() || srv.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            if force {
                let t = f.target.lock().clone();
                if let Some(t) = t {
                    tracing::info!(host = %t.host, port = t.port, "FAILOVER time out exceeded, failing over");
                    hand_over(&srv, generation, t);
                    return;
                }
            }
            abort(&srv, "Replica never caught up before timeout");
            return;
        }
        let offset = srv.repl.offset.load(Ordering::Relaxed);
        let caught_up = |ack: i64| probe.caught_up(offset, ack);
        let target = f.target.lock().clone();
        let found = match &target {
            Some(t) => find_replica(&srv, &t.host, t.port)
                .filter(|r| r.state() == ReplicaState::Online)
                .filter(|r| caught_up(r.ack_offset.load(Ordering::Relaxed)))
                .map(|_| (t.host.clone(), t.port)),
            None => srv
                .primary
                .replicas()
                .into_iter()
                .filter(|r| r.state() == ReplicaState::Online)
                .filter(|r| caught_up(r.ack_offset.load(Ordering::Relaxed)))
                .max_by_key(|r| r.ack_offset.load(Ordering::Relaxed))
                .map(|r| (r.ip.clone(), r.port.load(Ordering::Relaxed))),
        };
        match found {
            Some((host, port)) => {
                if seen.as_ref() == Some(&(host.clone(), port, offset)) {
                    tracing::info!(host = %host, port, "FAILOVER target is synced, failing over");
                    hand_over(&srv, generation, Master { host, port });
                    return;
                }
                seen = Some((host, port, offset));
            }
            None => {
                seen = None;
                probe.ask(&srv);
            }
        }
    }
}

/// `failover-in-progress`: become a replica of `target`; the link's
/// handshake finishes (or aborts) the failover.
fn hand_over(srv: &Arc<Server>, generation: u64, target: Master) {
    let f = &srv.primary.failover;
    // Held across the role change, so ABORT sees it whole.
    let mut t = f.target.lock();
    if f.generation.load(Ordering::Acquire) != generation {
        return;
    }
    *t = Some(target.clone());
    f.set(State::InProgress);
    super::replica::set_master(srv, target, true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names() {
        assert_eq!(State::None.name(), "no-failover");
        assert_eq!(State::WaitForSync.name(), "waiting-for-sync");
        assert_eq!(State::InProgress.name(), "failover-in-progress");
    }
}
