//! PodDisruptionBudget per shard: a drain takes at most `maxUnavailable` pods of a
//! shard at once, so a shard never loses its primary and its replicas together.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{labels, names, owned_meta};
use crate::reconcile::validate::Validated;

pub fn build(v: &Validated, shard: i32) -> PodDisruptionBudget {
    let disruption = &v.spec.disruption;
    PodDisruptionBudget {
        metadata: owned_meta(
            v,
            names::shard(&v.name, shard),
            labels::shard(&v.name, shard),
        ),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(disruption.max_unavailable)),
            selector: Some(LabelSelector {
                match_labels: Some(labels::shard_selector(&v.name, shard)),
                ..LabelSelector::default()
            }),
            unhealthy_pod_eviction_policy: Some(
                disruption.unhealthy_pod_eviction_policy.as_str().into(),
            ),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::fixtures::validated;

    #[test]
    fn one_pod_per_shard_and_unhealthy_pods_evictable_by_default() {
        let pdb = build(&validated("shards: 2"), 1);
        assert_eq!(pdb.metadata.name.as_deref(), Some("demo-shard-1"));
        let spec = pdb.spec.expect("spec");
        assert_eq!(spec.max_unavailable, Some(IntOrString::Int(1)));
        assert_eq!(
            spec.unhealthy_pod_eviction_policy.as_deref(),
            Some("AlwaysAllow")
        );
        let sel = spec
            .selector
            .and_then(|s| s.match_labels)
            .expect("selector");
        assert_eq!(sel, labels::shard_selector("demo", 1));
    }

    #[test]
    fn settings_come_from_the_spec() {
        let v = validated(
            "replicasPerShard: 3\ndisruption: {maxUnavailable: 2, unhealthyPodEvictionPolicy: IfHealthyBudget}",
        );
        let spec = build(&v, 0).spec.expect("spec");
        assert_eq!(spec.max_unavailable, Some(IntOrString::Int(2)));
        assert_eq!(
            spec.unhealthy_pod_eviction_policy.as_deref(),
            Some("IfHealthyBudget")
        );
    }
}
