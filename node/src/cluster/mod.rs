//! Cluster mode: this node's id and the cluster map the operator pushes.
//!
//! There is no cluster bus: nodes neither gossip nor elect. The operator
//! sends every node the whole map (`TOPOLOGY MAP`, `cmd::admin::topology`),
//! stamped with the topology epoch that also fences `TOPOLOGY ROLE`
//! (`repl::topology`), and each node obeys the newest map it holds: which
//! slots it serves, where the others are (`-MOVED`), whom it replicates.
//!
//! The node's id and its newest map live in `<dir>/<cluster-config-file>`
//! when `dir` is set ([`file`]), written whole (temporary file, fsync,
//! rename, fsync of the directory) before a map takes effect, so a
//! restarted node comes back with the same id and the same map.
//!
//! The request path reads the map through a generation counter: an event
//! loop keeps its own `Arc` of the map and takes a new one only when
//! [`Cluster::generation`] moved (one relaxed load per request).

pub mod file;
pub mod map;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

pub use map::{Map, MapError, Node, Role};

/// Redis's reply to a keyed command while no map serves its slot.
pub const SLOT_NOT_SERVED: &str = "CLUSTERDOWN Hash slot not served";
pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";

/// The cluster state of a node (on `Server`).
pub struct Cluster {
    enabled: bool,
    myid: RwLock<String>,
    map: RwLock<Option<Arc<Map>>>,
    generation: AtomicU64,
}

impl Cluster {
    /// `myid`: a fresh random id, replaced by the one kept in the data
    /// directory when there is one ([`Cluster::load`]).
    pub fn new(enabled: bool, myid: String) -> Cluster {
        Cluster {
            enabled,
            myid: RwLock::new(myid),
            map: RwLock::new(None),
            generation: AtomicU64::new(0),
        }
    }

    /// `cluster-enabled`.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// This node's id: 40 hex characters.
    pub fn myid(&self) -> String {
        self.myid.read().clone()
    }

    /// The map held, if any.
    pub fn map(&self) -> Option<Arc<Map>> {
        self.map.read().clone()
    }

    /// Moves whenever the map changes.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Reads the id and map kept in `dir` at start-up (writing a new id
    /// there when there is none yet). Returns the loaded map's epoch. A
    /// damaged file stops the start: running with another id or an older map
    /// would make the node a stranger to the operator's map.
    pub fn load(&self, dir: Option<&Path>, name: &str) -> Result<u64, String> {
        if !self.enabled {
            return Ok(0);
        }
        let Some(dir) = dir else {
            return Ok(0);
        };
        let path = dir.join(name);
        match file::read(&path)? {
            Some(state) => {
                *self.myid.write() = state.myid;
                let epoch = state.map.as_ref().map_or(0, |m| m.epoch);
                if let Some(m) = state.map {
                    tracing::info!(epoch, nodes = m.nodes.len(), file = %path.display(), "cluster map loaded");
                    self.set(m);
                }
                Ok(epoch)
            }
            None => {
                file::write(dir, name, &self.myid(), None)
                    .map_err(|e| format!("{}: cannot write the node id: {e}", path.display()))?;
                Ok(0)
            }
        }
    }

    /// Writes `map` to `dir` (when set) as the newest one; the caller then
    /// [`Cluster::set`]s it. Not written, it must not take effect: a restart
    /// would come back with the older map.
    pub fn save(&self, map: &Map, dir: Option<&Path>, name: &str) -> std::io::Result<()> {
        match dir {
            Some(dir) => file::write(dir, name, &self.myid(), Some(map)),
            None => Ok(()),
        }
    }

    /// Makes `map` the one held.
    pub fn set(&self, map: Map) {
        *self.map.write() = Some(Arc::new(map));
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// `cluster-preferred-endpoint-type`: how a node is named in MOVED and in
/// CLUSTER SLOTS / SHARDS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Ip,
    Hostname,
    Unknown,
}

impl Endpoint {
    pub fn parse(value: &str) -> Endpoint {
        match value {
            "hostname" => Endpoint::Hostname,
            "unknown-endpoint" => Endpoint::Unknown,
            _ => Endpoint::Ip,
        }
    }

    /// The name of a node with this address and hostname, as Redis's
    /// `clusterNodePreferredEndpoint`: `?` for a missing hostname, empty for
    /// an unknown endpoint.
    pub fn of<'a>(self, ip: &'a str, hostname: &'a str) -> &'a str {
        match self {
            Endpoint::Ip => ip,
            Endpoint::Hostname if hostname.is_empty() => "?",
            Endpoint::Hostname => hostname,
            Endpoint::Unknown => "",
        }
    }
}

/// `-MOVED <slot> <endpoint>:<port>` for the primary of `slot` in `map`.
pub fn moved(map: &Map, slot: u16, endpoint: Endpoint) -> String {
    let n = &map.nodes[map.owner(slot)];
    format!(
        "MOVED {slot} {}:{}",
        endpoint.of(&n.ip, &n.hostname),
        n.port
    )
}
