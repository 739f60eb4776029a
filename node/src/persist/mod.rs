//! Persistence: snapshots in Redis's RDB format and the append-only file.
//!
//! - [`aof`]: the append-only file in Redis 7's multi-part layout, fed by the
//!   propagation log (`repl::log`).
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
