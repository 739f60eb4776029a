//! The RDB format, as redis-server 7.0 writes and loads it: [`write`] encodes
//! (files, chunks of a snapshot, DUMP payloads), [`read`] decodes (files,
//! RESTORE payloads). The blob formats inside values have their own files:
//! [`listpack`], [`ziplist`] (ziplist, zipmap, intset), [`stream`]; the
//! primitives are [`crc64`] and [`lzf`].
//!
//! A file is `REDIS0010`, AUX fields, then per database `SELECTDB n`
//! (`RESIZEDB`), then per key `[EXPIRETIME_MS t] [IDLE s | FREQ f] type key
//! value`, then `EOF` and the CRC-64 of everything before it (0 when the
//! writer had `rdbchecksum no`).
//!
//! The codec knows nothing of the keyspace: the writer takes borrowed values
//! ([`crate::db::entry::ValueRef`]), the reader hands out owned [`Value`]s, so
//! the same code serves SAVE, the start-up load, DUMP/RESTORE, the AOF base
//! file and a replica's full sync.

pub mod crc64;
pub mod input;
pub mod listpack;
pub mod lzf;
pub mod read;
pub mod stream;
pub mod write;
pub mod ziplist;

use crate::config::Config;
use crate::db::types::stream::NodeLimits;
use crate::db::types::{hash, zset, Object};

/// The RDB version written (Redis 7.0's).
pub const RDB_VERSION: u16 = 10;
/// The newest version read (Redis 7.2's; its additions are cheap to load).
pub const RDB_VERSION_MAX: u16 = 11;

/// Value types.
pub mod ty {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
}

/// Opcodes between keys.
pub mod op {
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// Why a file or payload was refused.
#[derive(Debug, thiserror::Error)]
pub enum RdbError {
    /// Damaged, truncated or not RDB at all; `offset` is where reading stopped.
    #[error("bad RDB data at offset {offset}: {reason}")]
    Corrupt { offset: u64, reason: String },
    /// Valid RDB that kcache does not load (modules, functions, a newer version).
    #[error("unsupported RDB content at offset {offset}: {reason}")]
    Unsupported { offset: u64, reason: String },
    #[error("I/O error at offset {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: std::io::Error,
    },
}

/// A decoded value.
pub enum Value {
    Str(Vec<u8>),
    Obj(Object),
}

/// The encoding thresholds used to build loaded values (the same as for
/// commands, so a loaded value is encoded as if it had been written here).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub hash: hash::Limits,
    pub zset: zset::Limits,
    pub set_max_intset: usize,
    pub list_fill: i64,
    pub stream: NodeLimits,
}

impl Limits {
    pub fn from_config(cfg: &Config) -> Limits {
        let enc = &cfg.enc;
        let n = |v: &std::sync::atomic::AtomicI64| usize::try_from(enc.get(v)).unwrap_or(0);
        Limits {
            hash: hash::Limits {
                entries: n(&enc.hash_max_listpack_entries),
                value: n(&enc.hash_max_listpack_value),
            },
            zset: zset::Limits {
                max_entries: n(&enc.zset_max_listpack_entries),
                max_value: n(&enc.zset_max_listpack_value),
            },
            set_max_intset: n(&enc.set_max_intset_entries),
            list_fill: enc.get(&enc.list_max_listpack_size),
            stream: NodeLimits {
                max_bytes: enc.get(&enc.stream_node_max_bytes),
                max_entries: enc.get(&enc.stream_node_max_entries),
            },
        }
    }
}

impl Default for Limits {
    /// Redis 7.0's defaults.
    fn default() -> Limits {
        Limits {
            hash: hash::Limits {
                entries: 128,
                value: 64,
            },
            zset: zset::Limits {
                max_entries: 128,
                max_value: 64,
            },
            set_max_intset: 512,
            list_fill: -2,
            stream: NodeLimits {
                max_bytes: 4096,
                max_entries: 100,
            },
        }
    }
}

#[cfg(test)]
mod tests;
