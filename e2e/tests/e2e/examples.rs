//! Every example manifest users are shown passes the API server's validation.

use anyhow::{bail, Result};
use kcache_e2e::{manifests, Scenario};
use kube::ResourceExt;

#[tokio::test]
#[ignore = "needs a Kubernetes cluster in KUBECONFIG: make e2e-local or make e2e"]
async fn every_example_passes_a_server_side_dry_run() -> Result<()> {
    Scenario::run("examples", |s| async move {
        let examples = manifests::readme_examples(&s.settings.repo_root)?;
        let mut failures = Vec::new();
        let mut checked = 0;
        for example in &examples {
            for obj in &example.objects {
                checked += 1;
                if let Err(e) = manifests::apply(&s.client, &s.namespace, obj, true).await {
                    failures.push(format!("{} ({}): {e:#}", example.source, obj.name_any()));
                }
            }
        }
        eprintln!(
            "dry-ran {checked} objects from {} manifests",
            examples.len()
        );
        if !failures.is_empty() {
            bail!("rejected by the API server:\n{}", failures.join("\n"));
        }
        Ok(())
    })
    .await
}
