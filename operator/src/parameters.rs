//! The parameter group: node parameters a CacheCluster may set in `spec.parameters`.
//!
//! This table is the one place to sync with the node's known parameters. It leaves
//! out what the operator sets itself (ports, bind address, data directory,
//! passwords, cluster mode, the HTTP port: setting those by hand would break the
//! pods' wiring) and what has a dedicated spec field (`maxMemory`,
//! `evictionPolicy`, `persistence`, `failover`), so that each value has one source.
//! The CRD's schema of `parameters` is generated from this table, and the
//! reconciler checks the values again with [`check`].

/// How the value of a parameter is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A non-negative integer within the inclusive bounds.
    Int { min: u64, max: u64 },
    /// A byte size: plain bytes, or a number with a k/kb/m/mb/g/gb suffix (case-insensitive).
    Bytes,
    /// `yes` or `no`.
    Bool,
    /// One of the listed words.
    OneOf(&'static [&'static str]),
    /// Snapshot save points: empty (off) or `seconds changes` pairs.
    SavePoints,
    /// Characters of Redis's keyspace event classes, or empty.
    KeyspaceEvents,
    /// A plain file name inside the data directory: no path separators.
    FileName,
}

/// One allowed parameter: its name as in redis.conf, how its value is checked,
/// and whether a change needs the nodes restarted.
#[derive(Clone, Copy, Debug)]
pub struct Parameter {
    pub name: &'static str,
    pub kind: Kind,
    /// `CONFIG SET` cannot change it on a running node: a change rolls the
    /// pods (PDB-safe, in the maintenance window when one is set). Every other
    /// parameter is applied live to each node, without a restart.
    pub restart: bool,
}

/// A parameter the nodes take live (`CONFIG SET`).
const fn p(name: &'static str, kind: Kind) -> Parameter {
    Parameter {
        name,
        kind,
        restart: false,
    }
}

/// A parameter only read at start: a change restarts the nodes.
const fn r(name: &'static str, kind: Kind) -> Parameter {
    Parameter {
        name,
        kind,
        restart: true,
    }
}

/// Every parameter a user may set, sorted by name.
pub const ALLOWED: &[Parameter] = &[
    p("appendfsync", Kind::OneOf(&["always", "everysec", "no"])),
    p("client-query-buffer-limit", Kind::Bytes),
    r(
        "databases",
        Kind::Int {
            min: 1,
            max: 10_000,
        },
    ),
    // Protected on the node (it decides where files are written).
    r("dbfilename", Kind::FileName),
    p("hz", Kind::Int { min: 1, max: 500 }),
    r("io-threads", Kind::Int { min: 1, max: 128 }),
    p(
        "loglevel",
        Kind::OneOf(&["debug", "verbose", "notice", "warning", "nothing"]),
    ),
    p(
        "maxclients",
        Kind::Int {
            min: 1,
            max: 1_000_000,
        },
    ),
    p("notify-keyspace-events", Kind::KeyspaceEvents),
    p("proto-max-bulk-len", Kind::Bytes),
    p("repl-backlog-size", Kind::Bytes),
    p("replica-read-only", Kind::Bool),
    p("stop-writes-on-bgsave-error", Kind::Bool),
    p("tcp-keepalive", Kind::Int { min: 0, max: 7200 }),
    p(
        "timeout",
        Kind::Int {
            min: 0,
            max: 31_536_000,
        },
    ),
];

/// Node parameters a user may not set in `parameters`, with where their value
/// comes from: the pod wiring, or a dedicated spec field (one source of truth).
pub const OPERATOR_OWNED: &[(&str, &str)] = &[
    ("appendonly", "spec.persistence.mode"),
    ("bind", "the operator (pod networking)"),
    ("cluster-enabled", "spec.shards"),
    ("dir", "the operator (data volume)"),
    ("http-port", "the operator (probes and metrics)"),
    ("masterauth", "spec.auth"),
    ("maxmemory", "spec.maxMemory"),
    ("maxmemory-policy", "spec.evictionPolicy"),
    ("min-replicas-max-lag", "spec.failover.maxLagSeconds"),
    ("min-replicas-to-write", "spec.failover.minReplicasToWrite"),
    ("port", "the operator (Services and probes)"),
    (
        "repl-ping-replica-period",
        "the operator (failure detection)",
    ),
    ("requirepass", "spec.auth"),
    ("save", "spec.persistence.schedule"),
];

/// Lines of the rendered config that come from dedicated spec fields or the
/// operator itself, with their kind: all of them are applied live.
/// `min-replicas-to-write` is not here: the topology step raises it itself
/// once replicas are in sync.
pub const DERIVED: &[Parameter] = &[
    p("appendonly", Kind::Bool),
    p("maxmemory", Kind::Bytes),
    p("maxmemory-policy", Kind::OneOf(&[])),
    p(
        "min-replicas-max-lag",
        Kind::Int {
            min: 0,
            max: u32::MAX as u64,
        },
    ),
    p(
        "repl-ping-replica-period",
        Kind::Int {
            min: 1,
            max: u32::MAX as u64,
        },
    ),
    p("save", Kind::SavePoints),
];

