//! Names, ports, labels and defaults shared by the builders, the reconciler and the chart.
//!
//! Everything the operator and the node agree on lives here, so that a change of a
//! port or a label is a change of one line.

/// API group of the CacheCluster resource.
pub const API_GROUP: &str = "kcache.io";

/// Field manager of every server-side apply the operator sends, status included.
/// One manager means the operator owns exactly the fields it last applied, and a
/// field it stops sending is removed by the API server.
pub const FIELD_MANAGER: &str = "kcache-operator";

/// Reporter name of the operator's Events.
pub const CONTROLLER_NAME: &str = "kcache-operator";

/// RESP port of every node.
pub const RESP_PORT: i32 = 6379;
/// HTTP port of every node: `/healthz`, `/readyz`, `/metrics`.
pub const HTTP_PORT: i32 = 9121;
/// Named ports, so that probes and Services do not repeat numbers.
pub const RESP_PORT_NAME: &str = "resp";
pub const HTTP_PORT_NAME: &str = "http";

/// Container name of the node in every pod.
pub const NODE_CONTAINER: &str = "node";
/// Image used when the spec names neither `image` nor `version`; the operator's
/// `--node-image` flag overrides it.
pub const DEFAULT_NODE_IMAGE: &str = "kcache-node:dev";

/// Where the rendered config file is mounted, and its key in the ConfigMap.
pub const CONFIG_DIR: &str = "/etc/kcache";
pub const CONFIG_KEY: &str = "kcache.conf";
/// Where the TLS Secret is mounted (outside CONFIG_DIR: nested mounts of a
/// ConfigMap and a Secret would shadow each other on update).
pub const TLS_DIR: &str = "/etc/kcache-tls";
/// Data directory (snapshots, AOF), a PVC or an emptyDir.
pub const DATA_DIR: &str = "/data";
/// Scratch space, since the root filesystem is read-only.
pub const TMP_DIR: &str = "/tmp";

/// Environment variable the node reads its password from (never the ConfigMap).
pub const ENV_REQUIREPASS: &str = "KCACHE_REQUIREPASS";
/// Environment variable the node uses to authenticate to its primary.
pub const ENV_MASTERAUTH: &str = "KCACHE_MASTERAUTH";
/// Key of the password in an operator-generated auth Secret (and the default key
/// of a user-supplied one).
pub const PASSWORD_KEY: &str = "password";

/// Non-root identity of the node process; matches the user of the images.
pub const NODE_UID: i64 = 65532;

/// Seconds the kubelet waits before SIGTERM, so that the operator sees a
/// terminating primary and hands its role over while it still serves.
pub const PRESTOP_SLEEP_SECONDS: i64 = 10;
/// Grace period: the preStop pause, a switchover, and a final snapshot on SIGTERM.
pub const TERMINATION_GRACE_SECONDS: i64 = 60;

/// `repl-ping-replica-period` the operator renders: a running primary sends
/// its replicas a byte at least this often, idle or not.
pub const REPL_PING_SECONDS: i64 = 1;
/// A replica whose primary sent nothing for longer than this is no longer fed
/// by it, even while the TCP link looks up (a frozen process, a lost machine):
/// a few ping periods, so that a busy node's late ping is not mistaken for one.
pub const FED_WITHIN_SECONDS: i64 = 3;

/// A topology step that keeps waiting this long (a replacement pod that never
/// gets ready or in sync, a budget that keeps refusing, a primary that cannot
/// be replaced) marks the cluster Degraded with reason `OperationStalled`.
pub const STEP_STALL_SECONDS: i64 = 600;

/// Share of the container memory limit given to `maxmemory` when the spec does
/// not set it: the rest is headroom for replication buffers, client buffers and
/// allocator fragmentation, as ElastiCache reserves memory outside the dataset.
pub const MAXMEMORY_PERCENT_OF_LIMIT: u64 = 75;

/// Default snapshot save points (`seconds changes` pairs), as redis.conf ships.
pub const DEFAULT_SAVE_POINTS: &str = "3600 1 300 100 60 10000";

/// Recommended labels (app.kubernetes.io) and the operator's own.
pub mod labels {
    pub const NAME: &str = "app.kubernetes.io/name";
    pub const INSTANCE: &str = "app.kubernetes.io/instance";
    pub const COMPONENT: &str = "app.kubernetes.io/component";
    pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
    pub const PART_OF: &str = "app.kubernetes.io/part-of";
    /// Name of the CacheCluster a pod or object belongs to.
    pub const CLUSTER: &str = "kcache.io/cluster";
    /// Shard index of a pod, StatefulSet, headless Service or PDB.
    pub const SHARD: &str = "kcache.io/shard";
    /// `primary` or `replica`; set on pods by the topology step, read by the
    /// primary and reader Services.
    pub const ROLE: &str = "kcache.io/role";

    /// `true` on the pods the reader Service routes to: in-sync replicas, and
    /// the primary while its shard has no ready replica. Set by the topology step.
    pub const READER: &str = "kcache.io/reader";
    pub const NAME_VALUE: &str = "kcache";
    pub const COMPONENT_NODE: &str = "cache-node";
    pub const ROLE_PRIMARY: &str = "primary";
    pub const ROLE_REPLICA: &str = "replica";
}

/// Annotations the operator sets.
pub mod annotations {
    /// Hash of the rendered config on the pod template: a config change becomes a
    /// new StatefulSet revision, which the topology step rolls out in order.
    pub const CONFIG_HASH: &str = "kcache.io/config-hash";
    /// On a CacheCluster: `<shard index>` asks for a planned switchover of that
    /// shard's primary to its most caught-up replica (a failover drill), and
    /// `<shard index>:<pod>` to that pod; removed once it has started.
    pub const SWITCHOVER: &str = "kcache.io/switchover";
}
