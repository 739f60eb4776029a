//! Persistence: snapshots in Redis's RDB format and the append-only file.
//!
//! - [`aof`]: the append-only file in Redis 7's multi-part layout, fed by the
//!   propagation log (`db::log`).
//! - [`rdb`]: the codec (files, DUMP/RESTORE payloads), independent of the
//!   keyspace.
//! - [`snapshot`]: point-in-time snapshots taken without stopping writes and
//!   without fork's memory doubling (see its documentation for the design).
//! - [`save`]: SAVE/BGSAVE and the `save` rules, the file protocol (temp file,
//!   fsync, rename) and the start-up load.

pub mod aof;
pub mod rdb;
pub mod save;
pub mod snapshot;

/// Redis's reply to a write while the last BGSAVE failed (with
/// `stop-writes-on-bgsave-error yes` and save rules set).
pub const BGSAVE_ERR: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// Why writes are refused for a disk problem (Redis's
/// `writeCommandsDeniedByDiskError`), or `None`: the last BGSAVE failed while
/// save rules ask for snapshots and `stop-writes-on-bgsave-error` is on, or
/// the last write (or fsync) of the AOF failed. Two relaxed loads.
#[inline]
pub fn write_refusal(srv: &crate::server::Server, stop_on_bgsave_error: bool) -> Option<String> {
    use std::sync::atomic::Ordering::Relaxed;
    if stop_on_bgsave_error && !srv.persist.last_bgsave_ok.load(Relaxed) {
        return Some(BGSAVE_ERR.into());
    }
    if srv.aof.is_on() && srv.aof.stats.last_write_failed.load(Relaxed) {
        return Some(format!(
            "MISCONF Errors writing to the AOF file: {}",
            srv.aof.stats.last_write_error()
        ));
    }
    None
}
