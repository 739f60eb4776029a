//! One scenario: its own namespace, the operator installed, and on failure a dump
//! of what happened (CacheCluster status, events, pods and their logs, and the
//! operator's log) before the namespace is removed.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use futures::FutureExt;
use k8s_openapi::api::core::v1::{Event, Namespace, Pod};
use kcache_operator::crd::CacheCluster;
use kube::api::{DeleteParams, ListParams, LogParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use crate::operator;
use crate::settings::Settings;

/// Label on every namespace the suite creates, to find leftovers.
pub const NAMESPACE_LABEL: &str = "kcache.io/e2e";
/// Lines of each log in a failure dump.
const LOG_LINES: i64 = 120;

#[derive(Clone)]
pub struct Scenario {
    pub client: Client,
    pub settings: Settings,
    /// This scenario's namespace.
    pub namespace: String,
}

impl Scenario {
    /// Runs `body` in a fresh namespace. On failure (an error or a panic) prints
    /// what a person debugging it needs, then fails the test.
    pub async fn run<F, Fut>(test: &str, body: F) -> Result<()>
    where
        F: FnOnce(Scenario) -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        let settings = Settings::from_env();
        let client = Client::try_default()
            .await
            .context("no Kubernetes client: set KUBECONFIG to the cluster to test")?;
        operator::ensure_installed(&client, &settings).await?;
        let namespace = create_namespace(&client, test).await?;
        let scenario = Scenario {
            client,
            settings,
            namespace,
        };
        eprintln!("[{test}] namespace {}", scenario.namespace);
        let started = std::time::Instant::now();
        let outcome = AssertUnwindSafe(body(scenario.clone()))
            .catch_unwind()
            .await;
        let failed = !matches!(outcome, Ok(Ok(())));
        eprintln!(
            "[{test}] {} in {:.1} s",
            if failed { "FAILED" } else { "passed" },
            started.elapsed().as_secs_f64()
        );
        if failed {
            scenario.dump(test).await;
        }
        if failed && scenario.settings.keep_failed {
            eprintln!(
                "[{test}] kept namespace {} (KCACHE_E2E_KEEP=1)",
                scenario.namespace
            );
        } else {
            scenario.delete_namespace().await;
        }
        match outcome {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    async fn delete_namespace(&self) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        // Not waited for: pods take their grace period to stop, and nothing
        // later depends on this namespace being gone.
        if let Err(e) = namespaces
            .delete(&self.namespace, &DeleteParams::background())
            .await
        {
            eprintln!("deleting namespace {}: {e}", self.namespace);
        }
    }

    /// Prints the state of the namespace and the operator's log to stderr, which
    /// the test harness shows for a failed test.
    pub async fn dump(&self, test: &str) {
        let mut out = format!(
            "\n===== [{test}] failure dump, namespace {} =====\n",
            self.namespace
        );
        let clusters: Api<CacheCluster> = self.api();
        match clusters.list(&ListParams::default()).await {
            Ok(list) => {
                for cc in list {
                    out += &format!("--- CacheCluster {} status\n", cc.name_any());
                    out += &serde_yaml::to_string(&cc.status).unwrap_or_default();
                }
            }
            Err(e) => out += &format!("listing CacheClusters: {e}\n"),
        }
        out += "--- events\n";
        let events: Api<Event> = self.api();
        match events.list(&ListParams::default()).await {
            Ok(list) => {
                let mut items = list.items;
                items.sort_by_key(|e| e.metadata.creation_timestamp.clone());
                for e in items {
                    out += &format!(
                        "{} {} {}/{}: {} (x{})\n",
                        e.type_.unwrap_or_default(),
                        e.reason.unwrap_or_default(),
                        e.involved_object.kind.unwrap_or_default(),
                        e.involved_object.name.unwrap_or_default(),
                        e.message.unwrap_or_default().trim_end(),
                        e.count.unwrap_or(1)
                    );
                }
            }
            Err(e) => out += &format!("listing events: {e}\n"),
        }
        out += &pod_report(&self.api(), &ListParams::default()).await;
        let operator_pods: Api<Pod> =
            Api::namespaced(self.client.clone(), &self.settings.release_namespace);
        let selector = format!("app.kubernetes.io/instance={}", self.settings.release);
        out += "--- operator\n";
        out += &pod_report(&operator_pods, &ListParams::default().labels(&selector)).await;
        out += &format!("===== end of [{test}] dump =====\n");
        eprintln!("{out}");
    }
}

/// Each pod's phase, conditions, container states and recent log.
async fn pod_report(pods: &Api<Pod>, params: &ListParams) -> String {
    let list = match pods.list(params).await {
        Ok(list) => list,
        Err(e) => return format!("listing pods: {e}\n"),
    };
    let mut out = String::new();
    for pod in list {
        let name = pod.name_any();
        let status = pod.status.clone().unwrap_or_default();
        out += &format!("--- pod {name}: {}\n", status.phase.unwrap_or_default());
        for c in status.conditions.unwrap_or_default() {
            out += &format!(
                "  {}={} {}\n",
                c.type_,
                c.status,
                c.message.unwrap_or_default()
            );
        }
        for cs in status.container_statuses.unwrap_or_default() {
            out += &format!(
                "  container {}: ready={} restarts={} state={}\n",
                cs.name,
                cs.ready,
                cs.restart_count,
                serde_json::to_string(&cs.state).unwrap_or_default()
            );
            let params = LogParams {
                container: Some(cs.name.clone()),
                tail_lines: Some(LOG_LINES),
                ..LogParams::default()
            };
            match pods.logs(&name, &params).await {
                Ok(log) => out += &log,
                Err(e) => out += &format!("  (no log: {e})\n"),
            }
        }
    }
    out
}

/// A namespace named after the test, unique per run.
async fn create_namespace(client: &Client, test: &str) -> Result<String> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let base: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let name = format!(
        "e2e-{}-{:05x}",
        base.trim_matches('-'),
        (nanos ^ std::process::id()) & 0xfffff
    );
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({
        "metadata": { "name": name, "labels": { NAMESPACE_LABEL: "true" } }
    }))?;
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    Ok(name)
}
