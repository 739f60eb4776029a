//! `CacheCluster` spec: what a user asks for. Every `///` here becomes the
//! description of the field in the CRD, so it is written for users.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::sections::*;
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
    printcolumn(name = "Primary", type_ = "string", json_path = ".status.shards[0].primary", description = "Primary pod (of the first shard)"),
    printcolumn(name = "Epoch", type_ = "integer", json_path = ".status.topologyEpoch", priority = 1, description = "Topology epoch"),
    printcolumn(name = "Endpoint", type_ = "string", json_path = ".status.endpoints.primary", priority = 1, description = "Primary (write) endpoint"),
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

    /// Weekly window, in UTC, in which changes that restart nodes roll out
    /// (image or version, resources, placement, the parameters a node reads
    /// only at start), in ElastiCache's format `ddd:hh24:mi-ddd:hh24:mi`, for
    /// example `sun:23:00-mon:01:30`. Outside it those changes wait and
    /// `status.currentOperation` says until when; a roll that has not finished
    /// when the window closes resumes when it opens again. Changes applied
    /// live (most parameters, `maxMemory`, `evictionPolicy`), scaling,
    /// failovers and switchovers never wait. Absent: changes roll at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::maintenance::PATTERN))]
    pub maintenance_window: Option<String>,

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
