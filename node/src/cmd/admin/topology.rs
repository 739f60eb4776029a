//! TOPOLOGY (kcache extension): the operator's epoch-stamped role commands.
//! The fence itself is `repl::topology`; the role changes are REPLICAOF's
//! (`repl::replica`). The commands are node-local: not written commands, so
//! never propagated to replicas or the append-only file.

use super::super::{err, Args, CmdError, CmdResult, Ctx, SYNTAX};
use crate::cluster::Map;
use crate::repl::failover::State;
use crate::repl::replica::{self, state::Master, SetMaster};
use crate::repl::topology::{epoch_dir, Refused};

/// `TOPOLOGY ROLE epoch PRIMARY | ROLE epoch REPLICA host port | FENCE epoch
/// | EPOCH | HELP`
///
/// `ROLE epoch PRIMARY`: become (or stay) a primary, as `REPLICAOF NO ONE`
/// (the data is kept, a replica gets a new replication id and keeps the old
/// one as `master_replid2`). `ROLE epoch REPLICA host port`: become (or stay)
/// a replica of host:port, as `REPLICAOF host port`; already following that
/// primary, the link is kept as it is (no new sync). Allowed in cluster mode.
/// Either confirms the node's role (`managed-topology`, `/readyz`).
/// `FENCE epoch`: only checks and stores the epoch (before a FAILOVER).
/// `EPOCH`: the epoch held, an integer (0: none). Replies `+OK` otherwise.
///
/// The epoch is an integer >= 1. An epoch older than the one held is refused
/// and nothing changes; a newer one is stored (in `dir/topology-epoch` when
/// `dir` is set) before the command acts.
///
/// Errors: `-ERR invalid topology epoch`, `-STALEEPOCH topology epoch <given>
/// is older than this node's <held>`, `-ERR TOPOLOGY ROLE not allowed while
/// failing over.`, `-ERR Invalid master port`, `-ERR syntax error`, `-ERR
/// could not save the topology epoch: <why>` (nothing changed), Redis's
/// unknown-subcommand and arity errors.
pub fn topology(ctx: &mut Ctx, args: &Args) -> CmdResult {
    match super::subcommand(args, "topology", super::TOPOLOGY_SUBS)? {
        "role" => role(ctx, args),
        "map" => map(ctx, args),
        "fence" => {
            let epoch = parse_epoch(args)?;
            let dir = epoch_dir(&ctx.srv.config.get("dir"));
            let mut fence = ctx.srv.topology.begin();
            fence.store(epoch, dir.as_deref()).or_else(refused)?;
            ctx.out.ok();
            Ok(())
        }
        "epoch" => {
            ctx.out.int(ctx.srv.topology.epoch() as i64);
            Ok(())
        }
        _ => {
            super::help(
                ctx,
                "topology",
                &[
                    "ROLE <epoch> PRIMARY",
                    "    Become (or stay) a primary, as REPLICAOF NO ONE, and confirm the role.",
                    "ROLE <epoch> REPLICA <host> <port>",
                    "    Become (or stay) a replica of <host>:<port>, as REPLICAOF, and confirm",
                    "    the role.",
                    "MAP <epoch> NODE <id> <ip> <port> <hostname> PRIMARY <slots> | REPLICA <primary-id> ...",
                    "    Set the whole cluster map (cluster mode): every node, its role, and the",
                    "    slots of each primary (n or a-b, comma-separated; - for none; every slot",
                    "    exactly once). This node serves, redirects and replicates as it says.",
                    "FENCE <epoch>",
                    "    Only store <epoch>: commands with an older one are refused from now on.",
                    "EPOCH",
                    "    Return the topology epoch this node holds (0 when none).",
                ],
            );
            Ok(())
        }
    }
}

enum Target {
    Primary,
    Replica(Master),
}

fn role(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let epoch = parse_epoch(args)?;
    let target = if args.len() == 4 && args.is(3, "primary") {
        Target::Primary
    } else if args.len() == 6 && args.is(3, "replica") {
        let port = match crate::util::parse_i64_strict(args.get(5)) {
            Some(p) if (0..=65535).contains(&p) => p as u16,
            _ => return err("ERR Invalid master port"),
        };
        Target::Replica(Master {
            host: args.str_lossy(4).into_owned(),
            port,
        })
    } else {
        return err(SYNTAX);
    };
    if ctx.client.master_link {
        // Changing the role from inside the link would wait on itself.
        return err("ERR Command is not valid when client is a replica.");
    }
    let srv = ctx.srv;
    let dir = epoch_dir(&srv.config.get("dir"));
    // Held while acting too, so concurrent commands act in epoch order.
    let mut fence = srv.topology.begin();
    fence.check(epoch).or_else(refused)?;
    if srv.primary.failover.state() != State::None {
        return err("ERR TOPOLOGY ROLE not allowed while failing over.");
    }
    fence.store(epoch, dir.as_deref()).or_else(refused)?;
    match target {
        Target::Primary => {
            if replica::unset_master(srv) {
                tracing::info!(epoch, "MASTER MODE enabled (TOPOLOGY ROLE)");
            }
        }
        Target::Replica(master) => {
            let (host, port) = (master.host.clone(), master.port);
            if replica::set_master(srv, master, true) == SetMaster::AlreadyConnected {
                tracing::info!(epoch, %host, port, "TOPOLOGY ROLE: already a replica of this primary");
            }
        }
    }
    srv.topology.confirm();
    drop(fence);
    ctx.out.ok();
    Ok(())
}

