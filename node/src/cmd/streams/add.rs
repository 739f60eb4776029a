//! Writes to the log: XADD, XTRIM (with their shared MAXLEN/MINID/LIMIT
//! options), XDEL and XSETID.

use super::{new_stream, parse_strict_id, pick_mut, write_id};
use crate::cmd::{arity_error, err, typed, Args, CmdError, CmdResult, Ctx, SYNTAX};
use crate::db::types::stream::id::{self, Seq};
use crate::db::types::stream::{AddError, NewId, NodeLimits, StreamId, Trim};

/// The node limits in force.
pub(super) fn node_limits(ctx: &Ctx) -> NodeLimits {
    let enc = &ctx.srv.config.enc;
    NodeLimits {
        max_bytes: enc.get(&enc.stream_node_max_bytes),
        max_entries: enc.get(&enc.stream_node_max_entries),
    }
}

/// The options of XADD and XTRIM (Redis's streamAddTrimArgs).
#[derive(Default)]
struct AddTrimArgs {
    trim: Option<Trim>,
    approx: bool,
    limit: u64,
    nomkstream: bool,
    /// XADD: the requested ID and the index of the first field.
    id: Option<NewId>,
    fields_at: usize,
}

/// Parses the options of XADD (`xadd`: up to and including the ID) or XTRIM.
fn parse_add_trim(ctx: &Ctx, args: &Args, xadd: bool) -> Result<AddTrimArgs, CmdError> {
    let mut a = AddTrimArgs::default();
    let mut limit_given = false;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = args.get(i);
        if xadd && opt == b"*" {
            a.id = Some(NewId::Auto);
            break;
        } else if (args.is(i, "maxlen") || args.is(i, "minid")) && more > 0 {
            if a.trim.is_some() {
                return err(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                );
            }
            let maxlen = args.is(i, "maxlen");
            a.approx = false;
            let next = args.get(i + 1);
            if more >= 2 && (next == b"~" || next == b"=") {
                a.approx = next == b"~";
                i += 1;
            }
            a.trim = Some(if maxlen {
                let n = args.int(i + 1)?;
                if n < 0 {
                    return err("ERR The MAXLEN argument must be >= 0.");
                }
                Trim::MaxLen(n as u64)
            } else {
                Trim::MinId(parse_strict_id(args.get(i + 1), 0)?)
            });
            i += 1;
        } else if args.is(i, "limit") && more > 0 {
            let n = args.int(i + 1)?;
            if n < 0 {
                return err("ERR The LIMIT argument must be >= 0.");
            }
            a.limit = n as u64;
            limit_given = true;
            i += 1;
        } else if xadd && args.is(i, "nomkstream") {
            a.nomkstream = true;
        } else if xadd {
            let (id, seq) =
                id::parse(opt, 0, true, true).ok_or_else(|| CmdError::from(super::INVALID_ID))?;
            a.id = Some(match seq {
                Seq::Auto => NewId::Ms(id.ms),
                _ => NewId::Exact(id),
            });
            break;
        } else {
            return err(SYNTAX);
        }
        i += 1;
    }
    a.fields_at = i + 1;
    if a.limit > 0 && a.trim.is_none() {
        return err(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        );
    }
    if !xadd && a.trim.is_none() {
        return err("ERR syntax error, XTRIM must be called with a trimming strategy");
    }
    if limit_given {
        if !a.approx {
            return err("ERR syntax error, LIMIT cannot be used without the special ~ option");
        }
    } else if a.approx {
        // At most 100 nodes of work by default, as Redis bounds it.
        let per_node = ctx
            .srv
            .config
            .enc
            .get(&ctx.srv.config.enc.stream_node_max_entries);
        let l = per_node.saturating_mul(100);
        a.limit = if l <= 0 {
            10_000
        } else {
            l.min(1_000_000) as u64
        };
    } else {
        a.limit = 0;
    }
    Ok(a)
}

