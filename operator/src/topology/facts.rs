//! What the topology step knows of a shard: the facts of each pod (from the
//! API) and of the node inside it (from its `INFO` over RESP). Plain data, so
//! that the decision is a pure function of it and can be table-tested.

use std::collections::BTreeMap;

use crate::constants::FED_WITHIN_SECONDS;

/// Role as the node reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeRole {
    Primary,
    Replica,
}

/// What a node said about itself (`INFO server replication persistence keyspace`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeFacts {
    /// `None` when the node printed neither `role:master` nor `role:slave`.
    pub role: Option<NodeRole>,
    /// For a replica: the primary it follows (`master_host`, `master_port`).
    pub master_host: Option<String>,
    pub master_port: Option<u16>,
    /// For a replica: `master_link_status:up` and no sync in progress.
    pub link_up: bool,
    /// For a replica: seconds since the last byte from its primary
    /// (`master_last_io_seconds_ago`); `None` without a link.
    pub last_io_secs: Option<i64>,
    /// The replica refused an empty full sync (kcache's safety rule).
    pub refused_empty: bool,
    /// `master_replid` / `master_replid2`.
    pub replid: String,
    pub replid2: String,
    /// How much of the replication stream this node holds: `master_repl_offset`
    /// for a primary, `slave_repl_offset` for a replica (-1 or 0 before any sync).
    pub offset: i64,
    /// The topology epoch the node holds (`topology_epoch`, 0 when none).
    pub epoch: i64,
    /// The operator confirmed the node's role in this process lifetime.
    pub confirmed: bool,
    /// The node is loading its dataset.
    pub loading: bool,
    /// `master_failover_state` other than `no-failover`: a switchover runs.
    pub failing_over: bool,
    /// Keys in all databases.
    pub keys: u64,
    /// Replicas connected to this primary, by address, with their acknowledged offset.
    pub replicas: BTreeMap<String, i64>,
    /// `min-replicas-to-write` as the primary has it (read only from primaries).
    pub min_replicas_to_write: Option<i64>,
    /// The values of the parameters applied live, as `CONFIG GET` reports them.
    pub config: BTreeMap<String, String>,
    /// `CLUSTER MYID` (cluster mode only).
    pub node_id: Option<String>,
}

impl NodeFacts {
    /// Parses `INFO` text. Unknown lines are ignored; missing ones keep defaults,
    /// so an older node (no topology fields) parses as epoch 0, unconfirmed.
    pub fn parse(info: &str) -> NodeFacts {
        let mut f = NodeFacts::default();
        let mut link_status_up = false;
        let mut syncing = false;
        let mut master_offset = 0;
        let mut replica_offset = None;
        for line in info.lines() {
            let Some((key, value)) = line.trim_end().split_once(':') else {
                continue;
            };
            match key {
                "role" => {
                    f.role = match value {
                        "master" => Some(NodeRole::Primary),
                        "slave" => Some(NodeRole::Replica),
                        _ => None,
                    }
                }
                "master_host" => f.master_host = Some(value.to_string()),
                "master_port" => f.master_port = value.parse().ok(),
                "master_link_status" => link_status_up = value == "up",
                "master_sync_in_progress" => syncing = value == "1",
                "master_last_io_seconds_ago" => {
                    f.last_io_secs = value.parse().ok().filter(|s: &i64| *s >= 0)
                }
                "master_sync_refused_empty" => f.refused_empty = value == "1",
                "master_replid" => f.replid = value.to_string(),
                "master_replid2" => f.replid2 = value.to_string(),
                "master_repl_offset" => master_offset = value.parse().unwrap_or(0),
                "slave_repl_offset" => replica_offset = value.parse().ok(),
                "topology_epoch" => f.epoch = value.parse().unwrap_or(0),
                "topology_confirmed" => f.confirmed = value == "1",
                "loading" => f.loading = value == "1",
                "master_failover_state" => f.failing_over = value != "no-failover",
                k if k.starts_with("slave") && k[5..].bytes().all(|b| b.is_ascii_digit()) => {
                    let fields: BTreeMap<&str, &str> = value
                        .split(',')
                        .filter_map(|kv| kv.split_once('='))
                        .collect();
                    if let (Some(ip), Some(offset)) = (fields.get("ip"), fields.get("offset")) {
                        f.replicas
                            .insert(ip.to_string(), offset.parse().unwrap_or(0));
                    }
                }
                k if k.starts_with("db") && k[2..].bytes().all(|b| b.is_ascii_digit()) => {
                    let keys = value
                        .split(',')
                        .find_map(|kv| kv.strip_prefix("keys="))
                        .and_then(|n| n.parse::<u64>().ok())
                        .unwrap_or(0);
                    f.keys += keys;
                }
                _ => {}
            }
        }
        f.link_up = link_status_up && !syncing;
        f.offset = match f.role {
            Some(NodeRole::Replica) => replica_offset.unwrap_or(-1),
            _ => master_offset,
        };
        f
    }

