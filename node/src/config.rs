//! Node parameters: the redis.conf directives kcache understands, their defaults,
//! validation, and where they come from.
//!
//! Precedence, lowest first: built-in defaults, the config file (redis.conf
//! syntax; the operator renders it from a CacheCluster's `parameters`),
//! environment variables `KCACHE_<NAME>` (`-` becomes `_`, e.g.
//! `KCACHE_REQUIREPASS`, so secrets never have to be written to a file), then
//! `--name value` command-line pairs. `CONFIG SET` changes the mutable ones at run
//! time; `CONFIG REWRITE` writes them back to the config file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

/// The value type of a parameter, which decides validation and normalisation.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Int {
        min: i64,
        max: i64,
    },
    /// Bytes, accepting Redis's unit suffixes (`100mb`, `1gb`, `512k`).
    Memory {
        min: i64,
    },
    Bool,
    Enum(&'static [&'static str]),
    Str,
    /// `save ""` or `save <seconds> <changes> [...]`.
    Save,
    /// `notify-keyspace-events` class letters.
    NotifyFlags,
    /// `bind` addresses.
    Bind,
    /// `client-output-buffer-limit`: `<class> <hard> <soft> <soft-seconds>` groups.
    OutputLimits,
    /// `shutdown-on-sigterm`/`-sigint`: `default`, or any of save, nosave,
    /// now, force (not save with nosave).
    ShutdownFlags,
}

/// One parameter.
#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub default: &'static str,
    pub kind: Kind,
    /// May be changed by CONFIG SET.
    pub mutable: bool,
    pub doc: &'static str,
}

/// Parameters CONFIG SET changes only as `enable-protected-configs` allows
/// (Redis 7's PROTECTED_CONFIG): they decide where the node writes files.
pub const PROTECTED: &[&str] = &["dir", "dbfilename"];

/// In Redis's order, which its CONFIG SET error message lists.
const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

macro_rules! p {
    ($name:expr, $default:expr, $kind:expr, $mutable:expr, $doc:expr) => {
        Param {
            name: $name,
            alias: None,
            default: $default,
            kind: $kind,
            mutable: $mutable,
            doc: $doc,
        }
    };
    ($name:expr, alias $alias:expr, $default:expr, $kind:expr, $mutable:expr, $doc:expr) => {
        Param {
            name: $name,
            alias: Some($alias),
            default: $default,
            kind: $kind,
            mutable: $mutable,
            doc: $doc,
        }
    };
}

/// Redis 7.0's default, in the normalised form CONFIG GET prints.
const OUTPUT_LIMITS_DEFAULT: &str =
    "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";

const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}
const YES: &str = "yes";
const NO: &str = "no";

