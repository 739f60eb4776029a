//! Keyspace commands: DEL UNLINK EXISTS TYPE TOUCH here; expiry, renaming and
//! copying, iteration, whole-database commands and OBJECT in the submodules.
//!
//! Reads follow Redis's lookup flavours: a command that reads a value (TOUCH,
//! COPY's source) counts a hit or miss and refreshes the key's LRU clock
//! ([`Keyspace::read`](crate::db::Keyspace::read)); one that only inspects
//! metadata (TYPE, TTL, OBJECT) counts the hit or miss without touching the key
//! ([`lookup_notouch`]). Every path goes through lazy expiry first, so an expired
//! key is never visible.

mod copy;
mod expire;
mod flush;
pub(crate) mod iter;
mod object;

use std::sync::atomic::Ordering;

use super::flags::*;
use super::{Args, CmdResult, CommandSpec, Ctx};
use crate::db::entry::{Entry, ValueRef};
use crate::db::{Keyspace, Stripe};

/// `cmd!(name, arity, flags, (first_key, last_key, step), handler, group,
/// since, summary[, subcommands])`
macro_rules! cmd {
    ($name:expr, $arity:expr, $flags:expr, $keys:expr, $h:expr, $group:expr, $since:expr, $summary:expr) => {
        CommandSpec::new($name, $arity, $flags, $keys, $h, $group, $since, $summary)
    };
    ($name:expr, $arity:expr, $flags:expr, $keys:expr, $h:expr, $group:expr, $since:expr, $summary:expr, $subs:expr) => {
        CommandSpec::new($name, $arity, $flags, $keys, $h, $group, $since, $summary)
            .with_subcommands($subs)
    };
}

const G: &str = "generic";
const NOKEYS: (i32, i32, i32) = (0, 0, 0);

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("del", -2, WRITE, (1, -1, 1), del, G, "1.0.0", "Deletes one or more keys."),
    cmd!("unlink", -2, WRITE | FAST, (1, -1, 1), unlink, G, "4.0.0", "Asynchronously deletes one or more keys."),
    cmd!("exists", -2, READONLY | FAST, (1, -1, 1), exists, G, "1.0.0", "Determines whether one or more keys exist."),
    cmd!("type", 2, READONLY | FAST, (1, 1, 1), type_cmd, G, "1.0.0", "Determines the type of value stored at a key."),
    cmd!("touch", -2, READONLY | FAST, (1, -1, 1), touch, G, "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed."),
    cmd!("rename", 3, WRITE, (1, 2, 1), copy::rename, G, "1.0.0", "Renames a key and overwrites the destination."),
    cmd!("renamenx", 3, WRITE | FAST, (1, 2, 1), copy::renamenx, G, "1.0.0", "Renames a key only when the target key name doesn't exist."),
    cmd!("copy", -3, WRITE | DENYOOM, (1, 2, 1), copy::copy, G, "6.2.0", "Copies the value of a key to a new key."),
    cmd!("move", 3, WRITE | FAST, (1, 1, 1), copy::move_cmd, G, "1.0.0", "Moves a key to another database."),
    cmd!("swapdb", 3, WRITE | FAST, NOKEYS, flush::swapdb, "server", "4.0.0", "Swaps two Redis databases."),
    cmd!("flushdb", -1, WRITE, NOKEYS, flush::flushdb, "server", "1.0.0", "Remove all keys from the current database."),
    cmd!("flushall", -1, WRITE, NOKEYS, flush::flushall, "server", "1.0.0", "Removes all keys from all databases."),
    cmd!("keys", 2, READONLY, NOKEYS, iter::keys, G, "1.0.0", "Returns all key names that match a pattern."),
    cmd!("scan", -2, READONLY, NOKEYS, iter::scan, G, "2.8.0", "Iterates over the key names in the database."),
    cmd!("randomkey", 1, READONLY, NOKEYS, iter::randomkey, G, "1.0.0", "Returns a random key name from the database."),
    cmd!("expire", -3, WRITE | FAST, (1, 1, 1), expire::expire, G, "1.0.0", "Sets the expiration time of a key in seconds."),
    cmd!("pexpire", -3, WRITE | FAST, (1, 1, 1), expire::pexpire, G, "2.6.0", "Sets the expiration time of a key in milliseconds."),
    cmd!("expireat", -3, WRITE | FAST, (1, 1, 1), expire::expireat, G, "1.2.0", "Sets the expiration time of a key to a Unix timestamp."),
    cmd!("pexpireat", -3, WRITE | FAST, (1, 1, 1), expire::pexpireat, G, "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp."),
    cmd!("ttl", 2, READONLY | FAST, (1, 1, 1), expire::ttl, G, "1.0.0", "Returns the expiration time in seconds of a key."),
    cmd!("pttl", 2, READONLY | FAST, (1, 1, 1), expire::pttl, G, "2.6.0", "Returns the expiration time in milliseconds of a key."),
    cmd!("expiretime", 2, READONLY | FAST, (1, 1, 1), expire::expiretime, G, "7.0.0", "Returns the expiration time of a key as a Unix timestamp."),
    cmd!("pexpiretime", 2, READONLY | FAST, (1, 1, 1), expire::pexpiretime, G, "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp."),
    cmd!("persist", 2, WRITE | FAST, (1, 1, 1), expire::persist, G, "2.2.0", "Removes the expiration time of a key."),
    cmd!("object", -2, 0, NOKEYS, object::object, G, "2.2.3", "A container for object introspection commands.", object::SUBCOMMANDS),
];

