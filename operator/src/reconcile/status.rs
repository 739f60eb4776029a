//! `update_status`: status recomputed from live objects at every reconcile, and
//! written with server-side apply under the operator's field manager.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};

use crate::builders::names;
use crate::constants::{labels, FIELD_MANAGER, RESP_PORT, STEP_STALL_SECONDS};
use crate::crd::{CacheCluster, CacheClusterStatus, Endpoints, Phase, PodStatus, ShardStatus};
use crate::error::{Category, Error, Result};
use crate::topology::Report;

pub const READY: &str = "Ready";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";

/// How the reconcile went, as far as status is concerned.
pub enum Outcome<'a> {
    /// Objects applied; `statefulsets` as returned by the apply, `pods` listed after.
    Applied {
        statefulsets: &'a [StatefulSet],
        pods: &'a [Pod],
        /// What the topology step saw and did; `None` before it ran.
        topology: Option<&'a Report>,
    },
    /// The spec cannot be run, or something it refers to is missing.
    Failed(&'a Error),
    /// `spec.paused` is set.
    Paused,
}

/// The status a cluster should have now. Pure: `now` stamps changed conditions.
pub fn compute(cluster: &CacheCluster, outcome: Outcome<'_>, now: &Time) -> CacheClusterStatus {
    let old = cluster.status.clone().unwrap_or_default();
    let generation = cluster.metadata.generation;
    let mut status = CacheClusterStatus {
        observed_generation: generation,
        // The topology step owns these; carried over until it writes them.
        topology_epoch: old.topology_epoch,
        cluster_map: old.cluster_map.clone(),
        last_failover: old.last_failover.clone(),
        ..CacheClusterStatus::default()
    };
    let cond = |type_: &str, ok: bool, reason: &str, message: String| {
        condition(&old.conditions, type_, ok, reason, message, generation, now)
    };
    match outcome {
        Outcome::Paused => {
            status.phase = Some(Phase::Paused);
            status.ready = old.ready.clone();
            status.endpoints = old.endpoints.clone();
            status.shards = old.shards.clone();
            status.conditions = old
                .conditions
                .iter()
                .filter(|c| c.type_ != PROGRESSING)
                .cloned()
                .chain([cond(
                    PROGRESSING,
                    false,
                    "Paused",
                    "spec.paused is set: the operator leaves the cluster as it is".into(),
                )])
                .collect();
        }
        Outcome::Failed(err) => {
            let reason = err.reason();
            let message = err.to_string();
            status.phase = Some(if err.category() == Category::InvalidSpec {
                Phase::Invalid
            } else {
                old.phase.unwrap_or(Phase::Pending)
            });
            status.ready = old.ready.clone();
            status.endpoints = old.endpoints.clone();
            status.shards = old.shards.clone();
            status.conditions = vec![
                cond(READY, false, reason, message.clone()),
                cond(PROGRESSING, false, reason, message.clone()),
                cond(DEGRADED, true, reason, message),
            ];
        }
        Outcome::Applied {
            statefulsets,
            pods,
            topology,
        } => {
            applied(cluster, &old, &mut status, statefulsets, pods, &cond);
            if let Some(report) = topology {
                with_topology(&mut status, report, &cond, now);
            }
        }
    }
    status
}

