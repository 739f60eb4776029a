//! The ZRANGE family (ZRANGE with BYSCORE/BYLEX/REV/LIMIT, the legacy
//! ZREVRANGE/ZRANGEBYSCORE/ZRANGEBYLEX forms, ZRANGESTORE), ZCOUNT ZLEXCOUNT and
//! ZREMRANGEBYRANK/SCORE/LEX.
//!
//! Every form reduces to a run of ascending ranks `a..b` plus a direction, found
//! in O(log n) on the large encoding, then walked once.

use super::{limits, list_header, list_item, pick_mut, read, LexRange, ScoreRange};
use crate::cmd::{err, typed, Args, CmdError, CmdResult, Ctx, SYNTAX};
use crate::db::types::zset::ZSet;
use crate::db::types::Object;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Auto,
    Rank,
    Score,
    Lex,
}

/// A parsed range request, before the key is looked up.
enum Bounds<'a> {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange<'a>),
}

struct Request<'a> {
    bounds: Bounds<'a>,
    rev: bool,
    withscores: bool,
    /// LIMIT offset count (BYSCORE/BYLEX only).
    offset: i64,
    count: i64,
}

impl Request<'_> {
    /// Ascending ranks `a..b` selected in `z`.
    fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let len = z.len() as i64;
        match &self.bounds {
            Bounds::Rank(start, end) => {
                let Some((s, e)) = clamp_ranks(*start, *end, len) else {
                    return (0, 0);
                };
                if self.rev {
                    ((len - 1 - e) as usize, (len - s) as usize)
                } else {
                    (s as usize, (e + 1) as usize)
                }
            }
            Bounds::Score(r) => self.limit(r.ranks(z)),
            Bounds::Lex(r) => self.limit(r.ranks(z)),
        }
    }

    fn limit(&self, (first, last): (usize, usize)) -> (usize, usize) {
        let n = (last - first) as u64;
        if self.offset < 0 || self.offset as u64 >= n {
            return (0, 0);
        }
        let off = self.offset as usize;
        let avail = n as usize - off;
        let take = if self.count < 0 {
            avail
        } else {
            avail.min(usize::try_from(self.count).unwrap_or(usize::MAX))
        };
        if self.rev {
            (last - off - take, last - off)
        } else {
            (first + off, first + off + take)
        }
    }
}

/// Redis's index sanitising for rank ranges: negative from the end, clamped;
/// `None` when the range is empty.
pub fn clamp_ranks(mut start: i64, mut end: i64, len: i64) -> Option<(i64, i64)> {
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    if start > end || start >= len {
        return None;
    }
    Some((start, end.min(len - 1)))
}

