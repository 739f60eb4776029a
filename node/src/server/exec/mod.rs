//! The per-request path: parse what a read delivered, check and run each command,
//! account for it. Everything here runs on the connection's event loop.
//! Cluster redirects are decided in [`route`].

pub mod route;

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::client::{Client, ReplyMode};
use super::{MonitorRef, Msg, Server};
use crate::cmd::{arity_error, arity_ok, flags, unknown_command, Args, CommandSpec, Ctx};
use crate::config::Config;
use crate::protocol::{Limits, Out, Parser};
use crate::stats::{SlowEntry, WorkerStats};

/// Config values read on every request, refreshed when the config epoch moves.
pub struct Hot {
    epoch: u64,
    pub max_bulk_len: i64,
    pub query_buffer_limit: usize,
    pub maxclients: usize,
    pub requirepass: Option<Vec<u8>>,
    pub timeout_secs: i64,
    pub slowlog_slower_than: i64,
    pub slowlog_max_len: usize,
    pub latency_threshold_ms: i64,
    /// The `pubsub` class of `client-output-buffer-limit`.
    pub pubsub_output_limit: crate::config::OutputLimit,
    /// `replica-read-only` and `replica-serve-stale-data` (the replica gate).
    pub replica_read_only: bool,
    pub replica_serve_stale: bool,
    /// `min-replicas-to-write` and `min-replicas-max-lag` (the NOREPLICAS gate).
    pub min_replicas_to_write: usize,
    pub min_replicas_max_lag: i64,
    /// `stop-writes-on-bgsave-error`, counted only while save rules are set
    /// (the MISCONF gate, `persist::write_refusal`).
    pub stop_writes_on_bgsave_error: bool,
    /// `cluster-enabled`: requests are routed ([`route`]); false costs one
    /// branch per request.
    pub cluster_on: bool,
    /// `cluster-preferred-endpoint-type`, for MOVED.
    pub endpoint: crate::cluster::Endpoint,
    /// This thread's view of the cluster map (kept across parameter
    /// refreshes; synced before each request in cluster mode).
    pub routing: route::Routing,
    /// `tracking-table-max-keys` (0: no bound).
    pub tracking_max_keys: usize,
}

impl Hot {
    pub fn load(cfg: &Config) -> Hot {
        let pass = cfg.get("requirepass");
        Hot {
            epoch: cfg.epoch(),
            max_bulk_len: cfg.get_i64("proto-max-bulk-len"),
            query_buffer_limit: cfg.get_i64("client-query-buffer-limit") as usize,
            maxclients: cfg.get_i64("maxclients") as usize,
            requirepass: (!pass.is_empty()).then(|| pass.into_bytes()),
            timeout_secs: cfg.get_i64("timeout"),
            slowlog_slower_than: cfg.get_i64("slowlog-log-slower-than"),
            slowlog_max_len: cfg.get_i64("slowlog-max-len") as usize,
            latency_threshold_ms: cfg.get_i64("latency-monitor-threshold"),
            pubsub_output_limit: crate::config::output_limit(
                &cfg.get("client-output-buffer-limit"),
                "pubsub",
            ),
            replica_read_only: cfg.get_bool("replica-read-only"),
            replica_serve_stale: cfg.get_bool("replica-serve-stale-data"),
            min_replicas_to_write: cfg.get_i64("min-replicas-to-write").max(0) as usize,
            min_replicas_max_lag: cfg.get_i64("min-replicas-max-lag"),
            stop_writes_on_bgsave_error: cfg.get_bool("stop-writes-on-bgsave-error")
                && !cfg.get("save").trim().is_empty(),
            cluster_on: cfg.get_bool("cluster-enabled"),
            endpoint: crate::cluster::Endpoint::parse(&cfg.get("cluster-preferred-endpoint-type")),
            routing: route::Routing::new(),
            tracking_max_keys: cfg.get_i64("tracking-table-max-keys").max(0) as usize,
        }
    }

    #[inline]
    pub fn refresh(&mut self, cfg: &Config) {
        if cfg.epoch() != self.epoch {
            let routing = std::mem::take(&mut self.routing);
            *self = Hot::load(cfg);
            self.routing = routing;
        }
    }
}

