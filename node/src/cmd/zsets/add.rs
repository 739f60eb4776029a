//! ZADD ZINCRBY ZREM and the point reads: ZSCORE ZMSCORE ZCARD ZRANK ZREVRANK.

use super::{limits, pick_mut, read, NAN_SCORE};
use crate::cmd::{err, typed, Args, CmdResult, Ctx, SYNTAX};
use crate::db::types::zset::ZSet;
use crate::db::types::Object;

#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// `ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]`
pub fn zadd(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut f = AddFlags::default();
    let mut i = 2;
    while i < args.len() {
        let a = args.get(i);
        match a.to_ascii_lowercase().as_slice() {
            b"nx" => f.nx = true,
            b"xx" => f.xx = true,
            b"gt" => f.gt = true,
            b"lt" => f.lt = true,
            b"ch" => f.ch = true,
            b"incr" => f.incr = true,
            _ => break,
        }
        i += 1;
    }
    add_generic(ctx, args, i, f)
}

/// `ZINCRBY key increment member`
pub fn zincrby(ctx: &mut Ctx, args: &Args) -> CmdResult {
    add_generic(
        ctx,
        args,
        2,
        AddFlags {
            incr: true,
            ..AddFlags::default()
        },
    )
}

fn add_generic(ctx: &mut Ctx, args: &Args, first: usize, f: AddFlags) -> CmdResult {
    let elements = args.len() - first;
    if elements == 0 || !elements.is_multiple_of(2) {
        return err(SYNTAX);
    }
    let pairs = elements / 2;
    if f.nx && f.xx {
        return err("ERR XX and NX options at the same time are not compatible");
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return err("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && pairs > 1 {
        return err("ERR INCR option supports a single increment-element pair");
    }
    // All scores are parsed before anything changes: the command applies
    // fully or not at all.
    let mut scores = Vec::with_capacity(pairs);
    for j in 0..pairs {
        scores.push(args.float(first + 2 * j)?);
    }
    let lim = limits(ctx);
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let exists = typed::write_existing(ctx, &mut sh, h, key, pick_mut)?.is_some();
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last = 0.0;
    if exists || !f.xx {
        let first_member = args.get(first + 1);
        let z = typed::write_or_create(
            ctx,
            &mut sh,
            h,
            key,
            || Object::ZSet(ZSet::with_hint(lim, 0, first_member.len())),
            pick_mut,
        )?;
        for (j, &score) in scores.iter().enumerate() {
            let member = args.get(first + 1 + 2 * j);
            match z.score(member) {
                Some(cur) => {
                    if f.nx {
                        continue;
                    }
                    let mut new = score;
                    if f.incr {
                        new += cur;
                        if new.is_nan() {
                            typed::remove_if_empty(&mut sh, h, key);
                            return err(NAN_SCORE);
                        }
                    }
                    if (f.lt && new >= cur) || (f.gt && new <= cur) {
                        continue;
                    }
                    processed += 1;
                    last = new;
                    if new != cur {
                        z.set(member, new, lim);
                        updated += 1;
                    }
                }
                None => {
                    if f.xx {
                        continue;
                    }
                    z.set(member, score, lim);
                    added += 1;
                    processed += 1;
                    last = score;
                }
            }
        }
        typed::remove_if_empty(&mut sh, h, key);
    }
    drop(sh);
    if f.incr {
        if processed > 0 {
            ctx.out.double(last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if f.ch { added + updated } else { added });
    }
    Ok(())
}

/// `ZREM key member [member ...]`
pub fn zrem(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let mut removed = 0;
    if let Some(z) = typed::write_existing(ctx, &mut sh, h, key, pick_mut)? {
        for m in args.iter().skip(2) {
            if z.remove(m).is_some() {
                removed += 1;
            }
            if z.is_empty() {
                break;
            }
        }
        typed::remove_if_empty(&mut sh, h, key);
    }
    drop(sh);
    ctx.out.int(removed);
    Ok(())
}

/// `ZSCORE key member`
pub fn zscore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    match read(ctx, &mut sh, h, key)?.and_then(|z| z.score(args.get(2))) {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(())
}

/// `ZMSCORE key member [member ...]`
pub fn zmscore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let z = read(ctx, &mut sh, h, key)?;
    ctx.out.array(args.len() - 2);
    for m in args.iter().skip(2) {
        match z.and_then(|z| z.score(m)) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// `ZCARD key`
pub fn zcard(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let n = read(ctx, &mut sh, h, key)?.map_or(0, |z| z.len());
    drop(sh);
    ctx.out.int(n as i64);
    Ok(())
}

fn rank_generic(ctx: &mut Ctx, args: &Args, rev: bool) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let found = read(ctx, &mut sh, h, key)?.and_then(|z| {
        z.rank(args.get(2))
            .map(|(r, _)| if rev { z.len() - 1 - r } else { r })
    });
    drop(sh);
    match found {
        Some(r) => ctx.out.int(r as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

/// `ZRANK key member`
pub fn zrank(ctx: &mut Ctx, args: &Args) -> CmdResult {
    rank_generic(ctx, args, false)
}

/// `ZREVRANK key member`
pub fn zrevrank(ctx: &mut Ctx, args: &Args) -> CmdResult {
    rank_generic(ctx, args, true)
}

/// Shared by GEOADD: adds `(score, member)` pairs with ZADD's NX/XX/CH rules;
/// returns the reply count.
pub fn add_scored(
    ctx: &Ctx,
    key: &[u8],
    items: &[(f64, &[u8])],
    nx: bool,
    xx: bool,
    ch: bool,
) -> Result<i64, crate::cmd::CmdError> {
    let lim = limits(ctx);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let exists = typed::write_existing(ctx, &mut sh, h, key, pick_mut)?.is_some();
    if !exists && (xx || items.is_empty()) {
        return Ok(0);
    }
    let first_len = items.first().map_or(0, |(_, m)| m.len());
    let z = typed::write_or_create(
        ctx,
        &mut sh,
        h,
        key,
        || Object::ZSet(ZSet::with_hint(lim, 0, first_len)),
        pick_mut,
    )?;
    let (mut added, mut updated) = (0, 0);
    for &(score, member) in items {
        match z.score(member) {
            Some(cur) if !nx && cur != score => {
                z.set(member, score, lim);
                updated += 1;
            }
            Some(_) => {}
            None if !xx => {
                z.set(member, score, lim);
                added += 1;
            }
            None => {}
        }
    }
    typed::remove_if_empty(&mut sh, h, key);
    Ok(if ch { added + updated } else { added })
}
