//! `observe`: the facts of each pod of a shard, from the pod objects and from
//! the node in each pod over RESP (its pod IP, the RESP port, the cluster's
//! password). Every node is asked at once, each within a bound, so one silent
//! node costs the step one timeout, not one per node.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::facts::{Member, NodeFacts};
use crate::builders::names;
use crate::constants::{labels, RESP_PORT};
use crate::reconcile::status::pod_ready;
use crate::resp::{Connection, Reply, RespError};

/// Bound on connecting to a node: a pod on a live host answers in
/// milliseconds; a partitioned one must not hold the step.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Bound on the whole exchange with one node.
const EXCHANGE_TIMEOUT: Duration = Duration::from_millis(2000);
/// The label the StatefulSet controller puts on each pod with its revision.
const REVISION_LABEL: &str = "controller-revision-hash";

/// The members of shard `index`, by ordinal.
pub async fn shard(
    cluster: &str,
    index: i32,
    pods: &[Pod],
    statefulset: Option<&StatefulSet>,
    password: Option<&str>,
    live: &[&str],
    cluster_mode: bool,
) -> Vec<Member> {
    let shard_label = index.to_string();
    let update_revision = statefulset
        .and_then(|s| s.status.as_ref())
        .and_then(|s| s.update_revision.clone());
    let mut members: Vec<Member> = pods
        .iter()
        .filter(|p| p.labels().get(labels::SHARD) == Some(&shard_label))
        .filter_map(|p| member(p, cluster, index, update_revision.as_deref()))
        .collect();
    members.sort_by_key(|m| m.ordinal);
    let reports = futures::future::join_all(members.iter().map(|m| async move {
        // A pod is asked once it has an IP and runs (see `member`).
        match &m.ip {
            Some(ip) => query(ip, password, live, cluster_mode).await.ok(),
            None => None,
        }
    }))
    .await;
    for (m, node) in members.iter_mut().zip(reports) {
        m.node = node;
    }
    members
}

fn member(pod: &Pod, cluster: &str, shard: i32, update_revision: Option<&str>) -> Option<Member> {
    let name = pod.name_any();
    let ordinal = names::ordinal(cluster, shard, &name)?;
    let status = pod.status.as_ref();
    let phase_running = status.and_then(|s| s.phase.as_deref()) == Some("Running");
    let ready = pod_ready(pod);
    let labels = pod.labels();
    Some(Member {
        pod: name,
        ordinal,
        ip: status
            .and_then(|s| s.pod_ip.clone())
            .filter(|ip| !ip.is_empty() && phase_running),
        ready,
        terminating: pod.metadata.deletion_timestamp.is_some(),
        updated: match (update_revision, labels.get(REVISION_LABEL)) {
            (Some(want), Some(have)) => want == have,
            // No revision known yet: nothing to roll.
            _ => true,
        },
        role_label: labels.get(labels::ROLE).cloned(),
        reader_label: labels.get(labels::READER).map(String::as_str) == Some("true"),
        node: None,
    })
}

/// Connects to a node and asks for its report, with the values of the
/// `live` parameters and of `min-replicas-to-write`.
pub async fn query(
    ip: &str,
    password: Option<&str>,
    live: &[&str],
    cluster: bool,
) -> Result<NodeFacts, RespError> {
    let mut conn = connect(ip, password).await?;
    timeout(EXCHANGE_TIMEOUT, async {
        let info = conn
            .ok(&["INFO", "replication", "persistence", "keyspace"])
            .await?;
        let mut facts = NodeFacts::parse(&info.text().unwrap_or_default());
        let mut get = vec!["CONFIG", "GET", "min-replicas-to-write"];
        get.extend_from_slice(live);
        let mut config = config_pairs(&conn.ok(&get).await?);
        if facts.is_primary() {
            facts.min_replicas_to_write = config
                .get("min-replicas-to-write")
                .and_then(|v| v.parse().ok());
        }
        config.remove("min-replicas-to-write");
        facts.config = config;
        if cluster {
            facts.node_id = conn
                .ok(&["CLUSTER", "MYID"])
                .await?
                .text()
                .filter(|id| id.len() == 40);
        }
        Ok(facts)
    })
    .await
    .map_err(|_| timed_out())?
}

/// An authenticated connection to the node at `ip`.
pub async fn connect(ip: &str, password: Option<&str>) -> Result<Connection<TcpStream>, RespError> {
    let addr = if ip.contains(':') {
        format!("[{ip}]:{RESP_PORT}")
    } else {
        format!("{ip}:{RESP_PORT}")
    };
    let stream = timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr))
        .await
        .map_err(|_| timed_out())??;
    stream.set_nodelay(true)?;
    let mut conn = Connection::new(stream);
    if let Some(password) = password {
        timeout(EXCHANGE_TIMEOUT, conn.ok(&["AUTH", password]))
            .await
            .map_err(|_| timed_out())??;
    }
    Ok(conn)
}

pub(super) fn timed_out() -> RespError {
    RespError::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "node did not answer in time",
    ))
}

/// The `name value` pairs of a `CONFIG GET` reply (a flat array in RESP2).
fn config_pairs(reply: &Reply) -> BTreeMap<String, String> {
    match reply {
        Reply::Array(Some(items)) => items
            .chunks_exact(2)
            .filter_map(|kv| Some((kv[0].text()?, kv[1].text()?)))
            .collect(),
        _ => BTreeMap::new(),
    }
}
