//! ZPOPMIN ZPOPMAX ZMPOP, ZRANDMEMBER and ZSCAN.
//!
//! The keyed pops are written once ([`serve_zpop`], [`parse_zmpop`]) so that
//! BZPOPMIN/BZPOPMAX/BZMPOP serve a woken client with the same code.

use std::cell::RefCell;

use super::{list_header, list_item, pick_mut, read};
use crate::cmd::{err, typed, Args, CmdError, CmdResult, Ctx, NOT_INTEGER, SYNTAX};
use crate::db::types::zset::ZSet;
use crate::db::Stripe;
use crate::util::{glob_match, Rng};

thread_local! {
    static RNG: RefCell<Rng> = RefCell::new(Rng::from_entropy());
}

fn random_below(n: usize) -> usize {
    RNG.with(|r| (r.borrow_mut().next_u64() % n as u64) as usize)
}

/// Pops up to `count` elements from the low (`max == false`) or high end.
fn pop_from(z: &mut ZSet, count: usize, max: bool) -> Vec<(Vec<u8>, f64)> {
    let len = z.len();
    let n = count.min(len);
    let (a, b) = if max { (len - n, len) } else { (0, n) };
    let items = z.collect(a, b, max);
    z.remove_ranks(a, b);
    items
}

fn zpop(ctx: &mut Ctx, args: &Args, max: bool) -> CmdResult {
    if args.len() > 3 {
        return err(SYNTAX);
    }
    let count = if args.len() == 3 {
        let c = crate::util::parse_i64_strict(args.get(2))
            .filter(|&c| c >= 0)
            .ok_or(CmdError::from(
                "ERR value is out of range, must be positive",
            ))?;
        Some(usize::try_from(c).unwrap_or(usize::MAX))
    } else {
        None
    };
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let items = match typed::write_existing(ctx, &mut sh, h, key, pick_mut)? {
        Some(z) if count != Some(0) => {
            let items = pop_from(z, count.unwrap_or(1), max);
            typed::remove_if_empty(&mut sh, h, key);
            items
        }
        _ => Vec::new(),
    };
    drop(sh);
    let out = &mut *ctx.out;
    match (count, items.first()) {
        (None, Some((m, s))) => {
            out.array(2);
            out.bulk(m);
            out.double(*s);
        }
        (None, None) => out.array(0),
        (Some(_), _) => {
            list_header(out, items.len(), true);
            for (m, s) in &items {
                list_item(out, m, *s, true);
            }
        }
    }
    Ok(())
}

/// `ZPOPMIN key [count]`
pub fn zpopmin(ctx: &mut Ctx, args: &Args) -> CmdResult {
    zpop(ctx, args, false)
}

/// `ZPOPMAX key [count]`
pub fn zpopmax(ctx: &mut Ctx, args: &Args) -> CmdResult {
    zpop(ctx, args, true)
}

/// The reply shapes of a pop that names its key (the blocking and multi-key
/// variants).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZPopReply {
    /// BZPOPMIN/BZPOPMAX: `[key, member, score]`.
    KeyMemberScore,
    /// ZMPOP/BZMPOP: `[key, [[member, score] ...]]`, up to `n` members.
    KeyAndArray(usize),
}

