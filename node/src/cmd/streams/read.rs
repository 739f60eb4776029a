//! XREAD and XREADGROUP.
//!
//! A request is parsed under the locks of all its streams (`$` resolves to
//! each stream's last ID then, and group existence is checked), then served by
//! [`serve_read`]. With `BLOCK`, a read that finds nothing registers the
//! client, still under those locks, with the blocking machinery
//! (`cmd::blocking`, `server::blocked`), which keeps the [`ReadRequest`] and
//! calls [`serve_waiter`] whenever one of its streams is signalled: on XADD,
//! XGROUP DESTROY, and the stream's removal. Inside MULTI a BLOCK read
//! answers at once, as in Redis.

use std::sync::Arc;

use super::{no_key_or_group, parse_strict_id, read_mut, write_entry, write_id};
use crate::cmd::blocking::BlockOp;
use crate::cmd::{arity_error, err, typed, Args, CmdError, CmdResult, Ctx, SYNTAX};
use crate::db::types::stream::{Group, Log, StreamId};
use crate::db::types::Object;
use crate::db::{MultiLock, Stripe};
use crate::protocol::Out;

/// Where a stream is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadFrom {
    /// Entries with IDs greater than this one (XREAD, with `$` resolved; or
    /// XREADGROUP's history of the consumer's own pending entries).
    After(StreamId),
    /// XREADGROUP `>`: entries never delivered to the group.
    New,
}

/// The group side of an XREADGROUP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRead {
    pub group: Vec<u8>,
    pub consumer: Vec<u8>,
    pub noack: bool,
}

/// A parsed XREAD / XREADGROUP, kept by a blocked client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadRequest {
    /// 0: no limit.
    pub count: usize,
    /// BLOCK milliseconds (0: forever), None when not blocking.
    pub block: Option<i64>,
    pub group: Option<GroupRead>,
    pub keys: Vec<Vec<u8>>,
    pub from: Vec<ReadFrom>,
}

/// `XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]`
pub fn xread(ctx: &mut Ctx, args: &Args) -> CmdResult {
    read_command(ctx, args, false)
}

/// `XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]`
pub fn xreadgroup(ctx: &mut Ctx, args: &Args) -> CmdResult {
    read_command(ctx, args, true)
}

struct Options<'a> {
    count: usize,
    block: Option<i64>,
    group: Option<(&'a [u8], &'a [u8])>,
    noack: bool,
    streams_at: usize,
    nstreams: usize,
}

fn parse_options<'a>(args: &Args<'a>, groupcmd: bool) -> Result<Options<'a>, CmdError> {
    let mut o = Options {
        count: 0,
        block: None,
        group: None,
        noack: false,
        streams_at: 0,
        nstreams: 0,
    };
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if args.is(i, "block") && more > 0 {
            i += 1;
            o.block = Some(parse_timeout(args.get(i))?);
        } else if args.is(i, "count") && more > 0 {
            i += 1;
            let n = args.int(i)?.max(0);
            o.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if args.is(i, "streams") && more > 0 {
            o.streams_at = i + 1;
            let n = args.len() - o.streams_at;
            if !n.is_multiple_of(2) {
                // Redis 7.0 words it the same for XREADGROUP.
                return err(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                );
            }
            o.nstreams = n / 2;
            break;
        } else if args.is(i, "group") && more >= 2 {
            if !groupcmd {
                return err(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                );
            }
            o.group = Some((args.get(i + 1), args.get(i + 2)));
            i += 2;
        } else if args.is(i, "noack") {
            if !groupcmd {
                return err(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                );
            }
            o.noack = true;
        } else {
            return err(SYNTAX);
        }
        i += 1;
    }
    if o.streams_at == 0 {
        return err(SYNTAX);
    }
    if groupcmd && o.group.is_none() {
        return err("ERR Missing GROUP option for XREADGROUP");
    }
    Ok(o)
}

/// A BLOCK timeout in milliseconds (Redis 7.0's getTimeoutFromObjectOrReply,
/// which has no upper bound).
fn parse_timeout(arg: &[u8]) -> Result<i64, CmdError> {
    let v = crate::util::parse_i64_strict(arg)
        .ok_or_else(|| CmdError::from("ERR timeout is not an integer or out of range"))?;
    if v < 0 {
        return err("ERR timeout is negative");
    }
    Ok(v)
}

