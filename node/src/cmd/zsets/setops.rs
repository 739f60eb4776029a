//! ZUNION ZINTER ZDIFF, their STORE forms, and ZINTERCARD.
//!
//! Inputs may be sorted sets or plain sets (every member scoring 1), as Redis.
//! All input stripes (and the destination's) are locked together first, so the
//! result is computed from one consistent state. Floating-point aggregation
//! follows Redis's order: inputs sorted by size (stably), each weighted
//! (`0 * inf` counts as 0), SUM of `+inf` and `-inf` counted as 0.

use std::collections::HashMap;

use super::{limits, list_reply};
use crate::cmd::{err, typed, Args, CmdError, CmdResult, Ctx, SYNTAX, WRONGTYPE};
use crate::db::entry::ValueRef;
use crate::db::types::zset::{cmp_elem, ZSet};
use crate::db::types::{Object, Set};
use crate::db::{MultiLock, Stripe};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, v: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += v;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => *target = if v < *target { v } else { *target },
        Aggregate::Max => *target = if v > *target { v } else { *target },
    }
}

fn weighted(score: f64, weight: f64) -> f64 {
    let v = score * weight;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// One input: its key, hash, weight and size (0 when missing).
struct Source<'a> {
    key: &'a [u8],
    hash: u64,
    weight: f64,
    len: usize,
}

/// The value of an input after the first lookup (no stats counted again).
enum Input<'s> {
    Missing,
    Z(&'s ZSet),
    S(&'s Set),
}

fn peek<'s>(sh: &'s Stripe, hash: u64, key: &[u8]) -> Input<'s> {
    match sh.find(hash, key).map(|slot| sh.value(slot)) {
        Some(ValueRef::Obj(Object::ZSet(z))) => Input::Z(z),
        Some(ValueRef::Obj(Object::Set(s))) => Input::S(s),
        _ => Input::Missing,
    }
}

impl Input<'_> {
    fn for_each(&self, f: &mut dyn FnMut(&[u8], f64)) {
        match self {
            Input::Missing => {}
            Input::Z(z) => z.for_each(&mut |m, s| f(m, s)),
            // `to_vec` works on both a plain slice and the set type's member
            // view, whichever its iterator yields.
            #[allow(clippy::unnecessary_to_owned)]
            Input::S(s) => s.iter().for_each(|m| f(&m.to_vec(), 1.0)),
        }
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Input::Missing => None,
            Input::Z(z) => z.score(m),
            Input::S(s) => s.contains(m).then_some(1.0),
        }
    }
}

/// A parsed request.
struct Request<'a> {
    sources: Vec<Source<'a>>,
    how: Aggregate,
    withscores: bool,
    limit: usize,
}

/// Parses `numkeys key [key ...]` at `at` (the options after the keys are
/// parsed by [`options`] once the keys have been looked up, Redis's order).
fn parse<'a>(ctx: &Ctx, args: &Args<'a>, at: usize) -> Result<Request<'a>, CmdError> {
    let n = args.int(at)?;
    if n < 1 {
        let name = ctx.srv.commands.specs[ctx.cmd].name;
        return err(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        ));
    }
    if n > (args.len() - at - 1) as i64 {
        return err(SYNTAX);
    }
    let sources = (0..n as usize)
        .map(|i| {
            let key = args.get(at + 1 + i);
            Source {
                key,
                hash: ctx.hash(key),
                weight: 1.0,
                len: 0,
            }
        })
        .collect();
    Ok(Request {
        sources,
        how: Aggregate::Sum,
        withscores: false,
        limit: 0,
    })
}

/// Looks every source up once (lazy expiry, hit/miss, type check) and records
/// its size.
fn lookup(ctx: &Ctx, locked: &mut MultiLock, sources: &mut [Source]) -> Result<(), CmdError> {
    for s in sources.iter_mut() {
        let sh = locked.stripe(s.hash);
        let Some(slot) = ctx.ks().read(sh, s.hash, s.key, ctx.now_ms) else {
            continue;
        };
        s.len = match sh.value(slot) {
            ValueRef::Obj(Object::ZSet(z)) => z.len(),
            ValueRef::Obj(Object::Set(x)) => x.len(),
            _ => return err(WRONGTYPE),
        };
    }
    Ok(())
}

/// Parses the options after the keys.
fn options(
    args: &Args,
    from: usize,
    op: Op,
    store: bool,
    card: bool,
    req: &mut Request,
) -> CmdResult {
    let n = req.sources.len();
    let mut j = from;
    while j < args.len() {
        let remaining = args.len() - j;
        if op != Op::Diff && !card && remaining > n && args.is(j, "weights") {
            for i in 0..n {
                req.sources[i].weight = crate::util::parse_f64(args.get(j + 1 + i))
                    .ok_or(CmdError::from("ERR weight value is not a float"))?;
            }
            j += 1 + n;
        } else if op != Op::Diff && !card && remaining >= 2 && args.is(j, "aggregate") {
            req.how = match args.get(j + 1).to_ascii_lowercase().as_slice() {
                b"sum" => Aggregate::Sum,
                b"min" => Aggregate::Min,
                b"max" => Aggregate::Max,
                _ => return err(SYNTAX),
            };
            j += 2;
        } else if !store && !card && args.is(j, "withscores") {
            req.withscores = true;
            j += 1;
        } else if card && remaining >= 2 && args.is(j, "limit") {
            let l = crate::util::parse_i64_strict(args.get(j + 1))
                .filter(|&l| l >= 0)
                .ok_or(CmdError::from("ERR LIMIT can't be negative"))?;
            req.limit = usize::try_from(l).unwrap_or(usize::MAX);
            j += 2;
        } else {
            return err(SYNTAX);
        }
    }
    Ok(())
}

