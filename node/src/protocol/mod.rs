//! The wire protocol: request parsing and reply encoding.

pub mod parse;
pub mod reply;

pub use parse::{Limits, Parser, ProtocolError, Request};
pub use reply::Out;
