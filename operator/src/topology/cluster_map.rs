//! The cluster map of a sharded cluster (cluster mode enabled), as the node's
//! `TOPOLOGY MAP` command takes it: every node with its id, address,
//! hostname and role, each primary with its slot ranges, each replica with
//! the id of its primary. The operator sends the whole map, stamped with an
//! epoch, to every node; there is no cluster bus.
//!
//! ```text
//! TOPOLOGY MAP <epoch> NODE <id> <ip> <port> <hostname> PRIMARY <slots>
//!                      NODE <id> <ip> <port> <hostname> REPLICA <primary-id> ...
//! ```

use super::slots::{self, Range};

/// One node of the map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapNode {
    /// `CLUSTER MYID`: 40 hex characters.
    pub id: String,
    pub ip: String,
    pub port: u16,
    /// The pod's stable DNS name (announced to clients when preferred).
    pub hostname: String,
}

/// One shard of the map: its primary, replicas and slots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapShard {
    pub primary: MapNode,
    pub replicas: Vec<MapNode>,
    pub slots: Vec<Range>,
}

/// Slot ranges in the command's form: `0-5460,7000`, `-` for none.
fn slots_arg(ranges: &[Range]) -> String {
    if ranges.is_empty() {
        return "-".into();
    }
    slots::to_text(ranges).join(",")
}

/// The arguments of `TOPOLOGY MAP` for `shards` at `epoch`.
pub fn command(epoch: i64, shards: &[MapShard]) -> Vec<String> {
    let mut args = vec!["TOPOLOGY".into(), "MAP".into(), epoch.to_string()];
    let node = |n: &MapNode, args: &mut Vec<String>| {
        args.extend([
            "NODE".into(),
            n.id.clone(),
            n.ip.clone(),
            n.port.to_string(),
            if n.hostname.is_empty() {
                "-".into()
            } else {
                n.hostname.clone()
            },
        ]);
    };
    for shard in shards {
        node(&shard.primary, &mut args);
        args.extend(["PRIMARY".into(), slots_arg(&shard.slots)]);
        for r in &shard.replicas {
            node(r, &mut args);
            args.extend(["REPLICA".into(), shard.primary.id.clone()]);
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(c: char, ip: &str) -> MapNode {
        MapNode {
            id: c.to_string().repeat(40),
            ip: ip.into(),
            port: 6379,
            hostname: format!("{c}.svc"),
        }
    }

    #[test]
    fn renders_every_node_with_its_role() {
        let shards = [
            MapShard {
                primary: n('a', "10.0.0.1"),
                replicas: vec![n('b', "10.0.0.2")],
                slots: vec![(0, 8191)],
            },
            MapShard {
                primary: n('c', "10.0.0.3"),
                replicas: vec![],
                slots: vec![(8192, 16000), (16001, 16383)],
            },
        ];
        let args = command(7, &shards);
        let text = args.join(" ");
        assert!(text.starts_with("TOPOLOGY MAP 7 NODE aaaa"), "{text}");
        assert!(text.contains(" 10.0.0.1 6379 a.svc PRIMARY 0-8191 NODE "));
        assert!(text.contains(&format!(" b.svc REPLICA {}", "a".repeat(40))));
        assert!(text.ends_with(" c.svc PRIMARY 8192-16000,16001-16383"));
    }
}
