//! Node parameters: the redis.conf directives kcache understands, their defaults,
//! validation, and where they come from.
//!
//! Precedence, lowest first: built-in defaults, the config file (redis.conf
//! syntax; the operator renders it from a CacheCluster's `parameters`),
//! environment variables `KCACHE_<NAME>` (`-` becomes `_`, e.g.
//! `KCACHE_REQUIREPASS`, so secrets never have to be written to a file), then
//! `--name value` command-line pairs. `CONFIG SET` changes the mutable ones at run
//! time; `CONFIG REWRITE` writes them back to the config file.
//!
//! - `params`: the parameter table (names, kinds, defaults, mutability).
//! - `value`: checking and normalising a value for its parameter.
//! - `load`: the config file, the environment and the command line at start-up.
//! - this module: the live values ([`Config`]) and what reads them often.

/// One row of a parameter table (`params`, `compat`): name, optional
/// alias, default, kind, whether CONFIG SET may change it, and its doc line.
macro_rules! p {
    ($name:expr, $default:expr, $kind:expr, $mutable:expr, $doc:expr) => {
        $crate::config::params::Param {
            name: $name,
            alias: None,
            default: $default,
            kind: $kind,
            mutable: $mutable,
            doc: $doc,
        }
    };
    ($name:expr, alias $alias:expr, $default:expr, $kind:expr, $mutable:expr, $doc:expr) => {
        $crate::config::params::Param {
            name: $name,
            alias: Some($alias),
            default: $default,
            kind: $kind,
            mutable: $mutable,
            doc: $doc,
        }
    };
}

mod compat;
mod load;
mod params;
mod value;

pub use self::compat::COMPAT_PARAMS;
pub use self::load::*;
pub use self::params::*;
pub use self::value::*;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

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
    /// `rename-command <name> <new-name>` directives, lowercase, in order (an
    /// empty new name removes the command); applied to the command table at
    /// start-up.
    pub renames: Vec<(String, String)>,
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
        let values = all_params()
            .map(|p| (p.name, p.default.to_string()))
            .collect();
        let enc = EncodingLimits::default();
        let evict = EvictionParams::default();
        for p in all_params() {
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
            renames: Vec::new(),
        }
    }

    /// Like [`normalize`], but `client-output-buffer-limit` keeps the classes a
    /// value does not name.
    fn normalize_current(&self, param: &Param, value: &str) -> Result<String, ConfigError> {
        let v = match param.kind {
            Kind::OutputLimits => merge_output_limits(&self.get(param.name), value)?,
            _ => normalize(param, value)?,
        };
        match compat::unsupported(param.name, &v) {
            Some(why) => Err(ConfigError::Other(why.into())),
            None => Ok(v),
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
        for p in all_params() {
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
        for p in all_params() {
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
        assert_eq!(cfg.matching(b"maxmemory*").len(), 5);
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
        assert_eq!(cfg.matching(b"maxmemory*").len(), 5);
        cfg.set_runtime(&[("maxmemory".into(), "20mb".into())])
            .unwrap();
        assert_eq!(cfg.evict.maxmemory(), 20 * 1024 * 1024);
    }
}
