//! HyperLogLog commands: PFADD PFCOUNT PFMERGE PFDEBUG. HLLs are plain string
//! values in Redis's exact format ([`hll`]), so GET, DUMP and friends see the
//! same bytes redis-server would hold after the same commands.

pub mod hll;

use super::flags::*;
use super::{err, CmdError, CmdResult, CommandSpec, Ctx, WRONGTYPE};
use crate::cmd::Args;
use crate::db::entry::{Entry, ValueRef};
use crate::db::Stripe;

macro_rules! cmd {
    ($name:expr, $arity:expr, $flags:expr, $first:expr, $last:expr, $h:expr, $since:expr, $summary:expr) => {
        CommandSpec::new(
            $name,
            $arity,
            $flags,
            ($first, $last, 1),
            $h,
            "hyperloglog",
            $since,
            $summary,
        )
    };
}

pub static COMMANDS: &[CommandSpec] = &[
    cmd!(
        "pfadd",
        -2,
        WRITE | DENYOOM | FAST,
        1,
        1,
        pfadd,
        "2.8.9",
        "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist."
    ),
    cmd!(
        "pfcount",
        -2,
        // As Redis 7.0: a count may update the cached cardinality in the value.
        READONLY | MAY_REPLICATE,
        1,
        -1,
        pfcount,
        "2.8.9",
        "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s)."
    ),
    cmd!(
        "pfmerge",
        -2,
        WRITE | DENYOOM,
        1,
        -1,
        pfmerge,
        "2.8.9",
        "Merges one or more HyperLogLog values into a single key."
    ),
    cmd!(
        "pfdebug",
        3,
        WRITE | DENYOOM | ADMIN,
        2,
        2,
        pfdebug,
        "2.8.9",
        "Internal commands for debugging HyperLogLog values."
    ),
    CommandSpec::new(
        "pfselftest",
        1,
        ADMIN,
        (0, 0, 0),
        pfselftest,
        "hyperloglog",
        "2.8.9",
        "An internal command for testing HyperLogLog values.",
    ),
];

/// `PFSELFTEST`
fn pfselftest(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    hll::selftest().map_err(CmdError::from)?;
    ctx.out.ok();
    Ok(())
}

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

impl From<hll::Corrupt> for CmdError {
    fn from(_: hll::Corrupt) -> CmdError {
        CORRUPT.into()
    }
}

fn sparse_max(ctx: &Ctx) -> usize {
    let enc = &ctx.srv.config.enc;
    usize::try_from(enc.get(&enc.hll_sparse_max_bytes)).unwrap_or(usize::MAX)
}

/// The HLL bytes at `slot`, or Redis's error for a value that is not one.
fn hll_at(sh: &Stripe, slot: usize) -> Result<&[u8], CmdError> {
    match sh.value(slot) {
        ValueRef::Str(v) if hll::is_valid(v) => Ok(v),
        ValueRef::Str(_) => err(NOT_HLL),
        ValueRef::Obj(_) => err(WRONGTYPE),
    }
}

/// Runs `f` on the string at `slot` mutably: in place for a heap string, else on
/// a copy that then replaces the entry (keeping its TTL and access clock). The
/// value is written back even when `f` fails, as Redis edits it in place.
fn edit_string<R>(sh: &mut Stripe, slot: usize, h: u64, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    {
        let mut view = sh.view_mut(slot);
        if let Some(v) = view.heap_string_mut() {
            return f(v);
        }
    }
    let (mut buf, key, expire, access) = {
        let view = sh.view(slot);
        let buf = match sh.value(slot) {
            ValueRef::Str(v) => v.to_vec(),
            ValueRef::Obj(_) => Vec::new(),
        };
        (buf, view.key().to_vec(), view.expire(), view.access())
    };
    let r = f(&mut buf);
    drop(sh.replace(slot, h, Entry::new_string_owned(&key, buf, expire, access)));
    r
}

/// `PFADD key [element [element ...]]`
fn pfadd(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let max_bytes = sparse_max(ctx);
    let mut sh = ctx.db().lock(h);
    let mut updated = false;
    let slot = match ctx.ks().live(&mut sh, h, key, ctx.now_ms) {
        Some(slot) => {
            hll_at(&sh, slot)?;
            slot
        }
        None => {
            let e = Entry::new_string_owned(
                key,
                hll::new_sparse(),
                None,
                crate::db::new_access(ctx.now_ms),
            );
            sh.insert(h, e);
            updated = true;
            sh.find(h, key).expect("inserted key is present")
        }
    };
    let result = edit_string(&mut sh, slot, h, |v| {
        for i in 2..args.len() {
            updated |= hll::add(v, args.get(i), max_bytes)?;
        }
        if updated {
            hll::invalidate_cache(v);
        }
        Ok::<_, hll::Corrupt>(())
    });
    result?;
    ctx.out.int(updated as i64);
    Ok(())
}