fn read_command(ctx: &mut Ctx, args: &Args, groupcmd: bool) -> CmdResult {
    if groupcmd && args.len() < 7 {
        return Err(arity_error("xreadgroup"));
    }
    let o = parse_options(args, groupcmd)?;
    if groupcmd {
        // Propagated as the XCLAIM / XGROUP SETID / CREATECONSUMER of what it
        // delivered (`serve_one`), never as itself.
        ctx.propagate_none();
    }
    let keys: Vec<&[u8]> = (0..o.nstreams)
        .map(|j| args.get(o.streams_at + j))
        .collect();
    let hashes: Vec<u64> = keys.iter().map(|k| ctx.hash(k)).collect();
    let mut locks = ctx.db().lock_many(&hashes);
    let mut from = Vec::with_capacity(keys.len());
    for (j, &key) in keys.iter().enumerate() {
        let h = hashes[j];
        let arg = args.get(o.streams_at + o.nstreams + j);
        let sh = locks.stripe(h);
        let s = typed::read(ctx, sh, h, key, super::pick)?;
        if let Some((group, _)) = o.group {
            if s.and_then(|s| s.groups.get(group)).is_none() {
                return Err(no_key_or_group(
                    key,
                    group,
                    " in XREADGROUP with GROUP option",
                ));
            }
        }
        from.push(match arg {
            b"$" if groupcmd => return err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set."),
            b"$" => ReadFrom::After(s.map_or(StreamId::MIN, |s| s.log.last_id)),
            b">" if !groupcmd => return err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."),
            b">" => ReadFrom::New,
            // Redis stores `>` as the largest ID, so that ID means `>` too.
            _ => match parse_strict_id(arg, 0)? {
                StreamId::MAX if groupcmd => ReadFrom::New,
                id => ReadFrom::After(id),
            },
        });
    }
    let req = ReadRequest {
        count: o.count,
        block: o.block,
        group: o.group.map(|(g, c)| GroupRead {
            group: g.to_vec(),
            consumer: c.to_vec(),
            noack: o.noack,
        }),
        keys: keys.iter().map(|k| k.to_vec()).collect(),
        from,
    };
    if serve_read(ctx, &mut locks, &hashes, &req)? {
        return Ok(());
    }
    match req.block {
        None => ctx.out.null_array(),
        Some(ms) => {
            // BLOCK 0 waits forever; a deadline past the clock's range too.
            let timeout = u64::try_from(ms)
                .ok()
                .filter(|&ms| ms > 0)
                .map(std::time::Duration::from_millis);
            crate::cmd::blocking::block(ctx, BlockOp::XRead(req), timeout);
        }
    }
    Ok(())
}

/// Serves `req` from every stream that has something for it, as one reply
/// (an array of `[key, entries]`, a map in RESP3). Returns false, writing
/// nothing, when no stream has anything.
pub fn serve_read(
    ctx: &mut Ctx,
    locks: &mut MultiLock,
    hashes: &[u64],
    req: &ReadRequest,
) -> Result<bool, CmdError> {
    let mut body = crate::cmd::coll::side_buffer(ctx);
    let mut served = 0;
    for (j, key) in req.keys.iter().enumerate() {
        let h = hashes[j];
        if serve_one(ctx, locks.stripe(h), h, key, req.from[j], req, &mut body)? {
            served += 1;
        }
    }
    if served == 0 {
        return Ok(false);
    }
    if ctx.out.resp3 {
        ctx.out.map(served);
    } else {
        ctx.out.array(served);
    }
    ctx.out.raw(&body.buf);
    Ok(true)
}

