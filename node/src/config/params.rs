//! The parameter table: every redis.conf directive kcache understands, its kind,
//! default and whether CONFIG SET may change it.

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
pub(super) const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// Redis 7.0's default, in the normalised form CONFIG GET prints.
pub(super) const OUTPUT_LIMITS_DEFAULT: &str =
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
    p!("replica-announce-ip", alias "slave-announce-ip", "", Kind::Str, true, "Address a replica announces to its primary (REPLCONF ip-address; shown in the primary's INFO replication); empty: the address the primary sees."),
    p!("replica-announce-port", alias "slave-announce-port", "0", int(0, 65535), true, "Port a replica announces to its primary (REPLCONF listening-port); 0: its own port."),
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
    p!("cluster-enabled", NO, Kind::Bool, false, "Cluster mode: 16384 hash slots served as the operator's map (TOPOLOGY MAP) says."),
    p!("cluster-config-file", "nodes.conf", Kind::Str, false, "Cluster mode: file in dir holding this node's id and the newest cluster map (kcache's own format, not Redis's)."),
    p!("cluster-announce-ip", "", Kind::Str, true, "Cluster mode: the address this node shows for itself before it is in a map (the map's address wins once it is)."),
    p!("cluster-announce-port", "0", int(0, 65535), true, "Cluster mode: the port this node shows for itself before it is in a map (0: the port it listens on)."),
    p!("cluster-announce-hostname", "", Kind::Str, true, "Cluster mode: the hostname this node shows for itself before it is in a map."),
    p!("cluster-preferred-endpoint-type", "ip", Kind::Enum(&["ip", "hostname", "unknown-endpoint"]), true, "Cluster mode: which endpoint MOVED and CLUSTER SLOTS/SHARDS give first: the ip, the hostname, or '?' (unknown-endpoint)."),
    p!("managed-topology", NO, Kind::Bool, false, "kcache: the operator drives this node's role: it starts unconfirmed (/readyz 503) until a TOPOLOGY ROLE command, in every process lifetime."),
    p!("tracking-table-max-keys", "1000000", int(0, i64::MAX), true, "Keys the CLIENT TRACKING table remembers (default mode); past it, the oldest are invalidated early (0: no limit)."),
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
    p!("rdbchecksum", YES, Kind::Bool, false, "Checksum snapshots."),
    p!("stop-writes-on-bgsave-error", YES, Kind::Bool, true, "Refuse writes after a failed snapshot."),
    p!("always-show-logo", NO, Kind::Bool, false, "Accepted for compatibility."),
    p!("set-proc-title", YES, Kind::Bool, false, "Accepted for compatibility."),
    p!("supervised", NO, Kind::Enum(&["no", "upstart", "systemd", "auto"]), false, "Accepted for compatibility."),
];

/// Every parameter: those with an effect, then those accepted for
/// compatibility (`compat`).
pub fn all_params() -> impl Iterator<Item = &'static Param> {
    PARAMS.iter().chain(super::compat::COMPAT_PARAMS)
}

/// Looks a parameter up by name or alias, case-insensitively.
pub fn find_param(name: &str) -> Option<&'static Param> {
    let lower = name.to_ascii_lowercase();
    all_params().find(|p| p.name == lower || p.alias == Some(lower.as_str()))
}
