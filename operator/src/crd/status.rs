//! `CacheCluster` status: what the operator observed, recomputed at every reconcile.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state of a CacheCluster.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CacheClusterStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Summary of the conditions: Pending, Creating, Running, Updating, Degraded,
    /// Invalid or Paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,

    /// Ready pods out of the pods the spec asks for, as `ready/desired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<String>,

    /// `Ready`: every shard serves with all its pods. `Progressing`: objects or
    /// pods are still converging to the spec. `Degraded`: running below the spec,
    /// or the spec cannot be applied. Reasons are CamelCase words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// Client endpoints (`host:port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Endpoints>,

    /// One entry per shard, in shard order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardStatus>,

    /// Topology epoch the nodes were last given (set by the topology step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_epoch: Option<i64>,

    /// Cluster mode: a digest of the cluster map the nodes were last given
    /// (with `topologyEpoch`), so that an unchanged map is not sent again
    /// under a new epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_map: Option<String>,

    /// The most recent failover or switchover (set by the topology step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failover: Option<FailoverRecord>,

    /// What the operator is doing or waiting for, when anything (a failover
    /// waiting for its detection time, a switchover, a rolling update with its
    /// progress), one line per shard concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_operation: Option<String>,
}

/// Phase of a CacheCluster.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Accepted, nothing applied yet.
    Pending,
    /// Objects applied, pods are starting for the first time.
    Creating,
    /// Every pod is ready and up to date.
    Running,
    /// Pods are being replaced or added after a spec change.
    Updating,
    /// Some pods are not ready after the cluster had been running.
    Degraded,
    /// The spec cannot be applied; see the Ready condition.
    Invalid,
    /// `spec.paused` is set.
    Paused,
}

/// Client endpoints.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    /// Writes: `<name>-primary.<namespace>.svc:<port>` (cluster mode disabled).
    pub primary: String,
    /// Reads from replicas: `<name>-reader.<namespace>.svc:<port>`.
    pub reader: String,
    /// Cluster-aware clients bootstrap here: `<name>.<namespace>.svc:<port>`.
    pub configuration: String,
}

/// Observed state of one shard.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ShardStatus {
    /// Shard index, from 0.
    pub index: i32,
    /// Name of the shard's StatefulSet.
    pub stateful_set: String,
    /// Pods the spec asks for (primary and replicas).
    pub replicas: i32,
    /// Pods passing their readiness probe.
    pub ready_replicas: i32,
    /// Pods running the StatefulSet's newest revision.
    pub updated_replicas: i32,
    /// The shard's pods, by ordinal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pods: Vec<PodStatus>,
    /// Pod that holds the primary role (set by the topology step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    /// Replication offset of the primary when last observed: a replica further
    /// behind than the shard ever was is never promoted over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_offset: Option<i64>,
    /// Since when the operator cannot reach the primary (automatic failover
    /// starts `failover.detectionSeconds` later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable_since: Option<Time>,
    /// Since when the operator has been waiting on this shard without a
    /// break (see `currentOperation`); past a bound the cluster is Degraded
    /// with reason `OperationStalled`, and the step keeps being retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_since: Option<Time>,
    /// Hash slot ranges served by the shard, like `0-5460` (set by the topology step).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slots: Vec<String>,
}

/// Observed state of one pod.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    /// Pod name.
    pub name: String,
    /// The pod's Ready condition.
    pub ready: bool,
    /// `primary` or `replica`, from the pod's role label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The pod runs the StatefulSet's newest revision.
    pub updated: bool,
    /// For a replica: `up` while its replication link works, else `down`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// For a replica: bytes of the replication stream it has not applied yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_bytes: Option<i64>,
}

/// A failover or switchover.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FailoverRecord {
    /// When the new primary took over.
    pub time: Time,
    /// Shard index.
    pub shard: i32,
    /// Previous primary pod.
    pub from: String,
    /// New primary pod.
    pub to: String,
    /// Why: `PrimaryUnreachable`, `PrimaryRestarted` (failovers), or
    /// `PodTerminating`, `ScaleDown`, `Requested`, `RollingUpdate` (switchovers).
    pub reason: String,
    /// Bytes of the replication stream the old primary had and the new one did
    /// not when it took over (0 for a switchover, which waits for the replica).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_gap: Option<i64>,
}