fn applied(
    cluster: &CacheCluster,
    old: &CacheClusterStatus,
    status: &mut CacheClusterStatus,
    statefulsets: &[StatefulSet],
    pods: &[Pod],
    cond: &dyn Fn(&str, bool, &str, String) -> Condition,
) {
    let name = cluster.name_any();
    let namespace = cluster.namespace().unwrap_or_default();
    let per_shard = 1 + cluster.spec.replicas_per_shard;
    status.shards = (0..cluster.spec.shards)
        .map(|i| shard_status(&name, i, per_shard, statefulsets, pods))
        .collect();
    let desired = per_shard * cluster.spec.shards;
    let ready: i32 = status.shards.iter().map(|s| s.ready_replicas).sum();
    let updated: i32 = status.shards.iter().map(|s| s.updated_replicas).sum();
    let all_ready = ready == desired;
    let up_to_date = updated == desired
        && statefulsets.iter().all(|s| {
            let observed = s.status.as_ref().and_then(|st| st.observed_generation);
            observed.is_some() && observed >= s.metadata.generation
        });
    status.ready = Some(format!("{ready}/{desired}"));
    let host = |svc: String| format!("{}:{RESP_PORT}", names::service_host(&svc, &namespace));
    status.endpoints = Some(Endpoints {
        primary: host(names::primary_service(&name)),
        reader: host(names::reader_service(&name)),
        configuration: host(names::configuration_service(&name)),
    });

    // A cluster that has never been ready is being created. One that has served
    // is degraded when a pod that was ready is not any more (and stays degraded
    // until every pod is ready again); pods that are merely new, after a scale up
    // or a spec change, make it updating instead.
    let has_run = matches!(
        old.phase,
        Some(Phase::Running | Phase::Updating | Phase::Degraded)
    );
    let ready_now: Vec<&str> = status
        .shards
        .iter()
        .flat_map(|s| s.pods.iter().filter(|p| p.ready).map(|p| p.name.as_str()))
        .collect();
    let lost = old
        .shards
        .iter()
        .flat_map(|s| s.pods.iter().filter(|p| p.ready))
        .any(|p| !ready_now.contains(&p.name.as_str()));
    let degraded = has_run && !all_ready && (lost || old.phase == Some(Phase::Degraded));
    let not_ready: Vec<String> = status
        .shards
        .iter()
        .filter(|s| s.ready_replicas < s.replicas)
        .map(|s| {
            format!(
                "shard {} has {}/{} pods ready",
                s.index, s.ready_replicas, s.replicas
            )
        })
        .collect();
    let summary = format!("{ready}/{desired} pods ready, {updated}/{desired} up to date");
    status.phase = Some(if all_ready && up_to_date {
        Phase::Running
    } else if degraded {
        Phase::Degraded
    } else if all_ready || has_run {
        Phase::Updating
    } else {
        Phase::Creating
    });
    status.conditions = vec![
        if all_ready {
            cond(READY, true, "AllPodsReady", summary.clone())
        } else {
            cond(READY, false, "PodsNotReady", not_ready.join("; "))
        },
        match (all_ready && up_to_date, has_run) {
            (true, _) => cond(PROGRESSING, false, "Converged", summary.clone()),
            (false, false) => cond(PROGRESSING, true, "Creating", summary.clone()),
            (false, true) => cond(PROGRESSING, true, "RollingOut", summary.clone()),
        },
        if degraded {
            cond(DEGRADED, true, "PodsNotReady", not_ready.join("; "))
        } else {
            cond(DEGRADED, false, "AsExpected", summary)
        },
    ];
}

fn shard_status(
    cluster: &str,
    index: i32,
    replicas: i32,
    statefulsets: &[StatefulSet],
    pods: &[Pod],
) -> ShardStatus {
    let sts_name = names::shard(cluster, index);
    let sts = statefulsets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(sts_name.as_str()));
    let update_revision = sts
        .and_then(|s| s.status.as_ref())
        .and_then(|s| s.update_revision.clone());
    let shard_label = index.to_string();
    let mut shard_pods: Vec<PodStatus> = pods
        .iter()
        .filter(|p| p.labels().get(labels::SHARD) == Some(&shard_label))
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| PodStatus {
            name: p.name_any(),
            ready: pod_ready(p),
            role: p.labels().get(labels::ROLE).cloned(),
            updated: update_revision.is_some()
                && p.labels().get("controller-revision-hash") == update_revision.as_ref(),
            ..PodStatus::default()
        })
        .collect();
    shard_pods.sort_by(|a, b| a.name.cmp(&b.name));
    let count = |f: fn(&PodStatus) -> bool| {
        i32::try_from(shard_pods.iter().filter(|p| f(p)).count()).unwrap_or(i32::MAX)
    };
    ShardStatus {
        index,
        stateful_set: sts_name,
        replicas,
        ready_replicas: count(|p| p.ready),
        updated_replicas: count(|p| p.updated),
        primary: shard_pods
            .iter()
            .find(|p| p.role.as_deref() == Some(labels::ROLE_PRIMARY))
            .map(|p| p.name.clone()),
        pods: shard_pods,
        ..ShardStatus::default()
    }
}

/// The two statuses are equal but for replication offsets and lag.
pub fn same_but_offsets(a: &CacheClusterStatus, b: &CacheClusterStatus) -> bool {
    let strip = |s: &CacheClusterStatus| {
        let mut s = s.clone();
        for shard in &mut s.shards {
            shard.primary_offset = None;
            for pod in &mut shard.pods {
                pod.lag_bytes = None;
            }
        }
        s
    };
    strip(a) == strip(b)
}

