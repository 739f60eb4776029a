//! Blocking pops: BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP (lists) and BZPOPMIN
//! BZPOPMAX BZMPOP (sorted sets), plus CLIENT UNBLOCK. XREAD and XREADGROUP
//! block through the same [`block`] and [`serve`] (their parsing and serving
//! live in `streams::read`).
//!
//! Each handler first does what its non-blocking form does (the pops are the
//! list and sorted-set families' `serve_*` functions); when no key has data it
//! registers the client as a [`Waiter`] while still holding the keys' stripe
//! locks. [`serve`] runs the same pops later for a woken client, on whichever
//! thread created the key. The cross-thread machinery (registry, ready keys,
//! timeouts, claims) is in [`crate::server::blocked`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::flags::*;
use super::lists::{parse_end, parse_mpop, serve_move, serve_pop, PopReply};
use super::streams::read::ReadRequest;
use super::zsets::{parse_zmpop, serve_zpop, ZPopReply};
use super::{arity_error, err, Args, CmdError, CmdResult, CommandSpec, Ctx};
use crate::db::entry::ValueRef;
use crate::db::types::list::End;
use crate::db::types::Object;
use crate::protocol::Out;
use crate::server::blocked::{self as machinery, Served, Waiter};
use crate::server::client::Client;
use crate::server::Server;

macro_rules! cmd {
    ($name:expr, $arity:expr, $flags:expr, $keys:expr, $h:expr, $group:expr, $since:expr, $summary:expr) => {
        CommandSpec::new($name, $arity, $flags, $keys, $h, $group, $since, $summary)
    };
}

