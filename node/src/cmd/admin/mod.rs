//! Server administration commands (Redis's "server" group): INFO CONFIG COMMAND
//! TIME DBSIZE SHUTDOWN MONITOR DEBUG SLOWLOG LATENCY MEMORY REPLICAOF SLAVEOF
//! ROLE, MODULE, LOLWUT, and kcache's TOPOLOGY.
//!
//! One file per container command: [`info`] renders INFO (also used by the HTTP
//! endpoint's callers and tests), [`config`] is CONFIG, [`command`] is COMMAND and
//! the derived ACL categories and key specs, [`diag`] holds SLOWLOG, LATENCY and
//! MEMORY, [`topology`] the operator's epoch-stamped TOPOLOGY. Containers
//! dispatch their subcommands through [`subcommand`], which checks names and
//! arities against the same [`SubSpec`] tables that feed COMMAND INFO, so the
//! two never disagree.

pub mod command;
pub mod config;
pub mod debug;
pub mod diag;
pub mod info;
mod latency_graph;
pub mod lolwut;
pub mod module;
pub mod replication;
pub mod topology;

use super::flags::*;
use super::{arity_error, arity_ok, err, unknown_subcommand, Args, CmdResult, CommandSpec, Ctx};
use super::{CmdError, SubSpec};

use super::keyless as cmd;

const GROUP: &str = "server";

macro_rules! sub {
    ($name:expr, $arity:expr, $flags:expr, $summary:expr) => {
        SubSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            summary: $summary,
        }
    };
}

const ADMIN_SUB: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
const HELP_SUB: u32 = LOADING | STALE;

const CONFIG_SUBS: &[SubSpec] = &[
    sub!(
        "get",
        -3,
        ADMIN_SUB,
        "Returns the effective values of configuration parameters."
    ),
    sub!(
        "set",
        -4,
        ADMIN_SUB,
        "Sets configuration parameters in-flight."
    ),
    sub!("resetstat", 2, ADMIN_SUB, "Resets the server's statistics."),
    sub!(
        "rewrite",
        2,
        ADMIN_SUB,
        "Persists the effective configuration to file."
    ),
    sub!(
        "help",
        2,
        HELP_SUB,
        "Returns helpful text about the different subcommands."
    ),
];

const COMMAND_SUBS: &[SubSpec] = &[
    sub!("count", 2, HELP_SUB, "Returns a count of commands."),
    sub!(
        "docs",
        -2,
        HELP_SUB,
        "Returns documentary information about one, multiple or all commands."
    ),
    sub!(
        "getkeys",
        -4,
        HELP_SUB,
        "Extracts the key names from an arbitrary command."
    ),
    sub!(
        "info",
        -2,
        HELP_SUB,
        "Returns information about one, multiple or all commands."
    ),
    sub!("list", -2, HELP_SUB, "Returns a list of command names."),
    sub!(
        "getkeysandflags",
        -4,
        HELP_SUB,
        "Extract keys and access flags given a full Redis command"
    ),
    sub!(
        "help",
        2,
        HELP_SUB,
        "Returns helpful text about the different subcommands."
    ),
];

const SLOWLOG_SUBS: &[SubSpec] = &[
    sub!(
        "get",
        -2,
        ADMIN | LOADING | STALE,
        "Returns the slow log's entries."
    ),
    sub!(
        "len",
        2,
        ADMIN | LOADING | STALE,
        "Returns the number of entries in the slow log."
    ),
    sub!(
        "reset",
        2,
        ADMIN | LOADING | STALE,
        "Clears all entries from the slow log."
    ),
    sub!(
        "help",
        2,
        HELP_SUB,
        "Show helpful text about the different subcommands"
    ),
];

