//! Roles, failover, switchover and rolls, each under a client load that records
//! every acknowledged write through `<name>-primary` (as its EndpointSlices
//! route), then reads every one back. Each scenario prints its figures:
//! seconds without a successful write, and acknowledged writes lost.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use k8s_openapi::api::core::v1::Pod;
use kcache_e2e::disruption::{self, Eviction};
use kcache_e2e::node::{cluster_password, connect_service, service_pods, NodeConn};
use kcache_e2e::writer::{WriteLog, Writer};
use kcache_e2e::{manifests, wait, Scenario};
use kcache_operator::builders::names;
use kcache_operator::constants::annotations::SWITCHOVER;
use kcache_operator::constants::labels::{ROLE, SHARD};
use kcache_operator::crd::{CacheCluster, CacheClusterStatus};
use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::wait::Condition;
use kube::{Api, ResourceExt};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Pods start in seconds on an idle machine; this allows for a busy one.
const READY_DEADLINE: Duration = Duration::from_secs(300);
/// How long a scenario's writer may run at most.
const LOAD_LIMIT: Duration = Duration::from_secs(150);
/// Failure detection of the scenarios' clusters.
const DETECTION_SECONDS: u64 = 5;

/// A 1-shard cluster with `replicas` replicas, small, without persistence.
pub(crate) async fn create(
    s: &Scenario,
    name: &str,
    replicas: i32,
) -> Result<(CacheCluster, Option<String>)> {
    let clusters: Api<CacheCluster> = s.api();
    let cc: CacheCluster = serde_json::from_value(json!({
        "apiVersion": "kcache.io/v1alpha1",
        "kind": "CacheCluster",
        "metadata": { "name": name },
        "spec": {
            "shards": 1,
            "replicasPerShard": replicas,
            "resources": { "requests": { "cpu": "50m", "memory": "64Mi" }, "limits": { "memory": "192Mi" } },
            "failover": { "detectionSeconds": DETECTION_SECONDS },
        }
    }))?;
    clusters
        .patch(
            name,
            &PatchParams::apply(manifests::FIELD_MANAGER),
            &Patch::Apply(&cc),
        )
        .await?;
    let ready = ready_with_one_primary(s, name).await?;
    let password = cluster_password(&s.client, &s.namespace, &ready).await?;
    Ok((ready, password))
}

