//! Invalid CacheClusters are refused by the API server itself, with the message
//! the CRD carries (its CEL rules and schema bounds), before the operator sees them.

use anyhow::{bail, Context, Result};
use kcache_e2e::{manifests, Scenario};
use kcache_operator::crd::CacheCluster;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Api, CustomResourceExt};
use serde_json::{json, Value};

#[tokio::test]
#[ignore = "needs a Kubernetes cluster in KUBECONFIG: make e2e-local or make e2e"]
async fn invalid_clusters_are_rejected_with_the_crds_message() -> Result<()> {
    Scenario::run("invalid", |s| async move {
        let api: Api<DynamicObject> = Api::namespaced_with(
            s.client.clone(),
            &s.namespace,
            &ApiResource::erase::<CacheCluster>(&()),
        );
        let cases = [
            (
                "image and version",
                cluster(
                    "both",
                    json!({ "image": "registry.example/kcache-node:1.0", "version": "1.0" }),
                ),
                rule_message("set either image")?,
            ),
            (
                "minReplicasToWrite above replicasPerShard",
                cluster(
                    "strict",
                    json!({ "replicasPerShard": 1, "failover": { "minReplicasToWrite": 2 } }),
                ),
                rule_message("minReplicasToWrite cannot exceed")?,
            ),
            (
                "a 41-character name",
                cluster(&"a".repeat(41), json!({})),
                rule_message("at most 40 characters")?,
            ),
            (
                "six replicas per shard",
                cluster("wide", json!({ "replicasPerShard": 6 })),
                "spec.replicasPerShard: Invalid value".to_string(),
            ),
            (
                "a maintenance window in another format",
                cluster(
                    "windowed",
                    json!({ "maintenanceWindow": "Sunday 23:00-01:00" }),
                ),
                "spec.maintenanceWindow: Invalid value".to_string(),
            ),
        ];
        for (what, obj, message) in &cases {
            let refused = api.create(&PostParams::default(), obj).await;
            expect_invalid(what, refused.map(|_| ()), message)?;
        }

        // Transition rules: a change the CRD forbids is refused on update. A
        // paused cluster keeps the operator out of the way.
        let obj = cluster("fixed", json!({ "shards": 1, "paused": true }));
        let apply = PatchParams::apply(manifests::FIELD_MANAGER);
        api.patch("fixed", &apply, &Patch::Apply(&obj)).await?;
        let resharded = cluster("fixed", json!({ "shards": 3, "paused": true }));
        let refused = api.patch("fixed", &apply, &Patch::Apply(&resharded)).await;
        expect_invalid(
            "shards from 1 to 3",
            refused.map(|_| ()),
            &rule_message("shards cannot change between 1")?,
        )?;
        let engine = cluster(
            "fixed",
            json!({ "shards": 1, "paused": true, "engine": "memcached" }),
        );
        let refused = api.patch("fixed", &apply, &Patch::Apply(&engine)).await;
        expect_invalid(
            "the engine",
            refused.map(|_| ()),
            &rule_message("engine is immutable")?,
        )?;
        Ok(())
    })
    .await
}

fn cluster(name: &str, spec: Value) -> DynamicObject {
    let mut obj = DynamicObject::new(name, &ApiResource::erase::<CacheCluster>(&()));
    obj.data = json!({ "spec": spec });
    obj
}

/// The API server answered 422 Invalid with `message` in its text.
fn expect_invalid(what: &str, result: kube::Result<()>, message: &str) -> Result<()> {
    match result {
        Err(kube::Error::Api(status)) if status.code == 422 && status.message.contains(message) => {
            Ok(())
        }
        Err(kube::Error::Api(status)) => bail!(
            "{what}: refused with {} {:?}, expected a 422 saying {message:?}",
            status.code,
            status.message
        ),
        Err(e) => bail!("{what}: {e}"),
        Ok(()) => bail!("{what}: accepted, expected a 422 saying {message:?}"),
    }
}

/// The message of the CRD's validation rule whose message contains `needle`,
/// taken from the CRD the Rust types generate, so that the test and the CRD
/// cannot disagree on wording.
fn rule_message(needle: &str) -> Result<String> {
    let crd = serde_json::to_value(CacheCluster::crd())?;
    let mut messages = Vec::new();
    collect_messages(&crd, &mut messages);
    messages
        .into_iter()
        .find(|m| m.contains(needle))
        .with_context(|| format!("no CRD validation rule says {needle:?}"))
}

fn collect_messages(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(rules)) = map.get("x-kubernetes-validations") {
                out.extend(
                    rules
                        .iter()
                        .filter_map(|r| r["message"].as_str().map(String::from)),
                );
            }
            map.values().for_each(|v| collect_messages(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_messages(v, out)),
        _ => {}
    }
}
