//! The cluster map the operator pushes (`TOPOLOGY MAP`): every node with its
//! address, role and slots, checked whole before it is accepted.
//!
//! The same token grammar is read from the command's arguments and from the
//! file the node keeps (`super::file`), so what was accepted once is read
//! back exactly:
//!
//! ```text
//! NODE <id> <ip> <port> <hostname> PRIMARY <slots>
//! NODE <id> <ip> <port> <hostname> REPLICA <primary-id>
//! ```
//!
//! `<slots>` is a comma-separated list of `n` or `a-b` (inclusive), `-` or an
//! empty string for none; an empty or `-` hostname is none. A map names at
//! most [`MAX_NODES`] nodes and assigns each of the 16384 slots to exactly
//! one primary.

use crate::util::slot::SLOTS;

/// The most nodes a map may name (Redis Cluster's own recommended limit):
/// bounds the map's memory and the size of CLUSTER NODES / SLOTS replies.
pub const MAX_NODES: usize = 1000;
/// The longest address or hostname accepted.
const MAX_NAME: usize = 255;

/// Why a map was refused (sent after `ERR `).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MapError {
    #[error("a cluster map names at least one node")]
    Empty,
    #[error("a cluster map names at most {MAX_NODES} nodes")]
    TooManyNodes,
    #[error("cluster map syntax: expected NODE <id> <ip> <port> <hostname> PRIMARY <slots> | REPLICA <primary-id> at argument {0}")]
    Syntax(usize),
    #[error("invalid node id '{0}' (40 hex characters expected)")]
    BadId(String),
    #[error("node id {0} appears twice")]
    DuplicateId(String),
    #[error("invalid address '{0}' for node {1}")]
    BadAddress(String, String),
    #[error("invalid port '{0}' for node {1}")]
    BadPort(String, String),
    #[error("invalid hostname '{0}' for node {1}")]
    BadHostname(String, String),
    #[error("invalid slot range '{0}' for node {1}")]
    BadSlots(String, String),
    #[error("slot {0} is assigned twice (to {1} and {2})")]
    SlotTwice(u16, String, String),
    #[error("{0} slots are not assigned (the first: {1}); a map assigns every slot exactly once")]
    Unassigned(usize, u16),
    #[error("replica {0} follows {1}, which is not a primary of the map")]
    NoSuchPrimary(String, String),
}

/// A node's role in the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Serves these slot ranges (inclusive, sorted, merged).
    Primary { slots: Vec<(u16, u16)> },
    /// Replicates the primary at this index of [`Map::nodes`].
    Replica { of: usize },
}

/// One node of the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// 40 lowercase hex characters (its `CLUSTER MYID`).
    pub id: String,
    pub ip: String,
    pub port: u16,
    /// Empty when none.
    pub hostname: String,
    pub role: Role,
}

impl Node {
    pub fn is_primary(&self) -> bool {
        matches!(self.role, Role::Primary { .. })
    }
}

/// A validated cluster map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Map {
    pub epoch: u64,
    pub nodes: Vec<Node>,
    /// The index in `nodes` of each slot's primary.
    owner: Box<[u16]>,
}

