//! `apply`: server-side apply of every desired object under the operator's one
//! field manager. The API server merges, so applying an unchanged object is a
//! no-op, and a field the operator stops sending is removed.

use std::fmt::Debug;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource};
use serde::{de::DeserializeOwned, Serialize};

use crate::builders::Desired;
use crate::constants::FIELD_MANAGER;
use crate::error::{Error, Result};

/// What the API server returned for the objects whose state status reports.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    pub statefulsets: Vec<StatefulSet>,
}

/// Applies in dependency order (see [`Desired`]): a pod never starts before its
/// Secret, ConfigMap and headless Service exist.
pub async fn apply(client: &Client, namespace: &str, desired: &Desired) -> Result<Applied> {
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
    Ok(applied)
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
