//! Cluster mode: which node serves a request, decided before it runs (Redis's
//! `getNodeByQuery`). A keyed command runs here when every key hashes to one
//! slot this node serves; otherwise it gets `-CROSSSLOT`, `-MOVED` or
//! `-CLUSTERDOWN Hash slot not served` (no map yet). EXEC is judged on all
//! its queued commands together; a command queued in MULTI is judged alone
//! too, so a transaction that would be redirected fails early.
//!
//! A replica serves reads of its primary's slots to clients that sent
//! READONLY, and shard pub/sub (SPUBLISH, SSUBSCRIBE) to everyone. The master
//! link and the AOF loader are never redirected.

use std::sync::Arc;

use super::super::client::Client;
use crate::cluster::{Cluster, Endpoint, Map, Role, CROSSSLOT, SLOT_NOT_SERVED};
use crate::cmd::{flags, Args, CommandSpec};
use crate::util::slot::key_slot;

/// The map as one event loop sees it, refreshed when the map changes.
pub struct Routing {
    generation: u64,
    map: Option<Arc<Map>>,
    /// This node's index in `map`.
    me: Option<usize>,
}

impl Routing {
    pub fn new() -> Routing {
        Routing {
            generation: u64::MAX,
            map: None,
            me: None,
        }
    }

    /// Takes the newest map when it changed (one atomic load otherwise).
    #[inline]
    pub fn sync(&mut self, cluster: &Cluster) {
        let g = cluster.generation();
        if g != self.generation {
            self.map = cluster.map();
            self.me = self.map.as_ref().and_then(|m| m.index_of(&cluster.myid()));
            self.generation = g;
        }
    }
}

impl Default for Routing {
    fn default() -> Self {
        Routing::new()
    }
}

/// The slot all the keys of a request hash to.
enum Slot {
    /// No keys: runs anywhere.
    None,
    One(u16),
    Cross,
}

impl Slot {
    #[inline]
    fn add(&mut self, key: &[u8]) {
        let s = key_slot(key);
        *self = match *self {
            Slot::None => Slot::One(s),
            Slot::One(t) if t == s => Slot::One(s),
            _ => Slot::Cross,
        };
    }
}

/// Adds the slots of one command's keys.
fn add_keys(slot: &mut Slot, spec: &CommandSpec, args: &Args) {
    if spec.flags & flags::MOVABLEKEYS != 0 {
        let argv: Vec<&[u8]> = args.iter().collect();
        for p in crate::cmd::admin::command::movable_keys(spec.name, &argv).unwrap_or_default() {
            slot.add(argv[p]);
        }
        return;
    }
    if spec.first_key > 0 {
        for p in super::super::multi::key_positions(spec, args.len()) {
            slot.add(args.get(p));
        }
        return;
    }
    // Containers whose subcommands name a key second.
    let keyed_sub = match spec.name {
        "object" | "xinfo" | "xgroup" => args.len() > 2 && !args.is(1, "help"),
        "memory" => args.len() > 2 && args.is(1, "usage"),
        _ => false,
    };
    if keyed_sub {
        slot.add(args.get(2));
    }
}

/// The redirect for this request, or `None` when it runs here. `spec` is
/// the command received; for EXEC the queued commands are judged.
pub fn redirect(
    routing: &Routing,
    endpoint: Endpoint,
    client: &Client,
    specs: &[&'static CommandSpec],
    spec: &CommandSpec,
    args: &Args,
) -> Option<String> {
    let mut slot = Slot::None;
    let mut writes = spec.flags & flags::WRITE != 0;
    if spec.name == "exec" && client.tx.queuing() {
        for (idx, a) in client.tx.queued() {
            let s = specs[idx];
            writes |= s.flags & flags::WRITE != 0;
            add_keys(&mut slot, s, &a);
        }
    } else {
        add_keys(&mut slot, spec, args);
    }
    let slot = match slot {
        Slot::None => return None,
        Slot::Cross => return Some(CROSSSLOT.into()),
        Slot::One(s) => s,
    };
    let (Some(map), Some(me)) = (&routing.map, routing.me) else {
        return Some(SLOT_NOT_SERVED.into());
    };
    let owner = map.owner(slot);
    if owner == me {
        return None;
    }
    let shard_pubsub = matches!(spec.name, "spublish" | "ssubscribe" | "sunsubscribe");
    if (client.readonly || shard_pubsub)
        && !writes
        && map.nodes[me].role == (Role::Replica { of: owner })
    {
        return None;
    }
    Some(crate::cluster::moved(map, slot, endpoint))
}
