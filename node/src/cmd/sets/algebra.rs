//! Commands over several sets: SINTER SINTERCARD SUNION SDIFF, their STORE
//! forms, and SMOVE.
//!
//! Each locks the stripes of all its keys first (`Db::lock_many`), then runs
//! lazy expiry and the type check on every source in argument order (so the
//! errors are Redis's), then reads the sets together through shared borrows
//! of the locked stripes, and finally writes the destination, all under the
//! same locks: other clients see the whole command or none of it.

use super::{bulk_member, max_intset, pick, pick_mut};
use crate::cmd::coll::side_buffer;
use crate::cmd::{err, typed, Args, CmdError, CmdResult, Ctx, SYNTAX};
use crate::db::entry::ValueRef;
use crate::db::types::set::{Member, Set};
use crate::db::types::Object;
use crate::db::MultiLock;

/// Locks the stripes of `keys` and `dest`, then expires and type-checks each
/// source in order. Returns the locks and the sources' hashes.
fn lock_sources<'a>(
    ctx: &Ctx<'a>,
    keys: &[&[u8]],
    dest: Option<&[u8]>,
) -> Result<(MultiLock<'a>, Vec<u64>), CmdError> {
    let hashes: Vec<u64> = keys.iter().map(|k| ctx.hash(k)).collect();
    let mut all = hashes.clone();
    all.extend(dest.map(|d| ctx.hash(d)));
    let mut locked = ctx.db().lock_many(&all);
    for (k, &h) in keys.iter().zip(&hashes) {
        typed::read(ctx, locked.stripe(h), h, k, pick)?;
    }
    Ok((locked, hashes))
}

/// The sets of `keys` (None for a missing key), borrowed from the locks.
fn borrow_sets<'l>(locked: &'l MultiLock, keys: &[&[u8]], hashes: &[u64]) -> Vec<Option<&'l Set>> {
    keys.iter()
        .zip(hashes)
        .map(|(k, &h)| {
            let sh = locked.get(h);
            let slot = sh.find(h, k)?;
            match sh.value(slot) {
                ValueRef::Obj(Object::Set(s)) => Some(s),
                _ => None,
            }
        })
        .collect()
}

/// Calls `f` for each member of the intersection, up to `limit` (0: no limit),
/// walking the smallest set and probing the others, as Redis does.
fn inter<'s>(sets: &[Option<&'s Set>], limit: usize, mut f: impl FnMut(Member<'s>)) {
    let Some(mut sets) = sets.iter().copied().collect::<Option<Vec<&Set>>>() else {
        return;
    };
    sets.sort_by_key(|s| s.len());
    let Some((first, rest)) = sets.split_first() else {
        return;
    };
    let mut n = 0;
    for m in first.iter() {
        if rest.iter().all(|s| s.contains_member(m)) {
            f(m);
            n += 1;
            if n == limit {
                return;
            }
        }
    }
}

/// The union, built as Redis builds it (starting from an intset).
fn union(sets: &[Option<&Set>], max_intset: usize) -> Set {
    let mut out = Set::default();
    for s in sets.iter().flatten() {
        for m in s.iter() {
            m.with_bytes(|b| out.add(b, max_intset));
        }
    }
    out
}

/// The members of the first set that are in none of the others.
fn diff(sets: &[Option<&Set>], max_intset: usize) -> Set {
    let mut out = Set::default();
    let Some((Some(first), rest)) = sets.split_first() else {
        return out;
    };
    for m in first.iter() {
        if !rest.iter().flatten().any(|s| s.contains_member(m)) {
            m.with_bytes(|b| out.add(b, max_intset));
        }
    }
    out
}

fn keys_of<'a>(args: &Args<'a>, from: usize, to: usize) -> Vec<&'a [u8]> {
    (from..to).map(|i| args.get(i)).collect()
}

#[derive(Clone, Copy)]
enum Op {
    Inter,
    Union,
    Diff,
}

fn compute(op: Op, sets: &[Option<&Set>], max_intset: usize) -> Set {
    match op {
        Op::Inter => {
            let mut out = Set::default();
            inter(sets, 0, |m| {
                m.with_bytes(|b| out.add(b, max_intset));
            });
            out
        }
        Op::Union => union(sets, max_intset),
        Op::Diff => diff(sets, max_intset),
    }
}

