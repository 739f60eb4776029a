//! The topology step: observe -> decide -> act -> record, once per shard per
//! reconcile. The operator is the single source of truth for roles: nodes obey
//! the newest epoch they were given and never promote themselves.
//!
//! - `facts`: what a pod and its node report (plain data).
//! - `observe`: pods and `INFO` over RESP into facts.
//! - `decide`: a pure function from facts and the recorded state to one action.
//! - `act`: the action over RESP or the API (Eviction), and the role labels.
//!
//! One action per shard and reconcile: each is small, idempotent and
//! epoch-stamped, and the next reconcile (at once after an action) sees its
//! effect before deciding again. A restarted operator resumes from what the
//! nodes report and status recorded, never from memory.

pub mod act;
#[cfg(test)]
mod act_tests;
pub mod cluster_map;
pub mod decide;
#[cfg(test)]
mod decide_tests;
pub mod facts;
pub mod live;
pub mod observe;
pub mod slots;

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Api, ResourceExt};
use serde_json::json;
use tracing::{info, warn};

use crate::builders::{configmap, names};
use crate::constants::annotations::SWITCHOVER;
use crate::crd::{CacheCluster, FailoverRecord};
use crate::error::Result;
use crate::reconcile::validate::Validated;
use decide::{Action, Decision, Policy, Recorded, Why};
use facts::Member;

/// What the step saw and did, for status and events.
#[derive(Default)]
pub struct Report {
    pub shards: Vec<ShardReport>,
    /// The newest epoch given to or held by any node.
    pub epoch: i64,
    pub last_failover: Option<FailoverRecord>,
    pub events: Vec<Event>,
    /// Something was done: look again soon.
    pub acted: bool,
    /// Cluster mode: the digest of the map the nodes hold now.
    pub cluster_map: Option<String>,
}

/// One shard's part of the report.
#[derive(Clone, Debug, Default)]
pub struct ShardReport {
    pub members: Vec<Member>,
    pub decision: Option<Decision>,
    /// The primary to record.
    pub primary: Option<String>,
    pub primary_offset: i64,
    pub unreachable_since: Option<Timestamp>,
    /// What the shard waits for, when it waits.
    pub waiting: Option<String>,
    /// Since when it has been waiting without a break (kept in status).
    pub waiting_since: Option<Timestamp>,
    /// A roll held until the maintenance window opens: expected, not a wait.
    pub held: Option<String>,
    /// Cluster mode: the hash slots the shard serves.
    pub slots: Vec<slots::Range>,
    /// A change of primary was just started (a promotion or a switchover):
    /// the primary observed before it is no longer the one to count on.
    pub changing_primary: bool,
}

impl ShardReport {
    /// The shard's primary is confirmed, ready and routed to.
    pub fn serving(&self) -> bool {
        !self.changing_primary && self.decision.as_ref().is_some_and(|d| d.serving)
    }
}

impl Report {
    /// Requeue delay: at once after an action, quickly while anything waits,
    /// and at a heartbeat otherwise, so that a silent primary is noticed even
    /// when no pod event comes (a partition changes no pod).
    pub fn requeue(&self, detection: Duration) -> Duration {
        if self.acted {
            Duration::from_millis(200)
        } else if self
            .shards
            .iter()
            .any(|s| s.waiting.is_some() || !s.serving())
        {
            Duration::from_secs(1)
        } else {
            (detection / 2).clamp(Duration::from_secs(1), Duration::from_secs(10))
        }
    }
}

