//! The RDB encoder. Everything appends to a `Vec<u8>`: a snapshot serialises a
//! stripe into one buffer (a chunk) under the stripe's lock and writes it out
//! after, so the encoder never does I/O.
//!
//! Encodings chosen as redis-server 7.0 chooses them: compact values as their
//! blob types (`HASH_LISTPACK`, `ZSET_LISTPACK`, `SET_INTSET`), lists as
//! `QUICKLIST_2` of listpack nodes, large hashes, sets and sorted sets as the
//! plain types (`HASH`, `SET`, `ZSET_2`), streams as `STREAM_LISTPACKS_2`.

use super::listpack::Writer as Lp;
use super::{crc64, lzf, op, ty, ziplist, RDB_VERSION};
use crate::db::entry::ValueRef;
use crate::db::types::set::Member;
use crate::db::types::{Hash, List, Object, Set, ZSet};

/// Encoder options (`rdbcompression`).
#[derive(Clone, Copy, Debug)]
pub struct Opts {
    pub compress: bool,
}

/// Per-key access metadata, written as Redis does under an LRU (`IDLE`) or
/// LFU (`FREQ`) eviction policy.
#[derive(Clone, Copy, Debug)]
pub enum Access {
    Idle(u64),
    Freq(u8),
}

/// Redis's length encoding: 6, 14, 32 or 64 bits.
pub fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// A string: as an 8/16/32-bit integer when it is one (Redis's
/// `rdbTryIntegerEncoding`), LZF-compressed over 20 bytes when that saves at
/// least 4 bytes and compression is on, raw otherwise.
pub fn put_string(out: &mut Vec<u8>, s: &[u8], opts: Opts) {
    if s.len() <= 11 {
        if let Some(v) = crate::util::parse_i64_strict(s) {
            if let Ok(b) = i8::try_from(v) {
                out.extend_from_slice(&[0xc0, b as u8]);
                return;
            } else if let Ok(h) = i16::try_from(v) {
                out.push(0xc1);
                out.extend_from_slice(&h.to_le_bytes());
                return;
            } else if let Ok(w) = i32::try_from(v) {
                out.push(0xc2);
                out.extend_from_slice(&w.to_le_bytes());
                return;
            }
        }
    }
    if opts.compress && s.len() > 20 {
        if let Some(c) = lzf::compress(s, s.len() - 4) {
            out.push(0xc3);
            put_len(out, c.len() as u64);
            put_len(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Redis's `rdbSaveMillisecondTime`: 8 bytes little-endian.
pub fn put_ms(out: &mut Vec<u8>, ms: i64) {
    out.extend_from_slice(&ms.to_le_bytes());
}

/// The magic and version, then AUX fields.
pub fn header(out: &mut Vec<u8>, aux_fields: &[(&str, String)]) {
    out.extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
    for (k, v) in aux_fields {
        aux(out, k, v.as_bytes());
    }
}

pub fn aux(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let raw = Opts { compress: false };
    out.push(op::AUX);
    put_string(out, key.as_bytes(), raw);
    put_string(out, value, raw);
}

/// The AUX fields redis-server 7.0 writes at the head of a file.
pub fn standard_aux(now_ms: i64, used_mem: u64, aof_base: bool) -> Vec<(&'static str, String)> {
    vec![
        ("redis-ver", crate::REDIS_COMPAT_VERSION.to_string()),
        ("redis-bits", "64".to_string()),
        ("ctime", (now_ms / 1000).to_string()),
        ("used-mem", used_mem.to_string()),
        ("aof-base", (aof_base as u8).to_string()),
    ]
}

pub fn select_db(out: &mut Vec<u8>, db: usize) {
    out.push(op::SELECTDB);
    put_len(out, db as u64);
}

pub fn resize_db(out: &mut Vec<u8>, keys: u64, expires: u64) {
    out.push(op::RESIZEDB);
    put_len(out, keys);
    put_len(out, expires);
}

/// `EOF` and the checksum of everything before it, given as `crc` (the
/// caller checksums as it writes; pass 0 for `rdbchecksum no`).
pub fn trailer(crc: Option<u64>, out: &mut Vec<u8>) -> u64 {
    out.push(op::EOF);
    let sum = crc.map_or(0, |c| crc64::update(c, &[op::EOF]));
    out.extend_from_slice(&sum.to_le_bytes());
    sum
}

/// One key: its expiry, access metadata, type, name and value.
pub fn key_value(
    out: &mut Vec<u8>,
    key: &[u8],
    v: ValueRef<'_>,
    expire: Option<i64>,
    access: Option<Access>,
    opts: Opts,
) {
    if let Some(at) = expire {
        out.push(op::EXPIRETIME_MS);
        put_ms(out, at);
    }
    match access {
        Some(Access::Idle(s)) => {
            out.push(op::IDLE);
            put_len(out, s);
        }
        Some(Access::Freq(f)) => out.extend_from_slice(&[op::FREQ, f]),
        None => {}
    }
    let at = out.len();
    out.push(0);
    put_string(out, key, opts);
    let t = value_body(out, v, opts);
    out[at] = t;
}

/// The type byte and body of a value (DUMP's payload before its footer).
pub fn value(out: &mut Vec<u8>, v: ValueRef<'_>, opts: Opts) {
    let at = out.len();
    out.push(0);
    let t = value_body(out, v, opts);
    out[at] = t;
}

/// A DUMP payload: type, value, RDB version (2 bytes LE), CRC-64 (8 bytes LE).
pub fn dump_payload(v: ValueRef<'_>, opts: Opts) -> Vec<u8> {
    let mut out = Vec::new();
    value(&mut out, v, opts);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Appends the body of `v`; returns its type byte.
fn value_body(out: &mut Vec<u8>, v: ValueRef<'_>, opts: Opts) -> u8 {
    match v {
        ValueRef::Str(s) => {
            put_string(out, s, opts);
            ty::STRING
        }
        ValueRef::Obj(Object::Hash(h)) => hash(out, h, opts),
        ValueRef::Obj(Object::List(l)) => list(out, l, opts),
        ValueRef::Obj(Object::Set(s)) => set(out, s, opts),
        ValueRef::Obj(Object::ZSet(z)) => zset(out, z, opts),
        ValueRef::Obj(Object::Stream(s)) => {
            super::stream::write(out, s, opts);
            ty::STREAM_LISTPACKS_2
        }
    }
}

fn hash(out: &mut Vec<u8>, h: &Hash, opts: Opts) -> u8 {
    if let Hash::Listpack(_) = h {
        let mut lp = Lp::new();
        for (f, v) in h.iter() {
            lp.str(f);
            lp.str(v);
        }
        put_string(out, &lp.finish(), opts);
        return ty::HASH_LISTPACK;
    }
    put_len(out, h.len() as u64);
    for (f, v) in h.iter() {
        put_string(out, f, opts);
        put_string(out, v, opts);
    }
    ty::HASH
}

/// Largest listpack a quicklist node gets (Redis's default fill, -2: 8 KiB).
const LIST_NODE_BYTES: usize = 8192;

fn list(out: &mut Vec<u8>, l: &List, opts: Opts) -> u8 {
    // Nodes are cut at the default fill; the node count is only known at
    // the end, so the nodes are encoded first.
    let mut body = Vec::new();
    let mut nodes = 0u64;
    let mut lp = Lp::new();
    let mut lp_len = 0usize;
    let mut lp_bytes = 0usize;
    for e in l.iter() {
        if lp_len > 0 && lp_bytes + e.len() + 11 > LIST_NODE_BYTES {
            put_len(&mut body, 2);
            put_string(&mut body, &std::mem::take(&mut lp).finish(), opts);
            nodes += 1;
            lp_len = 0;
            lp_bytes = 0;
        }
        lp.str(e);
        lp_len += 1;
        lp_bytes += e.len() + 11;
    }
    if lp_len > 0 {
        put_len(&mut body, 2);
        put_string(&mut body, &lp.finish(), opts);
        nodes += 1;
    }
    put_len(out, nodes);
    out.extend_from_slice(&body);
    ty::LIST_QUICKLIST_2
}

fn set(out: &mut Vec<u8>, s: &Set, opts: Opts) -> u8 {
    if let Set::Ints(i) = s {
        let members: Vec<i64> = i.iter().collect();
        put_string(out, &ziplist::write_intset(&members), opts);
        return ty::SET_INTSET;
    }
    put_len(out, s.len() as u64);
    for m in s.iter() {
        match m {
            Member::Bytes(b) => put_string(out, b, opts),
            Member::Int(v) => put_string(out, itoa::Buffer::new().format(v).as_bytes(), opts),
        }
    }
    ty::SET
}

fn zset(out: &mut Vec<u8>, z: &ZSet, opts: Opts) -> u8 {
    if let ZSet::Pack(_) = z {
        let mut lp = Lp::new();
        z.for_each(&mut |m, s| {
            lp.str(m);
            lp.str(crate::util::format_f64(s).as_bytes());
        });
        put_string(out, &lp.finish(), opts);
        return ty::ZSET_LISTPACK;
    }
    put_len(out, z.len() as u64);
    // From the highest rank down, as Redis writes it (a loader inserting at
    // the head then builds the skiplist in order).
    z.range(0, z.len(), true, &mut |m, s| {
        put_string(out, m, opts);
        out.extend_from_slice(&s.to_le_bytes());
    });
    ty::ZSET_2
}
