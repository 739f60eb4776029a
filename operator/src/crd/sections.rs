//! The sub-sections of a `CacheCluster` spec: persistence, auth, TLS, placement,
//! failover, disruption and Services. As in spec.rs, every `///` is the CRD's
//! description of the field.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, Toleration};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Durability of the data on each node.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, Default, PartialEq)]
#[x_kube(validation = Rule::new("(self.mode == 'none') == (oldSelf.mode == 'none')").message("persistence cannot be switched on or off on an existing cluster: the volume claim templates of a StatefulSet are immutable"))]
#[x_kube(validation = Rule::new("!has(self.schedule) || self.mode == 'snapshot'").message("persistence.schedule applies only to mode snapshot"))]
#[serde(rename_all = "camelCase")]
pub struct PersistenceSpec {
    /// `none`: memory only (data lives in an emptyDir and is lost with the pod);
    /// `snapshot`: point-in-time snapshots to a PersistentVolume; `aof`: an
    /// append-only log of every write (see the `appendfsync` parameter).
    #[serde(default)]
    pub mode: PersistenceMode,

    /// Snapshot save points for mode `snapshot`: pairs of `seconds changes` (take a
    /// snapshot when at least `changes` writes happened within `seconds`), as in
    /// redis.conf's `save`. Defaults to `3600 1 300 100 60 10000`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+ [0-9]+( [0-9]+ [0-9]+)*$"))]
    pub schedule: Option<String>,

    /// Volume of each node for modes `snapshot` and `aof`. Immutable.
    #[serde(default)]
    pub storage: StorageSpec,

    /// What happens to the volumes when the CacheCluster is deleted: `Retain`
    /// keeps the PersistentVolumeClaims, `Delete` removes them.
    #[serde(default)]
    pub reclaim_policy: ReclaimPolicy,
}

/// Persistence modes.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PersistenceMode {
    /// No persistence.
    #[default]
    None,
    /// Periodic snapshots.
    Snapshot,
    /// Append-only file.
    Aof,
}

/// PersistentVolumeClaim template of each node.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("self == oldSelf").message("persistence.storage is immutable: the volume claim templates of a StatefulSet cannot change"))]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Size of each node's volume.
    #[serde(default = "default_storage_size")]
    pub size: Quantity,

    /// StorageClass of the volumes; the cluster's default class when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

impl Default for StorageSpec {
    fn default() -> Self {
        Self {
            size: default_storage_size(),
            storage_class_name: None,
        }
    }
}

fn default_storage_size() -> Quantity {
    Quantity("1Gi".into())
}

/// Fate of the PersistentVolumeClaims when the CacheCluster is deleted.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReclaimPolicy {
    /// Keep the claims (and so the data).
    #[default]
    Retain,
    /// Delete the claims with the cluster.
    Delete,
}

/// Password authentication.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("!has(self.passwordSecret) || self.enabled").message("auth.passwordSecret is set but auth.enabled is false"))]
#[serde(rename_all = "camelCase")]
pub struct AuthSpec {
    /// Require a password from clients (`AUTH`). On by default.
    #[serde(default = "default_true")]
    pub enabled: bool,

    /// Secret holding the password. When absent the operator generates a password
    /// into a Secret `<name>-auth` (key `password`) that it owns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<SecretKeyRef>,
}

impl Default for AuthSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            password_secret: None,
        }
    }
}

fn default_true() -> bool {
    true
}

/// A key of a Secret in the CacheCluster's namespace.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key in the Secret; `password` by default.
    #[serde(default = "default_password_key")]
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

fn default_password_key() -> String {
    crate::constants::PASSWORD_KEY.into()
}

/// TLS for client connections.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TlsSpec {
    /// Secret of type `kubernetes.io/tls` (keys `tls.crt`, `tls.key`, and `ca.crt`
    /// when clients must present certificates) in the CacheCluster's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,

    /// Require clients to present a certificate signed by `ca.crt`.
    #[serde(default)]
    pub client_auth: bool,
}

/// Scheduling of the pods.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PlacementSpec {
    /// Spread the pods of each shard across zones (`topology.kubernetes.io/zone`),
    /// so that losing a zone leaves each shard a node.
    #[serde(default)]
    pub zone_spread: ZoneSpreadSpec,

    /// Node labels the pods must match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,

    /// Tolerations of the pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,

    /// Affinity of the pods, in addition to the zone spread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,

    /// PriorityClass of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
}

