//! Table tests of `decide`: each row is a failure a replication operator must
//! survive, several of them shipped as bugs by peer operators.

use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::decide::{decide, Action, Policy, Recorded, Why};
use super::facts::{Member, NodeFacts, NodeRole};

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).expect("valid time")
}

fn ip(ordinal: i32) -> String {
    format!("10.0.0.{}", ordinal + 10)
}

/// A pod of shard 0, ready and up to date, without a node report.
fn pod(ordinal: i32) -> Member {
    Member {
        pod: format!("c-shard-0-{ordinal}"),
        ordinal,
        ip: Some(ip(ordinal)),
        ready: true,
        terminating: false,
        updated: true,
        role_label: None,
        reader_label: false,
        node: None,
    }
}

/// A confirmed primary at `epoch` holding `offset`.
fn primary(ordinal: i32, epoch: i64, offset: i64) -> Member {
    Member {
        role_label: Some("primary".into()),
        node: Some(NodeFacts {
            role: Some(NodeRole::Primary),
            offset,
            epoch,
            confirmed: true,
            keys: (offset > 0) as u64,
            replid: "r1".into(),
            ..NodeFacts::default()
        }),
        ..pod(ordinal)
    }
}

/// A confirmed replica of `of` at `epoch`, link up, at `offset`.
fn replica(ordinal: i32, of: i32, epoch: i64, offset: i64) -> Member {
    Member {
        role_label: Some("replica".into()),
        reader_label: true,
        node: Some(NodeFacts {
            role: Some(NodeRole::Replica),
            master_host: Some(ip(of)),
            master_port: Some(6379),
            link_up: true,
            offset,
            epoch,
            confirmed: true,
            keys: (offset > 0) as u64,
            replid: "r1".into(),
            ..NodeFacts::default()
        }),
        ..pod(ordinal)
    }
}

/// A process that just started: a primary by default, unconfirmed, not ready.
fn fresh(ordinal: i32, epoch: i64) -> Member {
    Member {
        ready: false,
        node: Some(NodeFacts {
            role: Some(NodeRole::Primary),
            epoch,
            replid: "new".into(),
            ..NodeFacts::default()
        }),
        ..pod(ordinal)
    }
}

fn down(m: Member) -> Member {
    Member {
        node: None,
        ready: false,
        ..m
    }
}

fn link_down(mut m: Member) -> Member {
    if let Some(n) = m.node.as_mut() {
        n.link_up = false;
    }
    m
}

fn policy(epoch: i64) -> Policy {
    Policy {
        automatic: true,
        detection: Duration::from_secs(10),
        min_replicas_to_write: 0,
        desired_pods: 3,
        epoch,
        switchover_requested: false,
        switchover_target: None,
        may_roll: true,
    }
}

fn recorded(primary: i32, offset: i64) -> Recorded {
    Recorded {
        primary: Some(format!("c-shard-0-{primary}")),
        primary_offset: offset,
        unreachable_since: None,
    }
}

fn promoted(action: &Action) -> Option<(&str, i64, Why)> {
    match action {
        Action::Promote {
            target, epoch, why, ..
        } => Some((target.pod.as_str(), *epoch, *why)),
        _ => None,
    }
}

#[test]
fn a_new_shard_waits_for_every_scheduled_pod_then_bootstraps_the_lowest() {
    let members = [fresh(0, 0), down(pod(1)), fresh(2, 0)];
    let d = decide(&members, &Recorded::default(), &policy(0), at(0));
    assert!(
        matches!(d.action, Action::Wait(ref w) if w.contains("c-shard-0-1")),
        "{d:?}"
    );

    let members = [fresh(0, 0), fresh(1, 0), fresh(2, 0)];
    let d = decide(&members, &Recorded::default(), &policy(0), at(0));
    assert_eq!(
        promoted(&d.action),
        Some(("c-shard-0-0", 1, Why::Bootstrap))
    );
    assert!(!d.serving);
}

#[test]
fn bootstrap_picks_the_node_holding_data() {
    let mut with_data = fresh(2, 0);
    with_data.node.as_mut().unwrap().keys = 500;
    let members = [fresh(0, 0), fresh(1, 0), with_data];
    let d = decide(&members, &Recorded::default(), &policy(0), at(0));
    assert_eq!(promoted(&d.action).map(|p| p.0), Some("c-shard-0-2"));
}