/// `PFCOUNT key [key ...]`
fn pfcount(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() > 2 {
        let keys: Vec<&[u8]> = args.iter().skip(1).collect();
        let hashes: Vec<u64> = keys.iter().map(|k| ctx.hash(k)).collect();
        let mut locks = ctx.db().lock_many(&hashes);
        let mut max = Box::new([0u8; hll::REGISTERS]);
        for (key, &h) in keys.iter().zip(&hashes) {
            let sh = locks.stripe(h);
            let Some(slot) = ctx.ks().read(sh, h, key, ctx.now_ms) else {
                continue;
            };
            hll::merge_into(&mut max, hll_at(sh, slot)?)?;
        }
        ctx.out.int(hll::count_raw(&max) as i64);
        return Ok(());
    }
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(slot) = ctx.ks().read(&mut sh, h, key, ctx.now_ms) else {
        ctx.out.int(0);
        return Ok(());
    };
    let v = hll_at(&sh, slot)?;
    let card = match hll::cached(v) {
        Some(c) => c,
        None => {
            let c = hll::count(v)?;
            // The cache lives in the value, so a count is a (replicated) write in
            // Redis too.
            edit_string(&mut sh, slot, h, |v| hll::set_cache(v, c));
            c
        }
    };
    ctx.out.int(card as i64);
    Ok(())
}

/// `PFMERGE destkey [sourcekey [sourcekey ...]]`
fn pfmerge(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let keys: Vec<&[u8]> = args.iter().skip(1).collect();
    let hashes: Vec<u64> = keys.iter().map(|k| ctx.hash(k)).collect();
    let max_bytes = sparse_max(ctx);
    let mut locks = ctx.db().lock_many(&hashes);
    let mut max = Box::new([0u8; hll::REGISTERS]);
    let mut dense = false;
    // The destination is a source too, as in Redis.
    for (key, &h) in keys.iter().zip(&hashes) {
        let sh = locks.stripe(h);
        let Some(slot) = ctx.ks().read(sh, h, key, ctx.now_ms) else {
            continue;
        };
        let v = hll_at(sh, slot)?;
        dense |= v[4] == hll::DENSE;
        hll::merge_into(&mut max, v)?;
    }
    let (dest, h) = (keys[0], hashes[0]);
    let sh = locks.stripe(h);
    let slot = match ctx.ks().live(sh, h, dest, ctx.now_ms) {
        Some(slot) => slot,
        None => {
            let e = Entry::new_string_owned(
                dest,
                hll::new_sparse(),
                None,
                crate::db::new_access(ctx.now_ms),
            );
            sh.insert(h, e);
            sh.find(h, dest).expect("inserted key is present")
        }
    };
    edit_string(sh, slot, h, |v| hll::store_max(v, &max, dense, max_bytes))?;
    ctx.out.ok();
    Ok(())
}

/// `PFDEBUG GETREG | DECODE | ENCODING | TODENSE key`
fn pfdebug(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(2);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(slot) = ctx.ks().live(&mut sh, h, key, ctx.now_ms) else {
        return err("ERR The specified key does not exist");
    };
    let enc = hll_at(&sh, slot)?[4];
    if args.is(1, "getreg") || args.is(1, "todense") {
        let converted = enc == hll::SPARSE;
        if converted {
            edit_string(&mut sh, slot, h, hll::sparse_to_dense)?;
        }
        if args.is(1, "todense") {
            ctx.out.int(converted as i64);
            return Ok(());
        }
        let v = hll_at(&sh, slot)?;
        ctx.out.array(hll::REGISTERS);
        for i in 0..hll::REGISTERS {
            ctx.out.int(hll::dense_get(&v[hll::HDR..], i) as i64);
        }
    } else if args.is(1, "decode") {
        if enc != hll::SPARSE {
            return err("ERR HLL encoding is not sparse");
        }
        let text = hll::decode(hll_at(&sh, slot)?);
        ctx.out.bulk(text.as_bytes());
    } else if args.is(1, "encoding") {
        ctx.out
            .simple(if enc == hll::DENSE { "dense" } else { "sparse" });
    } else {
        return err(format!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            args.str_lossy(1)
        ));
    }
    Ok(())
}
