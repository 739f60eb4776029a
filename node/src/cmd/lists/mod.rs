//! List commands: pushes, pops, indexed access, LPOS, LMOVE and LMPOP.
//!
//! Pops are written once, as functions over an already locked stripe
//! ([`serve_pop`], [`serve_move`]), so that the blocking variants (BLPOP, BLMOVE,
//! BLMPOP) can later serve a woken client by calling the same function with the
//! reply shape they need.

mod access;

use super::flags::*;
use super::{arity_error, err, typed, Args, CmdError, CmdResult, CommandSpec, Ctx, SYNTAX};
use crate::db::types::list::{End, List};
use crate::db::types::Object;
use crate::db::{MultiLock, Stripe};

macro_rules! cmd {
    ($name:expr, $arity:expr, $flags:expr, $first:expr, $last:expr, $h:expr, $since:expr, $summary:expr) => {
        CommandSpec::new(
            $name,
            $arity,
            $flags,
            ($first, $last, if $first == 0 { 0 } else { 1 }),
            $h,
            "list",
            $since,
            $summary,
        )
    };
}

pub static COMMANDS: &[CommandSpec] = &[
    cmd!("lpush", -3, WRITE | DENYOOM | FAST, 1, 1, lpush, "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist."),
    cmd!("rpush", -3, WRITE | DENYOOM | FAST, 1, 1, rpush, "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist."),
    cmd!("lpushx", -3, WRITE | DENYOOM | FAST, 1, 1, lpushx, "2.2.0", "Prepends one or more elements to a list only when the list exists."),
    cmd!("rpushx", -3, WRITE | DENYOOM | FAST, 1, 1, rpushx, "2.2.0", "Appends an element to a list only when the list exists."),
    cmd!("lpop", -2, WRITE | FAST, 1, 1, lpop, "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped."),
    cmd!("rpop", -2, WRITE | FAST, 1, 1, rpop, "1.0.0", "Returns and removes the last elements of a list. Deletes the list if the last element was popped."),
    cmd!("llen", 2, READONLY | FAST, 1, 1, access::llen, "1.0.0", "Returns the length of a list."),
    cmd!("lindex", 3, READONLY, 1, 1, access::lindex, "1.0.0", "Returns an element from a list by its index."),
    cmd!("linsert", 5, WRITE | DENYOOM, 1, 1, access::linsert, "2.2.0", "Inserts an element before or after another element in a list."),
    cmd!("lset", 4, WRITE | DENYOOM, 1, 1, access::lset, "1.0.0", "Sets the value of an element in a list by its index."),
    cmd!("lrange", 4, READONLY, 1, 1, access::lrange, "1.0.0", "Returns a range of elements from a list."),
    cmd!("lrem", 4, WRITE, 1, 1, access::lrem, "1.0.0", "Removes elements from a list. Deletes the list if the last element was removed."),
    cmd!("ltrim", 4, WRITE, 1, 1, access::ltrim, "1.0.0", "Removes elements from both ends a list. Deletes the list if all elements were trimmed."),
    cmd!("lpos", -3, READONLY, 1, 1, access::lpos, "6.0.6", "Returns the index of matching elements in a list."),
    cmd!("lmove", 5, WRITE | DENYOOM, 1, 2, lmove, "6.2.0", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved."),
    cmd!("rpoplpush", 3, WRITE | DENYOOM, 1, 2, rpoplpush, "1.2.0", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped."),
    cmd!("lmpop", -4, WRITE | MOVABLEKEYS, 0, 0, lmpop, "7.0.0", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped."),
];

pub(crate) fn pick(o: &Object) -> Option<&List> {
    match o {
        Object::List(l) => Some(l),
        _ => None,
    }
}

pub(crate) fn pick_mut(o: &mut Object) -> Option<&mut List> {
    match o {
        Object::List(l) => Some(l),
        _ => None,
    }
}

fn new_list() -> Object {
    Object::List(List::default())
}

/// The current `list-max-listpack-size`.
pub(crate) fn fill(ctx: &Ctx) -> i64 {
    let enc = &ctx.srv.config.enc;
    enc.get(&enc.list_max_listpack_size)
}

/// Redis's `getRangeLongFromObjectOrReply`: `msg` (when given) replaces both the
/// not-an-integer and the out-of-range errors.
pub(crate) fn range_long(
    args: &Args,
    i: usize,
    min: i64,
    max: i64,
    msg: Option<&'static str>,
) -> Result<i64, CmdError> {
    let v = match crate::util::parse_i64_strict(args.get(i)) {
        Some(v) => v,
        None => return err(msg.unwrap_or(super::NOT_INTEGER)),
    };
    if v < min || v > max {
        return Err(match msg {
            Some(m) => m.into(),
            None => format!("ERR value is out of range, value must between {min} and {max}").into(),
        });
    }
    Ok(v)
}

/// `LEFT` or `RIGHT`.
pub(crate) fn parse_end(arg: &[u8]) -> Result<End, CmdError> {
    if arg.eq_ignore_ascii_case(b"left") {
        Ok(End::Head)
    } else if arg.eq_ignore_ascii_case(b"right") {
        Ok(End::Tail)
    } else {
        err(SYNTAX)
    }
}

fn push_generic(ctx: &mut Ctx, args: &Args, end: End, only_existing: bool) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let fill = fill(ctx);
    let mut sh = ctx.db().lock(h);
    let list = if only_existing {
        match typed::write_existing(ctx, &mut sh, h, key, pick_mut)? {
            Some(l) => l,
            None => {
                ctx.out.int(0);
                return Ok(());
            }
        }
    } else {
        typed::write_or_create(ctx, &mut sh, h, key, new_list, pick_mut)?
    };
    for i in 2..args.len() {
        list.push(end, args.get(i), fill);
    }
    ctx.out.int(list.len() as i64);
    Ok(())
}

/// `LPUSH key element [element ...]`
fn lpush(ctx: &mut Ctx, args: &Args) -> CmdResult {
    push_generic(ctx, args, End::Head, false)
}

/// `RPUSH key element [element ...]`
fn rpush(ctx: &mut Ctx, args: &Args) -> CmdResult {
    push_generic(ctx, args, End::Tail, false)
}

/// `LPUSHX key element [element ...]`
fn lpushx(ctx: &mut Ctx, args: &Args) -> CmdResult {
    push_generic(ctx, args, End::Head, true)
}

/// `RPUSHX key element [element ...]`
fn rpushx(ctx: &mut Ctx, args: &Args) -> CmdResult {
    push_generic(ctx, args, End::Tail, true)
}

/// The reply shapes of the pop family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PopReply {
    /// LPOP/RPOP without COUNT: the element as a bulk string.
    Bulk,
    /// LPOP/RPOP with COUNT: an array of up to `n` elements.
    Array(usize),
    /// BLPOP/BRPOP: `[key, element]`.
    KeyAndBulk,
    /// LMPOP/BLMPOP: `[key, [element ...]]`, up to `n` elements.
    KeyAndArray(usize),
}

/// Pops from the list at `key` in a locked stripe and writes the reply in the
/// requested shape; deletes the key when it is left empty. Returns `Ok(false)`
/// (writing nothing) when the key does not exist, so the caller can try another
/// key, reply with a null, or block.
pub fn serve_pop(
    ctx: &mut Ctx,
    sh: &mut Stripe,
    h: u64,
    key: &[u8],
    end: End,
    shape: PopReply,
) -> Result<bool, CmdError> {
    let Some(list) = typed::write_existing(ctx, sh, h, key, pick_mut)? else {
        return Ok(false);
    };
    let out = &mut *ctx.out;
    match shape {
        PopReply::Bulk | PopReply::KeyAndBulk => {
            if shape == PopReply::KeyAndBulk {
                out.array(2);
                out.bulk(key);
            }
            list.drain_end(end, 1, |e| out.bulk(e));
        }
        PopReply::Array(n) | PopReply::KeyAndArray(n) => {
            if let PopReply::KeyAndArray(_) = shape {
                out.array(2);
                out.bulk(key);
            }
            out.array(n.min(list.len()));
            list.drain_end(end, n, |e| out.bulk(e));
        }
    }
    typed::remove_if_empty(sh, h, key);
    if ctx.propagating() {
        // Blocking and multi-key pops replay as the plain pop they did.
        let cmd: &[u8] = if end == End::Head { b"LPOP" } else { b"RPOP" };
        match shape {
            PopReply::Bulk | PopReply::KeyAndBulk => ctx.propagate_as(&[cmd, key]),
            PopReply::Array(n) | PopReply::KeyAndArray(n) => {
                let n = itoa::Buffer::new().format(n).to_owned();
                ctx.propagate_as(&[cmd, key, n.as_bytes()]);
            }
        }
    }
    Ok(true)
}

fn pop_generic(ctx: &mut Ctx, args: &Args, end: End) -> CmdResult {
    let name = if end == End::Head { "lpop" } else { "rpop" };
    if args.len() > 3 {
        return Err(arity_error(name));
    }
    let count = if args.len() == 3 {
        Some(range_long(
            args,
            2,
            0,
            i64::MAX,
            Some("ERR value is out of range, must be positive"),
        )?)
    } else {
        None
    };
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let shape = match count {
        None => PopReply::Bulk,
        Some(0) => {
            // Redis answers an empty array for COUNT 0 only when the list exists.
            match typed::write_existing(ctx, &mut sh, h, key, pick_mut)? {
                Some(_) => ctx.out.array(0),
                None => ctx.out.null_array(),
            }
            return Ok(());
        }
        Some(n) => PopReply::Array(usize::try_from(n).unwrap_or(usize::MAX)),
    };
    if !serve_pop(ctx, &mut sh, h, key, end, shape)? {
        match shape {
            PopReply::Bulk => ctx.out.null(),
            _ => ctx.out.null_array(),
        }
    }
    Ok(())
}

/// `LPOP key [count]`
fn lpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    pop_generic(ctx, args, End::Head)
}

