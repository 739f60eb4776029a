//! The reconcile pipeline: `dereference -> validate -> build -> apply -> update_status`.
//!
//! Only the ends talk to the API server; `validate` and `build` are pure. The
//! topology step (roles, failover, slots over RESP) belongs between `apply` and
//! `update_status`: it needs the applied objects and feeds the status.

pub mod apply;
pub mod dereference;
pub mod events;
pub mod status;
pub mod validate;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::ListParams;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, Recorder};
use kube::{Api, Client, Resource, ResourceExt};
use tracing::{info, warn};

use crate::builders::{self, labels};
use crate::crd::{CacheCluster, CacheClusterStatus, Phase};
use crate::error::{Category, Error, Result};
use crate::metrics::Metrics;
use crate::topology;
use status::Outcome;

/// Converged clusters are looked at again this often even without a watch event.
const RESYNC: Duration = Duration::from_secs(300);
/// Clusters still converging: a backstop for watch events that never come.
const CONVERGING: Duration = Duration::from_secs(30);

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    /// Node image for clusters that name none (`--node-image`).
    pub node_image: String,
    /// When each cluster's status was last written for a change of replication
    /// offsets alone (see [`VOLATILE_STATUS_PERIOD`]).
    pub volatile_writes: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// The status this process last wrote for each cluster (by uid). The
    /// reconcile after an action runs within a fraction of a second, often on
    /// a cached object that does not show that write yet; and status is
    /// written whole by server-side apply, so starting from the stale copy
    /// would erase what the action recorded (the last failover, the primary).
    pub written: std::sync::Mutex<std::collections::HashMap<String, CacheClusterStatus>>,
}

/// A status that differs from the last one only in replication offsets and
/// lag is written at most this often. Offsets move with every write, and each
/// status write is a watch event that triggers a reconcile: written every
/// time, a loaded cluster would reconcile without pause.
pub const VOLATILE_STATUS_PERIOD: Duration = Duration::from_secs(10);

pub async fn reconcile(cluster: Arc<CacheCluster>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.start_reconcile();
    let cluster = newest_status(cluster, &ctx);
    let now = Time(Timestamp::now());
    let phase = cluster.status.as_ref().and_then(|s| s.phase);

    // Being deleted: garbage collection removes what it owns (owner references;
    // no finalizer). Applying now would recreate objects, or fail in a
    // terminating namespace and be reported as an API error.
    if cluster.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }

    if cluster.spec.paused {
        if phase != Some(Phase::Paused) {
            publish(&ctx, &cluster, &events::paused()).await;
        }
        let status = status::compute(&cluster, Outcome::Paused, &now);
        status::patch(&ctx.client, &cluster, &status).await?;
        remember(&ctx, &cluster, &status);
        return Ok(Action::await_change());
    }

    let refs = dereference::dereference(&ctx.client, &cluster).await?;
    let validated = match validate::validate(&cluster, &refs, &ctx.node_image) {
        Ok(v) => v,
        Err(err) => {
            report_failure(&ctx, &cluster, &err, &now).await;
            return Err(err);
        }
    };
    let desired = builders::build(&validated);
    let planned = events::planned(&validated, &refs, &desired);
    let applied = apply::apply(&ctx.client, &validated, &desired).await?;
    for event in &planned {
        publish(&ctx, &cluster, event).await;
    }

    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &validated.namespace);
    let selector = labels::selector_string(&labels::cluster_selector(&validated.name));
    let pods = pods
        .list(&ListParams::default().labels(&selector))
        .await?
        .items;

    // Topology: roles, failover, switchovers and rolls, over RESP to each pod.
    let password = password(&validated, &refs);
    let topology = topology::step(
        &ctx.client,
        &cluster,
        &validated,
        &applied.statefulsets,
        &pods,
        password.as_deref(),
        Timestamp::now(),
    )
    .await;
    let report = match &topology {
        Ok(report) => {
            for event in &report.events {
                publish(&ctx, &cluster, event).await;
            }
            Some(report)
        }
        Err(e) => {
            warn!(cluster = %cluster.name_any(), error = %e, "topology step");
            None
        }
    };

    let outcome = Outcome::Applied {
        statefulsets: &applied.statefulsets,
        pods: &pods,
        topology: report,
    };
    let status = status::compute(&cluster, outcome, &now);
    let key = format!("{}/{}", validated.namespace, validated.name);
    let old = cluster.status.clone().unwrap_or_default();
    let volatile_only = status != old && status::same_but_offsets(&old, &status);
    let recently = ctx
        .volatile_writes
        .lock()
        .ok()
        .and_then(|m| m.get(&key).copied())
        .is_some_and(|t| t.elapsed() < VOLATILE_STATUS_PERIOD);
    if !(volatile_only && recently) {
        status::patch(&ctx.client, &cluster, &status).await?;
        remember(&ctx, &cluster, &status);
        if let Ok(mut m) = ctx.volatile_writes.lock() {
            m.insert(key, std::time::Instant::now());
        }
    }
    info!(
        cluster = %cluster.name_any(),
        namespace = %validated.namespace,
        phase = ?status.phase,
        ready = status.ready.as_deref().unwrap_or_default(),
        epoch = status.topology_epoch.unwrap_or_default(),
        "reconciled"
    );
    let detection = Duration::from_secs(validated.spec.failover.detection_seconds.max(1) as u64);
    match topology {
        Ok(report) => Ok(Action::requeue(report.requeue(detection).min(
            if status.phase == Some(Phase::Running) {
                RESYNC
            } else {
                CONVERGING
            },
        ))),
        Err(e) => Err(e),
    }
}