const B: u32 = WRITE | NOSCRIPT | BLOCKING;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("blpop", -3, B, (1, -2, 1), blpop, "list", "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    cmd!("brpop", -3, B, (1, -2, 1), brpop, "list", "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    cmd!("blmove", 6, B | DENYOOM, (1, 2, 1), blmove, "list", "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved."),
    cmd!("brpoplpush", 4, B | DENYOOM, (1, 2, 1), brpoplpush, "list", "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped."),
    cmd!("blmpop", -5, WRITE | BLOCKING | MOVABLEKEYS, (0, 0, 0), blmpop, "list", "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    cmd!("bzpopmin", -3, B | FAST, (1, -2, 1), bzpopmin, "sorted_set", "5.0.0", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
    cmd!("bzpopmax", -3, B | FAST, (1, -2, 1), bzpopmax, "sorted_set", "5.0.0", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped."),
    cmd!("bzmpop", -5, WRITE | BLOCKING | MOVABLEKEYS, (0, 0, 0), bzmpop, "sorted_set", "7.0.0", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
];

/// What a blocked client waits to do, with owned keys: enough to run its pop
/// from any thread once a key has data.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockOp {
    /// BLPOP/BRPOP: `[key, element]` from the first key that gets data.
    Pop { keys: Vec<Vec<u8>>, end: End },
    /// BLMOVE/BRPOPLPUSH: waits on `src` only.
    Move {
        keys: Vec<Vec<u8>>,
        dst: Vec<u8>,
        from: End,
        to: End,
    },
    /// BLMPOP: `[key, [element ...]]`.
    MPop {
        keys: Vec<Vec<u8>>,
        end: End,
        count: usize,
    },
    /// BZPOPMIN/BZPOPMAX: `[key, member, score]`.
    ZPop { keys: Vec<Vec<u8>>, max: bool },
    /// BZMPOP: `[key, [[member, score] ...]]`.
    ZMPop {
        keys: Vec<Vec<u8>>,
        max: bool,
        count: usize,
    },
    /// XREAD / XREADGROUP with BLOCK: `[[key, entries]]` from the first
    /// stream that gets entries past the requested ID.
    XRead(ReadRequest),
    /// WAIT: no key; answered by replica ACKs (`repl::primary::wait`).
    Wait { offset: i64, numreplicas: i64 },
    /// SHUTDOWN waiting for replicas: no key, never times out; answered only
    /// if the shutdown is aborted (`server::shutdown`).
    Shutdown,
}

impl BlockOp {
    /// The keys the client waits on.
    pub fn keys(&self) -> &[Vec<u8>] {
        match self {
            BlockOp::Pop { keys, .. }
            | BlockOp::Move { keys, .. }
            | BlockOp::MPop { keys, .. }
            | BlockOp::ZPop { keys, .. }
            | BlockOp::ZMPop { keys, .. } => keys,
            BlockOp::XRead(req) => &req.keys,
            BlockOp::Wait { .. } | BlockOp::Shutdown => &[],
        }
    }

    /// Whether the client must hear of its key's removal (XREADGROUP: see
    /// `crate::db::removed`).
    pub fn watches_removal(&self) -> bool {
        matches!(self, BlockOp::XRead(req) if req.group.is_some())
    }

    fn wants_zset(&self) -> bool {
        matches!(self, BlockOp::ZPop { .. } | BlockOp::ZMPop { .. })
    }
}

/// Parses a blocking timeout in seconds as Redis 7.0 does: `strtold` syntax,
/// converted to milliseconds rounded up; a product outside the i64 range is
/// "negative" there (the cast yields `LLONG_MIN`). `None` means no timeout
/// (0, or so small it rounds to 0, or a deadline past the clock's range).
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    use crate::util::long_double::{parse, Ld};
    let secs = match parse(arg) {
        Some(Ld::Finite { neg, mant, exp }) => {
            let m = mant as f64 * 2f64.powi(exp.clamp(-2000, 2000) as i32);
            if neg {
                -m
            } else {
                m
            }
        }
        Some(Ld::Inf { .. }) => return err("ERR timeout is negative"),
        None => return err("ERR timeout is not a float or out of range"),
    };
    let ms = (secs * 1000.0).ceil();
    // Below 2^63 the cast to long long works; above it yields LLONG_MIN there.
    if !(0.0..(1u64 << 63) as f64).contains(&ms) {
        return err("ERR timeout is negative");
    }
    let ms = ms as u64;
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

/// Blocks the client on `op` (the caller still holds the keys' stripe locks),
/// or, where blocking is denied (inside EXEC), replies as a timeout would.
pub(crate) fn block(ctx: &mut Ctx, op: BlockOp, timeout: Option<Duration>) {
    // Nothing changed; the pop is logged when it is served.
    ctx.propagate_none();
    if machinery::blocking_denied() {
        match op {
            BlockOp::Move { .. } => ctx.out.null(),
            _ => ctx.out.null_array(),
        }
        return;
    }
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let w = Arc::new(Waiter::new(
        ctx.client.shared.clone(),
        ctx.client.resp3,
        ctx.client.db,
        ctx.cmd,
        op,
        deadline,
    ));
    ctx.srv.blocking.add(w.clone());
    ctx.client.shared.set_blocked(true);
    ctx.client.blocked = Some(w);
}

fn owned(keys: &[&[u8]]) -> Vec<Vec<u8>> {
    keys.iter().map(|k| k.to_vec()).collect()
}

/// BLPOP/BRPOP: `key [key ...] timeout`.
fn bpop(ctx: &mut Ctx, args: &Args, end: End) -> CmdResult {
    let timeout = parse_timeout(args.get(args.len() - 1))?;
    let keys: Vec<&[u8]> = (1..args.len() - 1).map(|i| args.get(i)).collect();
    let hashes: Vec<u64> = keys.iter().map(|k| ctx.hash(k)).collect();
    let mut locks = ctx.db().lock_many(&hashes);
    for (key, &h) in keys.iter().zip(&hashes) {
        if serve_pop(ctx, locks.stripe(h), h, key, end, PopReply::KeyAndBulk)? {
            return Ok(());
        }
    }
    let keys = owned(&keys);
    block(ctx, BlockOp::Pop { keys, end }, timeout);
    Ok(())
}

/// `BLPOP key [key ...] timeout`
fn blpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    bpop(ctx, args, End::Head)
}

/// `BRPOP key [key ...] timeout`
fn brpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    bpop(ctx, args, End::Tail)
}

fn bmove(ctx: &mut Ctx, args: &Args, from: End, to: End, timeout_at: usize) -> CmdResult {
    let timeout = parse_timeout(args.get(timeout_at))?;
    let (src, dst) = (args.get(1), args.get(2));
    let (hs, hd) = (ctx.hash(src), ctx.hash(dst));
    let mut locks = ctx.db().lock_many(&[hs, hd]);
    if serve_move(ctx, &mut locks, src, dst, from, to)? {
        return Ok(());
    }
    let op = BlockOp::Move {
        keys: vec![src.to_vec()],
        dst: dst.to_vec(),
        from,
        to,
    };
    block(ctx, op, timeout);
    Ok(())
}

