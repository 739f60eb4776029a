//! The server: shared state, start-up of the event loops, cross-thread messages,
//! and graceful shutdown.
//!
//! # Threads
//! - `io-threads` event loops ([`worker`]), each with its own epoll instance and
//!   its own `SO_REUSEPORT` listener, so the kernel spreads new connections over
//!   them and no connection ever moves. A loop reads every ready socket, executes
//!   every complete request in what it read, and writes all the replies of that
//!   read with one `write` (pipelined replies are flushed once per read).
//! - one `cron` thread: active expiry and periodic housekeeping.
//! - one `watchdog` thread: notices an event loop stuck on one batch
//!   ([`watchdog`]; `/healthz` fails meanwhile).
//! - one tokio thread for the HTTP endpoint and signals.
//!
//! Why not tokio for client connections: measured on a 2-core VM, a tokio server
//! that answers `+OK` to everything and does no data work reaches only ~0.9x of
//! redis-server's throughput; the per-read task wake-up and the extra `read` that
//! ends in `EAGAIN` cost about as much as a whole GET. An epoll loop treats a short
//! read as "drained" (edge-triggered epoll reports data that arrives later) and
//! adds nothing else to the request path.

pub mod blocked;
pub mod channels;
pub mod client;
pub mod cron;
pub mod evict;
pub mod exec;
pub mod http;
pub mod multi;
pub mod notify;
pub mod pause;
pub mod shutdown;
pub mod tracking;
pub mod watch;
pub mod watchdog;
pub mod worker;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use crate::cmd::Commands;
use crate::config::Config;
use crate::db::Keyspace;
use crate::stats::Stats;

/// A message to an event loop from another thread.
pub enum Msg {
    /// Close this client (CLIENT KILL).
    Kill { token: usize, id: u64 },
    /// Append bytes to this client's output (MONITOR feed).
    Write {
        token: usize,
        id: u64,
        bytes: Vec<u8>,
    },
    /// Stop: finish in-flight replies and exit.
    Shutdown,
    /// This blocked client was served (its reply was sent just before as
    /// `Write`), timed out or unblocked: resume executing its buffered input.
    Unblock { token: usize, id: u64 },
    /// Close this client once its pending output is written (a blocked client
    /// unblocked by a role change, as Redis closes it).
    CloseAfterReply { token: usize, id: u64 },
    /// Unsubscribe this client from these shard channels, whose slots left
    /// this node's shard (cluster mode, `channels::drop_shard_channels`).
    DropShardChannels {
        token: usize,
        id: u64,
        channels: Vec<Box<[u8]>>,
    },
}

/// How other threads reach an event loop.
pub struct WorkerHandle {
    pub inbox: Mutex<Vec<Msg>>,
    pub waker: mio::Waker,
}

impl WorkerHandle {
    pub fn send(&self, msg: Msg) {
        self.inbox.lock().push(msg);
        if let Err(e) = self.waker.wake() {
            tracing::warn!(error = %e, "could not wake an event loop");
        }
    }

    /// Several messages with one lock and one wake-up (pub/sub delivery).
    pub fn send_many(&self, msgs: Vec<Msg>) {
        {
            let mut inbox = self.inbox.lock();
            if inbox.is_empty() {
                *inbox = msgs;
            } else {
                inbox.extend(msgs);
            }
        }
        if let Err(e) = self.waker.wake() {
            tracing::warn!(error = %e, "could not wake an event loop");
        }
    }
}

/// A MONITOR client: where to send the feed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MonitorRef {
    pub worker: usize,
    pub token: usize,
    pub id: u64,
}