/// What a command runs with besides its client: the shared state, the
/// calling thread's counters and its cached parameters. Event loops, the AOF
/// loader and the replica stream each hold their own `stats` and `hot`.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub srv: &'a Server,
    pub stats: &'a WorkerStats,
    pub hot: &'a Hot,
}

/// What a read delivered, with the parser that carries a partial request over
/// from the previous read.
pub struct Input<'a> {
    pub parser: &'a mut Parser,
    pub bytes: &'a [u8],
}

/// Parses and executes every complete request in `input`, appending replies to
/// `out`. Returns how many bytes were consumed; the rest is an incomplete request
/// whose progress `parser` remembers.
///
/// A command that panics must not take its event loop (and every client on it)
/// down: the panic is caught here, once per read batch (a per-command guard
/// measurably cost the hot path), logged, answered with an error, and the
/// client is closed, since its reply stream may hold a partial reply. Stripe
/// guards are released by the unwinding and parking_lot mutexes do not
/// poison. This is a last line of defence, not a path any input should reach.
pub fn process(
    srv: &Server,
    stats: &WorkerStats,
    hot: &mut Hot,
    client: &mut Client,
    input: Input<'_>,
    out: &mut Out,
    now_ms: i64,
) -> usize {
    let Input {
        parser,
        bytes: input,
    } = input;
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let input = Input {
            parser: &mut *parser,
            bytes: input,
        };
        process_batch(srv, stats, hot, client, input, out, now_ms)
    }));
    match caught {
        Ok(consumed) => consumed,
        Err(_) => {
            tracing::error!(client = client.id, "a command panicked; closing the client");
            out.error("ERR internal error while running the command (logged)");
            client.close_after_reply = true;
            *parser = Parser::default();
            input.len()
        }
    }
}

fn process_batch(
    srv: &Server,
    stats: &WorkerStats,
    hot: &mut Hot,
    client: &mut Client,
    input: Input<'_>,
    out: &mut Out,
    now_ms: i64,
) -> usize {
    let Input {
        parser,
        bytes: input,
    } = input;
    let mut start = 0;
    let mut t0 = Instant::now();
    loop {
        let limits = Limits {
            max_bulk_len: hot.max_bulk_len,
            authenticated: client.authenticated,
        };
        let begin = start;
        match parser.parse(input, start, &limits) {
            Ok(Some(req)) => {
                start = req.end;
                if parser.args.is_empty() {
                    continue;
                }
                let src: &[u8] = if req.inline {
                    &parser.inline_buf
                } else {
                    input
                };
                let args = Args::new(src, &parser.args);
                // CLIENT PAUSE: the held request stays unconsumed (pause.rs).
                if srv.pause.maybe_on() && held(srv, client, &args, now_ms) {
                    client.paused = true;
                    return begin;
                }
                out.resp3 = client.resp3;
                if hot.cluster_on {
                    hot.routing.sync(&srv.cluster);
                }
                let env = Env { srv, stats, hot };
                execute(env, client, out, &args, now_ms, &mut t0);
                // Serve clients blocked on keys this command created, once the
                // whole command (or EXEC) is done; see server::blocked.
                super::blocked::handle_ready_keys(srv);
                // A client that blocked runs nothing more until unblocked: the
                // rest of its pipeline stays in its buffer.
                if client.blocked.is_some() {
                    return start;
                }
                // A CONFIG SET applies from the next command on, even within
                // one pipeline (one atomic load when nothing changed).
                hot.refresh(&srv.config);
                // PSYNC/SYNC: the rest belongs to the replica's threads.
                if client.close_after_reply || client.wants_handover() {
                    return start;
                }
            }
            Ok(None) => return start,
            Err(e) => {
                tracing::debug!(client = client.id, error = %e, "protocol error; closing");
                out.error(&format!("ERR {e}"));
                client.close_after_reply = true;
                return input.len();
            }
        }
    }
}

/// Whether `spec` is an EXEC whose queue writes (Redis counts it as a write
/// command for MISCONF and NOREPLICAS).
fn exec_writes(srv: &Server, client: &Client, spec: &crate::cmd::CommandSpec) -> bool {
    spec.name == "exec"
        && client.tx.queuing()
        && client
            .tx
            .queue_has(|i| srv.commands.specs[i].flags & flags::WRITE != 0)
}

