//! Replication and command propagation. The global log of write effects that
//! the append-only file, the replication backlog and the replica links consume
//! belongs to the keyspace ([`crate::db::log`]), which appends to it under its
//! stripe locks; this module decides what a command propagates and ships the
//! log to replicas.
//!
//! - [`prop`]: what a running command propagates ([`prop::Prop`] on `Ctx`) and
//!   [`prop::call`], which runs a write with its stripes pre-held and appends
//!   its effects while they are still held.
//! - [`primary`]: the primary side: the backlog, answering PSYNC/SYNC,
//!   streaming to replicas, WAIT and min-replicas.
//! - [`replica`]: the replica side: the link to a primary, full and partial
//!   sync, applying its stream.
//! - [`topology`]: the operator's topology epoch (the fence of TOPOLOGY
//!   commands, kept in `dir`) and whether the node's role was confirmed.
//! - [`failover`]: FAILOVER, the coordinated hand-over of the primary role.
//! - [`rewrite`]: helpers that build the deterministic forms of time-relative
//!   and random commands (absolute expiry times, `SET ... KEEPTTL`, ...).

pub mod failover;
pub mod primary;
pub mod prop;
pub mod replica;
pub mod rewrite;
pub mod topology;

pub use self::prop::Prop;
