//! Commands over the RDB format: SAVE BGSAVE LASTSAVE (snapshots to
//! `dir/dbfilename`, see `persist::save`) and DUMP RESTORE (one value in
//! Redis's DUMP payload format, the RDB value codec plus a version and a
//! CRC-64).

use std::sync::atomic::Ordering;

use super::flags::*;
use super::{err, Args, CmdResult, CommandSpec, Ctx, NOT_INTEGER, SYNTAX};
use crate::db::types::Object;
use crate::persist::rdb::{read, write, Limits, Value};
use crate::persist::save::{self, SaveError};

macro_rules! cmd {
    ($name:expr, $arity:expr, $flags:expr, $keys:expr, $h:expr, $group:expr, $since:expr, $summary:expr) => {
        CommandSpec::new($name, $arity, $flags, $keys, $h, $group, $since, $summary)
    };
}

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("save", 1, ADMIN | NOSCRIPT | NO_MULTI, (0, 0, 0), save_cmd, "server", "1.0.0",
        "Synchronously saves the database(s) to disk."),
    cmd!("bgsave", -1, ADMIN | NOSCRIPT, (0, 0, 0), bgsave, "server", "1.0.0",
        "Asynchronously saves the database(s) to disk."),
    cmd!("lastsave", 1, LOADING | STALE | FAST, (0, 0, 0), lastsave, "server", "1.0.0",
        "Returns the Unix timestamp of the last successful save to disk."),
    cmd!("dump", 2, READONLY, (1, 1, 1), dump, "generic", "2.6.0",
        "Returns a serialized representation of the value stored at a key."),
    cmd!("restore", -4, WRITE | DENYOOM, (1, 1, 1), restore, "generic", "2.6.0",
        "Creates a key from the serialized representation of a value."),
];

const BUSY: &str = "ERR Background save already in progress";
/// Redis 7.0's reply to BGSAVE while its AOF rewrite child runs.
const REWRITE_BUSY: &str = "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.";

/// `SAVE`
///
/// Takes a snapshot on this client's thread and replies `+OK` once the file
/// is renamed into place; `-ERR` when the save failed (the log says why),
/// "ERR Background save already in progress" while another save runs.
fn save_cmd(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    match save::save(ctx.srv) {
        Ok(_) => {
            ctx.out.ok();
            Ok(())
        }
        Err(SaveError::Busy) => err(BUSY),
        Err(_) => err("ERR"),
    }
}

/// `BGSAVE [SCHEDULE]`
///
/// Starts a snapshot on a background thread: "Background saving started".
/// While one runs: "ERR Background save already in progress"; while an AOF
/// rewrite runs: "ERR Another child process is active (AOF?): can't BGSAVE
/// right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever
/// possible."; with SCHEDULE in either case "Background saving scheduled"
/// (the cron starts it afterwards).
fn bgsave(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let schedule = match args.len() {
        1 => false,
        2 if args.is(1, "schedule") => true,
        _ => return err(SYNTAX),
    };
    let p = &ctx.srv.persist;
    if p.in_progress.load(Ordering::Acquire) {
        if schedule {
            p.scheduled.store(true, Ordering::Relaxed);
            ctx.out.simple("Background saving scheduled");
            return Ok(());
        }
        return err(BUSY);
    }
    let Some(srv) = ctx.srv.me.get().and_then(|w| w.upgrade()) else {
        return err("ERR server is not running");
    };
    match save::bgsave(&srv) {
        Ok(()) => {
            ctx.out.simple("Background saving started");
            Ok(())
        }
        Err(SaveError::Busy | SaveError::RewriteRunning) if schedule => {
            p.scheduled.store(true, Ordering::Relaxed);
            ctx.out.simple("Background saving scheduled");
            Ok(())
        }
        Err(SaveError::Busy) => err(BUSY),
        Err(SaveError::RewriteRunning) => err(REWRITE_BUSY),
        Err(e) => Err(format!("ERR {e}").into()),
    }
}

/// `LASTSAVE`: Unix time of the last successful save (the start time before
/// the first).
fn lastsave(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.out
        .int(ctx.srv.persist.last_save.load(Ordering::Relaxed));
    Ok(())
}

fn write_opts(ctx: &Ctx) -> write::Opts {
    write::Opts {
        compress: ctx.srv.config.get_bool("rdbcompression"),
    }
}

