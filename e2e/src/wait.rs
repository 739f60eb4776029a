//! Waits on conditions of watched objects, each with a deadline. Nothing here
//! sleeps: a wait ends as soon as a watch event shows the condition, and fails
//! with the object's last state when the deadline passes first.

use std::fmt::Debug;
use std::time::Duration;

use anyhow::{anyhow, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition as MetaCondition;
use kcache_operator::crd::CacheCluster;
use kube::runtime::wait::{await_condition, conditions, Condition};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Waits until `cond` holds for the object `name` (which may not exist yet), and
/// returns it (`None` when the condition holds for an absent object).
pub async fn until<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    deadline: Duration,
    cond: impl Condition<K>,
) -> Result<Option<K>>
where
    K: Clone + Debug + Send + DeserializeOwned + Serialize + Resource + 'static,
{
    match tokio::time::timeout(deadline, await_condition(api.clone(), name, cond)).await {
        Ok(Ok(obj)) => Ok(obj),
        Ok(Err(e)) => Err(anyhow!("watching {name} for {what}: {e}")),
        Err(_) => {
            let last = match api.get_opt(name).await {
                Ok(Some(obj)) => serde_yaml::to_string(&obj).unwrap_or_default(),
                Ok(None) => "(absent)".to_string(),
                Err(e) => format!("(could not read it: {e})"),
            };
            Err(anyhow!(
                "{name}: not {what} within {}s; last seen:\n{last}",
                deadline.as_secs()
            ))
        }
    }
}

/// A Deployment has rolled out its current revision and is available.
pub async fn deployment_available(
    api: &Api<Deployment>,
    name: &str,
    deadline: Duration,
) -> Result<()> {
    let available = |d: Option<&Deployment>| {
        d.and_then(|d| d.status.as_ref()).is_some_and(|s| {
            let wanted = d.and_then(|d| d.spec.as_ref()?.replicas).unwrap_or(1);
            let observed = s.observed_generation == d.and_then(|d| d.metadata.generation);
            observed
                && s.updated_replicas.unwrap_or(0) == wanted
                && s.available_replicas.unwrap_or(0) == wanted
                && s.replicas.unwrap_or(0) == wanted
        })
    };
    until(api, name, "available", deadline, available).await?;
    Ok(())
}

/// The CacheCluster's condition `type_` has status `status`, for its current generation.
pub fn cache_cluster_condition(
    type_: &'static str,
    status: &'static str,
) -> impl Condition<CacheCluster> {
    move |cc: Option<&CacheCluster>| {
        let Some(cc) = cc else { return false };
        let Some(st) = cc.status.as_ref() else {
            return false;
        };
        st.observed_generation == cc.metadata.generation
            && find_condition(&st.conditions, type_).is_some_and(|c| c.status == status)
    }
}

/// Waits for `Ready=True` on the cluster's current generation.
pub async fn cache_cluster_ready(
    api: &Api<CacheCluster>,
    name: &str,
    deadline: Duration,
) -> Result<CacheCluster> {
    until(
        api,
        name,
        "Ready",
        deadline,
        cache_cluster_condition("Ready", "True"),
    )
    .await?
    .ok_or_else(|| anyhow!("{name} disappeared while becoming Ready"))
}

/// Waits until the object with this uid is gone (a new object of the same name
/// does not count as the old one).
pub async fn deleted<K>(api: &Api<K>, name: &str, uid: &str, deadline: Duration) -> Result<()>
where
    K: Clone + Debug + Send + DeserializeOwned + Serialize + Resource + 'static,
{
    until(api, name, "deleted", deadline, conditions::is_deleted(uid)).await?;
    Ok(())
}

pub fn find_condition<'a>(conds: &'a [MetaCondition], type_: &str) -> Option<&'a MetaCondition> {
    conds.iter().find(|c| c.type_ == type_)
}
