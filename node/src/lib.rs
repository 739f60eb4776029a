//! kcache-node: a multi-threaded, Redis-compatible cache node.
//!
//! Map: [`protocol`] parses requests and encodes replies; [`server`] runs the
//! event loops, the per-request path and the shared services (blocking,
//! pub/sub, notifications, watch, eviction, pause); [`cmd`] holds one module
//! per command family; [`db`] is the keyspace (lock stripes, compact entries,
//! the data types); [`persist`] the RDB snapshots and the append-only file;
//! [`repl`] the propagation log, replication and failover; [`cluster`] the
//! node id and the cluster map the operator pushes; [`config`] the
//! parameters; [`stats`] the counters behind INFO and `/metrics`; [`util`] and
//! [`alloc`] the helpers everything else may use.
//!
//! The layers these modules form (transport, dispatch, commands, services,
//! keyspace, protocol and util) and the test that keeps calls going down are
//! in `node/ARCHITECTURE.md`.

pub mod alloc;
pub mod cluster;
pub mod cmd;
pub mod config;
pub mod db;
pub mod persist;
pub mod protocol;
pub mod repl;
pub mod server;
pub mod stats;
pub mod util;

/// Version reported by INFO and `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The Redis version whose semantics the node follows (reported to clients that
/// check it, such as redis-py's and cluster clients' feature detection).
pub const REDIS_COMPAT_VERSION: &str = "7.0.15";