/// Runs the step over every shard.
pub async fn step(
    client: &kube::Client,
    cluster: &CacheCluster,
    v: &Validated,
    statefulsets: &[StatefulSet],
    pods: &[Pod],
    password: Option<&str>,
    now: Timestamp,
) -> Result<Report> {
    let status = cluster.status.clone().unwrap_or_default();
    let pod_api: Api<Pod> = Api::namespaced(client.clone(), &v.namespace);
    // `<shard>` or `<shard>:<pod>`.
    let requested: Option<(i32, Option<String>)> =
        cluster.annotations().get(SWITCHOVER).and_then(|value| {
            let (shard, pod) = match value.trim().split_once(':') {
                Some((shard, pod)) => (shard, Some(pod.trim().to_string())),
                None => (value.trim(), None),
            };
            Some((shard.parse().ok()?, pod))
        });

    // Cluster mode: roles reach the nodes as one map of the whole cluster.
    let cluster_mode = v.spec.shards > 1;
    let assignment = slots::assignment(
        &status
            .shards
            .iter()
            .map(|s| s.slots.clone())
            .collect::<Vec<_>>(),
        v.spec.shards.max(0) as usize,
    );
    let mut intents: Vec<(i32, Action)> = Vec::new();
    let desired_live = configmap::live_settings(v);
    let live_names: Vec<&str> = desired_live.iter().map(|(n, _)| n.as_str()).collect();
    let mut observed = Vec::new();
    for index in 0..v.spec.shards {
        let sts_name = names::shard(&v.name, index);
        let sts = statefulsets.iter().find(|s| s.name_any() == sts_name);
        observed.push(
            observe::shard(
                &v.name,
                index,
                pods,
                sts,
                password,
                &live_names,
                cluster_mode,
            )
            .await,
        );
    }
    let node_epoch = observed
        .iter()
        .flatten()
        .filter_map(|m| m.node.as_ref().map(|n| n.epoch))
        .max()
        .unwrap_or(0);
    let mut report = Report {
        epoch: status.topology_epoch.unwrap_or(0).max(node_epoch),
        last_failover: status.last_failover.clone(),
        ..Report::default()
    };
    // One shard at a time takes pods down for a roll: the first with outdated
    // pods; and only inside the maintenance window when there is one.
    let outdated = |members: &[Member]| {
        members
            .iter()
            .filter(|m| !m.updated && !m.terminating)
            .count()
    };
    let rolling = observed.iter().position(|members| outdated(members) > 0);
    let window_open = v.maintenance_window.is_none_or(|w| w.contains(now));

    for (index, members) in observed.into_iter().enumerate() {
        let index = index as i32;
        let old = status.shards.iter().find(|s| s.index == index);
        let recorded = Recorded {
            primary: old.and_then(|s| s.primary.clone()),
            primary_offset: old.and_then(|s| s.primary_offset).unwrap_or(0),
            unreachable_since: old.and_then(|s| s.unreachable_since.as_ref()).map(|t| t.0),
        };
        let policy = Policy {
            automatic: v.spec.failover.automatic,
            detection: Duration::from_secs(v.spec.failover.detection_seconds.max(1) as u64),
            min_replicas_to_write: v.spec.failover.min_replicas_to_write as i64,
            desired_pods: v.pods_per_shard(),
            epoch: report.epoch,
            switchover_requested: requested.as_ref().is_some_and(|r| r.0 == index),
            switchover_target: requested.as_ref().and_then(|r| r.1.clone()),
            may_roll: window_open && rolling.is_none_or(|r| r as i32 == index),
        };
        let decision = decide::decide(&members, &recorded, &policy, now);
        act::labels(&pod_api, &decision.labels).await?;
        report.acted |= !decision.labels.is_empty();

        let mut shard = ShardReport {
            primary: decision.leader.clone().or(recorded.primary.clone()),
            primary_offset: decision
                .leader
                .as_ref()
                .and_then(|l| members.iter().find(|m| &m.pod == l))
                .and_then(|m| m.node.as_ref())
                .map_or(recorded.primary_offset, |n| {
                    n.offset.max(recorded.primary_offset)
                }),
            unreachable_since: decision.unreachable_since,
            waiting: match &decision.action {
                Action::Wait(why) => Some(why.clone()),
                _ => None,
            },
            ..ShardReport::default()
        };
        if cluster_mode {
            shard.slots = assignment.get(index as usize).cloned().unwrap_or_default();
        }
        if cluster_mode
            && matches!(
                decision.action,
                Action::Promote { .. } | Action::Repoint { .. }
            )
        {
            // Carried by the cluster map below, for every shard at once.
            intents.push((index, decision.action.clone()));
        } else if !matches!(decision.action, Action::None | Action::Wait(_)) {
            info!(cluster = %v.name, shard = index, action = ?decision.action, "topology");
            match act::run(&decision.action, &pod_api, password).await? {
                act::Done::Ran => {
                    report.acted = true;
                    if let Action::Promote { target, .. } | Action::Switchover { to: target, .. } =
                        &decision.action
                    {
                        shard.changing_primary = true;
                        shard.waiting = Some(format!("{} is taking over as primary", target.pod));
                    }
                    record(&mut report, &mut shard, index, &decision.action, now);
                    if matches!(
                        decision.action,
                        Action::Switchover {
                            why: Why::Requested,
                            ..
                        }
                    ) {
                        clear_request(client, cluster).await;
                    }
                }
                act::Done::EvictionRefused(msg) => {
                    shard.waiting = Some(format!("eviction refused: {msg}"));
                }
            }
        } else if let Action::Wait(why) = &decision.action {
            if recorded.unreachable_since.is_none() && decision.unreachable_since.is_some() {
                warn!(cluster = %v.name, shard = index, "{why}");
            }
        }
        if !shard.changing_primary {
            apply_live(&mut report, index, &desired_live, &members, password).await;
        }
        if let (Some(w), false) = (v.maintenance_window, window_open) {
            let n = outdated(&members);
            if n > 0 {
                shard.held = Some(format!(
                    "{n} pod(s) wait for the maintenance window {w} (opens in {}) to be replaced with the new revision",
                    crate::maintenance::human(w.opens_in(now))
                ));
            }
        }
        shard.waiting_since = shard.waiting.as_ref().map(|_| {
            old.and_then(|s| s.waiting_since.as_ref())
                .map_or(now, |t| t.0)
        });
        shard.members = members;
        shard.decision = Some(decision);
        report.shards.push(shard);
    }
    if cluster_mode {
        push_map(&mut report, &status, &intents, password, now).await;
    }
    Ok(report)
}