/// Parses the shared syntax of all range commands (Redis's
/// `zrangeGenericCommand`): `first` is the index of the source key.
fn parse<'a>(
    args: &Args<'a>,
    first: usize,
    store: bool,
    mut kind: Kind,
    mut rev: Option<bool>,
) -> Result<Request<'a>, CmdError> {
    let (mut withscores, mut offset, mut count) = (false, 0i64, -1i64);
    let mut limit_given = false;
    let mut j = first + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        if !store && args.is(j, "withscores") {
            withscores = true;
        } else if args.is(j, "limit") && left >= 2 {
            offset = args.int(j + 1)?;
            count = args.int(j + 2)?;
            limit_given = true;
            j += 2;
        } else if rev.is_none() && args.is(j, "rev") {
            rev = Some(true);
        } else if kind == Kind::Auto && args.is(j, "bylex") {
            kind = Kind::Lex;
        } else if kind == Kind::Auto && args.is(j, "byscore") {
            kind = Kind::Score;
        } else {
            return err(SYNTAX);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if kind == Kind::Auto {
        kind = Kind::Rank;
    }
    if limit_given && kind == Kind::Rank {
        return err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if withscores && kind == Kind::Lex {
        return err("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    let (mut lo, mut hi) = (first + 1, first + 2);
    if rev && kind != Kind::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let bounds = match kind {
        Kind::Score => Bounds::Score(ScoreRange::parse(args.get(lo), args.get(hi))?),
        Kind::Lex => Bounds::Lex(LexRange::parse(args.get(lo), args.get(hi))?),
        _ => Bounds::Rank(args.int(lo)?, args.int(hi)?),
    };
    Ok(Request {
        bounds,
        rev,
        withscores,
        offset,
        count,
    })
}

fn range_reply(ctx: &mut Ctx, args: &Args, kind: Kind, rev: Option<bool>) -> CmdResult {
    let req = parse(args, 1, false, kind, rev)?;
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(z) = read(ctx, &mut sh, h, key)? else {
        drop(sh);
        ctx.out.array(0);
        return Ok(());
    };
    let (a, b) = req.ranks(z);
    let out = &mut *ctx.out;
    list_header(out, b - a, req.withscores);
    z.range(a, b, req.rev, &mut |m, s| {
        list_item(out, m, s, req.withscores)
    });
    Ok(())
}

/// `ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`
pub fn zrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    range_reply(ctx, args, Kind::Auto, None)
}

/// `ZREVRANGE key start stop [WITHSCORES]`
pub fn zrevrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    range_reply(ctx, args, Kind::Rank, Some(true))
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`
pub fn zrangebyscore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    range_reply(ctx, args, Kind::Score, Some(false))
}

/// `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]`
pub fn zrevrangebyscore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    range_reply(ctx, args, Kind::Score, Some(true))
}

/// `ZRANGEBYLEX key min max [LIMIT offset count]`
pub fn zrangebylex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    range_reply(ctx, args, Kind::Lex, Some(false))
}

/// `ZREVRANGEBYLEX key max min [LIMIT offset count]`
pub fn zrevrangebylex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    range_reply(ctx, args, Kind::Lex, Some(true))
}

/// `ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]`
pub fn zrangestore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let req = parse(args, 2, true, Kind::Auto, None)?;
    let (dst, src) = (args.get(1), args.get(2));
    let (hd, hs) = (ctx.hash(dst), ctx.hash(src));
    let lim = limits(ctx);
    let mut locked = ctx.db().lock_many(&[hd, hs]);
    let items = match read(ctx, locked.stripe(hs), hs, src)? {
        Some(z) => {
            let (a, b) = req.ranks(z);
            z.collect(a, b, false)
        }
        None => Vec::new(),
    };
    let n = items.len();
    typed::store(
        ctx,
        locked.stripe(hd),
        hd,
        dst,
        Object::ZSet(ZSet::from_sorted(&items, lim)),
    );
    drop(locked);
    ctx.out.int(n as i64);
    Ok(())
}

/// ZCOUNT and ZLEXCOUNT after their range is parsed.
fn count_in(ctx: &mut Ctx, args: &Args, ranks: &dyn Fn(&ZSet) -> (usize, usize)) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let n = read(ctx, &mut sh, h, key)?.map_or(0, |z| {
        let (a, b) = ranks(z);
        b - a
    });
    drop(sh);
    ctx.out.int(n as i64);
    Ok(())
}

/// `ZCOUNT key min max`
pub fn zcount(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let r = ScoreRange::parse(args.get(2), args.get(3))?;
    count_in(ctx, args, &|z| r.ranks(z))
}

/// `ZLEXCOUNT key min max`
pub fn zlexcount(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let r = LexRange::parse(args.get(2), args.get(3))?;
    count_in(ctx, args, &|z| r.ranks(z))
}

/// The ZREMRANGEBY* commands after their range is parsed.
fn remove_in(ctx: &mut Ctx, args: &Args, ranks: &dyn Fn(&ZSet) -> (usize, usize)) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let mut n = 0;
    if let Some(z) = typed::write_existing(ctx, &mut sh, h, key, pick_mut)? {
        let (a, b) = ranks(z);
        n = b - a;
        z.remove_ranks(a, b);
        typed::remove_if_empty(&mut sh, h, key);
    }
    drop(sh);
    ctx.out.int(n as i64);
    Ok(())
}

/// `ZREMRANGEBYRANK key start stop`
pub fn zremrangebyrank(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (start, end) = (args.int(2)?, args.int(3)?);
    remove_in(
        ctx,
        args,
        &|z| match clamp_ranks(start, end, z.len() as i64) {
            Some((s, e)) => (s as usize, (e + 1) as usize),
            None => (0, 0),
        },
    )
}

/// `ZREMRANGEBYSCORE key min max`
pub fn zremrangebyscore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let r = ScoreRange::parse(args.get(2), args.get(3))?;
    remove_in(ctx, args, &|z| r.ranks(z))
}

/// `ZREMRANGEBYLEX key min max`
pub fn zremrangebylex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let r = LexRange::parse(args.get(2), args.get(3))?;
    remove_in(ctx, args, &|z| r.ranks(z))
}
