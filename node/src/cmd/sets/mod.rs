//! Set commands. Single-key commands are here; the ones that combine sets
//! (SINTER, SUNION, SDIFF and their STORE forms, SINTERCARD, SMOVE) are in
//! [`algebra`], and lock every key's stripe before reading any of them.

mod algebra;

use super::coll::{self, COUNT_RANGE, MAX_REPEATS};
use super::flags::*;
use super::{err, typed, Args, CmdResult, CommandSpec, Ctx, SYNTAX};
use crate::db::types::set::{Member, Set};
use crate::db::types::Object;
use crate::protocol::Out;

/// `cmd!(name, arity, flags, (first_key, last_key, step), handler, since, summary)`
macro_rules! cmd {
    ($name:expr, $arity:expr, $flags:expr, $keys:expr, $h:expr, $since:expr, $summary:expr) => {
        CommandSpec::new($name, $arity, $flags, $keys, $h, "set", $since, $summary)
    };
}

const ONE: (i32, i32, i32) = (1, 1, 1);
const ALL: (i32, i32, i32) = (1, -1, 1);

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("sadd", -3, WRITE | DENYOOM | FAST, ONE, sadd, "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist."),
    cmd!("srem", -3, WRITE | FAST, ONE, srem, "1.0.0", "Removes one or more members from a set. Deletes the set if the last member was removed."),
    cmd!("scard", 2, READONLY | FAST, ONE, scard, "1.0.0", "Returns the number of members in a set."),
    cmd!("sismember", 3, READONLY | FAST, ONE, sismember, "1.0.0", "Determines whether a member belongs to a set."),
    cmd!("smismember", -3, READONLY | FAST, ONE, smismember, "6.2.0", "Determines whether multiple members belong to a set."),
    cmd!("smembers", 2, READONLY, ONE, smembers, "1.0.0", "Returns all members of a set."),
    cmd!("srandmember", -2, READONLY, ONE, srandmember, "1.0.0", "Get one or multiple random members from a set"),
    cmd!("spop", -2, WRITE | FAST, ONE, spop, "1.0.0", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped."),
    cmd!("sscan", -3, READONLY, ONE, sscan, "2.8.0", "Iterates over members of a set."),
    cmd!("smove", 4, WRITE | FAST, (1, 2, 1), algebra::smove, "1.0.0", "Moves a member from one set to another."),
    cmd!("sinter", -2, READONLY, ALL, algebra::sinter, "1.0.0", "Returns the intersect of multiple sets."),
    cmd!("sintercard", -3, READONLY | MOVABLEKEYS, (0, 0, 0), algebra::sintercard, "7.0.0", "Returns the number of members of the intersect of multiple sets."),
    cmd!("sinterstore", -3, WRITE | DENYOOM, ALL, algebra::sinterstore, "1.0.0", "Stores the intersect of multiple sets in a key."),
    cmd!("sunion", -2, READONLY, ALL, algebra::sunion, "1.0.0", "Returns the union of multiple sets."),
    cmd!("sunionstore", -3, WRITE | DENYOOM, ALL, algebra::sunionstore, "1.0.0", "Stores the union of multiple sets in a key."),
    cmd!("sdiff", -2, READONLY, ALL, algebra::sdiff, "1.0.0", "Returns the difference of multiple sets."),
    cmd!("sdiffstore", -3, WRITE | DENYOOM, ALL, algebra::sdiffstore, "1.0.0", "Stores the difference of multiple sets in a key."),
];

fn pick(o: &Object) -> Option<&Set> {
    match o {
        Object::Set(s) => Some(s),
        _ => None,
    }
}

fn pick_mut(o: &mut Object) -> Option<&mut Set> {
    match o {
        Object::Set(s) => Some(s),
        _ => None,
    }
}

/// `set-max-intset-entries` (negative counts as 0).
fn max_intset(ctx: &Ctx) -> usize {
    let enc = &ctx.srv.config.enc;
    usize::try_from(enc.get(&enc.set_max_intset_entries)).unwrap_or(0)
}

