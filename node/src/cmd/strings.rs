//! String commands: GET SET and friends.

use super::flags::*;
use super::{err, Args, CmdResult, CommandSpec, Ctx, SYNTAX};
use crate::db::entry::{Entry, ValueRef};
use crate::db::lru_clock;

macro_rules! cmd {
    ($name:expr, $arity:expr, $flags:expr, $first:expr, $last:expr, $step:expr, $h:expr, $since:expr, $summary:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $first,
            last_key: $last,
            step: $step,
            handler: $h,
            group: "string",
            since: $since,
            summary: $summary,
            subcommands: &[],
        }
    };
}

pub static COMMANDS: &[CommandSpec] = &[
    cmd!("get", 2, READONLY | FAST, 1, 1, 1, get, "1.0.0", "Returns the string value of a key."),
    cmd!("set", -3, WRITE | DENYOOM, 1, 1, 1, set, "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."),
];

/// `GET key`
fn get(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let ks = &ctx.srv.keyspace;
    let mut sh = ctx.db().lock(h);
    match ks.read(&mut sh, h, key, ctx.now_ms) {
        Some(slot) => match sh.view(slot).value() {
            ValueRef::Str(v) => ctx.out.bulk(v),
        },
        None => ctx.out.null(),
    }
    Ok(())
}

/// Expiry options shared by SET, GETEX and friends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpireOpt {
    None,
    /// Absolute Unix time in milliseconds.
    At(i64),
    KeepTtl,
    Persist,
}

/// Converts a relative or absolute expiry argument to absolute milliseconds,
/// with Redis's overflow and range checks.
pub fn expire_at(
    ctx: &Ctx,
    value: &[u8],
    unit_ms: i64,
    absolute: bool,
    cmd: &str,
) -> Result<i64, super::CmdError> {
    let v = crate::util::parse_i64_strict(value)
        .ok_or_else(|| super::CmdError::from(super::NOT_INTEGER))?;
    let invalid = || super::CmdError::from(format!("ERR invalid expire time in '{cmd}' command"));
    if v <= 0 {
        return Err(invalid());
    }
    let ms = v.checked_mul(unit_ms).ok_or_else(invalid)?;
    if absolute {
        Ok(ms)
    } else {
        ms.checked_add(ctx.now_ms).ok_or_else(invalid)
    }
}

/// `SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]`
fn set(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (mut nx, mut xx, mut want_get) = (false, false, false);
    let mut keepttl = false;
    // (unit ms, absolute, argument): parsed after the loop, as Redis does, so a
    // later syntax error wins over a bad number. Repeating the same unit is allowed.
    let mut timed: Option<(i64, bool, usize)> = None;
    let mut i = 3;
    while i < args.len() {
        let a = args.get(i);
        let has_next = i + 1 < args.len();
        let unit = [
            (&b"ex"[..], 1000, false),
            (b"px", 1, false),
            (b"exat", 1000, true),
            (b"pxat", 1, true),
        ]
        .into_iter()
        .find(|(w, _, _)| a.eq_ignore_ascii_case(w));
        if a.eq_ignore_ascii_case(b"nx") && !xx {
            nx = true;
        } else if a.eq_ignore_ascii_case(b"xx") && !nx {
            xx = true;
        } else if a.eq_ignore_ascii_case(b"get") {
            want_get = true;
        } else if a.eq_ignore_ascii_case(b"keepttl") && timed.is_none() {
            keepttl = true;
        } else if let Some((_, ms, abs)) = unit.filter(|&(_, ms, abs)| {
            has_next && !keepttl && timed.is_none_or(|(m, b, _)| (m, b) == (ms, abs))
        }) {
            timed = Some((ms, abs, i + 1));
            i += 1;
        } else {
            return err(SYNTAX);
        }
        i += 1;
    }
    let expire = match timed {
        Some((ms, abs, at)) => ExpireOpt::At(expire_at(ctx, args.get(at), ms, abs, "set")?),
        None if keepttl => ExpireOpt::KeepTtl,
        None => ExpireOpt::None,
    };
    let key = args.get(1);
    let value = args.get(2);
    let h = ctx.hash(key);
    let ks = &ctx.srv.keyspace;
    let mut sh = ctx.db().lock(h);
    let slot = ks.live(&mut sh, h, key, ctx.now_ms);
    if want_get {
        match slot {
            Some(s) => match sh.view(s).value() {
                ValueRef::Str(v) => ctx.out.bulk(v),
            },
            None => ctx.out.null(),
        }
    }
    if (nx && slot.is_some()) || (xx && slot.is_none()) {
        if !want_get {
            ctx.out.null();
        }
        return Ok(());
    }
    let at = match expire {
        ExpireOpt::At(at) => Some(at),
        ExpireOpt::KeepTtl => slot.and_then(|s| sh.view(s).expire()),
        ExpireOpt::None | ExpireOpt::Persist => None,
    };
    let entry = Entry::new_string(key, value, at, lru_clock(ctx.now_ms));
    match slot {
        Some(s) => drop(sh.replace(s, h, entry)),
        None => sh.insert(h, entry),
    }
    if !want_get {
        ctx.out.ok();
    }
    Ok(())
}
