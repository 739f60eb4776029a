//! Replication commands of the replica side: REPLICAOF (and its old name
//! SLAVEOF) and ROLE. The machinery is in `repl::replica`.

use super::super::{err, Args, CmdResult, Ctx};
use crate::repl::replica::{self, report::Role, state::Master, SetMaster};

/// `REPLICAOF host port` | `REPLICAOF NO ONE` (also `SLAVEOF`)
///
/// `host port`: become a replica of that primary; the old link, if any, is
/// dropped and the data is kept until the new primary's sync replaces it.
/// Replies `+OK`, or `+OK Already connected to specified master` when already
/// following that host and port (host compared case-insensitively).
/// `NO ONE`: become a primary, keeping the data, with a new replication id;
/// the old one becomes `master_replid2`, valid up to the offset + 1. Replies
/// `+OK` (also on a primary). Same in RESP2 and RESP3.
///
/// Errors: `-ERR Invalid master port` (not an integer in 0..65535),
/// `-ERR REPLICAOF not allowed in cluster mode.`, and for the master link's
/// own pseudo-client `-ERR Command is not valid when client is a replica.`
pub fn replicaof(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if ctx.srv.config.get_bool("cluster-enabled") {
        return err("ERR REPLICAOF not allowed in cluster mode.");
    }
    if ctx.client.master_link {
        // Changing the role from inside the link would wait on itself.
        return err("ERR Command is not valid when client is a replica.");
    }
    if args.is(1, "no") && args.is(2, "one") {
        if replica::unset_master(ctx.srv) {
            tracing::info!(client = ctx.client.id, "MASTER MODE enabled (user request)");
        }
        ctx.out.ok();
        return Ok(());
    }
    let port = match crate::util::parse_i64_strict(args.get(2)) {
        Some(p) if (0..=65535).contains(&p) => p as u16,
        _ => return err("ERR Invalid master port"),
    };
    let master = Master {
        host: args.str_lossy(1).into_owned(),
        port,
    };
    match replica::set_master(ctx.srv, master, true) {
        SetMaster::AlreadyConnected => ctx.out.simple("OK Already connected to specified master"),
        SetMaster::Started => ctx.out.ok(),
    }
    Ok(())
}

/// `ROLE`
///
/// A primary: `["master", <offset>, [[ip, port, offset], ...]]` (the replicas
/// list stays empty until the primary side tracks replicas). A replica:
/// `["slave", <host>, <port>, <state>, <offset>]` where state is `connect`,
/// `connecting`, `handshake`, `sync` or `connected`, and the offset is -1
/// while no master link exists. Ports and offsets are integers. Same shape in
/// RESP2 and RESP3.
pub fn role(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    match replica::report::role(ctx.srv) {
        Role::Master { offset } => {
            ctx.out.array(3);
            ctx.out.bulk(b"master");
            ctx.out.int(offset);
            ctx.out.array(0);
        }
        Role::Replica {
            host,
            port,
            state,
            offset,
        } => {
            ctx.out.array(5);
            ctx.out.bulk(b"slave");
            ctx.out.bulk(host.as_bytes());
            ctx.out.int(port as i64);
            ctx.out.bulk(state.as_bytes());
            ctx.out.int(offset);
        }
    }
    Ok(())
}