/// `DUMP key`
///
/// The value in Redis's DUMP format (RDB type and value, RDB version 10 as
/// 2 bytes, CRC-64 as 8 bytes, little-endian), or a null bulk reply when the
/// key does not exist.
fn dump(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let opts = write_opts(ctx);
    let mut sh = ctx.db().lock(h);
    match ctx.ks().read(&mut sh, h, key, ctx.now_ms) {
        Some(slot) => {
            let payload = write::dump_payload(sh.value(slot), opts);
            drop(sh);
            ctx.out.bulk(&payload);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// `RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds]
/// [FREQ frequency]`
///
/// Creates `key` from a DUMP payload (also one written by redis-server 7.0).
/// `ttl` is milliseconds from now (0: none), or a Unix time in ms with
/// ABSTTL; a time already past deletes nothing new and replies OK. Errors, in
/// Redis's order: "ERR syntax error", "ERR Invalid IDLETIME value, must be >=
/// 0", "ERR Invalid FREQ value, must be >= 0 and <= 255", "BUSYKEY Target key
/// name already exists.", "ERR value is not an integer or out of range",
/// "ERR Invalid TTL value, must be >= 0", "ERR DUMP payload version or
/// checksum are wrong", "ERR Bad data format". Reply: `+OK`.
fn restore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < args.len() {
        let more = args.len() - j - 1;
        if args.is(j, "replace") {
            replace = true;
        } else if args.is(j, "absttl") {
            absttl = true;
        } else if args.is(j, "idletime") && more >= 1 && freq.is_none() {
            let v = args.int(j + 1)?;
            if v < 0 {
                return err("ERR Invalid IDLETIME value, must be >= 0");
            }
            idle = Some(v);
            j += 1;
        } else if args.is(j, "freq") && more >= 1 && idle.is_none() {
            let v = args.int(j + 1)?;
            if !(0..=255).contains(&v) {
                return err("ERR Invalid FREQ value, must be >= 0 and <= 255");
            }
            freq = Some(v);
            j += 1;
        } else {
            return err(SYNTAX);
        }
        j += 1;
    }
    let key = args.get(1);
    let h = ctx.hash(key);
    let now = ctx.now_ms;
    let lim = Limits::from_config(&ctx.srv.config);
    let mut sh = ctx.db().lock(h);
    let existing = ctx.ks().write(&mut sh, h, key, now);
    if existing.is_some() && !replace {
        return err("BUSYKEY Target key name already exists.");
    }
    let ttl = crate::util::parse_i64_strict(args.get(2)).ok_or(NOT_INTEGER)?;
    if ttl < 0 {
        return err("ERR Invalid TTL value, must be >= 0");
    }
    let value = match read::restore_payload(args.get(3), &lim, now) {
        None => return err("ERR DUMP payload version or checksum are wrong"),
        Some(Err(_)) => return err("ERR Bad data format"),
        Some(Ok(v)) => v,
    };
    if matches!(&value, Value::Obj(o) if o.is_empty() && !matches!(o, Object::Stream(_))) {
        return err("ERR Bad data format");
    }
    if let Some(slot) = existing {
        drop(sh.remove(slot, h));
    }
    let expire = match ttl {
        0 => None,
        t if absttl => Some(t),
        t => Some(t.saturating_add(now)),
    };
    if expire.is_some_and(|at| at <= now) {
        ctx.out.ok();
        return Ok(());
    }
    let access = save::access_word(idle.map(|v| v as u64), freq.map(|v| v as u8), now);
    sh.insert(h, save::entry(key, value, expire, access));
    drop(sh);
    crate::server::blocked::signal_ready(ctx.srv, ctx.client.db, key);
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip_and_damage() {
        let lim = Limits::default();
        let p = write::dump_payload(
            crate::db::entry::ValueRef::Str(b"hello world"),
            write::Opts { compress: true },
        );
        match read::restore_payload(&p, &lim, 0) {
            Some(Ok(Value::Str(s))) => assert_eq!(s, b"hello world"),
            _ => panic!("payload did not round-trip"),
        }
        let mut bad = p.clone();
        bad[1] ^= 0xff;
        assert!(read::restore_payload(&bad, &lim, 0).is_none());
        let mut newer = p.clone();
        let n = newer.len();
        newer[n - 10] = (crate::persist::rdb::RDB_VERSION_MAX + 1) as u8;
        assert!(read::restore_payload(&newer, &lim, 0).is_none());
    }
}