/// Whether CLIENT PAUSE holds this request now.
#[cold]
fn held(srv: &Server, client: &Client, args: &Args, now_ms: i64) -> bool {
    let mode = srv.pause.mode(now_ms);
    if mode == super::pause::Mode::Off {
        return false;
    }
    // Unknown commands get their error at once, as in Redis.
    let Some(idx) = srv.commands.lookup(args.get(0)) else {
        return false;
    };
    let spec = srv.commands.specs[idx];
    let exec_writes = spec.name == "exec"
        && client
            .tx
            .queue_has(|i| super::pause::write_like(srv.commands.specs[i]));
    super::pause::holds(mode, spec, exec_writes)
}

/// Runs one command with every check Redis makes before it.
pub fn execute(
    env: Env<'_>,
    client: &mut Client,
    out: &mut Out,
    args: &Args,
    now_ms: i64,
    t0: &mut Instant,
) {
    let Env { srv, stats, hot } = env;
    let mode_before = client.reply;
    let reply_start = out.buf.len();
    let Some(idx) = srv.commands.lookup(args.get(0)) else {
        let e = unknown_command(args);
        out.error(&e.0);
        count_error(srv, stats, &e.0);
        client.tx.flag_error(); // a rejected command aborts a transaction (multi.rs)
        finish_reply_mode(client, out, mode_before, reply_start);
        return;
    };
    let spec = srv.commands.specs[idx];
    // Redis's order: unknown (sub)command and arity errors come before NOAUTH,
    // then cluster redirects, then the rest.
    let mut rejected = if !arity_ok(spec.arity, args.len()) {
        Some(arity_error(spec.name).0.into_owned())
    } else if !client.authenticated && spec.flags & flags::NO_AUTH == 0 {
        Some(
            subcommand_error(spec, args)
                .unwrap_or_else(|| "NOAUTH Authentication required.".into()),
        )
    } else {
        None
    };
    if hot.cluster_on && rejected.is_none() && !client.master_link && !client.loader {
        if let Some(e) = route::redirect(
            &hot.routing,
            hot.endpoint,
            client,
            &srv.commands.specs,
            spec,
            args,
        ) {
            WorkerStats::add(&stats.commands[idx].rejected, 1);
            if spec.name == "exec" && client.tx.queuing() {
                // Redis discards the transaction and sends the redirect itself.
                super::multi::discard(client);
            } else {
                client.tx.flag_error();
            }
            out.error(&e);
            count_error(srv, stats, &e);
            finish_reply_mode(client, out, mode_before, reply_start);
            return;
        }
    }
    if rejected.is_none() {
        rejected = if client.pubsub.is_some() && !client.resp3 {
            // RESP2 subscribers may only manage subscriptions (server/channels.rs).
            super::channels::restricted_error(spec, args)
        } else if srv.config.evict.maxmemory() != 0
            && !client.master_link
            && !super::evict::admit(srv, spec.flags, now_ms)
        {
            Some(super::evict::OOM.into())
        } else if let Some(e) = crate::persist::write_refusal(srv, hot.stop_writes_on_bgsave_error)
            .filter(|_| {
                !client.master_link
                    && (spec.flags & flags::WRITE != 0
                        || spec.name == "ping"
                        || exec_writes(srv, client, spec))
            })
        {
            // MISCONF: a failed BGSAVE or AOF write refuses writes, and PING, as
            // Redis does (persist::write_refusal: two relaxed loads when healthy).
            Some(e)
        } else if hot.min_replicas_to_write > 0
            && (spec.flags & flags::WRITE != 0 || exec_writes(srv, client, spec))
            && !client.master_link
            && crate::repl::primary::wait::refuses_writes(
                srv,
                hot.min_replicas_to_write,
                hot.min_replicas_max_lag,
            )
        {
            // min-replicas-to-write (repl::primary::wait).
            Some(crate::repl::primary::wait::NOREPLICAS.into())
        } else if let Some(e) = crate::repl::replica::gate(srv, hot, client, spec) {
            // READONLY / MASTERDOWN on a replica (one relaxed load elsewhere).
            Some(e.into())
        } else if client.tx.queuing() {
            // A queued command is checked as Redis's lookup does (multi.rs).
            subcommand_error(spec, args).or_else(|| {
                (spec.flags & flags::NO_MULTI != 0)
                    .then(|| "ERR Command not allowed inside a transaction".into())
            })
        } else {
            None
        };
    }
    if let Some(e) = rejected {
        WorkerStats::add(&stats.commands[idx].rejected, 1);
        if spec.name == "exec" && client.tx.queuing() {
            // A rejected EXEC discards the transaction (Redis's execCommandAbort).
            super::multi::discard(client);
            let e = format!("EXECABORT Transaction discarded because of: {e}");
            out.error(&e);
            count_error(srv, stats, &e);
        } else {
            out.error(&e);
            count_error(srv, stats, &e);
            client.tx.flag_error();
        }
        finish_reply_mode(client, out, mode_before, reply_start);
        return;
    }
    // Between MULTI and EXEC commands are queued, not run (multi.rs).
    if client.tx.queuing() && super::multi::queues(spec) {
        super::multi::queue(client, out, idx, args);
        finish_reply_mode(client, out, mode_before, reply_start);
        return;
    }
    run(env, client, out, idx, args, now_ms, t0);
    finish_reply_mode(client, out, mode_before, reply_start);
}

