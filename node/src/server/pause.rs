//! CLIENT PAUSE / CLIENT UNPAUSE: holding clients' commands for a while.
//!
//! A coordinated switchover (FAILOVER, the operator's planned changes) pauses
//! writes so that a replica can catch up to a primary whose offset no longer
//! moves. Redis 7.0's rules, kept here:
//! - `WRITE` holds commands that may change data or be propagated: those
//!   flagged `write` or `may_replicate`, PUBLISH/SPUBLISH and PFCOUNT (which
//!   Redis propagates), and EXEC of a transaction holding any of them. `ALL`
//!   holds every command. A held command is checked before it would be queued
//!   in MULTI, as Redis does.
//! - Reads go on in `WRITE` mode; keys neither expire nor get evicted while any
//!   pause is on (the data set stays exactly as it was), a logically expired key
//!   still reads as missing.
//! - A new pause keeps the longer end and the more restrictive mode of an
//!   existing one; CLIENT UNPAUSE ends it at once.
//!
//! How a held client waits: the request path stops before the held command
//! (its bytes stay unconsumed in the connection's buffer) and sets
//! `Client::paused`; its event loop keeps it aside and re-runs its input when
//! the pause ends, at the deadline (the loop shortens its epoll timeout to it)
//! or when UNPAUSE wakes every loop. Re-running re-checks, so a client held by
//! `ALL` that then meets a `WRITE` pause waits on if its command is a write.
//!
//! Cost when no pause is on: one relaxed load per request.
//!
//! FAILOVER and a shutdown waiting for its replicas (`server::shutdown`)
//! hold writes too, each with a pause of its own: as in Redis 7.0 they have
//! no deadline and CLIENT UNPAUSE does not end them; the mode in force is the
//! strongest of them.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};

use crate::cmd::{flags, CommandSpec};

/// What a pause holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Mode {
    Off = 0,
    Write = 1,
    All = 2,
}

/// The server's pause, shared by every thread.
#[derive(Default)]
pub struct Pause {
    mode: AtomicU8,
    /// Unix milliseconds at which the pause ends.
    until_ms: AtomicI64,
    /// FAILOVER's WRITE pause (no deadline; `repl::failover` ends it).
    failover: AtomicBool,
    /// The WRITE pause of a shutdown waiting for its replicas (no deadline;
    /// `server::shutdown` ends it if the shutdown is aborted).
    shutdown: AtomicBool,
}

impl Pause {
    /// The mode in force at `now_ms` (`Off` once the deadline has passed).
    #[inline]
    pub fn mode(&self, now_ms: i64) -> Mode {
        let client = self.client_mode(now_ms);
        if self.failover.load(Ordering::Acquire) || self.shutdown.load(Ordering::Acquire) {
            return client.max(Mode::Write);
        }
        client
    }

    /// The CLIENT PAUSE part of the mode.
    fn client_mode(&self, now_ms: i64) -> Mode {
        let m = self.mode.load(Ordering::Acquire);
        if m == 0 || self.until_ms.load(Ordering::Acquire) <= now_ms {
            return Mode::Off;
        }
        if m == Mode::Write as u8 {
            Mode::Write
        } else {
            Mode::All
        }
    }

    /// Whether any pause was set and has not been lifted (its deadline may have
    /// passed): the cheap check of the request path.
    #[inline]
    pub fn maybe_on(&self) -> bool {
        self.mode.load(Ordering::Relaxed) != 0
            || self.failover.load(Ordering::Relaxed)
            || self.shutdown.load(Ordering::Relaxed)
    }

    /// Starts or ends FAILOVER's write pause.
    pub fn set_failover(&self, on: bool) {
        self.failover.store(on, Ordering::Release);
    }

    /// Starts or ends the write pause of a shutdown waiting for replicas.
    pub fn set_shutdown(&self, on: bool) {
        self.shutdown.store(on, Ordering::Release);
    }

    /// The deadline of the pause in force, if any.
    pub fn deadline(&self, now_ms: i64) -> Option<i64> {
        (self.client_mode(now_ms) != Mode::Off).then(|| self.until_ms.load(Ordering::Acquire))
    }

    /// Starts (or extends) a pause until `until_ms`: the longer end and the
    /// stronger mode win.
    pub fn pause(&self, mode: Mode, until_ms: i64, now_ms: i64) {
        let current = self.client_mode(now_ms);
        let until = if current == Mode::Off {
            until_ms
        } else {
            until_ms.max(self.until_ms.load(Ordering::Acquire))
        };
        self.until_ms.store(until, Ordering::Release);
        self.mode.store(mode.max(current) as u8, Ordering::Release);
    }

    pub fn unpause(&self) {
        self.mode.store(Mode::Off as u8, Ordering::Release);
    }

    /// Whether keys may expire or be evicted now (not while paused).
    #[inline]
    pub fn keys_may_change(&self, now_ms: i64) -> bool {
        !self.maybe_on() || self.mode(now_ms) == Mode::Off
    }
}

impl crate::db::Freeze for Pause {
    fn keys_may_change(&self, now_ms: i64) -> bool {
        Pause::keys_may_change(self, now_ms)
    }
}

/// Whether `mode` holds `spec`; `exec_writes` says, for EXEC, whether its queue
/// holds a command the WRITE mode holds.
pub fn holds(mode: Mode, spec: &CommandSpec, exec_writes: bool) -> bool {
    match mode {
        Mode::Off => false,
        Mode::All => true,
        Mode::Write => write_like(spec) || (spec.name == "exec" && exec_writes),
    }
}

/// Commands the WRITE mode holds.
pub fn write_like(spec: &CommandSpec) -> bool {
    spec.flags & (flags::WRITE | flags::MAY_REPLICATE) != 0
        || matches!(spec.name, "publish" | "spublish" | "pfcount")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longer_end_and_stronger_mode_win_and_the_deadline_ends_it() {
        let p = Pause::default();
        assert_eq!(p.mode(0), Mode::Off);
        assert!(!p.maybe_on());
        p.pause(Mode::All, 1000, 0);
        p.pause(Mode::Write, 500, 0);
        assert_eq!(p.mode(600), Mode::All);
        assert_eq!(p.deadline(600), Some(1000));
        assert_eq!(p.mode(1000), Mode::Off);
        assert!(p.keys_may_change(1000));
        assert!(!p.keys_may_change(999));
        // A new pause after the old one ended starts afresh.
        p.pause(Mode::Write, 2000, 1500);
        assert_eq!(p.mode(1500), Mode::Write);
        p.unpause();
        assert_eq!(p.mode(1500), Mode::Off);
        assert!(p.keys_may_change(1500));
    }

    #[test]
    fn the_failover_pause_has_no_deadline_and_outlives_unpause() {
        let p = Pause::default();
        p.set_failover(true);
        assert!(p.maybe_on());
        assert_eq!(p.mode(i64::MAX - 1), Mode::Write);
        assert_eq!(p.deadline(0), None);
        p.pause(Mode::All, 1000, 0);
        assert_eq!(p.mode(500), Mode::All);
        p.unpause();
        assert_eq!(p.mode(500), Mode::Write);
        p.set_failover(false);
        assert_eq!(p.mode(500), Mode::Off);
        assert!(!p.maybe_on());
        p.set_shutdown(true);
        assert!(p.maybe_on());
        assert_eq!(p.mode(500), Mode::Write);
        p.set_shutdown(false);
        assert!(!p.maybe_on());
    }
}