/// Serves a client blocked on `req` now that its stream `key` (under the
/// locked stripe `sh`) was signalled, as Redis 7.0's
/// serveClientsBlockedOnStreamKey: when the stream's last ID (deleted entries
/// count) is past the requested ID, or past the group's last delivered ID for
/// XREADGROUP, a one-stream reply `[[key, entries]]` (a one-key map in RESP3)
/// with at most COUNT entries, the group and PEL updated as a non-blocking
/// read does. XREADGROUP clients whose group is gone get `-NOGROUP the
/// consumer group this client was blocked on no longer exists`; those whose
/// stream is gone (or replaced by another type) `-UNBLOCKED the stream key no
/// longer exists`.
///
/// `claim` takes the client for this thread; it is called only once the reply
/// is certain, and nothing is written when it fails. Returns whether a reply
/// was written into `ctx.out` (false: the client keeps waiting).
pub fn serve_waiter(
    ctx: &mut Ctx,
    sh: &mut Stripe,
    h: u64,
    key: &[u8],
    req: &ReadRequest,
    claim: impl FnOnce() -> bool,
) -> bool {
    let Some(index) = req.keys.iter().position(|k| k.as_slice() == key) else {
        return false;
    };
    let now = ctx.now_ms;
    let stream = match ctx.ks().live(sh, h, key, now) {
        Some(slot) => match sh.object_mut(slot) {
            Some(Object::Stream(s)) => Some(s),
            _ => None,
        },
        None => None,
    };
    let Some(s) = stream else {
        if req.group.is_some() && claim() {
            ctx.out.error("UNBLOCKED the stream key no longer exists");
            return true;
        }
        return false;
    };
    let count = if req.count == 0 {
        usize::MAX
    } else {
        req.count
    };
    let Some(gr) = &req.group else {
        let ReadFrom::After(gt) = req.from[index] else {
            return false;
        };
        if s.log.last_id <= gt || !claim() {
            return false;
        }
        one_stream_head(ctx.out, key);
        let mut entries = crate::cmd::coll::side_buffer(ctx);
        let mut n = 0;
        if let Some(start) = gt.incr() {
            for e in s.log.range(start, StreamId::MAX, false).take(count) {
                write_entry(&mut entries, &e);
                n += 1;
            }
        }
        ctx.out.array(n);
        ctx.out.raw(&entries.buf);
        return true;
    };
    let log = &s.log;
    let Some(g) = s.groups.get_mut(&gr.group) else {
        if claim() {
            ctx.out
                .error("NOGROUP the consumer group this client was blocked on no longer exists");
            return true;
        }
        return false;
    };
    if log.last_id <= g.last_id || !claim() {
        return false;
    }
    let (consumer, _) = g.consumer_or_create(&gr.consumer, now);
    consumer.seen_time = now;
    let cname = consumer.name.clone();
    one_stream_head(ctx.out, key);
    serve_new(log, g, &cname, gr.noack, count, now, ctx.out);
    true
}

/// The start of a reply that serves one stream: `*1 *2 $key` (RESP2) or
/// `%1 $key` (RESP3); the entries follow.
fn one_stream_head(out: &mut Out, key: &[u8]) {
    if out.resp3 {
        out.map(1);
    } else {
        out.array(1);
    }
    head(out, key);
}

/// Writes one stream's part of a read reply (`[key, entries]`, or `key`
/// then entries in a RESP3 map) into `body` when there is something to
/// serve; returns whether it did.
fn serve_one(
    ctx: &mut Ctx,
    sh: &mut Stripe,
    h: u64,
    key: &[u8],
    from: ReadFrom,
    req: &ReadRequest,
    body: &mut Out,
) -> Result<bool, CmdError> {
    let now = ctx.now_ms;
    let count = if req.count == 0 {
        usize::MAX
    } else {
        req.count
    };
    let Some(s) = read_mut(ctx, sh, h, key)? else {
        return Ok(false);
    };
    let Some(gr) = &req.group else {
        let ReadFrom::After(gt) = from else {
            return Ok(false);
        };
        if s.log.is_empty() || s.log.last_valid_id() <= gt {
            return Ok(false);
        }
        let Some(start) = gt.incr() else {
            return Ok(false);
        };
        head(body, key);
        let mut entries = crate::cmd::coll::side_buffer(ctx);
        let mut n = 0;
        for e in s.log.range(start, StreamId::MAX, false).take(count) {
            write_entry(&mut entries, &e);
            n += 1;
        }
        body.array(n);
        body.raw(&entries.buf);
        return Ok(true);
    };
    let log = &s.log;
    let Some(g) = s.groups.get_mut(&gr.group) else {
        return Err(no_key_or_group(
            key,
            &gr.group,
            " in XREADGROUP with GROUP option",
        ));
    };
    if from == ReadFrom::New && (log.is_empty() || log.last_valid_id() <= g.last_id) {
        return Ok(false);
    }
    // Redis 7.0 creates (or refreshes) the consumer only when it serves it.
    let (consumer, created) = g.consumer_or_create(&gr.consumer, now);
    consumer.seen_time = now;
    let cname = consumer.name.clone();
    let last_before = g.last_id;
    head(body, key);
    let delivered = match from {
        ReadFrom::After(gt) => serve_history(log, g, &cname, gt, count, now, body),
        ReadFrom::New => serve_new(log, g, &cname, gr.noack, count, now, body),
    };
    if ctx.propagating() {
        let ops = group_read_ops(key, &gr.group, &cname, g, created, last_before, &delivered);
        for op in ops {
            let argv: Vec<&[u8]> = op.iter().map(Vec::as_slice).collect();
            ctx.propagate_more(&argv);
        }
    }
    Ok(true)
}