/// Every parameter the node accepts. Names and defaults follow Redis 7.0.
pub static PARAMS: &[Param] = &[
    p!("port", "6379", int(0, 65535), false, "TCP port for RESP clients (0 picks a free port)."),
    p!("bind", "", Kind::Bind, false, "Addresses to listen on. Default 127.0.0.1 -::1, or every address inside Kubernetes."),
    p!("protected-mode", YES, Kind::Bool, true, "Accepted for compatibility."),
    p!("requirepass", "", Kind::Str, true, "Password clients must AUTH with (empty: none)."),
    p!("masterauth", "", Kind::Str, true, "Password used to authenticate to a primary."),
    p!("maxmemory", "0", Kind::Memory { min: 0 }, true, "Memory limit, in bytes (0: none); honoured to within 256 KiB per thread, so use tens of MB or more."),
    p!("maxmemory-policy", "noeviction", Kind::Enum(POLICIES), true, "What to evict when maxmemory is reached."),
    p!("maxmemory-samples", "5", int(1, 64), true, "Keys sampled per eviction."),
    p!("maxmemory-eviction-tenacity", "10", int(0, 100), true, "How long one command may spend evicting before the rest is left to the background (0-100; 10 is 500 microseconds, 100 unlimited)."),
    p!("databases", "16", int(1, 1 << 16), false, "Number of logical databases."),
    p!("save", "3600 1 300 100 60 10000", Kind::Save, true, "Snapshot schedule: pairs of <seconds> <changes>, or \"\"."),
    p!("appendonly", NO, Kind::Bool, true, "Enable the append-only file."),
    p!("appendfsync", "everysec", Kind::Enum(&["always", "everysec", "no"]), true, "fsync policy of the append-only file."),
    p!("appendfilename", "appendonly.aof", Kind::Str, false, "Append-only file base name."),
    p!("appenddirname", "appendonlydir", Kind::Str, false, "Directory (under dir) of the multi-part append-only file."),
    p!("dir", "", Kind::Str, true, "Working directory for snapshots and the append-only file (default: current). Protected: see enable-protected-configs."),
    p!("dbfilename", "dump.rdb", Kind::Str, true, "Snapshot file name. Protected: see enable-protected-configs."),
    p!("enable-protected-configs", NO, Kind::Enum(&["no", "yes", "local"]), false, "Whether CONFIG SET may change dir and dbfilename (which choose where the node writes files): no, yes, or local (loopback clients only)."),
    p!("io-threads", "0", int(0, 128), false, "Event-loop threads (0: one per CPU)."),
    p!("hz", "10", int(1, 500), true, "Background task frequency (active expiry cycles per second)."),
    p!("active-expire-effort", "1", int(1, 10), true, "Effort of the active expiry cycle (1-10)."),
    p!("timeout", "0", int(0, i32::MAX as i64), true, "Close idle clients after this many seconds (0: never)."),
    p!("tcp-keepalive", "300", int(0, i32::MAX as i64), true, "TCP keepalive interval in seconds."),
    p!("tcp-backlog", "511", int(0, i32::MAX as i64), false, "Listen backlog."),
    p!("maxclients", "10000", int(1, i32::MAX as i64), true, "Maximum simultaneous clients."),
    p!("proto-max-bulk-len", "536870912", Kind::Memory { min: 1024 * 1024 }, true, "Largest bulk string a request may carry."),
    p!("client-query-buffer-limit", "1073741824", Kind::Memory { min: 1024 * 1024 }, true, "Largest query buffer of one client."),
    p!("client-output-buffer-limit", OUTPUT_LIMITS_DEFAULT, Kind::OutputLimits, true, "Output buffer limits per client class: <class> <hard> <soft> <soft-seconds> (pubsub enforced)."),
    p!("notify-keyspace-events", "", Kind::NotifyFlags, true, "Keyspace notification classes (K E g $ l s h z x e t m d n A)."),
    p!("loglevel", "notice", Kind::Enum(&["debug", "verbose", "notice", "warning", "nothing"]), true, "Log verbosity."),
    p!("logfile", "", Kind::Str, false, "Accepted for compatibility; logs go to standard output."),
    p!("daemonize", NO, Kind::Bool, false, "Must be no: run kcache under a supervisor."),
    p!("pidfile", "", Kind::Str, false, "Write the process id to this file."),
    p!("http-port", "9121", int(-1, 65535), false, "Port of the HTTP endpoint (/healthz, /readyz, /metrics); 0 picks a free port, -1 disables it."),
    p!("liveness-stall-seconds", "5", int(0, 3600), true, "kcache: /healthz fails (503) while an event loop has been busy on one batch of requests for longer than this many seconds, naming the loop, command and client; 0 disables the check. Kubernetes restarts the pod only after the liveness probe's failureThreshold x periodSeconds of failures."),
    p!("watchdog-period", "0", int(0, i32::MAX as i64), true, "Milliseconds an event loop may be busy on one batch before the node logs a warning naming the loop, command and client (0: only when liveness-stall-seconds is passed)."),
    p!("enable-debug-command", NO, Kind::Enum(&["no", "yes", "local"]), false, "Whether DEBUG (only DEBUG SLEEP is implemented) may run: no, yes, or local (loopback clients only)."),
    p!("slowlog-log-slower-than", "10000", int(-1, i64::MAX), true, "Log commands slower than this many microseconds."),
    p!("slowlog-max-len", "128", int(0, i64::MAX), true, "Entries kept in the slow log."),
    p!("latency-monitor-threshold", "0", int(0, i64::MAX), true, "Latency events threshold in milliseconds."),
    p!("lazyfree-lazy-eviction", NO, Kind::Bool, true, "Free evicted values in the background."),
    p!("lazyfree-lazy-expire", NO, Kind::Bool, true, "Free expired values in the background."),
    p!("lazyfree-lazy-server-del", NO, Kind::Bool, true, "Free implicitly deleted values in the background."),
    p!("lazyfree-lazy-user-del", NO, Kind::Bool, true, "Make DEL behave like UNLINK."),
    p!("lazyfree-lazy-user-flush", NO, Kind::Bool, true, "Make FLUSHALL/FLUSHDB default to ASYNC."),
    p!("min-replicas-to-write", alias "min-slaves-to-write", "0", int(0, i32::MAX as i64), true, "Refuse writes with fewer connected in-sync replicas."),
    p!("min-replicas-max-lag", alias "min-slaves-max-lag", "10", int(0, i32::MAX as i64), true, "Seconds of lag that still count a replica as in sync."),
    p!("replica-read-only", alias "slave-read-only", YES, Kind::Bool, true, "Replicas refuse writes from clients."),
    p!("replica-serve-stale-data", alias "slave-serve-stale-data", YES, Kind::Bool, true, "Replicas answer reads while out of sync."),
    p!("replica-ignore-maxmemory", alias "slave-ignore-maxmemory", YES, Kind::Bool, true, "Replicas never evict: the primary's DELs keep them identical (set the same maxmemory on both)."),
    p!("repl-backlog-size", "1048576", Kind::Memory { min: 16 * 1024 }, true, "Replication backlog for partial resyncs."),
    p!("replicaof", alias "slaveof", "", Kind::Str, false, "Replicate this primary from start-up: <host> <port> (REPLICAOF changes it at run time)."),
    p!("masteruser", "", Kind::Str, true, "User name to AUTH with on the primary (with masterauth)."),
    p!("repl-timeout", "60", int(1, i32::MAX as i64), true, "Seconds without data from the primary (or during a sync) before the link is dropped and retried."),
    p!("repl-ping-replica-period", alias "repl-ping-slave-period", "10", int(1, i32::MAX as i64), true, "Seconds between the PINGs a primary sends its replicas."),
    p!("replica-priority", alias "slave-priority", "100", int(0, i32::MAX as i64), true, "Promotion priority reported in INFO (0: never promote)."),
    p!("replica-announced", YES, Kind::Bool, true, "Reported in INFO replication (replica_announced)."),
    p!("replica-accept-empty-sync", NO, Kind::Bool, true, "kcache safety rule: a replica holding data refuses a full sync with an empty dataset from a primary of unknown replication history (a primary that restarted empty); yes accepts it."),
    p!("repl-diskless-sync", YES, Kind::Bool, true, "Send full syncs over the socket."),
    p!("shutdown-timeout", "10", int(0, i32::MAX as i64), true, "Seconds a primary with replicas waits at shutdown (writes held) for every replica to acknowledge its offset (0: no wait)."),
    p!("shutdown-on-sigterm", "default", Kind::ShutdownFlags, true, "SHUTDOWN options a SIGTERM uses: default, or any of save, nosave, now, force."),
    p!("shutdown-on-sigint", "default", Kind::ShutdownFlags, true, "SHUTDOWN options a SIGINT uses: default, or any of save, nosave, now, force."),
    p!("cluster-enabled", NO, Kind::Bool, false, "Cluster mode (hash slots)."),
    p!("managed-topology", NO, Kind::Bool, false, "kcache: the operator drives this node's role: it starts unconfirmed (/readyz 503) until a TOPOLOGY ROLE command, in every process lifetime."),
    p!("lfu-log-factor", "10", int(0, i32::MAX as i64), true, "LFU counter logarithm factor."),
    p!("lfu-decay-time", "1", int(0, i32::MAX as i64), true, "LFU counter decay period in minutes."),
    p!("hash-max-listpack-entries", alias "hash-max-ziplist-entries", "512", int(0, i64::MAX), true, "Largest hash kept compact."),
    p!("hash-max-listpack-value", alias "hash-max-ziplist-value", "64", int(0, i64::MAX), true, "Largest hash field kept compact."),
    p!("list-max-listpack-size", alias "list-max-ziplist-size", "-2", int(-5, i64::MAX), true, "List node size."),
    p!("set-max-intset-entries", "512", int(0, i64::MAX), true, "Largest integer set kept compact."),
    p!("set-max-listpack-entries", "128", int(0, i64::MAX), true, "Largest set kept compact."),
    p!("set-max-listpack-value", "64", int(0, i64::MAX), true, "Largest set member kept compact."),
    p!("zset-max-listpack-entries", alias "zset-max-ziplist-entries", "128", int(0, i64::MAX), true, "Largest sorted set kept compact."),
    p!("zset-max-listpack-value", alias "zset-max-ziplist-value", "64", int(0, i64::MAX), true, "Largest sorted set member kept compact."),
    p!("hll-sparse-max-bytes", "3000", int(0, i64::MAX), true, "Largest sparse HyperLogLog."),
    p!("stream-node-max-bytes", "4096", Kind::Memory { min: 0 }, true, "Stream node size limit."),
    p!("stream-node-max-entries", "100", int(0, i64::MAX), true, "Stream node entry limit."),
    p!("activerehashing", YES, Kind::Bool, true, "Accepted for compatibility."),
    p!("aof-load-truncated", YES, Kind::Bool, true, "Load a truncated append-only file."),
    p!("aof-use-rdb-preamble", YES, Kind::Bool, true, "Rewrite the append-only file with a snapshot preamble."),
    p!("auto-aof-rewrite-percentage", "100", int(0, i32::MAX as i64), true, "Rewrite the append-only file when it grew by this percentage over its size after the last rewrite (0: never)."),
    p!("auto-aof-rewrite-min-size", "67108864", Kind::Memory { min: 0 }, true, "Smallest append-only file size that triggers an automatic rewrite."),
    p!("rdbcompression", YES, Kind::Bool, true, "Compress strings in snapshots."),
    p!("rdbchecksum", YES, Kind::Bool, true, "Checksum snapshots."),
    p!("stop-writes-on-bgsave-error", YES, Kind::Bool, true, "Refuse writes after a failed snapshot."),
    p!("always-show-logo", NO, Kind::Bool, false, "Accepted for compatibility."),
    p!("set-proc-title", YES, Kind::Bool, false, "Accepted for compatibility."),
    p!("supervised", NO, Kind::Enum(&["no", "upstart", "systemd", "auto"]), false, "Accepted for compatibility."),
];

