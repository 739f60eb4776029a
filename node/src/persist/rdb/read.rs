//! The RDB decoder: a whole file ([`load`]) or one value ([`restore_payload`]).
//!
//! Input is read through [`Input`], which counts the offset (every error names
//! it) and checksums what it consumes. No length read from the input is
//! trusted for an allocation: strings grow as their bytes actually arrive,
//! and element counts only bound loops that each consume input.

use std::io::Read;

pub use super::input::Input;
use super::listpack::{self, Val};
use super::{crc64, op, ty, ziplist, Limits, RdbError, Value, RDB_VERSION_MAX};
use crate::db::types::list::End;
use crate::db::types::{Hash, List, Object, Set, ZSet};

/// What a file held besides its keys.
#[derive(Debug, Default)]
pub struct Summary {
    pub version: u16,
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    pub keys: u64,
    pub expired_skipped: u64,
    /// Bytes read, up to and including the checksum after `EOF` (an AOF base
    /// may go on with commands after its RDB preamble).
    pub end_offset: u64,
}

/// One key read from a file.
pub struct Loaded {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Value,
    pub expire: Option<i64>,
    /// `IDLE` seconds or `FREQ` counter, if the file had one.
    pub idle: Option<u64>,
    pub freq: Option<u8>,
}

/// Reads a whole RDB stream, handing each live key to `sink` (expired keys
/// and empty collections are skipped, as Redis's loader skips them on a
/// primary). Stops after `EOF` and its checksum.
pub fn load<R: Read>(
    r: R,
    lim: &Limits,
    now_ms: i64,
    sink: impl FnMut(Loaded) -> Result<(), RdbError>,
) -> Result<Summary, RdbError> {
    load_with(r, lim, now_ms, false, sink)
}

/// [`load`], or with `keep_expired` handing expired keys to `sink` too: an
/// AOF's RDB preamble, whose later commands may still read those keys (Redis
/// loads a preamble with `RDBFLAGS_AOF_PREAMBLE`, which keeps them).
pub fn load_with<R: Read>(
    r: R,
    lim: &Limits,
    now_ms: i64,
    keep_expired: bool,
    mut sink: impl FnMut(Loaded) -> Result<(), RdbError>,
) -> Result<Summary, RdbError> {
    let mut inp = Input::new(r);
    let magic = inp.bytes(9)?;
    if &magic[..5] != b"REDIS" {
        return inp.corrupt("not an RDB file (no REDIS magic)");
    }
    let version = std::str::from_utf8(&magic[5..])
        .ok()
        .and_then(|v| v.parse::<u16>().ok());
    let Some(version) = version.filter(|&v| v >= 1) else {
        return inp.corrupt("invalid RDB version");
    };
    if version > RDB_VERSION_MAX {
        return inp.unsupported(format!("RDB version {version} is newer than supported"));
    }
    let mut sum = Summary {
        version,
        ..Summary::default()
    };
    let mut db = 0usize;
    let mut expire: Option<i64> = None;
    let (mut idle, mut freq) = (None, None);
    loop {
        let record_at = inp.offset();
        let t = inp.u8()?;
        match t {
            op::EXPIRETIME_MS => {
                expire = Some(inp.ms_time()?);
                continue;
            }
            op::EXPIRETIME => {
                expire = Some(i32::from_le_bytes(inp.array()?) as i64 * 1000);
                continue;
            }
            op::IDLE => {
                idle = Some(inp.length()?);
                continue;
            }
            op::FREQ => {
                freq = Some(inp.u8()?);
                continue;
            }
            op::SELECTDB => {
                db = inp.usize()?;
                continue;
            }
            op::RESIZEDB => {
                inp.length()?;
                inp.length()?;
                continue;
            }
            op::AUX => {
                let k = inp.string()?;
                let v = inp.string()?;
                sum.aux.push((k, v));
                continue;
            }
            op::MODULE_AUX => return inp.unsupported("module data (modules are not supported)"),
            op::FUNCTION | op::FUNCTION2 => {
                return inp.unsupported("functions (FUNCTION LOAD is not supported)")
            }
            op::EOF => {
                if version >= 5 {
                    let expected = inp.crc();
                    let stored = u64::from_le_bytes(inp.array()?);
                    if stored != 0 && stored != expected {
                        return inp.corrupt(format!(
                            "checksum mismatch (file has {stored:#018x}, content sums to {expected:#018x})"
                        ));
                    }
                }
                sum.end_offset = inp.offset();
                return Ok(sum);
            }
            _ => {}
        }
        let key = inp.string()?;
        let value = read_value(&mut inp, t, lim, now_ms)?;
        let exp = expire.take();
        let (i, f) = (idle.take(), freq.take());
        if !keep_expired && exp.is_some_and(|at| at <= now_ms) {
            sum.expired_skipped += 1;
            continue;
        }
        if let Value::Obj(o) = &value {
            if o.is_empty() {
                continue;
            }
        }
        sum.keys += 1;
        sink(Loaded {
            db,
            key,
            value,
            expire: exp,
            idle: i,
            freq: f,
        })
        .map_err(|e| at_offset(e, record_at))?;
    }
}

