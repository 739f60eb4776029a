//! `docs/cachecluster.md`, generated from the CRD's schema and the parameter
//! table, so that the reference cannot drift from what the API server enforces.

use std::fmt::Write;

use kube::CustomResourceExt;
use serde_json::Value;

use super::CacheCluster;
use crate::parameters::{self, ALLOWED, OPERATOR_OWNED};

const INTRO: &str = r#"# CacheCluster reference

`CacheCluster` (`kcache.io/v1alpha1`, short name `cc`) is a Redis-compatible cache
run by kcache-operator: one or more shards, each a primary with up to five replicas,
as a StatefulSet per shard with a headless Service, a PodDisruptionBudget, a
ConfigMap rendered from the spec and, unless you bring your own, a generated
password Secret.

This file is generated from the CRD by `make crds`; a test fails when it is stale.
Examples: [`examples/`](../examples).

```console
$ kubectl apply -f examples/cachecluster.yaml
$ kubectl get cc
NAME    SHARDS   REPLICAS   READY   PHASE     PRIMARY                          AGE
cache   1        1          2/2     Running   cache-primary.default.svc:6379   1m
```

## Objects created for a CacheCluster `<name>`

| Object | Name | Purpose |
| --- | --- | --- |
| StatefulSet per shard | `<name>-shard-<i>` | pods `<name>-shard-<i>-<n>`, `updateStrategy: OnDelete` (the operator orders restarts) |
| headless Service per shard | `<name>-shard-<i>` | stable pod DNS names, also for pods not ready yet |
| Service | `<name>-primary` | writes: the pod labelled `kcache.io/role=primary` |
| Service | `<name>-reader` | reads: pods labelled `kcache.io/role=replica` |
| Service | `<name>` | configuration endpoint: every pod, for cluster-aware clients |
| PodDisruptionBudget per shard | `<name>-shard-<i>` | at most `disruption.maxUnavailable` pods of a shard down in a drain |
| ConfigMap | `<name>-config` | `kcache.conf`, rendered from the spec and `parameters` |
| Secret | `<name>-auth` | the generated password (key `password`), when `auth.passwordSecret` is unset |

Everything is owned by the CacheCluster: deleting it deletes them. Volumes follow
`persistence.reclaimPolicy`. The password reaches the node as the environment
variable `KCACHE_REQUIREPASS` (and `KCACHE_MASTERAUTH` for replication), never
through the ConfigMap.

## Status

`kubectl wait --for=condition=Ready cc/<name>` waits for every pod to be ready.

| Condition | True when | Reasons |
| --- | --- | --- |
| `Ready` | every pod of every shard is ready | `AllPodsReady`, `PodsNotReady`, `InvalidSpec`, `EngineNotSupported`, `SecretNotFound` |
| `Progressing` | objects or pods are still converging to the spec | `Creating`, `RollingOut`, `Converged`, `Paused`, and the error reasons |
| `Degraded` | a cluster that had run lost pods, or the spec cannot be applied | `PodsNotReady`, `AsExpected`, and the error reasons |

`phase` summarizes them: `Pending`, `Creating`, `Running`, `Updating`, `Degraded`,
`Invalid`, `Paused`.
"#;

/// Embedded Kubernetes types: named, not expanded (their reference is upstream's).
const OPAQUE: &[(&str, &str)] = &[
    ("spec.resources", "core/v1 ResourceRequirements"),
    ("spec.placement.affinity", "core/v1 Affinity"),
    ("spec.placement.tolerations", "[]core/v1 Toleration"),
    ("spec.parameters", "map (see Parameters)"),
    ("status.conditions", "[]meta/v1 Condition"),
];

/// The whole markdown reference.
pub fn markdown() -> String {
    let crd = serde_json::to_value(CacheCluster::crd()).unwrap_or(Value::Null);
    let root = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let mut out = String::from(INTRO);
    out.push_str(
        "\n## Spec\n\n| Field | Type | Default | Description |\n| --- | --- | --- | --- |\n",
    );
    fields("spec", &root["properties"]["spec"], &mut out);
    let _ = writeln!(out, "\n### Rules checked at admission\n");
    let mut rules = Vec::new();
    collect_rules("", root, &mut rules);
    for (path, message) in rules {
        let _ = writeln!(out, "- `{path}`: {message}");
    }
    out.push_str(&parameters_section());
    out.push_str("\n## Status fields\n\n| Field | Type | Default | Description |\n| --- | --- | --- | --- |\n");
    fields("status", &root["properties"]["status"], &mut out);
    out
}

