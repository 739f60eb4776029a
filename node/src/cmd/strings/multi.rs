//! MGET MSET MSETNX: multi-key string commands. Each locks every stripe it
//! touches before reading or writing, so other clients see all of it or none.

use super::{store, str_of};
use crate::cmd::{arity_error, Args, CmdResult, Ctx};

/// `MGET key [key ...]`
pub fn mget(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let ks = ctx.ks();
    let hashes: Vec<u64> = (1..args.len()).map(|i| ks.hash(args.get(i))).collect();
    let mut locked = ctx.db().lock_many(&hashes);
    ctx.out.array(hashes.len());
    for (i, &h) in hashes.iter().enumerate() {
        let key = args.get(i + 1);
        let sh = locked.stripe(h);
        // MGET answers nil for a key of another type rather than failing.
        match ks.read(sh, h, key, ctx.now_ms) {
            Some(slot) => match str_of(&sh.view(slot)) {
                Ok(v) => ctx.out.bulk(v),
                Err(_) => ctx.out.null(),
            },
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// Hashes of the keys of `key value [key value ...]` starting at argument 1, or
/// the arity error Redis gives for an odd pair list.
fn pair_hashes(ctx: &Ctx, args: &Args, name: &str) -> Result<Vec<u64>, crate::cmd::CmdError> {
    if args.len().is_multiple_of(2) {
        return Err(arity_error(name));
    }
    Ok((1..args.len())
        .step_by(2)
        .map(|i| ctx.hash(args.get(i)))
        .collect())
}

/// Sets every pair under the already held locks (later duplicates win).
fn set_pairs(ctx: &Ctx, args: &Args, hashes: &[u64], locked: &mut crate::db::MultiLock) {
    let ks = ctx.ks();
    for (i, &h) in hashes.iter().enumerate() {
        let (key, value) = (args.get(1 + 2 * i), args.get(2 + 2 * i));
        let sh = locked.stripe(h);
        let slot = ks.live(sh, h, key, ctx.now_ms);
        store(sh, h, slot, key, value, None, ctx.now_ms);
    }
}

/// `MSET key value [key value ...]`
pub fn mset(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let hashes = pair_hashes(ctx, args, "mset")?;
    let mut locked = ctx.db().lock_many(&hashes);
    set_pairs(ctx, args, &hashes, &mut locked);
    ctx.out.ok();
    Ok(())
}

/// `MSETNX key value [key value ...]`
pub fn msetnx(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let hashes = pair_hashes(ctx, args, "msetnx")?;
    let ks = ctx.ks();
    let mut locked = ctx.db().lock_many(&hashes);
    let any_exists = hashes.iter().enumerate().any(|(i, &h)| {
        ks.live(locked.stripe(h), h, args.get(1 + 2 * i), ctx.now_ms)
            .is_some()
    });
    if any_exists {
        ctx.out.int(0);
        return Ok(());
    }
    set_pairs(ctx, args, &hashes, &mut locked);
    ctx.out.int(1);
    Ok(())
}
