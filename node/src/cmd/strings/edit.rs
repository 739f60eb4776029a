//! APPEND STRLEN GETRANGE SUBSTR SETRANGE: reading and editing parts of a string.

use super::{check_string_length, str_of, with_string_mut};
use crate::cmd::{err, Args, CmdResult, Ctx};

/// `APPEND key value`
pub fn append(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (key, value) = (args.get(1), args.get(2));
    let h = ctx.hash(key);
    let ks = ctx.ks();
    let mut sh = ctx.db().lock(h);
    let total = with_string_mut(ks, &mut sh, h, key, ctx.now_ms, 0, |buf| {
        check_string_length(ctx, buf.len() as u64 + value.len() as u64)?;
        buf.extend_from_slice(value);
        Ok(buf.len())
    })?;
    ctx.out.int(total as i64);
    Ok(())
}

/// `STRLEN key`
pub fn strlen(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let ks = ctx.ks();
    let mut sh = ctx.db().lock(h);
    let n = match ks.read(&mut sh, h, key, ctx.now_ms) {
        Some(slot) => str_of(&sh.view(slot))?.len(),
        None => 0,
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// Resolves Redis's inclusive `start..=end` range (negative from the end) over a
/// string of `len`; `None` when empty.
pub fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end }.max(0).min(len - 1);
    if start > end || len == 0 {
        return None;
    }
    Some((start as usize, end as usize))
}

/// `GETRANGE key start end` (also `SUBSTR key start end`)
pub fn getrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let start = args.int(2)?;
    let end = args.int(3)?;
    let key = args.get(1);
    let h = ctx.hash(key);
    let ks = ctx.ks();
    let mut sh = ctx.db().lock(h);
    let Some(slot) = ks.read(&mut sh, h, key, ctx.now_ms) else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let view = sh.view(slot);
    let s = str_of(&view)?;
    match clamp_range(start, end, s.len()) {
        Some((a, b)) => ctx.out.bulk(&s[a..=b]),
        None => ctx.out.bulk(b""),
    }
    Ok(())
}

/// `SETRANGE key offset value`
pub fn setrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let offset = args.int(2)?;
    if offset < 0 {
        return err("ERR offset is out of range");
    }
    let (key, value) = (args.get(1), args.get(3));
    let h = ctx.hash(key);
    let ks = ctx.ks();
    let mut sh = ctx.db().lock(h);
    let slot = ks.live(&mut sh, h, key, ctx.now_ms);
    if value.is_empty() {
        // Setting nothing creates nothing and reports the current length.
        let len = match slot {
            Some(s) => str_of(&sh.view(s))?.len(),
            None => 0,
        };
        ctx.out.int(len as i64);
        return Ok(());
    }
    if let Some(s) = slot {
        str_of(&sh.view(s))?;
    }
    let end = offset as u64 + value.len() as u64;
    check_string_length(ctx, end)?;
    // Bounded by proto-max-bulk-len just above.
    let end = end as usize;
    let offset = offset as usize;
    let len = with_string_mut(ks, &mut sh, h, key, ctx.now_ms, end, |buf| {
        buf[offset..end].copy_from_slice(value);
        Ok(buf.len())
    })?;
    ctx.out.int(len as i64);
    Ok(())
}
