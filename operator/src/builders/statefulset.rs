//! StatefulSet per shard, `<name>-shard-<i>`: pod `0..=replicasPerShard` of a shard,
//! with stable names through the shard's headless Service and, with persistence,
//! a volume each.

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::{labels, names, owned_meta, pod};
use crate::crd::ReclaimPolicy;
use crate::reconcile::validate::Validated;

/// Name of the data volume (and of its claim template).
pub const DATA_VOLUME: &str = "data";

pub fn build(v: &Validated, shard: i32, config_hash: &str) -> StatefulSet {
    let name = names::shard(&v.name, shard);
    let policy = match v.spec.persistence.reclaim_policy {
        ReclaimPolicy::Retain => "Retain",
        ReclaimPolicy::Delete => "Delete",
    };
    StatefulSet {
        metadata: owned_meta(v, name.clone(), labels::shard(&v.name, shard)),
        spec: Some(StatefulSetSpec {
            replicas: Some(v.statefulset_pods(shard)),
            service_name: Some(name),
            selector: LabelSelector {
                match_labels: Some(labels::shard_selector(&v.name, shard)),
                ..LabelSelector::default()
            },
            // Roles are the operator's decision, not the ordinal's: all pods may
            // start together.
            pod_management_policy: Some("Parallel".into()),
            // The operator replaces pods itself, replicas first and the primary
            // after a switchover; the StatefulSet controller must not.
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("OnDelete".into()),
                rolling_update: None,
            }),
            persistent_volume_claim_retention_policy: v.persistent().then(|| {
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some(policy.into()),
                    when_scaled: Some(policy.into()),
                }
            }),
            volume_claim_templates: v.persistent().then(|| vec![claim_template(v, shard)]),
            template: pod::template(v, shard, config_hash),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

fn claim_template(v: &Validated, shard: i32) -> PersistentVolumeClaim {
    let storage = &v.spec.persistence.storage;
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(DATA_VOLUME.into()),
            labels: Some(labels::shard(&v.name, shard)),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: storage.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some([("storage".to_string(), storage.size.clone())].into()),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::fixtures::validated;

    #[test]
    fn shard_statefulset_defaults() {
        let sts = build(&validated("replicasPerShard: 2"), 0, "abc");
        assert_eq!(sts.metadata.name.as_deref(), Some("demo-shard-0"));
        let spec = sts.spec.expect("spec");
        assert_eq!(spec.replicas, Some(3));
        assert_eq!(spec.service_name.as_deref(), Some("demo-shard-0"));
        assert_eq!(
            spec.update_strategy.and_then(|u| u.type_).as_deref(),
            Some("OnDelete")
        );
        assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
        assert!(spec.volume_claim_templates.is_none());
        assert!(spec.persistent_volume_claim_retention_policy.is_none());
        let selector = spec.selector.match_labels.expect("selector");
        let pod_labels = spec
            .template
            .metadata
            .and_then(|m| m.labels)
            .expect("labels");
        assert!(selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)));
    }

    #[test]
    fn persistence_adds_claims_with_the_reclaim_policy() {
        let v = validated(
            "persistence: {mode: aof, storage: {size: 5Gi, storageClassName: fast}, reclaimPolicy: Delete}",
        );
        let spec = build(&v, 0, "abc").spec.expect("spec");
        let claim = &spec.volume_claim_templates.expect("claims")[0];
        assert_eq!(claim.metadata.name.as_deref(), Some(DATA_VOLUME));
        let cspec = claim.spec.as_ref().expect("claim spec");
        assert_eq!(cspec.storage_class_name.as_deref(), Some("fast"));
        let size = cspec
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"));
        assert_eq!(size.map(|q| q.0.as_str()), Some("5Gi"));
        let retention = spec
            .persistent_volume_claim_retention_policy
            .expect("retention");
        assert_eq!(retention.when_deleted.as_deref(), Some("Delete"));
    }
}
