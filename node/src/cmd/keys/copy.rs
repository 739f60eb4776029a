//! RENAME RENAMENX COPY MOVE: commands that act on a source and a destination
//! key, possibly in two databases.
//!
//! Both stripes are locked before either key is looked at (same database:
//! `Db::lock_many`; two databases: `Keyspace::lock_two_dbs`), so no client ever
//! sees the key in both places or in neither. Slot positions are not kept across
//! a mutation of the same stripe (a removal shifts its neighbours), so each step
//! finds its key again.

use super::{db_index, db_number, duplicate};
use crate::cmd::{err, Args, CmdResult, Ctx, NO_SUCH_KEY, SYNTAX};
use crate::db::{new_access, Keyspace, MultiLock, Stripe, StripeGuard};

const SAME_OBJECT: &str = "ERR source and destination objects are the same";

/// The locked stripes of a source and a destination key.
struct Pair<'a> {
    locks: Locks<'a>,
    src_hash: u64,
    dst_hash: u64,
}

enum Locks<'a> {
    SameDb(MultiLock<'a>),
    TwoDbs(StripeGuard<'a>, StripeGuard<'a>),
}

impl<'a> Pair<'a> {
    fn lock(ks: &'a Keyspace, src: (usize, u64), dst: (usize, u64)) -> Pair<'a> {
        let locks = if src.0 == dst.0 {
            Locks::SameDb(ks.db(src.0).lock_many(&[src.1, dst.1]))
        } else {
            let (a, b) = ks.lock_two_dbs(src.0, src.1, dst.0, dst.1);
            Locks::TwoDbs(a, b)
        };
        Pair {
            locks,
            src_hash: src.1,
            dst_hash: dst.1,
        }
    }

    fn src(&mut self) -> &mut Stripe {
        match &mut self.locks {
            Locks::SameDb(m) => m.stripe(self.src_hash),
            Locks::TwoDbs(s, _) => s,
        }
    }

    fn dst(&mut self) -> &mut Stripe {
        match &mut self.locks {
            Locks::SameDb(m) => m.stripe(self.dst_hash),
            Locks::TwoDbs(_, d) => d,
        }
    }
}

/// `RENAME key newkey`
pub fn rename(ctx: &mut Ctx, args: &Args) -> CmdResult {
    rename_generic(ctx, args, false)
}

/// `RENAMENX key newkey`
pub fn renamenx(ctx: &mut Ctx, args: &Args) -> CmdResult {
    rename_generic(ctx, args, true)
}

/// RENAME keeps the value, its TTL and its access clock; an existing
/// destination is overwritten (RENAME) or left alone with reply 0 (RENAMENX).
fn rename_generic(ctx: &mut Ctx, args: &Args, nx: bool) -> CmdResult {
    let (src, dst) = (args.get(1), args.get(2));
    let ks = ctx.ks();
    let (hs, hd) = (ks.hash(src), ks.hash(dst));
    let db = ctx.client.db;
    let now = ctx.now_ms;
    let mut pair = Pair::lock(ks, (db, hs), (db, hd));
    if ks.live(pair.src(), hs, src, now).is_none() {
        return err(NO_SUCH_KEY);
    }
    let reply_done = |ctx: &mut Ctx, done: bool| {
        if nx {
            ctx.out.int(done as i64);
        } else {
            ctx.out.ok();
        }
    };
    if src == dst {
        drop(pair);
        reply_done(ctx, false);
        return Ok(());
    }
    if ks.live(pair.dst(), hd, dst, now).is_some() && nx {
        drop(pair);
        ctx.out.int(0);
        return Ok(());
    }
    let sh = pair.src();
    let Some(slot) = sh.find(hs, src) else {
        return err(NO_SUCH_KEY);
    };
    let entry = sh.remove(slot, hs);
    let expire = entry.expire();
    let moved = entry.renamed(dst, expire);
    let dsh = pair.dst();
    let overwritten = match dsh.find(hd, dst) {
        Some(slot) => Some(dsh.replace(slot, hd, moved)),
        None => {
            dsh.insert(hd, moved);
            None
        }
    };
    // Clients blocked on the destination may pop it now (BLPOP & co.).
    crate::server::blocked::signal_ready(ctx.srv, db, dst);
    drop(pair);
    drop(overwritten);
    reply_done(ctx, true);
    Ok(())
}

/// `COPY source destination [DB destination-db] [REPLACE]`
pub fn copy(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let src_db = ctx.client.db;
    let mut dst_db = src_db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if args.is(i, "replace") {
            replace = true;
            i += 1;
        } else if args.is(i, "db") && i + 1 < args.len() {
            dst_db = db_index(ctx, db_number(args.get(i + 1), None)?)?;
            i += 2;
        } else {
            return err(SYNTAX);
        }
    }
    if cluster_enabled(ctx) && (src_db != 0 || dst_db != 0) {
        return err("ERR Copying to another database is not allowed in cluster mode");
    }
    let (src, dst) = (args.get(1), args.get(2));
    if src_db == dst_db && src == dst {
        return err(SAME_OBJECT);
    }
    let ks = ctx.ks();
    let (hs, hd) = (ks.hash(src), ks.hash(dst));
    let now = ctx.now_ms;
    let mut pair = Pair::lock(ks, (src_db, hs), (dst_db, hd));
    let src_live = ks.read(pair.src(), hs, src, now).is_some();
    if !src_live || (ks.live(pair.dst(), hd, dst, now).is_some() && !replace) {
        drop(pair);
        ctx.out.int(0);
        return Ok(());
    }
    let sh = pair.src();
    let Some(slot) = sh.find(hs, src) else {
        drop(pair);
        ctx.out.int(0);
        return Ok(());
    };
    let copied = {
        let e = sh.view(slot);
        duplicate(&e, dst, e.expire(), new_access(now))
    };
    let dsh = pair.dst();
    let overwritten = match dsh.find(hd, dst) {
        Some(slot) => Some(dsh.replace(slot, hd, copied)),
        None => {
            dsh.insert(hd, copied);
            None
        }
    };
    crate::server::blocked::signal_ready(ctx.srv, dst_db, dst);
    drop(pair);
    drop(overwritten);
    ctx.out.int(1);
    Ok(())
}

/// `MOVE key db`
///
/// The entry itself moves between the databases (same key, same hash), with its
/// TTL and access clock.
pub fn move_cmd(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if cluster_enabled(ctx) {
        return err("ERR MOVE is not allowed in cluster mode");
    }
    let dst_db = db_index(ctx, db_number(args.get(2), None)?)?;
    let src_db = ctx.client.db;
    if dst_db == src_db {
        return err(SAME_OBJECT);
    }
    let key = args.get(1);
    let ks = ctx.ks();
    let h = ks.hash(key);
    let now = ctx.now_ms;
    let mut pair = Pair::lock(ks, (src_db, h), (dst_db, h));
    let movable =
        ks.live(pair.src(), h, key, now).is_some() && ks.live(pair.dst(), h, key, now).is_none();
    let slot = if movable {
        pair.src().find(h, key)
    } else {
        None
    };
    let moved = match slot {
        Some(slot) => {
            let entry = pair.src().remove(slot, h);
            pair.dst().insert(h, entry);
            crate::server::blocked::signal_ready(ctx.srv, dst_db, key);
            true
        }
        None => false,
    };
    drop(pair);
    ctx.out.int(moved as i64);
    Ok(())
}

pub(super) fn cluster_enabled(ctx: &Ctx) -> bool {
    ctx.srv.config.get_bool("cluster-enabled")
}
