//! The primary's part of ROLE and INFO replication, in Redis 7.0's shapes.

use std::sync::atomic::Ordering;

use super::ReplicaState;
use crate::server::Server;

/// One replica as ROLE lists it: ip, listening port, acknowledged offset.
pub struct RoleReplica {
    pub ip: String,
    pub port: u16,
    pub offset: i64,
}

/// ROLE's replica list: replicas past the payload (Redis skips those still
/// waiting for their snapshot).
pub fn role_replicas(srv: &Server) -> Vec<RoleReplica> {
    srv.primary
        .replicas()
        .iter()
        .filter(|r| r.state() == ReplicaState::Online)
        .map(|r| RoleReplica {
            ip: r.ip.clone(),
            port: r.port.load(Ordering::Relaxed),
            offset: r.ack_offset.load(Ordering::Relaxed),
        })
        .collect()
}

/// `connected_slaves` and the `slaveN:` lines.
pub fn replica_lines(srv: &Server) -> Vec<(String, String)> {
    let now = crate::util::now_ms();
    let replicas = srv.primary.replicas();
    let mut v = vec![("connected_slaves".to_string(), replicas.len().to_string())];
    for (i, r) in replicas.iter().enumerate() {
        v.push((
            format!("slave{i}"),
            format!(
                "ip={},port={},state={},offset={},lag={}",
                r.ip,
                r.port.load(Ordering::Relaxed),
                r.state().name(),
                r.ack_offset.load(Ordering::Relaxed),
                r.lag_secs(now)
            ),
        ));
    }
    v
}

/// `repl_backlog_active`, `_size`, `_first_byte_offset`, `_histlen`.
pub fn backlog_lines(srv: &Server) -> Vec<(&'static str, String)> {
    let size = srv.config.get_i64("repl-backlog-size").to_string();
    match srv.primary.backlog() {
        Some(b) => {
            let (first, histlen, _) = b.bounds();
            vec![
                ("repl_backlog_active", "1".into()),
                ("repl_backlog_size", size),
                ("repl_backlog_first_byte_offset", first.to_string()),
                ("repl_backlog_histlen", histlen.to_string()),
            ]
        }
        None => vec![
            ("repl_backlog_active", "0".into()),
            ("repl_backlog_size", size),
            ("repl_backlog_first_byte_offset", "0".into()),
            ("repl_backlog_histlen", "0".into()),
        ],
    }
}