/// Runs a checked command and accounts for it: a request, or one command of a
/// transaction (EXEC calls this for each queued command). Inlined into
/// `execute`: a call with this many arguments costs more than a GET's lookup.
#[inline(always)]
pub fn run(
    env: Env<'_>,
    client: &mut Client,
    out: &mut Out,
    idx: usize,
    args: &Args,
    now_ms: i64,
    t0: &mut Instant,
) {
    let Env { srv, stats, hot } = env;
    let spec = srv.commands.specs[idx];
    let exec_start = *t0;
    let reply_start = out.buf.len();
    // For the watchdog: which command a stuck loop is running (server::watchdog).
    stats.progress.command(idx, client.id);
    // CLIENT TRACKING: a read's keys are remembered before it runs (see
    // server::tracking on why before).
    if let Some(local) = client.tracking {
        if spec.flags & flags::READONLY != 0 && local.tracks_reads() {
            let keys = crate::cmd::admin::command::key_args(spec, args);
            if !keys.is_empty() {
                srv.tracking
                    .remember(client.id, &keys, hot.tracking_max_keys, &srv.clients);
            }
        }
    }
    // Keyspace notifications (server/notify.rs): one atomic load when off.
    let noted = super::notify::before(srv, client.db, spec, args);
    // How lazy expiry treats expired keys on a replica (db::ExpiryMode).
    crate::db::set_expiry_mode(if client.master_link {
        crate::db::ExpiryMode::Keep
    } else if spec.flags & flags::WRITE != 0 {
        crate::db::ExpiryMode::Delete
    } else {
        crate::db::ExpiryMode::Hide
    });
    // EXEC outside MULTI is its table handler's error; inside, multi.rs runs it,
    // with blocking commands answering at once as Redis's do inside MULTI.
    let result = if client.tx.queuing() && spec.name == "exec" {
        let _no_block = super::blocked::DenyBlocking::enter();
        super::multi::exec(env, client, out, now_ms, t0)
    } else {
        let mut ctx = Ctx {
            srv,
            client: &mut *client,
            out: &mut *out,
            now_ms,
            cmd: idx,
            prop: Default::default(),
        };
        let call = |ctx: &mut Ctx| {
            if spec.flags & flags::WRITE != 0 {
                // Touches WATCHed keys under the stripe locks the write takes.
                super::watch::as_write(srv, ctx.client.db, spec, args, now_ms, || {
                    (spec.handler)(ctx, args)
                })
            } else {
                (spec.handler)(ctx, args)
            }
        };
        // Propagation (AOF, replicas): one relaxed load when off.
        if srv.keyspace.log.active() && crate::repl::prop::propagates(spec, args) {
            crate::repl::prop::call(&mut ctx, spec, args, call)
        } else {
            call(&mut ctx)
        }
    };
    let ok = result.is_ok();
    if ok && spec.flags & flags::WRITE != 0 {
        // The changes counter of the `save` rules (persist/save.rs).
        WorkerStats::add(&stats.writes, 1);
    }
    if let Err(e) = result {
        out.error(&e.0);
        count_error(srv, stats, &e.0);
        WorkerStats::add(&stats.commands[idx].failed, 1);
    }
    if srv.tracking.active() {
        invalidate_tracked(srv, client, spec, args, ok);
    }
    super::notify::after(srv, client, spec, args, noted, ok, out, reply_start);
    if !client.tx.executing {
        if !client.tracking_pending.is_empty() {
            let pending = std::mem::take(&mut client.tracking_pending);
            client.push_buf(&mut out.buf).extend_from_slice(&pending);
        }
        // CLIENT CACHING lasts one command (a whole transaction), as in Redis.
        if let Some(local) = client.tracking.as_mut() {
            if spec.name != "client" && !client.tx.queuing() {
                local.caching = None;
            }
        }
    }
    // One clock read per command: the previous command's end is this one's start
    // (EXEC's time includes its commands').
    let t1 = Instant::now();
    let usec = t1.saturating_duration_since(exec_start).as_micros() as u64;
    *t0 = t1;
    stats.record(idx, usec);
    let shared = &client.shared;
    shared.last_interaction_ms.store(now_ms, Ordering::Relaxed);
    if !client.tx.executing {
        // CLIENT LIST shows `cmd=exec` while a transaction runs, as Redis does.
        shared.last_cmd.store(idx, Ordering::Relaxed);
    }
    shared.commands.store(
        shared.commands.load(Ordering::Relaxed) + 1,
        Ordering::Relaxed,
    );

    if hot.slowlog_slower_than >= 0
        && usec as i64 >= hot.slowlog_slower_than
        && spec.flags & flags::SKIP_SLOWLOG == 0
    {
        srv.stats.slowlog_push(
            SlowEntry {
                id: 0,
                unix_time: now_ms / 1000,
                usec,
                args: slowlog_args(args),
                addr: shared.addr.clone(),
                name: shared.name().unwrap_or_default(),
            },
            hot.slowlog_max_len,
        );
    }
    // LATENCY: commands slower than latency-monitor-threshold, as Redis's
    // "command" and "fast-command" events.
    if hot.latency_threshold_ms > 0 && (usec / 1000) as i64 >= hot.latency_threshold_ms {
        let event = if spec.flags & flags::FAST != 0 {
            "fast-command"
        } else {
            "command"
        };
        srv.stats.latency_record(event, now_ms / 1000, usec / 1000);
    }
    if srv.monitor_count.load(Ordering::Relaxed) > 0
        && spec.flags & (flags::ADMIN | flags::SKIP_MONITOR) == 0
    {
        feed_monitors(srv, client, args);
    }
}

