//! Hash commands: HSET HGET ... HRANDFIELD HSCAN.
//!
//! Every command locks the one stripe of its key; writes go through
//! [`typed::write_or_create`] / [`typed::write_existing`] and delete the key
//! when they leave the hash empty, as Redis does.

use super::coll::{self, COUNT_RANGE, MAX_REPEATS};
use super::flags::*;
use super::{arity_error, err, typed, Args, CmdResult, CommandSpec, Ctx, SYNTAX};
use crate::db::types::hash::{Hash, Limits};
use crate::db::types::Object;

macro_rules! cmd {
    ($name:expr, $arity:expr, $flags:expr, $h:expr, $since:expr, $summary:expr) => {
        CommandSpec::new(
            $name,
            $arity,
            $flags,
            (1, 1, 1),
            $h,
            "hash",
            $since,
            $summary,
        )
    };
}

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("hset", -4, WRITE | DENYOOM | FAST, hset, "2.0.0", "Creates or modifies the value of a field in a hash."),
    cmd!("hsetnx", 4, WRITE | DENYOOM | FAST, hsetnx, "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist."),
    cmd!("hmset", -4, WRITE | DENYOOM | FAST, hmset, "2.0.0", "Sets the values of multiple fields."),
    cmd!("hget", 3, READONLY | FAST, hget, "2.0.0", "Returns the value of a field in a hash."),
    cmd!("hmget", -3, READONLY | FAST, hmget, "2.0.0", "Returns the values of all fields in a hash."),
    cmd!("hdel", -3, WRITE | FAST, hdel, "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain."),
    cmd!("hexists", 3, READONLY | FAST, hexists, "2.0.0", "Determines whether a field exists in a hash."),
    cmd!("hlen", 2, READONLY | FAST, hlen, "2.0.0", "Returns the number of fields in a hash."),
    cmd!("hstrlen", 3, READONLY | FAST, hstrlen, "3.2.0", "Returns the length of the value of a field."),
    cmd!("hkeys", 2, READONLY, hkeys, "2.0.0", "Returns all fields in a hash."),
    cmd!("hvals", 2, READONLY, hvals, "2.0.0", "Returns all values in a hash."),
    cmd!("hgetall", 2, READONLY, hgetall, "2.0.0", "Returns all fields and values in a hash."),
    cmd!("hincrby", 4, WRITE | DENYOOM | FAST, hincrby, "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist."),
    cmd!("hincrbyfloat", 4, WRITE | DENYOOM | FAST, hincrbyfloat, "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist."),
    cmd!("hrandfield", -2, READONLY, hrandfield, "6.2.0", "Returns one or more random fields from a hash."),
    cmd!("hscan", -3, READONLY, hscan, "2.8.0", "Iterates over fields and values of a hash."),
];

fn pick(o: &Object) -> Option<&Hash> {
    match o {
        Object::Hash(h) => Some(h),
        _ => None,
    }
}

fn pick_mut(o: &mut Object) -> Option<&mut Hash> {
    match o {
        Object::Hash(h) => Some(h),
        _ => None,
    }
}

fn new_hash() -> Object {
    Object::Hash(Hash::default())
}

/// The listpack thresholds in force (negative settings count as 0).
fn limits(ctx: &Ctx) -> Limits {
    let enc = &ctx.srv.config.enc;
    let get = |v| usize::try_from(enc.get(v)).unwrap_or(0);
    Limits {
        entries: get(&enc.hash_max_listpack_entries),
        value: get(&enc.hash_max_listpack_value),
    }
}

/// Sets the field/value pairs `args[2..]`; returns how many fields were new.
fn set_pairs(ctx: &mut Ctx, args: &Args, name: &str) -> Result<i64, super::CmdError> {
    if !args.len().is_multiple_of(2) {
        return Err(arity_error(name));
    }
    let lim = limits(ctx);
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let hash = typed::write_or_create(ctx, &mut sh, h, key, new_hash, pick_mut)?;
    hash.convert_for(args.iter().skip(2), lim);
    hash.reserve_for(args.iter().skip(2));
    let mut created = 0;
    for i in (2..args.len()).step_by(2) {
        created += hash.set(args.get(i), args.get(i + 1), lim) as i64;
    }
    hash.trim();
    Ok(created)
}

/// `HSET key field value [field value ...]`
fn hset(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let n = set_pairs(ctx, args, "hset")?;
    ctx.out.int(n);
    Ok(())
}

/// `HMSET key field value [field value ...]`
fn hmset(ctx: &mut Ctx, args: &Args) -> CmdResult {
    set_pairs(ctx, args, "hmset")?;
    ctx.out.ok();
    Ok(())
}

