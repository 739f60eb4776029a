//! Stream commands: XADD XLEN XRANGE XREVRANGE XDEL XTRIM XSETID (`add`,
//! `range`), XREAD XREADGROUP (`read`), XGROUP XACK XPENDING XCLAIM
//! XAUTOCLAIM (`groups`) and XINFO (`info`).
//!
//! Every command works under the stripe lock(s) of its key(s); XREAD and
//! XREADGROUP lock all their streams first, so a read over several streams is
//! one atomic snapshot. Empty streams are kept, as in Redis.

mod add;
mod claim;
mod groups;
mod info;
mod range;
pub mod read;

use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, SubSpec};
use crate::db::types::stream::{RawEntry, Stream, StreamId};
use crate::db::types::Object;
use crate::db::Stripe;
use crate::protocol::Out;

macro_rules! cmd {
    ($name:expr, $arity:expr, $flags:expr, $first:expr, $h:expr, $since:expr, $summary:expr) => {
        cmd!($name, $arity, $flags, $first, $h, $since, $summary, &[])
    };
    ($name:expr, $arity:expr, $flags:expr, $first:expr, $h:expr, $since:expr, $summary:expr, $subs:expr) => {
        CommandSpec::new(
            $name,
            $arity,
            $flags,
            ($first, $first, $first),
            $h,
            "stream",
            $since,
            $summary,
        )
        .with_subcommands($subs)
    };
}

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("xadd", -5, WRITE | DENYOOM | FAST, 1, add::xadd, "5.0.0", "Appends a new message to a stream. Creates the key if it doesn't exist."),
    cmd!("xlen", 2, READONLY | FAST, 1, range::xlen, "5.0.0", "Return the number of messages in a stream."),
    cmd!("xrange", -4, READONLY, 1, range::xrange, "5.0.0", "Returns the messages from a stream within a range of IDs."),
    cmd!("xrevrange", -4, READONLY, 1, range::xrevrange, "5.0.0", "Returns the messages from a stream within a range of IDs in reverse order."),
    cmd!("xdel", -3, WRITE | FAST, 1, add::xdel, "5.0.0", "Returns the number of messages after removing them from a stream."),
    cmd!("xtrim", -4, WRITE, 1, add::xtrim, "5.0.0", "Deletes messages from the beginning of a stream."),
    cmd!("xsetid", -3, WRITE | DENYOOM | FAST, 1, add::xsetid, "5.0.0", "An internal command for replicating stream values."),
    cmd!("xread", -4, READONLY | BLOCKING | MOVABLEKEYS, 0, read::xread, "5.0.0", "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise."),
    cmd!("xreadgroup", -7, WRITE | BLOCKING | MOVABLEKEYS, 0, read::xreadgroup, "5.0.0", "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise."),
    cmd!("xgroup", -2, 0, 0, groups::xgroup, "5.0.0", "A container for consumer groups commands.", XGROUP_SUBS),
    cmd!("xack", -4, WRITE | FAST, 1, groups::xack, "5.0.0", "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream."),
    cmd!("xpending", -3, READONLY, 1, groups::xpending, "5.0.0", "Returns the information and entries from a stream consumer group's pending entries list."),
    cmd!("xclaim", -6, WRITE | FAST, 1, claim::xclaim, "5.0.0", "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member."),
    cmd!("xautoclaim", -6, WRITE | FAST, 1, claim::xautoclaim, "6.2.0", "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member."),
    cmd!("xinfo", -2, 0, 0, info::xinfo, "5.0.0", "A container for stream introspection commands.", XINFO_SUBS),
];

const fn sub(name: &'static str, arity: i32, flags: u32, summary: &'static str) -> SubSpec {
    SubSpec {
        name,
        arity,
        flags,
        summary,
    }
}

#[rustfmt::skip]
pub const XGROUP_SUBS: &[SubSpec] = &[
    sub("create", -5, WRITE | DENYOOM, "Creates a consumer group."),
    sub("setid", -5, WRITE, "Sets the last-delivered ID of a consumer group."),
    sub("destroy", 4, WRITE, "Destroys a consumer group."),
    sub("createconsumer", 5, WRITE | DENYOOM, "Creates a consumer in a consumer group."),
    sub("delconsumer", 5, WRITE, "Deletes a consumer from a consumer group."),
    sub("help", 2, LOADING | STALE, "Returns helpful text about the different subcommands."),
];