/// CLIENT TRACKING: invalidates the keys a write changed and the keys this
/// thread expired lazily while running the command.
#[cold]
fn invalidate_tracked(
    srv: &Server,
    client: &mut Client,
    spec: &CommandSpec,
    args: &Args,
    ok: bool,
) {
    use super::tracking::Caller;
    let id = client.id;
    if ok && spec.flags & flags::WRITE != 0 {
        let keys = crate::cmd::admin::command::key_args(spec, args);
        let caller = Caller {
            id,
            pending: &mut client.tracking_pending,
        };
        srv.tracking.invalidate(&keys, Some(caller), &srv.clients);
    }
    crate::db::with_expired_log(|expired| {
        if !expired.is_empty() {
            let keys: Vec<&[u8]> = expired.iter().map(Vec::as_slice).collect();
            let caller = Caller {
                id,
                pending: &mut client.tracking_pending,
            };
            srv.tracking.invalidate(&keys, Some(caller), &srv.clients);
        }
    });
    if srv.config.notify.load(Ordering::Relaxed) == 0 {
        crate::db::take_expired_log();
    }
}

/// The unknown-subcommand or subcommand-arity error a container command would
/// give, from its subcommand table (checked before NOAUTH, as Redis does).
fn subcommand_error(spec: &crate::cmd::CommandSpec, args: &Args) -> Option<String> {
    if spec.subcommands.is_empty() || args.len() < 2 {
        return None;
    }
    let name = args.get(1);
    let Some(sub) = spec
        .subcommands
        .iter()
        .find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
    else {
        return Some(
            crate::cmd::unknown_subcommand(name, spec.name)
                .0
                .into_owned(),
        );
    };
    (!arity_ok(sub.arity, args.len())).then(|| {
        arity_error(&format!("{}|{}", spec.name, sub.name))
            .0
            .into_owned()
    })
}