fn bulk_member(out: &mut Out, m: Member<'_>) {
    m.with_bytes(|b| out.bulk(b));
}

/// `SADD key member [member ...]`
fn sadd(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let max = max_intset(ctx);
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let first = args.get(2);
    let set = typed::write_or_create(
        ctx,
        &mut sh,
        h,
        key,
        || Object::Set(Set::for_member(first)),
        pick_mut,
    )?;
    let added = args.iter().skip(2).filter(|m| set.add(m, max)).count();
    ctx.out.int(added as i64);
    Ok(())
}

/// `SREM key member [member ...]`
fn srem(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let mut n = 0;
    if let Some(set) = typed::write_existing(ctx, &mut sh, h, key, pick_mut)? {
        for m in args.iter().skip(2) {
            n += set.remove(m) as i64;
            if set.is_empty() {
                break;
            }
        }
        typed::remove_if_empty(&mut sh, h, key);
    }
    ctx.out.int(n);
    Ok(())
}

/// Runs `f` on the set at `args[1]` (None when missing).
fn with_set<R>(
    ctx: &mut Ctx,
    args: &Args,
    f: impl FnOnce(Option<&Set>, &mut Out) -> R,
) -> Result<R, super::CmdError> {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let set = typed::read(ctx, &mut sh, h, key, pick)?;
    Ok(f(set, ctx.out))
}

/// `SCARD key`
fn scard(ctx: &mut Ctx, args: &Args) -> CmdResult {
    with_set(ctx, args, |s, out| out.int(s.map_or(0, Set::len) as i64))
}

/// `SISMEMBER key member`
fn sismember(ctx: &mut Ctx, args: &Args) -> CmdResult {
    with_set(ctx, args, |s, out| {
        out.int(s.is_some_and(|s| s.contains(args.get(2))) as i64)
    })
}

/// `SMISMEMBER key member [member ...]`
fn smismember(ctx: &mut Ctx, args: &Args) -> CmdResult {
    with_set(ctx, args, |s, out| {
        out.array(args.len() - 2);
        for m in args.iter().skip(2) {
            out.int(s.is_some_and(|s| s.contains(m)) as i64);
        }
    })
}

/// `SMEMBERS key`
fn smembers(ctx: &mut Ctx, args: &Args) -> CmdResult {
    with_set(ctx, args, |s, out| {
        out.set(s.map_or(0, Set::len));
        for m in s.into_iter().flat_map(|s| s.iter()) {
            bulk_member(out, m);
        }
    })
}

/// `SRANDMEMBER key [count]`
fn srandmember(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() > 3 {
        return err(SYNTAX);
    }
    if args.len() == 2 {
        return with_set(ctx, args, |s, out| {
            match s.and_then(|s| s.get(coll::random_index(s.len().max(1)))) {
                Some(m) => bulk_member(out, m),
                None => out.null(),
            }
        });
    }
    let l = args.int(2)?;
    if l == i64::MIN {
        return err(COUNT_RANGE);
    }
    if l < 0 && l.unsigned_abs() > MAX_REPEATS {
        return err("ERR value is out of range");
    }
    with_set(ctx, args, |s, out| {
        let Some(s) = s else {
            out.array(0);
            return;
        };
        let size = s.len();
        if l < 0 {
            let n = l.unsigned_abs() as usize;
            out.array(n);
            for _ in 0..n {
                if let Some(m) = s.get(coll::random_index(size)) {
                    bulk_member(out, m);
                }
            }
            return;
        }
        let n = usize::try_from(l).unwrap_or(usize::MAX);
        if n >= size {
            out.array(size);
            s.iter().for_each(|m| bulk_member(out, m));
            return;
        }
        out.array(n);
        for i in coll::distinct_indices(size, n) {
            if let Some(m) = s.get(i) {
                bulk_member(out, m);
            }
        }
    })
}

