//! The RESP client the operator uses, shared so that the suite talks to nodes
//! the way the operator does (here over a port-forwarded stream).

pub use kcache_operator::resp::*;
