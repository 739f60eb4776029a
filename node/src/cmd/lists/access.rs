//! List commands that read or rewrite by index or value: LLEN LINDEX LINSERT
//! LSET LRANGE LREM LTRIM LPOS.

use super::{fill, pick, pick_mut, range_long};
use crate::cmd::{err, typed, Args, CmdResult, Ctx, NO_SUCH_KEY, SYNTAX};

/// `LLEN key`
pub fn llen(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let n = typed::read(ctx, &mut sh, h, key, pick)?.map_or(0, |l| l.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// `LINDEX key index`
pub fn lindex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(list) = typed::read(ctx, &mut sh, h, key, pick)? else {
        ctx.out.null();
        return Ok(());
    };
    let index = args.int(2)?;
    match list.index(index).and_then(|i| list.get(i)) {
        Some(e) => ctx.out.bulk(e),
        None => ctx.out.null(),
    }
    Ok(())
}

/// `LSET key index element`
pub fn lset(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let fill = fill(ctx);
    let mut sh = ctx.db().lock(h);
    let Some(list) = typed::write_existing(ctx, &mut sh, h, key, pick_mut)? else {
        return err(NO_SUCH_KEY);
    };
    let index = args.int(2)?;
    match list.index(index) {
        Some(i) => {
            list.set(i, args.get(3), fill);
            ctx.out.ok();
            Ok(())
        }
        None => err("ERR index out of range"),
    }
}

/// `LINSERT key BEFORE | AFTER pivot element`
pub fn linsert(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let after = if args.is(2, "after") {
        true
    } else if args.is(2, "before") {
        false
    } else {
        return err(SYNTAX);
    };
    let key = args.get(1);
    let h = ctx.hash(key);
    let fill = fill(ctx);
    let mut sh = ctx.db().lock(h);
    let Some(list) = typed::write_existing(ctx, &mut sh, h, key, pick_mut)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let pivot = args.get(3);
    let pos = list.iter().position(|e| e == pivot);
    match pos {
        Some(i) => {
            list.insert(i + after as usize, args.get(4), fill);
            ctx.out.int(list.len() as i64);
        }
        None => ctx.out.int(-1),
    }
    Ok(())
}

/// Clamps a Redis `start..=stop` range to a list of `len`; `None` when empty.
fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 {
        start.saturating_add(len)
    } else {
        start
    };
    let mut stop = if stop < 0 {
        stop.saturating_add(len)
    } else {
        stop
    };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start as usize, stop as usize))
}

/// `LRANGE key start stop`
pub fn lrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (start, stop) = (args.int(2)?, args.int(3)?);
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(list) = typed::read(ctx, &mut sh, h, key, pick)? else {
        ctx.out.array(0);
        return Ok(());
    };
    match clamp_range(start, stop, list.len()) {
        Some((a, b)) => {
            ctx.out.array(b - a + 1);
            for e in list.iter_from(a).take(b - a + 1) {
                ctx.out.bulk(e);
            }
        }
        None => ctx.out.array(0),
    }
    Ok(())
}

/// `LTRIM key start stop`
pub fn ltrim(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (start, stop) = (args.int(2)?, args.int(3)?);
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    if let Some(list) = typed::write_existing(ctx, &mut sh, h, key, pick_mut)? {
        match clamp_range(start, stop, list.len()) {
            Some((a, b)) => list.trim(a, b),
            None => {
                let n = list.len();
                list.trim(n, n.wrapping_sub(1));
            }
        }
        typed::remove_if_empty(&mut sh, h, key);
    }
    ctx.out.ok();
    Ok(())
}

/// `LREM key count element`
pub fn lrem(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let count = args.int(2)?;
    let key = args.get(1);
    let h = ctx.hash(key);
    let fill = fill(ctx);
    let mut sh = ctx.db().lock(h);
    let removed = match typed::write_existing(ctx, &mut sh, h, key, pick_mut)? {
        Some(list) => list.remove_eq(args.get(3), count, fill),
        None => 0,
    };
    typed::remove_if_empty(&mut sh, h, key);
    ctx.out.int(removed as i64);
    Ok(())
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`
pub fn lpos(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (mut rank, mut count, mut maxlen) = (1i64, None::<i64>, 0i64);
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        if args.is(j, "rank") && more {
            rank = args.int(j + 1)?;
            if rank == 0 {
                return err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
            }
        } else if args.is(j, "count") && more {
            count = Some(range_long(
                args,
                j + 1,
                0,
                i64::MAX,
                Some("ERR COUNT can't be negative"),
            )?);
        } else if args.is(j, "maxlen") && more {
            maxlen = range_long(
                args,
                j + 1,
                0,
                i64::MAX,
                Some("ERR MAXLEN can't be negative"),
            )?;
        } else {
            return err(SYNTAX);
        }
        j += 2;
    }
    // A negative rank searches from the tail. Redis 7.0 negates i64::MIN to
    // itself, which then matches from the first hit; wrapping keeps that.
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(list) = typed::read(ctx, &mut sh, h, key, pick)? else {
        match count {
            Some(_) => ctx.out.array(0),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let elem = args.get(2);
    let len = list.len();
    let limit = if maxlen == 0 {
        usize::MAX
    } else {
        maxlen as usize
    };
    let iter: Box<dyn Iterator<Item = &[u8]>> = if from_tail {
        Box::new(list.iter_rev_from(len.wrapping_sub(1)))
    } else {
        Box::new(list.iter())
    };
    let want = count.map(|c| if c == 0 { usize::MAX } else { c as usize });
    let mut found: Vec<usize> = Vec::new();
    let mut matches = 0i64;
    for (index, e) in iter.take(limit).enumerate() {
        if e != elem {
            continue;
        }
        matches += 1;
        if matches >= rank {
            found.push(if from_tail { len - index - 1 } else { index });
            if found.len() >= want.unwrap_or(1) {
                break;
            }
        }
    }
    match count {
        Some(_) => {
            ctx.out.array(found.len());
            for i in found {
                ctx.out.int(i as i64);
            }
        }
        None => match found.first() {
            Some(&i) => ctx.out.int(i as i64),
            None => ctx.out.null(),
        },
    }
    Ok(())
}