/// Looks a parameter up by its name (lower case, as in redis.conf).
pub fn lookup(name: &str) -> Option<&'static Parameter> {
    ALLOWED.iter().find(|p| p.name == name)
}

/// The parameter a config line sets, user-settable or derived.
pub fn any(name: &str) -> Option<&'static Parameter> {
    lookup(name).or_else(|| DERIVED.iter().find(|p| p.name == name))
}

/// A value as the node reports it in `CONFIG GET`, so that what the spec
/// says and what a node holds compare equal when they mean the same: sizes
/// in bytes, numbers without leading zeros, save points with single spaces,
/// keyspace event classes as a sorted set with `A` expanded.
pub fn normalize(kind: Kind, value: &str) -> String {
    let value = value.trim();
    match kind {
        Kind::Bytes => parse_bytes(value).map_or_else(|| value.to_string(), |b| b.to_string()),
        Kind::Int { .. } => value
            .parse::<u64>()
            .map_or_else(|_| value.to_string(), |n| n.to_string()),
        Kind::SavePoints => value.split_whitespace().collect::<Vec<_>>().join(" "),
        Kind::KeyspaceEvents => {
            let mut classes: Vec<char> = value
                .chars()
                .flat_map(|c| match c {
                    'A' => "g$lshzxetd".chars().collect::<Vec<_>>(),
                    c => vec![c],
                })
                .collect();
            classes.sort_unstable();
            classes.dedup();
            classes.into_iter().collect()
        }
        Kind::Bool | Kind::OneOf(_) | Kind::FileName => value.to_ascii_lowercase(),
    }
}

/// Checks one `name: value` pair; the error is a sentence for a condition message.
pub fn check(name: &str, value: &str) -> Result<(), String> {
    let Some(param) = lookup(name) else {
        if let Some((_, source)) = OPERATOR_OWNED.iter().find(|(n, _)| *n == name) {
            return Err(format!(
                "parameter {name:?} cannot be set in parameters: it comes from {source}"
            ));
        }
        return Err(format!("unknown parameter {name:?}"));
    };
    let ok = match param.kind {
        Kind::Int { min, max } => value.parse::<u64>().is_ok_and(|v| (min..=max).contains(&v)),
        Kind::Bytes => parse_bytes(value).is_some(),
        Kind::Bool => matches!(value, "yes" | "no"),
        Kind::OneOf(words) => words.contains(&value),
        Kind::SavePoints => is_save_points(value),
        Kind::KeyspaceEvents => value.chars().all(|c| "KEg$lshzxetmdnA".contains(c)),
        Kind::FileName => is_file_name(value),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "parameter {name:?}: {value:?} is not {}",
            describe(param.kind)
        ))
    }
}

fn describe(kind: Kind) -> String {
    match kind {
        Kind::Int { min, max } => format!("an integer from {min} to {max}"),
        Kind::Bytes => "a size in bytes (like 1048576, 64mb or 1gb)".into(),
        Kind::Bool => "yes or no".into(),
        Kind::OneOf(words) => format!("one of {}", words.join(", ")),
        Kind::SavePoints => {
            "empty or pairs of \"seconds changes\" (like \"3600 1 300 100\")".into()
        }
        Kind::FileName => {
            "a file name of letters, digits, '.', '_' and '-' (not starting with '.')".into()
        }
        Kind::KeyspaceEvents => {
            "a set of keyspace event classes (K, E, g, $, l, s, h, z, x, e, t, m, d, n, A)".into()
        }
    }
}

/// Parses a redis.conf byte size: `1048576`, `64mb`, `1gb`, `512k`. Units follow
/// Redis: `k`/`m`/`g` are powers of 1000, `kb`/`mb`/`gb` powers of 1024.
pub fn parse_bytes(value: &str) -> Option<u64> {
    let lower = value.to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(digits_end);
    let number: u64 = digits.parse().ok()?;
    let factor: u64 = match unit {
        "" | "b" => 1,
        "k" => 1_000,
        "kb" => 1 << 10,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor)
}

