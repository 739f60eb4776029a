//! `act`: carries out one decided action, epoch-stamped, and the label changes.
//! Every action is idempotent: repeating it after a crash (the operator's or a
//! node's) changes nothing more, and a node holding a newer epoch refuses it.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{EvictParams, Patch, PatchParams};
use kube::Api;
use serde_json::json;
use tracing::info;

use super::decide::{Action, LabelChange, Target};
use super::observe::{connect, timed_out};
use crate::constants::{labels, RESP_PORT};
use crate::error::{Error, Result};
use crate::resp::RespError;

/// How long the primary may pause writes for a switchover before the node
/// gives up and keeps its role (`FAILOVER ... TIMEOUT`).
pub const SWITCHOVER_TIMEOUT_MS: u64 = 5_000;

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Done {
    /// The action ran.
    Ran,
    /// The Eviction API refused (a budget holds): try again later.
    EvictionRefused(String),
}

/// Applies label changes in order (demotions first, see `decide::labels`).
pub async fn labels(pods: &Api<Pod>, changes: &[LabelChange]) -> Result<()> {
    for c in changes {
        let patch = json!({
            "metadata": {
                "labels": {
                    labels::ROLE: c.role,
                    labels::READER: c.reader.then_some("true"),
                }
            }
        });
        pods.patch(&c.pod, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        info!(pod = %c.pod, role = c.role.unwrap_or("-"), reader = c.reader, "labelled");
    }
    Ok(())
}

pub async fn run(action: &Action, pods: &Api<Pod>, password: Option<&str>) -> Result<Done> {
    match action {
        Action::None | Action::Wait(_) => {}
        Action::Promote { target, epoch, .. } => {
            command(
                target,
                password,
                &["TOPOLOGY", "ROLE", &epoch.to_string(), "PRIMARY"],
            )
            .await?;
        }
        Action::Repoint {
            targets,
            primary,
            epoch,
        } => {
            // Each node independently: one that fails does not hold the others.
            let epoch = epoch.to_string();
            let port = RESP_PORT.to_string();
            let args = ["TOPOLOGY", "ROLE", &epoch, "REPLICA", &primary.ip, &port];
            let results =
                futures::future::join_all(targets.iter().map(|t| command(t, password, &args)))
                    .await;
            results.into_iter().collect::<Result<Vec<()>>>()?;
        }
        Action::Switchover {
            from, to, epoch, ..
        } => {
            // Fence both first: an operator that lost its lease cannot undo this.
            let e = epoch.to_string();
            command(to, password, &["TOPOLOGY", "FENCE", &e]).await?;
            command(from, password, &["TOPOLOGY", "FENCE", &e]).await?;
            command(
                from,
                password,
                &[
                    "FAILOVER",
                    "TO",
                    &to.ip,
                    &RESP_PORT.to_string(),
                    "TIMEOUT",
                    &SWITCHOVER_TIMEOUT_MS.to_string(),
                ],
            )
            .await?;
        }
        Action::Evict { pod } => match pods.evict(pod, &EvictParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 429 => {
                return Ok(Done::EvictionRefused(status.message));
            }
            Err(e) => return Err(e.into()),
        },
        Action::SetMinReplicas { target, value } => {
            command(
                target,
                password,
                &["CONFIG", "SET", "min-replicas-to-write", &value.to_string()],
            )
            .await?;
        }
    }
    Ok(Done::Ran)
}

pub async fn command(target: &Target, password: Option<&str>, args: &[&str]) -> Result<()> {
    let node_error = |source: RespError| Error::Node {
        pod: target.pod.clone(),
        source,
    };
    let mut conn = connect(&target.ip, password).await.map_err(node_error)?;
    tokio::time::timeout(std::time::Duration::from_secs(3), conn.ok(args))
        .await
        .map_err(|_| node_error(timed_out()))?
        .map_err(node_error)?;
    Ok(())
}
