//! The ConfigMap holding the node's config file, rendered from the spec and its
//! parameters in redis.conf syntax (`name value` lines).
//!
//! Only settings that may differ between clusters live here. What wires a pod
//! (ports, bind address, data directory, cluster mode, TLS files) is passed as
//! command-line arguments by the StatefulSet builder, and the password comes from
//! an environment variable: a ConfigMap is readable by more people than a Secret.

use std::fmt::Write;

use k8s_openapi::api::core::v1::ConfigMap;
use sha2::{Digest, Sha256};

use super::{labels, names, owned_meta};
use crate::constants::{CONFIG_KEY, DEFAULT_SAVE_POINTS, REPL_PING_SECONDS};
use crate::crd::PersistenceMode;
use crate::parameters;
use crate::reconcile::validate::Validated;

pub fn build(v: &Validated) -> ConfigMap {
    ConfigMap {
        metadata: owned_meta(v, names::configmap(&v.name), labels::common(&v.name)),
        data: Some([(CONFIG_KEY.to_string(), render(v))].into()),
        ..ConfigMap::default()
    }
}

/// The config file. Dedicated spec fields first, then the user's parameters in
/// name order, so the text (and its hash) only changes when the spec does.
pub fn render(v: &Validated) -> String {
    let mut out = format!(
        "# kcache node configuration for CacheCluster {}/{}, rendered by kcache-operator.\n\
         # Edits are overwritten: change spec.parameters instead.\n",
        v.namespace, v.name
    );
    for (name, value) in settings(v) {
        // Values were validated to contain no whitespace, quotes or newlines; an
        // empty value is written as "" as redis.conf expects.
        let value = if value.is_empty() {
            "\"\"".to_string()
        } else {
            value
        };
        let _ = writeln!(out, "{name} {value}");
    }
    out
}

/// The settings that take effect only when a node starts: their hash goes on
/// the pod template, so that changing one rolls the pods and changing any
/// other setting does not (the topology step applies those live).
pub fn restart_settings(v: &Validated) -> Vec<(String, String)> {
    settings(v)
        .into_iter()
        .filter(|(name, _)| name != "min-replicas-to-write")
        .filter(|(name, _)| parameters::any(name).is_none_or(|p| p.restart))
        .collect()
}

/// The settings every running node should hold, applied with `CONFIG SET`
/// when one differs (a changed spec, or a pod that started before its
/// mounted config caught up). `min-replicas-to-write` is left out: the
/// topology step raises it once replicas are in sync.
pub fn live_settings(v: &Validated) -> Vec<(String, String)> {
    settings(v)
        .into_iter()
        .filter(|(name, _)| name != "min-replicas-to-write")
        .filter(|(name, _)| parameters::any(name).is_some_and(|p| !p.restart))
        .collect()
}

/// `name value` pairs of the config file, in file order.
pub fn settings(v: &Validated) -> Vec<(String, String)> {
    let spec = &v.spec;
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, v: String| lines.push((k.to_string(), v));
    if let Some(bytes) = v.maxmemory {
        set("maxmemory", bytes.to_string());
    }
    set("maxmemory-policy", spec.eviction_policy.as_str().into());
    let (appendonly, save) = match spec.persistence.mode {
        PersistenceMode::None => ("no", String::new()),
        PersistenceMode::Snapshot => (
            "no",
            spec.persistence
                .schedule
                .clone()
                .unwrap_or_else(|| DEFAULT_SAVE_POINTS.into()),
        ),
        // The log is the durable copy; periodic snapshots on top would double the
        // disk writes for no gain in what survives a crash.
        PersistenceMode::Aof => ("yes", String::new()),
    };
    set("appendonly", appendonly.into());
    set("save", save);
    // Off at start: a new or restarted shard must not refuse writes while its
    // replicas sync. The topology step raises it to failover.minReplicasToWrite
    // with CONFIG SET once that many replicas are in sync.
    set("min-replicas-to-write", "0".into());
    set(
        "min-replicas-max-lag",
        spec.failover.max_lag_seconds.to_string(),
    );
    // Failure detection: a live primary touches every replica link each
    // second, so the topology step can tell a silent link from a fed one.
    set("repl-ping-replica-period", REPL_PING_SECONDS.to_string());
    for (name, value) in &spec.parameters {
        set(name, value.clone());
    }
    lines
}

