//! Diagnostics: `SLOWLOG`, `LATENCY` and `MEMORY`.

use std::fmt::Write as _;

use super::super::{err, Args, CmdResult, Ctx, SYNTAX};
use super::info::{human_bytes, MemoryFigures};

/// `SLOWLOG GET [count] | LEN | RESET | HELP`
pub fn slowlog(ctx: &mut Ctx, args: &Args) -> CmdResult {
    match super::subcommand(args, "slowlog", super::SLOWLOG_SUBS)? {
        "get" => {
            if args.len() > 3 {
                return err(
                    "ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.",
                );
            }
            let count = if args.len() == 3 {
                match crate::util::parse_i64_strict(args.get(2)) {
                    Some(n) if n >= -1 => n,
                    _ => return err("ERR count should be greater than or equal to -1"),
                }
            } else {
                10
            };
            let log = ctx.srv.stats.slowlog.lock();
            let n = if count == -1 {
                log.len()
            } else {
                log.len().min(count as usize)
            };
            let out = &mut *ctx.out;
            out.array(n);
            for e in log.iter().take(n) {
                out.array(6);
                out.int(e.id as i64);
                out.int(e.unix_time);
                out.int(e.usec as i64);
                out.array(e.args.len());
                for a in &e.args {
                    out.bulk(a);
                }
                out.bulk(e.addr.as_bytes());
                out.bulk(e.name.as_bytes());
            }
        }
        "len" => {
            let n = ctx.srv.stats.slowlog.lock().len();
            ctx.out.int(n as i64);
        }
        "reset" => {
            ctx.srv.stats.slowlog.lock().clear();
            ctx.out.ok();
        }
        _ => super::help(
            ctx,
            "slowlog",
            &[
                "GET [<count>]",
                "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                "    Entries are made of:",
                "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                "    client name",
                "LEN",
                "    Return the length of the slowlog.",
                "RESET",
                "    Reset the slowlog.",
            ],
        ),
    }
    Ok(())
}

/// `LATENCY LATEST | HISTORY event | RESET [event ...] | DOCTOR | HELP`
pub fn latency(ctx: &mut Ctx, args: &Args) -> CmdResult {
    match super::subcommand(args, "latency", super::LATENCY_SUBS)? {
        "latest" => {
            let events = ctx.srv.stats.latency_events.lock();
            let out = &mut *ctx.out;
            let live: Vec<_> = events.iter().filter(|(_, h)| !h.is_empty()).collect();
            out.array(live.len());
            for (name, hist) in live {
                let (at, latest) = hist.last().copied().unwrap_or((0, 0));
                let max = hist.iter().map(|s| s.1).max().unwrap_or(0);
                out.array(4);
                out.bulk(name.as_bytes());
                out.int(at);
                out.int(latest as i64);
                out.int(max as i64);
            }
        }
        "history" => {
            let event = args.str_lossy(2);
            let events = ctx.srv.stats.latency_events.lock();
            let hist = events.get(event.as_ref()).map_or(&[][..], |h| h.as_slice());
            ctx.out.array(hist.len());
            for (at, ms) in hist {
                ctx.out.array(2);
                ctx.out.int(*at);
                ctx.out.int(*ms as i64);
            }
        }
        "reset" => {
            let mut events = ctx.srv.stats.latency_events.lock();
            let n = if args.len() == 2 {
                let n = events.len();
                events.clear();
                n
            } else {
                args.iter()
                    .skip(2)
                    .filter(|e| events.remove(String::from_utf8_lossy(e).as_ref()).is_some())
                    .count()
            };
            ctx.out.int(n as i64);
        }
        "doctor" => {
            let report = latency_doctor(ctx);
            ctx.out.verbatim(&report);
        }
        "graph" => {
            let event = args.str_lossy(2).into_owned();
            let events = ctx.srv.stats.latency_events.lock();
            let Some(hist) = events.get(&event).filter(|h| !h.is_empty()) else {
                return err(format!("ERR No samples available for event '{event}'"));
            };
            let graph = super::latency_graph::render(&event, hist, crate::util::now_ms() / 1000);
            drop(events);
            ctx.out.verbatim(&graph);
        }
        "histogram" => latency_histogram(ctx, args),
        _ => super::help(
            ctx,
            "latency",
            &[
                "DOCTOR",
                "    Return a human readable latency analysis report.",
                "GRAPH <event>",
                "    Return an ASCII latency graph for the <event> class.",
                "HISTORY <event>",
                "    Return time-latency samples for the <event> class.",
                "LATEST",
                "    Return the latest latency samples for all events.",
                "HISTOGRAM [<command> ...]",
                "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
                "    If no commands are specified then all histograms are replied.",
                "RESET [<event> ...]",
                "    Reset latency data of one or more <event> classes.",
                "    (default: reset all data for all event classes)",
            ],
        ),
    }
    Ok(())
}

