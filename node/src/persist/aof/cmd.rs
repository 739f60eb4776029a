//! `BGREWRITEAOF`, the AOF's one command.

use super::schedule::Started;
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
/// Replies `+Background append only file rewriting started`;
/// `+Background append only file rewriting scheduled` while a save runs (the
/// cron starts it when the save ends: one snapshot at a time);
/// `-ERR Background append only file rewriting already in progress` while a
/// rewrite runs. The rewrite runs on its own thread (`rewrite.rs`); INFO
/// persistence reports it.
fn bgrewriteaof(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let Some(srv) = ctx.srv.me() else {
        return err("ERR server is not running");
    };
    match super::schedule::request(&srv) {
        Ok(Started::Now) => {
            ctx.out
                .simple("Background append only file rewriting started");
            Ok(())
        }
        Ok(Started::Scheduled) => {
            ctx.out
                .simple("Background append only file rewriting scheduled");
            Ok(())
        }
        Err(e) => Err(e.to_string().into()),
    }
}
