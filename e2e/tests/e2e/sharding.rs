//! Cluster mode: shards, hash slots and the cluster map the operator pushes,
//! driven by a real cluster client (the `redis` crate's, in `kcache-load`)
//! running as a Job inside the cluster.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use kcache_e2e::{manifests, wait, Scenario};
use kcache_operator::builders::names;
use kcache_operator::crd::CacheCluster;
use kube::api::{Patch, PatchParams};
use kube::Api;
use serde_json::json;

const READY_DEADLINE: Duration = Duration::from_secs(300);

#[tokio::test]
#[ignore = "needs a Kubernetes cluster in KUBECONFIG: make e2e-local or make e2e"]
async fn a_sharded_cluster_serves_every_slot_to_a_cluster_client() -> Result<()> {
    Scenario::run("shards", |s| async move {
        let started = Instant::now();
        let name = "shards";
        let clusters: Api<CacheCluster> = s.api();
        let cc: CacheCluster = serde_json::from_value(json!({
            "apiVersion": "kcache.io/v1alpha1",
            "kind": "CacheCluster",
            "metadata": { "name": name },
            "spec": {
                "shards": 3,
                "replicasPerShard": 1,
                "resources": { "requests": { "cpu": "50m", "memory": "64Mi" }, "limits": { "memory": "192Mi" } },
                "failover": { "detectionSeconds": 5 },
            }
        }))?;
        clusters
            .patch(name, &PatchParams::apply(manifests::FIELD_MANAGER), &Patch::Apply(&cc))
            .await?;
        let ready = wait::cache_cluster_ready(&clusters, name, READY_DEADLINE).await?;
        let ready_in = started.elapsed();
        let status = ready.status.context("no status")?;
        let slots: Vec<Vec<String>> = status.shards.iter().map(|s| s.slots.clone()).collect();
        ensure!(
            slots == [vec!["0-5460"], vec!["5461-10922"], vec!["10923-16383"]],
            "slots {slots:?}"
        );
        ensure!(
            status.shards.iter().all(|s| s.primary.is_some()),
            "a shard without a primary: {:?}",
            status.shards
        );
        let secret = Some(names::auth_secret(name));
        let load = kcache_e2e::load::start(
            &s,
            "load",
            "--cluster",
            &format!("{}:6379", names::configuration_service(name)),
            secret.as_deref(),
            20,
            &["--workers", "2", "--keys", "3000"],
        )
        .await?;
        let report = load.finish(&s).await?;
        eprintln!(
            "[shards] Ready with 3 shards x 2 pods in {:.1} s, slots {slots:?}, epoch {:?}; cluster client: {} acknowledged writes over {} keys in {:.1} s, lost {}, wrong {}, unread {}, errors {:?}",
            ready_in.as_secs_f64(),
            status.topology_epoch,
            report.acked,
            report.keys,
            report.seconds,
            report.lost,
            report.wrong,
            report.unread,
            report.errors
        );
        ensure!(
            report.lost == 0 && report.wrong == 0 && report.unread == 0 && report.acked > 0,
            "{report:?}"
        );
        Ok(())
    })
    .await
}
