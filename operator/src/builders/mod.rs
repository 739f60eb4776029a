//! `build`: the desired Kubernetes objects of a validated cluster, one builder per
//! kind. Pure functions of [`Validated`], so every object is unit-tested without
//! an API server.

pub mod configmap;
pub mod labels;
pub mod names;
pub mod pdb;
pub mod pod;
pub mod secret;
pub mod service;
pub mod statefulset;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

use crate::reconcile::validate::Validated;

/// Every object a cluster needs, in the order they are applied: the auth Secret
/// and the config before the pods that mount them, the headless Services before
/// the StatefulSets that name them, the budgets last.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    pub secret: Option<Secret>,
    pub configmap: ConfigMap,
    pub headless_services: Vec<Service>,
    pub endpoint_services: Vec<Service>,
    pub statefulsets: Vec<StatefulSet>,
    pub pdbs: Vec<PodDisruptionBudget>,
}

pub fn build(v: &Validated) -> Desired {
    let configmap = configmap::build(v);
    let config_hash = configmap::hash(v);
    let shards = 0..v.spec.shards;
    Desired {
        secret: secret::build(v),
        headless_services: shards.clone().map(|i| service::headless(v, i)).collect(),
        endpoint_services: service::endpoints(v),
        statefulsets: shards
            .clone()
            .map(|i| statefulset::build(v, i, &config_hash))
            .collect(),
        pdbs: if v.spec.disruption.enabled {
            shards.map(|i| pdb::build(v, i)).collect()
        } else {
            Vec::new()
        },
        configmap,
    }
}

/// Metadata of an object owned by the cluster: name, namespace, labels and the
/// controller reference that makes deletion cascade.
pub fn owned_meta(v: &Validated, name: String, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(v.namespace.clone()),
        labels: Some(labels),
        owner_references: Some(vec![v.owner.clone()]),
        ..ObjectMeta::default()
    }
}

#[cfg(test)]
pub mod fixtures;

#[cfg(test)]
mod tests {
    use super::fixtures::validated;

    #[test]
    fn builds_one_of_each_per_shard() {
        let v = validated(
            r#"
            shards: 3
            replicasPerShard: 2
            "#,
        );
        let d = super::build(&v);
        assert_eq!(d.statefulsets.len(), 3);
        assert_eq!(d.headless_services.len(), 3);
        assert_eq!(d.pdbs.len(), 3);
        assert_eq!(d.endpoint_services.len(), 3);
        assert!(d.secret.is_some(), "auth defaults to a generated Secret");
    }

    #[test]
    fn disruption_disabled_builds_no_budgets() {
        let v = validated("disruption: {enabled: false}");
        assert!(super::build(&v).pdbs.is_empty());
    }
}