/// State shared by every thread.
pub struct Server {
    pub config: Config,
    pub keyspace: Keyspace,
    pub commands: Commands,
    pub stats: Stats,
    pub clients: client::Registry,
    pub run_id: String,
    pub started_ms: i64,
    pub started: std::time::Instant,
    pub listen_addrs: OnceLock<Vec<SocketAddr>>,
    pub http_addr: OnceLock<SocketAddr>,
    pub workers: OnceLock<Vec<WorkerHandle>>,
    pub monitors: Mutex<Vec<MonitorRef>>,
    pub monitor_count: AtomicUsize,
    pub pubsub: channels::PubSub,
    /// CLIENT TRACKING's table and trackers.
    pub tracking: tracking::Tracking,
    /// WATCHed keys of every client (`watch.rs`).
    pub watches: Arc<watch::Registry>,
    pub shutting_down: AtomicBool,
    pub io_threads: usize,
    /// Clients blocked in BLPOP and friends (see [`blocked`]).
    pub blocking: blocked::Registry,
    pub evictor: evict::Evictor,
    /// CLIENT PAUSE state (`pause.rs`).
    pub pause: Arc<pause::Pause>,
    /// Snapshots: SAVE/BGSAVE state, the changes counter, loading (`persist`).
    pub persist: crate::persist::save::Persistence,
    /// This server, for handlers that hand it to a thread (BGSAVE); set by [`run`].
    pub me: OnceLock<std::sync::Weak<Server>>,
    /// Replication role, ids, offsets and the replica link's state
    /// (`repl::replica::state`), shared with the primary side.
    pub repl: crate::repl::replica::ReplState,
    /// The append-only file (`persist::aof`).
    pub aof: Arc<crate::persist::aof::Aof>,
    /// The primary side of replication: backlog, replicas, WAIT
    /// (`repl::primary`).
    pub primary: crate::repl::primary::Primary,
    /// The operator's topology epoch and role confirmation
    /// (`repl::topology`).
    pub topology: crate::repl::topology::Topology,
    /// A shutdown waiting for replicas (`shutdown`).
    pub shutdown_state: shutdown::Shutdown,
    /// Cluster mode: this node's id and the cluster map (`cluster`).
    pub cluster: crate::cluster::Cluster,
}

impl Server {
    pub fn new(config: Config) -> Server {
        Server::with_commands(config, Commands::new())
    }