impl Map {
    /// Reads and checks a map from its tokens (see the module docs).
    pub fn parse(epoch: u64, tokens: &[&[u8]]) -> Result<Map, MapError> {
        if tokens.is_empty() {
            return Err(MapError::Empty);
        }
        if tokens.len() > 7 * MAX_NODES {
            return Err(MapError::TooManyNodes);
        }
        if !tokens.len().is_multiple_of(7) {
            return Err(MapError::Syntax(tokens.len() - tokens.len() % 7 + 1));
        }
        // Replicas name their primary by id; resolved once every id is known.
        let mut nodes = Vec::with_capacity(tokens.len() / 7);
        let mut follows: Vec<(usize, String)> = Vec::new();
        let mut owner = vec![u16::MAX; SLOTS].into_boxed_slice();
        for (n, t) in tokens.chunks(7).enumerate() {
            let at = n * 7 + 1;
            if !t[0].eq_ignore_ascii_case(b"node") {
                return Err(MapError::Syntax(at));
            }
            let id = node_id(t[1])?;
            if nodes.iter().any(|x: &Node| x.id == id) {
                return Err(MapError::DuplicateId(id));
            }
            let ip = text(t[2]);
            if !name_ok(&ip) {
                return Err(MapError::BadAddress(ip, id));
            }
            let port = match crate::util::parse_i64_strict(t[3]) {
                Some(p) if (1..=65535).contains(&p) => p as u16,
                _ => return Err(MapError::BadPort(text(t[3]), id)),
            };
            let mut hostname = text(t[4]);
            if hostname == "-" {
                hostname.clear();
            }
            if !hostname.is_empty() && !name_ok(&hostname) {
                return Err(MapError::BadHostname(hostname, id));
            }
            let role = if t[5].eq_ignore_ascii_case(b"primary") {
                let slots =
                    slot_ranges(t[6]).ok_or_else(|| MapError::BadSlots(text(t[6]), id.clone()))?;
                for &(a, b) in &slots {
                    for s in a..=b {
                        let cur = owner[s as usize];
                        if cur != u16::MAX {
                            let other = if cur as usize == n {
                                id.clone()
                            } else {
                                nodes[cur as usize].id.clone()
                            };
                            return Err(MapError::SlotTwice(s, other, id));
                        }
                        owner[s as usize] = n as u16;
                    }
                }
                Role::Primary {
                    slots: merged(slots),
                }
            } else if t[5].eq_ignore_ascii_case(b"replica") {
                follows.push((n, text(t[6])));
                Role::Replica { of: usize::MAX }
            } else {
                return Err(MapError::Syntax(at + 5));
            };
            nodes.push(Node {
                id,
                ip,
                port,
                hostname,
                role,
            });
        }
        for (n, of) in follows {
            let i = nodes
                .iter()
                .position(|x| x.id == of && x.is_primary())
                .ok_or_else(|| MapError::NoSuchPrimary(nodes[n].id.clone(), of))?;
            nodes[n].role = Role::Replica { of: i };
        }
        let missing = owner.iter().filter(|&&o| o == u16::MAX).count();
        if let Some(first) = owner.iter().position(|&o| o == u16::MAX) {
            return Err(MapError::Unassigned(missing, first as u16));
        }
        Ok(Map {
            epoch,
            nodes,
            owner,
        })
    }

    /// The index in [`Map::nodes`] of the primary serving `slot`.
    #[inline]
    pub fn owner(&self, slot: u16) -> usize {
        self.owner[slot as usize] as usize
    }

    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// The primary of node `i`'s shard (`i` itself for a primary).
    pub fn primary_of(&self, i: usize) -> usize {
        match self.nodes[i].role {
            Role::Primary { .. } => i,
            Role::Replica { of } => of,
        }
    }

    /// Whom the node `myid` replicates: its primary's address, when the map
    /// makes it a replica.
    pub fn master_of(&self, myid: &str) -> Option<crate::repl::replica::state::Master> {
        let me = self.index_of(myid)?;
        match self.nodes[me].role {
            Role::Replica { of } => Some(crate::repl::replica::state::Master {
                host: self.nodes[of].ip.clone(),
                port: self.nodes[of].port,
            }),
            Role::Primary { .. } => None,
        }
    }

    /// The replicas of the primary at index `p`, in map order.
    pub fn replicas_of(&self, p: usize) -> impl Iterator<Item = usize> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter(move |(_, n)| n.role == Role::Replica { of: p })
            .map(|(i, _)| i)
    }

    /// The map as tokens, one node per line (the file's form).
    pub fn lines(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| {
                let host = if n.hostname.is_empty() {
                    "-"
                } else {
                    &n.hostname
                };
                let role = match &n.role {
                    Role::Primary { slots } if slots.is_empty() => "primary -".to_string(),
                    Role::Primary { slots } => format!("primary {}", ranges_text(slots)),
                    Role::Replica { of } => format!("replica {}", self.nodes[*of].id),
                };
                format!("node {} {} {} {host} {role}", n.id, n.ip, n.port)
            })
            .collect()
    }
}

/// `a-b,c,...` for slot ranges.
pub fn ranges_text(slots: &[(u16, u16)]) -> String {
    slots
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// An address or hostname: printable ASCII without spaces, commas, `@` or
/// `:` separators that CLUSTER NODES uses (IPv6 addresses keep their `:`).
fn name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b':'))
}

fn node_id(b: &[u8]) -> Result<String, MapError> {
    if b.len() == 40 && b.iter().all(u8::is_ascii_hexdigit) {
        Ok(text(b).to_ascii_lowercase())
    } else {
        Err(MapError::BadId(text(&b[..b.len().min(64)])))
    }
}