/// `RPOP key [count]`
fn rpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    pop_generic(ctx, args, End::Tail)
}

/// Moves one element from `src` to `dst` with every stripe involved locked in
/// `locks`, replying with the element. Returns `Ok(false)` (writing nothing) when
/// `src` does not exist. Checks `dst`'s type before popping, as Redis does.
pub fn serve_move(
    ctx: &mut Ctx,
    locks: &mut MultiLock,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result<bool, CmdError> {
    let (hs, hd) = (ctx.hash(src), ctx.hash(dst));
    let fill = fill(ctx);
    let value = {
        let sh = locks.stripe(hs);
        let Some(list) = typed::write_existing(ctx, sh, hs, src, pick_mut)? else {
            return Ok(false);
        };
        if list.is_empty() {
            return Ok(false);
        }
        let sh = locks.stripe(hd);
        if let Some(slot) = ctx.ks().live(sh, hd, dst, ctx.now_ms) {
            if !matches!(
                sh.value(slot),
                crate::db::entry::ValueRef::Obj(Object::List(_))
            ) {
                return err(super::WRONGTYPE);
            }
        }
        let sh = locks.stripe(hs);
        let list = typed::write_existing(ctx, sh, hs, src, pick_mut)?;
        list.and_then(|l| l.pop(from)).unwrap_or_default()
    };
    let sh = locks.stripe(hd);
    typed::write_or_create(ctx, sh, hd, dst, new_list, pick_mut)?.push(to, &value, fill);
    typed::remove_if_empty(locks.stripe(hs), hs, src);
    ctx.out.bulk(&value);
    if ctx.propagating() {
        let side = |e: End| -> &'static [u8] {
            if e == End::Head {
                b"LEFT"
            } else {
                b"RIGHT"
            }
        };
        ctx.propagate_as(&[b"LMOVE", src, dst, side(from), side(to)]);
    }
    Ok(true)
}

