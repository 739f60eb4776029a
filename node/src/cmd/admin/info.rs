//! `INFO [section [section ...]]`: the report, in redis-server 7.0's sections,
//! field names and formatting (`# Section` headers, `name:value` lines, CRLF line
//! endings, a blank line between sections).
//!
//! Fields kcache adds to Redis's set (`kcache_version`, `http_port`, `io_threads`)
//! sit next to their Redis relatives; fields that describe machinery kcache does
//! not have (Lua, forks, modules) are reported with their idle values so that
//! tools parsing INFO find every field they expect.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use super::super::{Args, CmdResult, Ctx};
use crate::server::channels::Kind;
use crate::server::Server;

/// Every section, in the order Redis prints them.
const ORDER: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

/// Sections printed by `INFO` and `INFO default`.
const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

/// Which sections a list of INFO arguments asks for (`all` and `everything` are
/// every section; unknown names select nothing, as in Redis).
pub fn select_sections<'a>(names: impl Iterator<Item = &'a [u8]>) -> Vec<&'static str> {
    let mut want = std::collections::HashSet::new();
    let mut any = false;
    for n in names {
        any = true;
        let lower = String::from_utf8_lossy(n).to_ascii_lowercase();
        match lower.as_str() {
            "all" | "everything" => want.extend(ORDER.iter().copied()),
            "default" => want.extend(DEFAULT.iter().copied()),
            s => {
                if let Some(&known) = ORDER.iter().find(|&&k| k == s) {
                    want.insert(known);
                }
            }
        }
    }
    if !any {
        want.extend(DEFAULT.iter().copied());
    }
    ORDER.iter().copied().filter(|s| want.contains(s)).collect()
}

/// `INFO [section [section ...]]`
pub fn info(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let sections = select_sections(args.iter().skip(1));
    let text = render(ctx.srv, &sections, ctx.now_ms);
    ctx.out.verbatim(&text);
    Ok(())
}

/// The INFO text for `sections` (names as returned by [`select_sections`]).
pub fn render(srv: &Server, sections: &[&str], now_ms: i64) -> String {
    let mut out = String::with_capacity(4096);
    for (i, name) in sections.iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        let mut body = Section::default();
        match *name {
            "server" => server(srv, &mut body, now_ms),
            "clients" => clients(srv, &mut body, now_ms),
            "memory" => memory(srv, &mut body),
            "persistence" => persistence(srv, &mut body),
            "stats" => stats(srv, &mut body),
            "replication" => replication(srv, &mut body),
            "cpu" => cpu(&mut body),
            "commandstats" => commandstats(srv, &mut body),
            "cluster" => {
                let on = srv.config.get_bool("cluster-enabled") as u8;
                body.kv("cluster_enabled", on);
            }
            "keyspace" => keyspace(srv, &mut body),
            "errorstats" => {
                for (code, n) in srv.stats.error_codes.lock().iter() {
                    body.kv(&format!("errorstat_{code}"), format!("count={n}"));
                }
            }
            // modules, latencystats: headers only (nothing to report).
            _ => {}
        }
        let _ = write!(out, "# {}\r\n", title(name));
        out.push_str(&body.0);
    }
    out
}

fn title(section: &str) -> String {
    match section {
        "cpu" => "CPU".to_string(),
        s => {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        }
    }
}

/// The lines of one section.
#[derive(Default)]
pub struct Section(String);

impl Section {
    pub fn kv(&mut self, name: &str, value: impl std::fmt::Display) {
        let _ = write!(self.0, "{name}:{value}\r\n");
    }
}

/// Redis's `bytesToHuman`: `918.95K`, `1.00M`, `512B`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (1 << 10, "K"),
        (1 << 20, "M"),
        (1 << 30, "G"),
        (1 << 40, "T"),
        (1 << 50, "P"),
    ];
    if n < 1024 {
        return format!("{n}B");
    }
    for (i, (div, unit)) in UNITS.iter().enumerate() {
        let next = UNITS.get(i + 1).map_or(u64::MAX, |u| u.0);
        if n < next {
            return format!("{:.2}{unit}", n as f64 / *div as f64);
        }
    }
    format!("{n}B")
}

fn uname() -> String {
    // SAFETY: uname fills the zeroed struct we pass; its fields are NUL-terminated.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return "Linux".into();
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!(
        "{} {} {}",
        field(&u.sysname),
        field(&u.release),
        field(&u.machine)
    )
}