/// Waits for `Ready` and for the primary Service to route to exactly the
/// primary that status names.
pub(crate) async fn ready_with_one_primary(s: &Scenario, name: &str) -> Result<CacheCluster> {
    let clusters: Api<CacheCluster> = s.api();
    let started = Instant::now();
    loop {
        let ready = wait::cache_cluster_ready(&clusters, name, READY_DEADLINE).await?;
        let primary = shard0(&ready)?
            .primary
            .clone()
            .context("Ready without a primary")?;
        let routed = service_pods(&s.client, &s.namespace, &names::primary_service(name)).await?;
        if routed == [primary.clone()] {
            return Ok(ready);
        }
        ensure!(
            started.elapsed() < READY_DEADLINE,
            "{} routes to {routed:?}, status names {primary}",
            names::primary_service(name)
        );
        // Endpoints follow labels within a second or two: look again.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(crate) fn shard0(cc: &CacheCluster) -> Result<&kcache_operator::crd::ShardStatus> {
    cc.status
        .as_ref()
        .and_then(|s| s.shards.first())
        .context("no shard in status")
}

/// A writer through the primary Service, in a task; stop it with the sender.
pub(crate) fn start_writer(
    s: &Scenario,
    name: &str,
    password: Option<String>,
    wait_replicas: Option<(u32, u64)>,
) -> (watch::Sender<bool>, JoinHandle<WriteLog>) {
    let mut writer = Writer::new(name, 1_000_000, LOAD_LIMIT);
    writer.wait_replicas = wait_replicas;
    let (stop_tx, stop) = watch::channel(false);
    let (client, ns, service) = (
        s.client.clone(),
        s.namespace.clone(),
        names::primary_service(name),
    );
    let task = tokio::spawn(async move {
        writer
            .run(
                || connect_service(&client, &ns, &service, password.as_deref()),
                stop,
            )
            .await
    });
    (stop_tx, task)
}

/// Polls the primary Service until its node holds at least `keys` keys.
pub(crate) async fn until_keys(
    s: &Scenario,
    name: &str,
    password: Option<&str>,
    keys: i64,
) -> Result<()> {
    let deadline = Instant::now() + LOAD_LIMIT;
    loop {
        if let Ok(mut conn) = via(s, &names::primary_service(name), password).await {
            if let Ok(kcache_e2e::resp::Reply::Integer(n)) = conn.call(&["DBSIZE"]).await {
                if n >= keys {
                    return Ok(());
                }
            }
        }
        ensure!(
            Instant::now() < deadline,
            "the primary never held {keys} keys"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A connection through a Service, as its client gets one.
pub(crate) async fn via(s: &Scenario, service: &str, password: Option<&str>) -> Result<NodeConn> {
    connect_service(&s.client, &s.namespace, service, password).await
}

/// Waits until the writer has added `n` more keys on the current primary:
/// writes go on after a recovery, not only before the disruption.
pub(crate) async fn more_writes(
    s: &Scenario,
    name: &str,
    password: Option<&str>,
    n: i64,
) -> Result<()> {
    let mut c = via(s, &names::primary_service(name), password).await?;
    let held = match c.ok(&["DBSIZE"]).await? {
        kcache_e2e::resp::Reply::Integer(n) => n,
        other => bail!("DBSIZE {other:?}"),
    };
    until_keys(s, name, password, held + n).await
}

/// Stops the writer, reads every acknowledged write back through the primary
/// Service and prints the figures; fails on any loss.
pub(crate) async fn finish(
    s: &Scenario,
    name: &str,
    password: Option<&str>,
    what: &str,
    writer: (watch::Sender<bool>, JoinHandle<WriteLog>),
) -> Result<WriteLog> {
    let (stop, task) = writer;
    let _ = stop.send(true);
    let log = task.await.context("writer task")?;
    let mut conn = via(s, &names::primary_service(name), password).await?;
    let lost = log.lost(&mut conn).await?;
    eprintln!(
        "[{what}] acknowledged writes: {}, lost: {}, longest gap without a write: {} ms, failed attempts: {}",
        log.acked.len(),
        lost.len(),
        log.longest_gap().as_millis(),
        log.failures.len()
    );
    ensure!(
        lost.is_empty(),
        "{what}: {} acknowledged writes lost, first {:?}",
        lost.len(),
        lost.first()
    );
    ensure!(!log.acked.is_empty(), "{what}: no write was acknowledged");
    Ok(log)
}

/// Waits until status records a failover or switchover away from `from`.
pub(crate) async fn until_failover_from(
    s: &Scenario,
    name: &str,
    from: &str,
) -> Result<CacheClusterStatus> {
    let clusters: Api<CacheCluster> = s.api();
    let from = from.to_string();
    let cc = wait::until(
        &clusters,
        name,
        "failed over",
        READY_DEADLINE,
        move |cc: Option<&CacheCluster>| {
            cc.and_then(|c| c.status.as_ref())
                .and_then(|s| s.last_failover.as_ref())
                .is_some_and(|f| f.from == from)
        },
    )
    .await?
    .context("cluster gone")?;
    Ok(cc.status.unwrap_or_default())
}

#[tokio::test]
#[ignore = "needs a Kubernetes cluster in KUBECONFIG: make e2e-local or make e2e"]
async fn roles_are_assigned_and_services_route_by_role() -> Result<()> {
    Scenario::run("roles", |s| async move {
        let started = Instant::now();
        let name = "roles";
        let (cc, password) = create(&s, name, 2).await?;
        let shard = shard0(&cc)?;
        let primary = shard.primary.clone().context("no primary")?;
        let pods: Api<Pod> = s.api();
        let labelled = pods
            .list(&ListParams::default().labels(&format!("kcache.io/cluster={name}")))
            .await?;
        let roles: Vec<(String, Option<String>)> = labelled
            .items
            .iter()
            .map(|p| (p.name_any(), p.labels().get(ROLE).cloned()))
            .collect();
        let primaries: Vec<_> = roles
            .iter()
            .filter(|r| r.1.as_deref() == Some("primary"))
            .collect();
        ensure!(
            primaries.len() == 1 && primaries[0].0 == primary,
            "role labels {roles:?}"
        );
        ensure!(
            roles
                .iter()
                .filter(|r| r.1.as_deref() == Some("replica"))
                .count()
                == 2,
            "role labels {roles:?}"
        );
        ensure!(
            cc.status
                .as_ref()
                .and_then(|s| s.topology_epoch)
                .unwrap_or(0)
                >= 1,
            "no epoch"
        );

        // A write through the primary Service, replicated to both replicas,
        // reads back through the reader Service.
        let mut w = via(&s, &names::primary_service(name), password.as_deref()).await?;
        w.ok(&["SET", "greeting", "hello"]).await?;
        let acked = w.ok(&["WAIT", "2", "5000"]).await?;
        ensure!(
            acked == kcache_e2e::resp::Reply::Integer(2),
            "WAIT 2: {acked:?}"
        );
        // The primary also reads while its replicas are not ready yet; it
        // leaves the reader Service once they are (labels follow in a
        // reconcile or two, endpoints a moment later).
        let deadline = Instant::now() + Duration::from_secs(60);
        let readers = loop {
            let readers =
                service_pods(&s.client, &s.namespace, &names::reader_service(name)).await?;
            if readers.len() == 2 && !readers.contains(&primary) {
                break readers;
            }
            ensure!(Instant::now() < deadline, "reader routes to {readers:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let mut r = via(&s, &names::reader_service(name), password.as_deref()).await?;
        ensure!(
            r.get("greeting").await?.as_deref() == Some("hello"),
            "read through the reader Service"
        );
        match r.call(&["SET", "x", "1"]).await? {
            kcache_e2e::resp::Reply::Error(e) if e.starts_with("READONLY") => {}
            other => bail!("a replica took a write: {other:?}"),
        }

        // Status shows each replica's link and lag.
        let clusters: Api<CacheCluster> = s.api();
        let cc = wait::until(
            &clusters,
            name,
            "showing replica lag",
            READY_DEADLINE,
            |cc: Option<&CacheCluster>| {
                cc.and_then(|c| c.status.as_ref())
                    .and_then(|s| s.shards.first())
                    .is_some_and(|s| {
                        s.pods
                            .iter()
                            .filter(|p| p.link.as_deref() == Some("up") && p.lag_bytes.is_some())
                            .count()
                            == 2
                    })
            },
        )
        .await?
        .context("gone")?;
        eprintln!(
            "[roles] primary {primary}, replicas {readers:?}, epoch {:?}, ready in {:?}",
            cc.status.as_ref().and_then(|s| s.topology_epoch),
            started.elapsed()
        );
        Ok(())
    })
    .await
}

#[tokio::test]
#[ignore = "needs a Kubernetes cluster in KUBECONFIG: make e2e-local or make e2e"]
async fn a_killed_primary_is_replaced_and_no_wait_acknowledged_write_is_lost() -> Result<()> {
    Scenario::run("kill", |s| async move {
        let started = Instant::now();
        let name = "kill";
        let (cc, password) = create(&s, name, 2).await?;
        let primary = shard0(&cc)?.primary.clone().context("no primary")?;
        let writer = start_writer(&s, name, password.clone(), Some((1, 1000)));
        until_keys(&s, name, password.as_deref(), 200).await?;

        // SIGKILL (grace 0): the pod comes back empty (persistence none).
        let pods: Api<Pod> = s.api();
        let killed_at = Instant::now();
        disruption::kill(&pods, &primary).await?;
        let status = until_failover_from(&s, name, &primary).await?;
        let failover = status.last_failover.clone().context("no failover recorded")?;
        ensure!(failover.to != primary, "the restarted empty node was made primary again");
        let cc = ready_with_one_primary(&s, name).await?;
        let recovered = killed_at.elapsed();
        more_writes(&s, name, password.as_deref(), 200).await?;
        let log = finish(&s, name, password.as_deref(), "kill", writer).await?;
        eprintln!(
            "[kill] {} -> {} ({}), cluster Ready with one routed primary {} ms after the kill, offset gap {:?}, total {:?}",
            failover.from,
            failover.to,
            failover.reason,
            recovered.as_millis(),
            failover.offset_gap,
            started.elapsed()
        );
        ensure!(
            log.longest_gap() < Duration::from_secs(DETECTION_SECONDS + 30),
            "writes stopped for {:?}",
            log.longest_gap()
        );
        // The restarted pod serves as a replica of the new primary.
        let shard = shard0(&cc)?;
        ensure!(shard.pods.iter().all(|p| p.ready), "pods {:?}", shard.pods);
        Ok(())
    })
    .await
}

#[tokio::test]
#[ignore = "needs a Kubernetes cluster in KUBECONFIG: make e2e-local or make e2e"]
async fn a_frozen_primary_is_replaced_after_detection_and_rejoins_as_a_replica() -> Result<()> {
    Scenario::run("freeze", |s| async move {
        let name = "freeze";
        let (cc, password) = create(&s, name, 2).await?;
        let primary = shard0(&cc)?.primary.clone().context("no primary")?;
        let writer = start_writer(&s, name, password.clone(), Some((1, 1000)));
        until_keys(&s, name, password.as_deref(), 200).await?;

        // SIGSTOP: connections stay open and nothing answers, as with a hung
        // process or a machine lost without a TCP reset. The replicas' links
        // look up until repl-timeout (60 s); failover must not wait for it.
        let pods: Api<Pod> = s.api();
        let uid = pods
            .get(&primary)
            .await?
            .metadata
            .uid
            .context("primary pod without uid")?;
        let frozen_at = Instant::now();
        let frozen = disruption::Frozen::pod(&uid)?;
        let status = until_failover_from(&s, name, &primary).await?;
        let failed_over = frozen_at.elapsed();
        let failover = status.last_failover.clone().context("no failover recorded")?;
        ensure!(
            failover.reason == "PrimaryUnreachable",
            "reason {}",
            failover.reason
        );
        // The cluster is not Ready while the frozen pod is not (all pods
        // count), but the new primary serves: writes go on through the
        // primary Service. The kubelet's liveness probe restarts a frozen
        // process after about 30 s; all of this happens well before.
        let primary_service = names::primary_service(name);
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            let routed = service_pods(&s.client, &s.namespace, &primary_service).await?;
            if routed == [failover.to.clone()] {
                break;
            }
            ensure!(Instant::now() < deadline, "{primary_service} routes to {routed:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let recovered = frozen_at.elapsed();
        more_writes(&s, name, password.as_deref(), 200).await?;

        // Thawed, the old primary must follow the new one, not lead.
        frozen.thaw()?;
        let clusters: Api<CacheCluster> = s.api();
        let old = primary.clone();
        let cc = wait::until(
            &clusters,
            name,
            "the thawed pod back as a ready replica",
            READY_DEADLINE,
            move |cc: Option<&CacheCluster>| {
                cc.and_then(|c| c.status.as_ref())
                    .and_then(|s| s.shards.first())
                    .is_some_and(|sh| {
                        sh.primary.as_deref() != Some(old.as_str())
                            && sh.pods.len() == 3
                            && sh.pods.iter().all(|p| p.ready)
                    })
            },
        )
        .await?
        .context("cluster gone")?;
        let routed = service_pods(&s.client, &s.namespace, &names::primary_service(name)).await?;
        ensure!(
            routed == [shard0(&cc)?.primary.clone().context("no primary")?],
            "the primary Service routes to {routed:?}"
        );
        let log = finish(&s, name, password.as_deref(), "freeze", writer).await?;
        eprintln!(
            "[freeze] {} -> {} ({}) recorded {} ms after the freeze (detection {} s), primary Service routed to it {} ms after, longest gap without a write {} ms, offset gap {:?}",
            failover.from,
            failover.to,
            failover.reason,
            failed_over.as_millis(),
            DETECTION_SECONDS,
            recovered.as_millis(),
            log.longest_gap().as_millis(),
            failover.offset_gap,
        );
        ensure!(
            failed_over < Duration::from_secs(DETECTION_SECONDS + 15),
            "failover took {failed_over:?}: waited for repl-timeout?"
        );
        Ok(())
    })
    .await
}

/// Evicts the primary as a drain would and waits for the switchover that
/// must come first; returns it and the time it took to be recorded.
async fn evict_primary(
    s: &Scenario,
    name: &str,
    primary: &str,
) -> Result<(kcache_operator::crd::FailoverRecord, Duration)> {
    let pods: Api<Pod> = s.api();
    let evicted_at = Instant::now();
    match disruption::evict(&pods, primary).await? {
        Eviction::Evicted => {}
        Eviction::Refused(why) => bail!("evicting the primary of a whole shard was refused: {why}"),
    }
    let status = until_failover_from(s, name, primary).await?;
    let handover = status.last_failover.context("no switchover recorded")?;
    ensure!(
        handover.reason == "PodTerminating",
        "reason {}",
        handover.reason
    );
    Ok((handover, evicted_at.elapsed()))
}

/// A parameter's value on one pod (`CONFIG GET`).
async fn config_get(
    s: &Scenario,
    pod: &str,
    password: Option<&str>,
    param: &str,
) -> Result<String> {
    let mut conn =
        kcache_e2e::node::NodeConn::connect(&s.client, &s.namespace, pod, password).await?;
    match conn.ok(&["CONFIG", "GET", param]).await? {
        kcache_e2e::resp::Reply::Array(Some(items)) if items.len() == 2 => {
            Ok(items[1].text().unwrap_or_default())
        }
        other => bail!("CONFIG GET {param} on {pod}: {other:?}"),
    }
}

#[tokio::test]
#[ignore = "needs a Kubernetes cluster in KUBECONFIG: make e2e-local or make e2e"]
async fn parameters_that_config_set_may_change_are_applied_live_without_restarts() -> Result<()> {
    Scenario::run("live-params", |s| async move {
        let name = "live-params";
        let (cc, password) = create(&s, name, 1).await?;
        let pods: Api<Pod> = s.api();
        let selector = format!("{}={name}", kcache_operator::constants::labels::CLUSTER);
        let before: Vec<(String, String)> = pods
            .list(&ListParams::default().labels(&selector))
            .await?
            .items
            .iter()
            .map(|p| (p.name_any(), p.uid().unwrap_or_default()))
            .collect();
        ensure!(before.len() == 2, "pods {before:?}");
        let writer = start_writer(&s, name, password.clone(), None);
        until_keys(&s, name, password.as_deref(), 100).await?;

        let clusters: Api<CacheCluster> = s.api();
        let changed_at = Instant::now();
        clusters
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": {
                    "maxMemory": "100Mi",
                    "evictionPolicy": "allkeys-lfu",
                    "parameters": {"hz": "25", "timeout": "600", "notify-keyspace-events": "Ex"},
                }})),
            )
            .await?;
        let want = [
            ("maxmemory", "104857600"),
            ("maxmemory-policy", "allkeys-lfu"),
            ("hz", "25"),
            ("timeout", "600"),
            ("notify-keyspace-events", "xE"),
        ];
        let deadline = Instant::now() + READY_DEADLINE;
        'pods: for (pod, _) in &before {
            loop {
                let mut all = true;
                for (param, value) in want {
                    let got = config_get(&s, pod, password.as_deref(), param).await?;
                    // Keyspace event classes come back in the node's order.
                    let same = if param == "notify-keyspace-events" {
                        let mut a: Vec<char> = got.chars().collect();
                        let mut b: Vec<char> = value.chars().collect();
                        a.sort_unstable();
                        b.sort_unstable();
                        a == b
                    } else {
                        got == value
                    };
                    all &= same;
                }
                if all {
                    continue 'pods;
                }
                ensure!(Instant::now() < deadline, "{pod} never took the new parameters");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        let applied = changed_at.elapsed();
        // Same pods, same processes: nothing was restarted or replaced.
        for (pod, uid) in &before {
            let p = pods.get(pod).await?;
            ensure!(p.uid().as_deref() == Some(uid.as_str()), "{pod} was replaced");
            let restarts: i32 = p
                .status
                .and_then(|st| st.container_statuses)
                .unwrap_or_default()
                .iter()
                .map(|c| c.restart_count)
                .sum();
            ensure!(restarts == 0, "{pod} restarted {restarts} times");
        }
        let cc2 = clusters.get(name).await?;
        ensure!(
            shard0(&cc2)?.primary == shard0(&cc)?.primary,
            "the primary changed"
        );
        let log = finish(&s, name, password.as_deref(), "live-params", writer).await?;
        eprintln!(
            "[live-params] 5 parameters on 2 pods applied live in {} ms, 0 restarts, longest gap without a write {} ms",
            applied.as_millis(),
            log.longest_gap().as_millis()
        );
        Ok(())
    })
    .await
}

/// A weekly window `ddd:hh:mm-ddd:hh:mm` from `from` minutes after now, for
/// `length` minutes (negative `from`: it opened already).
fn window_from_now(from: i64, length: i64) -> String {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    // The Unix epoch was a Thursday, day 3 counted from Monday.
    let part = |minute: i64| {
        let m = (now / 60 + 3 * 1440 + minute).rem_euclid(7 * 1440);
        format!(
            "{}:{:02}:{:02}",
            DAYS[(m / 1440) as usize],
            (m % 1440) / 60,
            m % 60
        )
    };
    format!("{}-{}", part(from), part(from + length))
}

/// Pods of the cluster by name, with their uids.
async fn pod_uids(s: &Scenario, name: &str) -> Result<Vec<(String, String)>> {
    let pods: Api<Pod> = s.api();
    let mut uids: Vec<(String, String)> = pods
        .list(&ListParams::default().labels(&format!("kcache.io/cluster={name}")))
        .await?
        .items
        .iter()
        .map(|p| (p.name_any(), p.uid().unwrap_or_default()))
        .collect();
    uids.sort();
    Ok(uids)
}

#[tokio::test]
#[ignore = "needs a Kubernetes cluster in KUBECONFIG: make e2e-local or make e2e"]
async fn a_roll_waits_for_the_maintenance_window_and_live_parameters_do_not() -> Result<()> {
    Scenario::run("window", |s| async move {
        let started = Instant::now();
        let name = "window";
        let (_, password) = create(&s, name, 1).await?;
        let before = pod_uids(&s, name).await?;
        let clusters: Api<CacheCluster> = s.api();
        // Closed now: it opens in two days.
        let closed = window_from_now(2 * 1440, 60);
        let patch = json!({"spec": {
            "maintenanceWindow": closed,
            "resources": {"requests": {"cpu": "60m", "memory": "64Mi"}, "limits": {"memory": "192Mi"}},
            "parameters": {"hz": "30"},
        }});
        clusters.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        let held = wait::until(&clusters, name, "the roll held for the window", READY_DEADLINE, |cc: Option<&CacheCluster>| {
            cc.and_then(|c| c.status.as_ref())
                .and_then(|s| s.current_operation.as_deref())
                .is_some_and(|o| o.contains("maintenance window"))
        })
        .await?
        .context("gone")?;
        // The live parameter did not wait.
        let deadline = Instant::now() + READY_DEADLINE;
        for (pod, _) in &before {
            loop {
                let hz = config_get(&s, pod, password.as_deref(), "hz").await?;
                if hz == "30" {
                    break;
                }
                ensure!(Instant::now() < deadline, "{pod} never took hz 30 (has {hz:?})");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        ensure!(pod_uids(&s, name).await? == before, "a pod was replaced outside the window");
        let shard = shard0(&held)?;
        ensure!(shard.updated_replicas < 2, "the pods run the new revision already: {shard:?}");
        let message = held.status.as_ref().and_then(|s| s.current_operation.clone()).unwrap_or_default();

        // Open now: the roll runs.
        let open = window_from_now(-60, 180);
        clusters
            .patch(name, &PatchParams::default(), &Patch::Merge(&json!({"spec": {"maintenanceWindow": open}})))
            .await?;
        let generation = clusters.get(name).await?.metadata.generation;
        wait::until(&clusters, name, "rolled in the window", READY_DEADLINE * 2, move |cc: Option<&CacheCluster>| {
            cc.and_then(|c| c.status.as_ref()).is_some_and(|s| {
                s.observed_generation == generation
                    && s.current_operation.is_none()
                    && s.shards.first().is_some_and(|sh| sh.updated_replicas == 2 && sh.ready_replicas == 2)
            })
        })
        .await?;
        ready_with_one_primary(&s, name).await?;
        let after = pod_uids(&s, name).await?;
        ensure!(
            after.iter().all(|(_, uid)| before.iter().all(|(_, old)| old != uid)),
            "not every pod was replaced in the window: {before:?} -> {after:?}"
        );
        eprintln!(
            "[window] held outside {closed}: {message:?}; hz applied live meanwhile; rolled once {open} opened; total {:?}",
            started.elapsed()
        );
        Ok(())
    })
    .await
}

#[tokio::test]
#[ignore = "needs a Kubernetes cluster in KUBECONFIG: make e2e-local or make e2e"]
async fn an_in_cluster_client_loses_nothing_when_the_primary_is_evicted() -> Result<()> {
    Scenario::run("incluster", |s| async move {
        let name = "incluster";
        let (cc, password) = create(&s, name, 1).await?;
        let primary = shard0(&cc)?.primary.clone().context("no primary")?;
        // A client pod, through the primary Service's DNS name and kube-proxy,
        // as an application reaches the cache.
        let secret = password.as_ref().map(|_| names::auth_secret(name));
        let load = kcache_e2e::load::start(
            &s,
            "load",
            "--standalone",
            &format!("{}:6379", names::primary_service(name)),
            secret.as_deref(),
            30,
            &["--workers", "2", "--keys", "2000"],
        )
        .await?;
        until_keys(&s, name, password.as_deref(), 500).await?;
        let (handover, switched) = evict_primary(&s, name, &primary).await?;
        let report = load.finish(&s).await?;
        eprintln!(
            "[incluster] {} -> {} ({}) {} ms after the eviction; client pod: {} acknowledged writes over {} keys in {:.1} s, lost {}, wrong {}, unread {}, longest gap {} ms, errors {:?}",
            handover.from,
            handover.to,
            handover.reason,
            switched.as_millis(),
            report.acked,
            report.keys,
            report.seconds,
            report.lost,
            report.wrong,
            report.unread,
            report.longest_gap_ms,
            report.errors
        );
        ensure!(
            report.lost == 0 && report.wrong == 0 && report.unread == 0,
            "the client lost writes: {report:?}"
        );
        ensure!(report.acked > 0, "no write acknowledged");
        Ok(())
    })
    .await
}

#[tokio::test]
#[ignore = "needs a Kubernetes cluster in KUBECONFIG: make e2e-local or make e2e"]
async fn an_evicted_primary_hands_over_first_and_no_acknowledged_write_is_lost() -> Result<()> {
    Scenario::run("evict", |s| async move {
        let name = "evict";
        let (cc, password) = create(&s, name, 1).await?;
        let primary = shard0(&cc)?.primary.clone().context("no primary")?;
        let writer = start_writer(&s, name, password.clone(), None);
        until_keys(&s, name, password.as_deref(), 300).await?;

        let (handover, switched) = evict_primary(&s, name, &primary).await?;
        ready_with_one_primary(&s, name).await?;
        more_writes(&s, name, password.as_deref(), 200).await?;
        let log = finish(&s, name, password.as_deref(), "evict", writer).await?;
        eprintln!(
            "[evict] {} -> {} recorded {} ms after the eviction; write unavailability {} ms",
            handover.from,
            handover.to,
            switched.as_millis(),
            log.longest_gap().as_millis()
        );
        Ok(())
    })
    .await
}

#[tokio::test]
#[ignore = "needs a Kubernetes cluster in KUBECONFIG: make e2e-local or make e2e"]
async fn a_rolling_update_keeps_one_pod_down_at_most_and_loses_nothing() -> Result<()> {
    Scenario::run("roll", |s| async move {
        let started = Instant::now();
        let name = "roll";
        let (_, password) = create(&s, name, 2).await?;
        let writer = start_writer(&s, name, password.clone(), None);
        until_keys(&s, name, password.as_deref(), 200).await?;
        let old_uids: Vec<String> = {
            let pods: Api<Pod> = s.api();
            pods.list(&ListParams::default().labels(&format!("kcache.io/cluster={name}")))
                .await?
                .items
                .iter()
                .filter_map(|p| p.uid())
                .collect()
        };

        // A watcher samples the shard's pods: never more than one not ready.
        let worst = Arc::new(AtomicUsize::new(0));
        let (watch_stop, mut watch_rx) = watch::channel(false);
        let watcher = {
            let pods: Api<Pod> = s.api();
            let worst = worst.clone();
            let selector = format!("kcache.io/cluster={name},{SHARD}=0");
            tokio::spawn(async move {
                while !*watch_rx.borrow() {
                    if let Ok(list) = pods.list(&ListParams::default().labels(&selector)).await {
                        let ready = list
                            .items
                            .iter()
                            .filter(|p| disruption::is_pod_ready().matches_object(Some(p)))
                            .count();
                        worst.fetch_max(3usize.saturating_sub(ready), Ordering::Relaxed);
                    }
                    let _ = tokio::time::timeout(Duration::from_millis(100), watch_rx.changed()).await;
                }
            })
        };

        let clusters: Api<CacheCluster> = s.api();
        let patch = json!({"spec": {"resources": {"requests": {"cpu": "60m", "memory": "64Mi"}, "limits": {"memory": "192Mi"}}}});
        clusters.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        let generation = clusters.get(name).await?.metadata.generation;
        let rolled = wait::until(&clusters, name, "rolled", READY_DEADLINE * 2, move |cc: Option<&CacheCluster>| {
            cc.is_some_and(|c| {
                c.status.as_ref().is_some_and(|s| {
                    // Converged: the StatefulSet has seen the new template
                    // too, so "updated" counts pods of the new revision.
                    s.observed_generation == generation
                        && wait::find_condition(&s.conditions, "Progressing")
                            .is_some_and(|c| c.status == "False" && c.reason == "Converged")
                        && s.shards.first().is_some_and(|sh| sh.updated_replicas == 3 && sh.ready_replicas == 3)
                })
            })
        })
        .await?
        .context("gone")?;
        ready_with_one_primary(&s, name).await?;
        let _ = watch_stop.send(true);
        watcher.await.context("watcher")?;
        let log = finish(&s, name, password.as_deref(), "roll", writer).await?;

        let pods: Api<Pod> = s.api();
        let now: Vec<String> = pods
            .list(&ListParams::default().labels(&format!("kcache.io/cluster={name}")))
            .await?
            .items
            .iter()
            .filter_map(|p| p.uid())
            .collect();
        ensure!(now.iter().all(|u| !old_uids.contains(u)), "not every pod was replaced");
        let most_down = worst.load(Ordering::Relaxed);
        eprintln!(
            "[roll] 3 pods replaced in {:?}; at most {most_down} pod(s) not ready at once; write unavailability {} ms; last handover {:?}",
            started.elapsed(),
            log.longest_gap().as_millis(),
            rolled.status.as_ref().and_then(|s| s.last_failover.as_ref()).map(|f| (&f.from, &f.to, &f.reason))
        );
        ensure!(most_down <= 1, "{most_down} pods of the shard were down at once");
        Ok(())
    })
    .await
}

#[tokio::test]
#[ignore = "needs a Kubernetes cluster in KUBECONFIG: make e2e-local or make e2e"]
async fn the_switchover_drill_and_replicas_two_to_zero_to_one_lose_nothing() -> Result<()> {
    Scenario::run("scale", |s| async move {
        let name = "scale";
        let (cc, password) = create(&s, name, 2).await?;
        let first = shard0(&cc)?.primary.clone().context("no primary")?;
        let last = names::pod(name, 0, 2);
        let clusters: Api<CacheCluster> = s.api();

        // The drill: hand the primary role to the highest ordinal.
        if first != last {
            let patch = json!({"metadata": {"annotations": {SWITCHOVER: format!("0:{last}")}}});
            clusters
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
            let status = until_failover_from(&s, name, &first).await?;
            let drill = status.last_failover.context("no switchover recorded")?;
            ensure!(
                drill.to == last && drill.reason == "Requested",
                "drill {drill:?}"
            );
            let cc = wait::until(
                &clusters,
                name,
                "annotation removed",
                READY_DEADLINE,
                |cc: Option<&CacheCluster>| {
                    cc.is_some_and(|c| !c.annotations().contains_key(SWITCHOVER))
                },
            )
            .await?
            .context("gone")?;
            ensure!(
                cc.status
                    .as_ref()
                    .and_then(|s| s.last_failover.as_ref())
                    .is_some(),
                "no record"
            );
            eprintln!("[scale] drill: {first} -> {last}");
        }
        ready_with_one_primary(&s, name).await?;

        // 500 writes acknowledged by both replicas.
        let mut w = via(&s, &names::primary_service(name), password.as_deref()).await?;
        for i in 0..500 {
            w.ok(&["SET", &format!("k{i}"), &format!("v{i}")]).await?;
        }
        ensure!(
            w.ok(&["WAIT", "2", "5000"]).await? == kcache_e2e::resp::Reply::Integer(2),
            "WAIT 2"
        );
        drop(w);

        let check = |expect_primary: String| {
            let s = s.clone();
            let password = password.clone();
            async move {
                let cc = ready_with_one_primary(&s, name).await?;
                let primary = shard0(&cc)?.primary.clone().context("no primary")?;
                ensure!(
                    primary == expect_primary,
                    "primary {primary}, expected {expect_primary}"
                );
                let mut r =
                    NodeConn::connect(&s.client, &s.namespace, &primary, password.as_deref())
                        .await?;
                for i in (0..500).step_by(7) {
                    ensure!(
                        r.get(&format!("k{i}")).await?.as_deref() == Some(format!("v{i}").as_str()),
                        "k{i} lost"
                    );
                }
                Ok::<_, anyhow::Error>(cc)
            }
        };

        // 2 -> 0: the primary on ordinal 2 hands over to ordinal 0 before the
        // StatefulSet shrinks.
        clusters
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": {"replicasPerShard": 0}})),
            )
            .await?;
        let cc = wait::until(
            &clusters,
            name,
            "scaled to 1 pod",
            READY_DEADLINE,
            |cc: Option<&CacheCluster>| {
                cc.and_then(|c| c.status.as_ref())
                    .is_some_and(|s| s.ready.as_deref() == Some("1/1"))
            },
        )
        .await?
        .context("gone")?;
        ensure!(
            cc.status
                .as_ref()
                .and_then(|s| s.last_failover.as_ref())
                .is_some_and(|f| f.reason == "ScaleDown"),
            "no scale-down handover: {:?}",
            cc.status.as_ref().and_then(|s| s.last_failover.as_ref())
        );
        check(names::pod(name, 0, 0)).await?;

        // 0 -> 1: the new replica syncs everything.
        clusters
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": {"replicasPerShard": 1}})),
            )
            .await?;
        wait::until(
            &clusters,
            name,
            "scaled to 2 pods",
            READY_DEADLINE,
            |cc: Option<&CacheCluster>| {
                cc.and_then(|c| c.status.as_ref())
                    .is_some_and(|s| s.ready.as_deref() == Some("2/2"))
            },
        )
        .await?;
        check(names::pod(name, 0, 0)).await?;
        let mut r = NodeConn::connect(
            &s.client,
            &s.namespace,
            &names::pod(name, 0, 1),
            password.as_deref(),
        )
        .await?;
        ensure!(
            r.get("k499").await?.as_deref() == Some("v499"),
            "the new replica did not sync"
        );
        eprintln!("[scale] 2 -> 0 -> 1 replicas: 0 of 500 keys lost");
        Ok(())
    })
    .await
}

/// Runs `kubectl` (the one the suite was given in `KUBECTL`) with a deadline.
async fn kubectl(args: &[&str]) -> Result<String> {
    let bin = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let out = tokio::time::timeout(
        Duration::from_secs(180),
        tokio::process::Command::new(&bin).args(args).output(),
    )
    .await
    .with_context(|| format!("kubectl {args:?} timed out"))?
    .with_context(|| format!("running {bin}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(out.status.success(), "kubectl {args:?}: {text}");
    Ok(text)
}

#[tokio::test]
#[ignore = "needs a Kubernetes cluster in KUBECONFIG: make e2e-local or make e2e"]
async fn draining_the_primarys_node_switches_over_first_and_loses_nothing() -> Result<()> {
    Scenario::run("drain", |s| async move {
        let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(s.client.clone());
        let count = nodes.list(&ListParams::default()).await?.items.len();
        if count < 2 {
            eprintln!("[drain] skipped: the cluster has {count} node(s)");
            return Ok(());
        }
        let name = "drain";
        let (cc, password) = create(&s, name, 2).await?;
        let primary = shard0(&cc)?.primary.clone().context("no primary")?;
        let pods: Api<Pod> = s.api();
        let node = pods
            .get(&primary)
            .await?
            .spec
            .and_then(|p| p.node_name)
            .context("primary not scheduled")?;
        let writer = start_writer(&s, name, password.clone(), None);
        until_keys(&s, name, password.as_deref(), 200).await?;

        // kubectl drain, limited to this cluster's pods: other scenarios run
        // beside this one. The node is uncordoned whatever happens.
        let drained_at = Instant::now();
        let selector = format!("--pod-selector=kcache.io/cluster={name}");
        let drained = kubectl(&[
            "drain",
            &node,
            &selector,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=150s",
        ])
        .await;
        let drain_took = drained_at.elapsed();
        let result = async {
            drained?;
            let status = until_failover_from(&s, name, &primary).await?;
            let handover = status.last_failover.context("no switchover recorded")?;
            ensure!(
                handover.reason == "PodTerminating",
                "reason {}",
                handover.reason
            );
            ready_with_one_primary(&s, name).await?;
            let moved = pods
                .get(&primary)
                .await?
                .spec
                .and_then(|p| p.node_name)
                .unwrap_or_default();
            ensure!(
                moved != node,
                "{primary} came back on the cordoned node {node}"
            );
            more_writes(&s, name, password.as_deref(), 200).await?;
            let log = finish(&s, name, password.as_deref(), "drain", writer).await?;
            eprintln!(
                "[drain] node {node} drained in {} ms; {} -> {}; write unavailability {} ms",
                drain_took.as_millis(),
                handover.from,
                handover.to,
                log.longest_gap().as_millis()
            );
            Ok(())
        }
        .await;
        kubectl(&["uncordon", &node]).await?;
        result?;
        // Uncordoned: the shard is whole again, one primary routed.
        let cc = ready_with_one_primary(&s, name).await?;
        let shard = shard0(&cc)?;
        ensure!(
            shard.pods.len() == 3 && shard.pods.iter().all(|p| p.ready),
            "pods {:?}",
            shard.pods
        );
        Ok(())
    })
    .await
}
