//! `kcache-load`: a client load with acknowledgement accounting, run inside a
//! Kubernetes cluster as a Job (or anywhere) against a kcache endpoint.
//!
//! Workers write `SET <prefix>:<worker>:{<n>} <seq>` over a fixed key space
//! (so keys are overwritten and the last acknowledged value matters), each
//! write optionally followed by `WAIT`. After `--duration` every key is read
//! back: a key whose value is older than its last acknowledged write, or
//! missing, is *lost*; a value never written is *wrong*. A write that failed
//! may still have been applied, so any value between the last acknowledged
//! and the last attempted counts as present.
//!
//! The result is one JSON line on stdout (the e2e suite reads it from the
//! pod's log); the exit code is 1 when anything was lost or wrong.
//!
//! ```text
//! kcache-load --cluster HOST:PORT | --standalone HOST:PORT
//!             [--duration 30] [--workers 4] [--keys 10000] [--prefix load]
//!             [--wait-replicas 0] [--op-timeout-ms 2000]
//! ```
//! The password comes from `$KCACHE_PASSWORD` when set.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use redis::aio::MultiplexedConnection;
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{get_slot, Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use serde::Serialize;
use tokio::sync::Mutex;

/// The most the read-back may take.
const VERIFY_LIMIT: Duration = Duration::from_secs(120);

#[derive(Clone, Debug)]
struct Options {
    cluster: bool,
    endpoint: String,
    duration: Duration,
    workers: usize,
    keys: usize,
    prefix: String,
    wait_replicas: u32,
    op_timeout: Duration,
    password: Option<String>,
}

const USAGE: &str = "usage: kcache-load --cluster HOST:PORT | --standalone HOST:PORT \
[--duration SECONDS] [--workers N] [--keys N] [--prefix P] [--wait-replicas N] [--op-timeout-ms MS]";

fn options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        cluster: false,
        endpoint: String::new(),
        duration: Duration::from_secs(30),
        workers: 4,
        keys: 10_000,
        prefix: "load".into(),
        wait_replicas: 0,
        op_timeout: Duration::from_millis(2000),
        password: std::env::var("KCACHE_PASSWORD")
            .ok()
            .filter(|p| !p.is_empty()),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--cluster" => (o.cluster, o.endpoint) = (true, value()?.clone()),
            "--standalone" => (o.cluster, o.endpoint) = (false, value()?.clone()),
            "--duration" => o.duration = Duration::from_secs(value()?.parse()?),
            "--workers" => o.workers = value()?.parse()?,
            "--keys" => o.keys = value()?.parse()?,
            "--prefix" => o.prefix = value()?.clone(),
            "--wait-replicas" => o.wait_replicas = value()?.parse()?,
            "--op-timeout-ms" => o.op_timeout = Duration::from_millis(value()?.parse()?),
            "-h" | "--help" => bail!("{USAGE}"),
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    if o.endpoint.is_empty() {
        bail!("an endpoint is needed\n{USAGE}");
    }
    if o.workers == 0 || o.keys < o.workers || o.duration > Duration::from_secs(3600) {
        bail!("--workers must be at least 1, --keys at least --workers, --duration at most 3600");
    }
    Ok(o)
}

/// One connection of either kind; each worker holds its own.
enum Conn {
    Standalone(Option<MultiplexedConnection>),
    Cluster(ClusterConnection),
}

impl Conn {
    async fn open(o: &Options) -> Result<Conn> {
        let url = match &o.password {
            Some(p) => format!("redis://:{p}@{}", o.endpoint),
            None => format!("redis://{}", o.endpoint),
        };
        if o.cluster {
            let client = ClusterClientBuilder::new(vec![url])
                .connection_timeout(o.op_timeout)
                .response_timeout(o.op_timeout)
                .build()?;
            Ok(Conn::Cluster(client.get_async_connection().await?))
        } else {
            Ok(Conn::Standalone(None))
        }
    }