fn server(srv: &Server, s: &mut Section, now_ms: i64) {
    let uptime = srv.started.elapsed().as_secs();
    let hz = srv.config.get_i64("hz");
    s.kv("redis_version", crate::REDIS_COMPAT_VERSION);
    s.kv("kcache_version", crate::VERSION);
    s.kv("redis_git_sha1", "00000000");
    s.kv("redis_git_dirty", 0);
    s.kv("redis_build_id", "0");
    let mode = if srv.config.get_bool("cluster-enabled") {
        "cluster"
    } else {
        "standalone"
    };
    s.kv("redis_mode", mode);
    s.kv("os", uname());
    s.kv("arch_bits", usize::BITS);
    s.kv("monotonic_clock", "POSIX clock_gettime");
    s.kv("multiplexing_api", "epoll");
    s.kv("atomicvar_api", "c11-builtin");
    s.kv("gcc_version", "0.0.0");
    s.kv("process_id", std::process::id());
    s.kv("process_supervised", "no");
    s.kv("run_id", &srv.run_id);
    s.kv("tcp_port", srv.port());
    s.kv("http_port", srv.http_addr.get().map_or(0, |a| a.port()));
    s.kv("server_time_usec", crate::util::now_us());
    s.kv("uptime_in_seconds", uptime);
    s.kv("uptime_in_days", uptime / 86400);
    s.kv("hz", hz);
    s.kv("configured_hz", hz);
    s.kv("lru_clock", crate::db::lru_clock(now_ms));
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    s.kv("executable", exe);
    let file = srv
        .config
        .file
        .as_ref()
        .and_then(|f| std::fs::canonicalize(f).ok().or_else(|| Some(f.clone())))
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    s.kv("config_file", file);
    s.kv("io_threads_active", (srv.io_threads > 1) as u8);
    s.kv("io_threads", srv.io_threads);
}

fn clients(srv: &Server, s: &mut Section, _now_ms: i64) {
    let all = srv.clients.snapshot();
    let max_in = all
        .iter()
        .map(|c| c.qbuf.load(Ordering::Relaxed))
        .max()
        .unwrap_or(0);
    let max_out = all
        .iter()
        .map(|c| c.omem.load(Ordering::Relaxed))
        .max()
        .unwrap_or(0);
    s.kv("connected_clients", all.len());
    s.kv("cluster_connections", 0);
    s.kv("maxclients", srv.config.get_i64("maxclients"));
    s.kv("client_recent_max_input_buffer", max_in);
    s.kv("client_recent_max_output_buffer", max_out);
    s.kv("blocked_clients", srv.blocking.blocked());
    s.kv("tracking_clients", srv.tracking.counts().clients);
    s.kv("clients_in_timeout_table", 0);
}

/// Memory figures shared by INFO memory and MEMORY STATS.
pub struct MemoryFigures {
    pub used: u64,
    pub peak: u64,
    pub startup: u64,
    pub rss: u64,
    /// Keyspace index plus client buffers plus start-up memory.
    pub overhead: u64,
    pub index: u64,
    pub clients: u64,
    pub keys: u64,
}

impl MemoryFigures {
    pub fn collect(srv: &Server) -> MemoryFigures {
        let (used, peak) = srv.stats.used_memory_and_peak();
        let startup = srv.stats.startup_memory.load(Ordering::Relaxed) as u64;
        let ks = &srv.keyspace;
        let index: u64 = (0..ks.db_count())
            .map(|i| ks.db(i).index_bytes() as u64)
            .sum();
        let clients: u64 = srv
            .clients
            .snapshot()
            .iter()
            .map(|c| (c.qbuf.load(Ordering::Relaxed) + c.omem.load(Ordering::Relaxed)) as u64)
            .sum();
        MemoryFigures {
            used: used as u64,
            peak: peak as u64,
            startup,
            rss: crate::alloc::rss_bytes() as u64,
            overhead: startup + index + clients,
            index,
            clients,
            keys: ks.total_keys() as u64,
        }
    }

    pub fn dataset(&self) -> u64 {
        self.used.saturating_sub(self.overhead)
    }

    pub fn dataset_perc(&self) -> f64 {
        let net = self.used.saturating_sub(self.startup);
        if net == 0 {
            0.0
        } else {
            self.dataset() as f64 * 100.0 / net as f64
        }
    }