/// Gives a sink's error (offset 0) the offset of the record it is about.
fn at_offset(e: RdbError, at: u64) -> RdbError {
    match e {
        RdbError::Corrupt { offset: 0, reason } => RdbError::Corrupt { offset: at, reason },
        RdbError::Unsupported { offset: 0, reason } => RdbError::Unsupported { offset: at, reason },
        e => e,
    }
}

/// Decodes a DUMP payload (`type value version:u16 crc64:u64`), checking its
/// version and checksum; `None` for Redis's "payload version or checksum are
/// wrong", `Err` when the value inside is bad.
pub fn restore_payload(
    payload: &[u8],
    lim: &Limits,
    now_ms: i64,
) -> Option<Result<Value, RdbError>> {
    if payload.len() < 10 {
        return None;
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION_MAX {
        return None;
    }
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&footer[2..]);
    if crc64::crc64(&payload[..payload.len() - 8]) != u64::from_le_bytes(crc) {
        return None;
    }
    let mut inp = Input::new(body);
    Some((|| {
        let t = inp.u8()?;
        let v = read_value(&mut inp, t, lim, now_ms)?;
        if inp.offset() != body.len() as u64 {
            return inp.corrupt("trailing bytes after the value");
        }
        Ok(v)
    })())
}

/// Reads the value of type `t`.
pub fn read_value<R: Read>(
    inp: &mut Input<R>,
    t: u8,
    lim: &Limits,
    now_ms: i64,
) -> Result<Value, RdbError> {
    let obj = match t {
        ty::STRING => return Ok(Value::Str(inp.string()?)),
        ty::LIST => {
            let n = inp.length()?;
            let mut l = List::default();
            for _ in 0..n {
                l.push(End::Tail, &inp.string()?, lim.list_fill);
            }
            Object::List(l)
        }
        ty::LIST_ZIPLIST => {
            let blob = inp.string()?;
            let mut l = List::default();
            push_vals(inp, &mut l, ziplist::ziplist(&blob), lim)?;
            Object::List(l)
        }
        ty::LIST_QUICKLIST | ty::LIST_QUICKLIST_2 => {
            let nodes = inp.length()?;
            let mut l = List::default();
            for _ in 0..nodes {
                let container = if t == ty::LIST_QUICKLIST_2 {
                    inp.length()?
                } else {
                    2
                };
                let blob = inp.string()?;
                match container {
                    1 => l.push(End::Tail, &blob, lim.list_fill),
                    2 if t == ty::LIST_QUICKLIST => {
                        push_vals(inp, &mut l, ziplist::ziplist(&blob), lim)?
                    }
                    2 => push_vals(inp, &mut l, listpack::collect(&blob), lim)?,
                    c => return inp.corrupt(format!("unknown quicklist container {c}")),
                }
            }
            Object::List(l)
        }
        ty::SET => {
            let n = inp.length()?;
            let mut s = Set::default();
            for i in 0..n {
                let m = inp.string()?;
                if i == 0 {
                    s = Set::for_member(&m);
                }
                if !s.add(&m, lim.set_max_intset) {
                    return inp.corrupt("duplicate set member");
                }
            }
            Object::Set(s)
        }
        ty::SET_INTSET => {
            let blob = inp.string()?;
            let members = match ziplist::intset(&blob) {
                Ok(m) => m,
                Err(e) => return inp.corrupt(e),
            };
            let mut s = Set::default();
            for v in members {
                s.add(itoa::Buffer::new().format(v).as_bytes(), lim.set_max_intset);
            }
            Object::Set(s)
        }
        ty::SET_LISTPACK => {
            let blob = inp.string()?;
            let vals = blob_vals(inp, listpack::collect(&blob))?;
            let mut s = Set::default();
            for (i, v) in vals.iter().enumerate() {
                let m = v.to_vec();
                if i == 0 {
                    s = Set::for_member(&m);
                }
                if !s.add(&m, lim.set_max_intset) {
                    return inp.corrupt("duplicate set member");
                }
            }
            Object::Set(s)
        }
        ty::ZSET | ty::ZSET_2 => {
            let n = inp.length()?;
            let mut z = ZSet::default();
            for _ in 0..n {
                let m = inp.string()?;
                let score = if t == ty::ZSET_2 {
                    inp.f64_bin()?
                } else {
                    inp.f64_text()?
                };
                if score.is_nan() {
                    return inp.corrupt("sorted set score is NaN");
                }
                if z.set(&m, score, lim.zset).is_some() {
                    return inp.corrupt("duplicate sorted set member");
                }
            }
            Object::ZSet(z)
        }
        ty::ZSET_ZIPLIST | ty::ZSET_LISTPACK => {
            let blob = inp.string()?;
            let vals = if t == ty::ZSET_ZIPLIST {
                blob_vals(inp, ziplist::ziplist(&blob))?
            } else {
                blob_vals(inp, listpack::collect(&blob))?
            };
            if vals.len() % 2 != 0 {
                return inp.corrupt("sorted set blob with an odd element count");
            }
            let mut z = ZSet::default();
            for p in vals.chunks_exact(2) {
                let score = match p[1] {
                    Val::Int(i) => i as f64,
                    Val::Str(s) => match crate::util::parse_f64(s) {
                        Some(v) if !v.is_nan() => v,
                        _ => return inp.corrupt("invalid sorted set score"),
                    },
                };
                if z.set(&p[0].to_vec(), score, lim.zset).is_some() {
                    return inp.corrupt("duplicate sorted set member");
                }
            }
            Object::ZSet(z)
        }
        ty::HASH => {
            let n = inp.length()?;
            let mut h = Hash::default();
            for _ in 0..n {
                let f = inp.string()?;
                let v = inp.string()?;
                if !h.set(&f, &v, lim.hash) {
                    return inp.corrupt("duplicate hash field");
                }
            }
            Object::Hash(h)
        }
        ty::HASH_ZIPMAP => {
            let blob = inp.string()?;
            let pairs = match ziplist::zipmap(&blob) {
                Ok(p) => p,
                Err(e) => return inp.corrupt(e),
            };
            let mut h = Hash::default();
            for (f, v) in pairs {
                if !h.set(f, v, lim.hash) {
                    return inp.corrupt("duplicate hash field");
                }
            }
            Object::Hash(h)
        }
        ty::HASH_ZIPLIST | ty::HASH_LISTPACK => {
            let blob = inp.string()?;
            let vals = if t == ty::HASH_ZIPLIST {
                blob_vals(inp, ziplist::ziplist(&blob))?
            } else {
                blob_vals(inp, listpack::collect(&blob))?
            };
            if vals.len() % 2 != 0 {
                return inp.corrupt("hash blob with an odd element count");
            }
            let mut h = Hash::default();
            for p in vals.chunks_exact(2) {
                if !h.set(&p[0].to_vec(), &p[1].to_vec(), lim.hash) {
                    return inp.corrupt("duplicate hash field");
                }
            }
            Object::Hash(h)
        }
        ty::STREAM_LISTPACKS | ty::STREAM_LISTPACKS_2 | ty::STREAM_LISTPACKS_3 => {
            Object::Stream(super::stream::read(inp, t, lim, now_ms)?)
        }
        ty::MODULE | ty::MODULE_2 => {
            return inp.unsupported("a module data type (modules are not supported)")
        }
        _ => return inp.corrupt(format!("unknown value type {t}")),
    };
    Ok(Value::Obj(obj))
}

fn blob_vals<'a, R: Read>(
    inp: &Input<R>,
    vals: Result<Vec<Val<'a>>, &'static str>,
) -> Result<Vec<Val<'a>>, RdbError> {
    match vals {
        Ok(v) => Ok(v),
        Err(e) => inp.corrupt(e),
    }
}

fn push_vals<R: Read>(
    inp: &Input<R>,
    l: &mut List,
    vals: Result<Vec<Val<'_>>, &'static str>,
    lim: &Limits,
) -> Result<(), RdbError> {
    for v in blob_vals(inp, vals)? {
        match v {
            Val::Str(s) => l.push(End::Tail, s, lim.list_fill),
            Val::Int(i) => l.push(
                End::Tail,
                itoa::Buffer::new().format(i).as_bytes(),
                lim.list_fill,
            ),
        }
    }
    Ok(())
}