const LATENCY_SUBS: &[SubSpec] = &[
    sub!(
        "latest",
        2,
        ADMIN_SUB,
        "Returns the latest latency samples for all events."
    ),
    sub!(
        "history",
        3,
        ADMIN_SUB,
        "Returns timestamp-latency samples for an event."
    ),
    sub!(
        "reset",
        -2,
        ADMIN_SUB,
        "Resets the latency data for one or more events."
    ),
    sub!(
        "doctor",
        2,
        ADMIN_SUB,
        "Returns a human-readable latency analysis report."
    ),
    sub!(
        "graph",
        3,
        ADMIN_SUB,
        "Return a latency graph for the event."
    ),
    sub!(
        "histogram",
        -2,
        ADMIN_SUB,
        "Return the cumulative distribution of latencies of a subset of commands or all."
    ),
    sub!(
        "help",
        2,
        HELP_SUB,
        "Returns helpful text about the different subcommands."
    ),
];

const MEMORY_SUBS: &[SubSpec] = &[
    sub!(
        "usage",
        -3,
        READONLY,
        "Estimates the memory usage of a key."
    ),
    sub!("stats", 2, 0, "Returns details about memory usage."),
    sub!("malloc-stats", 2, 0, "Returns the allocator statistics."),
    sub!("purge", 2, 0, "Asks the allocator to release memory."),
    sub!("doctor", 2, 0, "Outputs a memory problems report."),
    sub!(
        "help",
        2,
        HELP_SUB,
        "Returns helpful text about the different subcommands."
    ),
];

/// LOAD, LOADEX and UNLOAD are Redis's protected commands
/// (`enable-module-command`); LIST is not.
const MODULE_SUBS: &[SubSpec] = &[
    sub!(
        "list",
        2,
        ADMIN | NOSCRIPT,
        "List all modules loaded by the server"
    ),
    sub!("load", -3, ADMIN | NOSCRIPT, "Load a module"),
    sub!(
        "loadex",
        -3,
        ADMIN | NOSCRIPT,
        "Load a module with extended parameters"
    ),
    sub!("unload", 3, ADMIN | NOSCRIPT, "Unload a module"),
    sub!(
        "help",
        2,
        HELP_SUB,
        "Show helpful text about the different subcommands"
    ),
];

const TOPOLOGY_SUBS: &[SubSpec] = &[
    sub!(
        "role",
        -4,
        ADMIN_SUB,
        "Sets the node's role (primary, or replica of a host and port) under a topology epoch."
    ),
    sub!(
        "fence",
        3,
        ADMIN_SUB,
        "Stores a topology epoch: commands stamped with an older one are refused."
    ),
    sub!("epoch", 2, ADMIN_SUB, "Returns the topology epoch held."),
    sub!(
        "map",
        -3,
        ADMIN_SUB,
        "Sets the whole cluster map (nodes, roles, slots) under a topology epoch (cluster mode)."
    ),
    sub!(
        "help",
        2,
        HELP_SUB,
        "Returns helpful text about the different subcommands."
    ),
];