/// Looks a parameter up by name or alias, case-insensitively.
pub fn find_param(name: &str) -> Option<&'static Param> {
    let lower = name.to_ascii_lowercase();
    PARAMS
        .iter()
        .find(|p| p.name == lower || p.alias == Some(lower.as_str()))
}

/// Why a value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("unknown parameter '{0}'")]
    Unknown(String),
    #[error("argument must be a memory value")]
    NotMemory,
    #[error("argument couldn't be parsed into an integer")]
    NotInteger,
    #[error("argument must be between {min} and {max} inclusive")]
    OutOfRange { min: i64, max: i64 },
    #[error("argument must be 'yes' or 'no'")]
    NotBool,
    #[error("argument(s) must be one of the following: {0}")]
    NotInEnum(String),
    #[error("Invalid save parameters")]
    BadSave,
    #[error("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")]
    BadNotify,
    #[error("can't set immutable config")]
    Immutable,
    #[error("{0}")]
    Other(String),
}

/// Parses a memory value: digits with an optional unit (`k`=1000, `kb`=1024, ...).
pub fn parse_memory(s: &str) -> Option<i64> {
    let lower = s.to_ascii_lowercase();
    let (digits, mul) = [
        ("gb", 1024i64 * 1024 * 1024),
        ("mb", 1024 * 1024),
        ("kb", 1024),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1000),
        ("b", 1),
    ]
    .iter()
    .find_map(|(suf, m)| lower.strip_suffix(suf).map(|d| (d.to_string(), *m)))
    .unwrap_or((lower.clone(), 1));
    let n: i64 = digits.parse().ok()?;
    if n < 0 {
        return None;
    }
    n.checked_mul(mul)
}