fn fields(path: &str, schema: &Value, out: &mut String) {
    let Some(props) = schema["properties"].as_object() else {
        return;
    };
    for (name, sub) in props {
        let here = format!("{path}.{name}");
        let opaque = OPAQUE.iter().find(|(p, _)| *p == here).map(|(_, t)| *t);
        let type_ = opaque.map_or_else(|| type_name(sub), String::from);
        let default = if sub["default"].is_null() || sub["default"].is_object() {
            String::new()
        } else {
            format!("`{}`", sub["default"])
        };
        let _ = writeln!(
            out,
            "| `{}` | {type_} | {default} | {} |",
            here.trim_start_matches("spec.")
                .trim_start_matches("status."),
            cell(sub["description"].as_str().unwrap_or_default())
        );
        if opaque.is_none() {
            fields(&here, sub, out);
            fields(&format!("{here}[]"), &sub["items"], out);
        }
    }
}

fn type_name(schema: &Value) -> String {
    if schema.get("x-kubernetes-int-or-string").is_some() {
        return "quantity".into();
    }
    let base = schema["type"].as_str().unwrap_or("object").to_string();
    let mut t = match base.as_str() {
        "array" => format!("[]{}", type_name(&schema["items"])),
        "object" if schema["additionalProperties"].is_object() => {
            format!("map[string]{}", type_name(&schema["additionalProperties"]))
        }
        _ => base,
    };
    if let Some(values) = schema["enum"].as_array() {
        let words: Vec<String> = values
            .iter()
            .filter_map(|v| v.as_str())
            .map(|v| format!("`{v}`"))
            .collect();
        t = format!("{t}: {}", words.join(", "));
    }
    if let (Some(min), Some(max)) = (schema["minimum"].as_f64(), schema["maximum"].as_f64()) {
        t = format!("{t} ({min}..{max})");
    }
    t
}

fn cell(text: &str) -> String {
    text.replace('\n', " ").replace('|', "\\|")
}

fn collect_rules(path: &str, schema: &Value, out: &mut Vec<(String, String)>) {
    if let Some(rules) = schema["x-kubernetes-validations"].as_array() {
        for rule in rules {
            let at = if path.is_empty() { "metadata" } else { path };
            out.push((
                at.to_string(),
                rule["message"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    if let Some(props) = schema["properties"].as_object() {
        for (name, sub) in props {
            let here = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            if !OPAQUE.iter().any(|(p, _)| *p == here) {
                collect_rules(&here, sub, out);
            }
        }
    }
}

fn parameters_section() -> String {
    let mut out = String::from(
        "\n## Parameters\n\n`spec.parameters` is the parameter group: node settings in redis.conf \
         syntax. Values are strings (quote numbers and `yes`/`no` in YAML). A name not listed \
         here is refused by `kubectl apply` (strict field validation) and otherwise dropped \
         by the API server; values are checked at admission and again by the operator. \
         A change is applied to the running nodes with `CONFIG SET` (live), or, for the few \
         a node reads only at start, by a rolling restart (in `maintenanceWindow` when set).\n\n\
         | Parameter | Value | Change |\n| --- | --- | --- |\n",
    );
    for p in ALLOWED {
        let schema = parameters::value_schema(p);
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            p.name,
            cell(
                schema["description"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches(&format!("`{}`: ", p.name))
            ),
            if p.restart { "rolling restart" } else { "live" }
        );
    }
    out.push_str("\nSet elsewhere, and refused in `parameters`:\n\n| Parameter | Comes from |\n| --- | --- |\n");
    for (name, source) in OPERATOR_OWNED {
        let _ = writeln!(out, "| `{name}` | {source} |");
    }
    out
}