pub static COMMANDS: &[CommandSpec] = &[
    // NO_MULTI (Redis allows them in MULTI): EXEC holds the stripe locks of
    // its commands, and a role change waits for the link thread, which may
    // wait for one of those stripes.
    cmd!(
        "replicaof",
        3,
        ADMIN | NOSCRIPT | STALE | NO_MULTI,
        replication::replicaof,
        "5.0.0",
        "Configures a server as replica of another, or promotes it to a master."
    ),
    cmd!(
        "slaveof",
        3,
        ADMIN | NOSCRIPT | STALE | NO_MULTI,
        replication::replicaof,
        "1.0.0",
        "Sets a Redis server as a replica of another, or promotes it to being a master."
    ),
    // kcache extension ("since" is kcache's version). NO_MULTI for
    // REPLICAOF's reason.
    cmd!(
            "topology",
            -2,
            ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI,
            topology::topology,
            "0.1.0",
            "A container for the operator's epoch-stamped topology commands (kcache)."
        )
    .with_subcommands(TOPOLOGY_SUBS),
    cmd!(
        "replconf",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY,
        replication::replconf,
        "3.0.0",
        "An internal command for configuring the replication stream."
    ),
    cmd!(
        "psync",
        -3,
        ADMIN | NOSCRIPT | NO_MULTI,
        replication::psync,
        "2.8.0",
        "An internal command used in replication."
    ),
    cmd!(
        "sync",
        1,
        ADMIN | NOSCRIPT | NO_MULTI,
        replication::sync,
        "1.0.0",
        "An internal command used in replication."
    ),
    cmd!(
        "failover",
        -1,
        ADMIN | NOSCRIPT | STALE,
        replication::failover,
        "6.2.0",
        "Starts a coordinated failover from a server to one of its replicas."
    ),
    cmd!(
        "wait",
        3,
        NOSCRIPT,
        replication::wait,
        "3.0.0",
        "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed."
    ),
    cmd!(
        "role",
        1,
        NOSCRIPT | LOADING | STALE | FAST,
        replication::role,
        "2.8.12",
        "Returns the replication role."
    ),
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
    cmd!(
        "info",
        -1,
        LOADING | STALE,
        info::info,
        "1.0.0",
        "Returns information and statistics about the server."
    ),
    cmd!(
        "time",
        1,
        LOADING | STALE | FAST,
        time,
        "2.6.0",
        "Returns the server time."
    ),
    cmd!(
        "debug",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        debug::debug,
        "1.0.0",
        "A container for debugging commands."
    ),
    cmd!(
        "monitor",
        1,
        ADMIN | NOSCRIPT | LOADING | STALE,
        monitor,
        "1.0.0",
        "Listens for all requests received by the server in real-time."
    ),
    // Containers carry the flags the request path needs (ADMIN keeps CONFIG SET
    // requirepass out of MONITOR); COMMAND INFO prints a container's flags empty,
    // as Redis does, and each subcommand's own flags.
    cmd!(
            "config",
            -2,
            ADMIN | NOSCRIPT | LOADING | STALE,
            config::config,
            "2.0.0",
            "A container for server configuration commands."
        )
    .with_subcommands(CONFIG_SUBS),
    cmd!(
            "command",
            -1,
            LOADING | STALE,
            command::command,
            "2.8.13",
            "Returns detailed information about all commands."
        )
    .with_subcommands(COMMAND_SUBS),
    cmd!(
            "slowlog",
            -2,
            ADMIN | LOADING | STALE,
            diag::slowlog,
            "2.2.12",
            "A container for slow log commands."
        )
    .with_subcommands(SLOWLOG_SUBS),
    cmd!(
            "latency",
            -2,
            ADMIN | NOSCRIPT | LOADING | STALE,
            diag::latency,
            "2.8.13",
            "A container for latency diagnostics commands."
        )
    .with_subcommands(LATENCY_SUBS),
    cmd!(
            "memory",
            -2,
            0,
            diag::memory,
            "4.0.0",
            "A container for memory diagnostics commands."
        )
    .with_subcommands(MEMORY_SUBS),
    cmd!(
            "module",
            -2,
            ADMIN | NOSCRIPT,
            module::module,
            "4.0.0",
            "A container for module commands"
        )
    .with_subcommands(MODULE_SUBS),
    cmd!(
        "lolwut",
        -1,
        READONLY | FAST,
        lolwut::lolwut,
        "5.0.0",
        "Display some computer art and the Redis version"
    ),
];

/// Finds the subcommand named by argument 1 of a container and checks its arity;
/// returns its lower-case name. Errors are Redis's: unknown subcommand first, then
/// `wrong number of arguments for 'container|sub'`.
pub fn subcommand(
    args: &Args,
    container: &str,
    subs: &'static [SubSpec],
) -> Result<&'static str, CmdError> {
    let name = args.get(1);
    let Some(sub) = subs
        .iter()
        .find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
    else {
        return Err(unknown_subcommand(name, container));
    };
    if !arity_ok(sub.arity, args.len()) {
        return Err(arity_error(&format!("{container}|{}", sub.name)));
    }
    Ok(sub.name)
}

