//! Redis 7.0 parameters a node like ours has no use for (or no use for yet),
//! accepted so that `redis.conf` files, config-management tools and test
//! harnesses written for redis-server work unchanged. Each takes Redis's
//! default, kind and mutability, so `CONFIG GET` shows what redis-server shows
//! and `CONFIG SET` refuses what redis-server refuses; the doc line says why it
//! has no effect here (docs/compatibility.md lists them, checked by a test).
//!
//! A value that would promise what the node cannot do (a TLS port, a Unix
//! socket, an ACL file) is refused instead of silently ignored: see
//! [`unsupported`].

use super::params::{Kind, Param};

const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}
const INT_MAX: i64 = i32::MAX as i64;
const LONG_MAX: i64 = i64::MAX;

const NO_FORK: &str = "Without effect: snapshots and rewrites run in a thread, not a forked child.";
const NO_TLS: &str =
    "Without effect: the node speaks plain TCP (TLS terminates in front of it); only the default is accepted for tls-port, tls-replication and tls-cluster.";
const NO_SYSLOG: &str = "Without effect: logs go to standard output.";
const NO_DEFRAG: &str = "Without effect: the allocator (mimalloc) has no active defragmentation.";
const NO_ACL: &str = "Without effect until ACL users arrive (only the default user exists).";

