//! The chart, installed with this run's image overrides.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kcache_e2e::{operator, wait, Scenario};
use kcache_operator::crd::CacheCluster;
use kube::api::ListParams;
use kube::runtime::wait::conditions;
use kube::{Api, CustomResourceExt, ResourceExt};

#[tokio::test]
#[ignore = "needs a Kubernetes cluster in KUBECONFIG: make e2e-local or make e2e"]
async fn chart_installs_the_operator_with_image_overrides() -> Result<()> {
    Scenario::run("chart", |s| async move {
        let ns = &s.settings.release_namespace;
        let deployments: Api<Deployment> = Api::namespaced(s.client.clone(), ns);
        let name = operator::deployment_name(&s.settings);
        let deployment = deployments.get(&name).await.context("the operator Deployment")?;
        let spec = deployment.spec.clone().unwrap_or_default();
        let pod_spec = spec.template.spec.unwrap_or_default();
        let container = pod_spec.containers.first().context("no container")?;
        ensure!(
            container.image.as_deref() == Some(s.settings.operator_image.as_str()),
            "operator image {:?}, expected the override {}",
            container.image,
            s.settings.operator_image
        );
        let node_image = container
            .env
            .iter()
            .flatten()
            .find(|e| e.name == "KCACHE_NODE_IMAGE")
            .and_then(|e| e.value.clone());
        ensure!(
            node_image.as_deref() == Some(s.settings.node_image.as_str()),
            "KCACHE_NODE_IMAGE {node_image:?}, expected the override {}",
            s.settings.node_image
        );
        wait::deployment_available(&deployments, &name, Duration::from_secs(60)).await?;

        // The CRD is served, and is the one the Rust types generate: an older
        // one left by a previous install would test the wrong schema.
        let crds: Api<CustomResourceDefinition> = Api::all(s.client.clone());
        let crd_name = CacheCluster::crd_name();
        let served = wait::until(
            &crds,
            crd_name,
            "Established",
            Duration::from_secs(30),
            conditions::is_crd_established(),
        )
        .await?
        .context("the CRD is absent")?;
        let expected = CacheCluster::crd();
        ensure!(
            served.spec.versions.iter().map(|v| &v.schema).eq(expected.spec.versions.iter().map(|v| &v.schema)),
            "the served CRD's schema differs from crds/ (an old CRD? the installer applies crds/ first)"
        );

        // One replica leads through the Lease; the holder is a running operator
        // pod. Right after an upgrade the old leader may have just released
        // it: poll until a pod of this install holds it.
        let leases: Api<Lease> = Api::namespaced(s.client.clone(), ns);
        let pods: Api<Pod> = Api::namespaced(s.client.clone(), ns);
        let selector = format!("app.kubernetes.io/instance={}", s.settings.release);
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        loop {
            let lease = leases.get(&format!("{name}-leader")).await.context("the leader Lease")?;
            let holder = lease.spec.and_then(|l| l.holder_identity).unwrap_or_default();
            let operator_pods: Vec<String> = pods
                .list(&ListParams::default().labels(&selector))
                .await?
                .into_iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .map(|p| p.name_any())
                .collect();
            if operator_pods.contains(&holder) {
                break;
            }
            ensure!(
                std::time::Instant::now() < deadline,
                "Lease held by {holder:?}, not one of the operator pods {operator_pods:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Ok(())
    })
    .await
}
