//! Tests of the status computation.

use k8s_openapi::api::apps::v1::StatefulSetStatus;
use k8s_openapi::api::core::v1::{PodCondition, PodStatus as K8sPodStatus};
use k8s_openapi::jiff::Timestamp;
use kube::api::ObjectMeta;

use super::*;
use crate::builders::fixtures::cluster;

fn at(seconds: i64) -> Time {
    Time(Timestamp::from_second(seconds).expect("valid timestamp"))
}

fn sts(name: &str, generation: i64, observed: i64) -> StatefulSet {
    StatefulSet {
        metadata: ObjectMeta {
            name: Some(name.into()),
            generation: Some(generation),
            ..ObjectMeta::default()
        },
        status: Some(StatefulSetStatus {
            observed_generation: Some(observed),
            update_revision: Some("rev-2".into()),
            ..StatefulSetStatus::default()
        }),
        ..StatefulSet::default()
    }
}

fn pod(name: &str, shard: i32, ready: bool, revision: &str, role: Option<&str>) -> Pod {
    let mut labels: std::collections::BTreeMap<String, String> = [
        ("kcache.io/shard".to_string(), shard.to_string()),
        ("controller-revision-hash".to_string(), revision.to_string()),
    ]
    .into();
    if let Some(role) = role {
        labels.insert("kcache.io/role".into(), role.into());
    }
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        status: Some(K8sPodStatus {
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..PodCondition::default()
            }]),
            ..K8sPodStatus::default()
        }),
        ..Pod::default()
    }
}

/// The status after an apply that found these StatefulSets and pods.
fn applied(
    cc: &CacheCluster,
    statefulsets: &[StatefulSet],
    pods: &[Pod],
    now: &Time,
) -> CacheClusterStatus {
    compute(
        cc,
        Outcome::Applied {
            statefulsets,
            pods,
            topology: None,
        },
        now,
    )
}

fn find<'a>(status: &'a CacheClusterStatus, type_: &str) -> &'a Condition {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("condition {type_} missing"))
}

#[test]
fn fresh_cluster_is_creating() {
    let cc = cluster("");
    let sets = [sts("demo-shard-0", 1, 1)];
    let pods = [
        pod("demo-shard-0-0", 0, true, "rev-2", None),
        pod("demo-shard-0-1", 0, false, "rev-2", None),
    ];
    let s = applied(&cc, &sets, &pods, &at(100));
    assert_eq!(s.phase, Some(Phase::Creating));
    assert_eq!(s.ready.as_deref(), Some("1/2"));
    assert_eq!(s.observed_generation, Some(1));
    assert_eq!(find(&s, READY).status, "False");
    assert_eq!(find(&s, READY).reason, "PodsNotReady");
    assert!(find(&s, READY).message.contains("shard 0 has 1/2"));
    assert_eq!(find(&s, PROGRESSING).reason, "Creating");
    assert_eq!(find(&s, DEGRADED).status, "False");
    let endpoints = s.endpoints.expect("endpoints");
    assert_eq!(endpoints.primary, "demo-primary.shop.svc:6379");
    assert_eq!(endpoints.configuration, "demo.shop.svc:6379");
    assert_eq!(s.shards[0].stateful_set, "demo-shard-0");
    assert_eq!(s.shards[0].pods.len(), 2);
}

#[test]
fn all_ready_is_running_and_keeps_transition_times() {
    let mut cc = cluster("");
    let sets = [sts("demo-shard-0", 1, 1)];
    let pods = [
        pod("demo-shard-0-0", 0, true, "rev-2", Some("primary")),
        pod("demo-shard-0-1", 0, true, "rev-2", Some("replica")),
    ];
    let first = applied(&cc, &sets, &pods, &at(100));
    assert_eq!(first.phase, Some(Phase::Running));
    assert_eq!(find(&first, READY).status, "True");
    assert_eq!(find(&first, PROGRESSING).reason, "Converged");
    assert_eq!(first.shards[0].primary.as_deref(), Some("demo-shard-0-0"));

    cc.status = Some(first);
    let again = applied(&cc, &sets, &pods, &at(200));
    assert_eq!(
        find(&again, READY).last_transition_time,
        at(100),
        "unchanged status keeps its time"
    );
}

#[test]
fn losing_a_pod_after_running_is_degraded() {
    let mut cc = cluster("");
    let sets = [sts("demo-shard-0", 1, 1)];
    let healthy = [
        pod("a", 0, true, "rev-2", None),
        pod("b", 0, true, "rev-2", None),
    ];
    cc.status = Some(applied(&cc, &sets, &healthy, &at(100)));
    let broken = [
        pod("a", 0, true, "rev-2", None),
        pod("b", 0, false, "rev-2", None),
    ];
    let s = applied(&cc, &sets, &broken, &at(200));
    assert_eq!(s.phase, Some(Phase::Degraded));
    assert_eq!(find(&s, DEGRADED).status, "True");
    assert_eq!(find(&s, DEGRADED).last_transition_time, at(200));
    assert_eq!(find(&s, PROGRESSING).reason, "RollingOut");

    // Still degraded on the next look, until every pod is ready again.
    cc.status = Some(s);
    let s = applied(&cc, &sets, &broken, &at(300));
    assert_eq!(s.phase, Some(Phase::Degraded));
    let s = applied(&cc, &sets, &healthy, &at(400));
    assert_eq!(s.phase, Some(Phase::Running));
}