/// Pops from the sorted set at `key` in a locked stripe and writes the reply in
/// the requested shape; deletes the key when it is left empty. Returns
/// `Ok(false)` (writing nothing) when the key does not exist, so the caller can
/// try another key, reply with a null, or block.
pub fn serve_zpop(
    ctx: &mut Ctx,
    sh: &mut Stripe,
    h: u64,
    key: &[u8],
    max: bool,
    shape: ZPopReply,
) -> Result<bool, CmdError> {
    let Some(z) = typed::write_existing(ctx, sh, h, key, pick_mut)? else {
        return Ok(false);
    };
    let count = match shape {
        ZPopReply::KeyMemberScore => 1,
        ZPopReply::KeyAndArray(n) => n,
    };
    let items = pop_from(z, count, max);
    typed::remove_if_empty(sh, h, key);
    if ctx.propagating() {
        // Blocking and multi-key pops replay as the plain pop they did.
        let cmd: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
        match shape {
            ZPopReply::KeyMemberScore => ctx.propagate_as(&[cmd, key]),
            ZPopReply::KeyAndArray(n) => {
                let n = itoa::Buffer::new().format(n).to_owned();
                ctx.propagate_as(&[cmd, key, n.as_bytes()]);
            }
        }
    }
    let out = &mut *ctx.out;
    match shape {
        ZPopReply::KeyMemberScore => {
            let Some((m, s)) = items.first() else {
                return Ok(false);
            };
            out.array(3);
            out.bulk(key);
            out.bulk(m);
            out.double(*s);
        }
        ZPopReply::KeyAndArray(_) => {
            out.array(2);
            out.bulk(key);
            out.array(items.len());
            for (m, s) in &items {
                out.array(2);
                out.bulk(m);
                out.double(*s);
            }
        }
    }
    Ok(true)
}

/// ZMPOP's arguments after `numkeys_at`: the keys, the end and the count.
pub struct ZMpopArgs<'a> {
    pub keys: Vec<&'a [u8]>,
    pub max: bool,
    pub count: usize,
}

/// Parses `numkeys key [key ...] MIN | MAX [COUNT count]` starting at
/// `numkeys_at` (shared with BZMPOP, whose timeout comes first).
pub fn parse_zmpop<'a>(args: &Args<'a>, numkeys_at: usize) -> Result<ZMpopArgs<'a>, CmdError> {
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    let numkeys = crate::util::parse_i64_strict(args.get(numkeys_at))
        .filter(|&n| n >= 1)
        .ok_or(CmdError::from(NUMKEYS))?;
    let where_idx = usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(numkeys_at + 1))
        .filter(|&w| w < args.len())
        .ok_or(CmdError::from(SYNTAX))?;
    let max = if args.is(where_idx, "min") {
        false
    } else if args.is(where_idx, "max") {
        true
    } else {
        return err(SYNTAX);
    };
    let mut count: Option<usize> = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && args.is(j, "count") && j + 1 < args.len() {
            let c = crate::util::parse_i64_strict(args.get(j + 1))
                .filter(|&c| c >= 1)
                .ok_or(CmdError::from("ERR count should be greater than 0"))?;
            count = Some(usize::try_from(c).unwrap_or(usize::MAX));
            j += 2;
        } else {
            return err(SYNTAX);
        }
    }
    Ok(ZMpopArgs {
        keys: (numkeys_at + 1..where_idx).map(|i| args.get(i)).collect(),
        max,
        count: count.unwrap_or(1),
    })
}

/// `ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]`
pub fn zmpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let p = parse_zmpop(args, 1)?;
    let hashes: Vec<u64> = p.keys.iter().map(|k| ctx.hash(k)).collect();
    let mut locked = ctx.db().lock_many(&hashes);
    for (key, &h) in p.keys.iter().zip(&hashes) {
        let shape = ZPopReply::KeyAndArray(p.count);
        if serve_zpop(ctx, locked.stripe(h), h, key, p.max, shape)? {
            return Ok(());
        }
    }
    drop(locked);
    ctx.out.null_array();
    Ok(())
}