/// Cluster mode: the map of every shard (its primary after this step's
/// intents, its answering replicas, its slots), sent whole to every node
/// that does not hold it. A changed map takes the next epoch; the same map is
/// resent under its epoch to nodes that lag (a restarted or new pod).
async fn push_map(
    report: &mut Report,
    status: &crate::crd::CacheClusterStatus,
    intents: &[(i32, Action)],
    password: Option<&str>,
    now: Timestamp,
) {
    use cluster_map::{MapNode, MapShard};
    let node = |m: &Member| -> Option<MapNode> {
        Some(MapNode {
            id: m.node.as_ref()?.node_id.clone()?,
            ip: m.ip.clone()?,
            port: crate::constants::RESP_PORT as u16,
            hostname: String::new(),
        })
    };
    let mut shards = Vec::new();
    for (i, shard) in report.shards.iter().enumerate() {
        let promoted = intents.iter().find_map(|(index, a)| match a {
            Action::Promote { target, .. } if *index as usize == i => Some(target.pod.clone()),
            _ => None,
        });
        let Some(primary_pod) = promoted.or_else(|| shard.decision.as_ref()?.leader.clone()) else {
            return;
        };
        let Some(primary) = shard
            .members
            .iter()
            .find(|m| m.pod == primary_pod)
            .and_then(node)
        else {
            return;
        };
        let replicas = shard
            .members
            .iter()
            .filter(|m| m.pod != primary_pod && m.usable())
            .filter_map(node)
            .collect();
        shards.push(MapShard {
            primary,
            replicas,
            slots: shard.slots.clone(),
        });
    }
    // The map without its epoch (argument 2) is what the digest covers.
    let mut args = cluster_map::command(0, &shards);
    let digest = {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(args[3..].join(" ").as_bytes());
        d.iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let changed = status.cluster_map.as_deref() != Some(digest.as_str());
    let epoch = if changed {
        report.epoch + 1
    } else {
        report.epoch.max(1)
    };
    args[2] = epoch.to_string();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let targets: Vec<decide::Target> = report
        .shards
        .iter()
        .flat_map(|s| s.members.iter())
        .filter(|m| m.usable())
        .filter(|m| {
            changed
                || m.node
                    .as_ref()
                    .is_some_and(|n| n.epoch < epoch || !n.confirmed)
        })
        .filter_map(|m| {
            Some(decide::Target {
                pod: m.pod.clone(),
                ip: m.ip.clone()?,
            })
        })
        .collect();
    if targets.is_empty() {
        return;
    }
    let results =
        futures::future::join_all(targets.iter().map(|t| act::command(t, password, &args))).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    for (t, r) in targets.iter().zip(&results) {
        if let Err(e) = r {
            warn!(pod = %t.pod, error = %e, "cluster map refused");
        }
    }
    report.acted = true;
    if ok == 0 {
        return;
    }
    info!(epoch, nodes = ok, changed, "cluster map sent");
    report.epoch = report.epoch.max(epoch);
    report.cluster_map = Some(digest);
    if changed {
        for (index, action) in intents {
            if let Some(shard) = report.shards.get_mut(*index as usize) {
                let mut shard_copy = std::mem::take(shard);
                record(report, &mut shard_copy, *index, action, now);
                report.shards[*index as usize] = shard_copy;
            }
        }
        let primaries: Vec<String> = shards.iter().map(|s| s.primary.ip.clone()).collect();
        report.events.push(Event {
            type_: EventType::Normal,
            reason: "ClusterMap".into(),
            note: Some(format!(
                "epoch {epoch}: {} shards, primaries at {}, sent to {ok} nodes",
                shards.len(),
                primaries.join(", ")
            )),
            action: "Topology".into(),
            secondary: None,
        });
    }
}

/// Gives every node of the shard that holds other values the live
/// parameters, all at once; a node that refuses is reported and tried again
/// at the next step.
async fn apply_live(
    report: &mut Report,
    index: i32,
    desired: &[(String, String)],
    members: &[Member],
    password: Option<&str>,
) {
    let plan = live::plan(desired, members);
    if plan.is_empty() {
        return;
    }
    let results = futures::future::join_all(plan.iter().map(|d| {
        let target = decide::Target {
            pod: d.pod.clone(),
            ip: d.ip.clone(),
        };
        async move { act::command(&target, password, &live::command(d)).await }
    }))
    .await;
    for (d, result) in plan.iter().zip(results) {
        let set: Vec<String> = d.set.iter().map(|(n, v)| format!("{n} {v:?}")).collect();
        let (type_, reason, note) = match result {
            Ok(()) => {
                info!(pod = %d.pod, set = %set.join(", "), "parameters applied live");
                report.acted = true;
                (
                    EventType::Normal,
                    "ParametersApplied",
                    format!("shard {index}: {} set live on {}", set.join(", "), d.pod),
                )
            }
            Err(e) => {
                warn!(pod = %d.pod, error = %e, "applying parameters live");
                (
                    EventType::Warning,
                    "ParametersRefused",
                    format!("shard {index}: {} refused {}: {e}", d.pod, set.join(", ")),
                )
            }
        };
        report.events.push(Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: "Configure".into(),
            secondary: None,
        });
    }
}

