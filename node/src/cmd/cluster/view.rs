//! CLUSTER INFO, NODES, SLOTS, SHARDS and REPLICAS: the map as Redis 7.0
//! shows its own cluster state, in the same shapes.
//!
//! Without a bus there is nothing to report about links, pings or other
//! nodes' offsets: other nodes show as connected and online, with pings and
//! pongs of 0 and the time of the reply, and a cluster bus port of 0.

use std::sync::atomic::Ordering;

use super::super::{err, Args, CmdResult, Ctx};
use crate::cluster::{Endpoint, Map, Role};
use crate::util::slot::SLOTS;

/// One node as the views print it: from the map, or this node alone before
/// it has one.
struct NodeView {
    id: String,
    ip: String,
    port: u16,
    hostname: String,
    /// The primary's id, for a replica.
    primary: Option<String>,
    slots: Vec<(u16, u16)>,
    myself: bool,
}

/// Every node (primaries first within their shard, in map order), and the
/// map when there is one.
fn nodes_of(ctx: &Ctx) -> Vec<NodeView> {
    let myid = ctx.srv.cluster.myid();
    match ctx.srv.cluster.map() {
        Some(map) => map
            .nodes
            .iter()
            .map(|n| NodeView {
                id: n.id.clone(),
                ip: n.ip.clone(),
                port: n.port,
                hostname: n.hostname.clone(),
                primary: match n.role {
                    Role::Replica { of } => Some(map.nodes[of].id.clone()),
                    Role::Primary { .. } => None,
                },
                slots: match &n.role {
                    Role::Primary { slots } => slots.clone(),
                    Role::Replica { .. } => Vec::new(),
                },
                myself: n.id == myid,
            })
            .collect(),
        None => {
            let cfg = &ctx.srv.config;
            let port = match cfg.get_i64("cluster-announce-port") {
                p if p > 0 => p as u16,
                _ => ctx.srv.port(),
            };
            vec![NodeView {
                id: myid,
                ip: cfg.get("cluster-announce-ip"),
                port,
                hostname: cfg.get("cluster-announce-hostname"),
                primary: None,
                slots: Vec::new(),
                myself: true,
            }]
        }
    }
}

fn endpoint(ctx: &Ctx) -> Endpoint {
    Endpoint::parse(&ctx.srv.config.get("cluster-preferred-endpoint-type"))
}

/// The replication offset shown for a node: this node's own, 0 for others
/// (no bus carries theirs).
fn offset_of(ctx: &Ctx, n: &NodeView) -> i64 {
    if n.myself {
        ctx.srv.repl.offset.load(Ordering::Relaxed)
    } else {
        0
    }
}

/// `CLUSTER INFO`
pub fn info(ctx: &mut Ctx) -> CmdResult {
    let map = ctx.srv.cluster.map();
    let (assigned, known, size, epoch) = match &map {
        Some(m) => (
            SLOTS,
            m.nodes.len(),
            m.nodes
                .iter()
                .filter(|n| matches!(&n.role, Role::Primary { slots } if !slots.is_empty()))
                .count(),
            m.epoch,
        ),
        None => (0, 1, 0, 0),
    };
    let state = if map.is_some() { "ok" } else { "fail" };
    let text = format!(
        "cluster_state:{state}\r\n\
         cluster_slots_assigned:{assigned}\r\n\
         cluster_slots_ok:{assigned}\r\n\
         cluster_slots_pfail:0\r\n\
         cluster_slots_fail:0\r\n\
         cluster_known_nodes:{known}\r\n\
         cluster_size:{size}\r\n\
         cluster_current_epoch:{epoch}\r\n\
         cluster_my_epoch:{epoch}\r\n\
         cluster_stats_messages_sent:0\r\n\
         cluster_stats_messages_received:0\r\n\
         total_cluster_links_buffer_limit_exceeded:0\r\n"
    );
    ctx.out.verbatim(&text);
    Ok(())
}

/// One CLUSTER NODES line, without its newline.
fn node_line(n: &NodeView, epoch: u64, now_ms: i64) -> String {
    let mut s = format!("{} {}:{}@0", n.id, n.ip, n.port);
    if !n.hostname.is_empty() {
        s.push(',');
        s.push_str(&n.hostname);
    }
    let role = if n.primary.is_some() {
        "slave"
    } else {
        "master"
    };
    s.push(' ');
    if n.myself {
        s.push_str("myself,");
    }
    s.push_str(role);
    let pong = if n.myself { 0 } else { now_ms };
    s.push_str(&format!(
        " {} 0 {pong} {epoch} connected",
        n.primary.as_deref().unwrap_or("-")
    ));
    for &(a, b) in &n.slots {
        if a == b {
            s.push_str(&format!(" {a}"));
        } else {
            s.push_str(&format!(" {a}-{b}"));
        }
    }
    s
}

fn epoch_of(map: Option<&Map>) -> u64 {
    map.map_or(0, |m| m.epoch)
}

/// `CLUSTER NODES`
pub fn nodes(ctx: &mut Ctx) -> CmdResult {
    let epoch = epoch_of(ctx.srv.cluster.map().as_deref());
    let mut text = String::new();
    for n in nodes_of(ctx) {
        text.push_str(&node_line(&n, epoch, ctx.now_ms));
        text.push('\n');
    }
    ctx.out.verbatim(&text);
    Ok(())
}

