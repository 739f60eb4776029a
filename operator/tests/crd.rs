//! The checked-in CRD: no drift from the Rust types, and its CEL rules refuse
//! what they should with the messages users will read (evaluated client-side
//! with kube's CEL validator, the same rules the API server runs).

use kube::core::cel::Validator;
use serde::Deserialize;
use serde_json::{json, Value};

const CRD_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../crds/cacheclusters.kcache.io.yaml"
);

fn checked_in() -> String {
    std::fs::read_to_string(CRD_PATH).unwrap_or_else(|e| panic!("reading {CRD_PATH}: {e}"))
}

#[test]
fn checked_in_crd_matches_the_types() {
    let fresh = kcache_operator::crd::crd_yaml().expect("CRD serializes");
    assert!(
        fresh == checked_in(),
        "crds/cacheclusters.kcache.io.yaml is stale: run `make crds` and commit the result"
    );
}

#[test]
fn chart_copy_and_reference_doc_are_current() {
    let chart = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../charts/kcache-operator/crds/cacheclusters.kcache.io.yaml"
    );
    let chart = std::fs::read_to_string(chart).expect("chart CRD readable");
    assert!(
        chart == checked_in(),
        "the chart's CRD is stale: run `make crds`"
    );
    let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/cachecluster.md");
    let docs = std::fs::read_to_string(docs).expect("docs/cachecluster.md readable");
    assert!(
        docs == kcache_operator::crd::docs::markdown(),
        "docs/cachecluster.md is stale: run `make crds`"
    );
}

fn crd() -> Value {
    serde_yaml::from_str(&checked_in()).expect("CRD YAML parses")
}

fn schema() -> Value {
    crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

fn object(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "kcache.io/v1alpha1",
        "kind": "CacheCluster",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": spec,
    })
}

/// The messages of the rules that fail, or an empty list.
fn failures(new: &Value, old: Option<&Value>) -> Vec<String> {
    match Validator::new().validate(&schema(), new, old) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.iter().map(|e| e.message.clone()).collect(),
    }
}

fn fails_with(new: &Value, old: Option<&Value>, needle: &str) {
    let messages = failures(new, old);
    assert!(
        messages.iter().any(|m| m.contains(needle)),
        "expected a failure mentioning {needle:?}, got {messages:?}"
    );
}

#[test]
fn valid_objects_pass() {
    assert_eq!(
        failures(&object("demo", json!({})), None),
        Vec::<String>::new()
    );
    let rich = object(
        "orders",
        json!({"shards": 3, "replicasPerShard": 2, "failover": {"minReplicasToWrite": 1},
               "persistence": {"mode": "snapshot", "schedule": "900 1"}, "version": "1.0"}),
    );
    assert_eq!(failures(&rich, None), Vec::<String>::new());
    let update = object(
        "orders",
        json!({"shards": 4, "replicasPerShard": 1, "persistence": {"mode": "aof"}}),
    );
    let before = object(
        "orders",
        json!({"shards": 3, "replicasPerShard": 2, "persistence": {"mode": "snapshot"}}),
    );
    assert_eq!(failures(&update, Some(&before)), Vec::<String>::new());
}

#[test]
fn names_must_fit_the_derived_names() {
    fails_with(
        &object(&"a".repeat(41), json!({})),
        None,
        "at most 40 characters",
    );
    fails_with(&object("9lives", json!({})), None, "start with a letter");
}

#[test]
fn cross_field_rules() {
    fails_with(
        &object("demo", json!({"image": "x:1", "version": "2"})),
        None,
        "not both",
    );
    fails_with(
        &object(
            "demo",
            json!({"replicasPerShard": 1, "failover": {"minReplicasToWrite": 2}}),
        ),
        None,
        "cannot exceed replicasPerShard",
    );
    fails_with(
        &object(
            "demo",
            json!({"persistence": {"mode": "aof", "schedule": "60 1"}}),
        ),
        None,
        "only to mode snapshot",
    );
    fails_with(
        &object(
            "demo",
            json!({"auth": {"enabled": false, "passwordSecret": {"name": "p"}}}),
        ),
        None,
        "auth.enabled is false",
    );
}