#[test]
fn scaling_up_a_running_cluster_is_updating_not_degraded() {
    let mut cc = cluster("");
    let sets = [sts("demo-shard-0", 1, 1)];
    let two = [
        pod("a", 0, true, "rev-2", None),
        pod("b", 0, true, "rev-2", None),
    ];
    cc.status = Some(applied(&cc, &sets, &two, &at(100)));
    cc.spec.replicas_per_shard = 2;
    let three = [
        pod("a", 0, true, "rev-2", None),
        pod("b", 0, true, "rev-2", None),
        pod("c", 0, false, "rev-2", None),
    ];
    let s = applied(&cc, &sets, &three, &at(200));
    assert_eq!(s.phase, Some(Phase::Updating));
    assert_eq!(find(&s, DEGRADED).status, "False");
    assert_eq!(find(&s, PROGRESSING).reason, "RollingOut");
}

#[test]
fn outdated_pods_or_unobserved_statefulsets_are_updating() {
    let cc = cluster("");
    let pods = [
        pod("a", 0, true, "rev-1", None),
        pod("b", 0, true, "rev-2", None),
    ];
    let s = applied(&cc, &[sts("demo-shard-0", 2, 2)], &pods, &at(1));
    assert_eq!(s.phase, Some(Phase::Updating));
    assert_eq!(s.shards[0].updated_replicas, 1);
    let current = [
        pod("a", 0, true, "rev-2", None),
        pod("b", 0, true, "rev-2", None),
    ];
    let s = applied(&cc, &[sts("demo-shard-0", 3, 2)], &current, &at(1));
    assert_eq!(
        s.phase,
        Some(Phase::Updating),
        "StatefulSet controller has not seen the change yet"
    );
}

#[test]
fn invalid_spec_and_pause_are_reported() {
    let cc = cluster("");
    let err = Error::InvalidSpec("maxMemory too big".into());
    let s = compute(&cc, Outcome::Failed(&err), &at(1));
    assert_eq!(s.phase, Some(Phase::Invalid));
    assert_eq!(find(&s, READY).reason, "InvalidSpec");
    assert!(find(&s, READY).message.contains("maxMemory too big"));
    assert_eq!(find(&s, DEGRADED).status, "True");

    let missing = Error::MissingSecret {
        name: "x".into(),
        problem: "does not exist".into(),
        purpose: "auth",
    };
    let s = compute(&cc, Outcome::Failed(&missing), &at(1));
    assert_eq!(
        s.phase,
        Some(Phase::Pending),
        "a missing Secret is not an invalid spec"
    );
    assert_eq!(find(&s, READY).reason, "SecretNotFound");

    let s = compute(&cc, Outcome::Paused, &at(1));
    assert_eq!(s.phase, Some(Phase::Paused));
    assert_eq!(find(&s, PROGRESSING).reason, "Paused");
}