#[rustfmt::skip]
pub const XINFO_SUBS: &[SubSpec] = &[
    sub("consumers", 4, READONLY, "Returns a list of the consumers in a consumer group."),
    sub("groups", 3, READONLY, "Returns a list of the consumer groups of a stream."),
    sub("stream", -3, READONLY, "Returns information about a stream."),
    sub("help", 2, LOADING | STALE, "Returns helpful text about the different subcommands."),
];

pub const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

pub(crate) fn pick(o: &Object) -> Option<&Stream> {
    match o {
        Object::Stream(s) => Some(s),
        _ => None,
    }
}

pub(crate) fn pick_mut(o: &mut Object) -> Option<&mut Stream> {
    match o {
        Object::Stream(s) => Some(s),
        _ => None,
    }
}

fn new_stream() -> Object {
    Object::Stream(Stream::default())
}

/// Mutable access to the stream at `key` through a read lookup (counts a
/// keyspace hit or miss, as the group commands' lookupKeyRead does).
pub(crate) fn read_mut<'s>(
    ctx: &Ctx,
    sh: &'s mut Stripe,
    h: u64,
    key: &[u8],
) -> Result<Option<&'s mut Stream>, CmdError> {
    let Some(slot) = ctx.ks().read(sh, h, key, ctx.now_ms) else {
        return Ok(None);
    };
    match sh.object_mut(slot) {
        Some(Object::Stream(s)) => Ok(Some(s)),
        _ => Err(super::WRONGTYPE.into()),
    }
}

/// An ID where `-` and `+` are allowed.
pub(crate) fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CmdError> {
    crate::db::types::stream::id::parse(arg, missing_seq, false, false)
        .map(|x| x.0)
        .ok_or_else(|| INVALID_ID.into())
}

/// An ID where `-` and `+` are not allowed.
pub(crate) fn parse_strict_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CmdError> {
    crate::db::types::stream::id::parse(arg, missing_seq, true, false)
        .map(|x| x.0)
        .ok_or_else(|| INVALID_ID.into())
}

/// A range bound: `(id` is exclusive (and then `-`/`+` are invalid).
fn parse_interval(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_strict_id(&arg[1..], missing_seq)?, true))
    } else {
        Ok((parse_id(arg, missing_seq)?, false))
    }
}

/// The start of a range: `(id` moves to the next ID.
pub(crate) fn parse_range_start(arg: &[u8]) -> Result<StreamId, CmdError> {
    let (id, ex) = parse_interval(arg, 0)?;
    if ex {
        return id
            .incr()
            .ok_or_else(|| "ERR invalid start ID for the interval".into());
    }
    Ok(id)
}

/// The end of a range: `(id` moves to the previous ID.
pub(crate) fn parse_range_end(arg: &[u8]) -> Result<StreamId, CmdError> {
    let (id, ex) = parse_interval(arg, u64::MAX)?;
    if ex {
        return id
            .decr()
            .ok_or_else(|| "ERR invalid end ID for the interval".into());
    }
    Ok(id)
}

pub(crate) fn write_id(out: &mut Out, id: StreamId) {
    out.bulk(id.format().as_bytes());
}

/// `[id, [field, value, ...]]`
pub(crate) fn write_entry(out: &mut Out, e: &RawEntry) {
    out.array(2);
    write_id(out, e.id);
    out.array(e.nfields() * 2);
    for (f, v) in e.pairs() {
        out.bulk(f);
        out.bulk(v);
    }
}

/// Writes `entries` as an array.
pub(crate) fn write_entries<'a>(ctx: &mut Ctx, entries: impl Iterator<Item = RawEntry<'a>>) {
    let mut body = super::coll::side_buffer(ctx);
    let mut n = 0;
    for e in entries {
        write_entry(&mut body, &e);
        n += 1;
    }
    ctx.out.array(n);
    ctx.out.raw(&body.buf);
}

/// Redis prints names in errors as C strings.
pub(crate) fn c_str(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(crate::cmd::c_prefix(b, b.len()))
}

/// `NOGROUP No such key '<key>' or consumer group '<group>'`
pub(crate) fn no_key_or_group(key: &[u8], group: &[u8], suffix: &str) -> CmdError {
    format!(
        "NOGROUP No such key '{}' or consumer group '{}'{suffix}",
        c_str(key),
        c_str(group)
    )
    .into()
}

/// `NOGROUP No such consumer group '<group>' for key name '<key>'`
pub(crate) fn no_group(key: &[u8], group: &[u8]) -> CmdError {
    format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        c_str(group),
        c_str(key)
    )
    .into()
}

/// Redis's addReplySubcommandSyntaxError.
pub(crate) fn subcommand_syntax(sub: &[u8], container: &str) -> CmdError {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(crate::cmd::c_prefix(sub, 128)),
        container
    )
    .into()
}