/// Redis 7.0.15's parameters that change nothing on this node, in its names,
/// defaults and mutability.
pub static COMPAT_PARAMS: &[Param] = &[
    p!("acl-pubsub-default", "resetchannels", Kind::Enum(&["allchannels", "resetchannels"]), true, NO_ACL),
    p!("aclfile", "", Kind::Str, false, "ACL users are not supported yet: only the empty default is accepted."),
    p!("acllog-max-len", "128", int(0, LONG_MAX), true, NO_ACL),
    p!("active-defrag-cycle-max", "25", int(1, 99), true, NO_DEFRAG),
    p!("active-defrag-cycle-min", "1", int(1, 99), true, NO_DEFRAG),
    p!("active-defrag-ignore-bytes", "104857600", Kind::Memory { min: 1 }, true, NO_DEFRAG),
    p!("active-defrag-max-scan-fields", "1000", int(1, LONG_MAX), true, NO_DEFRAG),
    p!("active-defrag-threshold-lower", "10", int(0, 1000), true, NO_DEFRAG),
    p!("active-defrag-threshold-upper", "100", int(0, 1000), true, NO_DEFRAG),
    p!("activedefrag", "no", Kind::Bool, true, NO_DEFRAG),
    p!("aof-disable-auto-gc", "no", Kind::Bool, true, "Without effect: history files of the append-only directory are removed after each rewrite."),
    p!("aof-rewrite-incremental-fsync", "yes", Kind::Bool, true, "Without effect: the rewrite fsyncs once at the end."),
    p!("aof-timestamp-enabled", "no", Kind::Bool, true, "Without effect: the append-only file carries no timestamp annotations."),
    p!("aof_rewrite_cpulist", "", Kind::Str, false, NO_FORK),
    p!("bgsave_cpulist", "", Kind::Str, false, NO_FORK),
    p!("bind-source-addr", "", Kind::Str, true, "Without effect: a replica connects from the address the kernel picks."),
    p!("bio_cpulist", "", Kind::Str, false, "Without effect: no pinned background threads."),
    p!("busy-reply-threshold", alias "lua-time-limit", "5000", int(0, LONG_MAX), true, "Without effect until scripting arrives (the BUSY reply of long scripts)."),
    p!("crash-log-enabled", "yes", Kind::Bool, true, "Without effect: a panic is logged by the runtime."),
    p!("crash-memcheck-enabled", "yes", Kind::Bool, true, "Without effect: no memory test after a crash."),
    p!("disable-thp", "yes", Kind::Bool, false, "Without effect: no fork, so transparent huge pages cost no copy-on-write."),
    p!("dynamic-hz", "yes", Kind::Bool, true, "Without effect: background tasks run at hz whatever the number of clients."),
    p!("enable-module-command", "no", Kind::Enum(&["no", "yes", "local"]), false, "Whether MODULE may run: no, yes or local (loopback clients only). The node has no modules: MODULE LIST is empty, MODULE LOAD is refused."),
    p!("ignore-warnings", "", Kind::Str, true, "Without effect: the node prints no start-up warnings to silence."),
    p!("io-threads-do-reads", "no", Kind::Bool, false, "Without effect: every event loop reads and writes its own clients (see io-threads)."),
    p!("jemalloc-bg-thread", "yes", Kind::Bool, true, "Without effect: the allocator is mimalloc."),
    p!("latency-tracking", "yes", Kind::Bool, true, "Without effect: INFO has no latencystats section yet."),
    p!("latency-tracking-info-percentiles", "50 99 99.9", Kind::Str, true, "Without effect: INFO has no latencystats section yet."),
    p!("list-compress-depth", "0", int(0, INT_MAX), true, "Without effect yet: list nodes are not compressed."),
    p!("maxmemory-clients", "0", Kind::Str, true, "Without effect: clients are not evicted for their buffers (client-output-buffer-limit still applies)."),
    p!("no-appendfsync-on-rewrite", "no", Kind::Bool, true, "Without effect: the rewrite does not compete with the append-only file's fsync for a forked child's disk."),
    p!("oom-score-adj", "no", Kind::Enum(&["no", "yes", "relative", "absolute"]), true, "Without effect: the pod's OOM score comes from Kubernetes (its QoS class)."),
    p!("oom-score-adj-values", "0 200 800", Kind::Str, true, "Without effect: see oom-score-adj."),
    p!("proc-title-template", "{title} {listen-addr} {server-mode}", Kind::Str, true, "Without effect: the process title is not changed."),
    p!("propagation-error-behavior", "ignore", Kind::Enum(&["ignore", "panic", "panic-on-replicas"]), true, "Without effect: a replica logs a command its primary sent that fails."),
    p!("rdb-del-sync-files", "no", Kind::Bool, true, "Without effect: diskless full syncs leave no file behind."),
    p!("rdb-save-incremental-fsync", "yes", Kind::Bool, true, "Without effect: the snapshot fsyncs once at the end."),
    p!("repl-backlog-ttl", "3600", int(0, LONG_MAX), true, "Without effect: the backlog is kept for the node's lifetime."),
    p!("repl-disable-tcp-nodelay", "no", Kind::Bool, true, "Without effect: the replication stream always has TCP_NODELAY."),
    p!("repl-diskless-load", "disabled", Kind::Enum(&["disabled", "on-empty-db", "swapdb"]), true, "Without effect: a replica always loads the primary's stream into memory directly."),
    p!("repl-diskless-sync-delay", "5", int(0, INT_MAX), true, "Without effect: full syncs start at once, one after another."),
    p!("repl-diskless-sync-max-replicas", "0", int(0, INT_MAX), true, "Without effect: see repl-diskless-sync-delay."),
    p!("replica-ignore-disk-write-errors", "no", Kind::Bool, true, "Without effect: a replica stops applying the stream only for its own reasons."),
    p!("replica-lazy-flush", alias "slave-lazy-flush", "no", Kind::Bool, true, "Without effect: a full sync frees the old dataset in the background already."),
    p!("sanitize-dump-payload", "no", Kind::Enum(&["no", "yes", "clients"]), true, "Without effect: RESTORE and full syncs always check a payload completely."),
    p!("server_cpulist", "", Kind::Str, false, "Without effect: CPU pinning is the container runtime's."),
    p!("socket-mark-id", "0", int(0, u32::MAX as i64), false, "Without effect: sockets are not marked."),
    p!("syslog-enabled", "no", Kind::Bool, false, NO_SYSLOG),
    p!("syslog-facility", "local0", Kind::Enum(&["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"]), false, NO_SYSLOG),
    p!("syslog-ident", "redis", Kind::Str, false, NO_SYSLOG),
    p!("tls-auth-clients", "yes", Kind::Enum(&["no", "yes", "optional"]), true, NO_TLS),
    p!("tls-ca-cert-dir", "", Kind::Str, true, NO_TLS),
    p!("tls-ca-cert-file", "", Kind::Str, true, NO_TLS),
    p!("tls-cert-file", "", Kind::Str, true, NO_TLS),
    p!("tls-ciphers", "", Kind::Str, true, NO_TLS),
    p!("tls-ciphersuites", "", Kind::Str, true, NO_TLS),
    p!("tls-client-cert-file", "", Kind::Str, true, NO_TLS),
    p!("tls-client-key-file", "", Kind::Str, true, NO_TLS),
    p!("tls-client-key-file-pass", "", Kind::Str, true, NO_TLS),
    p!("tls-cluster", "no", Kind::Bool, true, NO_TLS),
    p!("tls-dh-params-file", "", Kind::Str, true, NO_TLS),
    p!("tls-key-file", "", Kind::Str, true, NO_TLS),
    p!("tls-key-file-pass", "", Kind::Str, true, NO_TLS),
    p!("tls-port", "0", int(0, 65535), true, NO_TLS),
    p!("tls-prefer-server-ciphers", "no", Kind::Bool, true, NO_TLS),
    p!("tls-protocols", "", Kind::Str, true, NO_TLS),
    p!("tls-replication", "no", Kind::Bool, true, NO_TLS),
    p!("tls-session-cache-size", "20480", int(0, INT_MAX), true, NO_TLS),
    p!("tls-session-cache-timeout", "300", int(0, INT_MAX), true, NO_TLS),
    p!("tls-session-caching", "yes", Kind::Bool, true, NO_TLS),
    p!("unixsocket", "", Kind::Str, false, "Unix sockets are not supported: only the empty default is accepted."),
    p!("unixsocketperm", "0", int(0, 0o777), false, "Without effect: see unixsocket."),
];

