//! `decide`: from what was observed of one shard and what status recorded, the
//! next action. Pure, so that every failure peers have shipped (promoting an
//! empty node, two primaries, a drain that loses the primary, a restarted
//! primary wiping its replicas) is a row in a table test (`decide_tests.rs`).
//!
//! Rules, in order:
//! 1. The leader is the node that says it is a primary the operator confirmed,
//!    with the highest epoch. Nodes never promote themselves, so a restarted
//!    process (unconfirmed) is never a leader, whatever its pod's labels say.
//! 2. With a leader: every other usable node is pointed at it (stamped with the
//!    current epoch), then planned hand-overs (pod terminating, scale-down,
//!    a requested switchover, a rolling update) go to an in-sync replica
//!    through the node's `FAILOVER`, then replicas are rolled one at a time.
//! 3. Without one: the first primary of a new shard is the node holding the
//!    most data once every scheduled pod answers; the recorded primary is
//!    confirmed again if nothing holds more than it; otherwise the replica with
//!    the highest offset replaces it, at once when the old process is provably
//!    gone (a new process answers in its pod), after the detection time when
//!    it is merely unreachable. A node with nothing is never promoted over a
//!    shard that held data.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::facts::{Member, NodeFacts};
use crate::constants::labels::{ROLE_PRIMARY, ROLE_REPLICA};

/// What the operator remembers of a shard (from status).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// The primary pod last confirmed.
    pub primary: Option<String>,
    /// The replication offset last seen on that primary (0 when unknown).
    pub primary_offset: i64,
    /// When the operator first found the recorded primary unreachable.
    pub unreachable_since: Option<Timestamp>,
}

/// The spec's say in the decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// `failover.automatic`.
    pub automatic: bool,
    /// `failover.detectionSeconds`.
    pub detection: Duration,
    /// `failover.minReplicasToWrite`.
    pub min_replicas_to_write: i64,
    /// Pods the shard should have (primary and replicas).
    pub desired_pods: i32,
    /// The newest epoch known: in status or held by any node.
    pub epoch: i64,
    /// A switchover of this shard was requested (the drill annotation).
    pub switchover_requested: bool,
    /// The pod the requested switchover must go to (`<shard>:<pod>`), if named.
    pub switchover_target: Option<String>,
    /// This shard may take a pod down for a roll now (one shard at a time).
    pub may_roll: bool,
}

/// Why a primary changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// The shard's first primary.
    Bootstrap,
    /// The recorded primary restarted and holds the shard's data: confirmed again.
    Reconfirm,
    /// The primary did not answer for the detection time.
    PrimaryUnreachable,
    /// The primary's process restarted with less data than a replica holds.
    PrimaryRestarted,
    /// Its pod is terminating (eviction, deletion, a drain).
    PodTerminating,
    /// A replica scale-down removes the primary's ordinal.
    ScaleDown,
    /// The drill annotation asked for it.
    Requested,
    /// A rolling update reached the primary.
    RollingUpdate,
}

impl Why {
    /// CamelCase, for events, status and conditions.
    pub fn as_str(self) -> &'static str {
        match self {
            Why::Bootstrap => "Bootstrap",
            Why::Reconfirm => "Reconfirm",
            Why::PrimaryUnreachable => "PrimaryUnreachable",
            Why::PrimaryRestarted => "PrimaryRestarted",
            Why::PodTerminating => "PodTerminating",
            Why::ScaleDown => "ScaleDown",
            Why::Requested => "Requested",
            Why::RollingUpdate => "RollingUpdate",
        }
    }
}

/// A node to address: pod name and IP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub pod: String,
    pub ip: String,
}