/// Redis's TYPE name for a value.
pub fn type_name(value: &ValueRef) -> &'static str {
    match value {
        ValueRef::Str(_) => "string",
        ValueRef::Obj(o) => o.type_name(),
    }
}

/// A deep copy of `e` under `key` (COPY): same value, the given expiry, a fresh
/// access clock as Redis gives the duplicated object.
pub fn duplicate(e: &Entry, key: &[u8], expire: Option<i64>, access: u32) -> Entry {
    match e.value() {
        ValueRef::Str(v) => Entry::new_string(key, v, expire, access),
        ValueRef::Obj(o) => Entry::new_object(key, o.duplicate(), expire, access),
    }
}

/// Lazy-expiring lookup that counts a keyspace hit or miss but leaves the key's
/// access clock alone (Redis's `LOOKUP_NOTOUCH`).
pub fn lookup_notouch(
    ks: &Keyspace,
    sh: &mut Stripe,
    hash: u64,
    key: &[u8],
    now_ms: i64,
) -> Option<usize> {
    let found = ks.live(sh, hash, key, now_ms);
    let counter = if found.is_some() {
        &ks.keyspace_hits
    } else {
        &ks.keyspace_misses
    };
    counter.fetch_add(1, Ordering::Relaxed);
    found
}

/// Removes the live keys among `args[1..]` atomically; returns the removed
/// entries so the caller frees them after every stripe lock is released.
fn remove_keys(ctx: &Ctx, args: &Args) -> Vec<Entry> {
    let ks = ctx.ks();
    let hashes: Vec<u64> = (1..args.len()).map(|i| ks.hash(args.get(i))).collect();
    let mut locked = ctx.db().lock_many(&hashes);
    let mut removed = Vec::new();
    for (i, &h) in hashes.iter().enumerate() {
        let key = args.get(i + 1);
        let sh = locked.stripe(h);
        if let Some(slot) = ks.live(sh, h, key, ctx.now_ms) {
            removed.push(sh.remove(slot, h));
        }
    }
    removed
}

/// `DEL key [key ...]`
fn del(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let removed = remove_keys(ctx, args);
    ctx.out.int(removed.len() as i64);
    Ok(())
}

/// `UNLINK key [key ...]`
///
/// Unlinks under the stripe locks and frees after releasing them, like DEL here.
/// Redis frees a value on its lazy-free thread only when freeing costs more than
/// 64 allocations; every value this node stores is cheaper than that to free, so
/// (as in Redis for strings) the memory is released before the reply.
fn unlink(ctx: &mut Ctx, args: &Args) -> CmdResult {
    del(ctx, args)
}

/// `EXISTS key [key ...]`
fn exists(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let ks = ctx.ks();
    let mut n = 0;
    for key in args.iter().skip(1) {
        let h = ks.hash(key);
        let mut sh = ctx.db().lock(h);
        if ks.live(&mut sh, h, key, ctx.now_ms).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

/// `TYPE key`
fn type_cmd(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let name = match lookup_notouch(ctx.ks(), &mut sh, h, key, ctx.now_ms) {
        Some(slot) => type_name(&sh.view(slot).value()),
        None => "none",
    };
    ctx.out.simple(name);
    Ok(())
}

/// `TOUCH key [key ...]`
fn touch(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let ks = ctx.ks();
    let mut n = 0;
    for key in args.iter().skip(1) {
        let h = ks.hash(key);
        let mut sh = ctx.db().lock(h);
        if ks.read(&mut sh, h, key, ctx.now_ms).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

/// Parses a database number the way Redis's `getIntFromObjectOrReply` does: not
/// an integer is `bad` (default: the not-an-integer error); outside C `int`
/// range is `bad` too, or Redis's out-of-range message when `bad` is the default.
fn db_number(arg: &[u8], bad: Option<&'static str>) -> Result<i64, super::CmdError> {
    let Some(v) = crate::util::parse_i64_strict(arg) else {
        return super::err(bad.unwrap_or(super::NOT_INTEGER));
    };
    if i32::try_from(v).is_err() {
        return super::err(bad.unwrap_or(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ));
    }
    Ok(v)
}

/// Checks that `n` names a database, as SELECT does.
fn db_index(ctx: &Ctx, n: i64) -> Result<usize, super::CmdError> {
    match usize::try_from(n) {
        Ok(i) if i < ctx.ks().db_count() => Ok(i),
        _ => super::err(super::DB_INDEX),
    }
}