#[test]
fn new_and_stray_nodes_are_pointed_at_the_leader_with_the_current_epoch() {
    let members = [primary(0, 3, 100), fresh(1, 0), replica(2, 0, 2, 100)];
    let d = decide(&members, &recorded(0, 100), &policy(3), at(0));
    match d.action {
        Action::Repoint {
            targets,
            primary,
            epoch,
        } => {
            let pods: Vec<_> = targets.iter().map(|t| t.pod.as_str()).collect();
            assert_eq!(
                pods,
                ["c-shard-0-1", "c-shard-0-2"],
                "fresh, and behind in epoch"
            );
            assert_eq!(primary.pod, "c-shard-0-0");
            assert_eq!(epoch, 3);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_healthy_shard_does_nothing() {
    let members = [
        primary(0, 3, 100),
        replica(1, 0, 3, 100),
        replica(2, 0, 3, 90),
    ];
    let d = decide(&members, &recorded(0, 100), &policy(3), at(0));
    assert_eq!(d.action, Action::None);
    assert!(d.labels.is_empty(), "{:?}", d.labels);
    assert!(d.serving);
    assert_eq!(d.leader.as_deref(), Some("c-shard-0-0"));
}

#[test]
fn an_unreachable_primary_is_replaced_after_the_detection_time_by_the_most_caught_up_replica() {
    let members = [
        down(primary(0, 3, 100)),
        link_down(replica(1, 0, 3, 80)),
        link_down(replica(2, 0, 3, 95)),
    ];
    let mut rec = recorded(0, 100);
    let d = decide(&members, &rec, &policy(3), at(0));
    assert!(matches!(d.action, Action::Wait(_)), "{d:?}");
    assert_eq!(d.unreachable_since, Some(at(0)));
    assert!(!d.serving);

    rec.unreachable_since = d.unreachable_since;
    let d = decide(&members, &rec, &policy(3), at(9));
    assert!(matches!(d.action, Action::Wait(_)), "9 s of 10: {d:?}");
    let d = decide(&members, &rec, &policy(3), at(10));
    match d.action {
        Action::Promote {
            target,
            epoch,
            why,
            from,
            offset_gap,
        } => {
            assert_eq!(target.pod, "c-shard-0-2");
            assert_eq!(epoch, 4, "a failover takes a new epoch");
            assert_eq!(why, Why::PrimaryUnreachable);
            assert_eq!(from.as_deref(), Some("c-shard-0-0"));
            assert_eq!(offset_gap, 5);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn automatic_off_only_waits() {
    let members = [down(primary(0, 3, 100)), replica(1, 0, 3, 100)];
    let mut rec = recorded(0, 100);
    rec.unreachable_since = Some(at(0));
    let p = Policy {
        automatic: false,
        ..policy(3)
    };
    let d = decide(&members, &rec, &p, at(600));
    assert!(matches!(d.action, Action::Wait(ref w) if w.contains("automatic failover is off")));
}

#[test]
fn a_primary_restarted_without_data_never_leads_and_a_replica_takes_over_at_once() {
    // persistence none: the new process is empty, with a new history.
    let restarted = Member {
        role_label: Some("primary".into()),
        ..fresh(0, 3)
    };
    let members = [
        restarted,
        link_down(replica(1, 0, 3, 100)),
        link_down(replica(2, 0, 3, 100)),
    ];
    let d = decide(&members, &recorded(0, 100), &policy(3), at(0));
    assert_eq!(
        promoted(&d.action),
        Some(("c-shard-0-1", 4, Why::PrimaryRestarted)),
        "no detection wait: the old process is provably gone"
    );
    // The restarted pod loses its primary label before anyone gains it.
    assert_eq!(d.labels[0].pod, "c-shard-0-0");
    assert_eq!(d.labels[0].role, Some("replica"));
}

#[test]
fn a_primary_restarted_with_its_data_is_confirmed_again() {
    let mut back = fresh(0, 3);
    {
        let n = back.node.as_mut().unwrap();
        n.offset = 100;
        n.keys = 10;
    }
    let members = [back, replica(1, 0, 3, 100), replica(2, 0, 3, 90)];
    let d = decide(&members, &recorded(0, 100), &policy(3), at(0));
    assert_eq!(
        promoted(&d.action),
        Some(("c-shard-0-0", 3, Why::Reconfirm))
    );
}

#[test]
fn an_empty_node_is_never_promoted_over_a_shard_that_held_data() {
    // The replicas never finished their first sync; the primary is gone.
    let members = [down(primary(0, 3, 100)), fresh(1, 3), fresh(2, 3)];
    let mut rec = recorded(0, 100);
    rec.unreachable_since = Some(at(0));
    let d = decide(&members, &rec, &policy(3), at(60));
    assert!(
        matches!(d.action, Action::Wait(ref w) if w.contains("no replica holds")),
        "{d:?}"
    );
    // Nor when the primary restarted empty while a pod that may hold the
    // data does not answer.
    let members = [fresh(0, 3), fresh(1, 3), down(pod(2))];
    let d = decide(&members, &recorded(0, 100), &policy(3), at(0));
    assert!(promoted(&d.action).is_none(), "{d:?}");
    // When every pod answers and none holds anything, the data is gone:
    // the shard serves again, empty, rather than never.
    let members = [fresh(0, 3), fresh(1, 3), fresh(2, 3)];
    let d = decide(&members, &recorded(0, 100), &policy(3), at(0));
    assert_eq!(
        promoted(&d.action),
        Some(("c-shard-0-0", 3, Why::Reconfirm))
    );
}

#[test]
fn a_replica_that_refused_an_empty_sync_is_a_candidate_only_by_its_data() {
    let mut refused = replica(1, 0, 3, 100);
    refused.node.as_mut().unwrap().refused_empty = true;
    let members = [
        fresh(0, 3),
        link_down(refused),
        link_down(replica(2, 0, 3, 60)),
    ];
    let d = decide(&members, &recorded(0, 100), &policy(3), at(0));
    assert_eq!(promoted(&d.action).map(|p| p.0), Some("c-shard-0-2"));
}

#[test]
fn two_primaries_the_newest_epoch_leads_and_the_old_one_is_demoted() {
    // A partitioned old primary still believes it leads, at epoch 3.
    let members = [
        primary(0, 3, 120),
        primary(1, 4, 100),
        replica(2, 1, 4, 100),
    ];
    let d = decide(&members, &recorded(1, 100), &policy(4), at(0));
    assert_eq!(d.leader.as_deref(), Some("c-shard-0-1"));
    match &d.action {
        Action::Repoint { targets, epoch, .. } => {
            assert_eq!(targets[0].pod, "c-shard-0-0");
            assert_eq!(*epoch, 4);
        }
        other => panic!("{other:?}"),
    }
    let old = d
        .labels
        .iter()
        .find(|l| l.pod == "c-shard-0-0")
        .expect("relabelled");
    assert_eq!(old.role, Some("replica"));
}

#[test]
fn an_operator_that_crashed_after_promoting_adopts_the_promoted_node() {
    // Status still names pod 0; pod 1 was promoted at epoch 4 and pod 0 is gone.
    let members = [
        down(primary(0, 3, 100)),
        primary(1, 4, 100),
        replica(2, 0, 3, 100),
    ];
    let d = decide(&members, &recorded(0, 100), &policy(4), at(0));
    assert_eq!(d.leader.as_deref(), Some("c-shard-0-1"));
    assert!(matches!(d.action, Action::Repoint { ref targets, .. } if targets.len() == 1));
}

#[test]
fn a_terminating_primary_hands_over_to_an_in_sync_replica() {
    let mut leaving = primary(0, 3, 100);
    leaving.terminating = true;
    let members = [
        leaving,
        link_down(replica(1, 0, 3, 100)),
        replica(2, 0, 3, 99),
    ];
    let d = decide(&members, &recorded(0, 100), &policy(3), at(0));
    match d.action {
        Action::Switchover {
            from,
            to,
            epoch,
            why,
        } => {
            assert_eq!(
                (from.pod.as_str(), to.pod.as_str()),
                ("c-shard-0-0", "c-shard-0-2")
            );
            assert_eq!(epoch, 4);
            assert_eq!(why, Why::PodTerminating);
        }
        other => panic!("{other:?}"),
    }
    assert!(!d.serving, "a terminating primary is out of its Service");
}

#[test]
fn a_handover_in_progress_is_waited_for() {
    let mut p = primary(0, 4, 100);
    p.node.as_mut().unwrap().failing_over = true;
    let members = [p, replica(1, 0, 4, 100)];
    let d = decide(&members, &recorded(0, 100), &policy(4), at(0));
    assert!(matches!(d.action, Action::Wait(_)));
}

#[test]
fn scale_down_moves_the_primary_off_the_removed_ordinals_first() {
    // replicasPerShard 2 -> 0 with the primary on ordinal 2.
    let members = [
        replica(0, 2, 3, 100),
        replica(1, 2, 3, 100),
        primary(2, 3, 100),
    ];
    let p = Policy {
        desired_pods: 1,
        ..policy(3)
    };
    let d = decide(&members, &recorded(2, 100), &p, at(0));
    match d.action {
        Action::Switchover { to, why, .. } => {
            assert_eq!(to.pod, "c-shard-0-0", "only ordinal 0 stays");
            assert_eq!(why, Why::ScaleDown);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_drill_annotation_switches_over() {
    let members = [primary(0, 3, 100), replica(1, 0, 3, 100)];
    let p = Policy {
        switchover_requested: true,
        desired_pods: 2,
        ..policy(3)
    };
    let d = decide(&members, &recorded(0, 100), &p, at(0));
    assert!(
        matches!(d.action, Action::Switchover { why: Why::Requested, ref to, .. } if to.pod == "c-shard-0-1")
    );

    // To a named pod, even when another is further ahead.
    let members = [
        primary(0, 3, 100),
        replica(1, 0, 3, 100),
        replica(2, 0, 3, 90),
    ];
    let p = Policy {
        switchover_requested: true,
        switchover_target: Some("c-shard-0-2".into()),
        ..policy(3)
    };
    let d = decide(&members, &recorded(0, 100), &p, at(0));
    assert!(
        matches!(d.action, Action::Switchover { ref to, .. } if to.pod == "c-shard-0-2"),
        "{d:?}"
    );
}

#[test]
fn no_in_sync_replica_means_no_handover() {
    let members = [primary(0, 3, 100), link_down(replica(1, 0, 3, 50))];
    let p = Policy {
        switchover_requested: true,
        desired_pods: 2,
        ..policy(3)
    };
    let d = decide(&members, &recorded(0, 100), &p, at(0));
    assert!(matches!(d.action, Action::Wait(ref w) if w.contains("no replica is in sync")));
}

#[test]
fn a_roll_replaces_replicas_one_at_a_time_then_switches_over_then_the_old_primary() {
    let outdated = |mut m: Member| {
        m.updated = false;
        m
    };
    // Replicas first, highest ordinal first.
    let members = [
        outdated(primary(0, 3, 100)),
        outdated(replica(1, 0, 3, 100)),
        outdated(replica(2, 0, 3, 100)),
    ];
    let d = decide(&members, &recorded(0, 100), &policy(3), at(0));
    assert_eq!(
        d.action,
        Action::Evict {
            pod: "c-shard-0-2".into()
        }
    );

    // The replacement is not ready yet: wait.
    let members = [
        outdated(primary(0, 3, 100)),
        outdated(replica(1, 0, 3, 100)),
        fresh(2, 3),
    ];
    let d = decide(&members, &recorded(0, 100), &policy(3), at(0));
    assert!(
        matches!(d.action, Action::Repoint { .. }),
        "the new pod is pointed first: {d:?}"
    );
    let mut syncing = link_down(replica(2, 0, 3, 0));
    syncing.ready = false;
    let members = [
        outdated(primary(0, 3, 100)),
        outdated(replica(1, 0, 3, 100)),
        syncing,
    ];
    let d = decide(&members, &recorded(0, 100), &policy(3), at(0));
    assert!(matches!(d.action, Action::Wait(_)), "{d:?}");

    // Only the primary is outdated: hand over to an updated replica.
    let members = [
        outdated(primary(0, 3, 100)),
        replica(1, 0, 3, 100),
        replica(2, 0, 3, 100),
    ];
    let d = decide(&members, &recorded(0, 100), &policy(3), at(0));
    assert!(
        matches!(
            d.action,
            Action::Switchover {
                why: Why::RollingUpdate,
                ..
            }
        ),
        "{d:?}"
    );

    // After the switchover the old primary is an outdated replica: evicted.
    let members = [
        outdated(replica(0, 1, 4, 100)),
        primary(1, 4, 100),
        replica(2, 1, 4, 100),
    ];
    let d = decide(&members, &recorded(1, 100), &policy(4), at(0));
    assert_eq!(
        d.action,
        Action::Evict {
            pod: "c-shard-0-0".into()
        }
    );

    // Another shard is rolling: this one waits its turn.
    let members = [
        outdated(primary(0, 3, 100)),
        outdated(replica(1, 0, 3, 100)),
        outdated(replica(2, 0, 3, 100)),
    ];
    let p = Policy {
        may_roll: false,
        ..policy(3)
    };
    assert_eq!(
        decide(&members, &recorded(0, 100), &p, at(0)).action,
        Action::None
    );
}

#[test]
fn min_replicas_to_write_is_raised_only_once_enough_replicas_are_in_sync() {
    let mut p0 = primary(0, 3, 100);
    p0.node.as_mut().unwrap().min_replicas_to_write = Some(0);
    let p = Policy {
        min_replicas_to_write: 2,
        ..policy(3)
    };
    let members = [
        p0.clone(),
        replica(1, 0, 3, 100),
        link_down(replica(2, 0, 3, 0)),
    ];
    assert_eq!(
        decide(&members, &recorded(0, 100), &p, at(0)).action,
        Action::None
    );
    let members = [p0, replica(1, 0, 3, 100), replica(2, 0, 3, 100)];
    assert!(matches!(
        decide(&members, &recorded(0, 100), &p, at(0)).action,
        Action::SetMinReplicas { value: 2, .. }
    ));
}

#[test]
fn the_reader_label_falls_back_to_the_primary_without_ready_replicas() {
    let mut r = replica(1, 0, 3, 100);
    r.ready = false;
    let members = [primary(0, 3, 100), r];
    let d = decide(
        &members,
        &recorded(0, 100),
        &Policy {
            desired_pods: 2,
            ..policy(3)
        },
        at(0),
    );
    let p = d
        .labels
        .iter()
        .find(|l| l.pod == "c-shard-0-0")
        .expect("primary relabelled");
    assert!(p.reader);
}

#[test]
fn the_detection_clock_survives_across_reconciles_and_resets_when_the_primary_answers() {
    let members = [down(primary(0, 3, 100)), link_down(replica(1, 0, 3, 100))];
    let mut rec = recorded(0, 100);
    rec.unreachable_since = Some(at(0) - SignedDuration::from_secs(30));
    let d = decide(&members, &rec, &policy(3), at(0));
    assert!(promoted(&d.action).is_some(), "30 s unreachable: {d:?}");
    let members = [primary(0, 3, 100), replica(1, 0, 3, 100)];
    let d = decide(&members, &rec, &policy(3), at(0));
    assert_eq!(d.unreachable_since, None);
}

#[test]
fn no_replica_is_promoted_while_a_replica_is_still_fed_by_the_old_primary() {
    // Pod 0 was deleted with grace 0: a new process answers in its pod, but
    // the old one still runs and streams to pod 2, which acknowledges WAITs.
    let restarted = Member {
        role_label: Some("primary".into()),
        ..fresh(0, 3)
    };
    let members = [
        restarted.clone(),
        link_down(replica(1, 0, 3, 100)),
        replica(2, 0, 3, 90),
    ];
    let d = decide(&members, &recorded(0, 100), &policy(3), at(0));
    assert!(
        matches!(d.action, Action::Wait(ref w) if w.contains("c-shard-0-2")),
        "{d:?}"
    );
    // Once the old process is gone, every link is down and offsets are final.
    let members = [
        restarted,
        link_down(replica(1, 0, 3, 100)),
        link_down(replica(2, 0, 3, 120)),
    ];
    let d = decide(&members, &recorded(0, 100), &policy(3), at(0));
    assert_eq!(
        promoted(&d.action).map(|p| p.0),
        Some("c-shard-0-2"),
        "the most caught-up"
    );

    // Unreachable from the operator, yet feeding its replicas: not failed.
    let members = [down(primary(0, 3, 100)), replica(1, 0, 3, 100)];
    let mut rec = recorded(0, 100);
    rec.unreachable_since = Some(at(0) - SignedDuration::from_secs(60));
    let d = decide(&members, &rec, &policy(3), at(0));
    assert!(
        matches!(d.action, Action::Wait(ref w) if w.contains("live primary")),
        "{d:?}"
    );
}

#[test]
fn a_frozen_primary_whose_links_stay_up_but_silent_is_failed_over() {
    // The primary's process is frozen (or its machine lost without a TCP
    // reset): the replicas' links look up until repl-timeout, but nothing
    // comes in. Pings every second would have touched them.
    let silent = |mut m: Member, secs: i64| {
        if let Some(n) = m.node.as_mut() {
            n.last_io_secs = Some(secs);
        }
        m
    };
    let mut rec = recorded(0, 100);
    rec.unreachable_since = Some(at(0) - SignedDuration::from_secs(11));
    let members = [
        down(primary(0, 3, 100)),
        silent(replica(1, 0, 3, 100), 11),
        silent(replica(2, 0, 3, 90), 11),
    ];
    let d = decide(&members, &rec, &policy(3), at(0));
    assert_eq!(
        promoted(&d.action),
        Some(("c-shard-0-1", 4, Why::PrimaryUnreachable)),
        "{d:?}"
    );
    // One replica still hears from it: the primary lives, wait.
    let members = [
        down(primary(0, 3, 100)),
        silent(replica(1, 0, 3, 100), 11),
        silent(replica(2, 0, 3, 90), 0),
    ];
    let d = decide(&members, &rec, &policy(3), at(0));
    assert!(
        matches!(d.action, Action::Wait(ref w) if w.contains("c-shard-0-2")),
        "{d:?}"
    );
}
