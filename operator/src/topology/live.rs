//! Parameters applied live: a change of a setting that `CONFIG SET` may
//! change (most of them; see `parameters::Parameter::restart`) reaches every
//! running node at once, without a restart, as ElastiCache applies its
//! modifiable parameters. The config file carries the same values for pods
//! that start later; a pod that starts before its mounted copy caught up is
//! given them here too, since each node's values are compared at every step.

use super::facts::{Member, NodeFacts};
use crate::parameters;

/// One node that holds other values than the spec asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drift {
    pub pod: String,
    pub ip: String,
    /// `name value` pairs to set, in file order.
    pub set: Vec<(String, String)>,
}

/// What `node` must be given so that it holds `desired`. A parameter the node
/// does not report (an older node) is left alone: it could not take it.
pub fn drift(desired: &[(String, String)], node: &NodeFacts) -> Vec<(String, String)> {
    desired
        .iter()
        .filter(|(name, want)| {
            let Some(have) = node.config.get(name) else {
                return false;
            };
            match parameters::any(name) {
                Some(p) => {
                    parameters::normalize(p.kind, have) != parameters::normalize(p.kind, want)
                }
                None => have != want,
            }
        })
        .cloned()
        .collect()
}

/// The nodes of a shard to update: those that answer and stay.
pub fn plan(desired: &[(String, String)], members: &[Member]) -> Vec<Drift> {
    members
        .iter()
        .filter(|m| m.usable())
        .filter_map(|m| {
            let set = drift(desired, m.node.as_ref()?);
            let ip = m.ip.clone()?;
            (!set.is_empty()).then(|| Drift {
                pod: m.pod.clone(),
                ip,
                set,
            })
        })
        .collect()
}

/// `CONFIG SET name value [name value ...]`: all or nothing on the node.
pub fn command(d: &Drift) -> Vec<&str> {
    let mut args = vec!["CONFIG", "SET"];
    for (name, value) in &d.set {
        args.push(name);
        args.push(value);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(config: &[(&str, &str)]) -> NodeFacts {
        NodeFacts {
            config: config
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..NodeFacts::default()
        }
    }

    fn want(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn equal_meanings_are_no_drift() {
        let n = node(&[
            ("maxmemory", "536870912"),
            ("notify-keyspace-events", "AKE"),
            ("save", "3600 1 300 100"),
            ("hz", "10"),
        ]);
        let desired = want(&[
            ("maxmemory", "512mb"),
            ("notify-keyspace-events", "KEA"),
            ("save", "3600 1 300 100"),
            ("hz", "10"),
        ]);
        assert!(drift(&desired, &n).is_empty());
    }

    #[test]
    fn changed_values_are_set_and_unknown_names_left_alone() {
        let n = node(&[("maxmemory", "536870912"), ("hz", "10")]);
        let desired = want(&[("maxmemory", "1gb"), ("hz", "10"), ("timeout", "300")]);
        assert_eq!(drift(&desired, &n), want(&[("maxmemory", "1gb")]));
    }

    #[test]
    fn only_answering_staying_nodes_are_planned() {
        let m = |pod: &str, terminating: bool, facts: Option<NodeFacts>| Member {
            pod: pod.into(),
            ip: Some(format!("10.0.0.{}", pod.len())),
            terminating,
            node: facts,
            ..Member::default()
        };
        let members = [
            m("a", false, Some(node(&[("hz", "10")]))),
            m("bb", true, Some(node(&[("hz", "10")]))),
            m("ccc", false, None),
            m("dddd", false, Some(node(&[("hz", "20")]))),
        ];
        let plan = plan(&want(&[("hz", "20")]), &members);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].pod, "a");
        assert_eq!(command(&plan[0]), ["CONFIG", "SET", "hz", "20"]);
    }
}