    pub fn peak_perc(&self) -> f64 {
        if self.peak == 0 {
            0.0
        } else {
            self.used as f64 * 100.0 / self.peak as f64
        }
    }

    pub fn fragmentation(&self) -> f64 {
        if self.used == 0 {
            0.0
        } else {
            self.rss as f64 / self.used as f64
        }
    }
}

fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn memory(srv: &Server, s: &mut Section) {
    let m = MemoryFigures::collect(srv);
    let maxmemory = srv.config.get_i64("maxmemory").max(0) as u64;
    let sys = total_system_memory();
    s.kv("used_memory", m.used);
    s.kv("used_memory_human", human_bytes(m.used));
    s.kv("used_memory_rss", m.rss);
    s.kv("used_memory_rss_human", human_bytes(m.rss));
    s.kv("used_memory_peak", m.peak);
    s.kv("used_memory_peak_human", human_bytes(m.peak));
    s.kv("used_memory_peak_perc", format!("{:.2}%", m.peak_perc()));
    s.kv("used_memory_overhead", m.overhead);
    s.kv("used_memory_startup", m.startup);
    s.kv("used_memory_dataset", m.dataset());
    s.kv(
        "used_memory_dataset_perc",
        format!("{:.2}%", m.dataset_perc()),
    );
    s.kv("allocator_allocated", m.used);
    s.kv("allocator_active", m.used);
    s.kv("allocator_resident", m.rss);
    s.kv("total_system_memory", sys);
    s.kv("total_system_memory_human", human_bytes(sys));
    s.kv("used_memory_lua", 0);
    s.kv("used_memory_vm_eval", 0);
    s.kv("used_memory_lua_human", "0B");
    s.kv("used_memory_scripts_eval", 0);
    s.kv("number_of_cached_scripts", 0);
    s.kv("number_of_functions", 0);
    s.kv("number_of_libraries", 0);
    s.kv("used_memory_vm_functions", 0);
    s.kv("used_memory_vm_total", 0);
    s.kv("used_memory_vm_total_human", "0B");
    s.kv("used_memory_functions", 0);
    s.kv("used_memory_scripts", 0);
    s.kv("used_memory_scripts_human", "0B");
    s.kv("maxmemory", maxmemory);
    s.kv("maxmemory_human", human_bytes(maxmemory));
    s.kv("maxmemory_policy", srv.config.get("maxmemory-policy"));
    s.kv("allocator_frag_ratio", "1.00");
    s.kv("allocator_frag_bytes", 0);
    s.kv("allocator_rss_ratio", format!("{:.2}", m.fragmentation()));
    s.kv("allocator_rss_bytes", m.rss as i64 - m.used as i64);
    s.kv("rss_overhead_ratio", "1.00");
    s.kv("rss_overhead_bytes", 0);
    s.kv(
        "mem_fragmentation_ratio",
        format!("{:.2}", m.fragmentation()),
    );
    s.kv("mem_fragmentation_bytes", m.rss as i64 - m.used as i64);
    s.kv("mem_not_counted_for_evict", 0);
    s.kv("mem_replication_backlog", 0);
    s.kv("mem_total_replication_buffers", 0);
    s.kv("mem_clients_slaves", 0);
    s.kv("mem_clients_normal", m.clients);
    s.kv("mem_cluster_links", 0);
    s.kv("mem_aof_buffer", 0);
    s.kv("mem_allocator", "mimalloc");
    s.kv("active_defrag_running", 0);
    s.kv("lazyfree_pending_objects", srv.evictor.lazyfree_pending());
    s.kv("lazyfreed_objects", srv.evictor.lazyfreed());
}