fn is_yes(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// Validates `value` for `param` and returns its normalised form (as CONFIG GET
/// prints it).
pub fn normalize(param: &Param, value: &str) -> Result<String, ConfigError> {
    match param.kind {
        Kind::Int { min, max } => {
            let v: i64 = value.trim().parse().map_err(|_| ConfigError::NotInteger)?;
            if v < min || v > max {
                return Err(ConfigError::OutOfRange { min, max });
            }
            Ok(v.to_string())
        }
        Kind::Memory { min } => {
            let v = parse_memory(value.trim()).ok_or(ConfigError::NotMemory)?;
            if v < min {
                return Err(ConfigError::OutOfRange { min, max: i64::MAX });
            }
            Ok(v.to_string())
        }
        Kind::Bool => match is_yes(value) {
            Some(true) => Ok("yes".into()),
            Some(false) => Ok("no".into()),
            None => Err(ConfigError::NotBool),
        },
        Kind::Enum(options) => {
            let lower = value.to_ascii_lowercase();
            if options.contains(&lower.as_str()) {
                Ok(lower)
            } else {
                Err(ConfigError::NotInEnum(options.join(", ")))
            }
        }
        Kind::Str => Ok(value.to_string()),
        Kind::Save => {
            let parts: Vec<&str> = value.split_whitespace().collect();
            if !parts.len().is_multiple_of(2) {
                return Err(ConfigError::BadSave);
            }
            for p in &parts {
                p.parse::<u64>().map_err(|_| ConfigError::BadSave)?;
            }
            Ok(parts.join(" "))
        }
        Kind::NotifyFlags => normalize_notify(value),
        Kind::Bind => Ok(value.split_whitespace().collect::<Vec<_>>().join(" ")),
        Kind::OutputLimits => merge_output_limits(OUTPUT_LIMITS_DEFAULT, value),
        Kind::ShutdownFlags => normalize_shutdown_flags(value),
    }
}

/// Redis's multi-word enum for the signals' SHUTDOWN flags, printed in its
/// order (`default` alone when none is set).
fn normalize_shutdown_flags(value: &str) -> Result<String, ConfigError> {
    const FLAGS: &[&str] = &["save", "nosave", "now", "force"];
    let words: Vec<String> = value
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    if words.is_empty()
        || words
            .iter()
            .any(|w| w != "default" && !FLAGS.contains(&w.as_str()))
    {
        return Err(ConfigError::NotInEnum(
            "default, save, nosave, now, force".into(),
        ));
    }
    let has = |f: &str| words.iter().any(|w| w == f);
    if has("save") && has("nosave") {
        return Err(ConfigError::Other(
            "shutdown options SAVE and NOSAVE can't be used simultaneously".into(),
        ));
    }
    let set: Vec<&str> = FLAGS.iter().copied().filter(|f| has(f)).collect();
    Ok(if set.is_empty() {
        "default".into()
    } else {
        set.join(" ")
    })
}

/// One class of `client-output-buffer-limit`: hard and soft limits in bytes and
/// how long the soft limit may be exceeded (0 = no limit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard: usize,
    pub soft: usize,
    pub soft_secs: u64,
}

/// The limits of `class` (`normal`, `slave`, `pubsub`) in a normalised value.
pub fn output_limit(value: &str, class: &str) -> OutputLimit {
    let w: Vec<&str> = value.split_whitespace().collect();
    w.chunks(4)
        .find(|c| c.len() == 4 && c[0] == class)
        .map(|c| OutputLimit {
            hard: c[1].parse().unwrap_or(0),
            soft: c[2].parse().unwrap_or(0),
            soft_secs: c[3].parse().unwrap_or(0),
        })
        .unwrap_or_default()
}

