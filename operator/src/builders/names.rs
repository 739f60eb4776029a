//! Names of the objects of a cluster, in one place so that builders, status and
//! the topology step agree.

/// Longest cluster name: `<name>-shard-<250>` plus the StatefulSet controller's
/// `-<ordinal>` and 11-character revision suffix must fit in a 63-character label.
pub const MAX_CLUSTER_NAME: usize = 40;

/// StatefulSet, headless Service and PodDisruptionBudget of a shard.
pub fn shard(cluster: &str, shard: i32) -> String {
    format!("{cluster}-shard-{shard}")
}

/// Pod `ordinal` of a shard.
pub fn pod(cluster: &str, shard: i32, ordinal: i32) -> String {
    format!("{}-{ordinal}", self::shard(cluster, shard))
}

pub fn configmap(cluster: &str) -> String {
    format!("{cluster}-config")
}

/// Secret holding the password the operator generates.
pub fn auth_secret(cluster: &str) -> String {
    format!("{cluster}-auth")
}

/// Write endpoint (cluster mode disabled).
pub fn primary_service(cluster: &str) -> String {
    format!("{cluster}-primary")
}

/// Read endpoint over the replicas.
pub fn reader_service(cluster: &str) -> String {
    format!("{cluster}-reader")
}

/// Configuration endpoint over every pod, for cluster-aware clients.
pub fn configuration_service(cluster: &str) -> String {
    cluster.to_string()
}

/// In-cluster DNS name of a Service.
pub fn service_host(service: &str, namespace: &str) -> String {
    format!("{service}.{namespace}.svc")
}
