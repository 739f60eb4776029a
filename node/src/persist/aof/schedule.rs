//! When AOF rewrites run, as Redis 7.0 decides it.
//!
//! The snapshot engine takes one snapshot at a time, as Redis runs one child
//! at a time, so rewrites and saves take turns under Redis's rules:
//! - BGREWRITEAOF during a rewrite: "ERR Background append only file
//!   rewriting already in progress"; during a save: scheduled
//!   (`aof_rewrite_scheduled:1`), started by the cron once the save ends;
//! - BGSAVE during a rewrite: "ERR Another child process is active (AOF?)
//!   ..." unless `BGSAVE SCHEDULE` (`persist::save`, `cmd::rdb`);
//! - the cron starts a scheduled rewrite, turns the AOF on when
//!   `appendonly yes` still waits for its first base, and rewrites
//!   automatically when the AOF grew by `auto-aof-rewrite-percentage` over
//!   its size after the last rewrite (at least `auto-aof-rewrite-min-size`);
//! - after 3 failures in a row, the cron's rewrites back off (1, 2, 4 ...
//!   60 minutes), as Redis's `aofRewriteLimited`.
//!
//! Claims of the engine by saves and rewrites go through one lock
//! (`Persistence::claims`), so that a save and a rewrite never both start.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::server::Server;

/// What a rewrite request did.
#[derive(Debug, PartialEq, Eq)]
pub enum Started {
    Now,
    Scheduled,
}

/// Why a rewrite request was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("ERR Background append only file rewriting already in progress")]
    AlreadyRunning,
    #[error("ERR Can't execute an AOF background rewriting. Please check the server logs for more information.")]
    CannotStart,
}

/// The back-off state of `aofRewriteLimited`.
#[derive(Default)]
pub struct Limit {
    delay_min: i64,
    next_at: i64,
}

enum Claim {
    Got,
    RewriteRunning,
    SaveRunning,
}

/// Claims the engine for a rewrite.
fn claim(srv: &Server) -> Claim {
    let _g = srv.persist.claims.lock();
    let st = &srv.aof.stats;
    if st.rewrite_in_progress.load(Ordering::Acquire) {
        return Claim::RewriteRunning;
    }
    if srv.persist.in_progress.load(Ordering::Acquire) {
        return Claim::SaveRunning;
    }
    st.rewrite_in_progress.store(true, Ordering::Release);
    Claim::Got
}

fn start_claimed(srv: &Arc<Server>) -> Result<(), Refused> {
    if let Err(e) = super::rewrite::spawn(srv) {
        tracing::warn!(error = %e, "could not start the AOF rewrite thread");
        srv.aof
            .stats
            .rewrite_in_progress
            .store(false, Ordering::Release);
        return Err(Refused::CannotStart);
    }
    tracing::info!("background append only file rewriting started");
    Ok(())
}

/// BGREWRITEAOF (and CONFIG SET appendonly yes): starts a rewrite now, or
/// schedules it while a save runs.
pub fn request(srv: &Arc<Server>) -> Result<Started, Refused> {
    match claim(srv) {
        Claim::Got => start_claimed(srv).map(|()| Started::Now),
        Claim::RewriteRunning => Err(Refused::AlreadyRunning),
        Claim::SaveRunning => {
            let st = &srv.aof.stats;
            st.rewrite_scheduled.store(true, Ordering::Relaxed);
            // As Redis: a manual request resets the back-off.
            st.consecutive_failures.store(0, Ordering::Relaxed);
            Ok(Started::Scheduled)
        }
    }
}

/// Redis's `aofRewriteLimited`: true while the back-off after repeated
/// failures lasts (logs when a new delay starts).
fn limited(srv: &Server, now_s: i64) -> bool {
    let st = &srv.aof.stats;
    let mut l = st.limit.lock();
    if st.consecutive_failures.load(Ordering::Relaxed) < 3 {
        *l = Limit::default();
        return false;
    }
    if l.next_at != 0 {
        if now_s < l.next_at {
            return true;
        }
        l.next_at = 0;
        return false;
    }
    l.delay_min = if l.delay_min == 0 {
        1
    } else {
        (l.delay_min * 2).min(60)
    };
    l.next_at = now_s + l.delay_min * 60;
    tracing::warn!(
        minutes = l.delay_min,
        "background AOF rewrite has repeatedly failed and triggered the limit, will retry later"
    );
    true
}

/// Called by the cron on every tick.
pub fn cron(srv: &Arc<Server>, now_ms: i64) {
    let st = &srv.aof.stats;
    let p = &srv.persist;
    if p.loading.load(Ordering::Relaxed)
        || p.in_progress.load(Ordering::Relaxed)
        || st.rewrite_in_progress.load(Ordering::Relaxed)
    {
        return;
    }
    let now_s = now_ms / 1000;
    let waiting_to_enable = !srv.aof.is_on() && srv.config.get_bool("appendonly");
    if st.rewrite_scheduled.load(Ordering::Relaxed) || waiting_to_enable {
        if !limited(srv, now_s) {
            if let Claim::Got = claim(srv) {
                let _ = start_claimed(srv);
            }
        }
        return;
    }
    if !srv.aof.is_on() {
        return;
    }
    let perc = srv.config.get_i64("auto-aof-rewrite-percentage");
    let min = srv.config.get_i64("auto-aof-rewrite-min-size").max(0) as u64;
    let cur = st.current_size.load(Ordering::Relaxed);
    if perc <= 0 || cur <= min {
        return;
    }
    let base = st.base_size.load(Ordering::Relaxed).max(1);
    let growth = (cur.saturating_mul(100) / base) as i64 - 100;
    if growth >= perc && !limited(srv, now_s) {
        if let Claim::Got = claim(srv) {
            tracing::info!(
                growth_percent = growth,
                "starting automatic rewriting of AOF"
            );
            let _ = start_claimed(srv);
        }
    }
}
