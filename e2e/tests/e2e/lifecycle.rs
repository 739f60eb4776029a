//! A CacheCluster's life: created from the README's example, Ready, serving, and
//! deleted with everything it owned.

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::NamespaceResourceScope;
use kcache_e2e::node::{cluster_password, connect_service, NodeConn};
use kcache_e2e::resp::Reply;
use kcache_e2e::writer::Writer;
use kcache_e2e::{manifests, wait, Scenario};
use kcache_operator::builders::names;
use kcache_operator::constants::labels::CLUSTER;
use kcache_operator::crd::CacheCluster;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tokio::sync::watch;

/// Pods start in seconds on an idle machine; this allows for a busy one.
const READY_DEADLINE: Duration = Duration::from_secs(300);
/// Pods stop after the preStop pause and their grace period.
const GONE_DEADLINE: Duration = Duration::from_secs(180);

#[tokio::test]
#[ignore = "needs a Kubernetes cluster in KUBECONFIG: make e2e-local or make e2e"]
async fn one_shard_one_replica_becomes_ready_and_serves() -> Result<()> {
    Scenario::run("serves", |s| async move {
        let path = s.settings.repo_root.join("examples/cachecluster.yaml");
        let example = manifests::load_file(&path)?;
        let cc = example
            .iter()
            .find(|o| o.types.as_ref().is_some_and(|t| t.kind == "CacheCluster"))
            .context("examples/cachecluster.yaml has no CacheCluster")?;
        manifests::apply(&s.client, &s.namespace, cc, false).await?;
        let name = cc.name_any();
        let clusters: Api<CacheCluster> = s.api();
        let ready = wait::cache_cluster_ready(&clusters, &name, READY_DEADLINE).await?;
        ensure!(
            ready.spec.shards == 1 && ready.spec.replicas_per_shard == 1,
            "not the 1x1 example"
        );
        let status = ready.status.clone().unwrap_or_default();
        ensure!(
            status.ready.as_deref() == Some("2/2"),
            "status.ready {:?}",
            status.ready
        );
        let shard = status.shards.first().context("no shard in status")?;
        ensure!(
            shard.pods.len() == 2 && shard.pods.iter().all(|p| p.ready),
            "pods {:?}",
            shard.pods
        );
        let endpoints = status.endpoints.context("no endpoints in status")?;
        ensure!(
            endpoints.primary
                == format!(
                    "{}:6379",
                    names::service_host(&names::primary_service(&name), &s.namespace)
                ),
            "primary endpoint {}",
            endpoints.primary
        );

        let password = cluster_password(&s.client, &s.namespace, &ready).await?;
        ensure!(password.is_some(), "auth is on by default");
        let primary = shard.primary.clone().context("no primary in status")?;
        for pod in &shard.pods {
            // Without the password a node refuses commands.
            let mut anonymous = NodeConn::connect(&s.client, &s.namespace, &pod.name, None).await?;
            match anonymous.call(&["GET", "k"]).await? {
                Reply::Error(e) if e.starts_with("NOAUTH") => {}
                other => bail!("{}: GET without AUTH answered {other:?}", pod.name),
            }
            let mut node =
                NodeConn::connect(&s.client, &s.namespace, &pod.name, password.as_deref()).await?;
            ensure!(
                node.ok(&["PING"]).await?.text().as_deref() == Some("PONG"),
                "PING on {}",
                pod.name
            );
            // Only the primary takes writes; its replica refuses them.
            let set = node.call(&["SET", "greeting", pod.name.as_str()]).await?;
            if pod.name == primary {
                ensure!(
                    set.text().as_deref() == Some("OK"),
                    "SET on the primary: {set:?}"
                );
            } else {
                ensure!(
                    matches!(&set, Reply::Error(e) if e.starts_with("READONLY")),
                    "SET on replica {}: {set:?}",
                    pod.name
                );
            }
        }

        // The recording writer, through the primary Service as a client sees it:
        // every acknowledged write reads back.
        let writer = Writer::new("e2e", 300, Duration::from_secs(60));
        let (_stop_tx, stop) = watch::channel(false);
        let (client, ns, pw) = (s.client.clone(), s.namespace.clone(), password.clone());
        let service = names::primary_service(&name);
        let log = writer
            .run(
                || connect_service(&client, &ns, &service, pw.as_deref()),
                stop,
            )
            .await;
        ensure!(
            log.acked.len() == 300,
            "{} of 300 writes acknowledged: {:?}",
            log.acked.len(),
            log.failures.first()
        );
        let mut reader =
            NodeConn::connect(&s.client, &s.namespace, &primary, password.as_deref()).await?;
        let lost = log.lost(&mut reader).await?;
        ensure!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
        eprintln!(
            "300 writes in {:?}, longest gap {:?}, 0 lost",
            log.duration,
            log.longest_gap()
        );
        Ok(())
    })
    .await
}

