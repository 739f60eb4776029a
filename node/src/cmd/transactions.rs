//! Transaction commands: MULTI EXEC DISCARD WATCH UNWATCH.
//!
//! The machinery lives in `server/multi.rs` (queueing, atomic EXEC across lock
//! stripes) and `server/watch.rs` (the watch registry); the request path in
//! `server/exec.rs` queues commands after MULTI and routes EXEC to
//! `multi::exec`, so [`exec`] here only documents the command.

use super::flags::*;
use super::{err, Args, CmdResult, CommandSpec, Ctx};
use crate::server::multi;
use crate::server::watch::WatchSet;

use super::keyed as cmd;

const GROUP: &str = "transactions";

const TX: u32 = NOSCRIPT | LOADING | STALE;

pub static COMMANDS: &[CommandSpec] = &[
    cmd!(
        "multi",
        1,
        TX | FAST | ALLOW_BUSY,
        0,
        0,
        0,
        multi,
        "1.2.0",
        "Mark the start of a transaction block"
    ),
    cmd!(
        "exec",
        1,
        TX | SKIP_SLOWLOG,
        0,
        0,
        0,
        exec,
        "1.2.0",
        "Execute all commands issued after MULTI"
    ),
    cmd!(
        "discard",
        1,
        TX | FAST | ALLOW_BUSY,
        0,
        0,
        0,
        discard,
        "2.0.0",
        "Discard all commands issued after MULTI"
    ),
    cmd!(
        "watch",
        -2,
        TX | FAST | ALLOW_BUSY,
        1,
        -1,
        1,
        watch,
        "2.2.0",
        "Watch the given keys to determine execution of the MULTI/EXEC block"
    ),
    cmd!(
        "unwatch",
        1,
        TX | FAST | ALLOW_BUSY,
        0,
        0,
        0,
        unwatch,
        "2.2.0",
        "Forget about all watched keys"
    ),
];

/// `MULTI`
fn multi(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    multi::begin(ctx.client)?;
    ctx.out.ok();
    Ok(())
}

/// `EXEC`
///
/// After MULTI the request path runs `server::multi::exec` instead (it needs
/// the path's state); this handler answers EXEC without MULTI.
fn exec(_ctx: &mut Ctx, _args: &Args) -> CmdResult {
    err("ERR EXEC without MULTI")
}

/// `DISCARD`
fn discard(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    if !ctx.client.tx.queuing() {
        return err("ERR DISCARD without MULTI");
    }
    multi::discard(ctx.client);
    ctx.out.ok();
    Ok(())
}

/// `WATCH key [key ...]`
///
/// Each key is registered while its stripe is locked, so a write that follows
/// on that stripe sees the registration (see `server/watch.rs`).
fn watch(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if ctx.client.tx.queuing() {
        return err("ERR WATCH inside MULTI is not allowed");
    }
    let db = ctx.client.db;
    let (srv, now) = (ctx.srv, ctx.now_ms);
    let client = &mut *ctx.client;
    let set = client
        .tx
        .watch
        .get_or_insert_with(|| WatchSet::new(srv.watches.clone(), client.shared.clone()));
    for key in args.iter().skip(1) {
        let h = srv.keyspace.hash(key);
        let sh = srv.keyspace.db(db).lock(h);
        set.add(db, h, key, &sh, now);
    }
    ctx.out.ok();
    Ok(())
}

/// `UNWATCH`
fn unwatch(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.client.tx.watch = None;
    ctx.out.ok();
    Ok(())
}
