//! Events a human would want to see, planned from what exists and what is about
//! to be applied. Pure, so that each is unit-tested.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType};
use kube::ResourceExt;

use crate::builders::{names, Desired};
use crate::constants::annotations::CONFIG_HASH;
use crate::error::Error;
use crate::reconcile::dereference::Referenced;
use crate::reconcile::validate::Validated;

fn event(type_: EventType, reason: &str, action: &str, note: String) -> Event {
    Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: action.into(),
        secondary: None,
    }
}

/// Names the object an event is about besides the CacheCluster. Also keeps
/// events apart: the recorder folds events with the same reason and related
/// object into one series, which would hide all shards but the first.
fn about(mut ev: Event, api_version: &str, kind: &str, namespace: &str, name: &str) -> Event {
    ev.secondary = Some(ObjectReference {
        api_version: Some(api_version.into()),
        kind: Some(kind.into()),
        namespace: Some(namespace.into()),
        name: Some(name.into()),
        ..ObjectReference::default()
    });
    ev
}

fn about_sts(ev: Event, v: &Validated, name: &str) -> Event {
    about(ev, "apps/v1", "StatefulSet", &v.namespace, name)
}

/// Events for the changes an apply of `desired` makes to what `refs` found.
pub fn planned(v: &Validated, refs: &Referenced, desired: &Desired) -> Vec<Event> {
    let mut events = Vec::new();
    if refs.fresh_password.is_some() && desired.secret.is_some() {
        let secret = names::auth_secret(&v.name);
        let ev = event(
            EventType::Normal,
            "PasswordGenerated",
            "Create",
            format!("Generated a password into Secret {secret}"),
        );
        events.push(about(ev, "v1", "Secret", &v.namespace, &secret));
    }
    for sts in &desired.statefulsets {
        let name = sts.name_any();
        let pods = sts
            .spec
            .as_ref()
            .and_then(|s| s.replicas)
            .unwrap_or_default();
        match refs.statefulsets.iter().find(|e| e.name_any() == name) {
            None => events.push(about_sts(
                event(
                    EventType::Normal,
                    "ShardCreated",
                    "Create",
                    format!("Created StatefulSet {name} with {pods} pods"),
                ),
                v,
                &name,
            )),
            Some(existing) => {
                let before = existing
                    .spec
                    .as_ref()
                    .and_then(|s| s.replicas)
                    .unwrap_or_default();
                if before != pods {
                    events.push(about_sts(
                        event(
                            EventType::Normal,
                            "ShardScaled",
                            "Scale",
                            format!("StatefulSet {name}: {before} -> {pods} pods"),
                        ),
                        v,
                        &name,
                    ));
                }
                if config_hash(existing) != config_hash(sts) {
                    events.push(about_sts(
                        event(
                            EventType::Normal,
                            "ConfigChanged",
                            "Update",
                            format!("Pod template of {name} changed; pods pick it up when they are replaced"),
                        ),
                        v,
                        &name,
                    ));
                }
            }
        }
    }
    let wanted: Vec<String> = desired.statefulsets.iter().map(|s| s.name_any()).collect();
    for extra in refs
        .statefulsets
        .iter()
        .filter(|s| !wanted.contains(&s.name_any()))
    {
        let name = extra.name_any();
        let ev = event(
            EventType::Warning,
            "ShardRemovalPending",
            "Scale",
            format!(
                "StatefulSet {name} is beyond spec.shards and is kept: removing a shard needs its slots moved first"
            ),
        );
        events.push(about_sts(ev, v, &name));
    }
    events
}

fn config_hash(sts: &StatefulSet) -> Option<&String> {
    sts.spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(CONFIG_HASH))
}

/// The Warning for a spec that cannot be run.
pub fn failed(err: &Error) -> Event {
    event(
        EventType::Warning,
        err.reason(),
        "Validate",
        err.to_string(),
    )
}

/// The Normal event when reconciling stops for `spec.paused`.
pub fn paused() -> Event {
    event(
        EventType::Normal,
        "Paused",
        "Pause",
        "spec.paused is set: the operator leaves the cluster as it is".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::build;
    use crate::builders::fixtures::{refs, validated};

    fn reasons(events: &[Event]) -> Vec<&str> {
        events.iter().map(|e| e.reason.as_str()).collect()
    }

    #[test]
    fn first_reconcile_creates_shards_and_a_password() {
        let v = validated("shards: 2");
        let events = planned(&v, &refs(vec![]), &build(&v));
        assert_eq!(
            reasons(&events),
            ["PasswordGenerated", "ShardCreated", "ShardCreated"]
        );
        let related: Vec<_> = events
            .iter()
            .filter_map(|e| e.secondary.as_ref().and_then(|r| r.name.clone()))
            .collect();
        assert_eq!(
            related,
            ["demo-auth", "demo-shard-0", "demo-shard-1"],
            "one series per object"
        );
    }

    #[test]
    fn unchanged_cluster_has_no_events() {
        let v = validated("");
        let desired = build(&v);
        let mut found = refs(vec![]);
        found.fresh_password = None;
        found.statefulsets = desired.statefulsets.clone();
        assert!(planned(&v, &found, &desired).is_empty());
    }

    #[test]
    fn scaling_config_changes_and_extra_shards_are_reported() {
        let before = build(&validated("shards: 2"));
        let v = validated("replicasPerShard: 2\nparameters: {databases: '32'}");
        let mut found = refs(vec![]);
        found.fresh_password = None;
        found.statefulsets = before.statefulsets.clone();
        let events = planned(&v, &found, &build(&v));
        assert_eq!(
            reasons(&events),
            ["ShardScaled", "ConfigChanged", "ShardRemovalPending"]
        );
        assert!(matches!(events[2].type_, EventType::Warning));
    }
}
