//! String commands: GET SET and friends.
//!
//! Every access to a value goes through [`str_of`] (read) or [`with_string_mut`]
//! (in-place write), so WRONGTYPE is decided in one place when other types arrive.
//! Submodules hold the larger groups: [`multi`] (MGET MSET MSETNX), [`edit`]
//! (APPEND STRLEN GETRANGE SETRANGE), [`counter`] (INCR family), [`lcs`].

mod counter;
mod edit;
mod lcs;
mod multi;

use super::flags::*;
use super::{err, Args, CmdError, CmdResult, CommandSpec, Ctx, SYNTAX, WRONGTYPE};
use crate::db::entry::{Entry, ValueRef};
use crate::db::{access, new_access, Keyspace, Stripe};

use super::keyed as cmd;

const GROUP: &str = "string";

pub static COMMANDS: &[CommandSpec] = &[
    cmd!("get", 2, READONLY | FAST, 1, 1, 1, get, "1.0.0", "Returns the string value of a key."),
    cmd!("set", -3, WRITE | DENYOOM, 1, 1, 1, set, "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."),
    cmd!("setnx", 3, WRITE | DENYOOM | FAST, 1, 1, 1, setnx, "1.0.0", "Set the string value of a key only when the key doesn't exist."),
    cmd!("setex", 4, WRITE | DENYOOM, 1, 1, 1, setex, "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist."),
    cmd!("psetex", 4, WRITE | DENYOOM, 1, 1, 1, psetex, "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist."),
    cmd!("getset", 3, WRITE | DENYOOM | FAST, 1, 1, 1, getset, "1.0.0", "Returns the previous string value of a key after setting it to a new value."),
    cmd!("getdel", 2, WRITE | FAST, 1, 1, 1, getdel, "6.2.0", "Returns the string value of a key after deleting the key."),
    cmd!("getex", -2, WRITE | FAST, 1, 1, 1, getex, "6.2.0", "Returns the string value of a key after setting its expiration time."),
    cmd!("mget", -2, READONLY | FAST, 1, -1, 1, multi::mget, "1.0.0", "Atomically returns the string values of one or more keys."),
    cmd!("mset", -3, WRITE | DENYOOM, 1, -1, 2, multi::mset, "1.0.1", "Atomically creates or modifies the string values of one or more keys."),
    cmd!("msetnx", -3, WRITE | DENYOOM, 1, -1, 2, multi::msetnx, "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist."),
    cmd!("append", 3, WRITE | DENYOOM | FAST, 1, 1, 1, edit::append, "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist."),
    cmd!("strlen", 2, READONLY | FAST, 1, 1, 1, edit::strlen, "2.2.0", "Returns the length of a string value."),
    cmd!("getrange", 4, READONLY, 1, 1, 1, edit::getrange, "2.4.0", "Returns a substring of the string stored at a key."),
    cmd!("substr", 4, READONLY, 1, 1, 1, edit::getrange, "1.0.0", "Returns a substring from a string value."),
    cmd!("setrange", 4, WRITE | DENYOOM, 1, 1, 1, edit::setrange, "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist."),
    cmd!("incr", 2, WRITE | DENYOOM | FAST, 1, 1, 1, counter::incr, "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    cmd!("decr", 2, WRITE | DENYOOM | FAST, 1, 1, 1, counter::decr, "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    cmd!("incrby", 3, WRITE | DENYOOM | FAST, 1, 1, 1, counter::incrby, "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    cmd!("decrby", 3, WRITE | DENYOOM | FAST, 1, 1, 1, counter::decrby, "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."),
    cmd!("incrbyfloat", 3, WRITE | DENYOOM | FAST, 1, 1, 1, counter::incrbyfloat, "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    cmd!("lcs", -3, READONLY, 1, 2, 1, lcs::lcs, "7.0.0", "Finds the longest common substring."),
];

/// The string held by an entry, or WRONGTYPE. The one place that decides whether
/// a value is a string: new value types only need a new arm here.
#[inline]
pub fn str_of(e: &Entry) -> Result<&[u8], CmdError> {
    match e.value() {
        ValueRef::Str(s) => Ok(s),
        _ => err(WRONGTYPE),
    }
}

/// Redis's `checkStringLength`: a string may not grow past proto-max-bulk-len.
pub fn check_string_length(ctx: &Ctx, total: u64) -> CmdResult {
    // The parameter cannot be set below 1 MiB, so short strings never read it.
    if total > 1024 * 1024 && total > ctx.srv.config.get_i64("proto-max-bulk-len") as u64 {
        return err("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    }
    Ok(())
}

/// Runs `f` on the string at `key`, zero-padded to at least `min_len` bytes and
/// created (empty, then padded) if missing; Redis's `lookupStringForBitCommand`
/// plus APPEND/SETRANGE. Long strings are edited in their own buffer, so repeated
/// appends cost amortised O(1); short inline ones are rebuilt. The key keeps its
/// TTL. If `f` fails, the value is left as it was (`f` must check before writing).
pub fn with_string_mut<R>(
    ks: &Keyspace,
    sh: &mut Stripe,
    h: u64,
    key: &[u8],
    now_ms: i64,
    min_len: usize,
    f: impl FnOnce(&mut Vec<u8>) -> Result<R, CmdError>,
) -> Result<R, CmdError> {
    let Some(slot) = ks.live(sh, h, key, now_ms) else {
        let mut v = vec![0u8; min_len];
        let r = f(&mut v)?;
        sh.insert(h, Entry::new_string_owned(key, v, None, new_access(now_ms)));
        return Ok(r);
    };
    let (mut buf, expire, access) = {
        let mut view = sh.view_mut(slot);
        str_of(&view)?;
        let access = access::touched(view.access(), now_ms);
        view.set_access(access);
        if let Some(buf) = view.heap_string_mut() {
            if buf.len() < min_len {
                buf.resize(min_len, 0);
            }
            return f(buf);
        }
        let current = str_of(&view)?;
        let mut buf = Vec::with_capacity(current.len().max(min_len));
        buf.extend_from_slice(current);
        (buf, view.expire(), access)
    };
    if buf.len() < min_len {
        buf.resize(min_len, 0);
    }
    let r = f(&mut buf)?;
    drop(sh.replace(slot, h, Entry::new_string_owned(key, buf, expire, access)));
    Ok(r)
}

/// Stores `value` at `key`, replacing whatever was there (and its TTL unless
/// `expire` says otherwise): Redis's `setKey`.
pub fn store(
    sh: &mut Stripe,
    h: u64,
    slot: Option<usize>,
    key: &[u8],
    value: &[u8],
    expire: Option<i64>,
    now_ms: i64,
) {
    // An overwrite keeps the old key's (touched) LFU counter, as Redis's dbOverwrite.
    let word = match slot {
        Some(s) => access::touched(sh.view(s).access(), now_ms),
        None => new_access(now_ms),
    };
    let entry = Entry::new_string(key, value, expire, word);
    match slot {
        Some(s) => drop(sh.replace(s, h, entry)),
        None => sh.insert(h, entry),
    }
}

/// `GET key`
fn get(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let ks = ctx.ks();
    let mut sh = ctx.db().lock(h);
    match ks.read(&mut sh, h, key, ctx.now_ms) {
        Some(slot) => ctx.out.bulk(str_of(&sh.view(slot))?),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Expiry options shared by SET, GETEX and friends (kept for other families).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpireOpt {
    None,
    /// Absolute Unix time in milliseconds.
    At(i64),
    KeepTtl,
    Persist,
}

/// Expiry given to SET or GETEX: the argument and how to read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExpireKind {
    Ex,
    Px,
    ExAt,
    PxAt,
}

impl ExpireKind {
    fn unit_ms(self) -> i64 {
        match self {
            ExpireKind::Ex | ExpireKind::ExAt => 1000,
            ExpireKind::Px | ExpireKind::PxAt => 1,
        }
    }

    fn absolute(self) -> bool {
        matches!(self, ExpireKind::ExAt | ExpireKind::PxAt)
    }
}

/// Options of SET and GETEX, parsed as Redis's `parseExtendedStringArgumentsOrReply`
/// does (the same expiry option may repeat, the last one wins; conflicting ones
/// are a syntax error).
#[derive(Default)]
struct ExtOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireKind, &'a [u8])>,
}

fn parse_ext<'a>(args: &Args<'a>, start: usize, for_set: bool) -> Result<ExtOpts<'a>, CmdError> {
    let mut o = ExtOpts::default();
    let mut i = start;
    while i < args.len() {
        let a = args.get(i);
        let next = (i + 1 < args.len()).then(|| args.get(i + 1));
        let kind = o.expire.map(|(k, _)| k);
        let other_expire = |mine: ExpireKind| kind.is_some_and(|k| k != mine);
        let word = |w: &str| a.eq_ignore_ascii_case(w.as_bytes());
        let expire_kind = [
            ("ex", ExpireKind::Ex),
            ("px", ExpireKind::Px),
            ("exat", ExpireKind::ExAt),
            ("pxat", ExpireKind::PxAt),
        ]
        .into_iter()
        .find(|(w, _)| word(w))
        .map(|(_, k)| k);
        if for_set && word("nx") && !o.xx {
            o.nx = true;
        } else if for_set && word("xx") && !o.nx {
            o.xx = true;
        } else if for_set && word("get") {
            o.get = true;
        } else if for_set && word("keepttl") && !o.persist && kind.is_none() {
            o.keepttl = true;
        } else if !for_set && word("persist") && kind.is_none() && !o.keepttl {
            o.persist = true;
        } else if let (Some(k), Some(v)) = (expire_kind, next) {
            if o.keepttl || o.persist || other_expire(k) {
                return err(SYNTAX);
            }
            o.expire = Some((k, v));
            i += 1;
        } else {
            return err(SYNTAX);
        }
        i += 1;
    }
    Ok(o)
}

/// Converts a relative or absolute expiry argument to absolute milliseconds,
/// with Redis's overflow and range checks (`getExpireMillisecondsOrReply`).
pub fn expire_at(
    ctx: &Ctx,
    value: &[u8],
    unit_ms: i64,
    absolute: bool,
    cmd: &str,
) -> Result<i64, CmdError> {
    let v =
        crate::util::parse_i64_strict(value).ok_or_else(|| CmdError::from(super::NOT_INTEGER))?;
    let invalid = || CmdError::from(format!("ERR invalid expire time in '{cmd}' command"));
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

/// What SET-like commands reply when they set, or skip because of NX/XX.
#[derive(Clone, Copy)]
enum SetReply {
    /// `+OK` / null (SET).
    Ok,
    /// `:1` / `:0` (SETNX).
    Int,
}

/// Redis's `setGenericCommand`.
#[allow(clippy::too_many_arguments)]
fn set_generic(
    ctx: &mut Ctx,
    key: &[u8],
    value: &[u8],
    opts: &ExtOpts,
    cmd: &str,
    reply: SetReply,
) -> CmdResult {
    let at = match opts.expire {
        Some((k, v)) => Some(expire_at(ctx, v, k.unit_ms(), k.absolute(), cmd)?),
        None => None,
    };
    let h = ctx.hash(key);
    let ks = ctx.ks();
    let mut sh = ctx.db().lock(h);
    if opts.get {
        match ks.read(&mut sh, h, key, ctx.now_ms) {
            Some(s) => ctx.out.bulk(str_of(&sh.view(s))?),
            None => ctx.out.null(),
        }
    }
    let slot = ks.live(&mut sh, h, key, ctx.now_ms);
    if (opts.nx && slot.is_some()) || (opts.xx && slot.is_none()) {
        if !opts.get {
            match reply {
                SetReply::Ok => ctx.out.null(),
                SetReply::Int => ctx.out.int(0),
            }
        }
        ctx.propagate_none();
        return Ok(());
    }
    if at.is_some() {
        // EX/PX/EXAT, SETEX, PSETEX: `SET key value PXAT ms` (Redis 7.0).
        crate::repl::rewrite::set_pxat(ctx, key, value, at);
    }
    let at = match (at, opts.keepttl) {
        (Some(at), _) => Some(at),
        (None, true) => slot.and_then(|s| sh.view(s).expire()),
        (None, false) => None,
    };
    store(&mut sh, h, slot, key, value, at, ctx.now_ms);
    if !opts.get {
        match reply {
            SetReply::Ok => ctx.out.ok(),
            SetReply::Int => ctx.out.int(1),
        }
    }
    Ok(())
}

/// `SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]`
fn set(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let opts = parse_ext(args, 3, true)?;
    set_generic(ctx, args.get(1), args.get(2), &opts, "set", SetReply::Ok)
}

/// `SETNX key value`
fn setnx(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let opts = ExtOpts {
        nx: true,
        ..Default::default()
    };
    set_generic(ctx, args.get(1), args.get(2), &opts, "setnx", SetReply::Int)
}

/// `SETEX key seconds value`
fn setex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let opts = ExtOpts {
        expire: Some((ExpireKind::Ex, args.get(2))),
        ..Default::default()
    };
    set_generic(ctx, args.get(1), args.get(3), &opts, "setex", SetReply::Ok)
}

/// `PSETEX key milliseconds value`
fn psetex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let opts = ExtOpts {
        expire: Some((ExpireKind::Px, args.get(2))),
        ..Default::default()
    };
    set_generic(ctx, args.get(1), args.get(3), &opts, "psetex", SetReply::Ok)
}

/// `GETSET key value`
fn getset(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (key, value) = (args.get(1), args.get(2));
    let h = ctx.hash(key);
    let ks = ctx.ks();
    let mut sh = ctx.db().lock(h);
    let slot = ks.read(&mut sh, h, key, ctx.now_ms);
    match slot {
        Some(s) => ctx.out.bulk(str_of(&sh.view(s))?),
        None => ctx.out.null(),
    }
    store(&mut sh, h, slot, key, value, None, ctx.now_ms);
    Ok(())
}

/// `GETDEL key`
fn getdel(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let ks = ctx.ks();
    let mut sh = ctx.db().lock(h);
    let Some(slot) = ks.read(&mut sh, h, key, ctx.now_ms) else {
        ctx.out.null();
        return Ok(());
    };
    ctx.out.bulk(str_of(&sh.view(slot))?);
    drop(sh.remove(slot, h));
    Ok(())
}

/// `GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]`
fn getex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let opts = parse_ext(args, 2, false)?;
    let key = args.get(1);
    let h = ctx.hash(key);
    let ks = ctx.ks();
    let mut sh = ctx.db().lock(h);
    // Redis looks the key up and checks its type before validating the expiry.
    let Some(slot) = ks.read(&mut sh, h, key, ctx.now_ms) else {
        ctx.out.null();
        return Ok(());
    };
    str_of(&sh.view(slot))?;
    let at = match opts.expire {
        Some((k, v)) => Some((expire_at(ctx, v, k.unit_ms(), k.absolute(), "getex")?, k)),
        None => None,
    };
    let view = sh.view(slot);
    let value = str_of(&view)?;
    ctx.out.bulk(value);
    // Propagated as PEXPIREAT, PERSIST or DEL (Redis 7.0); nothing when
    // only read.
    let new_expire = match at {
        Some((at, k)) if k.absolute() && at <= ctx.now_ms && !crate::db::loading() => {
            drop(sh.remove(slot, h));
            crate::repl::rewrite::del(ctx, key);
            return Ok(());
        }
        Some((at, _)) => {
            crate::repl::rewrite::pexpireat(ctx, key, at);
            Some(at)
        }
        None if opts.persist && view.expire().is_some() => {
            ctx.propagate_as(&[b"PERSIST", key]);
            None
        }
        None => {
            ctx.propagate_none();
            return Ok(());
        }
    };
    if let (Some(at), Some(_)) = (new_expire, view.expire()) {
        sh.view_mut(slot).set_expire_in_place(at);
        return Ok(());
    }
    let entry = Entry::new_string(key, value, new_expire, view.access());
    drop(sh.replace(slot, h, entry));
    Ok(())
}