/// What a group read propagates (Redis 7.0): `XGROUP CREATECONSUMER` for a
/// new consumer, an idempotent `XCLAIM ... TIME .. RETRYCOUNT .. FORCE JUSTID
/// LASTID ..` per delivered entry, and `XGROUP SETID .. ENTRIESREAD ..` when
/// the group's last ID moved.
fn group_read_ops(
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
    g: &Group,
    created: bool,
    last_before: StreamId,
    delivered: &[StreamId],
) -> Vec<Vec<Vec<u8>>> {
    let int = |n: i64| itoa::Buffer::new().format(n).as_bytes().to_vec();
    let id = |i: StreamId| i.format().as_bytes().to_vec();
    let mut ops = Vec::new();
    if created {
        ops.push(vec![
            b"XGROUP".to_vec(),
            b"CREATECONSUMER".to_vec(),
            key.to_vec(),
            group.to_vec(),
            consumer.to_vec(),
        ]);
    }
    for &d in delivered {
        let Some(nack) = g.pel.get(&d) else {
            continue;
        };
        ops.push(vec![
            b"XCLAIM".to_vec(),
            key.to_vec(),
            group.to_vec(),
            consumer.to_vec(),
            b"0".to_vec(),
            id(d),
            b"TIME".to_vec(),
            int(nack.delivery_time),
            b"RETRYCOUNT".to_vec(),
            int(nack.delivery_count as i64),
            b"FORCE".to_vec(),
            b"JUSTID".to_vec(),
            b"LASTID".to_vec(),
            id(g.last_id),
        ]);
    }
    if g.last_id != last_before {
        ops.push(vec![
            b"XGROUP".to_vec(),
            b"SETID".to_vec(),
            key.to_vec(),
            group.to_vec(),
            id(g.last_id),
            b"ENTRIESREAD".to_vec(),
            int(g.entries_read),
        ]);
    }
    ops
}

fn head(body: &mut Out, key: &[u8]) {
    if !body.resp3 {
        body.array(2);
    }
    body.bulk(key);
}

/// Delivers entries after the group's last ID to `consumer`.
fn serve_new(
    log: &Log,
    g: &mut Group,
    consumer: &Arc<[u8]>,
    noack: bool,
    count: usize,
    now: i64,
    body: &mut Out,
) -> Vec<StreamId> {
    let mut entries = Out {
        buf: Vec::new(),
        resp3: body.resp3,
    };
    let mut n = 0;
    let mut delivered = Vec::new();
    let start = g.last_id.incr().unwrap_or(StreamId::MAX);
    for e in log.range(start, StreamId::MAX, false).take(count) {
        log.advance_group(g, e.id);
        write_entry(&mut entries, &e);
        if !noack {
            g.deliver(e.id, consumer, now);
            delivered.push(e.id);
        }
        n += 1;
    }
    body.array(n);
    body.raw(&entries.buf);
    delivered
}

/// Re-delivers the consumer's own pending entries after `gt`; entries deleted
/// since are reported as `[id, nil]`.
fn serve_history(
    log: &Log,
    g: &mut Group,
    consumer: &Arc<[u8]>,
    gt: StreamId,
    count: usize,
    now: i64,
    body: &mut Out,
) -> Vec<StreamId> {
    let ids: Vec<StreamId> = match (g.consumers.get(consumer), gt.incr()) {
        (Some(c), Some(start)) => c.pel.range(start..).take(count).copied().collect(),
        _ => Vec::new(),
    };
    body.array(ids.len());
    let mut delivered = Vec::new();
    for id in ids {
        match log.get(id) {
            Some(e) => {
                write_entry(body, &e);
                if let Some(nack) = g.pel.get_mut(&id) {
                    nack.delivery_time = now;
                    nack.delivery_count += 1;
                    delivered.push(id);
                }
            }
            None => {
                body.array(2);
                write_id(body, id);
                body.null_array();
            }
        }
    }
    delivered
}
