//! `apply`: server-side apply of every desired object under the operator's one
//! field manager. The API server merges, so applying an unchanged object is a
//! no-op, and a field the operator stops sending is removed.

use std::fmt::Debug;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, Resource};
use serde::{de::DeserializeOwned, Serialize};

use crate::builders::{labels, Desired};
use crate::constants::FIELD_MANAGER;
use crate::error::{Error, Result};
use crate::reconcile::validate::Validated;

/// What the API server returned for the objects whose state status reports.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    pub statefulsets: Vec<StatefulSet>,
}

/// Applies in dependency order (see [`Desired`]): a pod never starts before its
/// Secret, ConfigMap and headless Service exist.
pub async fn apply(client: &Client, v: &Validated, desired: &Desired) -> Result<Applied> {
    let namespace = v.namespace.as_str();
    if let Some(secret) = &desired.secret {
        ssa(client, namespace, secret).await?;
    }
    ssa(client, namespace, &desired.configmap).await?;
    for svc in desired
        .headless_services
        .iter()
        .chain(&desired.endpoint_services)
    {
        ssa(client, namespace, svc).await?;
    }
    let mut applied = Applied::default();
    for sts in &desired.statefulsets {
        applied
            .statefulsets
            .push(ssa(client, namespace, sts).await?);
    }
    for pdb in &desired.pdbs {
        ssa(client, namespace, pdb).await?;
    }
    if !v.spec.disruption.enabled {
        prune_budgets(client, v).await?;
    }
    Ok(applied)
}

/// Removes the cluster's PodDisruptionBudgets once `disruption.enabled` is off:
/// a budget left behind would still block drains. Deleting an empty collection
/// is a no-op, so this is safe to repeat.
async fn prune_budgets(client: &Client, v: &Validated) -> Result<()> {
    let api: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), &v.namespace);
    let selector = labels::selector_string(&labels::cluster_selector(&v.name));
    api.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels(&selector),
    )
    .await?;
    Ok(())
}

/// One server-side apply. Forced: the operator is the authority over the fields
/// it sets, and a conflicting hand edit is overwritten rather than left to fail
/// every reconcile.
pub async fn ssa<K>(client: &Client, namespace: &str, obj: &K) -> Result<K>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned,
{
    let name = obj
        .meta()
        .name
        .clone()
        .ok_or_else(|| Error::Internal(format!("a desired {} has no name", K::kind(&()))))?;
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    Ok(api.patch(&name, &params, &Patch::Apply(obj)).await?)
}