    /// A server whose command table is `commands` (renamed by the config).
    pub fn with_commands(config: Config, commands: Commands) -> Server {
        let io_threads = match config.get_i64("io-threads") {
            n if n > 0 => n as usize,
            _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        // One stats slot per event loop, plus one for the replication link
        // thread (its only writer; see `repl::replica::stream`).
        let stats = Stats::new(io_threads + 1, commands.len());
        let mut rng = crate::util::Rng::from_entropy();
        let mut keyspace = Keyspace::new(config.get_i64("databases") as usize, rng.next_u64());
        // Expiry paths test the notification mask without the config lock.
        keyspace.events = config.notify.clone();
        // One pause state: the request path holds commands by it and lazy
        // expiry in the keyspace stops deleting by it.
        let pause = Arc::new(pause::Pause::default());
        keyspace.pause = pause.clone();
        let mut hex40 = || -> String {
            (0..40)
                .map(|_| {
                    let d = (rng.next_u64() % 16) as u8;
                    (if d < 10 { b'0' + d } else { b'a' + d - 10 }) as char
                })
                .collect()
        };
        let run_id = hex40();
        let cluster_on = config.get_bool("cluster-enabled");
        let cluster = crate::cluster::Cluster::new(cluster_on, hex40());
        if cluster_on {
            // Key hashes carry their slot; database 0 counts keys per slot.
            keyspace.enable_slots();
        }
        let topology = crate::repl::topology::Topology::new(config.get_bool("managed-topology"));
        Server {
            config,
            keyspace,
            commands,
            stats,
            clients: client::Registry::default(),
            run_id,
            started_ms: crate::util::now_ms(),
            started: std::time::Instant::now(),
            listen_addrs: OnceLock::new(),
            http_addr: OnceLock::new(),
            workers: OnceLock::new(),
            monitors: Mutex::new(Vec::new()),
            monitor_count: AtomicUsize::new(0),
            pubsub: Default::default(),
            tracking: Default::default(),
            watches: Arc::default(),
            shutting_down: AtomicBool::new(false),
            io_threads,
            blocking: blocked::Registry::default(),
            evictor: evict::Evictor::new(),
            pause,
            persist: crate::persist::save::Persistence::new(crate::util::now_ms()),
            me: OnceLock::new(),
            repl: crate::repl::replica::ReplState::new(),
            aof: Arc::default(),
            primary: Default::default(),
            topology,
            shutdown_state: Default::default(),
            cluster,
        }
    }

    /// This server as an `Arc` (set by [`run`]).
    pub fn me(&self) -> Option<Arc<Server>> {
        self.me.get().and_then(|w| w.upgrade())
    }

    pub fn worker(&self, idx: usize) -> Option<&WorkerHandle> {
        self.workers.get().and_then(|w| w.get(idx))
    }

    /// Starts a graceful shutdown: every event loop stops accepting, flushes
    /// what it owes its clients and exits.
    pub fn shutdown(&self) {
        if self.shutting_down.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::info!("shutting down");
        if let Some(ws) = self.workers.get() {
            for w in ws {
                w.send(Msg::Shutdown);
            }
        }
    }

    /// Wakes every event loop (a pause ended: held clients run now, not at
    /// the loop's next timeout).
    pub fn wake_loops(&self) {
        for w in self.workers.get().into_iter().flatten() {
            if let Err(e) = w.waker.wake() {
                tracing::warn!(error = %e, "could not wake an event loop");
            }
        }
    }

    /// The RESP port actually bound (useful with `--port 0`).
    pub fn port(&self) -> u16 {
        self.listen_addrs
            .get()
            .and_then(|a| a.first())
            .map_or(0, |a| a.port())
    }
}

/// Binds, starts every thread, and blocks until shutdown completes.
pub fn run(config: Config) -> anyhow::Result<()> {
    let mut commands = Commands::new();
    commands
        .rename(&config.renames)
        .map_err(anyhow::Error::msg)?;
    let srv = Arc::new(Server::with_commands(config, commands));
    let _ = srv.me.set(Arc::downgrade(&srv));
    // Before any client: a TOPOLOGY command must meet the epoch already held.
    let epoch_dir = crate::repl::topology::epoch_dir(&srv.config.get("dir"));
    srv.topology
        .load(epoch_dir.as_deref())
        .map_err(anyhow::Error::msg)?;
    // The node id and the newest cluster map; a map saved before its epoch
    // file (a crash between the two) still raises the epoch.
    let map_epoch = srv
        .cluster
        .load(epoch_dir.as_deref(), &srv.config.get("cluster-config-file"))
        .map_err(anyhow::Error::msg)?;
    srv.topology.at_least(map_epoch);
    // Load the AOF before accepting any client.
    crate::persist::aof::start(&srv)?;
    let listeners = worker::bind_listeners(&srv)?;
    let addrs: Vec<SocketAddr> = listeners[0]
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    let _ = srv.listen_addrs.set(addrs.clone());

    let mut loops = Vec::with_capacity(srv.io_threads);
    let mut handles = Vec::with_capacity(srv.io_threads);
    for (i, ls) in listeners.into_iter().enumerate() {
        let (w, handle) = worker::Worker::new(i, srv.clone(), ls)?;
        loops.push(w);
        handles.push(handle);
    }
    let _ = srv.workers.set(handles);

    let http = http::start(srv.clone())?;
    // Load the snapshot before serving: connections wait in the listen
    // backlog, /readyz says "loading" meanwhile; a bad file stops the start.
    // With the append-only file on, it alone holds the data (as in Redis).
    let loaded = if srv.aof.is_on() {
        Ok(None)
    } else {
        crate::persist::save::load_at_start(&srv)
    };
    match loaded {
        Ok(Some(r)) => tracing::info!(
            keys = r.keys,
            expired_skipped = r.expired,
            ms = r.millis,
            "DB loaded from disk"
        ),
        Ok(None) => {}
        Err(e) => {
            http.stop();
            let path = crate::persist::save::rdb_path(&srv);
            return Err(anyhow::anyhow!("could not load {}: {e}", path.display()));
        }
    }
    // A `replicaof` parameter starts the link now, with the loaded data
    // (repl::replica).
    crate::repl::replica::start(&srv)?;
    crate::repl::primary::start(&srv)?;
    // Cluster mode: a replica in the map kept on disk follows its primary.
    if let Some(master) = srv
        .cluster
        .map()
        .and_then(|m| m.master_of(&srv.cluster.myid()))
    {
        crate::repl::replica::set_master(&srv, master, true);
    }
    let cron = cron::start(srv.clone())?;
    let watchdog = watchdog::start(srv.clone())?;

    let threads: Vec<_> = loops
        .into_iter()
        .map(|w| {
            std::thread::Builder::new()
                .name(format!("io-{}", w.index()))
                .spawn(move || w.run())
        })
        .collect::<Result<_, _>>()?;

    tracing::info!(
        addrs = ?addrs,
        io_threads = srv.io_threads,
        http = ?srv.http_addr.get(),
        pid = std::process::id(),
        "kcache-node ready to accept connections"
    );
    // A line on stdout in redis-server's words, for scripts that wait for it.
    println!(
        "Ready to accept connections tcp port={}",
        addrs.first().map_or(0, |a| a.port())
    );

    for t in threads {
        if t.join().is_err() {
            tracing::error!("an event loop panicked");
        }
    }
    watchdog.stop();
    cron.stop();
    // A signal (SIGTERM, SIGINT) saves as SHUTDOWN with its
    // `shutdown-on-sig*` flags does.
    let exit = srv.shutdown_state.exit_flags();
    crate::persist::save::on_exit(&srv, exit.save, exit.nosave);
    http.stop();
    // Everything acknowledged is written and fsynced before exiting.
    srv.aof.turn_off(&srv);
    tracing::info!("kcache-node stopped");
    Ok(())
}
