//! Wires the reconciler into kube-runtime controllers: one per watched namespace
//! (or one for all), each watching CacheClusters and the objects they own.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::ListParams;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use tracing::{info, warn};

use crate::constants::{labels, CONTROLLER_NAME};
use crate::crd::CacheCluster;
use crate::reconcile::dereference::referenced_secrets;
use crate::reconcile::{error_policy, reconcile, Context};

/// An `Api` over all namespaces or one.
fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Fails early, with a hint, when the CRD is not installed or RBAC forbids it.
pub async fn check_crd(client: &Client, namespace: Option<&str>) -> Result<(), kube::Error> {
    api::<CacheCluster>(client, namespace)
        .list(&ListParams::default().limit(1))
        .await
        .map(|_| ())
}

/// Runs the controller for `namespace` (all when `None`) until `shutdown`.
pub async fn run(
    ctx: Arc<Context>,
    namespace: Option<String>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let client = ctx.client.clone();
    let ns = namespace.as_deref();
    // Owned objects are watched through the operator's label only: the cache
    // then holds kcache's objects, not every object of the namespace.
    let owned = watcher::Config::default()
        .labels(&format!("{}={}", labels::MANAGED_BY, CONTROLLER_NAME))
        .any_semantic();
    info!(namespace = ns.unwrap_or("<all>"), "starting controller");
    let controller = Controller::new(
        api::<CacheCluster>(&client, ns),
        watcher::Config::default().any_semantic(),
    );
    // Secrets are watched by metadata only (no data in the operator's memory),
    // and mapped to the clusters that name them: creating a missing password or
    // TLS Secret, or rotating one, reconciles its clusters at once.
    let store = controller.store();
    controller
        .owns(api::<StatefulSet>(&client, ns), owned.clone())
        .owns(api::<Service>(&client, ns), owned.clone())
        .owns(api::<PodDisruptionBudget>(&client, ns), owned.clone())
        .owns(api::<ConfigMap>(&client, ns), owned.clone())
        // Pods belong to the StatefulSets, not to the CacheCluster: they are
        // mapped to their cluster by label, so that a pod that dies, restarts,
        // turns ready or starts terminating is acted on in about a second,
        // not at the next resync.
        .watches(api::<Pod>(&client, ns), owned, |pod| {
            let cluster = pod.labels().get(labels::CLUSTER).cloned();
            cluster.map(|name| {
                ObjectRef::<CacheCluster>::new(&name).within(&pod.namespace().unwrap_or_default())
            })
        })
        .watches(
            api::<PartialObjectMeta<Secret>>(&client, ns),
            watcher::Config::default().any_semantic(),
            move |secret| {
                let name = secret.name_any();
                let namespace = secret.namespace();
                store
                    .state()
                    .into_iter()
                    .filter(|cc| {
                        cc.namespace() == namespace && referenced_secrets(cc).contains(&name)
                    })
                    .map(|cc| ObjectRef::from_obj(&*cc))
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                // Logged and counted by error_policy already.
                Ok(_) | Err(controller::Error::ReconcilerFailed(..)) => {}
                // The controller's own: a watch failing, an object gone.
                Err(e) => warn!(error = %e, "controller"),
            }
        })
        .await;
}