/// Short hash of the settings read only at start, put on the pod template so
/// that changing one is a new StatefulSet revision (a roll).
pub fn hash(v: &Validated) -> String {
    let mut text = String::new();
    for (name, value) in restart_settings(v) {
        let _ = writeln!(text, "{name} {value:?}");
    }
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::fixtures::validated;

    fn config(spec: &str) -> String {
        render(&validated(spec))
    }

    fn line<'a>(config: &'a str, name: &str) -> Option<&'a str> {
        config
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
    }

    #[test]
    fn defaults_render_a_memory_only_cache() {
        let c = config("");
        assert_eq!(line(&c, "maxmemory-policy"), Some("volatile-lru"));
        assert_eq!(line(&c, "appendonly"), Some("no"));
        assert_eq!(line(&c, "save"), Some("\"\""));
        assert_eq!(line(&c, "maxmemory"), None, "no limit, no maxmemory");
        assert_eq!(line(&c, "min-replicas-max-lag"), Some("10"));
    }

    #[test]
    fn maxmemory_defaults_to_three_quarters_of_the_limit() {
        let c = config("resources: {limits: {memory: 1Gi}}");
        assert_eq!(line(&c, "maxmemory"), Some("805306368"));
        let c = config("resources: {limits: {memory: 1Gi}}\nmaxMemory: 512Mi");
        assert_eq!(line(&c, "maxmemory"), Some("536870912"));
    }

    #[test]
    fn persistence_modes() {
        let c = config("persistence: {mode: snapshot}");
        assert_eq!(line(&c, "save"), Some(DEFAULT_SAVE_POINTS));
        let c = config("persistence: {mode: snapshot, schedule: '900 1'}");
        assert_eq!(line(&c, "save"), Some("900 1"));
        let c = config("persistence: {mode: aof}");
        assert_eq!(line(&c, "appendonly"), Some("yes"));
    }

    #[test]
    fn parameters_follow_in_name_order_and_secrets_never_appear() {
        let c = config(
            "parameters: {timeout: '300', hz: '20', notify-keyspace-events: ''}\nevictionPolicy: allkeys-lfu",
        );
        assert_eq!(line(&c, "maxmemory-policy"), Some("allkeys-lfu"));
        let hz = c.find("\nhz 20").expect("hz rendered");
        let timeout = c.find("\ntimeout 300").expect("timeout rendered");
        assert!(hz < timeout);
        assert_eq!(line(&c, "notify-keyspace-events"), Some("\"\""));
        assert!(!c.contains("requirepass") && !c.contains(crate::builders::fixtures::PASSWORD));
    }

    #[test]
    fn hash_follows_only_what_needs_a_restart() {
        let a = hash(&validated(""));
        assert_eq!(a.len(), 16);
        assert_eq!(a, hash(&validated("")));
        let restart = hash(&validated("parameters: {databases: '32'}"));
        assert_ne!(a, restart, "databases is read at start");
        for live in [
            "parameters: {hz: '20'}",
            "parameters: {timeout: '300', notify-keyspace-events: Ex}",
            "maxMemory: 512Mi",
            "evictionPolicy: allkeys-lfu",
        ] {
            assert_eq!(a, hash(&validated(live)), "{live} is applied live");
        }
    }

    #[test]
    fn live_settings_are_what_config_set_may_change() {
        let v = validated("parameters: {hz: '20', io-threads: '2'}\nmaxMemory: 512Mi");
        let live = live_settings(&v);
        let names: Vec<&str> = live.iter().map(|(n, _)| n.as_str()).collect();
        assert!(
            names.contains(&"hz") && names.contains(&"maxmemory"),
            "{names:?}"
        );
        assert!(!names.contains(&"io-threads"));
        assert!(!names.contains(&"min-replicas-to-write"));
        let restart = restart_settings(&v);
        assert_eq!(restart, [("io-threads".to_string(), "2".to_string())]);
        // Every line is one or the other (min-replicas-to-write aside).
        assert_eq!(live.len() + restart.len() + 1, settings(&v).len());
    }
}
