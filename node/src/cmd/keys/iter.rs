//! Keyspace iteration: KEYS SCAN RANDOMKEY.
//!
//! All three walk the stripes one at a time, holding one stripe lock at a time,
//! so a long KEYS never stalls clients whose keys live in other stripes. Expired
//! keys are never returned.

use std::cell::RefCell;

use super::type_name;
use crate::cmd::{err, Args, CmdResult, Ctx, SYNTAX};
use crate::db::table::TAG_BITS;
use crate::db::STRIPES;
use crate::protocol::Out;
use crate::util::{glob_match, Rng};

/// An encoder for the elements of a reply whose length is known only at the end.
fn side_buffer(ctx: &Ctx) -> Out {
    Out {
        buf: Vec::new(),
        resp3: ctx.out.resp3,
    }
}

/// `KEYS pattern`
pub fn keys(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let pattern = args.get(1);
    let all = pattern == b"*";
    let db = ctx.db();
    let mut body = side_buffer(ctx);
    let mut n = 0;
    for stripe in 0..STRIPES {
        let sh = db.lock_index(stripe);
        for e in sh.iter() {
            if !e.is_expired(ctx.now_ms) && (all || glob_match(pattern, e.key(), false)) {
                body.bulk(e.key());
                n += 1;
            }
        }
    }
    ctx.out.array(n);
    ctx.out.raw(&body.buf);
    Ok(())
}

/// A SCAN cursor as Redis's `parseScanCursorOrReply` reads it (`strtoul`): an
/// optional sign, decimal digits (a `-` negates modulo 2^64), nothing else; the
/// empty string is 0.
pub fn parse_cursor(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`
///
/// # Cursor
/// A database is [`STRIPES`] stripes, and each stripe's table keeps its slots
/// sorted by a 19-bit hash tag at every size (`db::table`). The cursor is
/// `stripe * 2^19 + tag`: "continue in this stripe from this tag". Because a
/// key's stripe and tag depend only on its hash, a cursor stays valid however
/// the tables grow or shrink between calls, so a key present for a whole
/// iteration is returned at least once (it may be returned more than once only
/// if it is deleted and re-added). 0 starts an iteration and ends one.
///
/// COUNT (default 10) is the number of entries to visit, expired and filtered
/// ones included, as in Redis; a call may visit more to finish a run of equal
/// tags. A cursor past the last stripe (never returned by the node) ends the
/// iteration at once.
pub fn scan(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let cursor = parse_cursor(args.get(1)).ok_or("ERR invalid cursor")?;
    let mut count: usize = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut want_type: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if args.is(i, "count") && has_value {
            let n = args.int(i + 1)?;
            if n < 1 {
                return err(SYNTAX);
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if args.is(i, "match") && has_value {
            let p = args.get(i + 1);
            pattern = (p != b"*").then_some(p);
        } else if args.is(i, "type") && has_value {
            want_type = Some(args.get(i + 1));
        } else {
            return err(SYNTAX);
        }
        i += 2;
    }

    let span = 1u64 << TAG_BITS;
    let mut stripe = usize::try_from(cursor / span).unwrap_or(usize::MAX);
    let mut tag = (cursor % span) as u32;
    let ks = ctx.ks();
    let db = ctx.db();
    let now = ctx.now_ms;
    let mut body = side_buffer(ctx);
    let mut n = 0usize;
    let mut visited = 0usize;
    let mut next = 0u64;
    let mut expired: Vec<Vec<u8>> = Vec::new();
    while stripe < STRIPES {
        let mut sh = db.lock_index(stripe);
        let resume = sh.scan(tag, count - visited, |e| {
            visited += 1;
            if e.is_expired(now) {
                expired.push(e.key().to_vec());
                return;
            }
            if pattern.is_some_and(|p| !glob_match(p, e.key(), false)) {
                return;
            }
            if want_type.is_some_and(|t| !t.eq_ignore_ascii_case(type_name(&e.value()).as_bytes()))
            {
                return;
            }
            body.bulk(e.key());
            n += 1;
        });
        // Lazy expiry of what the walk met, as Redis's SCAN does (not on a
        // replica, which waits for its primary's DEL).
        if ks.replica_expiry.load(std::sync::atomic::Ordering::Relaxed) {
            expired.clear();
        }
        for key in expired.drain(..) {
            let h = ks.hash(&key);
            if let Some(slot) = sh.find(h, &key) {
                drop(sh.remove(slot, h));
                ks.note_expired(sh.db(), &key);
            }
        }
        drop(sh);
        match resume {
            Some(t) => {
                next = stripe as u64 * span + t as u64;
                break;
            }
            None => {
                stripe += 1;
                tag = 0;
                if visited >= count && stripe < STRIPES {
                    next = stripe as u64 * span;
                    break;
                }
            }
        }
    }
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(n);
    ctx.out.raw(&body.buf);
    Ok(())
}

thread_local! {
    static RNG: RefCell<Rng> = RefCell::new(Rng::from_entropy());
}

fn random_u64() -> u64 {
    RNG.with(|r| r.borrow_mut().next_u64())
}

/// `RANDOMKEY`
///
/// Picks a random non-empty stripe, then a random key in it. An expired pick is
/// deleted and the draw repeated (as Redis does on a primary); every repeat
/// removes a key, so the loop ends. A replica deletes nothing: after 100
/// expired draws it answers with an expired key, as Redis does.
pub fn randomkey(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let ks = ctx.ks();
    let db = ctx.db();
    let mut replica_draws = 0;
    loop {
        let start = (random_u64() % STRIPES as u64) as usize;
        let mut drew_expired = false;
        for k in 0..STRIPES {
            let mut sh = db.lock_index((start + k) % STRIPES);
            let Some(slot) = sh.random_slot(random_u64()) else {
                continue;
            };
            let e = sh.view(slot);
            if !e.is_expired(ctx.now_ms) {
                let key = e.key().to_vec();
                drop(sh);
                ctx.out.bulk(&key);
                return Ok(());
            }
            let key = e.key().to_vec();
            if ks.replica_expiry.load(std::sync::atomic::Ordering::Relaxed) {
                replica_draws += 1;
                if replica_draws >= 100 {
                    drop(sh);
                    ctx.out.bulk(&key);
                    return Ok(());
                }
                drew_expired = true;
                break;
            }
            let h = ks.hash(&key);
            drop(sh.remove(slot, h));
            ks.note_expired(sh.db(), &key);
            drew_expired = true;
            break;
        }
        if !drew_expired {
            ctx.out.null();
            return Ok(());
        }
    }
}
