//! kcache-node: a multi-threaded, Redis-compatible cache node.
//!
//! Map: [`protocol`] parses requests and encodes replies; [`server`] runs the event
//! loops and the per-request path; [`cmd`] holds one file per command family;
//! [`db`] is the keyspace (lock-striped, compact entries); [`config`] the
//! parameters; [`stats`] the counters behind INFO and `/metrics`.

pub mod alloc;
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
