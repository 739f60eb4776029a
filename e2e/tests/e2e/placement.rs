//! Where a shard's pods land: on a cluster of three zones (the local cluster's
//! default, and kind's in `hack/e2e/kind.yaml`), the default zone spread puts
//! a primary and two replicas in three different zones.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use k8s_openapi::api::core::v1::{Node, Pod};
use kcache_e2e::{manifests, wait, Scenario};
use kcache_operator::builders::names;
use kcache_operator::crd::CacheCluster;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

const ZONE: &str = "topology.kubernetes.io/zone";
/// Pods start in seconds on an idle machine; this allows for a busy one.
const READY_DEADLINE: Duration = Duration::from_secs(300);

#[tokio::test]
#[ignore = "needs a Kubernetes cluster in KUBECONFIG: make e2e-local or make e2e"]
async fn a_shard_of_three_pods_spreads_over_three_zones() -> Result<()> {
    Scenario::run("zones", |s| async move {
        let nodes: Api<Node> = Api::all(s.client.clone());
        let zone_of: BTreeMap<String, String> = nodes
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .filter_map(|n| Some((n.name_any(), n.labels().get(ZONE)?.clone())))
            .collect();
        let zones: BTreeSet<&String> = zone_of.values().collect();
        if zones.len() < 3 {
            eprintln!("[zones] skipped: the cluster's nodes are in {} zones, not 3", zones.len());
            return Ok(());
        }

        let name = "spread";
        let clusters: Api<CacheCluster> = s.api();
        let cc: CacheCluster = serde_json::from_value(json!({
            "apiVersion": "kcache.io/v1alpha1",
            "kind": "CacheCluster",
            "metadata": { "name": name },
            "spec": {
                "shards": 1,
                "replicasPerShard": 2,
                "resources": { "requests": { "cpu": "50m", "memory": "64Mi" }, "limits": { "memory": "128Mi" } }
            }
        }))?;
        clusters
            .patch(name, &PatchParams::apply(manifests::FIELD_MANAGER), &Patch::Apply(&cc))
            .await?;
        wait::cache_cluster_ready(&clusters, name, READY_DEADLINE).await?;

        let pods: Api<Pod> = s.api();
        let mut placed = BTreeMap::new();
        for ordinal in 0..3 {
            let pod = pods.get(&names::pod(name, 0, ordinal)).await?;
            let node = pod
                .spec
                .and_then(|spec| spec.node_name)
                .with_context(|| format!("{} is not scheduled", pod.metadata.name.unwrap_or_default()))?;
            let zone = zone_of.get(&node).with_context(|| format!("node {node} has no zone"))?;
            placed.insert(names::pod(name, 0, ordinal), format!("{node} in {zone}"));
        }
        let used: BTreeSet<&str> = placed.values().filter_map(|p| p.rsplit(' ').next()).collect();
        ensure!(used.len() == 3, "the shard's pods share a zone: {placed:?}");
        eprintln!("[zones] {placed:?}");
        Ok(())
    })
    .await
}
