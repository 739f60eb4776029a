//! Replication commands: REPLICAOF (and its old name SLAVEOF), ROLE, and
//! what replicas and WAIT send a primary: REPLCONF, PSYNC, SYNC, WAIT. The
//! machinery is in `repl::replica` and `repl::primary`.

use super::super::{err, Args, CmdResult, Ctx};
use crate::repl::primary::{self, handshake::MAX_IP_LEN, Handshake, SyncRequest};
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
/// `-ERR REPLICAOF not allowed in cluster mode.`, `-ERR REPLICAOF not
/// allowed while failing over.` (during FAILOVER), and for the master link's
/// own pseudo-client `-ERR Command is not valid when client is a replica.`
pub fn replicaof(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if ctx.srv.config.get_bool("cluster-enabled") {
        return err("ERR REPLICAOF not allowed in cluster mode.");
    }
    if ctx.srv.primary.failover.state() != crate::repl::failover::State::None {
        return err("ERR REPLICAOF not allowed while failing over.");
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
/// A primary: `["master", <offset>, [[ip, port, offset], ...]]`, one entry
/// per online replica with its announced port and last acknowledged offset
/// as bulk strings (as Redis replies them). A replica:
/// `["slave", <host>, <port>, <state>, <offset>]` where state is `connect`,
/// `connecting`, `handshake`, `sync` or `connected`, and the offset is -1
/// while no master link exists. Ports and offsets are integers. Same shape in
/// RESP2 and RESP3.
pub fn role(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    match replica::report::role(ctx.srv) {
        Role::Master { offset } => {
            let replicas = primary::report::role_replicas(ctx.srv);
            ctx.out.array(3);
            ctx.out.bulk(b"master");
            ctx.out.int(offset);
            ctx.out.array(replicas.len());
            for r in replicas {
                ctx.out.array(3);
                ctx.out.bulk(r.ip.as_bytes());
                ctx.out.bulk(r.port.to_string().as_bytes());
                ctx.out.bulk(r.offset.to_string().as_bytes());
            }
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

/// `REPLCONF <option> <value> [<option> <value> ...]`
///
/// What a replica announces before PSYNC: `listening-port <port>`,
/// `ip-address <ip>`, `capa <eof|psync2|...>` (unknown capabilities are
/// ignored), `rdb-only <0|1>`; each answered `+OK`. `ACK <offset>` and
/// `GETACK *` get no reply (a replica's ACKs are read by its sender thread
/// once it syncs; on any other connection they are ignored, as in Redis).
///
/// Errors: `-ERR syntax error` (an option without a value),
/// `-ERR value is not an integer or out of range` (listening-port),
/// `-ERR REPLCONF ip-address provided by replica instance is too long: <n>
/// bytes`, `-ERR Unrecognized REPLCONF option: <option>`.
pub fn replconf(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return err(super::super::SYNTAX);
    }
    let mut hs = ctx.client.replica.take().map(|b| *b).unwrap_or_default();
    let mut j = 1;
    while j < args.len() {
        let v = args.get(j + 1);
        if args.is(j, "listening-port") {
            match crate::util::parse_i64_strict(v) {
                Some(p) => hs.port = p.clamp(0, 65535) as u16,
                None => {
                    ctx.client.replica = Some(Box::new(hs));
                    return err(super::super::NOT_INTEGER);
                }
            }
        } else if args.is(j, "ip-address") {
            if v.len() >= MAX_IP_LEN {
                ctx.client.replica = Some(Box::new(hs));
                return err(format!(
                    "ERR REPLCONF ip-address provided by replica instance is too long: {} bytes",
                    v.len()
                ));
            }
            hs.ip = Some(String::from_utf8_lossy(v).into_owned());
        } else if args.is(j, "capa") {
            if v.eq_ignore_ascii_case(b"eof") {
                hs.capa_eof = true;
            } else if v.eq_ignore_ascii_case(b"psync2") {
                hs.capa_psync2 = true;
            }
        } else if args.is(j, "ack") || args.is(j, "getack") {
            // Not a replica of ours (yet): nothing to record, no reply.
            ctx.client.replica = Some(Box::new(hs));
            return Ok(());
        } else if args.is(j, "rdb-only") || args.is(j, "rdb-filter-only") {
            // Accepted; the payload is the same.
        } else {
            ctx.client.replica = Some(Box::new(hs));
            return err(format!(
                "ERR Unrecognized REPLCONF option: {}",
                args.str_lossy(j)
            ));
        }
        j += 2;
    }
    ctx.client.replica = Some(Box::new(hs));
    ctx.out.ok();
    Ok(())
}

/// `PSYNC replicationid offset`
///
/// Asks for the stream from `offset` of history `replicationid` (`? -1`: no
/// history). The reply is written by the replica's sender thread after the
/// event loop hands the connection over: `+CONTINUE <replid>` (`+CONTINUE`
/// without `capa psync2`) followed by the stream when the id is ours (or
/// our previous one, up to where it is valid) and the backlog holds the
/// offset; otherwise `+FULLRESYNC <replid> <offset>`, the snapshot
/// (`$EOF:<mark>...<mark>` with `capa eof`, else `$<len>` and the bytes)
/// and the stream from that offset. An unparsable offset asks for a full
/// sync. On a replica whose own link is down:
/// `-NOMASTERLINK Can't SYNC while not connected with my master`.
///
/// `PSYNC replicationid offset FAILOVER` (Redis 6.2+, sent by a primary in
/// FAILOVER): when `replicationid` is this node's own id (it is the
/// sender's replica), this node first becomes a primary (as REPLICAOF NO
/// ONE), so the sender resumes as its replica with `+CONTINUE <new id>`;
/// otherwise `-ERR PSYNC FAILOVER replid must match my replid.`. While this
/// node is itself failing over: `-NOMASTERLINK Can't SYNC while failing
/// over`.
pub fn psync(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if ctx.client.master_link {
        return err("ERR Command is not valid when client is a replica.");
    }
    if args.len() > 3 && args.is(3, "failover") {
        if args.get(1) != ctx.srv.repl.replid().as_bytes() {
            return err("ERR PSYNC FAILOVER replid must match my replid.");
        }
        if replica::unset_master(ctx.srv) {
            tracing::info!(
                client = ctx.client.id,
                replid = %args.str_lossy(1),
                "Failover request received for replid, accepting"
            );
        }
    }
    if ctx.srv.primary.failover.state() != crate::repl::failover::State::None {
        return err("NOMASTERLINK Can't SYNC while failing over");
    }
    let offset = crate::util::parse_i64_strict(args.get(2)).unwrap_or(-1);
    let replid = if offset < 0 {
        "?".to_string()
    } else {
        args.str_lossy(1).into_owned()
    };
    request_sync(ctx, SyncRequest::Psync { replid, offset })
}

/// `SYNC`
///
/// The pre-PSYNC full sync: the snapshot payload without a `+FULLRESYNC`
/// line, then the stream.
pub fn sync(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    if ctx.srv.primary.failover.state() != crate::repl::failover::State::None {
        return err("NOMASTERLINK Can't SYNC while failing over");
    }
    request_sync(ctx, SyncRequest::Sync)
}

fn request_sync(ctx: &mut Ctx, req: SyncRequest) -> CmdResult {
    if ctx.client.master_link {
        return err("ERR Command is not valid when client is a replica.");
    }
    if ctx.srv.repl.is_replica() && !ctx.srv.repl.link_up() {
        return err("NOMASTERLINK Can't SYNC while not connected with my master");
    }
    let mut hs: Handshake = ctx.client.replica.take().map(|b| *b).unwrap_or_default();
    hs.request = Some(req);
    ctx.client.replica = Some(Box::new(hs));
    Ok(())
}

/// `FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]`
///
/// Hands the primary role to a replica (see `repl::failover`): replies
/// `+OK` at once, pauses writes, waits for the target (the `TO` replica, or
/// any replica, the most caught-up first) to acknowledge the offset, then
/// becomes its replica with `PSYNC ... FAILOVER`, which makes the target a
/// primary. `TIMEOUT`: give up after that many milliseconds (writes resume),
/// or with `FORCE` fail over anyway. `ABORT` stops a failover in progress
/// (`+OK`). INFO replication's `master_failover_state` shows the progress.
/// Same replies in RESP2 and RESP3.
///
/// Errors (Redis 7.0's): `-ERR syntax error`, `-ERR value is not an integer
/// or out of range`, `-ERR FAILOVER timeout must be greater than 0`,
/// `-ERR No failover in progress.`, `-ERR FAILOVER already in progress.`,
/// `-ERR FAILOVER is not valid when server is a replica.`,
/// `-ERR FAILOVER requires connected replicas.`, `-ERR FAILOVER with force
/// option requires both a timeout and target HOST and IP.`, `-ERR FAILOVER
/// target HOST and PORT is not a replica.`, `-ERR FAILOVER target replica
/// is not online.`, `-ERR FAILOVER not allowed in cluster mode.`
pub fn failover(ctx: &mut Ctx, args: &Args) -> CmdResult {
    use crate::repl::failover as fo;
    if ctx.srv.config.get_bool("cluster-enabled") {
        return err("ERR FAILOVER not allowed in cluster mode.");
    }
    let result = match fo::parse(args) {
        Err(e) => Err(e),
        Ok(None) => fo::abort_cmd(ctx.srv),
        Ok(Some(req)) => fo::start(ctx.srv, req),
    };
    match result {
        Ok(()) => {
            ctx.out.ok();
            Ok(())
        }
        Err(e) => err(e),
    }
}

/// `WAIT numreplicas timeout`
///
/// Blocks until `numreplicas` replicas acknowledged every write made before
/// it, or `timeout` milliseconds passed (0: no timeout), and replies the
/// number of replicas that acknowledged (an integer, RESP2 and RESP3). A
/// replica's own ACKs are requested with `REPLCONF GETACK *` as it blocks.
/// Inside MULTI it answers at once.
///
/// Errors: `-ERR WAIT cannot be used with replica instances. ...`,
/// `-ERR value is not an integer or out of range`, `-ERR timeout is
/// negative`.
pub fn wait(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if ctx.srv.repl.is_replica() {
        return err(primary::wait::WAIT_ON_REPLICA);
    }
    let num = args.int(1)?;
    let timeout = args.int(2)?;
    if timeout < 0 {
        return err("ERR timeout is negative");
    }
    let target = match primary::wait::start(ctx.srv, num) {
        Ok(n) => {
            ctx.out.int(n as i64);
            return Ok(());
        }
        Err(t) => t,
    };
    if crate::server::blocked::blocking_denied() {
        ctx.out.int(primary::wait::acked(ctx.srv, target) as i64);
        return Ok(());
    }
    let w = primary::wait::block(
        ctx,
        target,
        num,
        (timeout > 0).then(|| std::time::Duration::from_millis(timeout as u64)),
    );
    ctx.client.blocked = Some(w);
    Ok(())
}
