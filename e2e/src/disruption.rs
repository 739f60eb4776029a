//! Disruptions a scenario inflicts: evictions (what a node drain does, subject to
//! PodDisruptionBudgets) and pod kills (a crash, no grace).

use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, EvictParams};
use kube::runtime::wait::Condition;
use kube::Api;

use crate::wait;

/// What the eviction API answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Eviction {
    /// The pod is being evicted.
    Evicted,
    /// A PodDisruptionBudget refused it (HTTP 429), with the API server's message.
    Refused(String),
}

/// Evicts a pod as `kubectl drain` would.
pub async fn evict(pods: &Api<Pod>, name: &str) -> Result<Eviction> {
    match pods.evict(name, &EvictParams::default()).await {
        Ok(_) => Ok(Eviction::Evicted),
        Err(kube::Error::Api(status)) if status.code == 429 => {
            Ok(Eviction::Refused(status.message))
        }
        Err(e) => Err(e).with_context(|| format!("evicting {name}")),
    }
}

/// Kills a pod at once (grace period 0), as a crash or a lost node would, and
/// returns the killed pod's uid.
pub async fn kill(pods: &Api<Pod>, name: &str) -> Result<String> {
    let uid = pods
        .get(name)
        .await
        .with_context(|| format!("reading {name}"))?
        .metadata
        .uid
        .ok_or_else(|| anyhow!("{name} has no uid"))?;
    pods.delete(name, &DeleteParams::default().grace_period(0))
        .await
        .with_context(|| format!("killing {name}"))?;
    Ok(uid)
}

/// Waits until the StatefulSet has replaced pod `name` (old uid `old_uid`) with a
/// new pod that is Ready.
pub async fn wait_replaced_ready(
    pods: &Api<Pod>,
    name: &str,
    old_uid: &str,
    deadline: Duration,
) -> Result<Pod> {
    let replaced = move |p: Option<&Pod>| {
        p.is_some_and(|p| {
            p.metadata.uid.as_deref() != Some(old_uid) && is_pod_ready().matches_object(Some(p))
        })
    };
    wait::until(pods, name, "replaced and Ready", deadline, replaced)
        .await?
        .ok_or_else(|| anyhow!("{name} absent"))
}

/// The pod's Ready condition is True (and it is not being deleted).
pub fn is_pod_ready() -> impl Condition<Pod> {
    |p: Option<&Pod>| {
        p.filter(|p| p.metadata.deletion_timestamp.is_none())
            .and_then(|p| p.status.as_ref()?.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    }
}

/// The node processes of a pod, frozen with SIGSTOP: a hung process or a
/// machine lost without a TCP reset, as its peers see it (connections stay
/// open, nothing answers). Thawed with SIGCONT on [`Frozen::thaw`] or drop.
pub struct Frozen {
    pids: Vec<u32>,
}

impl Frozen {
    /// Freezes every `kcache-node` process of the pod with uid `pod_uid`. The
    /// processes are found by their cgroup, which names the pod's uid (with
    /// `_` for `-` under the systemd driver); so this needs the cluster's
    /// nodes on this machine, as the local cluster and kind have them.
    pub fn pod(pod_uid: &str) -> Result<Frozen> {
        let pids = pod_processes(pod_uid, "kcache-node")?;
        if pids.is_empty() {
            return Err(anyhow!(
                "no kcache-node process of pod uid {pod_uid} on this machine: \
                 freezing needs the cluster's nodes here (make e2e-local, kind)"
            ));
        }
        signal(&pids, "STOP")?;
        Ok(Frozen { pids })
    }

    pub fn pids(&self) -> &[u32] {
        &self.pids
    }

    /// Lets the processes run again; one that is gone meanwhile (the
    /// kubelet's liveness probe restarts a frozen container) is skipped.
    pub fn thaw(mut self) -> Result<()> {
        let pids: Vec<u32> = std::mem::take(&mut self.pids)
            .into_iter()
            .filter(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
            .collect();
        if pids.is_empty() {
            return Ok(());
        }
        signal(&pids, "CONT")
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        if !self.pids.is_empty() {
            let _ = signal(&self.pids, "CONT");
        }
    }
}

/// Processes named `comm` whose cgroup belongs to the pod with `pod_uid`.
fn pod_processes(pod_uid: &str, comm: &str) -> Result<Vec<u32>> {
    let systemd_uid = pod_uid.replace('-', "_");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").context("listing /proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // Processes come and go while we read: skip any that vanished.
        let Ok(name) = std::fs::read_to_string(entry.path().join("comm")) else {
            continue;
        };
        if name.trim_end() != comm {
            continue;
        }
        let Ok(cgroup) = std::fs::read_to_string(entry.path().join("cgroup")) else {
            continue;
        };
        if cgroup.contains(pod_uid) || cgroup.contains(&systemd_uid) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

fn signal(pids: &[u32], sig: &str) -> Result<()> {
    let mut cmd = std::process::Command::new("kill");
    cmd.arg(format!("-{sig}"));
    cmd.args(pids.iter().map(u32::to_string));
    let status = cmd.status().context("running kill")?;
    if !status.success() {
        return Err(anyhow!("kill -{sig} {pids:?} failed: {status}"));
    }
    Ok(())
}