/// One step, epoch-stamped where it changes a role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing to do.
    None,
    /// Nothing can be done yet; the reason says why (for conditions).
    Wait(String),
    /// `TOPOLOGY ROLE <epoch> PRIMARY` on `target`. `from` is the primary it
    /// replaces, with the offsets that measure what the change could lose.
    Promote {
        target: Target,
        epoch: i64,
        why: Why,
        from: Option<String>,
        offset_gap: i64,
    },
    /// `TOPOLOGY ROLE <epoch> REPLICA <primary> 6379` on each of `targets`.
    Repoint {
        targets: Vec<Target>,
        primary: Target,
        epoch: i64,
    },
    /// `TOPOLOGY FENCE <epoch>` on both, then `FAILOVER TO <to>` on `from`:
    /// writes pause until `to` has caught up, so nothing acknowledged is lost.
    Switchover {
        from: Target,
        to: Target,
        epoch: i64,
        why: Why,
    },
    /// Evict a pod (the Eviction API, so budgets hold) for a rolling update.
    Evict { pod: String },
    /// `CONFIG SET min-replicas-to-write <value>` on the primary.
    SetMinReplicas { target: Target, value: i64 },
}

/// Labels a pod should carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelChange {
    pub pod: String,
    /// `primary`, `replica`, or `None` to remove the label.
    pub role: Option<&'static str>,
    pub reader: bool,
}

/// The outcome for one shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    /// The primary to record: the leader observed now (before the action).
    pub leader: Option<String>,
    /// Label changes, demotions first (a pod loses `primary` before another gains it).
    pub labels: Vec<LabelChange>,
    /// What to record as `unreachableSince`.
    pub unreachable_since: Option<Timestamp>,
    /// The shard serves writes through its primary Service once labels are applied.
    pub serving: bool,
}

/// Which in-sync replicas a hand-over may go to.
type TargetFilter<'a> = dyn Fn(&&Member) -> bool + 'a;

/// The next step for a shard.
pub fn decide(
    members: &[Member],
    recorded: &Recorded,
    policy: &Policy,
    now: Timestamp,
) -> Decision {
    let leader = leader(members);
    let labels = labels(members, leader);
    let serving = leader.is_some_and(|l| {
        l.ready && !l.terminating && l.node.as_ref().is_some_and(|n| !n.failing_over)
    });
    let mut unreachable_since = None;
    let action = match leader {
        Some(l) => with_leader(members, l, policy),
        None => {
            let (action, since) = without_leader(members, recorded, policy, now);
            unreachable_since = since;
            action
        }
    };
    Decision {
        action,
        leader: leader.map(|l| l.pod.clone()),
        labels,
        unreachable_since,
        serving,
    }
}

/// Rule 1: the confirmed primary with the highest epoch (a partitioned old
/// primary holds an older one), the lowest ordinal on a tie.
fn leader(members: &[Member]) -> Option<&Member> {
    members
        .iter()
        .filter(|m| {
            m.ip.is_some()
                && m.node
                    .as_ref()
                    .is_some_and(|n| n.is_primary() && n.confirmed && !n.loading)
        })
        .max_by_key(|m| {
            let epoch = m.node.as_ref().map_or(0, |n| n.epoch);
            (epoch, std::cmp::Reverse(m.ordinal))
        })
}

fn target(m: &Member) -> Option<Target> {
    Some(Target {
        pod: m.pod.clone(),
        ip: m.ip.clone()?,
    })
}

/// The epoch a follower must hold: the newest known, at least 1.
fn current_epoch(policy: &Policy) -> i64 {
    policy.epoch.max(1)
}