/// The cluster with the newer of its cached status and the one this process
/// last wrote. Newer means a higher topology epoch, or the same epoch (this
/// process is the only writer while it holds the lease; another leader that
/// wrote since would have raised the epoch with any decision it made).
fn newest_status(cluster: Arc<CacheCluster>, ctx: &Context) -> Arc<CacheCluster> {
    let Some(uid) = cluster.uid() else {
        return cluster;
    };
    let written = ctx.written.lock().ok().and_then(|m| m.get(&uid).cloned());
    let Some(written) = written else {
        return cluster;
    };
    let cached_epoch = cluster
        .status
        .as_ref()
        .and_then(|s| s.topology_epoch)
        .unwrap_or(0);
    if written.topology_epoch.unwrap_or(0) < cached_epoch
        || cluster.status.as_ref() == Some(&written)
    {
        return cluster;
    }
    let mut newer = (*cluster).clone();
    newer.status = Some(written);
    Arc::new(newer)
}

/// Remembers the status written for `cluster`.
fn remember(ctx: &Context, cluster: &CacheCluster, status: &CacheClusterStatus) {
    if let (Some(uid), Ok(mut m)) = (cluster.uid(), ctx.written.lock()) {
        m.insert(uid, status.clone());
    }
}

/// The password the nodes require, for the topology step's connections.
fn password(v: &validate::Validated, refs: &dereference::Referenced) -> Option<String> {
    let validate::Auth::Secret { key, generated, .. } = &v.auth else {
        return None;
    };
    if let Some(p) = generated {
        return Some(p.clone());
    }
    let data = refs.auth_secret.as_ref()?.data.as_ref()?;
    let bytes = data.get(key)?;
    String::from_utf8(bytes.0.clone()).ok()
}

/// Says why a spec cannot run, in status and as a Warning event. Only for errors
/// a user can fix; API failures are retried without touching status.
async fn report_failure(ctx: &Context, cluster: &CacheCluster, err: &Error, now: &Time) {
    if !matches!(err.category(), Category::InvalidSpec | Category::Dependency) {
        return;
    }
    publish(ctx, cluster, &events::failed(err)).await;
    let status = status::compute(cluster, Outcome::Failed(err), now);
    match status::patch(&ctx.client, cluster, &status).await {
        Ok(()) => remember(ctx, cluster, &status),
        Err(e) => warn!(cluster = %cluster.name_any(), error = %e, "writing failure status"),
    }
}

/// Events are for humans: failing to publish one must not fail the reconcile.
async fn publish(ctx: &Context, cluster: &CacheCluster, event: &Event) {
    if let Err(e) = ctx.recorder.publish(event, &cluster.object_ref(&())).await {
        warn!(cluster = %cluster.name_any(), reason = %event.reason, error = %e, "publishing event");
    }
}

/// Requeue policy by error category; every error is counted.
pub fn error_policy(cluster: Arc<CacheCluster>, err: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.record_error(err);
    warn!(
        cluster = %cluster.name_any(),
        category = err.category().as_str(),
        error = %err,
        "reconcile failed"
    );
    Action::requeue(err.category().requeue_after())
}

#[cfg(test)]
mod mock_tests;
