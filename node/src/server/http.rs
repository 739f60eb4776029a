//! The HTTP endpoint (`--http-port`, default 9121): `/healthz` (the process
//! serves: no event loop stuck, see [`super::watchdog`]), `/readyz` (ready for its role), `/metrics` (Prometheus text format).
//! A tiny HTTP/1.1 responder on a tokio thread; it never touches the event loops.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use super::Server;
use crate::stats::LATENCY_BUCKETS_US;

pub struct Http {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Http {
    pub fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Binds the HTTP port (on the first bind address) and serves it on its own thread;
/// also turns SIGTERM/SIGINT into a graceful shutdown (`server::shutdown`).
pub fn start(srv: Arc<Server>) -> anyhow::Result<Http> {
    let port = srv.config.get_i64("http-port");
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let listener = if port < 0 {
        None
    } else {
        let ip = srv
            .listen_addrs
            .get()
            .and_then(|a| a.first())
            .map(|a| a.ip())
            .unwrap_or_else(|| std::net::Ipv4Addr::LOCALHOST.into());
        let addr = SocketAddr::new(ip, port as u16);
        let std_listener = std::net::TcpListener::bind(addr)
            .map_err(|e| anyhow::anyhow!("could not listen on http-port {addr}: {e}"))?;
        std_listener.set_nonblocking(true)?;
        let _ = srv.http_addr.set(std_listener.local_addr()?);
        Some(std_listener)
    };
    // The signal handlers are installed here, before the node says it is ready:
    // a SIGTERM that arrives early must shut down gracefully, not kill the
    // process (tokio registers a handler when the stream is created).
    let (mut term, mut int) = {
        let _rt = rt.enter();
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    let thread = std::thread::Builder::new()
        .name("http".into())
        .spawn(move || {
            rt.block_on(async move {
                let listener = match listener.map(tokio::net::TcpListener::from_std) {
                    Some(Ok(l)) => Some(l),
                    Some(Err(e)) => {
                        tracing::error!(error = %e, "http listener");
                        None
                    }
                    None => None,
                };
                loop {
                    tokio::select! {
                        _ = &mut stop_rx => break,
                        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {
                            super::shutdown::on_signal(&srv, "SIGTERM", "shutdown-on-sigterm");
                        }
                        _ = async { match int.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {
                            super::shutdown::on_signal(&srv, "SIGINT", "shutdown-on-sigint");
                        }
                        accepted = async { match &listener { Some(l) => l.accept().await, None => std::future::pending().await } } => {
                            if let Ok((stream, _)) = accepted {
                                tokio::spawn(serve(srv.clone(), stream));
                            }
                        }
                    }
                }
            });
        })?;
    Ok(Http {
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

async fn serve(srv: Arc<Server>, mut stream: tokio::net::TcpStream) {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut chunk)).await
        {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
        if buf.len() > 8192 {
            let _ = stream
                .write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                .await;
            return;
        }
    }
    let line = buf.split(|&b| b == b'\r').next().unwrap_or(&[]);
    let text = String::from_utf8_lossy(line);
    let mut parts = text.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("").split('?').next().unwrap_or("");
    let (status, ctype, body) = if method != "GET" && method != "HEAD" {
        (
            "405 Method Not Allowed",
            "text/plain",
            "only GET\n".to_string(),
        )
    } else {
        match path {
            "/healthz" | "/livez" => match super::watchdog::liveness(&srv) {
                Ok(()) => ("200 OK", "text/plain", "ok\n".to_string()),
                Err(why) => ("503 Service Unavailable", "text/plain", format!("{why}\n")),
            },
            "/readyz" => match readiness(&srv) {
                Ok(()) => ("200 OK", "text/plain", "ready\n".to_string()),
                Err(why) => ("503 Service Unavailable", "text/plain", format!("{why}\n")),
            },
            "/metrics" => (
                "200 OK",
                "text/plain; version=0.0.4; charset=utf-8",
                metrics(&srv),
            ),
            _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
        }
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    if method != "HEAD" {
        let _ = stream.write_all(body.as_bytes()).await;
    }
    let _ = stream.shutdown().await;
}

/// Ready when the node serves its role: not shutting down, its role
/// confirmed by the operator (`managed-topology`), and for a replica, linked
/// to its primary and in sync (never a candidate for promotion while syncing
/// or cut off).
pub fn readiness(srv: &Server) -> Result<(), &'static str> {
    // Waiting for replicas before stopping counts: writes are held.
    if srv.shutting_down.load(Ordering::Acquire) || srv.shutdown_state.waiting() {
        return Err("shutting down");
    }
    if !srv.topology.confirmed() {
        return Err(crate::repl::topology::UNCONFIRMED);
    }
    if srv.persist.loading.load(Ordering::Acquire) {
        return Err("loading the dataset");
    }
    srv.repl.readiness()
}

/// The Prometheus exposition.
pub fn metrics(srv: &Server) -> String {
    let mut m = String::with_capacity(8192);
    let t = srv.stats.totals();
    let ks = &srv.keyspace;
    let mut gauge = |name: &str, help: &str, kind: &str, v: f64| {
        let _ = writeln!(m, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
    };
    gauge("kcache_up", "1 when the node serves.", "gauge", 1.0);
    gauge(
        "kcache_uptime_seconds",
        "Seconds since start.",
        "gauge",
        srv.started.elapsed().as_secs_f64(),
    );
    gauge(
        "kcache_connected_clients",
        "Connected clients.",
        "gauge",
        srv.clients.len() as f64,
    );
    gauge(
        "kcache_memory_used_bytes",
        "Bytes allocated.",
        "gauge",
        crate::alloc::used_memory() as f64,
    );
    gauge(
        "kcache_memory_rss_bytes",
        "Resident set size.",
        "gauge",
        crate::alloc::rss_bytes() as f64,
    );
    gauge(
        "kcache_expired_keys_total",
        "Keys deleted because their TTL passed.",
        "counter",
        ks.expired_keys.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "kcache_evicted_keys_total",
        "Keys evicted by maxmemory.",
        "counter",
        srv.stats.evicted_keys.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "kcache_keyspace_hits_total",
        "Successful key lookups.",
        "counter",
        (ks.hits() + t.keyspace_hits) as f64,
    );
    gauge(
        "kcache_keyspace_misses_total",
        "Failed key lookups.",
        "counter",
        (ks.misses() + t.keyspace_misses) as f64,
    );
    gauge(
        "kcache_net_input_bytes_total",
        "Bytes read from clients.",
        "counter",
        t.net_input_bytes as f64,
    );
    gauge(
        "kcache_net_output_bytes_total",
        "Bytes written to clients.",
        "counter",
        t.net_output_bytes as f64,
    );
    gauge(
        "kcache_connections_received_total",
        "Connections accepted.",
        "counter",
        t.connections_received as f64,
    );
    gauge(
        "kcache_rejected_connections_total",
        "Connections refused (maxclients).",
        "counter",
        t.rejected_connections as f64,
    );
    gauge(
        "kcache_error_replies_total",
        "Error replies sent.",
        "counter",
        t.error_replies as f64,
    );
    let _ = writeln!(
        m,
        "# HELP kcache_keys Keys per database.\n# TYPE kcache_keys gauge"
    );
    for db in 0..ks.db_count() {
        let n = ks.db(db).len();
        if n > 0 || db == 0 {
            let _ = writeln!(m, "kcache_keys{{db=\"{db}\"}} {n}");
        }
    }
    let _ = writeln!(m, "# HELP kcache_commands_total Commands processed, by command.\n# TYPE kcache_commands_total counter");
    for (i, spec) in srv.commands.specs.iter().enumerate() {
        let (calls, _, _, _) = srv.stats.command(i);
        if calls > 0 {
            let _ = writeln!(m, "kcache_commands_total{{cmd=\"{}\"}} {calls}", spec.name);
        }
    }
    let _ = writeln!(m, "# HELP kcache_command_duration_seconds Command execution time.\n# TYPE kcache_command_duration_seconds histogram");
    let hist = srv.stats.latency_histogram();
    let mut cumulative = 0u64;
    for (i, ub) in LATENCY_BUCKETS_US.iter().enumerate() {
        cumulative += hist[i];
        let _ = writeln!(
            m,
            "kcache_command_duration_seconds_bucket{{le=\"{}\"}} {cumulative}",
            *ub as f64 / 1e6
        );
    }
    cumulative += hist[LATENCY_BUCKETS_US.len()];
    let _ = writeln!(
        m,
        "kcache_command_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
    );
    let usec_total: u64 = (0..srv.commands.len())
        .map(|i| srv.stats.command(i).1)
        .sum();
    let _ = writeln!(
        m,
        "kcache_command_duration_seconds_sum {}",
        usec_total as f64 / 1e6
    );
    let _ = writeln!(m, "kcache_command_duration_seconds_count {cumulative}");
    m
}
