//! Operator settings, from environment variables (the chart sets them).

use std::net::SocketAddr;
use std::time::Duration;

use crate::constants::DEFAULT_NODE_IMAGE;

/// Settings of one operator process.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `KCACHE_NODE_IMAGE`: image of clusters that name none.
    pub node_image: String,
    /// `KCACHE_WATCH_NAMESPACES`: comma-separated namespaces; empty watches all.
    pub namespaces: Vec<String>,
    /// `KCACHE_METRICS_ADDR`: where `/metrics`, `/healthz` and `/readyz` listen.
    pub metrics_addr: SocketAddr,
    /// `KCACHE_LEADER_ELECTION`: `false` to act without a Lease (one replica only).
    pub leader_election: bool,
    /// `KCACHE_LEASE_NAME`: name of the Lease.
    pub lease_name: String,
    /// `POD_NAMESPACE`: namespace of the Lease (the operator's own).
    pub lease_namespace: String,
    /// `POD_NAME`: this replica's identity in the Lease and in Events.
    pub identity: String,
    /// `KCACHE_LEASE_SECONDS`: how long a silent leader keeps the Lease.
    pub lease_duration: Duration,
    /// `KCACHE_LOG_FORMAT`: `json` or `text`.
    pub log_json: bool,
}

impl Config {
    /// Reads the settings through `get` (the process environment in main).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let metrics_addr =
            non_empty("KCACHE_METRICS_ADDR").unwrap_or_else(|| "0.0.0.0:8080".into());
        let lease_seconds = match non_empty("KCACHE_LEASE_SECONDS") {
            Some(s) => s
                .parse::<u64>()
                .ok()
                .filter(|s| (3..=600).contains(s))
                .ok_or_else(|| format!("KCACHE_LEASE_SECONDS={s:?} must be 3 to 600"))?,
            None => 15,
        };
        let leader_election = match non_empty("KCACHE_LEADER_ELECTION").as_deref() {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(format!(
                    "KCACHE_LEADER_ELECTION={other:?} must be true or false"
                ))
            }
        };
        Ok(Self {
            node_image: non_empty("KCACHE_NODE_IMAGE").unwrap_or_else(|| DEFAULT_NODE_IMAGE.into()),
            namespaces: non_empty("KCACHE_WATCH_NAMESPACES")
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
            metrics_addr: metrics_addr
                .parse()
                .map_err(|e| format!("KCACHE_METRICS_ADDR={metrics_addr:?}: {e}"))?,
            leader_election,
            lease_name: non_empty("KCACHE_LEASE_NAME")
                .unwrap_or_else(|| "kcache-operator-leader".into()),
            lease_namespace: non_empty("POD_NAMESPACE").unwrap_or_else(|| "default".into()),
            identity: non_empty("POD_NAME")
                .or_else(|| non_empty("HOSTNAME"))
                .unwrap_or_else(|| format!("kcache-operator-{}", std::process::id())),
            lease_duration: Duration::from_secs(lease_seconds),
            log_json: non_empty("KCACHE_LOG_FORMAT").as_deref() == Some("json"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults() {
        let c = config(&[]).expect("defaults are valid");
        assert_eq!(c.node_image, "kcache-node:dev");
        assert!(c.namespaces.is_empty());
        assert!(c.leader_election);
        assert_eq!(c.metrics_addr.port(), 8080);
        assert_eq!(c.lease_duration, Duration::from_secs(15));
    }

    #[test]
    fn overrides_and_errors() {
        let c = config(&[
            ("KCACHE_WATCH_NAMESPACES", "a, b,,"),
            ("KCACHE_NODE_IMAGE", "reg/node:1"),
            ("POD_NAME", "op-0"),
            ("POD_NAMESPACE", "kcache-system"),
        ])
        .expect("valid");
        assert_eq!(c.namespaces, ["a", "b"]);
        assert_eq!(c.node_image, "reg/node:1");
        assert_eq!(
            (c.identity.as_str(), c.lease_namespace.as_str()),
            ("op-0", "kcache-system")
        );
        assert!(config(&[("KCACHE_LEASE_SECONDS", "1")]).is_err());
        assert!(config(&[("KCACHE_METRICS_ADDR", "nope")]).is_err());
        assert!(config(&[("KCACHE_LEADER_ELECTION", "maybe")]).is_err());
    }
}