/// Computes the result in (score, member) order; `card_limit` stops an
/// intersection early (ZINTERCARD).
fn compute(
    locked: &mut MultiLock,
    req: &mut Request,
    op: Op,
    card_limit: usize,
) -> Vec<(Vec<u8>, f64)> {
    if op != Op::Diff {
        req.sources.sort_by_key(|s| s.len);
    }
    let mut out: Vec<(Vec<u8>, f64)> = Vec::new();
    match op {
        Op::Union => {
            let mut acc: HashMap<Vec<u8>, f64, foldhash::fast::RandomState> = HashMap::default();
            for s in &req.sources {
                if s.len == 0 {
                    continue;
                }
                let input = peek(locked.stripe(s.hash), s.hash, s.key);
                input.for_each(&mut |m, score| {
                    let v = weighted(score, s.weight);
                    match acc.get_mut(m) {
                        Some(t) => aggregate(t, v, req.how),
                        None => {
                            acc.insert(m.to_vec(), v);
                        }
                    }
                });
            }
            out = acc.into_iter().collect();
        }
        Op::Inter => {
            if req.sources.iter().any(|s| s.len == 0) {
                return out;
            }
            let first = &req.sources[0];
            let input = peek(locked.stripe(first.hash), first.hash, first.key);
            input.for_each(&mut |m, s| out.push((m.to_vec(), weighted(s, first.weight))));
            for s in &req.sources[1..] {
                let input = peek(locked.stripe(s.hash), s.hash, s.key);
                out.retain_mut(|(m, acc)| match input.score(m) {
                    Some(v) => {
                        aggregate(acc, weighted(v, s.weight), req.how);
                        true
                    }
                    None => false,
                });
            }
            if card_limit > 0 {
                out.truncate(card_limit);
            }
        }
        Op::Diff => {
            let first = &req.sources[0];
            if first.len == 0 {
                return out;
            }
            let input = peek(locked.stripe(first.hash), first.hash, first.key);
            input.for_each(&mut |m, s| out.push((m.to_vec(), s)));
            for s in &req.sources[1..] {
                if s.len == 0 {
                    continue;
                }
                let input = peek(locked.stripe(s.hash), s.hash, s.key);
                out.retain(|(m, _)| input.score(m).is_none());
            }
        }
    }
    out.sort_by(|a, b| cmp_elem(a.1, &a.0, b.1, &b.0));
    out
}

fn generic(ctx: &mut Ctx, args: &Args, op: Op, dst: Option<&[u8]>, card: bool) -> CmdResult {
    let at = if dst.is_some() { 2 } else { 1 };
    let mut req = parse(ctx, args, at)?;
    let mut hashes: Vec<u64> = req.sources.iter().map(|s| s.hash).collect();
    let dst_hash = dst.map(|d| ctx.hash(d));
    hashes.extend(dst_hash);
    let lim = limits(ctx);
    let mut locked = ctx.db().lock_many(&hashes);
    lookup(ctx, &mut locked, &mut req.sources)?;
    options(
        args,
        at + 1 + req.sources.len(),
        op,
        dst.is_some(),
        card,
        &mut req,
    )?;
    let limit = req.limit;
    let result = compute(&mut locked, &mut req, op, if card { limit } else { 0 });
    if card {
        drop(locked);
        ctx.out.int(result.len() as i64);
        return Ok(());
    }
    if let (Some(dst), Some(hd)) = (dst, dst_hash) {
        let n = result.len();
        typed::store(
            ctx,
            locked.stripe(hd),
            hd,
            dst,
            Object::ZSet(ZSet::from_sorted(&result, lim)),
        );
        drop(locked);
        ctx.out.int(n as i64);
        return Ok(());
    }
    drop(locked);
    list_reply(ctx.out, &result, req.withscores);
    Ok(())
}

/// `ZUNION numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]`
pub fn zunion(ctx: &mut Ctx, args: &Args) -> CmdResult {
    generic(ctx, args, Op::Union, None, false)
}

/// `ZINTER numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]`
pub fn zinter(ctx: &mut Ctx, args: &Args) -> CmdResult {
    generic(ctx, args, Op::Inter, None, false)
}

/// `ZDIFF numkeys key [key ...] [WITHSCORES]`
pub fn zdiff(ctx: &mut Ctx, args: &Args) -> CmdResult {
    generic(ctx, args, Op::Diff, None, false)
}

/// `ZINTERCARD numkeys key [key ...] [LIMIT limit]`
pub fn zintercard(ctx: &mut Ctx, args: &Args) -> CmdResult {
    generic(ctx, args, Op::Inter, None, true)
}

/// `ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]`
pub fn zunionstore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    generic(ctx, args, Op::Union, Some(args.get(1)), false)
}

/// `ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]`
pub fn zinterstore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    generic(ctx, args, Op::Inter, Some(args.get(1)), false)
}

/// `ZDIFFSTORE destination numkeys key [key ...]`
pub fn zdiffstore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    generic(ctx, args, Op::Diff, Some(args.get(1)), false)
}
