//! The stream value type: an append-only log of entries ordered by ID
//! (`<ms>-<seq>`), plus consumer groups.
//!
//! # Storage
//! Redis keeps a stream as a radix tree of listpacks. Here the log is a
//! `BTreeMap` from a node's first ID to a [`Node`]: a packed byte block of
//! consecutive entries (see [`node`] for the layout). Inside a node each ID is
//! a varint delta from the node's key, and an entry whose field names equal the
//! node's master fields (the fields of the entry that opened it) stores only
//! its values, behind one flag byte. A stream of `XADD s * f v` entries thus
//! costs about six bytes an entry plus the node overhead amortised over up to
//! `stream-node-max-entries` entries, against Redis's ~13-byte listpack entry.
//!
//! Appends go to the last node until it reaches `stream-node-max-entries`
//! entries (deleted ones included) or `stream-node-max-bytes`, which is
//! measured as the equivalent listpack would be (so node boundaries match
//! redis-server's and `~` trimming removes exactly what Redis removes); the
//! full node is then shrunk to fit and a new one started. Deletion only flags
//! an entry, as in Redis; a node whose entries are all deleted is dropped.
//! Trimming drops whole nodes from the front and, unless `~`, flags entries in
//! the first remaining node.
//!
//! # Consumer groups
//! See [`group`]: each group has its last delivered ID, its logical read
//! counter (`entries-read`, Redis 7.0) and its PEL; lag is derived from the
//! stream's `entries-added`, first ID and largest deleted ID as Redis does.

pub mod group;
pub mod id;
mod iter;
mod lag;
pub mod node;

use std::collections::BTreeMap;

pub use group::{Consumer, Group, Nack, INVALID_ENTRIES_READ};
pub use id::StreamId;
pub use iter::Range;
pub use node::{Node, RawEntry};

/// The node size limits in force (`stream-node-max-bytes`, `-entries`).
#[derive(Clone, Copy, Debug)]
pub struct NodeLimits {
    pub max_bytes: i64,
    pub max_entries: i64,
}

/// Redis's STREAM_LISTPACK_MAX_SIZE: the byte cap of a node when
/// `stream-node-max-bytes` is 0 or larger, and of one entry's fields.
pub const LISTPACK_MAX_SIZE: usize = 1 << 30;

/// The ID an XADD asks for.
#[derive(Clone, Copy, Debug)]
pub enum NewId {
    /// `*`
    Auto,
    /// `<ms>-*`
    Ms(u64),
    /// `<ms>-<seq>` (or `<ms>`)
    Exact(StreamId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddError {
    /// The ID is not greater than the last one.
    TooSmall,
    /// The fields and values exceed a node's largest size.
    TooLarge,
}

/// What a trim keeps.
#[derive(Clone, Copy, Debug)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

/// The entry log of a stream and its counters.
#[derive(Clone, Default)]
pub struct Log {
    nodes: BTreeMap<StreamId, Node>,
    length: u64,
    pub last_id: StreamId,
    /// `recorded-first-entry-id`: the first live entry (0-0 when empty).
    pub first_id: StreamId,
    pub max_deleted: StreamId,
    pub entries_added: u64,
}

/// A stream value. The log is boxed so that a stream (32 bytes) is no larger
/// than the other collections in `Object`, which every key's value pays for.
#[derive(Clone, Default)]
pub struct Stream {
    pub log: Box<Log>,
    pub groups: Groups,
}

/// Consumer groups by name (an empty B-tree allocates nothing).
#[derive(Clone, Default)]
pub struct Groups(BTreeMap<Box<[u8]>, Group>);

impl Groups {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, name: &[u8]) -> Option<&Group> {
        self.0.get(name)
    }

    pub fn get_mut(&mut self, name: &[u8]) -> Option<&mut Group> {
        self.0.get_mut(name)
    }

    /// Creates a group; false when the name is taken.
    pub fn create(&mut self, name: &[u8], last_id: StreamId, entries_read: i64) -> bool {
        if self.0.contains_key(name) {
            return false;
        }
        self.0
            .insert(name.into(), Group::new(last_id, entries_read));
        true
    }

    pub fn destroy(&mut self, name: &[u8]) -> bool {
        self.0.remove(name).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Group)> {
        self.0.iter().map(|(k, g)| (&k[..], g))
    }

    fn heap_bytes(&self) -> usize {
        self.0
            .iter()
            .map(|(k, g)| k.len() + std::mem::size_of::<Group>() + 16 + g.heap_bytes())
            .sum()
    }
}

impl Stream {
    pub fn len(&self) -> usize {
        self.log.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding_name(&self) -> &'static str {
        "stream"
    }

