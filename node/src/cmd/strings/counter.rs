//! INCR DECR INCRBY DECRBY INCRBYFLOAT: strings used as numbers. The key keeps
//! its TTL, as Redis's `dbOverwrite` does.

use super::str_of;
use crate::cmd::{err, Args, CmdError, CmdResult, Ctx, NOT_FLOAT, NOT_INTEGER, OVERFLOW};
use crate::db::entry::Entry;
use crate::util::long_double::{incr_by_float, FloatError};

/// Replaces (or creates) `key` with the text `compute` derives from the current
/// value (`None` when the key is missing), keeping the TTL.
fn update<R>(
    ctx: &mut Ctx,
    key: &[u8],
    compute: impl FnOnce(Option<&[u8]>) -> Result<(Vec<u8>, R), CmdError>,
) -> Result<R, CmdError> {
    let h = ctx.hash(key);
    let ks = ctx.ks();
    let mut sh = ctx.db().lock(h);
    let slot = ks.live(&mut sh, h, key, ctx.now_ms);
    let (text, r, expire, word) = match slot {
        Some(s) => {
            let view = sh.view(s);
            let (text, r) = compute(Some(str_of(&view)?))?;
            let word = crate::db::access::touched(view.access(), ctx.now_ms);
            (text, r, view.expire(), word)
        }
        None => {
            let (text, r) = compute(None)?;
            (text, r, None, crate::db::new_access(ctx.now_ms))
        }
    };
    let entry = Entry::new_string_owned(key, text, expire, word);
    match slot {
        Some(s) => drop(sh.replace(s, h, entry)),
        None => sh.insert(h, entry),
    }
    Ok(r)
}

fn incr_generic(ctx: &mut Ctx, key: &[u8], delta: i64) -> CmdResult {
    let v = update(ctx, key, |cur| {
        let old = match cur {
            Some(s) => crate::util::parse_i64_strict(s).ok_or(CmdError::from(NOT_INTEGER))?,
            None => 0,
        };
        let new = old.checked_add(delta).ok_or(CmdError::from(OVERFLOW))?;
        Ok((itoa::Buffer::new().format(new).as_bytes().to_vec(), new))
    })?;
    ctx.out.int(v);
    Ok(())
}

/// `INCR key`
pub fn incr(ctx: &mut Ctx, args: &Args) -> CmdResult {
    incr_generic(ctx, args.get(1), 1)
}

/// `DECR key`
pub fn decr(ctx: &mut Ctx, args: &Args) -> CmdResult {
    incr_generic(ctx, args.get(1), -1)
}

/// `INCRBY key increment`
pub fn incrby(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let by = args.int(2)?;
    incr_generic(ctx, args.get(1), by)
}

/// `DECRBY key decrement`
pub fn decrby(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let by = args.int(2)?;
    let Some(neg) = by.checked_neg() else {
        return err("ERR decrement would overflow");
    };
    incr_generic(ctx, args.get(1), neg)
}

/// `INCRBYFLOAT key increment`
pub fn incrbyfloat(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let incr = args.get(2);
    let text = update(ctx, args.get(1), |cur| {
        let text = incr_by_float(cur.unwrap_or(b"0"), incr).map_err(|e| match e {
            FloatError::NotFloat => CmdError::from(NOT_FLOAT),
            FloatError::NanOrInf => CmdError::from("ERR increment would produce NaN or Infinity"),
        })?;
        let bytes = text.into_bytes();
        Ok((bytes.clone(), bytes))
    })?;
    ctx.out.bulk(&text);
    // Float formatting may differ between builds: replay the result.
    ctx.propagate_as(&[b"SET", args.get(1), &text, b"KEEPTTL"]);
    Ok(())
}
