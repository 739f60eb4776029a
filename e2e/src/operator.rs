//! The operator under test, installed once per run by the chart.
//!
//! Every scenario calls `ensure_installed` first; the first call runs
//! `hack/e2e/install-operator.sh` (the same installer `make demo` uses: CRDs by
//! server-side apply, then `helm upgrade --install --wait` with the run's image
//! overrides), the others wait for that one. The chart is never installed twice in
//! a run, and a second run on the same cluster upgrades the release in place.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use kube::{Api, Client};
use tokio::process::Command;
use tokio::sync::OnceCell;

use crate::settings::{split_image, Settings};
use crate::wait;

static INSTALLED: OnceCell<()> = OnceCell::const_new();

/// How long the chart may take to install and its Deployment to become available.
const INSTALL_DEADLINE: Duration = Duration::from_secs(300);

/// Installs the chart with this run's images, once per process.
pub async fn ensure_installed(client: &Client, settings: &Settings) -> Result<()> {
    INSTALLED
        .get_or_try_init(|| install(client, settings))
        .await
        .map(|_| ())
}

async fn install(client: &Client, settings: &Settings) -> Result<()> {
    let (op_repo, op_tag) = split_image(&settings.operator_image);
    let (node_repo, node_tag) = split_image(&settings.node_image);
    let output = Command::new("bash")
        .arg(&settings.install_script)
        .current_dir(&settings.repo_root)
        .env("RELEASE", &settings.release)
        .env("RELEASE_NAMESPACE", &settings.release_namespace)
        .env("OPERATOR_IMAGE_REPOSITORY", op_repo)
        .env("OPERATOR_IMAGE_TAG", op_tag)
        .env("NODE_IMAGE_REPOSITORY", node_repo)
        .env("NODE_IMAGE_TAG", node_tag)
        .env("IMAGE_ID", &settings.image_id)
        .env(
            "INSTALL_TIMEOUT",
            format!("{}s", INSTALL_DEADLINE.as_secs()),
        )
        .output()
        .await
        .with_context(|| format!("running {}", settings.install_script.display()))?;
    if !output.status.success() {
        bail!(
            "installing the chart failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &settings.release_namespace);
    wait::deployment_available(&deployments, &deployment_name(settings), INSTALL_DEADLINE).await
}

/// The chart's Deployment: its full name, which is the release name when that
/// already contains the chart name.
pub fn deployment_name(settings: &Settings) -> String {
    if settings.release.contains("kcache-operator") {
        settings.release.clone()
    } else {
        format!("{}-kcache-operator", settings.release)
    }
}
