//! Consumer group management: XGROUP, XACK, XPENDING.

use super::{
    no_group, no_key_or_group, parse_id, parse_range_end, parse_range_start, parse_strict_id,
    pick_mut, read_mut, subcommand_syntax, write_id, XGROUP_SUBS,
};
use crate::cmd::admin::{help, subcommand};
use crate::cmd::{err, typed, Args, CmdError, CmdResult, Ctx, SYNTAX};
use crate::db::types::stream::{StreamId, INVALID_ENTRIES_READ};

const KEY_MUST_EXIST: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";

const XGROUP_HELP: &[&str] = &[
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
];

/// `XGROUP <CREATE | SETID | DESTROY | CREATECONSUMER | DELCONSUMER | HELP> ...`
pub fn xgroup(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let sub = subcommand(args, "xgroup", XGROUP_SUBS)?;
    if sub == "help" {
        help(ctx, "xgroup", XGROUP_HELP);
        return Ok(());
    }
    let syntax = || subcommand_syntax(args.get(1), "XGROUP");
    let (create, setid) = (sub == "create", sub == "setid");
    let mut mkstream = false;
    let mut entries_read = INVALID_ENTRIES_READ;
    let mut i = 5;
    while i < args.len() {
        if create && args.is(i, "mkstream") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && args.is(i, "entriesread") && i + 1 < args.len() {
            entries_read = args.int(i + 1)?;
            if entries_read < 0 && entries_read != INVALID_ENTRIES_READ {
                return err("ERR value for ENTRIESREAD must be positive or -1");
            }
            i += 2;
        } else {
            return Err(syntax());
        }
    }
    let (key, name) = (args.get(2), args.get(3));
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let exists = typed::write_existing(ctx, &mut sh, h, key, pick_mut)?.is_some();
    if !mkstream && !exists {
        return err(KEY_MUST_EXIST);
    }
    if exists && matches!(sub, "setid" | "createconsumer" | "delconsumer") {
        let found = typed::write_existing(ctx, &mut sh, h, key, pick_mut)?
            .is_some_and(|s| s.groups.get(name).is_some());
        if !found {
            return Err(no_group(key, name));
        }
    }
    match sub {
        "create" if args.len() <= 8 => {
            let id = if args.get(4) == b"$" {
                typed::write_existing(ctx, &mut sh, h, key, pick_mut)?
                    .map_or(StreamId::MIN, |s| s.log.last_id)
            } else {
                parse_strict_id(args.get(4), 0)?
            };
            let s = typed::write_or_create(ctx, &mut sh, h, key, super::new_stream, pick_mut)?;
            if !s.groups.create(name, id, entries_read) {
                return err("BUSYGROUP Consumer Group name already exists");
            }
            ctx.out.ok();
        }
        "setid" if args.len() == 5 || args.len() == 7 => {
            let s = typed::write_existing(ctx, &mut sh, h, key, pick_mut)?
                .ok_or_else(|| CmdError::from(KEY_MUST_EXIST))?;
            let id = if args.get(4) == b"$" {
                s.log.last_id
            } else {
                parse_id(args.get(4), 0)?
            };
            if let Some(g) = s.groups.get_mut(name) {
                g.last_id = id;
                g.entries_read = entries_read;
            }
            ctx.out.ok();
        }
        "destroy" if args.len() == 4 => {
            let s = typed::write_existing(ctx, &mut sh, h, key, pick_mut)?
                .ok_or_else(|| CmdError::from(KEY_MUST_EXIST))?;
            let destroyed = s.groups.destroy(name);
            if destroyed {
                // Clients blocked in XREADGROUP on this group get NOGROUP.
                crate::server::blocked::signal_ready(ctx.srv, ctx.client.db, key);
            }
            ctx.out.int(destroyed as i64);
        }
        "createconsumer" if args.len() == 5 => {
            let now = ctx.now_ms;
            let created = typed::write_existing(ctx, &mut sh, h, key, pick_mut)?
                .and_then(|s| s.groups.get_mut(name))
                .is_some_and(|g| g.create_consumer(args.get(4), now));
            ctx.out.int(created as i64);
        }
        "delconsumer" if args.len() == 5 => {
            let pending = typed::write_existing(ctx, &mut sh, h, key, pick_mut)?
                .and_then(|s| s.groups.get_mut(name))
                .and_then(|g| g.delete_consumer(args.get(4)))
                .unwrap_or(0);
            ctx.out.int(pending as i64);
        }
        _ => return Err(syntax()),
    }
    Ok(())
}