#[tokio::test]
#[ignore = "needs a Kubernetes cluster in KUBECONFIG: make e2e-local or make e2e"]
async fn deleting_a_cluster_removes_what_it_owned() -> Result<()> {
    Scenario::run("delete", |s| async move {
        let name = "doomed";
        let clusters: Api<CacheCluster> = s.api();
        let cc: CacheCluster = serde_json::from_value(json!({
            "apiVersion": "kcache.io/v1alpha1",
            "kind": "CacheCluster",
            "metadata": { "name": name },
            "spec": {
                "shards": 1,
                "replicasPerShard": 0,
                "resources": { "requests": { "cpu": "50m", "memory": "64Mi" }, "limits": { "memory": "128Mi" } }
            }
        }))?;
        clusters
            .patch(name, &PatchParams::apply(manifests::FIELD_MANAGER), &Patch::Apply(&cc))
            .await?;
        let ready = wait::cache_cluster_ready(&clusters, name, READY_DEADLINE).await?;
        let uid = ready.uid().context("no uid")?;

        // Everything the operator made carries the cluster label and is owned by
        // the CacheCluster (pods through their StatefulSet).
        let selector = ListParams::default().labels(&format!("{CLUSTER}={name}"));
        let mut owned = Vec::new();
        owned.extend(owned_by::<StatefulSet>(&s, &selector, &uid, &[names::shard(name, 0)]).await?);
        let services = [
            names::shard(name, 0),
            names::primary_service(name),
            names::reader_service(name),
            names::configuration_service(name),
        ];
        owned.extend(owned_by::<Service>(&s, &selector, &uid, &services).await?);
        owned.extend(owned_by::<PodDisruptionBudget>(&s, &selector, &uid, &[names::shard(name, 0)]).await?);
        owned.extend(owned_by::<ConfigMap>(&s, &selector, &uid, &[names::configmap(name)]).await?);
        owned.extend(owned_by::<Secret>(&s, &selector, &uid, &[names::auth_secret(name)]).await?);
        let pods: Api<Pod> = s.api();
        let pod = pods.get(&names::pod(name, 0, 0)).await?;
        let pod_uid = pod.uid().context("pod without uid")?;

        clusters.delete(name, &DeleteParams::default()).await?;
        wait::deleted(&clusters, name, &uid, GONE_DEADLINE).await?;
        for (kind, object, object_uid) in &owned {
            match kind.as_str() {
                "StatefulSet" => wait::deleted(&s.api::<StatefulSet>(), object, object_uid, GONE_DEADLINE).await,
                "Service" => wait::deleted(&s.api::<Service>(), object, object_uid, GONE_DEADLINE).await,
                "PodDisruptionBudget" => {
                    wait::deleted(&s.api::<PodDisruptionBudget>(), object, object_uid, GONE_DEADLINE).await
                }
                "ConfigMap" => wait::deleted(&s.api::<ConfigMap>(), object, object_uid, GONE_DEADLINE).await,
                "Secret" => wait::deleted(&s.api::<Secret>(), object, object_uid, GONE_DEADLINE).await,
                other => bail!("unexpected kind {other}"),
            }
            .with_context(|| format!("{kind} {object} after the CacheCluster was deleted"))?;
        }
        wait::deleted(&pods, &pod.name_any(), &pod_uid, GONE_DEADLINE).await?;
        Ok(())
    })
    .await
}

/// The objects of kind `K` with the cluster's label: exactly `expected`, each
/// owned by (a controller reference to) the CacheCluster `uid`. Returns
/// `(kind, name, uid)` of each.
async fn owned_by<K>(
    s: &Scenario,
    selector: &ListParams,
    uid: &str,
    expected: &[String],
) -> Result<Vec<(String, String, String)>>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
{
    let kind = K::kind(&()).to_string();
    let list = s.api::<K>().list(selector).await?;
    let mut found: Vec<String> = list.iter().map(|o| o.name_any()).collect();
    found.sort();
    let mut want = expected.to_vec();
    want.sort();
    ensure!(found == want, "{kind}s {found:?}, expected {want:?}");
    list.iter()
        .map(|o| {
            let owner = o
                .owner_references()
                .iter()
                .find(|r| r.controller == Some(true))
                .with_context(|| format!("{kind} {} has no controller reference", o.name_any()))?;
            ensure!(
                owner.uid == uid && owner.kind == "CacheCluster",
                "{kind} {} is controlled by {} {}",
                o.name_any(),
                owner.kind,
                owner.name
            );
            Ok((kind.clone(), o.name_any(), o.uid().unwrap_or_default()))
        })
        .collect()
}