/// `BLMOVE source destination LEFT | RIGHT LEFT | RIGHT timeout`
fn blmove(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let from = parse_end(args.get(3))?;
    let to = parse_end(args.get(4))?;
    bmove(ctx, args, from, to, 5)
}

/// `BRPOPLPUSH source destination timeout`
fn brpoplpush(ctx: &mut Ctx, args: &Args) -> CmdResult {
    bmove(ctx, args, End::Tail, End::Head, 3)
}

/// `BLMPOP timeout numkeys key [key ...] LEFT | RIGHT [COUNT count]`
fn blmpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let p = parse_mpop(args, 2)?;
    let timeout = parse_timeout(args.get(1))?;
    let hashes: Vec<u64> = p.keys.iter().map(|k| ctx.hash(k)).collect();
    let mut locks = ctx.db().lock_many(&hashes);
    if super::lists::serve_mpop(ctx, &mut locks, &p)? {
        return Ok(());
    }
    let op = BlockOp::MPop {
        keys: owned(&p.keys),
        end: p.end,
        count: p.count,
    };
    block(ctx, op, timeout);
    Ok(())
}

/// BZPOPMIN/BZPOPMAX: `key [key ...] timeout`.
fn bzpop(ctx: &mut Ctx, args: &Args, max: bool) -> CmdResult {
    let timeout = parse_timeout(args.get(args.len() - 1))?;
    let keys: Vec<&[u8]> = (1..args.len() - 1).map(|i| args.get(i)).collect();
    let hashes: Vec<u64> = keys.iter().map(|k| ctx.hash(k)).collect();
    let mut locks = ctx.db().lock_many(&hashes);
    for (key, &h) in keys.iter().zip(&hashes) {
        if serve_zpop(ctx, locks.stripe(h), h, key, max, ZPopReply::KeyMemberScore)? {
            return Ok(());
        }
    }
    let keys = owned(&keys);
    block(ctx, BlockOp::ZPop { keys, max }, timeout);
    Ok(())
}

/// `BZPOPMIN key [key ...] timeout`
fn bzpopmin(ctx: &mut Ctx, args: &Args) -> CmdResult {
    bzpop(ctx, args, false)
}

/// `BZPOPMAX key [key ...] timeout`
fn bzpopmax(ctx: &mut Ctx, args: &Args) -> CmdResult {
    bzpop(ctx, args, true)
}

/// `BZMPOP timeout numkeys key [key ...] MIN | MAX [COUNT count]`
fn bzmpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let p = parse_zmpop(args, 2)?;
    let timeout = parse_timeout(args.get(1))?;
    let hashes: Vec<u64> = p.keys.iter().map(|k| ctx.hash(k)).collect();
    let mut locks = ctx.db().lock_many(&hashes);
    let shape = ZPopReply::KeyAndArray(p.count);
    for (key, &h) in p.keys.iter().zip(&hashes) {
        if serve_zpop(ctx, locks.stripe(h), h, key, p.max, shape)? {
            return Ok(());
        }
    }
    let op = BlockOp::ZMPop {
        keys: owned(&p.keys),
        max: p.max,
        count: p.count,
    };
    block(ctx, op, timeout);
    Ok(())
}