fn is_file_name(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && !value.starts_with('.')
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// `save` accepts "" (snapshots off) or whitespace-separated `seconds changes` pairs.
pub fn is_save_points(value: &str) -> bool {
    let fields: Vec<&str> = value.split_whitespace().collect();
    fields.len().is_multiple_of(2) && fields.iter().all(|f| f.parse::<u64>().is_ok())
}

/// OpenAPI schema of one parameter's value in the CRD, generated from its kind so
/// that the API server and the operator agree on names and shapes.
pub fn value_schema(param: &Parameter) -> serde_json::Value {
    let mut schema = serde_json::json!({
        "type": "string",
        "description": format!("`{}`: {}.", param.name, describe(param.kind)),
    });
    let pattern = match param.kind {
        Kind::Int { .. } => Some(r"^[0-9]+$"),
        Kind::Bytes => Some(r"^[0-9]+([kKmMgG][bB]?|[bB])?$"),
        Kind::SavePoints => Some(r"^([0-9]+ [0-9]+( [0-9]+ [0-9]+)*)?$"),
        Kind::KeyspaceEvents => Some(r"^[KEg$lshzxetmdnA]*$"),
        Kind::FileName => Some(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$"),
        Kind::Bool | Kind::OneOf(_) => None,
    };
    if let Some(pattern) = pattern {
        schema["pattern"] = pattern.into();
    }
    match param.kind {
        Kind::Bool => schema["enum"] = serde_json::json!(["yes", "no"]),
        Kind::OneOf(words) => schema["enum"] = serde_json::json!(words),
        _ => {}
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_disjoint_from_owned() {
        let names: Vec<&str> = ALLOWED.iter().map(|p| p.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted, "ALLOWED must be sorted and unique");
        for (owned, _) in OPERATOR_OWNED {
            assert!(lookup(owned).is_none(), "{owned} is operator-owned");
        }
    }

    #[test]
    fn values_are_checked_by_kind() {
        assert!(check("appendfsync", "everysec").is_ok());
        assert!(check("appendfsync", "sometimes").is_err());
        assert!(check("hz", "10").is_ok());
        assert!(check("hz", "0").is_err());
        assert!(check("hz", "ten").is_err());
        assert!(check("replica-read-only", "yes").is_ok());
        assert!(check("replica-read-only", "true").is_err());
        assert!(check("repl-backlog-size", "64mb").is_ok());
        assert!(check("repl-backlog-size", "64 mb").is_err());
        assert!(is_save_points(""));
        assert!(is_save_points("3600 1 300 100"));
        assert!(!is_save_points("3600"));
        assert!(check("notify-keyspace-events", "Ex").is_ok());
        assert!(check("notify-keyspace-events", "Q").is_err());
        assert!(check("dbfilename", "snap.rdb").is_ok());
        assert!(check("dbfilename", "../etc/passwd").is_err());
    }

    #[test]
    fn owned_and_unknown_names_have_distinct_messages() {
        let owned = check("port", "7000").unwrap_err();
        assert!(owned.contains("comes from the operator"), "{owned}");
        let field = check("maxmemory", "1gb").unwrap_err();
        assert!(field.contains("spec.maxMemory"), "{field}");
        let unknown = check("no-such-thing", "1").unwrap_err();
        assert!(unknown.contains("unknown parameter"), "{unknown}");
    }

    #[test]
    fn values_normalize_as_the_node_reports_them() {
        let n = |name: &str, v: &str| normalize(any(name).expect("known").kind, v);
        assert_eq!(n("maxmemory", "100mb"), "104857600");
        assert_eq!(n("maxmemory", "104857600"), "104857600");
        assert_eq!(n("timeout", "007"), "7");
        assert_eq!(n("save", " 3600 1  300 100"), "3600 1 300 100");
        assert_eq!(
            n("notify-keyspace-events", "KEA"),
            n("notify-keyspace-events", "AKE")
        );
        assert_eq!(n("notify-keyspace-events", "Ex"), "Ex");
        assert_eq!(
            n("notify-keyspace-events", "A"),
            n(
                "notify-keyspace-events",
                "$degx lhszt".replace(' ', "").as_str()
            )
        );
        assert_ne!(n("timeout", "7"), n("timeout", "8"));
        assert_eq!(n("appendonly", "yes"), "yes");
    }

    #[test]
    fn restart_parameters_are_the_ones_the_node_reads_only_at_start() {
        let restart: Vec<&str> = ALLOWED
            .iter()
            .filter(|p| p.restart)
            .map(|p| p.name)
            .collect();
        assert_eq!(restart, ["databases", "dbfilename", "io-threads"]);
        assert!(DERIVED
            .iter()
            .all(|p| !p.restart && lookup(p.name).is_none()));
    }

    #[test]
    fn byte_sizes_follow_redis_units() {
        assert_eq!(parse_bytes("100"), Some(100));
        assert_eq!(parse_bytes("1k"), Some(1_000));
        assert_eq!(parse_bytes("1KB"), Some(1_024));
        assert_eq!(parse_bytes("2gb"), Some(2 << 30));
        assert_eq!(parse_bytes("1tb"), None);
        assert_eq!(parse_bytes(""), None);
        assert_eq!(parse_bytes("99999999999999999999gb"), None);
    }

    #[test]
    fn value_schemas_constrain_shapes() {
        let hz = value_schema(lookup("hz").expect("hz is allowed"));
        assert_eq!(hz["pattern"], "^[0-9]+$");
        let fsync = value_schema(lookup("appendfsync").expect("allowed"));
        assert_eq!(
            fsync["enum"],
            serde_json::json!(["always", "everysec", "no"])
        );
        let ro = value_schema(lookup("replica-read-only").expect("allowed"));
        assert_eq!(ro["enum"], serde_json::json!(["yes", "no"]));
    }
}
