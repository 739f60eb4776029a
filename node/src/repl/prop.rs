//! What one command propagates, and running a write so that what it logs is
//! ordered with its effects.
//!
//! A handler propagates its own arguments unless it says otherwise through
//! [`Ctx`](crate::cmd::Ctx): `propagate_as` replaces them (the deterministic
//! form of EXPIRE, SPOP, INCRBYFLOAT, ...), `also_propagate` adds commands
//! after them, `propagate_none` drops them (a blocking pop that blocked). Each
//! of these is a no-op unless the log is active, and handlers test
//! `ctx.propagating()` before building anything costly.
//!
//! [`call`] runs a write command with the stripes it may lock already held
//! (the footprint EXEC computes, `server/multi.rs`; keyless and movable-key
//! commands hold every stripe), then appends its effects before releasing
//! them: a second write to the same key waits for the stripe and is logged
//! after. Inside EXEC the transaction already holds its footprint, and the
//! effects are collected in the transaction and logged as one
//! `MULTI ... EXEC` block when it ends. A command answering an error logs
//! nothing (keys it expired on the way are logged by the expiry itself).

use crate::cmd::{Args, CmdResult, CommandSpec, Ctx};
use crate::db::log::encode_slice;

/// A command's propagation, filled in by its handler.
#[derive(Default)]
pub struct Prop {
    /// The handler replaced (or dropped) its arguments: log `ops` instead.
    custom: bool,
    /// RESP of the replacement commands.
    ops: Vec<u8>,
    /// RESP of commands logged after the command itself.
    also: Vec<u8>,
}

impl Prop {
    pub fn none(&mut self) {
        self.custom = true;
        self.ops.clear();
    }

    pub fn replace(&mut self, argv: &[&[u8]]) {
        self.custom = true;
        self.ops.clear();
        encode_slice(&mut self.ops, argv);
    }

    /// Adds a replacement command (after [`Prop::none`] or [`Prop::replace`]).
    pub fn push(&mut self, argv: &[&[u8]]) {
        self.custom = true;
        encode_slice(&mut self.ops, argv);
    }

    pub fn also(&mut self, argv: &[&[u8]]) {
        encode_slice(&mut self.also, argv);
    }

    /// Appends the bytes to log for a command that ran with `args` to `out`.
    pub fn write_to(&mut self, args: &Args, out: &mut Vec<u8>) {
        if self.custom {
            out.extend_from_slice(&self.ops);
        } else if !args.is_empty() {
            out.push(b'*');
            out.extend_from_slice(itoa::Buffer::new().format(args.len()).as_bytes());
            out.extend_from_slice(b"\r\n");
            for a in args.iter() {
                out.push(b'$');
                out.extend_from_slice(itoa::Buffer::new().format(a.len()).as_bytes());
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(a);
                out.extend_from_slice(b"\r\n");
            }
        }
        out.extend_from_slice(&self.also);
    }

    /// The bytes to log for a command that ran with `args`.
    pub fn payload(&mut self, args: &Args) -> Vec<u8> {
        let mut out = if self.custom {
            std::mem::take(&mut self.ops)
        } else if args.is_empty() {
            Vec::new()
        } else {
            let mut v = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
            v.push(b'*');
            v.extend_from_slice(itoa::Buffer::new().format(args.len()).as_bytes());
            v.extend_from_slice(b"\r\n");
            for a in args.iter() {
                v.push(b'$');
                v.extend_from_slice(itoa::Buffer::new().format(a.len()).as_bytes());
                v.extend_from_slice(b"\r\n");
                v.extend_from_slice(a);
                v.extend_from_slice(b"\r\n");
            }
            v
        };
        out.append(&mut self.also);
        out
    }
}

/// Whether a command's effects are propagated at all (Redis: `write` or
/// `may-replicate`; for a container such as XGROUP, its subcommand's flags).
#[inline]
pub fn propagates(spec: &CommandSpec, args: &Args) -> bool {
    const FLAGS: u32 = crate::cmd::flags::WRITE | crate::cmd::flags::MAY_REPLICATE;
    if spec.flags & FLAGS != 0 {
        return true;
    }
    if spec.subcommands.is_empty() || args.len() < 2 {
        return false;
    }
    let name = args.get(1);
    spec.subcommands
        .iter()
        .any(|s| s.flags & FLAGS != 0 && s.name.as_bytes().eq_ignore_ascii_case(name))
}

/// Runs `handler` for a propagated command with its footprint held, and logs
/// what it did (module docs). The caller has checked that the log is active.
#[cold]
pub fn call(
    ctx: &mut Ctx,
    spec: &CommandSpec,
    args: &Args,
    handler: impl FnOnce(&mut Ctx) -> CmdResult,
) -> CmdResult {
    let srv = ctx.srv;
    if ctx.client.tx.executing {
        // EXEC holds the transaction's footprint already; collect.
        let r = handler(ctx);
        if r.is_ok() {
            let bytes = ctx.prop.payload(args);
            if !bytes.is_empty() {
                ctx.client.tx.prop.push((ctx.client.db, bytes));
            }
        }
        return r;
    }
    let set = crate::server::multi::command_footprint(srv, ctx.client.db, spec, args);
    srv.keyspace.with_held(&set, || {
        let r = handler(ctx);
        if r.is_ok() {
            let prop = &mut ctx.prop;
            srv.keyspace
                .log
                .append_with(ctx.client.db, |buf| prop.write_to(args, buf));
        }
        r
    })
}