    /// Runs `cmd` (keyed by `key`): on a cluster, routed to the key's primary
    /// so that a following `WAIT` goes to the same node.
    async fn run(&mut self, o: &Options, cmd: &redis::Cmd, key: &str) -> Result<redis::Value> {
        match self {
            Conn::Cluster(c) => {
                let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(
                    Route::new(get_slot(key.as_bytes()), SlotAddr::Master),
                ));
                Ok(c.route_command(cmd, route).await?)
            }
            Conn::Standalone(slot) => {
                if slot.is_none() {
                    let url = match &o.password {
                        Some(p) => format!("redis://:{p}@{}", o.endpoint),
                        None => format!("redis://{}", o.endpoint),
                    };
                    let client = redis::Client::open(url)?;
                    *slot = Some(client.get_multiplexed_async_connection().await?);
                }
                let conn = slot.as_mut().context("connected")?;
                match cmd.query_async::<redis::Value>(conn).await {
                    Ok(v) => Ok(v),
                    Err(e) => {
                        // Reconnect next time: the Service may route elsewhere
                        // now. A node that answers READONLY was a primary and
                        // is a replica now (a switchover): the Service routes
                        // new connections to the new primary, as ElastiCache
                        // tells clients to do on READONLY.
                        let moved_on =
                            matches!(e.code(), Some("READONLY" | "LOADING" | "MASTERDOWN"));
                        if moved_on
                            || e.is_io_error()
                            || e.is_connection_dropped()
                            || e.is_timeout()
                        {
                            *slot = None;
                        }
                        Err(e.into())
                    }
                }
            }
        }
    }
}

/// What one key saw.
#[derive(Clone, Copy, Default)]
struct KeyLog {
    acked: u64,
    attempted: u64,
}

#[derive(Default, Serialize)]
struct Report {
    endpoint: String,
    mode: &'static str,
    seconds: f64,
    attempted: u64,
    /// Acknowledged writes.
    acked: u64,
    /// Keys with at least one acknowledged write.
    keys: u64,
    /// Acknowledged writes whose value is gone or older when read back.
    lost: u64,
    /// Values read back that were never written.
    wrong: u64,
    /// Keys that could not be read back at all.
    unread: u64,
    /// Failed attempts by the first word of the error.
    errors: BTreeMap<String, u64>,
    longest_gap_ms: u128,
    first_lost: Option<String>,
}

fn key(o: &Options, worker: usize, n: usize) -> String {
    // The hash tag spreads keys over every slot and keeps one key one slot.
    format!("{}:{worker}:{{{n}}}", o.prefix)
}

fn error_kind(e: &anyhow::Error) -> String {
    if let Some(r) = e.downcast_ref::<redis::RedisError>() {
        return match r.code() {
            Some(code) => code.to_string(),
            None => format!("{:?}", r.kind()),
        };
    }
    let text = e.to_string();
    let word = text
        .split(|c: char| c == ':' || c.is_whitespace())
        .find(|w| !w.is_empty())
        .unwrap_or("error");
    word.chars().take(24).collect()
}