/// `XACK key group id [id ...]`
pub fn xack(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(g) = read_mut(ctx, &mut sh, h, key)?.and_then(|s| s.groups.get_mut(args.get(2)))
    else {
        ctx.out.int(0);
        return Ok(());
    };
    // All IDs are checked before any is acknowledged.
    let ids = args
        .iter()
        .skip(3)
        .map(|a| parse_strict_id(a, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let n = ids.into_iter().filter(|&id| g.ack(id)).count();
    ctx.out.int(n as i64);
    Ok(())
}

/// `XPENDING key group [[IDLE min-idle-time] start end count [consumer]]`
pub fn xpending(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let argc = args.len();
    let summary = argc == 3;
    if argc != 3 && !(6..=9).contains(&argc) {
        return err(SYNTAX);
    }
    let (key, group) = (args.get(1), args.get(2));
    let mut min_idle = 0i64;
    let (mut start, mut end, mut count) = (StreamId::MIN, StreamId::MAX, 0i64);
    let mut consumer = None;
    if !summary {
        let mut at = 3;
        if args.is(3, "idle") {
            min_idle = args.int(4)?;
            if argc < 8 {
                return err(SYNTAX);
            }
            at += 2;
        }
        count = args.int(at + 2)?.max(0);
        start = parse_range_start(args.get(at))?;
        end = parse_range_end(args.get(at + 1))?;
        if at + 3 < argc {
            consumer = Some(args.get(at + 3));
        }
    }
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(g) = read_mut(ctx, &mut sh, h, key)?.and_then(|s| s.groups.get(group)) else {
        return Err(no_key_or_group(key, group, ""));
    };
    if summary {
        ctx.out.array(4);
        ctx.out.int(g.pel.len() as i64);
        let (Some((first, _)), Some((last, _))) = (g.pel.first_key_value(), g.pel.last_key_value())
        else {
            ctx.out.null();
            ctx.out.null();
            ctx.out.null_array();
            return Ok(());
        };
        write_id(ctx.out, *first);
        write_id(ctx.out, *last);
        let owners: Vec<_> = g.consumers.values().filter(|c| !c.pel.is_empty()).collect();
        ctx.out.array(owners.len());
        for c in owners {
            ctx.out.array(2);
            ctx.out.bulk(&c.name);
            ctx.out.bulk_int(c.pel.len() as i64);
        }
        return Ok(());
    }
    let now = ctx.now_ms;
    let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
        Some(name) => match g.consumers.get(name) {
            None => {
                ctx.out.array(0);
                return Ok(());
            }
            Some(_) if start > end => Box::new(std::iter::empty()),
            Some(c) => Box::new(c.pel.range(start..=end).copied()),
        },
        None if start > end => Box::new(std::iter::empty()),
        None => Box::new(g.pel.range(start..=end).map(|(k, _)| *k)),
    };
    let mut body = crate::cmd::coll::side_buffer(ctx);
    let mut n = 0i64;
    for id in ids {
        if n >= count {
            break;
        }
        let Some(nack) = g.pel.get(&id) else { continue };
        let idle = now.saturating_sub(nack.delivery_time);
        if min_idle != 0 && idle < min_idle {
            continue;
        }
        n += 1;
        body.array(4);
        write_id(&mut body, id);
        body.bulk(&nack.consumer);
        body.int(idle.max(0));
        body.int(nack.delivery_count as i64);
    }
    ctx.out.array(n as usize);
    ctx.out.raw(&body.buf);
    Ok(())
}
