//! `CacheCluster` spec: what a user asks for. Every `///` here becomes the
//! description of the field in the CRD, so it is written for users.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, ResourceRequirements, Toleration};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::status::CacheClusterStatus;

/// A Redis-compatible cache: one or more shards, each a primary with replicas,
/// run by kcache-operator as StatefulSets with Services and disruption budgets.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "kcache.io",
    version = "v1alpha1",
    kind = "CacheCluster",
    plural = "cacheclusters",
    shortname = "cc",
    category = "kcache",
    namespaced,
    status = "CacheClusterStatus",
    derive = "PartialEq",
    doc = "A Redis-compatible cache cluster managed by kcache-operator.",
    validation = Rule::new("size(self.metadata.name) <= 40").message("metadata.name must be at most 40 characters: StatefulSet, pod and Service names add shard and ordinal suffixes to it"),
    validation = Rule::new("self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')").message("metadata.name must start with a letter and contain only lower-case letters, digits and '-' (it names Services)"),
    printcolumn(name = "Shards", type_ = "integer", json_path = ".spec.shards", description = "Number of shards"),
    printcolumn(name = "Replicas", type_ = "integer", json_path = ".spec.replicasPerShard", description = "Replicas per shard"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.ready", description = "Ready pods of all pods"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Primary", type_ = "string", json_path = ".status.endpoints.primary", description = "Primary (write) endpoint"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new("!has(self.image) || !has(self.version)").message("set either image (a full image reference) or version (a tag of the operator's default node image), not both"))]
#[x_kube(validation = Rule::new("!has(self.failover) || !has(self.failover.minReplicasToWrite) || self.failover.minReplicasToWrite <= (has(self.replicasPerShard) ? self.replicasPerShard : 1)").message("failover.minReplicasToWrite cannot exceed replicasPerShard: every write would be refused"))]
#[x_kube(validation = Rule::new("(self.shards == 1) == (oldSelf.shards == 1)").message("shards cannot change between 1 (cluster mode disabled) and more than 1 (cluster mode enabled); create a new CacheCluster instead"))]
#[serde(rename_all = "camelCase")]
pub struct CacheClusterSpec {
    /// Cache engine. `redis` is served by kcache-node; `memcached` is accepted but not
    /// supported yet (the cluster reports it in its Ready condition). Immutable.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("engine is immutable; create a new CacheCluster to change engines"))]
    pub engine: Engine,

    /// Full node image reference (for example `registry.example/kcache-node:1.2.0`).
    /// Defaults to the operator's node image. Mutually exclusive with `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,

    /// Tag of the operator's default node image to run (for example `1.2.0`).
    /// Mutually exclusive with `image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 128),
        regex(pattern = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
    )]
    pub version: Option<String>,

    /// Image pull policy of the node containers (`Always`, `IfNotPresent`, `Never`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<PullPolicy>,

    /// Number of shards. 1 runs with cluster mode disabled (one primary holds every
    /// key, like an ElastiCache replication group); more than 1 enables cluster
    /// mode with the 16384 hash slots split across shards. Changing between 1 and
    /// more than 1 is not allowed.
    #[serde(default = "default_shards")]
    #[schemars(range(min = 1, max = 250))]
    pub shards: i32,

    /// Replicas per shard, in addition to the primary (0 to 5).
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0, max = 5))]
    pub replicas_per_shard: i32,

    /// CPU and memory requests and limits of each node container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Memory the dataset may use on each node (`maxmemory`), as a quantity such as
    /// `768Mi`. Defaults to 75% of the memory limit, leaving headroom for
    /// replication and client buffers; unlimited when there is no memory limit.
    /// Must not exceed the memory limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory: Option<Quantity>,

    /// What a node evicts when it reaches `maxMemory` (`maxmemory-policy`).
    #[serde(default)]
    pub eviction_policy: EvictionPolicy,

    /// Durability of the data on each node.
    #[serde(default)]
    pub persistence: PersistenceSpec,

    /// Password authentication for clients and replication.
    #[serde(default)]
    pub auth: AuthSpec,

    /// TLS for client connections. Off when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSpec>,

    /// Where the pods run.
    #[serde(default)]
    pub placement: PlacementSpec,

    /// How a shard replaces a failed primary.
    #[serde(default)]
    pub failover: FailoverSpec,

    /// PodDisruptionBudget of each shard (voluntary disruptions such as node drains).
    #[serde(default)]
    pub disruption: DisruptionSpec,

    /// Node parameters (the parameter group), as in redis.conf: for example
    /// `timeout: "300"` or `notify-keyspace-events: Ex`. Values are strings. Only
    /// parameters the node knows and the operator does not set itself are
    /// allowed; see docs/cachecluster.md for the list.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "parameters_schema")]
    pub parameters: BTreeMap<String, String>,

    /// The endpoint Services (`<name>-primary`, `<name>-reader`, `<name>`).
    #[serde(default)]
    pub service: ServiceSpec,

    /// Stop reconciling this cluster, for maintenance by hand. Objects are left as
    /// they are; status reports the pause.
    #[serde(default)]
    pub paused: bool,
}

fn default_shards() -> i32 {
    1
}
fn default_replicas() -> i32 {
    1
}

/// Cache engine.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// Redis protocol, served by kcache-node.
    #[default]
    Redis,
    /// Memcached protocol (not supported yet).
    Memcached,
}

/// Kubernetes image pull policy.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl PullPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::IfNotPresent => "IfNotPresent",
            Self::Never => "Never",
        }
    }
}

/// `maxmemory-policy` values.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum EvictionPolicy {
    /// Refuse writes that need memory.
    Noeviction,
    /// Evict any key, least recently used first.
    AllkeysLru,
    /// Evict any key, least frequently used first.
    AllkeysLfu,
    /// Evict any key at random.
    AllkeysRandom,
    /// Evict keys with a TTL, least recently used first (ElastiCache's default).
    #[default]
    VolatileLru,
    /// Evict keys with a TTL, least frequently used first.
    VolatileLfu,
    /// Evict keys with a TTL at random.
    VolatileRandom,
    /// Evict keys with a TTL, nearest expiry first.
    VolatileTtl,
}

impl EvictionPolicy {
    /// The value as redis.conf spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Noeviction => "noeviction",
            Self::AllkeysLru => "allkeys-lru",
            Self::AllkeysLfu => "allkeys-lfu",
            Self::AllkeysRandom => "allkeys-random",
            Self::VolatileLru => "volatile-lru",
            Self::VolatileLfu => "volatile-lfu",
            Self::VolatileRandom => "volatile-random",
            Self::VolatileTtl => "volatile-ttl",
        }
    }
}

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
    /// Create a PodDisruptionBudget per shard. On by default.
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

/// Schema of `parameters`: one string property per allowed parameter, generated
/// from the operator's table, so that the API server prunes (and `kubectl apply`
/// with strict field validation refuses) names the node does not know, and checks
/// the shape of each value. Numeric ranges are checked by the operator.
fn parameters_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let properties: serde_json::Map<String, serde_json::Value> = crate::parameters::ALLOWED
        .iter()
        .map(|p| (p.name.to_string(), crate::parameters::value_schema(p)))
        .collect();
    schemars::json_schema!({
        "type": "object",
        "properties": properties,
    })
}