/// SINTER / SUNION / SDIFF: the result as a set reply.
fn combine(ctx: &mut Ctx, args: &Args, op: Op) -> CmdResult {
    let max = max_intset(ctx);
    let keys = keys_of(args, 1, args.len());
    let (locked, hashes) = lock_sources(ctx, &keys, None)?;
    let sets = borrow_sets(&locked, &keys, &hashes);
    if let Op::Inter = op {
        // Streamed from the smallest set: no intermediate set is built.
        let mut body = side_buffer(ctx);
        let mut n = 0;
        inter(&sets, 0, |m| {
            bulk_member(&mut body, m);
            n += 1;
        });
        ctx.out.set(n);
        ctx.out.raw(&body.buf);
        return Ok(());
    }
    let result = compute(op, &sets, max);
    ctx.out.set(result.len());
    result.iter().for_each(|m| bulk_member(ctx.out, m));
    Ok(())
}

/// The STORE forms: the result replaces `args[1]` (deleted when empty).
fn combine_store(ctx: &mut Ctx, args: &Args, op: Op) -> CmdResult {
    let max = max_intset(ctx);
    let dest = args.get(1);
    let keys = keys_of(args, 2, args.len());
    let (mut locked, hashes) = lock_sources(ctx, &keys, Some(dest))?;
    let result = compute(op, &borrow_sets(&locked, &keys, &hashes), max);
    let n = result.len();
    let dh = ctx.hash(dest);
    typed::store(ctx, locked.stripe(dh), dh, dest, Object::Set(result));
    ctx.out.int(n as i64);
    Ok(())
}

/// `SINTER key [key ...]`
pub fn sinter(ctx: &mut Ctx, args: &Args) -> CmdResult {
    combine(ctx, args, Op::Inter)
}

/// `SUNION key [key ...]`
pub fn sunion(ctx: &mut Ctx, args: &Args) -> CmdResult {
    combine(ctx, args, Op::Union)
}

/// `SDIFF key [key ...]`
pub fn sdiff(ctx: &mut Ctx, args: &Args) -> CmdResult {
    combine(ctx, args, Op::Diff)
}

/// `SINTERSTORE destination key [key ...]`
pub fn sinterstore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    combine_store(ctx, args, Op::Inter)
}

/// `SUNIONSTORE destination key [key ...]`
pub fn sunionstore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    combine_store(ctx, args, Op::Union)
}

/// `SDIFFSTORE destination key [key ...]`
pub fn sdiffstore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    combine_store(ctx, args, Op::Diff)
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`
pub fn sintercard(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let numkeys = args
        .int(1)
        .ok()
        .filter(|&n| n >= 1)
        .ok_or("ERR numkeys should be greater than 0")?;
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > args.len() - 2 {
        return err("ERR Number of keys can't be greater than number of args");
    }
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if args.is(i, "limit") && i + 1 < args.len() {
            let l = args
                .int(i + 1)
                .ok()
                .filter(|&l| l >= 0)
                .ok_or("ERR LIMIT can't be negative")?;
            limit = usize::try_from(l).unwrap_or(usize::MAX);
            i += 2;
        } else {
            return err(SYNTAX);
        }
    }
    let keys = keys_of(args, 2, 2 + numkeys);
    let (locked, hashes) = lock_sources(ctx, &keys, None)?;
    let mut n = 0;
    inter(&borrow_sets(&locked, &keys, &hashes), limit, |_| n += 1);
    ctx.out.int(n);
    Ok(())
}

/// `SMOVE source destination member`
pub fn smove(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let max = max_intset(ctx);
    let (src, dst, member) = (args.get(1), args.get(2), args.get(3));
    let (hs, hd) = (ctx.hash(src), ctx.hash(dst));
    let mut locked = ctx.db().lock_many(&[hs, hd]);
    // Redis's order: a missing source answers 0 before the destination's type
    // is looked at; then both types are checked before anything changes.
    if typed::write_existing(ctx, locked.stripe(hs), hs, src, pick_mut)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    typed::write_existing(ctx, locked.stripe(hd), hd, dst, pick_mut)?;
    if src == dst {
        let is = typed::write_existing(ctx, locked.stripe(hs), hs, src, pick_mut)?
            .is_some_and(|s| s.contains(member));
        ctx.out.int(is as i64);
        return Ok(());
    }
    let removed = typed::write_existing(ctx, locked.stripe(hs), hs, src, pick_mut)?
        .is_some_and(|s| s.remove(member));
    if !removed {
        ctx.out.int(0);
        return Ok(());
    }
    typed::remove_if_empty(locked.stripe(hs), hs, src);
    let create = || Object::Set(Set::for_member(member));
    typed::write_or_create(ctx, locked.stripe(hd), hd, dst, create, pick_mut)?.add(member, max);
    ctx.out.int(1);
    Ok(())
}
