//! INFO replication and ROLE, in Redis 7.0's field names and order.
//!
//! kcache adds `master_sync_refused_empty` (and, when set, the refused
//! primary's replication id, how many times and how long ago) for the
//! empty-dataset safety rule (`sync`), and after Redis's own fields
//! `topology_epoch` and `topology_confirmed` (`repl::topology`).

use std::borrow::Cow;
use std::sync::atomic::Ordering;

use super::state::LinkState;
use crate::server::Server;

/// ROLE's data.
pub enum Role {
    Master {
        offset: i64,
    },
    Replica {
        host: String,
        port: u16,
        state: &'static str,
        /// -1 while no master link exists, as Redis prints it.
        offset: i64,
    },
}

pub fn role(srv: &Server) -> Role {
    let inner = srv.repl.inner();
    let offset = srv.repl.offset.load(Ordering::Relaxed);
    match &inner.master {
        None => Role::Master { offset },
        Some(m) => Role::Replica {
            host: m.host.clone(),
            port: m.port,
            state: inner.link.name(),
            offset: if inner.master_client_id.is_some() {
                offset
            } else {
                -1
            },
        },
    }
}

fn secs_since(t: std::time::Instant) -> u64 {
    t.elapsed().as_secs()
}

/// The `name:value` lines of INFO replication.
pub fn info_fields(srv: &Server) -> Vec<(Cow<'static, str>, String)> {
    let repl = &srv.repl;
    let inner = repl.inner();
    let offset = repl.offset.load(Ordering::Relaxed);
    let mut f: Vec<(Cow<'static, str>, String)> = Vec::with_capacity(32);
    let mut kv = |k: &'static str, v: String| f.push((Cow::Borrowed(k), v));
    match &inner.master {
        None => kv("role", "master".into()),
        Some(m) => {
            kv("role", "slave".into());
            kv("master_host", m.host.clone());
            kv("master_port", m.port.to_string());
            let up = inner.link == LinkState::Connected;
            kv("master_link_status", if up { "up" } else { "down" }.into());
            let last_io = match (inner.master_client_id, inner.last_io) {
                (Some(_), Some(t)) => secs_since(t) as i64,
                _ => -1,
            };
            kv("master_last_io_seconds_ago", last_io.to_string());
            let syncing = inner.link == LinkState::Sync;
            kv("master_sync_in_progress", (syncing as u8).to_string());
            kv(
                "slave_read_repl_offset",
                repl.read_offset
                    .load(Ordering::Relaxed)
                    .max(offset)
                    .to_string(),
            );
            kv("slave_repl_offset", offset.to_string());
            if let (true, Some(s)) = (syncing, &inner.sync) {
                let perc = if s.total > 0 {
                    s.read as f64 * 100.0 / s.total as f64
                } else {
                    0.0
                };
                kv("master_sync_total_bytes", s.total.to_string());
                kv("master_sync_read_bytes", s.read.to_string());
                kv(
                    "master_sync_left_bytes",
                    (s.total - s.read as i64).to_string(),
                );
                kv("master_sync_perc", format!("{perc:.2}"));
                kv(
                    "master_sync_last_io_seconds_ago",
                    secs_since(s.last_io).to_string(),
                );
            }
            if !up {
                let down = inner.down_since.map_or(-1, |t| secs_since(t) as i64);
                kv("master_link_down_since_seconds", down.to_string());
            }
            kv(
                "slave_priority",
                srv.config.get_i64("replica-priority").to_string(),
            );
            kv(
                "slave_read_only",
                (srv.config.get_bool("replica-read-only") as u8).to_string(),
            );
            kv(
                "replica_announced",
                (srv.config.get_bool("replica-announced") as u8).to_string(),
            );
            kv(
                "master_sync_refused_empty",
                (inner.refused.is_some() as u8).to_string(),
            );
            if let Some(r) = &inner.refused {
                kv("master_sync_refused_replid", r.master_replid.clone());
                kv("master_sync_refused_count", r.count.to_string());
                kv(
                    "master_sync_refused_seconds_ago",
                    secs_since(r.at).to_string(),
                );
            }
        }
    }
    // The primary side's replicas (a replica may have its own).
    for (k, v) in crate::repl::primary::report::replica_lines(srv) {
        f.push((Cow::Owned(k), v));
    }
    let mut kv = |k: &'static str, v: String| f.push((Cow::Borrowed(k), v));
    kv(
        "master_failover_state",
        srv.primary.failover.state().name().into(),
    );
    kv("master_replid", inner.replid.clone());
    kv("master_replid2", inner.replid2.clone());
    kv("master_repl_offset", offset.to_string());
    kv("second_repl_offset", inner.second_offset.to_string());
    drop(inner);
    for (k, v) in crate::repl::primary::report::backlog_lines(srv) {
        f.push((Cow::Borrowed(k), v));
    }
    let t = &srv.topology;
    f.push((Cow::Borrowed("topology_epoch"), t.epoch().to_string()));
    f.push((
        Cow::Borrowed("topology_confirmed"),
        (t.confirmed() as u8).to_string(),
    ));
    f
}
