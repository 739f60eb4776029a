//! The replica side of replication: following a primary.
//!
//! - [`state`]: the role, replication ids and offsets, link state: one struct
//!   on `Server` (`srv.repl`), shared with the primary side.
//! - [`link`]: the link thread (blocking sockets, off the event loops):
//!   connect, [`handshake`], full [`sync`] or partial resync, then the command
//!   [`stream`]; reconnects with backoff and resumes with PSYNC.
//! - [`sync`]: the full-sync payload (both wire forms), the loader seam
//!   ([`sync::FullSyncTarget`]) and the empty-dataset safety rule, decided by
//!   [`probe`] before any data is touched.
//! - [`stream`]: applies the primary's commands through the applier seam
//!   ([`stream::StreamApplier`]), tracks the offset, answers GETACK, ACKs.
//! - [`report`]: INFO replication and ROLE.
//!
//! This file holds the role changes (REPLICAOF host port / NO ONE and the
//! `replicaof` parameter) and the gate the request path calls.

pub mod conn;
pub mod handshake;
pub mod link;
pub mod probe;
pub mod report;
pub mod state;
pub mod stream;
pub mod sync;

use std::sync::atomic::Ordering;
use std::sync::Arc;

pub use state::ReplState;

use crate::cmd::{flags, CommandSpec};
use crate::server::client::Client;
use crate::server::exec::Hot;
use crate::server::Server;
use state::{LinkState, Master};

pub const READONLY_ERR: &str = "READONLY You can't write against a read only replica.";
pub const MASTERDOWN_ERR: &str =
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";

/// Parses a `replicaof` parameter value: `<host> <port>`.
pub fn parse_replicaof(v: &str) -> Result<Option<Master>, String> {
    let words: Vec<&str> = v.split_whitespace().collect();
    match words.as_slice() {
        [] => Ok(None),
        [host, port] => {
            let port: u16 = port
                .parse()
                .map_err(|_| format!("replicaof: invalid master port '{port}'"))?;
            Ok(Some(Master {
                host: host.to_string(),
                port,
            }))
        }
        _ => Err(format!("replicaof: expected '<host> <port>', got '{v}'")),
    }
}

/// Binds the state to its server and, with a `replicaof` parameter, starts
/// following that primary (`PSYNC ? -1`, unless the RDB loaded at start-up
/// carried a replication history).
pub fn start(srv: &Arc<Server>) -> anyhow::Result<()> {
    srv.repl.bind(srv);
    if let Some(m) = parse_replicaof(&srv.config.get("replicaof")).map_err(anyhow::Error::msg)? {
        // An RDB with `repl-id`/`repl-offset` gave us a history to PSYNC
        // from (repl::primary::restore_from_rdb).
        let history = srv.primary.backlog().is_some();
        set_master(srv, m, history);
    }
    Ok(())
}

/// What REPLICAOF host port did.
#[derive(Debug, PartialEq, Eq)]
pub enum SetMaster {
    Started,
    AlreadyConnected,
}

/// Becomes (or stays) a replica of `master`. A primary that becomes a replica
/// offers its own id and offset to the new primary (Redis's "cached master
/// using myself"), so a demoted primary can resume with a partial resync;
/// `history` false (start-up from the parameter) asks `PSYNC ? -1`.
pub fn set_master(srv: &Server, master: Master, history: bool) -> SetMaster {
    let repl = &srv.repl;
    let generation;
    {
        let _apply = repl.apply_lock();
        let mut inner = repl.inner();
        if inner
            .master
            .as_ref()
            .is_some_and(|m| m.port == master.port && m.host.eq_ignore_ascii_case(&master.host))
        {
            tracing::info!("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
            return SetMaster::AlreadyConnected;
        }
        let was_primary = inner.master.is_none();
        generation = repl.bump_generation();
        drop_link(srv, &mut inner);
        // The backlog now follows the new primary's stream; our replicas
        // reconnect (repl::primary).
        crate::repl::primary::on_demoted(srv);
        if was_primary {
            inner.psync_history = history;
        }
        inner.master = Some(master.clone());
        repl.set_link(&mut inner, LinkState::Connect);
        inner.sync = None;
        inner.refused = None;
        repl.set_role(srv, true);
        crate::server::blocked::unblock_all_for_role_change(srv);
        let _ = srv
            .config
            .set_initial("replicaof", &format!("{} {}", master.host, master.port));
    }
    tracing::info!(host = %master.host, port = master.port, "REPLICAOF enabled");
    match repl.server() {
        Some(arc) => link::spawn(arc, generation, master),
        None => tracing::warn!("no running server to start the replication link from"),
    }
    SetMaster::Started
}

/// REPLICAOF NO ONE: stops following, keeps the data, and starts a new
/// history: the old id becomes the secondary id, valid up to our offset + 1
/// (a replica of ours that shared it can resume with PSYNC). Returns whether
/// this node was a replica.
pub fn unset_master(srv: &Server) -> bool {
    let repl = &srv.repl;
    let _apply = repl.apply_lock();
    let mut inner = repl.inner();
    if inner.master.is_none() {
        return false;
    }
    repl.bump_generation();
    drop_link(srv, &mut inner);
    inner.master = None;
    repl.set_link(&mut inner, LinkState::Connect);
    let offset = repl.offset.load(Ordering::Relaxed);
    inner.replid2 = std::mem::replace(&mut inner.replid, state::new_replid());
    inner.second_offset = offset + 1;
    inner.psync_history = true;
    inner.down_since = None;
    inner.sync = None;
    inner.refused = None;
    // The backlog continues this history from the log (repl::primary).
    crate::repl::primary::on_promoted(srv);
    repl.set_role(srv, false);
    let _ = srv.config.set_initial("replicaof", "");
    tracing::info!(
        replid2 = %inner.replid2,
        second_offset = inner.second_offset,
        replid = %inner.replid,
        "MASTER MODE enabled: secondary replication id set, new replication id"
    );
    true
}

/// Interrupts the current link (the thread sees a stale generation).
fn drop_link(srv: &Server, inner: &mut state::Inner) {
    if let Some(s) = inner.socket.take() {
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
    if let Some(id) = inner.master_client_id.take() {
        srv.clients.remove(id);
    }
}

/// The replica's checks on a client command: READONLY for writes on a
/// read-only replica, MASTERDOWN for non-STALE commands while the link is down
/// with `replica-serve-stale-data no`. One relaxed load on a primary.
#[inline]
pub fn gate(srv: &Server, hot: &Hot, client: &Client, spec: &CommandSpec) -> Option<&'static str> {
    if !srv.repl.is_replica() || client.master_link {
        return None;
    }
    gate_replica(srv, hot, spec)
}

#[inline(never)]
fn gate_replica(srv: &Server, hot: &Hot, spec: &CommandSpec) -> Option<&'static str> {
    if hot.replica_read_only && spec.flags & flags::WRITE != 0 {
        return Some(READONLY_ERR);
    }
    if !hot.replica_serve_stale && spec.flags & flags::STALE == 0 && !srv.repl.link_up() {
        return Some(MASTERDOWN_ERR);
    }
    None
}

/// The master link's client id, for CLIENT KILL / CLIENT LIST TYPE master.
pub fn master_client_id(srv: &Server) -> Option<u64> {
    srv.repl.inner().master_client_id
}
