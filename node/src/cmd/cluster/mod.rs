//! Cluster commands: CLUSTER (its slot arithmetic here, its views of the map
//! in [`view`]), READONLY and READWRITE. The map itself is pushed with
//! `TOPOLOGY MAP` (`cmd::admin::topology`) and kept by `crate::cluster`;
//! redirects are decided before dispatch (`server::exec::route`).

pub mod view;

use super::flags::*;
use super::{err, Args, CmdResult, CommandSpec, Ctx, SubSpec, NOT_INTEGER};
use crate::util::slot::{key_slot, SLOTS};

use super::keyless as cmd;

const GROUP: &str = "cluster";

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

const CLUSTER_SUBS: &[SubSpec] = &[
    sub!(
        "countkeysinslot",
        3,
        STALE,
        "Returns the number of keys in a hash slot."
    ),
    sub!(
        "getkeysinslot",
        4,
        STALE,
        "Returns the key names in a hash slot."
    ),
    sub!(
        "help",
        2,
        LOADING | STALE,
        "Returns helpful text about the different subcommands."
    ),
    sub!(
        "info",
        2,
        STALE,
        "Returns information about the state of a node."
    ),
    sub!("keyslot", 3, STALE, "Returns the hash slot for a key."),
    sub!("myid", 2, STALE, "Returns the ID of a node."),
    sub!(
        "nodes",
        2,
        STALE,
        "Returns the cluster configuration for a node."
    ),
    sub!(
        "replicas",
        3,
        ADMIN | STALE,
        "Lists the replica nodes of a master node."
    ),
    sub!(
        "shards",
        2,
        LOADING | STALE,
        "Returns the mapping of cluster slots to shards."
    ),
    sub!(
        "slaves",
        3,
        ADMIN | STALE,
        "Lists the replica nodes of a master node."
    ),
    sub!(
        "slots",
        2,
        LOADING | STALE,
        "Returns the mapping of cluster slots to nodes."
    ),
];

pub static COMMANDS: &[CommandSpec] = &[
    cmd!(
        "cluster",
        -2,
        0,
        cluster,
        "3.0.0",
        "A container for Redis Cluster commands."
    )
    .with_subcommands(CLUSTER_SUBS),
    cmd!(
        "readonly",
        1,
        LOADING | STALE | FAST,
        readonly,
        "3.0.0",
        "Enables read-only queries for a connection to a Redis Cluster replica node."
    ),
    cmd!(
        "readwrite",
        1,
        LOADING | STALE | FAST,
        readwrite,
        "3.0.0",
        "Enables read-write queries for a connection to a Reids Cluster replica node."
    ),
];

/// Redis's reply to CLUSTER, READONLY and READWRITE in standalone mode.
const DISABLED: &str = "ERR This instance has cluster support disabled";

/// `CLUSTER <subcommand> [<arg> ...]`
fn cluster(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if !ctx.srv.cluster.enabled() {
        return err(DISABLED);
    }
    match super::admin::subcommand(args, "cluster", CLUSTER_SUBS)? {
        "keyslot" => {
            ctx.out.int(key_slot(args.get(2)) as i64);
            Ok(())
        }
        "countkeysinslot" => {
            let slot = args.int(2)?;
            if !(0..SLOTS as i64).contains(&slot) {
                return err("ERR Invalid slot");
            }
            let n = ctx.ks().count_keys_in_slot(slot as u16);
            ctx.out.int(n as i64);
            Ok(())
        }
        "getkeysinslot" => getkeysinslot(ctx, args),
        "myid" => {
            let id = ctx.srv.cluster.myid();
            ctx.out.bulk(id.as_bytes());
            Ok(())
        }
        "info" => view::info(ctx),
        "nodes" => view::nodes(ctx),
        "slots" => view::slots(ctx),
        "shards" => view::shards(ctx),
        "replicas" | "slaves" => view::replicas(ctx, args),
        _ => {
            super::admin::help(
                ctx,
                "cluster",
                &[
                    "COUNTKEYSINSLOT <slot>",
                    "    Return the number of keys in <slot>.",
                    "GETKEYSINSLOT <slot> <count>",
                    "    Return key names stored by current node in a slot.",
                    "INFO",
                    "    Return information about the cluster.",
                    "KEYSLOT <key>",
                    "    Return the hash slot for <key>.",
                    "MYID",
                    "    Return the node id.",
                    "NODES",
                    "    Return cluster configuration seen by node. Output format:",
                    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
                    "REPLICAS <node-id>",
                    "    Return <node-id> replicas.",
                    "SLOTS",
                    "    Return information about slots range mappings. Each range is made of:",
                    "    start, end, master and replicas IP addresses, ports and ids",
                    "SHARDS",
                    "    Return information about slot range mappings and the nodes associated with them.",
                    "The map itself is set by the operator with TOPOLOGY MAP (see TOPOLOGY HELP).",
                ],
            );
            Ok(())
        }
    }
}

/// `CLUSTER GETKEYSINSLOT slot count`: walks the one stripe holding the slot
/// (`db::slots`), so its time is bounded by that stripe's size whatever
/// `count` says, and its reply by the slot's key count.
fn getkeysinslot(ctx: &mut Ctx, args: &Args) -> CmdResult {
    // Redis parses the count first.
    let max = args.int(3).map_err(|_| NOT_INTEGER)?;
    let slot = args.int(2)?;
    if max < 0 || !(0..SLOTS as i64).contains(&slot) {
        return err("ERR Invalid slot or number of keys");
    }
    let keys = ctx
        .ks()
        .keys_in_slot(slot as u16, usize::try_from(max).unwrap_or(usize::MAX));
    ctx.out.array(keys.len());
    for k in &keys {
        ctx.out.bulk(k);
    }
    Ok(())
}

/// `READONLY`: a replica serves this connection's reads of its primary's
/// slots instead of redirecting them.
fn readonly(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    if !ctx.srv.cluster.enabled() {
        return err(DISABLED);
    }
    ctx.client.readonly = true;
    ctx.out.ok();
    Ok(())
}

/// `READWRITE`
fn readwrite(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    if !ctx.srv.cluster.enabled() {
        return err(DISABLED);
    }
    ctx.client.readonly = false;
    ctx.out.ok();
    Ok(())
}