/// Serves waiter `w` from `key`, which a write just created: under the stripe
/// locks its pop needs, checks the key holds the type `w` pops, claims `w` and
/// runs the pop with `w`'s protocol. Runs on the writer's thread.
pub fn serve(srv: &Server, w: &Waiter, key: &[u8]) -> Served {
    let mut client = Client::new(w.shared.clone(), true);
    client.db = w.db;
    client.resp3 = w.resp3;
    let mut out = Out::new();
    out.resp3 = w.resp3;
    let mut ctx = Ctx {
        srv,
        client: &mut client,
        out: &mut out,
        now_ms: crate::util::now_ms(),
        cmd: w.cmd,
        prop: Default::default(),
    };
    let h = ctx.hash(key);
    if let BlockOp::XRead(req) = &w.op {
        let mut sh = ctx.db().lock(h);
        return match super::streams::read::serve_waiter(&mut ctx, &mut sh, h, key, req, || {
            w.claim()
        }) {
            true => {
                drop(sh);
                Served::Reply(out.buf)
            }
            false => Served::Skip,
        };
    }
    let mut hashes = vec![h];
    if let BlockOp::Move { dst, .. } = &w.op {
        hashes.push(ctx.hash(dst));
    }
    let mut locks = ctx.db().lock_many(&hashes);
    let sh = locks.stripe(h);
    let Some(slot) = srv.keyspace.live(sh, h, key, ctx.now_ms) else {
        return Served::Empty;
    };
    let fits = match sh.value(slot) {
        ValueRef::Obj(Object::List(_)) => !w.op.wants_zset(),
        ValueRef::Obj(Object::ZSet(_)) => w.op.wants_zset(),
        _ => false,
    };
    // Redis 7.0 leaves a client blocked when its key is filled with another
    // type; a later client on the same key may pop that type.
    if !fits || !w.claim() {
        return Served::Skip;
    }
    let result = match &w.op {
        BlockOp::Pop { end, .. } => serve_pop(
            &mut ctx,
            locks.stripe(h),
            h,
            key,
            *end,
            PopReply::KeyAndBulk,
        ),
        BlockOp::MPop { end, count, .. } => serve_pop(
            &mut ctx,
            locks.stripe(h),
            h,
            key,
            *end,
            PopReply::KeyAndArray(*count),
        ),
        BlockOp::Move { dst, from, to, .. } => {
            serve_move(&mut ctx, &mut locks, key, dst, *from, *to)
        }
        BlockOp::ZPop { max, .. } => serve_zpop(
            &mut ctx,
            locks.stripe(h),
            h,
            key,
            *max,
            ZPopReply::KeyMemberScore,
        ),
        BlockOp::ZMPop { max, count, .. } => serve_zpop(
            &mut ctx,
            locks.stripe(h),
            h,
            key,
            *max,
            ZPopReply::KeyAndArray(*count),
        ),
        // Served above, before the list and sorted set checks.
        BlockOp::XRead(_) | BlockOp::Wait { .. } | BlockOp::Shutdown => Ok(false),
    };
    if matches!(result, Ok(true)) && srv.keyspace.log.active() {
        // Logged as the non-blocking pop it did, under the same locks.
        let args = Args::new(&[], &[]);
        let bytes = ctx.prop.payload(&args);
        srv.keyspace.log.append(w.db, &bytes);
    }
    drop(locks);
    match result {
        Ok(true) => {}
        // The key was checked under the same locks, so this does not happen;
        // a claimed waiter must still get a reply.
        Ok(false) => out.raw(machinery::timeout_reply(w.resp3)),
        // BLMOVE into a key of another type: the client gets the error and is
        // unblocked, as in Redis.
        Err(e) => out.error(&e.0),
    }
    Served::Reply(out.buf)
}

/// `CLIENT UNBLOCK client-id [TIMEOUT | ERROR]`
pub fn client_unblock(ctx: &mut Ctx, args: &Args) -> CmdResult {
    match args.len() {
        0..=2 => return Err(arity_error("client|unblock")),
        3 | 4 => {}
        _ => {
            return err(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
                args.str_lossy(1)
            ))
        }
    }
    let with_error = if args.len() == 4 {
        if args.is(3, "timeout") {
            false
        } else if args.is(3, "error") {
            true
        } else {
            return err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
        }
    } else {
        false
    };
    let id = args.int(2)?;
    let done = u64::try_from(id).is_ok_and(|id| machinery::unblock_by_id(ctx.srv, id, with_error));
    ctx.out.int(done as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_follow_redis() {
        let ms = |s: &str| parse_timeout(s.as_bytes()).map(|d| d.map(|d| d.as_millis()));
        assert_eq!(ms("0"), Ok(None));
        assert_eq!(ms("1"), Ok(Some(1000)));
        assert_eq!(ms("0.0001"), Ok(Some(1)));
        assert_eq!(ms("-0.0001"), Ok(None));
        assert_eq!(ms("0x10"), Ok(Some(16000)));
        assert_eq!(ms("1.5"), Ok(Some(1500)));
        let neg = Err(CmdError::from("ERR timeout is negative"));
        assert_eq!(ms("-1"), neg);
        assert_eq!(ms("inf"), neg);
        assert_eq!(ms("1e300"), neg);
        let bad = Err(CmdError::from("ERR timeout is not a float or out of range"));
        assert_eq!(ms("abc"), bad);
        assert_eq!(ms("nan"), bad);
        assert_eq!(ms(" 1"), bad);
        assert_eq!(ms(""), bad);
    }
}