/// Applies the classes named in `value` to `current` (Redis changes only the
/// classes a CONFIG SET names) and returns the normalised result.
fn merge_output_limits(current: &str, value: &str) -> Result<String, ConfigError> {
    let w: Vec<&str> = value.split_whitespace().collect();
    if !w.len().is_multiple_of(4) {
        return Err(ConfigError::Other(
            "Wrong number of arguments in buffer limit configuration.".into(),
        ));
    }
    let mut classes: Vec<(&str, OutputLimit)> = ["normal", "slave", "pubsub"]
        .iter()
        .map(|c| (*c, output_limit(current, c)))
        .collect();
    for g in w.chunks(4) {
        let class = match g[0].to_ascii_lowercase().as_str() {
            "normal" => "normal",
            "slave" | "replica" => "slave",
            "pubsub" => "pubsub",
            _ => {
                return Err(ConfigError::Other(
                    "Invalid client class specified in buffer limit configuration.".into(),
                ))
            }
        };
        let bad = || {
            ConfigError::Other(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.".into(),
            )
        };
        let hard = parse_memory(g[1]).ok_or_else(bad)?;
        let soft = parse_memory(g[2]).ok_or_else(bad)?;
        let secs: i64 = g[3].parse().map_err(|_| bad())?;
        if secs < 0 {
            return Err(bad());
        }
        if let Some(slot) = classes.iter_mut().find(|(c, _)| *c == class) {
            slot.1 = OutputLimit {
                hard: hard as usize,
                soft: soft as usize,
                soft_secs: secs as u64,
            };
        }
    }
    Ok(classes
        .iter()
        .map(|(c, l)| format!("{c} {} {} {}", l.hard, l.soft, l.soft_secs))
        .collect::<Vec<_>>()
        .join(" "))
}

/// Redis's `keyspaceEventsStringToFlags` / `FlagsToString` round trip.
fn normalize_notify(value: &str) -> Result<String, ConfigError> {
    const ALL: &str = "g$lshzxetd";
    let mut set = std::collections::BTreeSet::new();
    for c in value.chars() {
        match c {
            'A' => set.extend(ALL.chars()),
            'g' | '$' | 'l' | 's' | 'h' | 'z' | 'x' | 'e' | 'K' | 'E' | 't' | 'm' | 'd' | 'n' => {
                set.insert(c);
            }
            _ => return Err(ConfigError::BadNotify),
        }
    }
    let mut out = String::new();
    if ALL.chars().all(|c| set.contains(&c)) {
        out.push('A');
    } else {
        out.extend(ALL.chars().filter(|c| set.contains(c)));
    }
    out.extend("mnKE".chars().filter(|c| set.contains(c)));
    Ok(out)
}

/// Current parameter values. Reads on the hot path go through a snapshot that the
/// event loops refresh when `epoch` moves.
pub struct Config {
    values: RwLock<BTreeMap<&'static str, String>>,
    epoch: AtomicU64,
    pub file: Option<PathBuf>,
    /// Encoding thresholds read by collection commands on every write; kept as
    /// atomics so the read path never takes the values lock.
    pub enc: EncodingLimits,
    /// `notify-keyspace-events` as class bits (`server::notify`), 0 when no
    /// notification can be sent; shared with the keyspace so expiry paths test
    /// one atomic.
    pub notify: std::sync::Arc<std::sync::atomic::AtomicU32>,
    /// The maxmemory family, read before every command; atomics for the same reason.
    pub evict: EvictionParams,
}

/// `maxmemory`, its policy and tuning, mirrored from the values map on every
/// change. The LFU parameters are mirrored into [`crate::db::access`] as well.
#[derive(Default)]
pub struct EvictionParams {
    pub maxmemory: AtomicU64,
    /// Index into the policy list, in Redis's order (see [`policy_index`]).
    pub policy: std::sync::atomic::AtomicU8,
    pub samples: AtomicU64,
    pub tenacity: AtomicU64,
    pub lazy_eviction: std::sync::atomic::AtomicBool,
    /// `replica-ignore-maxmemory`: a replica leaves eviction to its primary.
    pub replica_ignore: std::sync::atomic::AtomicBool,
}

/// The position of a `maxmemory-policy` name in Redis's list
/// (volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru,
/// allkeys-lfu, allkeys-random, noeviction).
pub fn policy_index(name: &str) -> Option<u8> {
    POLICIES.iter().position(|p| *p == name).map(|i| i as u8)
}

impl EvictionParams {
    /// The limit in bytes, 0 when none: one relaxed load, the whole cost of
    /// eviction support for a node without a limit.
    #[inline]
    pub fn maxmemory(&self) -> u64 {
        self.maxmemory.load(Ordering::Relaxed)
    }

    fn set(&self, name: &str, value: &str) {
        crate::db::access::configure(name, value);
        self.set_local(name, value);
    }

    fn set_local(&self, name: &str, value: &str) {
        let num = || value.parse::<u64>().unwrap_or(0);
        match name {
            "maxmemory" => self.maxmemory.store(num(), Ordering::Relaxed),
            "maxmemory-policy" => {
                if let Some(i) = policy_index(value) {
                    self.policy.store(i, Ordering::Relaxed);
                }
            }
            "maxmemory-samples" => self.samples.store(num(), Ordering::Relaxed),
            "maxmemory-eviction-tenacity" => self.tenacity.store(num(), Ordering::Relaxed),
            "lazyfree-lazy-eviction" => self.lazy_eviction.store(value == "yes", Ordering::Relaxed),
            "replica-ignore-maxmemory" => {
                self.replica_ignore.store(value == "yes", Ordering::Relaxed)
            }
            _ => {}
        }
    }
}