#[test]
fn immutable_fields() {
    let old = object("demo", json!({"engine": "redis"}));
    fails_with(
        &object("demo", json!({"engine": "memcached"})),
        Some(&old),
        "engine is immutable",
    );
    let one = object("demo", json!({"shards": 1}));
    fails_with(
        &object("demo", json!({"shards": 2})),
        Some(&one),
        "cluster mode",
    );
    let none = object("demo", json!({"persistence": {"mode": "none"}}));
    fails_with(
        &object("demo", json!({"persistence": {"mode": "aof"}})),
        Some(&none),
        "switched on or off",
    );
    let small = object(
        "demo",
        json!({"persistence": {"mode": "aof", "storage": {"size": "1Gi"}}}),
    );
    fails_with(
        &object(
            "demo",
            json!({"persistence": {"mode": "aof", "storage": {"size": "2Gi"}}}),
        ),
        Some(&small),
        "storage is immutable",
    );
}

#[test]
fn shape_of_the_crd() {
    let crd = crd();
    assert_eq!(crd["spec"]["names"]["shortNames"], json!(["cc"]));
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert!(
        version["subresources"]["status"].is_object(),
        "status subresource"
    );
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .expect("printer columns")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        columns,
        ["Shards", "Replicas", "Ready", "Phase", "Primary", "Epoch", "Endpoint", "Age"]
    );
    // `kubectl get cc` shows the primary pod; `-o wide` adds the epoch and endpoint.
    let primary = &version["additionalPrinterColumns"][4];
    assert_eq!(primary["jsonPath"], ".status.shards[0].primary");
    assert_eq!(version["additionalPrinterColumns"][5]["priority"], 1);

    let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert_eq!(
        spec["properties"]["replicasPerShard"]["maximum"].as_f64(),
        Some(5.0)
    );
    let params = spec["properties"]["parameters"]["properties"]
        .as_object()
        .expect("parameters are a closed set of properties");
    for (owned, _) in kcache_operator::parameters::OPERATOR_OWNED {
        assert!(!params.contains_key(*owned), "{owned} must not be settable");
    }
    assert_eq!(params.len(), kcache_operator::parameters::ALLOWED.len());

    // Every field carries a description for `kubectl explain`.
    fn undocumented(path: &str, schema: &Value, out: &mut Vec<String>) {
        if schema.is_null() {
            return;
        }
        if let Some(props) = schema["properties"].as_object() {
            for (name, sub) in props {
                let here = format!("{path}.{name}");
                if sub["description"].as_str().is_none_or(str::is_empty) {
                    out.push(here.clone());
                }
                undocumented(&here, sub, out);
            }
        }
        undocumented(path, &schema["items"], out);
    }
    let mut missing = Vec::new();
    undocumented("spec", spec, &mut missing);
    undocumented(
        "status",
        &version["schema"]["openAPIV3Schema"]["properties"]["status"],
        &mut missing,
    );
    assert!(
        missing.is_empty(),
        "fields without a description: {missing:?}"
    );
}

#[test]
fn examples_pass_the_schema_rules_and_parse() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let mut clusters = 0;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("examples/ readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).expect("example readable");
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value = Value::deserialize(doc).expect("example YAML parses");
            if value["kind"] != "CacheCluster" {
                continue;
            }
            clusters += 1;
            let cc: kcache_operator::crd::CacheCluster =
                serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            assert!(cc.spec.shards >= 1);
            assert_eq!(failures(&value, None), Vec::<String>::new(), "{path:?}");
            for (name, v) in &cc.spec.parameters {
                kcache_operator::parameters::check(name, v)
                    .unwrap_or_else(|e| panic!("{path:?}: {e}"));
            }
        }
    }
    assert!(
        clusters >= 3,
        "examples/ should hold at least three CacheClusters"
    );
}
