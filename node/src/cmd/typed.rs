//! Access to collection values for command handlers: look a key up, check its
//! type (WRONGTYPE otherwise), create it on first write, delete it when a write
//! leaves it empty. Every collection family goes through these, so type checks
//! and lazy expiry behave the same for all of them.

use super::{CmdError, Ctx, WRONGTYPE};
use crate::db::entry::{Entry, ValueRef};
use crate::db::types::Object;
use crate::db::{access, new_access, Stripe};

/// Reads `key` as the type `pick` selects: `Ok(None)` when the key does not
/// exist, `Err(WRONGTYPE)` when it holds another type. Counts a keyspace hit or
/// miss and touches the access word, as Redis's `lookupKeyRead`.
pub fn read<'s, T: ?Sized>(
    ctx: &Ctx,
    sh: &'s mut Stripe,
    hash: u64,
    key: &[u8],
    pick: impl FnOnce(&Object) -> Option<&T>,
) -> Result<Option<&'s T>, CmdError> {
    let Some(slot) = ctx.ks().read(sh, hash, key, ctx.now_ms) else {
        return Ok(None);
    };
    let sh: &'s Stripe = sh;
    match sh.value(slot) {
        ValueRef::Obj(o) => pick(o).map(Some).ok_or_else(|| WRONGTYPE.into()),
        ValueRef::Str(_) => Err(WRONGTYPE.into()),
    }
}

/// Mutable access to an existing `key` of the type `pick` selects: `Ok(None)`
/// when missing (commands such as LPUSHX, HDEL do nothing then).
pub fn write_existing<'s, T: ?Sized>(
    ctx: &Ctx,
    sh: &'s mut Stripe,
    hash: u64,
    key: &[u8],
    pick: impl FnOnce(&mut Object) -> Option<&mut T>,
) -> Result<Option<&'s mut T>, CmdError> {
    let Some(slot) = ctx.ks().write(sh, hash, key, ctx.now_ms) else {
        return Ok(None);
    };
    match sh.object_mut(slot) {
        Some(o) => pick(o).map(Some).ok_or_else(|| WRONGTYPE.into()),
        None => Err(WRONGTYPE.into()),
    }
}

/// Mutable access to `key` of the type `pick` selects, created with `create` when
/// missing. A created key that the command leaves empty must be removed with
/// [`remove_if_empty`].
pub fn write_or_create<'s, T: ?Sized>(
    ctx: &Ctx,
    sh: &'s mut Stripe,
    hash: u64,
    key: &[u8],
    create: impl FnOnce() -> Object,
    pick: impl Fn(&mut Object) -> Option<&mut T>,
) -> Result<&'s mut T, CmdError> {
    let slot = match ctx.ks().write(sh, hash, key, ctx.now_ms) {
        Some(slot) => slot,
        None => {
            sh.insert(
                hash,
                Entry::new_object(key, create(), None, new_access(ctx.now_ms)),
            );
            crate::server::blocked::signal_ready(ctx.srv, ctx.client.db, key);
            // Just inserted under the same lock: present by construction.
            sh.find(hash, key).expect("inserted key is present")
        }
    };
    match sh.object_mut(slot) {
        Some(o) => pick(o).ok_or_else(|| WRONGTYPE.into()),
        None => Err(WRONGTYPE.into()),
    }
}

/// Deletes `key` if it holds an empty collection (Redis never keeps empty
/// hashes, lists, sets or sorted sets). Returns true when it was deleted.
pub fn remove_if_empty(sh: &mut Stripe, hash: u64, key: &[u8]) -> bool {
    let Some(slot) = sh.find(hash, key) else {
        return false;
    };
    let empty = matches!(sh.value(slot), ValueRef::Obj(o) if o.is_empty());
    if empty {
        drop(sh.remove(slot, hash));
    }
    empty
}

/// Stores a freshly built collection under `key`, replacing whatever was there
/// (the STORE variants: SINTERSTORE, ZUNIONSTORE, ...); an empty collection
/// deletes the key instead. Returns true when a key is left.
pub fn store(ctx: &Ctx, sh: &mut Stripe, hash: u64, key: &[u8], obj: Object) -> bool {
    let existing = ctx.ks().live(sh, hash, key, ctx.now_ms);
    if obj.is_empty() {
        if let Some(slot) = existing {
            drop(sh.remove(slot, hash));
        }
        return false;
    }
    // An overwrite keeps the old key's (touched) LFU counter, as Redis's dbOverwrite.
    let word = match existing {
        Some(slot) => access::touched(sh.view(slot).access(), ctx.now_ms),
        None => new_access(ctx.now_ms),
    };
    let entry = Entry::new_object(key, obj, None, word);
    match existing {
        Some(slot) => drop(sh.replace(slot, hash, entry)),
        None => sh.insert(hash, entry),
    }
    crate::server::blocked::signal_ready(ctx.srv, ctx.client.db, key);
    true
}
