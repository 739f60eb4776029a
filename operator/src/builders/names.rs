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

/// The ordinal of `pod` if it is a pod of that shard (the inverse of [`pod`]).
pub fn ordinal(cluster: &str, shard: i32, pod: &str) -> Option<i32> {
    pod.strip_prefix(&self::shard(cluster, shard))?
        .strip_prefix('-')?
        .parse()
        .ok()
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

#[cfg(test)]
mod tests {
    #[test]
    fn ordinal_inverts_pod_and_refuses_other_shards() {
        assert_eq!(super::ordinal("c", 1, &super::pod("c", 1, 4)), Some(4));
        assert_eq!(super::ordinal("c", 1, "c-shard-10-0"), None);
        assert_eq!(super::ordinal("c", 1, "c-shard-1"), None);
        assert_eq!(super::ordinal("c", 1, "c-shard-1-x"), None);
    }
}
