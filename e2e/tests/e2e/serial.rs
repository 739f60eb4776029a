//! Scenarios that disturb what every scenario shares (the operator itself), so
//! `hack/e2e/run-suite.sh` runs them after the others, one at a time.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kcache_e2e::disruption;
use kcache_e2e::{operator, Scenario};
use kube::Api;

use crate::topology::{
    create, finish, more_writes, ready_with_one_primary, shard0, start_writer, until_failover_from,
    until_keys,
};

#[tokio::test]
#[ignore = "needs a Kubernetes cluster in KUBECONFIG: make e2e-local or make e2e"]
async fn an_operator_killed_with_the_primary_is_succeeded_by_one_that_completes_the_failover(
) -> Result<()> {
    Scenario::run("operator-kill", |s| async move {
        let name = "opkill";
        let (cc, password) = create(&s, name, 2).await?;
        let primary = shard0(&cc)?.primary.clone().context("no primary")?;
        let writer = start_writer(&s, name, password.clone(), Some((1, 1000)));
        until_keys(&s, name, password.as_deref(), 200).await?;

        let ns = &s.settings.release_namespace;
        let leases: Api<Lease> = Api::namespaced(s.client.clone(), ns);
        let lease_name = format!("{}-leader", operator::deployment_name(&s.settings));
        let holder = leases
            .get(&lease_name)
            .await
            .context("the leader Lease")?
            .spec
            .and_then(|l| l.holder_identity)
            .context("nobody holds the Lease")?;
        let operator_pods: Api<Pod> = Api::namespaced(s.client.clone(), ns);
        let pods: Api<Pod> = s.api();

        // The leader and the primary die together: the failover is decided by
        // the next leader, from what the nodes report and status recorded.
        let killed_at = Instant::now();
        let (a, b) = tokio::join!(disruption::kill(&operator_pods, &holder), disruption::kill(&pods, &primary));
        a?;
        b?;
        let status = until_failover_from(&s, name, &primary).await?;
        let failover = status.last_failover.context("no failover recorded")?;
        ready_with_one_primary(&s, name).await?;
        let recovered = killed_at.elapsed();
        let new_holder = leases
            .get(&lease_name)
            .await?
            .spec
            .and_then(|l| l.holder_identity)
            .unwrap_or_default();
        ensure!(new_holder != holder, "the killed operator still holds the Lease");
        more_writes(&s, name, password.as_deref(), 100).await?;
        let log = finish(&s, name, password.as_deref(), "operator-kill", writer).await?;
        eprintln!(
            "[operator-kill] leader {holder} and primary {primary} killed; {new_holder} took over and failed over to {} ({}); Ready {} ms after the kill; write unavailability {} ms",
            failover.to,
            failover.reason,
            recovered.as_millis(),
            log.longest_gap().as_millis()
        );
        ensure!(log.longest_gap() < Duration::from_secs(120), "writes stopped for {:?}", log.longest_gap());
        Ok(())
    })
    .await
}