fn move_generic(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End) -> CmdResult {
    let (hs, hd) = (ctx.hash(src), ctx.hash(dst));
    let mut locks = ctx.db().lock_many(&[hs, hd]);
    if !serve_move(ctx, &mut locks, src, dst, from, to)? {
        ctx.out.null();
    }
    Ok(())
}

/// `LMOVE source destination LEFT | RIGHT LEFT | RIGHT`
fn lmove(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let from = parse_end(args.get(3))?;
    let to = parse_end(args.get(4))?;
    move_generic(ctx, args.get(1), args.get(2), from, to)
}

/// `RPOPLPUSH source destination`
fn rpoplpush(ctx: &mut Ctx, args: &Args) -> CmdResult {
    move_generic(ctx, args.get(1), args.get(2), End::Tail, End::Head)
}

/// LMPOP's arguments after `numkeys_at`: the keys, the end and the count.
pub struct MpopArgs<'a> {
    pub keys: Vec<&'a [u8]>,
    pub end: End,
    pub count: usize,
}

/// Parses `numkeys key [key ...] LEFT | RIGHT [COUNT count]` starting at
/// `numkeys_at` (shared with BLMPOP, whose timeout comes first).
pub fn parse_mpop<'a>(args: &Args<'a>, numkeys_at: usize) -> Result<MpopArgs<'a>, CmdError> {
    let numkeys = range_long(
        args,
        numkeys_at,
        1,
        i64::MAX,
        Some("ERR numkeys should be greater than 0"),
    )?;
    let where_at = usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(numkeys_at + 1))
        .filter(|&w| w < args.len())
        .ok_or_else(|| CmdError::from(SYNTAX))?;
    let end = parse_end(args.get(where_at))?;
    let mut count = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && args.is(j, "count") && j + 1 < args.len() {
            count = Some(range_long(
                args,
                j + 1,
                1,
                i64::MAX,
                Some("ERR count should be greater than 0"),
            )?);
            j += 2;
        } else {
            return err(SYNTAX);
        }
    }
    Ok(MpopArgs {
        keys: (numkeys_at + 1..where_at).map(|i| args.get(i)).collect(),
        end,
        count: count.map_or(1, |c| usize::try_from(c).unwrap_or(usize::MAX)),
    })
}

/// Pops from the first non-empty list of `keys` (all locked in `locks`) in the
/// LMPOP reply shape; `Ok(false)` when every key is missing.
pub fn serve_mpop(ctx: &mut Ctx, locks: &mut MultiLock, p: &MpopArgs) -> Result<bool, CmdError> {
    for key in &p.keys {
        let h = ctx.hash(key);
        if serve_pop(
            ctx,
            locks.stripe(h),
            h,
            key,
            p.end,
            PopReply::KeyAndArray(p.count),
        )? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `LMPOP numkeys key [key ...] LEFT | RIGHT [COUNT count]`
fn lmpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let p = parse_mpop(args, 1)?;
    let hashes: Vec<u64> = p.keys.iter().map(|k| ctx.hash(k)).collect();
    let mut locks = ctx.db().lock_many(&hashes);
    if !serve_mpop(ctx, &mut locks, &p)? {
        ctx.out.null_array();
    }
    Ok(())
}
