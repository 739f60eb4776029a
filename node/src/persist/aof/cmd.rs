//! `BGREWRITEAOF`, the AOF's one command.

use crate::cmd::flags::*;
use crate::cmd::{err, Args, CmdResult, CommandSpec, Ctx};

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "bgrewriteaof",
    arity: 1,
    flags: ADMIN | NOSCRIPT,
    first_key: 0,
    last_key: 0,
    step: 0,
    handler: bgrewriteaof,
    group: "server",
    since: "1.0.0",
    summary: "Asynchronously rewrites the append-only file to disk.",
    subcommands: &[],
}];

/// `BGREWRITEAOF`
///
/// Replies `+Background append only file rewriting started`, or
/// `-ERR Background append only file rewriting already in progress`. The
/// rewrite runs on its own thread (`rewrite.rs`); INFO persistence reports it.
fn bgrewriteaof(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let Some(srv) = ctx.srv.me() else {
        return err("ERR server is not running");
    };
    match super::rewrite::start_background(srv, false) {
        Ok(()) => {
            ctx.out
                .simple("Background append only file rewriting started");
            Ok(())
        }
        Err(e) => err(e),
    }
}