    pub fn memory_usage(&self) -> usize {
        let per_node = std::mem::size_of::<(StreamId, Node)>() + 8;
        self.log
            .nodes
            .values()
            .map(|n| n.heap_bytes() + per_node)
            .sum::<usize>()
            + self.groups.heap_bytes()
    }
}

impl Log {
    pub fn len(&self) -> usize {
        self.length as usize
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Number of nodes (XINFO's `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Appends an entry of `pairs` (field, value, ...) under the ID `want`
    /// resolves to (Redis's streamAppendItem).
    pub fn add(
        &mut self,
        want: NewId,
        pairs: &[&[u8]],
        lim: NodeLimits,
        now_ms: i64,
    ) -> Result<StreamId, AddError> {
        let last = self.last_id;
        let id = match want {
            NewId::Auto => {
                let ms = u64::try_from(now_ms).unwrap_or(0);
                if ms > last.ms {
                    StreamId::new(ms, 0)
                } else {
                    last.incr().unwrap_or(StreamId::MIN)
                }
            }
            NewId::Ms(ms) if ms == last.ms => {
                if last.seq == u64::MAX {
                    return Err(AddError::TooSmall);
                }
                StreamId::new(ms, last.seq + 1)
            }
            NewId::Ms(ms) => StreamId::new(ms, 0),
            NewId::Exact(id) => id,
        };
        if id <= last {
            return Err(AddError::TooSmall);
        }
        let total: usize = pairs.iter().map(|p| p.len()).sum();
        if total > LISTPACK_MAX_SIZE {
            return Err(AddError::TooLarge);
        }
        let max_bytes = match usize::try_from(lim.max_bytes) {
            Ok(0) | Err(_) => LISTPACK_MAX_SIZE,
            Ok(b) => b.min(LISTPACK_MAX_SIZE),
        };
        let tail_has_room = self.nodes.last_key_value().is_some_and(|(_, n)| {
            n.listpack_bytes() + total < max_bytes
                && (lim.max_entries <= 0 || (n.total() as i64) < lim.max_entries)
        });
        if !tail_has_room {
            if let Some(mut tail) = self.nodes.last_entry() {
                tail.get_mut().seal();
            }
            self.nodes.insert(id, Node::new(pairs));
        }
        let mut tail = self
            .nodes
            .last_entry()
            .expect("the stream has a tail node: found or just inserted");
        let master = *tail.key();
        tail.get_mut().append(master, id, pairs);
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
        Ok(id)
    }

    /// Entries from `start` to `end` inclusive, tombstones skipped, in ID
    /// order or reversed.
    pub fn range(&self, start: StreamId, end: StreamId, rev: bool) -> Range<'_> {
        Range::new(&self.nodes, start, end, rev)
    }

    /// Every entry, tombstones skipped.
    pub fn iter(&self) -> Range<'_> {
        self.range(StreamId::MIN, StreamId::MAX, false)
    }

    pub fn get(&self, id: StreamId) -> Option<RawEntry<'_>> {
        self.range(id, id, false).next()
    }

    pub fn contains(&self, id: StreamId) -> bool {
        self.get(id).is_some()
    }

    /// The last live entry's ID (Redis's streamLastValidID), 0-0 when empty.
    pub fn last_valid_id(&self) -> StreamId {
        self.range(StreamId::MIN, StreamId::MAX, true)
            .next()
            .map_or(StreamId::MIN, |e| e.id)
    }

    fn first_valid_id(&self) -> StreamId {
        self.iter().next().map_or(StreamId::MIN, |e| e.id)
    }

    /// Deletes one live entry; returns whether it existed.
    fn delete(&mut self, id: StreamId) -> bool {
        let Some(mut node) = self
            .nodes
            .range_mut(..=id)
            .next_back()
            .map(|(k, n)| (*k, n))
        else {
            return false;
        };
        let (master, n) = (node.0, &mut node.1);
        let mut at = n.start();
        while at < n.end() {
            let (e, next) = n.entry_at(master, at);
            if e.id == id {
                if e.deleted() {
                    return false;
                }
                if n.live() == 1 {
                    self.nodes.remove(&master);
                } else {
                    n.mark_deleted(at);
                }
                self.length -= 1;
                return true;
            }
            if e.id > id {
                return false;
            }
            at = next;
        }
        false
    }

    /// XDEL: deletes the given IDs, keeping `first_id` and `max_deleted` as
    /// Redis does; returns how many were deleted.
    pub fn xdel(&mut self, ids: &[StreamId]) -> u64 {
        let mut deleted = 0;
        let mut first_entry = false;
        for &id in ids {
            if self.delete(id) {
                first_entry |= id == self.first_id;
                if id > self.max_deleted {
                    self.max_deleted = id;
                }
                deleted += 1;
            }
        }
        if deleted > 0 {
            if self.length == 0 {
                self.first_id = StreamId::MIN;
            } else if first_entry {
                self.first_id = self.first_valid_id();
            }
        }
        deleted
    }

