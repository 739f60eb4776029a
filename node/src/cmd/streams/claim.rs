//! Ownership changes of pending entries: XCLAIM and XAUTOCLAIM.

use std::sync::Arc;

use super::{no_key_or_group, parse_range_start, parse_strict_id, read_mut, write_entry, write_id};
use crate::cmd::{err, Args, CmdError, CmdResult, Ctx, SYNTAX};
use crate::db::types::stream::{Group, Nack, StreamId};

/// The consumer `name` of `g`, created when missing; its seen time refreshed.
fn claimer(g: &mut Group, name: &[u8], now: i64) -> Arc<[u8]> {
    let (c, _) = g.consumer_or_create(name, now);
    c.seen_time = now;
    c.name.clone()
}

/// `XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]`
pub fn xclaim(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (key, group, cname) = (args.get(1), args.get(2), args.get(3));
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let now = ctx.now_ms;
    let Some(s) = read_mut(ctx, &mut sh, h, key)? else {
        return Err(no_key_or_group(key, group, ""));
    };
    let log = &s.log;
    let Some(g) = s.groups.get_mut(group) else {
        return Err(no_key_or_group(key, group, ""));
    };
    let min_idle = crate::util::parse_i64_strict(args.get(4))
        .ok_or_else(|| CmdError::from("ERR Invalid min-idle-time argument for XCLAIM"))?
        .max(0);
    // IDs run until the first argument that is not one; options follow.
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_strict_id(args.get(j), 0) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let (mut force, mut justid) = (false, false);
    let mut retrycount: Option<u64> = None;
    let mut delivery: Option<i64> = None;
    let mut last_id = StreamId::MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let int = |j: usize, what: &str| {
            crate::util::parse_i64_strict(args.get(j)).ok_or_else(|| {
                CmdError::from(format!("ERR Invalid {what} option argument for XCLAIM"))
            })
        };
        if args.is(j, "force") {
            force = true;
        } else if args.is(j, "justid") {
            justid = true;
        } else if args.is(j, "idle") && more > 0 {
            j += 1;
            delivery = Some(now.saturating_sub(int(j, "IDLE")?));
        } else if args.is(j, "time") && more > 0 {
            j += 1;
            delivery = Some(int(j, "TIME")?);
        } else if args.is(j, "retrycount") && more > 0 {
            j += 1;
            // A negative count leaves the counter to the usual increment.
            retrycount = u64::try_from(int(j, "RETRYCOUNT")?).ok();
        } else if args.is(j, "lastid") && more > 0 {
            j += 1;
            last_id = parse_strict_id(args.get(j), 0)?;
        } else {
            return err(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                super::c_str(args.get(j))
            ));
        }
        j += 1;
    }
    if last_id > g.last_id {
        g.last_id = last_id;
    }
    // A delivery time in the future or before the epoch means now (a client
    // computing it from a skewed clock is not an error).
    let delivery = delivery.filter(|&t| (0..=now).contains(&t)).unwrap_or(now);
    let last_before = g.last_id;
    let mut consumer: Option<Arc<[u8]>> = None;
    let mut body = crate::cmd::coll::side_buffer(ctx);
    let mut n = 0;
    let mut touched = Vec::new();
    for id in ids {
        let pending = g.pel.get(&id).map(|nack| nack.delivery_time);
        if !log.contains(id) {
            // The entry is gone: drop its pending entry as well.
            if pending.is_some() {
                g.ack(id);
                touched.push(id);
            }
            continue;
        }
        match pending {
            None if !force => continue,
            Some(t) if min_idle > 0 && now.saturating_sub(t) < min_idle => continue,
            _ => {}
        }
        let c = consumer
            .get_or_insert_with(|| claimer(g, cname, now))
            .clone();
        if pending.is_none() {
            g.pel.insert(
                id,
                Nack {
                    delivery_time: now,
                    delivery_count: 1,
                    consumer: c.clone(),
                },
            );
            if let Some(owner) = g.consumers.get_mut(&c) {
                owner.pel.insert(id);
            }
        } else {
            g.transfer(id, &c);
        }
        if let Some(nack) = g.pel.get_mut(&id) {
            nack.delivery_time = delivery;
            match retrycount {
                Some(rc) => nack.delivery_count = rc,
                None if !justid => nack.delivery_count += 1,
                None => {}
            }
        }
        if justid {
            write_id(&mut body, id);
        } else if let Some(e) = log.get(id) {
            write_entry(&mut body, &e);
        }
        touched.push(id);
        n += 1;
    }
    let ops = if ctx.propagating() {
        claim_ops(key, group, cname, g, &touched, last_before)
    } else {
        Vec::new()
    };
    ctx.out.array(n);
    ctx.out.raw(&body.buf);
    propagate_ops(ctx, ops);
    Ok(())
}