/// Replies with a HELP text: one simple string per line, as Redis's addReplyHelp.
pub fn help(ctx: &mut Ctx, container: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        container.to_ascii_uppercase()
    ));
    for l in lines {
        ctx.out.simple(l);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Prints this help.");
}

/// `DBSIZE`
fn dbsize(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let n = ctx.db().len();
    ctx.out.int(n as i64);
    Ok(())
}

/// `TIME`
fn time(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let us = crate::util::now_us();
    ctx.out.array(2);
    ctx.out.bulk_int(us / 1_000_000);
    ctx.out.bulk_int(us % 1_000_000);
    Ok(())
}

/// `MONITOR`
fn monitor(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    // Redis ignores MONITOR from a client that already is one (no second reply).
    if ctx.client.monitor {
        return Ok(());
    }
    crate::server::exec::add_monitor(ctx.srv, ctx.client);
    ctx.out.ok();
    Ok(())
}

/// `SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]`
///
/// A primary with replicas first holds writes and waits until every replica
/// acknowledged its offset, or `shutdown-timeout` seconds (`NOW`: no wait);
/// meanwhile this client blocks and `SHUTDOWN ABORT` (`+OK`) cancels, which
/// answers the waiting clients `-ERR Errors trying to SHUTDOWN. Check logs.`
/// (see `server::shutdown`). Then it saves with SAVE, or when `save` rules
/// are configured and NOSAVE is not given (as Redis does); a failed save
/// refuses to shut down with that same error unless FORCE. On success there
/// is no reply: the connection closes and the process exits 0. ABORT with
/// no shutdown waiting: `-ERR No shutdown in progress.`.
fn shutdown(ctx: &mut Ctx, args: &Args) -> CmdResult {
    use crate::server::shutdown::{self as stop, Flags, Origin, Started};
    let mut flags = Flags::default();
    let mut abort = false;
    for i in 1..args.len() {
        if args.is(i, "nosave") {
            flags.nosave = true;
        } else if args.is(i, "save") {
            flags.save = true;
        } else if args.is(i, "now") {
            flags.now = true;
        } else if args.is(i, "force") {
            flags.force = true;
        } else if args.is(i, "abort") {
            abort = true;
        } else {
            return err(super::SYNTAX);
        }
    }
    if (abort && flags != Flags::default()) || (flags.save && flags.nosave) {
        return err(super::SYNTAX);
    }
    if abort {
        if !stop::abort(ctx.srv) {
            return err("ERR No shutdown in progress.");
        }
        ctx.out.ok();
        return Ok(());
    }
    tracing::info!(client = ctx.client.id, "SHUTDOWN requested by a client");
    let waiter = std::sync::Arc::new(crate::server::blocked::Waiter::new(
        ctx.client.shared.clone(),
        ctx.client.resp3,
        ctx.client.db,
        ctx.cmd,
        crate::server::blocked::BlockOp::Shutdown,
        None,
    ));
    if stop::request(ctx.srv, flags, Origin::Command, Some(waiter.clone())) == Started::Waiting {
        waiter.shared.set_blocked(true);
        ctx.client.blocked = Some(waiter);
        return Ok(());
    }
    use crate::persist::save as persist;
    if flags.save || (!flags.nosave && !persist::save_points(ctx.srv).is_empty()) {
        if let Err(e) = persist::save_for_shutdown(ctx.srv) {
            tracing::error!(error = %e, "SHUTDOWN could not save the DB");
            if !flags.force {
                return err(stop::ERRORS);
            }
        }
    }
    ctx.srv
        .persist
        .shutdown_decided
        .store(true, std::sync::atomic::Ordering::Release);
    ctx.client.close_after_reply = true;
    ctx.srv.shutdown();
    Ok(())
}