/// Topology spread of a shard's pods across zones.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ZoneSpreadSpec {
    /// Spread the pods of each shard across zones. On by default.
    #[serde(default = "default_true")]
    pub enabled: bool,

    /// Largest allowed difference in a shard's pod count between two zones.
    #[serde(default = "default_max_skew")]
    #[schemars(range(min = 1, max = 6))]
    pub max_skew: i32,

    /// Refuse to schedule a pod that would break the spread (`DoNotSchedule`), or
    /// prefer the spread only (`ScheduleAnyway`, the default: a cluster with a
    /// single zone still runs).
    #[serde(default)]
    pub when_unsatisfiable: WhenUnsatisfiable,
}

impl Default for ZoneSpreadSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            max_skew: default_max_skew(),
            when_unsatisfiable: WhenUnsatisfiable::default(),
        }
    }
}

fn default_max_skew() -> i32 {
    1
}

/// `whenUnsatisfiable` of a topology spread constraint.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WhenUnsatisfiable {
    DoNotSchedule,
    #[default]
    ScheduleAnyway,
}

impl WhenUnsatisfiable {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DoNotSchedule => "DoNotSchedule",
            Self::ScheduleAnyway => "ScheduleAnyway",
        }
    }
}

/// Replacement of a failed primary.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FailoverSpec {
    /// Promote a replica when a primary fails. On by default.
    #[serde(default = "default_true")]
    pub automatic: bool,

    /// Seconds a primary must be unreachable before a replica replaces it.
    #[serde(default = "default_detection_seconds")]
    #[schemars(range(min = 1, max = 300))]
    pub detection_seconds: i32,

    /// A primary refuses writes unless at least this many replicas are connected
    /// with a lag of at most `maxLagSeconds` (`min-replicas-to-write`). 0 turns the
    /// check off.
    #[serde(default)]
    #[schemars(range(min = 0, max = 5))]
    pub min_replicas_to_write: i32,

    /// Largest replication lag, in seconds, of a replica counted by
    /// `minReplicasToWrite` (`min-replicas-max-lag`): bounds the writes a cut-off
    /// primary can accept and so can lose.
    #[serde(default = "default_max_lag")]
    #[schemars(range(min = 1, max = 3600))]
    pub max_lag_seconds: i32,
}

impl Default for FailoverSpec {
    fn default() -> Self {
        Self {
            automatic: true,
            detection_seconds: default_detection_seconds(),
            min_replicas_to_write: 0,
            max_lag_seconds: default_max_lag(),
        }
    }
}

fn default_detection_seconds() -> i32 {
    10
}
fn default_max_lag() -> i32 {
    10
}

/// PodDisruptionBudget of each shard.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DisruptionSpec {
    /// Create a PodDisruptionBudget per shard. On by default; turning it off
    /// deletes the budgets.
    #[serde(default = "default_true")]
    pub enabled: bool,

    /// Pods of a shard that a voluntary disruption may take down at once.
    #[serde(default = "default_max_unavailable")]
    #[schemars(range(min = 1, max = 6))]
    pub max_unavailable: i32,

    /// `AlwaysAllow` (default) lets a drain evict a pod that is already unhealthy,
    /// so a crashing pod never blocks node maintenance; `IfHealthyBudget` evicts
    /// it only while the budget holds.
    #[serde(default)]
    pub unhealthy_pod_eviction_policy: UnhealthyPodEvictionPolicy,
}

impl Default for DisruptionSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            max_unavailable: default_max_unavailable(),
            unhealthy_pod_eviction_policy: UnhealthyPodEvictionPolicy::default(),
        }
    }
}

fn default_max_unavailable() -> i32 {
    1
}

/// `unhealthyPodEvictionPolicy` of a PodDisruptionBudget.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnhealthyPodEvictionPolicy {
    #[default]
    AlwaysAllow,
    IfHealthyBudget,
}

impl UnhealthyPodEvictionPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AlwaysAllow => "AlwaysAllow",
            Self::IfHealthyBudget => "IfHealthyBudget",
        }
    }
}

/// Endpoint Services.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Service type of the endpoint Services.
    #[serde(default, rename = "type")]
    pub type_: ServiceType,

    /// Annotations of the endpoint Services (for example for a cloud load balancer).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Kubernetes Service types offered for the endpoints.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ServiceType {
    #[default]
    ClusterIP,
    NodePort,
    LoadBalancer,
}

impl ServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClusterIP => "ClusterIP",
            Self::NodePort => "NodePort",
            Self::LoadBalancer => "LoadBalancer",
        }
    }
}