/// Why a (normalised) value cannot be honoured, for the parameters whose other
/// values would promise something the node does not do.
pub fn unsupported(name: &str, value: &str) -> Option<&'static str> {
    match (name, value) {
        ("tls-port", v) if v != "0" => {
            Some("TLS is not supported: terminate TLS in front of the node")
        }
        ("tls-replication" | "tls-cluster", "yes") => {
            Some("TLS is not supported: terminate TLS in front of the node")
        }
        ("unixsocket", v) if !v.is_empty() => Some("Unix sockets are not supported"),
        ("aclfile", v) if !v.is_empty() => Some("ACL files are not supported yet"),
        ("maxmemory-clients", v) if !valid_memory_or_percent(v) => {
            Some("argument must be a memory or percent value")
        }
        ("latency-tracking-info-percentiles", v) if !valid_percentiles(v) => {
            Some("latency-tracking-info-percentiles must be between 0.0 and 100.0")
        }
        ("oom-score-adj-values", v) if !valid_oom_values(v) => Some("Invalid oom-score-adj-values"),
        _ => None,
    }
}

fn valid_memory_or_percent(v: &str) -> bool {
    match v.strip_suffix('%') {
        Some(p) => p.parse::<u32>().is_ok_and(|p| p <= 100),
        None => super::parse_memory(v).is_some(),
    }
}

fn valid_percentiles(v: &str) -> bool {
    v.split_whitespace()
        .all(|p| p.parse::<f64>().is_ok_and(|p| (0.0..=100.0).contains(&p)))
}

fn valid_oom_values(v: &str) -> bool {
    let parts: Vec<&str> = v.split_whitespace().collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| p.parse::<i32>().is_ok_and(|n| (-2000..=2000).contains(&n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/compatibility.md has a row for each parameter without effect, so
    /// the page cannot fall behind the table.
    #[test]
    fn documented() {
        let doc = include_str!("../../../docs/compatibility.md");
        for p in COMPAT_PARAMS {
            assert!(
                doc.contains(&format!("| `{}`", p.name)),
                "docs/compatibility.md has no row for {}",
                p.name
            );
        }
    }

    #[test]
    fn only_honourable_values() {
        for p in COMPAT_PARAMS {
            assert_eq!(unsupported(p.name, p.default), None, "{}", p.name);
        }
        assert!(unsupported("tls-port", "6380").is_some());
        assert!(unsupported("unixsocket", "/tmp/s").is_some());
        assert_eq!(unsupported("maxmemory-clients", "5%"), None);
        assert_eq!(unsupported("maxmemory-clients", "1gb"), None);
        assert!(unsupported("oom-score-adj-values", "0 200").is_some());
    }
}
