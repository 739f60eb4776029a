//! Expiry commands: EXPIRE PEXPIRE EXPIREAT PEXPIREAT (with NX XX GT LT), TTL
//! PTTL EXPIRETIME PEXPIRETIME, PERSIST.
//!
//! Expiry times are absolute Unix milliseconds, stored in the entry; the stripe
//! keeps its index of keys with a TTL in step ([`Stripe::set_expire`]), which the
//! active expiry cycle (`server::cron`) samples.
//!
//! [`Stripe::set_expire`]: crate::db::Stripe::set_expire

use super::lookup_notouch;
use crate::cmd::{err, Args, CmdError, CmdResult, Ctx};
use crate::repl::rewrite;

/// The NX/XX/GT/LT conditions of the EXPIRE family.
#[derive(Default)]
struct Conditions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl Conditions {
    /// Parses `args[3..]` with Redis 7.0's checks and messages.
    fn parse(args: &Args) -> Result<Conditions, CmdError> {
        let mut c = Conditions::default();
        for i in 3..args.len() {
            if args.is(i, "nx") {
                c.nx = true;
            } else if args.is(i, "xx") {
                c.xx = true;
            } else if args.is(i, "gt") {
                c.gt = true;
            } else if args.is(i, "lt") {
                c.lt = true;
            } else {
                // Redis formats the option with %s, so it ends at a NUL byte.
                let opt = args.get(i);
                let opt = &opt[..opt.iter().position(|&b| b == 0).unwrap_or(opt.len())];
                return err(format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(opt)
                ));
            }
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return err("ERR NX and XX, GT or LT options at the same time are not compatible");
        }
        if c.gt && c.lt {
            return err("ERR GT and LT options at the same time are not compatible");
        }
        Ok(c)
    }

    /// Whether the new expiry `when` may replace `current` (`None`: no TTL,
    /// which GT and LT treat as an infinite TTL).
    fn allow(&self, current: Option<i64>, when: i64) -> bool {
        !((self.nx && current.is_some())
            || (self.xx && current.is_none())
            || (self.gt && current.is_none_or(|c| when <= c))
            || (self.lt && current.is_some_and(|c| when >= c)))
    }
}

/// `EXPIRE key seconds [NX | XX | GT | LT]`
pub fn expire(ctx: &mut Ctx, args: &Args) -> CmdResult {
    set_expiry(ctx, args, 1000, false, "expire")
}

/// `PEXPIRE key milliseconds [NX | XX | GT | LT]`
pub fn pexpire(ctx: &mut Ctx, args: &Args) -> CmdResult {
    set_expiry(ctx, args, 1, false, "pexpire")
}

/// `EXPIREAT key unix-time-seconds [NX | XX | GT | LT]`
pub fn expireat(ctx: &mut Ctx, args: &Args) -> CmdResult {
    set_expiry(ctx, args, 1000, true, "expireat")
}

/// `PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]`
pub fn pexpireat(ctx: &mut Ctx, args: &Args) -> CmdResult {
    set_expiry(ctx, args, 1, true, "pexpireat")
}

/// The EXPIRE family. Like Redis 7.0: options are checked before the time; a
/// negative or past time deletes the key (and still replies 1); a time whose
/// conversion to absolute milliseconds overflows is an error.
fn set_expiry(ctx: &mut Ctx, args: &Args, unit_ms: i64, absolute: bool, name: &str) -> CmdResult {
    let cond = Conditions::parse(args)?;
    let value = args.int(2)?;
    let invalid = || CmdError::from(format!("ERR invalid expire time in '{name}' command"));
    let ms = value.checked_mul(unit_ms).ok_or_else(invalid)?;
    let when = if absolute {
        ms
    } else {
        ms.checked_add(ctx.now_ms).ok_or_else(invalid)?
    };
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(slot) = ctx.ks().live(&mut sh, h, key, ctx.now_ms) else {
        ctx.out.int(0);
        ctx.propagate_none();
        return Ok(());
    };
    if !cond.allow(sh.view(slot).expire(), when) {
        ctx.out.int(0);
        ctx.propagate_none();
        return Ok(());
    }
    // Propagated with an absolute time (Redis 7.0), or as DEL when past.
    // While loading, a past time is kept (Redis's checkAlreadyExpired).
    if when <= ctx.now_ms && !crate::db::loading() {
        let old = sh.remove(slot, h);
        drop(sh);
        drop(old);
        rewrite::del(ctx, key);
    } else {
        sh.set_expire(slot, h, Some(when));
        rewrite::pexpireat(ctx, key, when);
    }
    ctx.out.int(1);
    Ok(())
}

/// `TTL key`
pub fn ttl(ctx: &mut Ctx, args: &Args) -> CmdResult {
    report(ctx, args, false, false)
}

/// `PTTL key`
pub fn pttl(ctx: &mut Ctx, args: &Args) -> CmdResult {
    report(ctx, args, true, false)
}

/// `EXPIRETIME key`
pub fn expiretime(ctx: &mut Ctx, args: &Args) -> CmdResult {
    report(ctx, args, false, true)
}

/// `PEXPIRETIME key`
pub fn pexpiretime(ctx: &mut Ctx, args: &Args) -> CmdResult {
    report(ctx, args, true, true)
}

/// -2 for a missing key, -1 for a key without TTL, else the remaining time or
/// the absolute expiry, in seconds rounded to the nearest (as Redis's
/// `(ttl+500)/1000`, computed without overflow) or in milliseconds.
fn report(ctx: &mut Ctx, args: &Args, in_ms: bool, absolute: bool) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let reply = match lookup_notouch(ctx.ks(), &mut sh, h, key, ctx.now_ms) {
        None => -2,
        Some(slot) => match sh.view(slot).expire() {
            None => -1,
            Some(at) => {
                let t = if absolute {
                    at
                } else {
                    at.saturating_sub(ctx.now_ms).max(0)
                };
                if in_ms {
                    t
                } else {
                    ((t as i128 + 500) / 1000) as i64
                }
            }
        },
    };
    drop(sh);
    ctx.out.int(reply);
    Ok(())
}

/// `PERSIST key`
pub fn persist(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let done = match ctx.ks().live(&mut sh, h, key, ctx.now_ms) {
        Some(slot) if sh.view(slot).expire().is_some() => {
            sh.set_expire(slot, h, None);
            true
        }
        _ => false,
    };
    drop(sh);
    ctx.out.int(done as i64);
    Ok(())
}
