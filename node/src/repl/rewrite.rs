//! Deterministic forms of commands whose effect depends on the clock or on
//! chance, as Redis 7.0 propagates them: a replica or an AOF replay applying
//! the form ends with exactly the data the primary has.
//!
//! The handlers call these after they succeed; each is a no-op when nothing
//! consumes the log.

use crate::cmd::Ctx;

/// An integer as command text.
pub fn int(v: i64) -> itoa::Buffer {
    let mut b = itoa::Buffer::new();
    b.format(v);
    b
}

/// `PEXPIREAT key at` in place of a relative or second-based expiry
/// (EXPIRE, PEXPIRE, EXPIREAT, GETEX EX|PX|EXAT|PXAT).
pub fn pexpireat(ctx: &mut Ctx, key: &[u8], at_ms: i64) {
    if ctx.propagating() {
        let at = itoa::Buffer::new().format(at_ms).to_owned();
        ctx.propagate_as(&[b"PEXPIREAT", key, at.as_bytes()]);
    }
}

/// `DEL key`, for an expiry set in the past (Redis deletes the key and
/// propagates `DEL`, or `UNLINK` with lazyfree-lazy-user-del).
pub fn del(ctx: &mut Ctx, key: &[u8]) {
    ctx.propagate_as(&[b"DEL", key]);
}

/// `SET key value PXAT at` (or `SET key value` with no expiry) in place of
/// SETEX, PSETEX and SET with a relative or second-based expiry.
pub fn set_pxat(ctx: &mut Ctx, key: &[u8], value: &[u8], at_ms: Option<i64>) {
    if !ctx.propagating() {
        return;
    }
    match at_ms {
        Some(at) => {
            let at = itoa::Buffer::new().format(at).to_owned();
            ctx.propagate_as(&[b"SET", key, value, b"PXAT", at.as_bytes()]);
        }
        None => ctx.propagate_as(&[b"SET", key, value]),
    }
}