/// Roles, lag, epochs and what the topology step waits for. `Ready` also
/// requires every shard to serve writes through a confirmed primary: ready
/// pods without one are no use to a client.
fn with_topology(
    status: &mut CacheClusterStatus,
    report: &Report,
    cond: &dyn Fn(&str, bool, &str, String) -> Condition,
    now: &Time,
) {
    status.topology_epoch = (report.epoch > 0).then_some(report.epoch);
    if report.cluster_map.is_some() {
        status.cluster_map = report.cluster_map.clone();
    }
    status.last_failover = report.last_failover.clone();
    let mut waiting = Vec::new();
    let mut stalled = Vec::new();
    let mut not_serving = Vec::new();
    for (shard, rep) in status.shards.iter_mut().zip(&report.shards) {
        shard.primary = rep.primary.clone();
        shard.primary_offset = (rep.primary_offset > 0).then_some(rep.primary_offset);
        shard.unreachable_since = rep.unreachable_since.map(Time);
        shard.waiting_since = rep.waiting_since.map(Time);
        shard.slots = crate::topology::slots::to_text(&rep.slots);
        let primary_offset = rep
            .members
            .iter()
            .find(|m| Some(&m.pod) == rep.primary.as_ref())
            .and_then(|m| m.node.as_ref())
            .map(|n| n.offset);
        for pod in &mut shard.pods {
            let Some(node) = rep
                .members
                .iter()
                .find(|m| m.pod == pod.name)
                .and_then(|m| m.node.as_ref())
            else {
                continue;
            };
            if node.role == Some(crate::topology::facts::NodeRole::Replica) {
                pod.link = Some(if node.link_up { "up" } else { "down" }.into());
                pod.lag_bytes = primary_offset.map(|p| (p - node.offset).max(0));
            }
        }
        if let Some(why) = &rep.waiting {
            waiting.push(format!("shard {}: {why}", shard.index));
            let waited = rep
                .waiting_since
                .map_or(0, |t| now.0.as_second() - t.as_second());
            if waited >= STEP_STALL_SECONDS {
                stalled.push(format!(
                    "shard {}: {why} (for {})",
                    shard.index,
                    crate::maintenance::human(std::time::Duration::from_secs(waited as u64))
                ));
            }
        }
        if let Some(held) = &rep.held {
            waiting.push(format!("shard {}: {held}", shard.index));
        }
        if !rep.serving() {
            not_serving.push(match &rep.waiting {
                Some(why) => format!("shard {} has no primary serving writes: {why}", shard.index),
                None => format!("shard {} has no primary serving writes yet", shard.index),
            });
        }
    }
    status.current_operation = (!waiting.is_empty()).then(|| waiting.join("; "));
    if !stalled.is_empty() {
        let message = stalled.join("; ");
        for c in status.conditions.iter_mut() {
            if c.type_ == DEGRADED {
                *c = cond(DEGRADED, true, "OperationStalled", message.clone());
            }
        }
        if status.phase == Some(Phase::Running) || status.phase == Some(Phase::Updating) {
            status.phase = Some(Phase::Degraded);
        }
    }
    if !not_serving.is_empty() {
        let message = not_serving.join("; ");
        for c in status.conditions.iter_mut() {
            if c.type_ == READY && c.status == "True" {
                *c = cond(READY, false, "NoPrimary", message.clone());
            }
        }
        if status.phase == Some(Phase::Running) {
            status.phase = Some(Phase::Degraded);
        }
    }
}

/// The pod's Ready condition is True.
pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// A condition, keeping the old transition time while its status is unchanged
/// (what `kubectl wait` and GitOps tools rely on).
fn condition(
    old: &[Condition],
    type_: &str,
    ok: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    let status = if ok { "True" } else { "False" };
    let since = old
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map_or_else(|| now.clone(), |c| c.last_transition_time.clone());
    Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        observed_generation: generation,
        last_transition_time: since,
    }
}

/// Writes the status subresource by server-side apply.
pub async fn patch(
    client: &Client,
    cluster: &CacheCluster,
    status: &CacheClusterStatus,
) -> Result<()> {
    let namespace = cluster
        .namespace()
        .ok_or_else(|| Error::Internal("CacheCluster without namespace".into()))?;
    let api: Api<CacheCluster> = Api::namespaced(client.clone(), &namespace);
    let body = serde_json::json!({
        "apiVersion": "kcache.io/v1alpha1",
        "kind": "CacheCluster",
        "status": status,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    match api
        .patch_status(&cluster.name_any(), &params, &Patch::Apply(&body))
        .await
    {
        Ok(_) => Ok(()),
        // Deleted while this reconcile ran: there is no status left to write,
        // and nothing failed.
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