fn with_leader(members: &[Member], l: &Member, policy: &Policy) -> Action {
    let Some(lt) = target(l) else {
        return Action::Wait("the primary has no IP".into());
    };
    let Some(ln) = l.node.as_ref() else {
        return Action::Wait("the primary does not answer".into());
    };
    if ln.failing_over {
        return Action::Wait(format!("{} is handing its role over", l.pod));
    }
    let epoch = current_epoch(policy);

    // Every other node follows the leader, with the current epoch, confirmed.
    let strays: Vec<Target> = members
        .iter()
        .filter(|m| m.pod != l.pod && m.usable())
        .filter(|m| {
            let n = m.node.as_ref().expect("usable members answered");
            !(n.follows(&lt.ip) && n.confirmed && n.epoch >= epoch)
        })
        .filter_map(target)
        .collect();
    if !strays.is_empty() {
        return Action::Repoint {
            targets: strays,
            primary: lt,
            epoch,
        };
    }

    // Planned hand-overs, to the most caught-up in-sync replica.
    let in_sync = |m: &&Member| {
        m.pod != l.pod
            && m.ready
            && m.usable()
            && m.node
                .as_ref()
                .is_some_and(|n| n.follows(&lt.ip) && n.link_up && n.confirmed)
    };
    let best = |filter: &dyn Fn(&&Member) -> bool| {
        members
            .iter()
            .filter(in_sync)
            .filter(filter)
            .max_by_key(|m| {
                (
                    m.node.as_ref().map_or(-1, |n| n.offset),
                    m.updated,
                    std::cmp::Reverse(m.ordinal),
                )
            })
            .and_then(target)
    };
    let outdated = |m: &Member| !m.updated && !m.terminating && m.ordinal < policy.desired_pods;
    let handover: Option<(Why, &TargetFilter)> = if l.terminating {
        Some((Why::PodTerminating, &|_| true))
    } else if l.ordinal >= policy.desired_pods {
        Some((Why::ScaleDown, &|m| m.ordinal < policy.desired_pods))
    } else if policy.switchover_requested {
        Some((Why::Requested, &|m| {
            policy
                .switchover_target
                .as_ref()
                .is_none_or(|t| *t == m.pod)
        }))
    } else if policy.may_roll
        && outdated(l)
        && members
            .iter()
            .filter(|m| m.pod != l.pod && m.ordinal < policy.desired_pods)
            .all(|m| !outdated(m) && m.ready)
        && members.len() > 1
    {
        Some((Why::RollingUpdate, &|m| m.updated))
    } else {
        None
    };
    if let Some((why, filter)) = handover {
        return match best(filter) {
            Some(to) => Action::Switchover {
                from: lt,
                to,
                epoch: epoch + 1,
                why,
            },
            None => Action::Wait(format!(
                "{} should hand its role over ({}) but no replica is in sync",
                l.pod,
                why.as_str()
            )),
        };
    }

    // Rolling update: one outdated pod at a time, replicas first, only while
    // every pod of the shard is ready (the budget would refuse anyway).
    if policy.may_roll {
        let all_ready = members.iter().all(|m| m.ready && !m.terminating)
            && members.len() as i32 >= policy.desired_pods;
        let outdated_replica = members
            .iter()
            .filter(|m| m.pod != l.pod && outdated(m))
            .max_by_key(|m| m.ordinal);
        match outdated_replica {
            Some(m) if all_ready => return Action::Evict { pod: m.pod.clone() },
            Some(m) => {
                return Action::Wait(format!(
                    "{} waits for every pod to be ready before it is replaced",
                    m.pod
                ))
            }
            None if outdated(l) && policy.desired_pods == 1 && all_ready => {
                // No replica to hand over to: the primary itself is replaced.
                return Action::Evict { pod: l.pod.clone() };
            }
            None => {}
        }
    }

    // min-replicas-to-write only once enough replicas are in sync, so that a
    // new or recovering shard never refuses writes while its replicas sync.
    let synced = members.iter().filter(in_sync).count() as i64;
    let have = ln.min_replicas_to_write;
    let want = policy.min_replicas_to_write;
    if have.is_some() && have != Some(want) && (want == 0 || synced >= want) {
        return Action::SetMinReplicas {
            target: lt,
            value: want,
        };
    }
    Action::None
}

/// The most caught-up usable node, `prefer` winning ties.
fn best_candidate<'a>(
    members: &'a [Member],
    prefer: Option<&str>,
    exclude: Option<&str>,
) -> Option<&'a Member> {
    members
        .iter()
        .filter(|m| m.usable() && m.ip.is_some() && Some(m.pod.as_str()) != exclude)
        .filter(|m| m.node.as_ref().is_some_and(|n| !n.refused_empty))
        .max_by_key(|m| {
            let n = m.node.as_ref().expect("usable members answered");
            (
                n.offset.max(0),
                n.keys,
                Some(m.pod.as_str()) == prefer,
                std::cmp::Reverse(m.ordinal),
            )
        })
}