    /// Trims from the front (Redis's streamTrim): whole nodes while they can
    /// go, then, unless `approx`, entries of the next node. `limit` (0: none)
    /// caps the entries removed by whole nodes. Returns the entries removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted: u64 = 0;
        loop {
            if let Trim::MaxLen(max) = how {
                if self.length <= max {
                    break;
                }
            }
            let Some(mut first) = self.nodes.first_entry() else {
                break;
            };
            let master = *first.key();
            let entries = first.get().live() as u64;
            if limit > 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match how {
                Trim::MaxLen(max) => self.length - entries >= max,
                Trim::MinId(min) => first.get().last_id(master) < min,
            };
            if remove_node {
                first.remove();
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            let node = first.get_mut();
            let mut at = node.start();
            while at < node.end() {
                let (e, next) = node.entry_at(master, at);
                let stop = match how {
                    Trim::MaxLen(max) => self.length <= max,
                    Trim::MinId(min) => e.id >= min,
                };
                if stop {
                    break;
                }
                if !e.deleted() {
                    node.mark_deleted(at);
                    self.length -= 1;
                    deleted += 1;
                }
                at = next;
            }
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.first_id = self.first_valid_id();
        }
        deleted
    }

    /// The first entry ID kept, counting tombstones (for propagating a `~`
    /// MINID trim as an exact one).
    pub fn first_node_id(&self) -> Option<StreamId> {
        self.nodes.first_key_value().map(|(k, _)| *k)
    }

    /// The node count of the radix tree Redis would hold for these node keys
    /// (XINFO's `radix-tree-nodes`): a compressed trie over 16-byte keys.
    pub fn radix_tree_nodes(&self) -> usize {
        let keys: Vec<[u8; 16]> = self.nodes.keys().map(|k| k.to_be_bytes()).collect();
        if keys.is_empty() {
            return 1;
        }
        iter::rax_nodes(&keys, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_is_no_larger_than_a_list() {
        assert!(std::mem::size_of::<Stream>() <= std::mem::size_of::<super::super::List>());
    }

    const LIM: NodeLimits = NodeLimits {
        max_bytes: 4096,
        max_entries: 100,
    };

    fn add(s: &mut Log, ms: u64, seq: u64) {
        s.add(NewId::Exact(StreamId::new(ms, seq)), &[b"f", b"v"], LIM, 0)
            .expect("increasing id");
    }

    fn ids(r: Range<'_>) -> Vec<u64> {
        r.map(|e| e.id.ms).collect()
    }

    #[test]
    fn appends_split_nodes_and_ranges_cross_them() {
        let mut s = Log::default();
        for i in 1..=250 {
            add(&mut s, i, 0);
        }
        assert_eq!(s.node_count(), 3);
        assert_eq!(s.len(), 250);
        let all = ids(s.iter());
        assert_eq!(all, (1..=250).collect::<Vec<_>>());
        let rev = ids(s.range(StreamId::new(95, 0), StreamId::new(205, 0), true));
        assert_eq!(rev, (95..=205).rev().collect::<Vec<_>>());
        assert!(ids(s.range(StreamId::new(9, 0), StreamId::new(3, 0), false)).is_empty());
        assert_eq!(
            s.add(NewId::Exact(StreamId::new(250, 0)), &[b"a", b"b"], LIM, 0),
            Err(AddError::TooSmall)
        );
        assert_eq!(
            s.add(NewId::Ms(250), &[b"a", b"b"], LIM, 0),
            Ok(StreamId::new(250, 1))
        );
    }

    #[test]
    fn delete_and_trim_keep_counters() {
        let mut s = Log::default();
        for i in 1..=250 {
            add(&mut s, i, 0);
        }
        assert_eq!(s.xdel(&[StreamId::new(1, 0), StreamId::new(1, 0)]), 1);
        assert_eq!(s.first_id, StreamId::new(2, 0));
        assert_eq!(s.max_deleted, StreamId::new(1, 0));
        assert_eq!(s.trim(Trim::MaxLen(200), true, 0), 0);
        assert_eq!(s.trim(Trim::MaxLen(150), true, 0), 99);
        assert_eq!(s.len(), 150);
        assert_eq!(s.trim(Trim::MaxLen(120), false, 0), 30);
        assert_eq!(s.first_id, StreamId::new(131, 0));
        assert_eq!(s.trim(Trim::MinId(StreamId::new(140, 0)), false, 0), 9);
        assert_eq!(s.len(), 111);
        assert_eq!(ids(s.iter()).first(), Some(&140));
        assert_eq!(s.trim(Trim::MaxLen(0), false, 0), 111);
        assert_eq!(s.node_count(), 0);
        assert_eq!(s.first_id, StreamId::MIN);
    }

    #[test]
    fn radix_node_counts() {
        let mut s = Log::default();
        assert_eq!(s.radix_tree_nodes(), 1);
        add(&mut s, 1, 1);
        assert_eq!(s.radix_tree_nodes(), 2);
    }
}
