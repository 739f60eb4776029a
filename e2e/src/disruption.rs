//! Disruptions a scenario inflicts: evictions (what a node drain does, subject to
//! PodDisruptionBudgets) and pod kills (a crash, no grace).

use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, EvictParams};
use kube::runtime::wait::Condition;
use kube::Api;

use crate::wait;

/// What the eviction API answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Eviction {
    /// The pod is being evicted.
    Evicted,
    /// A PodDisruptionBudget refused it (HTTP 429), with the API server's message.
    Refused(String),
}

/// Evicts a pod as `kubectl drain` would.
pub async fn evict(pods: &Api<Pod>, name: &str) -> Result<Eviction> {
    match pods.evict(name, &EvictParams::default()).await {
        Ok(_) => Ok(Eviction::Evicted),
        Err(kube::Error::Api(status)) if status.code == 429 => {
            Ok(Eviction::Refused(status.message))
        }
        Err(e) => Err(e).with_context(|| format!("evicting {name}")),
    }
}

/// Kills a pod at once (grace period 0), as a crash or a lost node would, and
/// returns the killed pod's uid.
pub async fn kill(pods: &Api<Pod>, name: &str) -> Result<String> {
    let uid = pods
        .get(name)
        .await
        .with_context(|| format!("reading {name}"))?
        .metadata
        .uid
        .ok_or_else(|| anyhow!("{name} has no uid"))?;
    pods.delete(name, &DeleteParams::default().grace_period(0))
        .await
        .with_context(|| format!("killing {name}"))?;
    Ok(uid)
}

/// Waits until the StatefulSet has replaced pod `name` (old uid `old_uid`) with a
/// new pod that is Ready.
pub async fn wait_replaced_ready(
    pods: &Api<Pod>,
    name: &str,
    old_uid: &str,
    deadline: Duration,
) -> Result<Pod> {
    let replaced = move |p: Option<&Pod>| {
        p.is_some_and(|p| {
            p.metadata.uid.as_deref() != Some(old_uid) && is_pod_ready().matches_object(Some(p))
        })
    };
    wait::until(pods, name, "replaced and Ready", deadline, replaced)
        .await?
        .ok_or_else(|| anyhow!("{name} absent"))
}

/// The pod's Ready condition is True (and it is not being deleted).
pub fn is_pod_ready() -> impl Condition<Pod> {
    |p: Option<&Pod>| {
        p.filter(|p| p.metadata.deletion_timestamp.is_none())
            .and_then(|p| p.status.as_ref()?.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    }
}