/// `SPOP key [count]`
fn spop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() > 3 {
        return err(SYNTAX);
    }
    let count = if args.len() == 3 {
        // Redis answers a non-integer count with the same error as a negative one.
        let l = args.int(2).unwrap_or(-1);
        if l < 0 {
            return err("ERR value is out of range, must be positive");
        }
        Some(usize::try_from(l).unwrap_or(usize::MAX))
    } else {
        None
    };
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(set) = typed::write_existing(ctx, &mut sh, h, key, pick_mut)? else {
        match count {
            Some(_) => ctx.out.set(0),
            None => ctx.out.null(),
        }
        ctx.propagate_none();
        return Ok(());
    };
    let propagating = ctx.propagating();
    let mut popped: Vec<Vec<u8>> = Vec::new();
    let rec = propagating.then_some(&mut popped);
    match count {
        None => {
            let m = set.remove_at(coll::random_index(set.len().max(1)));
            ctx.out.bulk(&m);
            if let Some(r) = rec {
                r.push(m);
            }
        }
        Some(0) => ctx.out.set(0),
        Some(n) => pop_many(set, n, max_intset(ctx), ctx.out, rec),
    }
    let emptied = set.is_empty();
    typed::remove_if_empty(&mut sh, h, key);
    if propagating {
        // Random: replayed as the SREM of what was popped, in batches as
        // Redis's, or DEL when the set is gone (Redis 7.0).
        if emptied && count.is_some() {
            ctx.propagate_as(&[b"DEL", key]);
        } else {
            ctx.propagate_none();
            for chunk in popped.chunks(1024) {
                let mut argv: Vec<&[u8]> = vec![b"SREM", key];
                argv.extend(chunk.iter().map(Vec::as_slice));
                ctx.propagate_more(&argv);
            }
        }
    }
    Ok(())
}

/// SPOP with a count, following Redis 7.0's three cases (so the encoding left
/// behind is Redis's too).
/// The popped members are also pushed to `rec` when given (propagation).
fn pop_many(
    set: &mut Set,
    n: usize,
    max_intset: usize,
    out: &mut Out,
    mut rec: Option<&mut Vec<Vec<u8>>>,
) {
    let size = set.len();
    out.set(n.min(size));
    if n >= size {
        // Everything: the caller deletes the emptied key.
        set.iter().for_each(|m| bulk_member(out, m));
        *set = Set::default();
        return;
    }
    let remaining = size - n;
    if remaining.saturating_mul(5) > n {
        // Few pops: remove them one by one.
        for _ in 0..n {
            let m = set.remove_at(coll::random_index(set.len()));
            out.bulk(&m);
            if let Some(r) = rec.as_deref_mut() {
                r.push(m);
            }
        }
        return;
    }
    // Most of the set: keep `remaining` random members in a new set, built as
    // Redis builds it (so a hashtable of integers becomes an intset again),
    // and reply with the rest.
    let keep: std::collections::HashSet<usize> = coll::distinct_indices(size, remaining)
        .into_iter()
        .collect();
    let mut kept: Option<Set> = None;
    for (i, m) in set.iter().enumerate() {
        if keep.contains(&i) {
            m.with_bytes(|b| {
                kept.get_or_insert_with(|| Set::for_member(b))
                    .add(b, max_intset)
            });
        } else {
            bulk_member(out, m);
            if let Some(r) = rec.as_deref_mut() {
                r.push(m.to_vec());
            }
        }
    }
    *set = kept.unwrap_or_default();
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`
fn sscan(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let cursor = coll::scan_cursor(args)?;
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(set) = typed::read(ctx, &mut sh, h, key, pick)? else {
        coll::empty_scan(ctx.out);
        return Ok(());
    };
    let opts = coll::scan_options(args, cursor)?;
    let mut body = coll::side_buffer(ctx);
    let mut n = 0;
    let next = set.scan(opts.cursor, opts.count, |m| {
        m.with_bytes(|b| {
            if opts.matches(b) {
                body.bulk(b);
                n += 1;
            }
        })
    });
    coll::scan_reply(ctx.out, next, n, &body);
    Ok(())
}
