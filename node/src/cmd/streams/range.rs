//! Reads of the log by ID: XLEN, XRANGE, XREVRANGE.

use super::{parse_range_end, parse_range_start, pick, write_entries};
use crate::cmd::{err, typed, Args, CmdResult, Ctx, SYNTAX};

/// `XLEN key`
pub fn xlen(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let n = typed::read(ctx, &mut sh, h, key, pick)?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// `XRANGE key start end [COUNT count]`
pub fn xrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    range(ctx, args, false)
}

/// `XREVRANGE key end start [COUNT count]`
pub fn xrevrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    range(ctx, args, true)
}

fn range(ctx: &mut Ctx, args: &Args, rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev { (3, 2) } else { (2, 3) };
    let start = parse_range_start(args.get(start_arg))?;
    let end = parse_range_end(args.get(end_arg))?;
    // None: no COUNT given.
    let mut count: Option<u64> = None;
    let mut i = 4;
    while i < args.len() {
        if args.is(i, "count") && i + 1 < args.len() {
            count = Some(args.int(i + 1)?.max(0) as u64);
            i += 2;
        } else {
            return err(SYNTAX);
        }
    }
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(s) = typed::read(ctx, &mut sh, h, key, pick)? else {
        ctx.out.array(0);
        return Ok(());
    };
    if count == Some(0) {
        ctx.out.null_array();
        return Ok(());
    }
    let take = count.map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX));
    write_entries(ctx, s.log.range(start, end, rev).take(take));
    Ok(())
}