/// The `*-max-listpack-*` family, mirrored from the values map on every change.
#[derive(Default)]
pub struct EncodingLimits {
    pub hash_max_listpack_entries: std::sync::atomic::AtomicI64,
    pub hash_max_listpack_value: std::sync::atomic::AtomicI64,
    pub list_max_listpack_size: std::sync::atomic::AtomicI64,
    pub set_max_intset_entries: std::sync::atomic::AtomicI64,
    pub set_max_listpack_entries: std::sync::atomic::AtomicI64,
    pub set_max_listpack_value: std::sync::atomic::AtomicI64,
    pub zset_max_listpack_entries: std::sync::atomic::AtomicI64,
    pub zset_max_listpack_value: std::sync::atomic::AtomicI64,
    pub hll_sparse_max_bytes: std::sync::atomic::AtomicI64,
    pub stream_node_max_bytes: std::sync::atomic::AtomicI64,
    pub stream_node_max_entries: std::sync::atomic::AtomicI64,
}

impl EncodingLimits {
    /// Relaxed load helper: `cfg.enc.get(&cfg.enc.hash_max_listpack_entries)`.
    #[inline]
    pub fn get(&self, v: &std::sync::atomic::AtomicI64) -> i64 {
        v.load(Ordering::Relaxed)
    }

    fn set(&self, name: &str, value: &str) {
        let Ok(v) = value.parse::<i64>() else {
            return;
        };
        let slot = match name {
            "hash-max-listpack-entries" => &self.hash_max_listpack_entries,
            "hash-max-listpack-value" => &self.hash_max_listpack_value,
            "list-max-listpack-size" => &self.list_max_listpack_size,
            "set-max-intset-entries" => &self.set_max_intset_entries,
            "set-max-listpack-entries" => &self.set_max_listpack_entries,
            "set-max-listpack-value" => &self.set_max_listpack_value,
            "zset-max-listpack-entries" => &self.zset_max_listpack_entries,
            "zset-max-listpack-value" => &self.zset_max_listpack_value,
            "hll-sparse-max-bytes" => &self.hll_sparse_max_bytes,
            "stream-node-max-bytes" => &self.stream_node_max_bytes,
            "stream-node-max-entries" => &self.stream_node_max_entries,
            _ => return,
        };
        slot.store(v, Ordering::Relaxed);
    }
}

impl Config {
    /// Defaults only.
    pub fn defaults() -> Config {
        let values = PARAMS
            .iter()
            .map(|p| (p.name, p.default.to_string()))
            .collect();
        let enc = EncodingLimits::default();
        let evict = EvictionParams::default();
        for p in PARAMS {
            enc.set(p.name, p.default);
            // Not `evict.set`: building a config must not reset the process-wide
            // access-word mode (db::access starts at the same defaults).
            evict.set_local(p.name, p.default);
        }
        Config {
            values: RwLock::new(values),
            epoch: AtomicU64::new(1),
            file: None,
            enc,
            notify: Default::default(),
            evict,
        }
    }

    /// Like [`normalize`], but `client-output-buffer-limit` keeps the classes a
    /// value does not name.
    fn normalize_current(&self, param: &Param, value: &str) -> Result<String, ConfigError> {
        match param.kind {
            Kind::OutputLimits => merge_output_limits(&self.get(param.name), value),
            _ => normalize(param, value),
        }
    }

