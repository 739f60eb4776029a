//! Keyspace commands: DEL EXISTS TYPE RENAME EXPIRE TTL SCAN and friends.

use super::flags::*;
use super::{Args, CmdResult, CommandSpec, Ctx};

macro_rules! cmd {
    ($name:expr, $arity:expr, $flags:expr, $first:expr, $last:expr, $step:expr, $h:expr, $since:expr, $summary:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $first,
            last_key: $last,
            step: $step,
            handler: $h,
            group: "generic",
            since: $since,
            summary: $summary,
            subcommands: &[],
        }
    };
}

pub static COMMANDS: &[CommandSpec] = &[
    cmd!(
        "del",
        -2,
        WRITE,
        1,
        -1,
        1,
        del,
        "1.0.0",
        "Deletes one or more keys."
    ),
    cmd!(
        "exists",
        -2,
        READONLY | FAST,
        1,
        -1,
        1,
        exists,
        "1.0.0",
        "Determines whether one or more keys exist."
    ),
];

/// `DEL key [key ...]`
fn del(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let ks = &ctx.srv.keyspace;
    let hashes: Vec<u64> = (1..args.len()).map(|i| ks.hash(args.get(i))).collect();
    let mut locked = ctx.db().lock_many(&hashes);
    let mut n = 0;
    for (i, &h) in hashes.iter().enumerate() {
        let key = args.get(i + 1);
        let sh = locked.shard(h);
        if let Some(slot) = ks.live(sh, h, key, ctx.now_ms) {
            drop(sh.remove(slot, h));
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

/// `EXISTS key [key ...]`
fn exists(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let ks = &ctx.srv.keyspace;
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