/// Counts an error reply in the totals and, by its code, in INFO errorstats.
fn count_error(srv: &Server, stats: &WorkerStats, msg: &str) {
    WorkerStats::add(&stats.error_replies, 1);
    srv.stats.count_error_code(msg);
}

/// Applies CLIENT REPLY OFF/SKIP: drops the reply this command produced, but
/// not the pushes it held aside ([`Client::push_buf`]).
pub fn finish_reply_mode(client: &mut Client, out: &mut Out, before: ReplyMode, start: usize) {
    match before {
        ReplyMode::On => {}
        ReplyMode::Off => {
            if client.reply != ReplyMode::On {
                out.buf.truncate(start);
            }
        }
        ReplyMode::Skip => {
            out.buf.truncate(start);
            if client.reply == ReplyMode::Skip {
                client.reply = ReplyMode::On;
            }
        }
    }
    if !client.held_pushes.is_empty() {
        out.buf.append(&mut client.held_pushes);
    }
}

/// Whether argument `i` is a secret Redis redacts from the slow log: AUTH's
/// password, HELLO's AUTH credentials, and CONFIG SET values of passwords.
fn redacted(args: &Args, i: usize) -> bool {
    if args.is(0, "auth") {
        return i > 0;
    }
    if args.is(0, "hello") {
        return (2..args.len()).any(|k| args.is(k, "auth") && (i == k + 1 || i == k + 2));
    }
    if args.is(0, "config") && args.len() > 2 && args.is(1, "set") && i > 2 && i % 2 == 1 {
        return args.is(i - 1, "requirepass") || args.is(i - 1, "masterauth");
    }
    false
}

/// SLOWLOG keeps at most 32 arguments of at most 128 bytes each, as Redis does.
fn slowlog_args(args: &Args) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i == 31 && args.len() > 32 {
            v.push(format!("... ({} more arguments)", args.len() - 31).into_bytes());
            break;
        }
        if redacted(args, i) {
            v.push(b"(redacted)".to_vec());
            continue;
        }
        if a.len() > 128 {
            let mut s = a[..128].to_vec();
            s.extend_from_slice(format!("... ({} more bytes)", a.len() - 128).as_bytes());
            v.push(s);
        } else {
            v.push(a.to_vec());
        }
    }
    v
}

fn feed_monitors(srv: &Server, client: &Client, args: &Args) {
    // MONITOR prints microseconds, finer than the command's millisecond clock.
    let us = crate::util::now_us();
    let mut line = format!(
        "+{}.{:06} [{} {}]",
        us / 1_000_000,
        us % 1_000_000,
        client.db,
        client.shared.addr
    );
    let redact = args.is(0, "auth") || args.is(0, "hello") || args.is(0, "migrate");
    for (i, a) in args.iter().enumerate() {
        line.push(' ');
        if redact && i > 0 {
            line.push_str("\"(redacted)\"");
        } else {
            crate::util::repr(&mut line, a);
        }
    }
    line.push_str("\r\n");
    let monitors: Vec<MonitorRef> = srv.monitors.lock().clone();
    for m in monitors {
        if m.id == client.id {
            continue;
        }
        if let Some(w) = srv.worker(m.worker) {
            w.send(Msg::Write {
                token: m.token,
                id: m.id,
                bytes: line.clone().into_bytes(),
            });
        }
    }
}

/// Registers the calling client as a MONITOR.
pub fn add_monitor(srv: &Server, client: &mut Client) {
    client.monitor = true;
    client.shared.monitor.store(true, Ordering::Relaxed);
    let mut m = srv.monitors.lock();
    m.push(MonitorRef {
        worker: client.shared.worker,
        token: client.shared.token,
        id: client.id,
    });
    srv.monitor_count.store(m.len(), Ordering::Relaxed);
}

pub fn remove_monitor(srv: &Server, id: u64) {
    let mut m = srv.monitors.lock();
    m.retain(|r| r.id != id);
    srv.monitor_count.store(m.len(), Ordering::Relaxed);
}