/// Snapshot state (`persist::save`); the COW figures are the snapshot
/// queue's bytes (see `persist::snapshot`), the nearest equivalent of the
/// memory a fork would have copied.
fn persistence(srv: &Server, s: &mut Section) {
    use std::sync::atomic::Ordering::Relaxed;
    let p = &srv.persist;
    let running = p.in_progress.load(Relaxed);
    let bg = p.bgsave_in_progress.load(Relaxed);
    let prog = p.progress.lock().clone();
    let now = crate::util::now_ms();
    s.kv("loading", p.loading.load(Relaxed) as u8);
    s.kv("async_loading", 0);
    s.kv(
        "current_cow_peak",
        if running {
            prog.peak_queued.load(Relaxed)
        } else {
            0
        },
    );
    s.kv(
        "current_cow_size",
        if running {
            prog.queued.load(Relaxed)
        } else {
            0
        },
    );
    s.kv("current_cow_size_age", 0);
    let total = prog.stripes_total.load(Relaxed);
    let perc = if running && total > 0 {
        prog.stripes_done.load(Relaxed) as f64 * 100.0 / total as f64
    } else {
        0.0
    };
    s.kv("current_fork_perc", format!("{perc:.2}"));
    s.kv(
        "current_save_keys_processed",
        if running { prog.keys.load(Relaxed) } else { 0 },
    );
    s.kv(
        "current_save_keys_total",
        if running {
            srv.keyspace.total_keys() as u64
        } else {
            0
        },
    );
    s.kv("rdb_changes_since_last_save", p.changes(srv));
    s.kv("rdb_bgsave_in_progress", bg as u8);
    s.kv("rdb_last_save_time", p.last_save.load(Relaxed));
    s.kv(
        "rdb_last_bgsave_status",
        if p.last_bgsave_ok.load(Relaxed) {
            "ok"
        } else {
            "err"
        },
    );
    s.kv("rdb_last_bgsave_time_sec", p.last_bgsave_secs.load(Relaxed));
    s.kv(
        "rdb_current_bgsave_time_sec",
        if bg {
            (now - p.current_started_ms.load(Relaxed)) / 1000
        } else {
            -1
        },
    );
    s.kv("rdb_saves", p.saves.load(Relaxed));
    s.kv("rdb_last_cow_size", p.last_cow.load(Relaxed));
    s.kv("rdb_last_load_keys_expired", p.loaded_expired.load(Relaxed));
    s.kv("rdb_last_load_keys_loaded", p.loaded_keys.load(Relaxed));
    crate::persist::aof::info(srv, s);
}

fn stats(srv: &Server, s: &mut Section) {
    let t = srv.stats.totals();
    let r = &srv.stats.rates;
    let ks = &srv.keyspace;
    let kbps = |v: &std::sync::atomic::AtomicU64| {
        format!("{:.2}", v.load(Ordering::Relaxed) as f64 / 1024.0)
    };
    s.kv("total_connections_received", t.connections_received);
    s.kv("total_commands_processed", t.commands);
    s.kv(
        "instantaneous_ops_per_sec",
        r.ops_per_sec.load(Ordering::Relaxed),
    );
    s.kv("total_net_input_bytes", t.net_input_bytes);
    s.kv("total_net_output_bytes", t.net_output_bytes);
    s.kv("total_net_repl_input_bytes", 0);
    s.kv("total_net_repl_output_bytes", 0);
    s.kv("instantaneous_input_kbps", kbps(&r.input_bytes_per_sec));
    s.kv("instantaneous_output_kbps", kbps(&r.output_bytes_per_sec));
    s.kv("instantaneous_input_repl_kbps", "0.00");
    s.kv("instantaneous_output_repl_kbps", "0.00");
    s.kv("rejected_connections", t.rejected_connections);
    let p = &srv.primary;
    s.kv("sync_full", p.sync_full.load(Ordering::Relaxed));
    s.kv("sync_partial_ok", p.sync_partial_ok.load(Ordering::Relaxed));
    s.kv(
        "sync_partial_err",
        p.sync_partial_err.load(Ordering::Relaxed),
    );
    s.kv("expired_keys", ks.expired_keys.load(Ordering::Relaxed));
    s.kv("expired_stale_perc", "0.00");
    s.kv("expired_time_cap_reached_count", 0);
    s.kv("expire_cycle_cpu_milliseconds", 0);
    s.kv(
        "evicted_keys",
        srv.stats.evicted_keys.load(Ordering::Relaxed),
    );
    s.kv("evicted_clients", 0);
    s.kv("total_eviction_exceeded_time", 0);
    s.kv("current_eviction_exceeded_time", 0);
    s.kv("keyspace_hits", ks.hits() + t.keyspace_hits);
    s.kv("keyspace_misses", ks.misses() + t.keyspace_misses);
    s.kv("pubsub_channels", srv.pubsub.count(Kind::Channel));
    s.kv("pubsub_patterns", srv.pubsub.count(Kind::Pattern));
    s.kv("pubsubshard_channels", srv.pubsub.count(Kind::Shard));
    s.kv("latest_fork_usec", 0);
    s.kv("total_forks", 0);
    s.kv("migrate_cached_sockets", 0);
    s.kv("slave_expires_tracked_keys", 0);
    s.kv("active_defrag_hits", 0);
    s.kv("active_defrag_misses", 0);
    s.kv("active_defrag_key_hits", 0);
    s.kv("active_defrag_key_misses", 0);
    s.kv("total_active_defrag_time", 0);
    s.kv("current_active_defrag_time", 0);
    let tracked = srv.tracking.counts();
    s.kv("tracking_total_keys", tracked.keys);
    s.kv("tracking_total_items", tracked.items);
    s.kv("tracking_total_prefixes", tracked.prefixes);
    s.kv("unexpected_error_replies", 0);
    s.kv("total_error_replies", t.error_replies);
    s.kv("dump_payload_sanitizations", 0);
    s.kv("io_threaded_reads_processed", 0);
    s.kv("io_threaded_writes_processed", 0);
}