/// Ready pods are not enough: a shard without a confirmed, routed primary
/// makes the cluster not Ready, and status says which shard and why; once
/// it serves, Ready, with the primary, epoch and lag recorded.
#[test]
fn ready_requires_a_serving_primary_per_shard() {
    use crate::topology::decide::{Action, Decision};
    use crate::topology::facts::{Member, NodeFacts, NodeRole};
    use crate::topology::{Report, ShardReport};

    let cc = cluster("replicasPerShard: 1");
    let sets = [sts("demo-shard-0", 1, 1)];
    let pods = [
        pod("demo-shard-0-0", 0, true, "rev-2", None),
        pod("demo-shard-0-1", 0, true, "rev-2", None),
    ];
    let node = |role, offset| NodeFacts {
        role: Some(role),
        offset,
        link_up: true,
        ..NodeFacts::default()
    };
    let member = |name: &str, facts| Member {
        pod: name.into(),
        node: Some(facts),
        ..Member::default()
    };
    let report = |serving: bool, waiting: Option<&str>| Report {
        shards: vec![ShardReport {
            members: vec![
                member("demo-shard-0-0", node(NodeRole::Primary, 500)),
                member("demo-shard-0-1", node(NodeRole::Replica, 450)),
            ],
            decision: Some(Decision {
                action: Action::None,
                leader: serving.then(|| "demo-shard-0-0".into()),
                labels: vec![],
                unreachable_since: None,
                serving,
            }),
            primary: Some("demo-shard-0-0".into()),
            primary_offset: 500,
            unreachable_since: None,
            waiting: waiting.map(String::from),
            changing_primary: false,
            ..ShardReport::default()
        }],
        epoch: 7,
        ..Report::default()
    };

    let waiting = report(
        false,
        Some("demo-shard-0-0 unreachable for 3s of 10s detection time"),
    );
    let status = compute(
        &cc,
        Outcome::Applied {
            statefulsets: &sets,
            pods: &pods,
            topology: Some(&waiting),
        },
        &at(100),
    );
    let ready = find(&status, READY);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "NoPrimary")
    );
    assert!(
        ready.message.contains("shard 0") && ready.message.contains("unreachable"),
        "{}",
        ready.message
    );
    assert!(status
        .current_operation
        .as_deref()
        .is_some_and(|o| o.contains("detection time")));

    let serving = report(true, None);
    let status = compute(
        &cc,
        Outcome::Applied {
            statefulsets: &sets,
            pods: &pods,
            topology: Some(&serving),
        },
        &at(100),
    );
    assert_eq!(find(&status, READY).status, "True");
    assert_eq!(status.topology_epoch, Some(7));
    let shard = &status.shards[0];
    assert_eq!(shard.primary.as_deref(), Some("demo-shard-0-0"));
    assert_eq!(shard.primary_offset, Some(500));
    let replica = shard
        .pods
        .iter()
        .find(|p| p.name == "demo-shard-0-1")
        .expect("replica");
    assert_eq!(
        (replica.link.as_deref(), replica.lag_bytes),
        (Some("up"), Some(50))
    );
    assert_eq!(status.current_operation, None);
}

#[test]
fn offsets_alone_are_a_volatile_change() {
    let mut a = CacheClusterStatus {
        shards: vec![ShardStatus {
            primary_offset: Some(10),
            pods: vec![PodStatus {
                name: "p".into(),
                lag_bytes: Some(3),
                ..PodStatus::default()
            }],
            ..ShardStatus::default()
        }],
        ..CacheClusterStatus::default()
    };
    let mut b = a.clone();
    b.shards[0].primary_offset = Some(99);
    b.shards[0].pods[0].lag_bytes = Some(40);
    assert!(same_but_offsets(&a, &b));
    a.shards[0].pods[0].link = Some("down".into());
    assert!(!same_but_offsets(&a, &b), "a link going down is news");
}

/// A wait that lasts past the bound marks the cluster Degraded with the
/// reason and what it waits for; a roll held for the maintenance window is
/// shown but is not a stall.
#[test]
fn a_long_wait_is_degraded_and_a_held_roll_is_not() {
    use crate::constants::STEP_STALL_SECONDS;
    use crate::topology::{Report, ShardReport};

    let cc = cluster("replicasPerShard: 1");
    let sets = [sts("demo-shard-0", 1, 1)];
    let pods = [
        pod("demo-shard-0-0", 0, true, "rev-2", Some("primary")),
        pod("demo-shard-0-1", 0, true, "rev-2", Some("replica")),
    ];
    let report = |since: i64, waiting: Option<&str>, held: Option<&str>| Report {
        shards: vec![ShardReport {
            primary: Some("demo-shard-0-0".into()),
            waiting: waiting.map(String::from),
            waiting_since: waiting.map(|_| at(since).0),
            held: held.map(String::from),
            ..ShardReport::default()
        }],
        epoch: 3,
        ..Report::default()
    };
    let status_at = |r: &Report, now: i64| {
        compute(
            &cc,
            Outcome::Applied {
                statefulsets: &sets,
                pods: &pods,
                topology: Some(r),
            },
            &at(now),
        )
    };
    let why = "eviction refused: budget";
    let fresh = status_at(&report(100, Some(why), None), 100 + STEP_STALL_SECONDS - 1);
    assert_eq!(find(&fresh, DEGRADED).status, "False");
    assert_eq!(fresh.shards[0].waiting_since, Some(at(100)));
    let stalled = status_at(&report(100, Some(why), None), 100 + STEP_STALL_SECONDS);
    let degraded = find(&stalled, DEGRADED);
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", "OperationStalled")
    );
    assert!(
        degraded.message.contains(why) && degraded.message.contains("10m"),
        "{}",
        degraded.message
    );
    assert_eq!(stalled.phase, Some(Phase::Degraded));

    let held = "1 pod(s) wait for the maintenance window";
    let status = status_at(&report(0, None, Some(held)), 100 + 10 * STEP_STALL_SECONDS);
    assert_eq!(find(&status, DEGRADED).status, "False");
    assert!(status
        .current_operation
        .as_deref()
        .is_some_and(|o| o.contains("maintenance window")));
    assert_eq!(status.shards[0].waiting_since, None);
}
