//! `XINFO STREAM | GROUPS | CONSUMERS | HELP`: introspection of a stream,
//! in Redis 7.0's reply shapes (maps in RESP3).

use super::{no_group, pick, subcommand_syntax, write_entry, write_id, XINFO_SUBS};
use crate::cmd::admin::{help, subcommand};
use crate::cmd::{err, typed, Args, CmdResult, Ctx, NO_SUCH_KEY};
use crate::db::types::stream::{Group, Log, Stream, StreamId, INVALID_ENTRIES_READ};
use crate::protocol::Out;

const XINFO_HELP: &[&str] = &[
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
];

/// `XINFO <CONSUMERS key group | GROUPS key | STREAM key [FULL [COUNT count]] | HELP>`
pub fn xinfo(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let sub = subcommand(args, "xinfo", XINFO_SUBS)?;
    if sub == "help" {
        help(ctx, "xinfo", XINFO_HELP);
        return Ok(());
    }
    let key = args.get(2);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(s) = typed::read(ctx, &mut sh, h, key, pick)? else {
        return err(NO_SUCH_KEY);
    };
    let now = ctx.now_ms;
    match sub {
        "consumers" => {
            let Some(g) = s.groups.get(args.get(3)) else {
                return Err(no_group(key, args.get(3)));
            };
            let out = &mut *ctx.out;
            out.array(g.consumers.len());
            for c in g.consumers.values() {
                out.map(3);
                out.bulk(b"name");
                out.bulk(&c.name);
                out.bulk(b"pending");
                out.int(c.pel.len() as i64);
                out.bulk(b"idle");
                out.int(now.saturating_sub(c.seen_time).max(0));
            }
        }
        "groups" => {
            let out = &mut *ctx.out;
            out.array(s.groups.len());
            for (name, g) in s.groups.iter() {
                out.map(6);
                out.bulk(b"name");
                out.bulk(name);
                out.bulk(b"consumers");
                out.int(g.consumers.len() as i64);
                out.bulk(b"pending");
                out.int(g.pel.len() as i64);
                out.bulk(b"last-delivered-id");
                write_id(out, g.last_id);
                read_and_lag(out, &s.log, g);
            }
        }
        _ => {
            let full = match args.len() {
                3 => None,
                4 if args.is(3, "full") => Some(10),
                6 if args.is(3, "full") && args.is(4, "count") => {
                    let n = args.int(5)?;
                    Some(if n < 0 { 10 } else { n })
                }
                _ => return Err(subcommand_syntax(args.get(1), "XINFO")),
            };
            stream_info(ctx.out, s, full);
        }
    }
    Ok(())
}

/// `entries-read` and `lag` of a group.
fn read_and_lag(out: &mut Out, log: &Log, g: &Group) {
    out.bulk(b"entries-read");
    if g.entries_read == INVALID_ENTRIES_READ {
        out.null();
    } else {
        out.int(g.entries_read);
    }
    out.bulk(b"lag");
    match log.lag(g) {
        Some(lag) => out.int(lag),
        None => out.null(),
    }
}

/// XINFO STREAM, or XINFO STREAM FULL with `full` = COUNT (0: everything).
fn stream_info(out: &mut Out, s: &Stream, full: Option<i64>) {
    let log = &s.log;
    out.map(if full.is_some() { 9 } else { 10 });
    out.bulk(b"length");
    out.int(log.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(log.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(log.radix_tree_nodes() as i64);
    out.bulk(b"last-generated-id");
    write_id(out, log.last_id);
    out.bulk(b"max-deleted-entry-id");
    write_id(out, log.max_deleted);
    out.bulk(b"entries-added");
    out.int(log.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    write_id(out, log.first_id);
    let Some(count) = full else {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        out.bulk(b"first-entry");
        match log.iter().next() {
            Some(e) => write_entry(out, &e),
            None => out.null(),
        }
        out.bulk(b"last-entry");
        match log.range(StreamId::MIN, StreamId::MAX, true).next() {
            Some(e) => write_entry(out, &e),
            None => out.null(),
        }
        return;
    };
    let limit = if count == 0 {
        usize::MAX
    } else {
        usize::try_from(count).unwrap_or(usize::MAX)
    };
    out.bulk(b"entries");
    let n = log.len().min(limit);
    out.array(n);
    for e in log.iter().take(n) {
        write_entry(out, &e);
    }
    out.bulk(b"groups");
    out.array(s.groups.len());
    for (name, g) in s.groups.iter() {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        write_id(out, g.last_id);
        read_and_lag(out, log, g);
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        out.array(g.pel.len().min(limit));
        for (id, nack) in g.pel.iter().take(limit) {
            out.array(4);
            write_id(out, *id);
            out.bulk(&nack.consumer);
            out.int(nack.delivery_time);
            out.int(nack.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for c in g.consumers.values() {
            out.map(4);
            out.bulk(b"name");
            out.bulk(&c.name);
            out.bulk(b"seen-time");
            out.int(c.seen_time);
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            out.array(c.pel.len().min(limit));
            for id in c.pel.iter().take(limit) {
                out.array(3);
                write_id(out, *id);
                let nack = g.pel.get(id);
                out.int(nack.map_or(0, |n| n.delivery_time));
                out.int(nack.map_or(0, |n| n.delivery_count as i64));
            }
        }
    }
}