/// Epoch, last failover and the event of an action that ran.
fn record(
    report: &mut Report,
    shard: &mut ShardReport,
    index: i32,
    action: &Action,
    now: Timestamp,
) {
    let event = |type_: EventType, reason: &str, note: String| Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "Topology".into(),
        secondary: None,
    };
    match action {
        Action::Promote {
            target,
            epoch,
            why,
            from,
            offset_gap,
        } => {
            report.epoch = report.epoch.max(*epoch);
            shard.primary = Some(target.pod.clone());
            shard.unreachable_since = None;
            let note = match from {
                Some(from) => format!(
                    "shard {index}: promoted {} to primary in place of {from} ({}, epoch {epoch}, offset gap {offset_gap} bytes)",
                    target.pod,
                    why.as_str()
                ),
                None => format!("shard {index}: {} is the primary ({}, epoch {epoch})", target.pod, why.as_str()),
            };
            let failover = from.is_some() && *why != Why::Reconfirm;
            if failover {
                report.last_failover = Some(FailoverRecord {
                    time: Time(now),
                    shard: index,
                    from: from.clone().unwrap_or_default(),
                    to: target.pod.clone(),
                    reason: why.as_str().into(),
                    offset_gap: Some(*offset_gap),
                });
            }
            let kind = if failover {
                EventType::Warning
            } else {
                EventType::Normal
            };
            let reason = if failover {
                "Failover"
            } else {
                "PrimaryAssigned"
            };
            report.events.push(event(kind, reason, note));
        }
        Action::Switchover {
            from,
            to,
            epoch,
            why,
        } => {
            report.epoch = report.epoch.max(*epoch);
            report.last_failover = Some(FailoverRecord {
                time: Time(now),
                shard: index,
                from: from.pod.clone(),
                to: to.pod.clone(),
                reason: why.as_str().into(),
                offset_gap: Some(0),
            });
            report.events.push(event(
                EventType::Normal,
                "Switchover",
                format!(
                    "shard {index}: handing the primary role from {} to {} ({}, epoch {epoch}); writes pause until it has caught up",
                    from.pod,
                    to.pod,
                    why.as_str()
                ),
            ));
        }
        Action::Repoint {
            targets,
            primary,
            epoch,
        } => {
            let pods: Vec<&str> = targets.iter().map(|t| t.pod.as_str()).collect();
            report.events.push(event(
                EventType::Normal,
                "ReplicaAssigned",
                format!(
                    "shard {index}: {} now replicate from {} (epoch {epoch})",
                    pods.join(", "),
                    primary.pod
                ),
            ));
        }
        Action::Evict { pod } => report.events.push(event(
            EventType::Normal,
            "RollingUpdate",
            format!("shard {index}: evicted {pod} to replace it with the new revision"),
        )),
        Action::SetMinReplicas { target, value } => report.events.push(event(
            EventType::Normal,
            "MinReplicasToWrite",
            format!(
                "shard {index}: min-replicas-to-write {value} on {}",
                target.pod
            ),
        )),
        Action::None | Action::Wait(_) => {}
    }
}

/// Removes the drill annotation once its switchover started. Best effort: if
/// it stays, the next reconcile hands over once more, which loses nothing.
async fn clear_request(client: &kube::Client, cluster: &CacheCluster) {
    let Some(ns) = cluster.namespace() else {
        return;
    };
    let api: Api<CacheCluster> = Api::namespaced(client.clone(), &ns);
    let patch = json!({"metadata": {"annotations": {SWITCHOVER: null}}});
    if let Err(e) = api
        .patch(
            &cluster.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        warn!(cluster = %cluster.name_any(), error = %e, "removing the switchover annotation");
    }
}