/// The node's current replication id (`repl::replica::state`).
pub fn master_replid(srv: &Server) -> String {
    srv.repl.replid()
}

fn replication(srv: &Server, s: &mut Section) {
    for (k, v) in crate::repl::replica::report::info_fields(srv) {
        s.kv(&k, v);
    }
}

/// (user, system) CPU seconds of the calling thread.
fn thread_cpu_times() -> (f64, f64) {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) } != 0 {
        return (0.0, 0.0);
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_utime), t(ru.ru_stime))
}

fn cpu(s: &mut Section) {
    let (user, sys) = crate::alloc::cpu_times();
    let (tuser, tsys) = thread_cpu_times();
    s.kv("used_cpu_sys", format!("{sys:.6}"));
    s.kv("used_cpu_user", format!("{user:.6}"));
    s.kv("used_cpu_sys_children", "0.000000");
    s.kv("used_cpu_user_children", "0.000000");
    s.kv("used_cpu_sys_main_thread", format!("{tsys:.6}"));
    s.kv("used_cpu_user_main_thread", format!("{tuser:.6}"));
}

fn commandstats(srv: &Server, s: &mut Section) {
    for (i, spec) in srv.commands.specs.iter().enumerate() {
        let (calls, usec, rejected, failed) = srv.stats.command(i);
        if calls == 0 && rejected == 0 && failed == 0 {
            continue;
        }
        let per_call = if calls == 0 {
            0.0
        } else {
            usec as f64 / calls as f64
        };
        s.kv(
            &format!("cmdstat_{}", spec.name),
            format!(
                "calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}"
            ),
        );
    }
}

fn keyspace(srv: &Server, s: &mut Section) {
    let ks = &srv.keyspace;
    for i in 0..ks.db_count() {
        let db = ks.db(i);
        let keys = db.len();
        if keys == 0 {
            continue;
        }
        s.kv(
            &format!("db{i}"),
            format!("keys={keys},expires={},avg_ttl=0", db.volatile_len()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_selection_follows_redis() {
        let none: Vec<&[u8]> = vec![];
        assert_eq!(select_sections(none.into_iter()), DEFAULT);
        let all = select_sections([&b"ALL"[..]].into_iter());
        assert_eq!(all, ORDER);
        let two = select_sections([&b"cpu"[..], b"Clients", b"nosuch"].into_iter());
        assert_eq!(two, ["clients", "cpu"]);
        let none = select_sections([&b"nosuch"[..]].into_iter());
        assert!(none.is_empty());
        let more = select_sections([&b"default"[..], b"commandstats"].into_iter());
        assert!(more.contains(&"commandstats") && more.contains(&"keyspace"));
    }

    #[test]
    fn human_bytes_like_redis() {
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(1023), "1023B");
        assert_eq!(human_bytes(941_000), "918.95K");
        assert_eq!(human_bytes(12_554_240), "11.97M");
        assert_eq!(human_bytes(25_276_502_016), "23.54G");
    }

    #[test]
    fn replid_is_hex_and_differs_from_run_id() {
        let srv = Server::new(crate::config::Config::defaults());
        let id = master_replid(&srv);
        assert_eq!(id.len(), 40);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(id, srv.run_id);
        assert_eq!(id, master_replid(&srv));
    }
}
