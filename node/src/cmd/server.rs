//! Server commands: INFO CONFIG COMMAND TIME DBSIZE FLUSHDB FLUSHALL SHUTDOWN
//! MONITOR SLOWLOG LATENCY MEMORY.

use super::flags::*;
use super::{Args, CmdResult, CommandSpec, Ctx};

macro_rules! cmd {
    ($name:expr, $arity:expr, $flags:expr, $h:expr, $since:expr, $summary:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: 0,
            last_key: 0,
            step: 0,
            handler: $h,
            group: "server",
            since: $since,
            summary: $summary,
            subcommands: &[],
        }
    };
}

pub static COMMANDS: &[CommandSpec] = &[
    cmd!(
        "dbsize",
        1,
        READONLY | FAST,
        dbsize,
        "1.0.0",
        "Returns the number of keys in the database."
    ),
    cmd!(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY,
        shutdown,
        "1.0.0",
        "Synchronously saves the database(s) to disk and shuts down the Redis server."
    ),
];

/// `DBSIZE`
fn dbsize(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let n = ctx.db().len();
    ctx.out.int(n as i64);
    Ok(())
}

/// `SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]`
fn shutdown(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.client.close_after_reply = true;
    ctx.srv.shutdown();
    Ok(())
}