/// `CLUSTER REPLICAS node-id` (and `SLAVES`): the replicas' NODES lines.
pub fn replicas(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let id = args.str_lossy(2).into_owned();
    let all = nodes_of(ctx);
    let Some(target) = all.iter().find(|n| n.id == id) else {
        return err(format!("ERR Unknown node {id}"));
    };
    if target.primary.is_some() {
        return err("ERR The specified node is not a master");
    }
    let epoch = epoch_of(ctx.srv.cluster.map().as_deref());
    let lines: Vec<String> = all
        .iter()
        .filter(|n| n.primary.as_deref() == Some(id.as_str()))
        .map(|n| node_line(n, epoch, ctx.now_ms))
        .collect();
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.bulk(l.as_bytes());
    }
    Ok(())
}

/// One node of a CLUSTER SLOTS range: endpoint, port, id, then the other
/// names as a map (Redis's `addNodeToNodeReply`).
fn slots_node(ctx: &mut Ctx, n: &NodeView, ep: Endpoint) {
    ctx.out.array(4);
    if ep == Endpoint::Unknown {
        ctx.out.null();
    } else {
        ctx.out.bulk(ep.of(&n.ip, &n.hostname).as_bytes());
    }
    ctx.out.int(n.port as i64);
    ctx.out.bulk(n.id.as_bytes());
    let ip = ep != Endpoint::Ip;
    let host = ep != Endpoint::Hostname && !n.hostname.is_empty();
    ctx.out.map(ip as usize + host as usize);
    if ip {
        ctx.out.bulk(b"ip");
        ctx.out.bulk(n.ip.as_bytes());
    }
    if host {
        ctx.out.bulk(b"hostname");
        ctx.out.bulk(n.hostname.as_bytes());
    }
}

/// `CLUSTER SLOTS`: one entry per slot range, in slot order: start, end,
/// the primary, then its replicas.
pub fn slots(ctx: &mut Ctx) -> CmdResult {
    let all = nodes_of(ctx);
    let ep = endpoint(ctx);
    let mut ranges: Vec<(u16, u16, usize)> = all
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.slots.iter().map(move |&(a, b)| (a, b, i)))
        .collect();
    ranges.sort_unstable();
    ctx.out.array(ranges.len());
    for (a, b, p) in ranges {
        let reps: Vec<&NodeView> = all
            .iter()
            .filter(|n| n.primary.as_deref() == Some(all[p].id.as_str()))
            .collect();
        ctx.out.array(3 + reps.len());
        ctx.out.int(a as i64);
        ctx.out.int(b as i64);
        slots_node(ctx, &all[p], ep);
        for r in reps {
            slots_node(ctx, r, ep);
        }
    }
    Ok(())
}

/// One node of a CLUSTER SHARDS shard (Redis's `addNodeDetailsToShardReply`).
fn shard_node(ctx: &mut Ctx, n: &NodeView, ep: Endpoint) {
    let host = !n.hostname.is_empty();
    ctx.out.map(7 + host as usize);
    ctx.out.bulk(b"id");
    ctx.out.bulk(n.id.as_bytes());
    ctx.out.bulk(b"port");
    ctx.out.int(n.port as i64);
    ctx.out.bulk(b"ip");
    ctx.out.bulk(n.ip.as_bytes());
    ctx.out.bulk(b"endpoint");
    ctx.out.bulk(ep.of(&n.ip, &n.hostname).as_bytes());
    if host {
        ctx.out.bulk(b"hostname");
        ctx.out.bulk(n.hostname.as_bytes());
    }
    ctx.out.bulk(b"role");
    ctx.out.bulk(if n.primary.is_some() {
        b"replica".as_slice()
    } else {
        b"master".as_slice()
    });
    ctx.out.bulk(b"replication-offset");
    ctx.out.int(offset_of(ctx, n));
    ctx.out.bulk(b"health");
    ctx.out.bulk(b"online");
}

/// `CLUSTER SHARDS`: one entry per primary: its slots as start/end pairs,
/// then the primary and its replicas.
pub fn shards(ctx: &mut Ctx) -> CmdResult {
    let all = nodes_of(ctx);
    let ep = endpoint(ctx);
    let primaries: Vec<&NodeView> = all.iter().filter(|n| n.primary.is_none()).collect();
    ctx.out.array(primaries.len());
    for p in primaries {
        ctx.out.map(2);
        ctx.out.bulk(b"slots");
        ctx.out.array(p.slots.len() * 2);
        for &(a, b) in &p.slots {
            ctx.out.int(a as i64);
            ctx.out.int(b as i64);
        }
        ctx.out.bulk(b"nodes");
        let members: Vec<&NodeView> = std::iter::once(p)
            .chain(
                all.iter()
                    .filter(|n| n.primary.as_deref() == Some(p.id.as_str())),
            )
            .collect();
        ctx.out.array(members.len());
        for m in members {
            shard_node(ctx, m, ep);
        }
    }
    Ok(())
}
