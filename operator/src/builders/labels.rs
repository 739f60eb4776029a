//! Label sets of the objects and the selectors over them.

use std::collections::BTreeMap;

use crate::constants::labels::*;

pub type Labels = BTreeMap<String, String>;

/// Labels of every object of a cluster.
pub fn common(cluster: &str) -> Labels {
    [
        (NAME, NAME_VALUE),
        (INSTANCE, cluster),
        (MANAGED_BY, crate::constants::CONTROLLER_NAME),
        (PART_OF, NAME_VALUE),
        (CLUSTER, cluster),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Labels of a shard's objects and pods.
pub fn shard(cluster: &str, shard: i32) -> Labels {
    let mut labels = common(cluster);
    labels.insert(COMPONENT.into(), COMPONENT_NODE.into());
    labels.insert(SHARD.into(), shard.to_string());
    labels
}

/// Selects every node pod of a cluster (and its StatefulSets, which carry the
/// same labels). Kept small: a StatefulSet's selector can never change.
pub fn cluster_selector(cluster: &str) -> Labels {
    [(CLUSTER, cluster), (COMPONENT, COMPONENT_NODE)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Selects the pods of one shard.
pub fn shard_selector(cluster: &str, shard: i32) -> Labels {
    let mut labels = cluster_selector(cluster);
    labels.insert(SHARD.into(), shard.to_string());
    labels
}

/// Selects the pods holding a role (maintained on pods by the topology step).
pub fn role_selector(cluster: &str, role: &str) -> Labels {
    let mut labels = cluster_selector(cluster);
    labels.insert(ROLE.into(), role.into());
    labels
}

/// Selects the pods the reader Service routes to (in-sync replicas, or the
/// primary of a shard without one; maintained on pods by the topology step).
pub fn reader_selector(cluster: &str) -> Labels {
    let mut labels = cluster_selector(cluster);
    labels.insert(READER.into(), "true".into());
    labels
}

/// `k=v,k=v` form of a selector, for list calls.
pub fn selector_string(labels: &Labels) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_nest() {
        let cluster = cluster_selector("c");
        let shard = shard_selector("c", 2);
        assert!(cluster.iter().all(|(k, v)| shard.get(k) == Some(v)));
        assert_eq!(shard.get(SHARD).map(String::as_str), Some("2"));
        assert!(shard_labels_cover("c", 2));
        assert_eq!(
            selector_string(&cluster),
            "app.kubernetes.io/component=cache-node,kcache.io/cluster=c"
        );
    }

    /// A StatefulSet's pod labels must match its selector.
    fn shard_labels_cover(cluster: &str, i: i32) -> bool {
        let labels = super::shard(cluster, i);
        shard_selector(cluster, i)
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
    }
}