/// `TOPOLOGY MAP epoch NODE id ip port hostname PRIMARY slots | REPLICA
/// primary-id [NODE ...]` (cluster mode): the whole cluster map, checked
/// whole (`cluster::map`), refused when older than the epoch held, or when
/// it does not name this node. Equal to the map held, it only confirms it
/// (a retry); another map under the same epoch is refused. Saved to the
/// cluster file before it takes effect; then this node serves the slots the
/// map gives it, redirects the others, and replicates its shard's primary
/// (a primary in the map stops replicating, as `REPLICAOF NO ONE`).
fn map(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let epoch = parse_epoch(args)?;
    let srv = ctx.srv;
    if !srv.cluster.enabled() {
        return err("ERR TOPOLOGY MAP needs cluster mode (cluster-enabled yes)");
    }
    if ctx.client.master_link {
        return err("ERR Command is not valid when client is a replica.");
    }
    let tokens: Vec<&[u8]> = args.iter().skip(3).collect();
    let map = Map::parse(epoch, &tokens).map_err(|e| CmdError::from(format!("ERR {e}")))?;
    let myid = srv.cluster.myid();
    if map.index_of(&myid).is_none() {
        return err(format!("ERR this node ({myid}) is not in the map"));
    }
    let dir = epoch_dir(&srv.config.get("dir"));
    let mut fence = srv.topology.begin();
    fence.check(epoch).or_else(refused)?;
    let held = srv.cluster.map();
    let same = held.as_deref() == Some(&map);
    if !same && held.as_ref().is_some_and(|h| h.epoch == epoch) {
        return err(format!(
            "ERR topology epoch {epoch} already holds another cluster map"
        ));
    }
    if srv.primary.failover.state() != State::None {
        return err("ERR TOPOLOGY MAP not allowed while failing over.");
    }
    let master = map.master_of(&myid);
    if !same {
        srv.cluster
            .save(&map, dir.as_deref(), &srv.config.get("cluster-config-file"))
            .map_err(|e| CmdError::from(format!("ERR could not save the cluster map: {e}")))?;
        fence.store(epoch, dir.as_deref()).or_else(refused)?;
        tracing::info!(epoch, nodes = map.nodes.len(), "cluster map set");
        srv.cluster.set(map);
        redirect_blocked(ctx);
    }
    match master {
        Some(m) => {
            replica::set_master(srv, m, true);
        }
        None => {
            if replica::unset_master(srv) {
                tracing::info!(epoch, "MASTER MODE enabled (TOPOLOGY MAP)");
            }
        }
    }
    srv.topology.confirm();
    drop(fence);
    ctx.out.ok();
    Ok(())
}

/// Clients blocked on a slot that left this node's shard are redirected, and
/// its shard channels' subscribers unsubscribed.
fn redirect_blocked(ctx: &Ctx) {
    let srv = ctx.srv;
    let Some(map) = srv.cluster.map() else {
        return;
    };
    let Some(me) = map.index_of(&srv.cluster.myid()) else {
        return;
    };
    let shard = map.primary_of(me);
    let endpoint =
        crate::cluster::Endpoint::parse(&srv.config.get("cluster-preferred-endpoint-type"));
    crate::server::blocked::redirect_moved(srv, |slot| {
        (map.owner(slot) != shard).then(|| crate::cluster::moved(&map, slot, endpoint))
    });
    crate::server::channels::drop_shard_channels(srv, |name| {
        map.owner(crate::util::slot::key_slot(name)) == shard
    });
}

fn parse_epoch(args: &Args) -> Result<u64, super::super::CmdError> {
    match crate::util::parse_i64_strict(args.get(2)) {
        Some(e) if e >= 1 => Ok(e as u64),
        _ => Err("ERR invalid topology epoch".into()),
    }
}

fn refused<T>(r: Refused) -> Result<T, super::super::CmdError> {
    Err(r.to_string().into())
}
