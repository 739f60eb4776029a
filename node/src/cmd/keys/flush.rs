//! Whole-database commands: FLUSHDB FLUSHALL SWAPDB.

use super::copy::cluster_enabled;
use super::{db_index, db_number};
use crate::cmd::{err, Args, CmdResult, Ctx, SYNTAX};
use crate::db::entry::Entry;

/// Whether to free in the background: `ASYNC`, `SYNC`, or the
/// `lazyfree-lazy-user-flush` default when neither is given.
fn is_async(ctx: &Ctx, args: &Args) -> Result<bool, crate::cmd::CmdError> {
    match args.len() {
        1 => Ok(ctx.srv.config.get_bool("lazyfree-lazy-user-flush")),
        2 if args.is(1, "async") => Ok(true),
        2 if args.is(1, "sync") => Ok(false),
        _ => err(SYNTAX),
    }
}

/// Frees taken entries: inline, or on a thread of their own for ASYNC so the
/// reply does not wait for millions of deallocations.
fn free(taken: Vec<Vec<Entry>>, background: bool) {
    if background && taken.iter().any(|s| !s.is_empty()) {
        // If the thread cannot be spawned, the closure (and the entries in it) is
        // dropped right here, which frees them inline: still correct, just slower.
        let _ = std::thread::Builder::new()
            .name("lazyfree".into())
            .spawn(move || drop(taken));
    } else {
        drop(taken);
    }
}

/// `FLUSHDB [ASYNC | SYNC]`
pub fn flushdb(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let background = is_async(ctx, args)?;
    // Every stripe of the database is locked while it is emptied, so no command
    // sees it half-flushed; the entries are freed after the locks are released.
    let taken = ctx.ks().take_db(ctx.client.db);
    free(taken, background);
    ctx.out.ok();
    invalidate_tracking(ctx);
    Ok(())
}

/// `FLUSHALL [ASYNC | SYNC]`
///
/// Databases are emptied one after another, each atomically (locking every
/// stripe of every database at once would cost `databases` x 256 locks held
/// together).
pub fn flushall(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let background = is_async(ctx, args)?;
    let ks = ctx.ks();
    let taken: Vec<Vec<Entry>> = (0..ks.db_count()).flat_map(|db| ks.take_db(db)).collect();
    free(taken, background);
    ctx.out.ok();
    invalidate_tracking(ctx);
    Ok(())
}

/// Tells every tracking client that everything changed, as Redis's
/// `trackingInvalidateKeysOnFlush`.
fn invalidate_tracking(ctx: &mut Ctx) {
    if !ctx.srv.tracking.active() {
        return;
    }
    let client = &mut *ctx.client;
    let caller = crate::server::tracking::Caller {
        id: client.id,
        pending: &mut client.tracking_pending,
    };
    ctx.srv
        .tracking
        .invalidate_all(Some(caller), &ctx.srv.clients);
}

/// `SWAPDB index1 index2`
///
/// Both databases are locked whole while their contents change places; a client
/// that has selected one of them sees the other's keys from its next command.
pub fn swapdb(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if cluster_enabled(ctx) {
        return err("ERR SWAPDB is not allowed in cluster mode");
    }
    let a = db_number(args.get(1), Some("ERR invalid first DB index"))?;
    let b = db_number(args.get(2), Some("ERR invalid second DB index"))?;
    let (a, b) = (db_index(ctx, a)?, db_index(ctx, b)?);
    ctx.ks().swap_dbs(a, b);
    // Keys clients are blocked on may exist now (Redis's scanDatabaseForReadyKeys).
    crate::server::blocked::signal_swapped(ctx.srv, a, b);
    ctx.out.ok();
    Ok(())
}