fn holds_nothing(m: &Member) -> bool {
    m.node.as_ref().is_none_or(|n| n.offset <= 0 && n.keys == 0)
}

fn without_leader(
    members: &[Member],
    recorded: &Recorded,
    policy: &Policy,
    now: Timestamp,
) -> (Action, Option<Timestamp>) {
    let next = current_epoch(policy) + if policy.epoch == 0 { 0 } else { 1 };
    let Some(primary) = recorded.primary.as_deref() else {
        // A new shard: wait until every scheduled pod answers, so that a pod
        // holding data (volumes kept from an earlier cluster) is not missed.
        let silent: Vec<&str> = members
            .iter()
            .filter(|m| m.ip.is_some() && !m.terminating && !m.reachable())
            .map(|m| m.pod.as_str())
            .collect();
        if !silent.is_empty() {
            return (
                Action::Wait(format!(
                    "waiting for {} to answer before choosing the first primary",
                    silent.join(", ")
                )),
                None,
            );
        }
        return match best_candidate(members, None, None).and_then(target) {
            Some(t) => (
                Action::Promote {
                    target: t,
                    epoch: next,
                    why: Why::Bootstrap,
                    from: None,
                    offset_gap: 0,
                },
                None,
            ),
            None => (Action::Wait("no node answers yet".into()), None),
        };
    };

    // A replica whose link carries traffic is fed by a live primary: the old
    // one, even when its pod object is gone (a forced deletion returns before
    // the process dies) or the operator cannot reach it. Promoting now would
    // race it: writes it still takes, and replicas still acknowledge (WAIT),
    // would be lost. Offsets only freeze once it is gone, so the choice
    // waits. A link that is up but silent (a frozen process, a lost machine)
    // feeds nothing: see `NodeFacts::fed`.
    let fed: Vec<&str> = members
        .iter()
        .filter(|m| m.pod != primary)
        .filter(|m| m.node.as_ref().is_some_and(NodeFacts::fed))
        .map(|m| m.pod.as_str())
        .collect();
    let still_fed = || {
        Action::Wait(format!(
            "{} still replicate from a live primary: {primary} is not gone yet",
            fed.join(", ")
        ))
    };

    let old = members.iter().find(|m| m.pod == primary);
    // A new process answers in the recorded primary's pod: the old one is gone,
    // and no detection time is needed to know it.
    let restarted =
        old.is_some_and(|m| m.usable() && m.node.as_ref().is_some_and(|n| !n.confirmed));
    let best = best_candidate(members, Some(primary), None);
    let gap = |m: &Member| recorded.primary_offset - m.node.as_ref().map_or(0, |n| n.offset.max(0));
    let promote = |m: &Member, why: Why, epoch: i64| match target(m) {
        Some(t) => Action::Promote {
            target: t,
            epoch,
            why,
            from: (why != Why::Reconfirm).then(|| primary.to_string()),
            offset_gap: gap(m).max(0),
        },
        None => Action::Wait(format!("{} has no IP", m.pod)),
    };
    // Every pod the shard should have answers, and none holds anything: the
    // data is gone (no persistence, no synced replica) and waiting brings
    // nothing back. Otherwise an absent pod may still hold it.
    let all_answer =
        (0..policy.desired_pods).all(|o| members.iter().any(|m| m.ordinal == o && m.usable()));
    let nothing_to_promote =
        |b: &Member| recorded.primary_offset > 0 && holds_nothing(b) && !all_answer;

    if restarted {
        return match best {
            Some(b) if nothing_to_promote(b) => (
                Action::Wait(format!(
                    "{primary} restarted and no replica holds the shard's data"
                )),
                None,
            ),
            Some(b) if b.pod == primary => {
                (promote(b, Why::Reconfirm, current_epoch(policy)), None)
            }
            Some(_) if !fed.is_empty() => (still_fed(), None),
            Some(b) if policy.automatic => (promote(b, Why::PrimaryRestarted, next), None),
            Some(_) => (
                Action::Wait(format!(
                    "{primary} restarted with less data than a replica; automatic failover is off"
                )),
                None,
            ),
            None => (
                Action::Wait(format!("{primary} restarted; no node can lead yet")),
                None,
            ),
        };
    }

    if old.is_some_and(|m| m.usable()) {
        // It answers and was confirmed, yet leads no more (demoted by hand, or
        // loading finished): confirm it again unless a replica is ahead.
        return match best {
            Some(b) if b.pod == primary => {
                (promote(b, Why::Reconfirm, current_epoch(policy)), None)
            }
            Some(_) if !fed.is_empty() => (still_fed(), None),
            Some(b) if policy.automatic && !nothing_to_promote(b) => {
                (promote(b, Why::PrimaryRestarted, next), None)
            }
            _ => (
                Action::Wait(format!(
                    "{primary} does not lead and no node can replace it"
                )),
                None,
            ),
        };
    }

    // Unreachable (or gone, or loading): fail over after the detection time.
    let since = recorded.unreachable_since.unwrap_or(now);
    let waited = now.duration_since(since).unsigned_abs();
    if !policy.automatic {
        return (
            Action::Wait(format!(
                "{primary} is unreachable; automatic failover is off"
            )),
            Some(since),
        );
    }
    if waited < policy.detection {
        return (
            Action::Wait(format!(
                "{primary} unreachable for {}s of {}s detection time",
                waited.as_secs(),
                policy.detection.as_secs()
            )),
            Some(since),
        );
    }
    if !fed.is_empty() {
        return (still_fed(), Some(since));
    }
    match best_candidate(members, None, Some(primary)) {
        Some(b) if nothing_to_promote(b) => (
            Action::Wait(format!(
                "{primary} is unreachable and no replica holds the shard's data"
            )),
            Some(since),
        ),
        Some(b) => (promote(b, Why::PrimaryUnreachable, next), Some(since)),
        None => (
            Action::Wait(format!("{primary} is unreachable and no replica answers")),
            Some(since),
        ),
    }
}