/// `LATENCY HISTOGRAM [command ...]`: for each command called at least once
/// (all of them without arguments; unknown names are skipped, as in Redis), its
/// calls and the cumulative count at each log-2 microsecond step that adds
/// calls, as Redis's `fillCommandCDF` prints them.
fn latency_histogram(ctx: &mut Ctx, args: &Args) {
    let commands = &ctx.srv.commands;
    let picked: Vec<usize> = if args.len() == 2 {
        (0..commands.len()).collect()
    } else {
        let mut v = Vec::new();
        for name in args.iter().skip(2) {
            if let Some(i) = commands.lookup(name).filter(|i| !v.contains(i)) {
                v.push(i);
            }
        }
        v
    };
    let rows: Vec<(usize, [u64; crate::stats::CMD_HIST_BUCKETS])> = picked
        .into_iter()
        .map(|i| (i, ctx.srv.stats.command_histogram(i)))
        .filter(|(_, h)| h.iter().any(|&n| n > 0))
        .collect();
    let out = &mut *ctx.out;
    out.map(rows.len());
    for (i, hist) in rows {
        out.bulk(commands.specs[i].name.as_bytes());
        out.map(2);
        out.bulk(b"calls");
        out.int(hist.iter().sum::<u64>() as i64);
        out.bulk(b"histogram_usec");
        let steps = hist.iter().filter(|&&n| n > 0).count();
        out.map(steps);
        let mut cumulative = 0;
        for (k, n) in hist.iter().enumerate().filter(|(_, &n)| n > 0) {
            cumulative += n;
            out.int(((1024u64 << k) / 1000) as i64);
            out.int(cumulative as i64);
        }
    }
}