/// What a claim propagates (Redis 7.0's `streamPropagateXCLAIM`): per claimed
/// or dropped pending entry an idempotent `XCLAIM key group consumer 0 id
/// TIME t RETRYCOUNT n FORCE JUSTID LASTID last` (for a dropped one, the
/// entry is missing on replay too and the XCLAIM drops it again), and
/// `XGROUP SETID` when only LASTID moved the group.
fn claim_ops(
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
    g: &Group,
    ids: &[StreamId],
    last_before: StreamId,
) -> Vec<Vec<Vec<u8>>> {
    let int = |n: i64| itoa::Buffer::new().format(n).as_bytes().to_vec();
    let idb = |i: StreamId| i.format().as_bytes().to_vec();
    let mut ops = Vec::new();
    for &id in ids {
        let (owner, time, count) = match g.pel.get(&id) {
            Some(n) => (
                n.consumer.to_vec(),
                n.delivery_time,
                n.delivery_count as i64,
            ),
            None => (consumer.to_vec(), 0, 0),
        };
        ops.push(vec![
            b"XCLAIM".to_vec(),
            key.to_vec(),
            group.to_vec(),
            owner,
            b"0".to_vec(),
            idb(id),
            b"TIME".to_vec(),
            int(time),
            b"RETRYCOUNT".to_vec(),
            int(count),
            b"FORCE".to_vec(),
            b"JUSTID".to_vec(),
            b"LASTID".to_vec(),
            idb(g.last_id),
        ]);
    }
    if ops.is_empty() && g.last_id != last_before {
        ops.push(vec![
            b"XGROUP".to_vec(),
            b"SETID".to_vec(),
            key.to_vec(),
            group.to_vec(),
            idb(g.last_id),
            b"ENTRIESREAD".to_vec(),
            int(g.entries_read),
        ]);
    }
    ops
}

/// Replaces the command's propagation with `ops`.
fn propagate_ops(ctx: &mut Ctx, ops: Vec<Vec<Vec<u8>>>) {
    ctx.propagate_none();
    for op in ops {
        let argv: Vec<&[u8]> = op.iter().map(Vec::as_slice).collect();
        ctx.propagate_more(&argv);
    }
}

/// Redis's bound on XAUTOCLAIM's COUNT: LONG_MAX / max(sizeof(streamID), 10).
const MAX_AUTOCLAIM_COUNT: i64 = i64::MAX / 16;
/// PEL entries examined per requested claim.
const ATTEMPTS_FACTOR: u64 = 10;

/// `XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]`
pub fn xautoclaim(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (key, group, cname) = (args.get(1), args.get(2), args.get(3));
    let min_idle = crate::util::parse_i64_strict(args.get(4))
        .ok_or_else(|| CmdError::from("ERR Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0);
    let start = parse_range_start(args.get(5))?;
    let mut count: u64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if args.is(j, "count") && more > 0 {
            count = crate::util::parse_i64_strict(args.get(j + 1))
                .filter(|n| (1..=MAX_AUTOCLAIM_COUNT).contains(n))
                .ok_or_else(|| CmdError::from("ERR COUNT must be > 0"))? as u64;
            j += 1;
        } else if args.is(j, "justid") {
            justid = true;
        } else {
            return err(SYNTAX);
        }
        j += 1;
    }
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let now = ctx.now_ms;
    let Some(s) = read_mut(ctx, &mut sh, h, key)? else {
        return Err(no_key_or_group(key, group, ""));
    };
    let log = &s.log;
    let Some(g) = s.groups.get_mut(group) else {
        return Err(no_key_or_group(key, group, ""));
    };
    let mut attempts = count.saturating_mul(ATTEMPTS_FACTOR);
    let mut consumer: Option<Arc<[u8]>> = None;
    let mut body = crate::cmd::coll::side_buffer(ctx);
    let mut claimed = 0;
    let mut deleted = Vec::new();
    let mut touched = Vec::new();
    // The PEL is walked from `next`; None once past its end.
    let mut next = Some(start);
    while attempts > 0 && count > 0 {
        attempts -= 1;
        let Some(id) = next.and_then(|from| g.pel.range(from..).next().map(|(k, _)| *k)) else {
            next = None;
            break;
        };
        next = id.incr();
        if !log.contains(id) {
            g.ack(id);
            deleted.push(id);
            touched.push(id);
            count -= 1;
            continue;
        }
        let idle = g
            .pel
            .get(&id)
            .map_or(0, |nack| now.saturating_sub(nack.delivery_time));
        if min_idle > 0 && idle < min_idle {
            continue;
        }
        let c = consumer
            .get_or_insert_with(|| claimer(g, cname, now))
            .clone();
        g.transfer(id, &c);
        if let Some(nack) = g.pel.get_mut(&id) {
            nack.delivery_time = now;
            if !justid {
                nack.delivery_count += 1;
            }
        }
        if justid {
            write_id(&mut body, id);
        } else if let Some(e) = log.get(id) {
            write_entry(&mut body, &e);
        }
        touched.push(id);
        claimed += 1;
        count -= 1;
    }
    let ops = if ctx.propagating() {
        claim_ops(key, group, cname, g, &touched, g.last_id)
    } else {
        Vec::new()
    };
    let cursor = next
        .and_then(|from| g.pel.range(from..).next().map(|(k, _)| *k))
        .unwrap_or(StreamId::MIN);
    ctx.out.array(3);
    write_id(ctx.out, cursor);
    ctx.out.array(claimed);
    ctx.out.raw(&body.buf);
    ctx.out.array(deleted.len());
    for id in deleted {
        write_id(ctx.out, id);
    }
    propagate_ops(ctx, ops);
    Ok(())
}