    /// Updates the atomic mirrors of a parameter that just changed.
    fn mirror(&self, name: &str, value: &str) {
        self.enc.set(name, value);
        self.evict.set(name, value);
        if name == "notify-keyspace-events" {
            self.notify
                .store(crate::db::events::flags_from_str(value), Ordering::Relaxed);
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub fn get(&self, name: &str) -> String {
        find_param(name)
            .and_then(|p| self.values.read().get(p.name).cloned())
            .unwrap_or_default()
    }

    pub fn get_i64(&self, name: &str) -> i64 {
        self.get(name).parse().unwrap_or(0)
    }

    pub fn get_bool(&self, name: &str) -> bool {
        self.get(name) == "yes"
    }

    /// Sets at start-up (immutable parameters allowed).
    pub fn set_initial(&self, name: &str, value: &str) -> Result<(), ConfigError> {
        let param = find_param(name).ok_or_else(|| ConfigError::Unknown(name.to_string()))?;
        let v = self.normalize_current(param, value)?;
        if param.name == "daemonize" && v == "yes" {
            return Err(ConfigError::Other(
                "daemonize yes is not supported: run kcache-node under a supervisor".into(),
            ));
        }
        self.mirror(param.name, &v);
        self.values.write().insert(param.name, v);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// CONFIG SET of several pairs, all or nothing.
    pub fn set_runtime(&self, pairs: &[(String, String)]) -> Result<(), (String, ConfigError)> {
        let mut staged = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            let param = find_param(name)
                .ok_or_else(|| (name.clone(), ConfigError::Unknown(name.clone())))?;
            if !param.mutable {
                return Err((name.clone(), ConfigError::Immutable));
            }
            let v = self
                .normalize_current(param, value)
                .map_err(|e| (name.clone(), e))?;
            staged.push((param.name, v));
        }
        let mut values = self.values.write();
        for (k, v) in staged {
            self.mirror(k, &v);
            values.insert(k, v);
        }
        drop(values);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// (name, value) pairs whose name matches a glob, for CONFIG GET.
    pub fn matching(&self, pattern: &[u8]) -> Vec<(&'static str, String)> {
        let values = self.values.read();
        let mut out = Vec::new();
        for p in PARAMS {
            let hit = crate::util::glob_match(pattern, p.name.as_bytes(), true);
            let alias_hit = p
                .alias
                .is_some_and(|a| crate::util::glob_match(pattern, a.as_bytes(), true));
            let value = values.get(p.name).cloned().unwrap_or_default();
            if hit {
                out.push((p.name, value.clone()));
            }
            if let (true, Some(a)) = (alias_hit, p.alias) {
                out.push((a, value));
            }
        }
        out
    }

    /// The config file contents with current values (CONFIG REWRITE): existing
    /// lines are updated in place, parameters that differ from their default and
    /// have no line are appended.
    pub fn rewrite_text(&self, old: &str) -> String {
        let values = self.values.read();
        let mut seen = std::collections::HashSet::new();
        let mut out = String::new();
        for line in old.lines() {
            let trimmed = line.trim();
            let name = trimmed.split_whitespace().next().unwrap_or("");
            match find_param(name) {
                Some(p) if !trimmed.starts_with('#') => {
                    if seen.insert(p.name) {
                        out.push_str(&format_line(p.name, values.get(p.name).map_or("", |v| v)));
                    }
                }
                _ => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        for p in PARAMS {
            let v = values.get(p.name).map_or("", |v| v.as_str());
            if !seen.contains(p.name) && v != p.default {
                out.push_str(&format_line(p.name, v));
            }
        }
        out
    }
}

fn format_line(name: &str, value: &str) -> String {
    if value.is_empty() || value.contains(' ') && name != "save" && name != "bind" {
        format!(
            "{name} \"{}\"\n",
            value.replace('\\', "\\\\").replace('"', "\\\"")
        )
    } else {
        format!("{name} {value}\n")
    }
}

/// Parses redis.conf text into (name, value) pairs, in order. Values of directives
/// with several arguments are joined with spaces (`save 900 1 300 10`).
pub fn parse_conf_text(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (no, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut buf = Vec::new();
        let mut ranges = Vec::new();
        crate::protocol::parse::split_args(trimmed.as_bytes(), &mut buf, &mut ranges)
            .map_err(|_| format!("line {}: unbalanced quotes in '{trimmed}'", no + 1))?;
        let words: Vec<String> = ranges
            .iter()
            .map(|r| String::from_utf8_lossy(&buf[r.clone()]).into_owned())
            .collect();
        let Some((name, args)) = words.split_first() else {
            continue;
        };
        out.push((name.to_ascii_lowercase(), args.join(" ")));
    }
    Ok(out)
}

/// A config file path and the (name, value) pairs that follow it.
pub type CommandLine = (Option<PathBuf>, Vec<(String, String)>);

/// Splits redis-server style arguments `[configfile] [--name value...]` into the
/// optional config file and (name, value) pairs. A `--name` takes every following
/// argument up to the next `--name` (so `--save ""` and `--save 900 1` both work).
pub fn split_command_line(args: &[String]) -> Result<CommandLine, String> {
    let mut file = None;
    let mut rest = args;
    if let Some(first) = rest.first() {
        if !first.starts_with("--") {
            file = Some(PathBuf::from(first));
            rest = &rest[1..];
        }
    }
    let mut pairs: Vec<(String, Vec<String>)> = Vec::new();
    for a in rest {
        if let Some(name) = a.strip_prefix("--") {
            pairs.push((name.to_ascii_lowercase(), Vec::new()));
        } else if let Some((_, vals)) = pairs.last_mut() {
            vals.push(a.clone());
        } else {
            return Err(format!(
                "unexpected argument '{a}': parameters are given as --name value"
            ));
        }
    }
    Ok((
        file,
        pairs.into_iter().map(|(n, v)| (n, v.join(" "))).collect(),
    ))
}

/// The full start-up sequence; errors name the offending parameter and source.
pub fn load(args: &[String], env: &[(String, String)]) -> Result<Config, String> {
    let (file, cli) = split_command_line(args)?;
    let mut cfg = Config::defaults();
    if let Some(path) = &file {
        let text = if path.as_os_str() == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(|e| format!("reading the config from standard input: {e}"))?;
            s
        } else {
            std::fs::read_to_string(path)
                .map_err(|e| format!("reading config file {}: {e}", path.display()))?
        };
        for (name, value) in
            parse_conf_text(&text).map_err(|e| format!("{}: {e}", path.display()))?
        {
            cfg.set_initial(&name, &value)
                .map_err(|e| format!("{}: parameter '{name}': {e}", path.display()))?;
        }
        cfg.file = Some(path.clone());
    }
    for (key, value) in env {
        let Some(rest) = key.strip_prefix("KCACHE_") else {
            continue;
        };
        let name = rest.to_ascii_lowercase().replace('_', "-");
        if let Some(p) = find_param(&name) {
            cfg.set_initial(p.name, value)
                .map_err(|e| format!("environment {key}: {e}"))?;
        }
    }
    for (name, value) in cli {
        cfg.set_initial(&name, &value)
            .map_err(|e| format!("argument --{name}: {e}"))?;
    }
    if cfg.get("bind").is_empty() {
        let inside_kubernetes = env.iter().any(|(k, _)| k == "KUBERNETES_SERVICE_HOST");
        let bind = if inside_kubernetes {
            "* -::*"
        } else {
            "127.0.0.1 -::1"
        };
        cfg.set_initial("bind", bind).map_err(|e| e.to_string())?;
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn command_line_like_redis_server() {
        let cfg = load(
            &s(&["--port", "7000", "--save", "", "--maxmemory", "100mb"]),
            &[],
        )
        .unwrap();
        assert_eq!(cfg.get("port"), "7000");
        assert_eq!(cfg.get("save"), "");
        assert_eq!(cfg.get("maxmemory"), "104857600");
        assert_eq!(cfg.get("bind"), "127.0.0.1 -::1");
        let err = load(&s(&["--frobnicate", "1"]), &[]).err().unwrap();
        assert!(err.contains("frobnicate"), "{err}");
        let err = load(&s(&["--port", "x"]), &[]).err().unwrap();
        assert!(err.contains("--port"), "{err}");
    }

    #[test]
    fn env_and_file_precedence() {
        let dir = std::env::temp_dir().join(format!("kcache-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("n.conf");
        std::fs::write(
            &path,
            "# comment\nport 7001\nsave 900 1 300 10\nrequirepass \"a b\"\n",
        )
        .unwrap();
        let env = vec![("KCACHE_REQUIREPASS".to_string(), "secret".to_string())];
        let cfg = load(&s(&[path.to_str().unwrap(), "--port", "7002"]), &env).unwrap();
        assert_eq!(cfg.get("port"), "7002");
        assert_eq!(cfg.get("save"), "900 1 300 10");
        assert_eq!(cfg.get("requirepass"), "secret");
        let text = cfg.rewrite_text("port 7001\n# keep me\n");
        assert!(
            text.contains("port 7002\n") && text.contains("# keep me"),
            "{text}"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn runtime_set_is_atomic_and_validated() {
        let cfg = Config::defaults();
        let err = cfg
            .set_runtime(&[
                ("maxmemory".into(), "1mb".into()),
                ("hz".into(), "0".into()),
            ])
            .unwrap_err();
        assert_eq!(err.0, "hz");
        assert_eq!(cfg.get("maxmemory"), "0");
        assert_eq!(
            cfg.set_runtime(&[("port".into(), "1".into())])
                .unwrap_err()
                .1,
            ConfigError::Immutable
        );
        cfg.set_runtime(&[("notify-keyspace-events".into(), "KEA".into())])
            .unwrap();
        assert_eq!(cfg.get("notify-keyspace-events"), "AKE");
        assert_eq!(cfg.matching(b"maxmemory*").len(), 4);
        assert_ne!(cfg.notify.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn managed_topology_is_immutable() {
        let cfg = Config::defaults();
        assert_eq!(cfg.get("managed-topology"), "no");
        cfg.set_initial("managed-topology", "YES").unwrap();
        assert!(cfg.get_bool("managed-topology"));
        assert_eq!(
            cfg.set_runtime(&[("managed-topology".into(), "no".into())])
                .unwrap_err()
                .1,
            ConfigError::Immutable
        );
    }

    #[test]
    fn shutdown_signal_flags_normalise_as_redis_prints_them() {
        let p = find_param("shutdown-on-sigterm").unwrap();
        assert_eq!(normalize(p, "FORCE now").unwrap(), "now force");
        assert_eq!(normalize(p, "default nosave").unwrap(), "nosave");
        assert_eq!(normalize(p, "default").unwrap(), "default");
        assert!(normalize(p, "").is_err());
        assert!(normalize(p, "save bogus").is_err());
        assert_eq!(
            normalize(p, "save nosave").unwrap_err().to_string(),
            "shutdown options SAVE and NOSAVE can't be used simultaneously"
        );
    }

    #[test]
    fn output_limits_merge_by_class() {
        let cfg = Config::defaults();
        cfg.set_runtime(&[(
            "client-output-buffer-limit".into(),
            "pubsub 1mb 2k 5".into(),
        )])
        .unwrap();
        assert_eq!(
            cfg.get("client-output-buffer-limit"),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 2000 5"
        );
        cfg.set_runtime(&[("client-output-buffer-limit".into(), "replica 1 1 1".into())])
            .unwrap();
        let v = cfg.get("client-output-buffer-limit");
        assert_eq!(v, "normal 0 0 0 slave 1 1 1 pubsub 1048576 2000 5");
        assert_eq!(
            output_limit(&v, "pubsub"),
            OutputLimit {
                hard: 1048576,
                soft: 2000,
                soft_secs: 5
            }
        );
        for bad in ["pubsub 1 1", "foo 1 1 1", "pubsub x 1 1", "pubsub 1 1 -1"] {
            assert!(cfg
                .set_runtime(&[("client-output-buffer-limit".into(), bad.into())])
                .is_err());
        }
        assert_eq!(cfg.matching(b"maxmemory*").len(), 4);
        cfg.set_runtime(&[("maxmemory".into(), "20mb".into())])
            .unwrap();
        assert_eq!(cfg.evict.maxmemory(), 20 * 1024 * 1024);
    }
}