/// A short version of Redis's latency doctor report, in its words.
fn latency_doctor(ctx: &Ctx) -> String {
    let threshold = ctx.srv.config.get_i64("latency-monitor-threshold");
    let events = ctx.srv.stats.latency_events.lock();
    if events.is_empty() && threshold == 0 {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".into();
    }
    if events.is_empty() {
        return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep better.\n".into();
    }
    let mut r = String::from("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
    for (i, (name, hist)) in events.iter().enumerate() {
        let n = hist.len().max(1) as u64;
        let avg = hist.iter().map(|s| s.1).sum::<u64>() / n;
        let max = hist.iter().map(|s| s.1).max().unwrap_or(0);
        let _ = writeln!(
            r,
            "{}. {name}: {} latency spikes (average {avg}ms). Worst all time event {max}ms.",
            i + 1,
            hist.len()
        );
    }
    r.push_str("\nI have a few advices for you:\n\n- Check your system for slow commands with SLOWLOG GET, and avoid O(N) commands on large values (KEYS, SMEMBERS, HGETALL, ...).\n");
    r
}

/// `MEMORY USAGE key [SAMPLES count] | STATS | DOCTOR | HELP`
pub fn memory(ctx: &mut Ctx, args: &Args) -> CmdResult {
    match super::subcommand(args, "memory", super::MEMORY_SUBS)? {
        "usage" => usage(ctx, args)?,
        "stats" => stats(ctx),
        "doctor" => {
            let report = memory_doctor(ctx);
            ctx.out.verbatim(&report);
        }
        // Redis's answers for an allocator other than jemalloc.
        "malloc-stats" => ctx
            .out
            .bulk(b"Stats not supported for the current allocator"),
        "purge" => ctx.out.ok(),
        _ => super::help(
            ctx,
            "memory",
            &[
                "DOCTOR",
                "    Return memory problems reports.",
                "MALLOC-STATS",
                "    Return internal statistics report from the memory allocator.",
                "PURGE",
                "    Attempt to purge dirty pages for reclamation by the allocator.",
                "STATS",
                "    Return information about the memory usage of the server.",
                "USAGE <key> [SAMPLES <count>]",
                "    Return memory in bytes used by <key> and its value. Nested values are",
                "    sampled up to <count> times (default: 5, 0 means sample all).",
            ],
        ),
    }
    Ok(())
}

/// `MEMORY USAGE key [SAMPLES count]`: the entry's own allocation(s) plus its
/// share of the stripe's index. SAMPLES is validated and otherwise unused:
/// kcache's values are measured exactly.
fn usage(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut i = 3;
    while i < args.len() {
        if args.is(i, "samples") && i + 1 < args.len() {
            if args.int(i + 1)? < 0 {
                return err(SYNTAX);
            }
            i += 2;
        } else {
            return err(SYNTAX);
        }
    }
    let key = args.get(2);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(slot) = ctx.ks().live(&mut sh, h, key, ctx.now_ms) else {
        drop(sh);
        ctx.out.null();
        return Ok(());
    };
    let own = sh.view(slot).memory_usage();
    let index_share = sh.index_bytes() / sh.len().max(1);
    drop(sh);
    ctx.out.int((own + index_share) as i64);
    Ok(())
}

/// `MEMORY STATS`: the subset of Redis's fields kcache can measure.
fn stats(ctx: &mut Ctx) {
    let m = MemoryFigures::collect(ctx.srv);
    let ks = ctx.ks();
    let dbs: Vec<(usize, usize)> = (0..ks.db_count())
        .filter(|&i| !ks.db(i).is_empty())
        .map(|i| (i, ks.db(i).index_bytes()))
        .collect();
    let out = &mut *ctx.out;
    out.map(18 + dbs.len());
    let int = |out: &mut crate::protocol::Out, k: &str, v: u64| {
        out.bulk(k.as_bytes());
        out.int(v as i64);
    };
    int(out, "peak.allocated", m.peak);
    int(out, "total.allocated", m.used);
    int(out, "startup.allocated", m.startup);
    int(out, "replication.backlog", 0);
    int(out, "clients.slaves", 0);
    int(out, "clients.normal", m.clients);
    int(out, "cluster.links", 0);
    int(out, "aof.buffer", 0);
    int(out, "lua.caches", 0);
    int(out, "functions.caches", 0);
    for (i, index) in dbs {
        out.bulk(format!("db.{i}").as_bytes());
        out.map(2);
        int(out, "overhead.hashtable.main", index as u64);
        int(out, "overhead.hashtable.expires", 0);
    }
    int(out, "overhead.total", m.overhead);
    int(out, "keys.count", m.keys);
    int(
        out,
        "keys.bytes-per-key",
        m.used.saturating_sub(m.startup) / m.keys.max(1),
    );
    int(out, "dataset.bytes", m.dataset());
    out.bulk(b"dataset.percentage");
    out.double(m.dataset_perc());
    out.bulk(b"peak.percentage");
    out.double(m.peak_perc());
    out.bulk(b"fragmentation");
    out.double(m.fragmentation());
    int(out, "fragmentation.bytes", m.rss.saturating_sub(m.used));
}

/// Redis's memory doctor, for the conditions kcache can observe.
fn memory_doctor(ctx: &Ctx) -> String {
    let m = MemoryFigures::collect(ctx.srv);
    if m.used < 5 * 1024 * 1024 {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".into();
    }
    let mut issues = Vec::new();
    if m.peak_perc() < 50.0 {
        issues.push(format!(
            " * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n (peak {}, now {})\n",
            human_bytes(m.peak),
            human_bytes(m.used)
        ));
    }
    if m.fragmentation() > 1.4 {
        issues.push(format!(
            " * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"mimalloc\".\n (ratio {:.2})\n",
            m.fragmentation()
        ));
    }
    if issues.is_empty() {
        return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".into();
    }
    let mut r =
        String::from("Sam, I detected a few issues in this Redis instance memory implants:\n\n");
    for i in issues {
        r.push_str(&i);
        r.push('\n');
    }
    r.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
    r
}