/// `ZRANDMEMBER key [count [WITHSCORES]]`
pub fn zrandmember(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    if args.len() == 2 {
        let h = ctx.hash(key);
        let mut sh = ctx.db().lock(h);
        match read(ctx, &mut sh, h, key)? {
            Some(z) => {
                let (m, _) = z.get(random_below(z.len())).unwrap_or((b"", 0.0));
                ctx.out.bulk(m);
            }
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let count = args.int(2)?;
    if count == i64::MIN {
        return err(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        );
    }
    let withscores = match args.len() {
        3 => false,
        4 if args.is(3, "withscores") => true,
        _ => return err(SYNTAX),
    };
    if withscores && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
        return err("ERR value is out of range");
    }
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(z) = read(ctx, &mut sh, h, key)? else {
        drop(sh);
        ctx.out.array(0);
        return Ok(());
    };
    let out = &mut *ctx.out;
    let len = z.len();
    if count == 0 {
        out.array(0);
    } else if count < 0 || count == 1 {
        // Repeats allowed: every pick independent. The reply is streamed, so
        // nothing but the reply itself grows with the count.
        let n = count.unsigned_abs() as usize;
        list_header(out, n, withscores);
        for _ in 0..n {
            if let Some((m, s)) = z.get(random_below(len)) {
                list_item(out, m, s, withscores);
            }
        }
    } else if count as u64 >= len as u64 {
        list_header(out, len, withscores);
        z.for_each(&mut |m, s| list_item(out, m, s, withscores));
    } else {
        // Distinct ranks: rejection sampling when few are wanted (memory
        // proportional to the count), else a partial Fisher-Yates shuffle over
        // the rank positions (memory proportional to the set).
        let n = count as usize;
        list_header(out, n, withscores);
        if n.saturating_mul(3) < len {
            let mut picked = std::collections::HashSet::with_capacity(n);
            while picked.len() < n {
                let r = random_below(len);
                if picked.insert(r) {
                    if let Some((m, s)) = z.get(r) {
                        list_item(out, m, s, withscores);
                    }
                }
            }
        } else {
            let mut ranks: Vec<usize> = (0..len).collect();
            for i in 0..n {
                let j = i + random_below(len - i);
                ranks.swap(i, j);
                if let Some((m, s)) = z.get(ranks[i]) {
                    list_item(out, m, s, withscores);
                }
            }
        }
    }
    Ok(())
}

/// Order-preserving map of a score to a non-zero cursor value.
fn score_cursor(s: f64) -> u64 {
    let s = if s == 0.0 { 0.0 } else { s };
    let b = s.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// A ZSCAN cursor as `strtoul` reads it (see SCAN).
fn parse_cursor(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`
///
/// A compact set is returned whole with cursor 0, as Redis does. For a large
/// one the cursor encodes the next score to visit (an order-preserving map of
/// the f64 to a non-zero u64), and a call always finishes the run of equal
/// scores it is in: so every member present, with the same score, for the
/// whole iteration is returned, whatever is added or removed in between.
pub fn zscan(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let cursor = parse_cursor(args.get(2)).ok_or("ERR invalid cursor")?;
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(z) = read(ctx, &mut sh, h, key)? else {
        drop(sh);
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while i < args.len() {
        if args.is(i, "count") && i + 1 < args.len() {
            let n = crate::util::parse_i64_strict(args.get(i + 1))
                .ok_or(CmdError::from(NOT_INTEGER))?;
            if n < 1 {
                return err(SYNTAX);
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if args.is(i, "match") && i + 1 < args.len() {
            let p = args.get(i + 1);
            pattern = (p != b"*").then_some(p);
        } else {
            return err(SYNTAX);
        }
        i += 2;
    }
    let mut found: Vec<(&[u8], f64)> = Vec::new();
    let mut next = 0u64;
    {
        match z {
            ZSet::Pack(_) => z.for_each(&mut |m, s| found.push((m, s))),
            ZSet::Tree(_) => {
                let start = if cursor == 0 {
                    0
                } else {
                    z.count_while(&|s, _| score_cursor(s) < cursor)
                };
                let mut end = start.saturating_add(count).min(z.len());
                if let Some((_, last)) = end.checked_sub(1).and_then(|e| z.get(e)) {
                    if end > start {
                        let key = score_cursor(last);
                        end = z.count_while(&|s, _| score_cursor(s) <= key);
                    }
                }
                z.range(start, end, false, &mut |m, s| found.push((m, s)));
                if let Some((_, s)) = z.get(end) {
                    next = score_cursor(s);
                }
            }
        }
    }
    if let Some(p) = pattern {
        found.retain(|(m, _)| glob_match(p, m, false));
    }
    let out = &mut *ctx.out;
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.array(found.len() * 2);
    for (m, s) in found {
        out.bulk(m);
        out.bulk(crate::util::format_f64(s).as_bytes());
    }
    Ok(())
}