/// The labels every pod should carry given the leader: it is the only
/// `primary`; nodes following it are `replica`s and readers; every other pod
/// loses `primary` (a partitioned old primary must leave the Service even
/// though it cannot be told so). The leader reads too when no replica is ready.
fn labels(members: &[Member], leader: Option<&Member>) -> Vec<LabelChange> {
    let leader_ip = leader.and_then(|l| l.ip.as_deref());
    let follows =
        |m: &Member| leader_ip.is_some_and(|ip| m.node.as_ref().is_some_and(|n| n.follows(ip)));
    let ready_replicas = members
        .iter()
        .filter(|m| m.ready && !m.terminating && follows(m))
        .count();
    let mut demotions = Vec::new();
    let mut promotions = Vec::new();
    for m in members {
        let is_leader = leader.is_some_and(|l| l.pod == m.pod);
        let (role, reader) = if is_leader {
            (Some(ROLE_PRIMARY), ready_replicas == 0)
        } else if follows(m) {
            (Some(ROLE_REPLICA), true)
        } else if m.role_label.as_deref() == Some(ROLE_PRIMARY) {
            (Some(ROLE_REPLICA), false)
        } else {
            // Unknown for now: keep what it has.
            (
                m.role_label.as_deref().and_then(static_role),
                m.reader_label && m.role_label.as_deref() != Some(ROLE_PRIMARY),
            )
        };
        if role == m.role_label.as_deref().and_then(static_role) && reader == m.reader_label {
            continue;
        }
        let change = LabelChange {
            pod: m.pod.clone(),
            role,
            reader,
        };
        if is_leader {
            promotions.push(change);
        } else {
            demotions.push(change);
        }
    }
    demotions.extend(promotions);
    demotions
}

fn static_role(role: &str) -> Option<&'static str> {
    match role {
        ROLE_PRIMARY => Some(ROLE_PRIMARY),
        ROLE_REPLICA => Some(ROLE_REPLICA),
        _ => None,
    }
}
