//! `kcache-operator`: reconciles `CacheCluster` resources. Settings come from the
//! environment (see `config.rs`); the chart sets them.

use std::sync::Arc;

use anyhow::Context as _;
use futures::future::join_all;
use k8s_openapi::api::coordination::v1::Lease;
use kube::runtime::events::{Recorder, Reporter};
use kube::{Api, Client};
use tokio::sync::watch;
use tracing::{error, info, warn};
use tracing_subscriber::EnvFilter;

use kcache_operator::config::Config;
use kcache_operator::constants::CONTROLLER_NAME;
use kcache_operator::leader::Elector;
use kcache_operator::metrics::Metrics;
use kcache_operator::reconcile::Context;
use kcache_operator::{controller, http};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).is_some_and(|a| a == "--version") {
        println!("kcache-operator {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    let config = Config::from_lookup(|k| std::env::var(k).ok()).map_err(anyhow::Error::msg)?;
    init_logging(config.log_json);
    let client = Client::try_default()
        .await
        .context("connecting to Kubernetes")?;
    let metrics = Arc::new(Metrics::default());

    // One signal fans out to the HTTP server, the controllers and the election.
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        info!("shutting down");
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };

    let listener = tokio::net::TcpListener::bind(config.metrics_addr)
        .await
        .with_context(|| format!("binding {}", config.metrics_addr))?;
    tokio::spawn(http::serve(
        listener,
        metrics.clone(),
        stopped(stop_rx.clone()),
    ));

    let elector = Elector::new(
        Api::<Lease>::namespaced(client.clone(), &config.lease_namespace),
        &config.lease_name,
        &config.identity,
        config.lease_duration,
    );
    if config.leader_election && !acquire(&elector, stop_rx.clone()).await? {
        return Ok(());
    }
    metrics.leader.set(1);
    info!(identity = %config.identity, "leading");

    let namespaces: Vec<Option<String>> = if config.namespaces.is_empty() {
        vec![None]
    } else {
        config.namespaces.iter().cloned().map(Some).collect()
    };
    for ns in &namespaces {
        controller::check_crd(&client, ns.as_deref()).await.with_context(|| {
            "listing CacheClusters failed: is the CRD installed (make crds; kubectl apply -f crds/) and does RBAC allow it?"
        })?;
    }
    let ctx = Arc::new(Context {
        client: client.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: CONTROLLER_NAME.into(),
                instance: Some(config.identity.clone()),
            },
        ),
        metrics: metrics.clone(),
        node_image: config.node_image.clone(),
        volatile_writes: Default::default(),
        written: Default::default(),
    });
    let controllers = join_all(
        namespaces
            .into_iter()
            .map(|ns| controller::run(ctx.clone(), ns, stopped(stop_rx.clone()))),
    );

    let outcome = if config.leader_election {
        tokio::select! {
            _ = controllers => Ok(()),
            lost = keep_leading(&elector, stop_rx.clone()) => lost,
        }
    } else {
        controllers.await;
        Ok(())
    };
    metrics.leader.set(0);
    if config.leader_election {
        if let Err(e) = elector.release().await {
            warn!(error = %e, "releasing the Lease");
        }
    }
    outcome
}

/// Waits for the Lease; `false` when shut down first.
async fn acquire(elector: &Elector, mut stop: watch::Receiver<bool>) -> anyhow::Result<bool> {
    let mut tick = tokio::time::interval(elector.renew_period());
    info!("waiting for the leader Lease");
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return Ok(false),
        }
        match elector.try_lead().await {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(e) => warn!(error = %e, "leader election"),
        }
    }
}

/// Renews the Lease until shutdown. Returns an error when the lead is lost: the
/// process then exits so that it never acts alongside a new leader, and its
/// restart joins the election as a follower.
async fn keep_leading(elector: &Elector, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(elector.renew_period());
    let mut last_renewed = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
        match elector.try_lead().await {
            Ok(true) => last_renewed = tokio::time::Instant::now(),
            Ok(false) => anyhow::bail!("another replica took the leader Lease"),
            Err(e) => {
                warn!(error = %e, "renewing the leader Lease");
                if last_renewed.elapsed() >= elector.lease_duration() {
                    error!("could not renew the leader Lease in time");
                    anyhow::bail!("leader Lease expired: {e}");
                }
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            warn!(error = %e, "listening for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                warn!(error = %e, "listening for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