async fn worker(o: Arc<Options>, id: usize, report: Arc<Mutex<Report>>) -> Result<Vec<KeyLog>> {
    let per = o.keys / o.workers;
    let mut logs = vec![KeyLog::default(); per];
    let mut conn = Conn::open(&o).await?;
    let started = Instant::now();
    let mut last_ok = Instant::now();
    let mut longest = Duration::ZERO;
    let mut seq: u64 = 0;
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut acked: u64 = 0;
    while started.elapsed() < o.duration {
        seq += 1;
        let n = (seq as usize) % per;
        let k = key(&o, id, n);
        logs[n].attempted = seq;
        let result = tokio::time::timeout(o.op_timeout, async {
            conn.run(&o, redis::cmd("SET").arg(&k).arg(seq), &k).await?;
            if o.wait_replicas > 0 {
                let ms = o.op_timeout.as_millis() as u64;
                let got = conn
                    .run(&o, redis::cmd("WAIT").arg(o.wait_replicas).arg(ms), &k)
                    .await?;
                match got {
                    redis::Value::Int(r) if r >= i64::from(o.wait_replicas) => {}
                    other => bail!("WAITSHORT {other:?}"),
                }
            }
            Ok(())
        })
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("TIMEOUT")));
        match result {
            Ok(()) => {
                acked += 1;
                logs[n].acked = seq;
                longest = longest.max(last_ok.elapsed());
                last_ok = Instant::now();
            }
            Err(e) => {
                *errors.entry(error_kind(&e)).or_default() += 1;
                // A short pause so a failover is not hammered.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    longest = longest.max(last_ok.elapsed());
    let mut r = report.lock().await;
    r.attempted += seq;
    r.acked += acked;
    r.keys += logs.iter().filter(|l| l.acked > 0).count() as u64;
    r.longest_gap_ms = r.longest_gap_ms.max(longest.as_millis());
    for (k, v) in errors {
        *r.errors.entry(k).or_default() += v;
    }
    Ok(logs)
}

async fn verify(
    o: &Options,
    id: usize,
    logs: &[KeyLog],
    report: &Mutex<Report>,
    deadline: Instant,
) -> Result<()> {
    let mut conn = Conn::open(o).await?;
    let (mut lost, mut wrong, mut unread, mut first) = (0, 0, 0, None);
    for (n, log) in logs.iter().enumerate() {
        if log.attempted == 0 {
            continue;
        }
        let k = key(o, id, n);
        // Reads retry through redirects and failovers for a while, within
        // the whole check's deadline.
        let mut value = None;
        for _ in 0..20 {
            if Instant::now() >= deadline {
                break;
            }
            match tokio::time::timeout(o.op_timeout, conn.run(o, redis::cmd("GET").arg(&k), &k))
                .await
            {
                Ok(Ok(v)) => {
                    value = Some(v);
                    break;
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let Some(value) = value else {
            unread += 1;
            continue;
        };
        let read: Option<u64> = match &value {
            redis::Value::Nil => None,
            redis::Value::BulkString(b) => std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()),
            _ => Some(u64::MAX),
        };
        match read {
            None if log.acked > 0 => {
                lost += 1;
                first.get_or_insert_with(|| format!("{k}: missing, acknowledged {}", log.acked));
            }
            None => {}
            Some(v) if v < log.acked => {
                lost += 1;
                first.get_or_insert_with(|| format!("{k}: {v}, acknowledged {}", log.acked));
            }
            Some(v) if v > log.attempted => wrong += 1,
            Some(_) => {}
        }
    }
    let mut r = report.lock().await;
    r.lost += lost;
    r.wrong += wrong;
    r.unread += unread;
    if r.first_lost.is_none() {
        r.first_lost = first;
    }
    Ok(())
}

async fn run(o: Options) -> Result<Report> {
    let o = Arc::new(o);
    let report = Arc::new(Mutex::new(Report {
        endpoint: o.endpoint.clone(),
        mode: if o.cluster { "cluster" } else { "standalone" },
        ..Report::default()
    }));
    let started = Instant::now();
    let tasks: Vec<_> = (0..o.workers)
        .map(|id| tokio::spawn(worker(o.clone(), id, report.clone())))
        .collect();
    let mut logs = Vec::new();
    for t in tasks {
        logs.push(t.await.context("worker")??);
    }
    // Reading back is bounded too: what is not read by then counts as unread.
    let deadline = Instant::now() + VERIFY_LIMIT;
    for (id, l) in logs.iter().enumerate() {
        verify(&o, id, l, &report, deadline).await?;
    }
    let mut r = std::mem::take(&mut *report.lock().await);
    r.seconds = started.elapsed().as_secs_f64();
    Ok(r)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("kcache-load: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kcache-load: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(o)) {
        Ok(r) => {
            let line =
                serde_json::to_string(&r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
            println!("{line}");
            if r.lost > 0 || r.wrong > 0 || r.unread > 0 || r.acked == 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("kcache-load: {e:#}");
            ExitCode::from(2)
        }
    }
}