    pub fn is_primary(&self) -> bool {
        self.role == Some(NodeRole::Primary)
    }

    /// A replica a live primary still feeds: its link is up and bytes came in
    /// recently. The operator renders `repl-ping-replica-period` at 1 s, so a
    /// primary that still runs touches every link each second; a link that
    /// stays up without traffic belongs to a primary that is frozen or whose
    /// machine is gone (no TCP reset), which `repl-timeout` would only notice
    /// after a minute.
    pub fn fed(&self) -> bool {
        self.role == Some(NodeRole::Replica)
            && self.link_up
            && self.last_io_secs.is_none_or(|s| s <= FED_WITHIN_SECONDS)
    }

    /// A replica following `host` with a working link.
    pub fn follows(&self, host: &str) -> bool {
        self.role == Some(NodeRole::Replica) && self.master_host.as_deref() == Some(host)
    }
}

/// One pod of a shard as the operator saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Member {
    pub pod: String,
    /// StatefulSet ordinal.
    pub ordinal: i32,
    /// Pod IP, once assigned.
    pub ip: Option<String>,
    /// The pod's Ready condition.
    pub ready: bool,
    /// `deletionTimestamp` is set: the pod is going away (drain, delete, roll).
    pub terminating: bool,
    /// The pod runs the StatefulSet's update revision.
    pub updated: bool,
    /// The role label the pod carries now.
    pub role_label: Option<String>,
    /// The reader label the pod carries now.
    pub reader_label: bool,
    /// The node's own report; `None` when it did not answer.
    pub node: Option<NodeFacts>,
}

impl Member {
    pub fn reachable(&self) -> bool {
        self.node.is_some()
    }

    /// A node that may lead or be followed: answering, not loading, staying.
    pub fn usable(&self) -> bool {
        !self.terminating && self.node.as_ref().is_some_and(|n| !n.loading)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIMARY: &str = "# Server\r\nrun_id:abc\r\n# Replication\r\nrole:master\r\nconnected_slaves:2\r\n\
slave0:ip=10.0.0.2,port=6379,state=online,offset=150,lag=0\r\n\
slave1:ip=10.0.0.3,port=6379,state=online,offset=90,lag=1\r\n\
master_failover_state:no-failover\r\nmaster_replid:aaaa\r\nmaster_replid2:0000\r\n\
master_repl_offset:150\r\nsecond_repl_offset:-1\r\ntopology_epoch:4\r\ntopology_confirmed:1\r\n\
# Persistence\r\nloading:0\r\n# Keyspace\r\ndb0:keys=10,expires=0,avg_ttl=0\r\ndb3:keys=2,expires=1,avg_ttl=5\r\n";

    const REPLICA: &str = "# Replication\nrole:slave\nmaster_host:10.0.0.1\nmaster_port:6379\n\
master_link_status:up\nmaster_sync_in_progress:0\nslave_repl_offset:140\n\
master_failover_state:no-failover\nmaster_replid:aaaa\nmaster_repl_offset:140\n";

    #[test]
    fn a_primary_report_parses() {
        let f = NodeFacts::parse(PRIMARY);
        assert!(f.is_primary());
        assert_eq!(f.offset, 150);
        assert_eq!(f.epoch, 4);
        assert!(f.confirmed);
        assert_eq!(f.keys, 12);
        assert_eq!(f.replicas.get("10.0.0.3"), Some(&90));
        assert!(!f.failing_over && !f.loading);
    }

    #[test]
    fn a_replica_report_parses() {
        let f = NodeFacts::parse(REPLICA);
        assert_eq!(f.role, Some(NodeRole::Replica));
        assert!(f.follows("10.0.0.1"));
        assert!(f.link_up);
        assert!(f.fed(), "no last-IO figure: counted as fed (older nodes)");
        assert_eq!(f.offset, 140);
        assert_eq!(
            (f.epoch, f.confirmed),
            (0, false),
            "an older node: unconfirmed"
        );
    }

    #[test]
    fn a_link_without_traffic_is_not_fed() {
        let with =
            |secs: &str| NodeFacts::parse(&format!("{REPLICA}master_last_io_seconds_ago:{secs}\n"));
        assert!(with("0").fed());
        assert!(with(&FED_WITHIN_SECONDS.to_string()).fed());
        let silent = with(&(FED_WITHIN_SECONDS + 1).to_string());
        assert!(silent.link_up && !silent.fed(), "up, but nothing came in");
        assert_eq!(with("-1").last_io_secs, None);
    }

    #[test]
    fn a_syncing_replica_has_no_working_link() {
        let f = NodeFacts::parse(
            &REPLICA.replace("master_sync_in_progress:0", "master_sync_in_progress:1"),
        );
        assert!(!f.link_up);
        let f = NodeFacts::parse("role:slave\nmaster_link_status:down\n");
        assert!(!f.link_up);
        assert_eq!(f.offset, -1, "no offset reported: nothing held");
    }
}