/// Parses `a-b,c,...`; `-` or empty is none.
fn slot_ranges(b: &[u8]) -> Option<Vec<(u16, u16)>> {
    if b.is_empty() || b == b"-" {
        return Some(Vec::new());
    }
    let slot = |s: &[u8]| -> Option<u16> {
        crate::util::parse_i64_strict(s)
            .filter(|&n| (0..SLOTS as i64).contains(&n))
            .map(|n| n as u16)
    };
    b.split(|&c| c == b',')
        .map(|part| match part.iter().position(|&c| c == b'-') {
            Some(dash) => {
                let (a, z) = (slot(&part[..dash])?, slot(&part[dash + 1..])?);
                (a <= z).then_some((a, z))
            }
            None => slot(part).map(|s| (s, s)),
        })
        .collect()
}

/// Sorted, adjacent ranges joined (the ranges are known not to overlap).
fn merged(mut slots: Vec<(u16, u16)>) -> Vec<(u16, u16)> {
    slots.sort_unstable();
    let mut out: Vec<(u16, u16)> = Vec::with_capacity(slots.len());
    for (a, b) in slots {
        match out.last_mut() {
            Some(last) if last.1 as u32 + 1 == a as u32 => last.1 = b,
            _ => out.push((a, b)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const C: &str = "cccccccccccccccccccccccccccccccccccccccc";

    fn parse(s: &str) -> Result<Map, MapError> {
        let toks: Vec<&[u8]> = s.split(' ').map(str::as_bytes).collect();
        Map::parse(1, &toks)
    }

    #[test]
    fn a_full_map_is_accepted_and_read_back() {
        let text = format!(
            "NODE {A} 10.0.0.1 7000 a.svc PRIMARY 0-100,8000-16383,101-7999 \
             node {B} 10.0.0.2 7001 - replica {A} \
             NODE {C} 10.0.0.3 7002 c.svc PRIMARY -"
        );
        let m = parse(&text).expect("valid");
        assert_eq!(m.owner(0), 0);
        assert_eq!(m.owner(16383), 0);
        assert_eq!(
            m.nodes[0].role,
            Role::Primary {
                slots: vec![(0, 16383)]
            }
        );
        assert_eq!(m.primary_of(1), 0);
        assert_eq!(m.replicas_of(0).collect::<Vec<_>>(), vec![1]);
        let lines = m.lines().join(" ");
        let again = parse(&lines).expect("its own lines parse");
        assert_eq!(again, m);
    }

    #[test]
    fn maps_that_do_not_assign_every_slot_once_are_refused() {
        let e = parse(&format!("NODE {A} h 1 - PRIMARY 0-16000")).unwrap_err();
        assert_eq!(e, MapError::Unassigned(383, 16001));
        assert_eq!(
            e.to_string(),
            "383 slots are not assigned (the first: 16001); a map assigns every slot exactly once"
        );
        let e = parse(&format!(
            "NODE {A} h 1 - PRIMARY 0-9000 NODE {B} h 2 - PRIMARY 9000-16383"
        ))
        .unwrap_err();
        assert_eq!(e, MapError::SlotTwice(9000, A.into(), B.into()));
        let e = parse(&format!("NODE {A} h 1 - PRIMARY 0-16383,5")).unwrap_err();
        assert_eq!(e, MapError::SlotTwice(5, A.into(), A.into()));
    }

    #[test]
    fn bad_fields_are_named() {
        let full = "0-16383";
        assert!(matches!(
            parse(&format!("NODE xyz h 1 - PRIMARY {full}")),
            Err(MapError::BadId(_))
        ));
        assert!(matches!(
            parse(&format!("NODE {A} h 0 - PRIMARY {full}")),
            Err(MapError::BadPort(..))
        ));
        assert!(matches!(
            parse(&format!("NODE {A} h 1 a,b PRIMARY {full}")),
            Err(MapError::BadHostname(..))
        ));
        assert!(matches!(
            parse(&format!("NODE {A} h 1 - PRIMARY 5-2")),
            Err(MapError::BadSlots(..))
        ));
        assert!(matches!(
            parse(&format!("NODE {A} h 1 - PRIMARY 16384")),
            Err(MapError::BadSlots(..))
        ));
        assert_eq!(
            parse(&format!(
                "NODE {A} h 1 - PRIMARY {full} NODE {B} h 2 - REPLICA {C}"
            )),
            Err(MapError::NoSuchPrimary(B.into(), C.into()))
        );
        assert_eq!(
            parse(&format!("NODE {A} h 1 - LEADER {full}")),
            Err(MapError::Syntax(6))
        );
        assert_eq!(
            parse(&format!("NODE {A} h 1 - PRIMARY")),
            Err(MapError::Syntax(1))
        );
        assert_eq!(
            parse(&format!(
                "NODE {A} h 1 - PRIMARY {full} NODE {A} h 2 - REPLICA {A}"
            )),
            Err(MapError::DuplicateId(A.into()))
        );
    }
}
