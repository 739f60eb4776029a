//! The in-cluster client load: `kcache-load` (the `load/` crate, built into an
//! image by `make images`) run as a Job that talks to a CacheCluster through
//! its Service DNS name, as an application pod would, then reads every
//! acknowledged write back and prints one JSON line of counts.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, LogParams, PostParams};
use serde::Deserialize;
use serde_json::json;

use crate::Scenario;

/// What `kcache-load` printed.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct LoadReport {
    pub seconds: f64,
    pub attempted: u64,
    pub acked: u64,
    pub keys: u64,
    pub lost: u64,
    pub wrong: u64,
    pub unread: u64,
    pub errors: BTreeMap<String, u64>,
    pub longest_gap_ms: u64,
    pub first_lost: Option<String>,
}

/// A running load Job.
pub struct Load {
    job: String,
    limit: Duration,
}

/// Starts `kcache-load` against `endpoint` (`host:port`) with `args`, the
/// password from the cluster's Secret (`secret`, key `password`) when given.
pub async fn start(
    s: &Scenario,
    job: &str,
    endpoint_flag: &str,
    endpoint: &str,
    secret: Option<&str>,
    seconds: u64,
    args: &[&str],
) -> Result<Load> {
    let mut command = vec![
        endpoint_flag.to_string(),
        endpoint.to_string(),
        "--duration".into(),
        seconds.to_string(),
    ];
    command.extend(args.iter().map(|a| a.to_string()));
    let env = match secret {
        Some(secret) => {
            json!([{ "name": "KCACHE_PASSWORD", "valueFrom": { "secretKeyRef": { "name": secret, "key": "password" } } }])
        }
        None => json!([]),
    };
    let body: Job = serde_json::from_value(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": { "name": job },
        "spec": {
            "backoffLimit": 0,
            "template": { "spec": {
                "restartPolicy": "Never",
                "containers": [{
                    "name": "load",
                    "image": s.settings.load_image,
                    "imagePullPolicy": "IfNotPresent",
                    "args": command,
                    "env": env,
                    "resources": { "requests": { "cpu": "50m", "memory": "32Mi" }, "limits": { "memory": "256Mi" } },
                    "securityContext": { "runAsNonRoot": true, "runAsUser": 65532, "allowPrivilegeEscalation": false,
                                         "readOnlyRootFilesystem": true, "capabilities": { "drop": ["ALL"] } },
                }],
            }},
        },
    }))?;
    s.api::<Job>()
        .create(&PostParams::default(), &body)
        .await
        .with_context(|| format!("creating Job {job}"))?;
    // The run, the read-back (bounded at 120 s by the program) and start-up.
    let limit = Duration::from_secs(seconds + 120 + 120);
    Ok(Load {
        job: job.to_string(),
        limit,
    })
}

impl Load {
    /// Waits for the Job to end and returns the counts it printed. The Job
    /// failing (anything lost, or no write acknowledged) still returns the
    /// counts, so the scenario reports them before it fails.
    pub async fn finish(self, s: &Scenario) -> Result<LoadReport> {
        let jobs = s.api::<Job>();
        let deadline = Instant::now() + self.limit;
        loop {
            let job = jobs.get(&self.job).await?;
            let st = job.status.unwrap_or_default();
            if st.succeeded.unwrap_or(0) > 0 || st.failed.unwrap_or(0) > 0 {
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "Job {} did not end within {:?}",
                self.job,
                self.limit
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let pods = s.api::<Pod>();
        let list = pods
            .list(&ListParams::default().labels(&format!("job-name={}", self.job)))
            .await?;
        let pod = list.items.first().context("the Job's pod is gone")?;
        let name = pod.metadata.name.clone().unwrap_or_default();
        let logs = pods.logs(&name, &LogParams::default()).await?;
        let Some(line) = logs.lines().rev().find(|l| l.starts_with('{')) else {
            bail!("{name} printed no counts: {logs}");
        };
        serde_json::from_str(line).with_context(|| format!("{name} printed {line}"))
    }
}