/// `XADD key [NOMKSTREAM] [<MAXLEN | MINID> [= | ~] threshold [LIMIT count]] <* | id> field value [field value ...]`
pub fn xadd(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let a = parse_add_trim(ctx, args, true)?;
    let nfields = args.len().saturating_sub(a.fields_at);
    if a.id.is_none() || nfields < 2 || nfields % 2 == 1 {
        return Err(arity_error("xadd"));
    }
    let want = a.id.unwrap_or(NewId::Auto);
    if let NewId::Exact(id) = want {
        if id.is_zero() {
            return err("ERR The ID specified in XADD must be greater than 0-0");
        }
    }
    let pairs: Vec<&[u8]> = args.iter().skip(a.fields_at).collect();
    let lim = node_limits(ctx);
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let s = if a.nomkstream {
        match typed::write_existing(ctx, &mut sh, h, key, pick_mut)? {
            Some(s) => s,
            None => {
                ctx.out.null();
                ctx.propagate_none();
                return Ok(());
            }
        }
    } else {
        typed::write_or_create(ctx, &mut sh, h, key, new_stream, pick_mut)?
    };
    if s.log.last_id == StreamId::MAX {
        return err("ERR The stream has exhausted the last possible ID, unable to add more items");
    }
    let id =
        match s.log.add(want, &pairs, lim, ctx.now_ms) {
            Ok(id) => id,
            Err(AddError::TooSmall) => return err(
                "ERR The ID specified in XADD is equal or smaller than the target stream top item",
            ),
            Err(AddError::TooLarge) => return err("ERR Elements are too large to be stored"),
        };
    if let Some(how) = a.trim {
        s.log.trim(how, a.approx, a.limit);
    }
    // Streams are appended to in place (never created empty by a pop), so
    // every XADD may serve XREAD / XREADGROUP clients blocked on the key.
    crate::server::blocked::signal_ready(ctx.srv, ctx.client.db, key);
    write_id(ctx.out, id);
    if ctx.propagating() {
        // The generated ID, and approximate trimming made exact (Redis 7.0).
        let idt = id.format();
        let trim = a.trim.map(|how| exact_trim(how, a.approx, &s.log));
        let mut argv: Vec<&[u8]> = vec![b"XADD", key];
        if a.nomkstream {
            argv.push(b"NOMKSTREAM");
        }
        if let Some((strategy, thr)) = &trim {
            argv.extend([*strategy, b"=".as_slice(), thr.as_slice()]);
        }
        argv.push(idt.as_bytes());
        argv.extend(pairs.iter().copied());
        ctx.propagate_as(&argv);
    }
    Ok(())
}

/// The exact trim that leaves what `how` left: after an approximate trim,
/// `MAXLEN = <length>` or `MINID = <first ID>` (`MAXLEN = 0` when empty).
fn exact_trim(
    how: Trim,
    approx: bool,
    log: &crate::db::types::stream::Log,
) -> (&'static [u8], Vec<u8>) {
    let int = |n: u64| itoa::Buffer::new().format(n).as_bytes().to_vec();
    match (how, approx) {
        (Trim::MaxLen(n), false) => (b"MAXLEN", int(n)),
        (Trim::MinId(id), false) => (b"MINID", id.format().as_bytes().to_vec()),
        (Trim::MinId(_), true) if !log.is_empty() => {
            (b"MINID", log.first_id.format().as_bytes().to_vec())
        }
        _ => (b"MAXLEN", int(log.len() as u64)),
    }
}

/// `XTRIM key <MAXLEN | MINID> [= | ~] threshold [LIMIT count]`
pub fn xtrim(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let a = parse_add_trim(ctx, args, false)?;
    let Some(how) = a.trim else {
        return err(SYNTAX);
    };
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let n = match typed::write_existing(ctx, &mut sh, h, key, pick_mut)? {
        Some(s) => {
            let n = s.log.trim(how, a.approx, a.limit);
            if ctx.propagating() {
                let (strategy, thr) = exact_trim(how, a.approx, &s.log);
                ctx.propagate_as(&[b"XTRIM", key, strategy, b"=", &thr]);
            }
            n
        }
        None => {
            ctx.propagate_none();
            0
        }
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// `XDEL key id [id ...]`
pub fn xdel(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(s) = typed::write_existing(ctx, &mut sh, h, key, pick_mut)? else {
        ctx.out.int(0);
        return Ok(());
    };
    // Parse every ID first: an invalid one must not leave the command half done.
    let ids = args
        .iter()
        .skip(2)
        .map(|a| parse_strict_id(a, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let n = s.log.xdel(&ids);
    ctx.out.int(n as i64);
    Ok(())
}

/// `XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]`
pub fn xsetid(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let id = parse_strict_id(args.get(2), 0)?;
    let mut entries_added: Option<u64> = None;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if args.is(i, "entriesadded") && more > 0 {
            let n = args.int(i + 1)?;
            if n < 0 {
                return err("ERR entries_added must be positive");
            }
            entries_added = Some(n as u64);
        } else if args.is(i, "maxdeletedid") && more > 0 {
            max_deleted = parse_strict_id(args.get(i + 1), 0)?;
            if id < max_deleted {
                return err(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                );
            }
        } else {
            return err(SYNTAX);
        }
        i += 2;
    }
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(s) = typed::write_existing(ctx, &mut sh, h, key, pick_mut)? else {
        return err(crate::cmd::NO_SUCH_KEY);
    };
    // Redis 7.0 does not compare with the current max_deleted_entry_id.
    let log = &mut s.log;
    if !log.is_empty() {
        if id < log.last_valid_id() {
            return err(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            );
        }
        if entries_added.is_some_and(|n| (log.len() as u64) > n) {
            return err(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            );
        }
    }
    log.last_id = id;
    if let Some(n) = entries_added {
        log.entries_added = n;
    }
    if !max_deleted.is_zero() {
        log.max_deleted = max_deleted;
    }
    ctx.out.ok();
    Ok(())
}