/// `HSETNX key field value`
fn hsetnx(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let lim = limits(ctx);
    let (key, field, value) = (args.get(1), args.get(2), args.get(3));
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let hash = typed::write_or_create(ctx, &mut sh, h, key, new_hash, pick_mut)?;
    if hash.contains(field) {
        ctx.out.int(0);
        return Ok(());
    }
    hash.convert_for([field, value], lim);
    hash.set(field, value, lim);
    hash.trim();
    ctx.out.int(1);
    Ok(())
}

/// `HGET key field`
fn hget(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    match typed::read(ctx, &mut sh, h, key, pick)?.and_then(|x| x.get(args.get(2))) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

/// `HMGET key field [field ...]`
fn hmget(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let hash = typed::read(ctx, &mut sh, h, key, pick)?;
    ctx.out.array(args.len() - 2);
    for f in args.iter().skip(2) {
        match hash.and_then(|x| x.get(f)) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// `HDEL key field [field ...]`
fn hdel(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let mut n = 0;
    if let Some(hash) = typed::write_existing(ctx, &mut sh, h, key, pick_mut)? {
        for f in args.iter().skip(2) {
            n += hash.remove(f) as i64;
            if hash.is_empty() {
                break;
            }
        }
        typed::remove_if_empty(&mut sh, h, key);
    }
    ctx.out.int(n);
    Ok(())
}

/// Runs `f` on the hash at `args[1]` (None when missing).
fn with_hash<R>(
    ctx: &mut Ctx,
    args: &Args,
    f: impl FnOnce(Option<&Hash>) -> R,
) -> Result<R, super::CmdError> {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let hash = typed::read(ctx, &mut sh, h, key, pick)?;
    Ok(f(hash))
}

/// `HEXISTS key field`
fn hexists(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let n = with_hash(ctx, args, |x| x.is_some_and(|x| x.contains(args.get(2))))?;
    ctx.out.int(n as i64);
    Ok(())
}

/// `HLEN key`
fn hlen(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let n = with_hash(ctx, args, |x| x.map_or(0, Hash::len))?;
    ctx.out.int(n as i64);
    Ok(())
}

/// `HSTRLEN key field`
fn hstrlen(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let n = with_hash(ctx, args, |x| {
        x.and_then(|x| x.get(args.get(2))).map_or(0, <[u8]>::len)
    })?;
    ctx.out.int(n as i64);
    Ok(())
}

/// What HKEYS, HVALS and HGETALL send.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Keys,
    Vals,
    Both,
}

fn get_all(ctx: &mut Ctx, args: &Args, part: Part) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let hash = typed::read(ctx, &mut sh, h, key, pick)?;
    let n = hash.map_or(0, Hash::len);
    if part == Part::Both {
        ctx.out.map(n);
    } else {
        ctx.out.array(n);
    }
    for (f, v) in hash.into_iter().flat_map(|x| x.iter()) {
        if part != Part::Vals {
            ctx.out.bulk(f);
        }
        if part != Part::Keys {
            ctx.out.bulk(v);
        }
    }
    Ok(())
}

/// `HKEYS key`
fn hkeys(ctx: &mut Ctx, args: &Args) -> CmdResult {
    get_all(ctx, args, Part::Keys)
}

/// `HVALS key`
fn hvals(ctx: &mut Ctx, args: &Args) -> CmdResult {
    get_all(ctx, args, Part::Vals)
}

/// `HGETALL key`
fn hgetall(ctx: &mut Ctx, args: &Args) -> CmdResult {
    get_all(ctx, args, Part::Both)
}

/// Replaces the value of `field` with `f(current)`; `f` sees `None` when the
/// field (or the key) is missing and may refuse with an error, in which case
/// nothing is created.
fn update_field(
    ctx: &mut Ctx,
    args: &Args,
    f: impl FnOnce(Option<&[u8]>) -> Result<Vec<u8>, super::CmdError>,
) -> Result<Vec<u8>, super::CmdError> {
    let lim = limits(ctx);
    let (key, field) = (args.get(1), args.get(2));
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let current = typed::write_existing(ctx, &mut sh, h, key, pick_mut)?;
    let new = f(current
        .and_then(|x| x.get(field).map(<[u8]>::to_vec))
        .as_deref())?;
    let hash = typed::write_or_create(ctx, &mut sh, h, key, new_hash, pick_mut)?;
    hash.set(field, &new, lim);
    hash.trim();
    Ok(new)
}

/// `HINCRBY key field increment`
fn hincrby(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let incr = args.int(3)?;
    let mut result = 0;
    update_field(ctx, args, |cur| {
        let v = match cur {
            Some(s) => {
                crate::util::parse_i64_strict(s).ok_or("ERR hash value is not an integer")?
            }
            None => 0,
        };
        result = v.checked_add(incr).ok_or(super::OVERFLOW)?;
        Ok(itoa::Buffer::new().format(result).as_bytes().to_vec())
    })?;
    ctx.out.int(result);
    Ok(())
}

/// `HINCRBYFLOAT key field increment`
///
/// Computed in `long double` as Redis 7.0 does (`util::long_double`, shared
/// with INCRBYFLOAT), so results match to the last digit. Errors: `ERR value
/// is not a valid float` (increment), `ERR value is NaN or Infinity` (an
/// infinite increment, checked before the key), `ERR hash value is not a
/// float`, `ERR increment would produce NaN or Infinity`. Reply: the new value
/// as a bulk string.
fn hincrbyfloat(ctx: &mut Ctx, args: &Args) -> CmdResult {
    use crate::util::long_double::{self as ld, Ld};
    let incr = ld::parse(args.get(3)).ok_or(super::NOT_FLOAT)?;
    if matches!(incr, Ld::Inf { .. }) {
        return err("ERR value is NaN or Infinity");
    }
    let new = update_field(ctx, args, |cur| {
        let v = ld::parse(cur.unwrap_or(b"0")).ok_or("ERR hash value is not a float")?;
        match ld::add(v, incr) {
            Ld::Inf { .. } => err("ERR increment would produce NaN or Infinity"),
            sum => Ok(ld::format_human(sum).into_bytes()),
        }
    })?;
    ctx.out.bulk(&new);
    // Float formatting may differ between builds: replay the result.
    ctx.propagate_as(&[b"HSET", args.get(1), args.get(2), &new]);
    Ok(())
}

/// `HRANDFIELD key [count [WITHVALUES]]`
fn hrandfield(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() == 2 {
        let key = args.get(1);
        let h = ctx.hash(key);
        let mut sh = ctx.db().lock(h);
        let picked = typed::read(ctx, &mut sh, h, key, pick)?.and_then(|x| {
            let idx = x.indexed();
            idx.get(coll::random_index(idx.len().max(1)))
        });
        match picked {
            Some((f, _)) => ctx.out.bulk(f),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let l = args.int(2)?;
    if l == i64::MIN {
        return err(COUNT_RANGE);
    }
    let with_values = match args.len() {
        3 => false,
        4 if args.is(3, "withvalues") => true,
        _ => return err(SYNTAX),
    };
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return err("ERR value is out of range");
    }
    if l < 0 && l.unsigned_abs() > MAX_REPEATS {
        return err("ERR value is out of range");
    }
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(hash) = typed::read(ctx, &mut sh, h, key, pick)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let idx = hash.indexed();
    let size = idx.len();
    let flat_pairs = with_values && !ctx.out.resp3;
    let reply_len = |n: usize| if flat_pairs { n * 2 } else { n };
    if l < 0 {
        let n = l.unsigned_abs() as usize;
        ctx.out.array(reply_len(n));
        for _ in 0..n {
            if let Some((f, v)) = idx.get(coll::random_index(size)) {
                write_pair(ctx.out, f, v, with_values);
            }
        }
        return Ok(());
    }
    let n = usize::try_from(l).unwrap_or(usize::MAX);
    if n >= size {
        ctx.out.array(reply_len(size));
        for (f, v) in hash.iter() {
            write_pair(ctx.out, f, v, with_values);
        }
        return Ok(());
    }
    ctx.out.array(reply_len(n));
    for i in coll::distinct_indices(size, n) {
        if let Some((f, v)) = idx.get(i) {
            write_pair(ctx.out, f, v, with_values);
        }
    }
    Ok(())
}

/// One HRANDFIELD element: the field, or `[field, value]` (flat in RESP2).
fn write_pair(out: &mut crate::protocol::Out, f: &[u8], v: &[u8], with_values: bool) {
    if with_values && out.resp3 {
        out.array(2);
    }
    out.bulk(f);
    if with_values {
        out.bulk(v);
    }
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count]`
fn hscan(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let cursor = coll::scan_cursor(args)?;
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(hash) = typed::read(ctx, &mut sh, h, key, pick)? else {
        coll::empty_scan(ctx.out);
        return Ok(());
    };
    let opts = coll::scan_options(args, cursor)?;
    let mut body = coll::side_buffer(ctx);
    let mut n = 0;
    let next = hash.scan(opts.cursor, opts.count, |f, v| {
        if opts.matches(f) {
            body.bulk(f);
            body.bulk(v);
            n += 2;
        }
    });
    coll::scan_reply(ctx.out, next, n, &body);
    Ok(())
}
