//! Walking a stream's log: the range iterator over live entries, and the
//! node count of the radix tree Redis would hold for the same nodes.

use std::collections::BTreeMap;

use super::id::StreamId;
use super::node::{Node, RawEntry};

/// Iterator over a range of live entries.
pub struct Range<'a> {
    nodes: Option<std::collections::btree_map::Range<'a, StreamId, Node>>,
    cur: Option<(StreamId, &'a Node)>,
    /// Forward: offset of the next entry in `cur`.
    pos: usize,
    /// Backward: offsets of the entries of `cur` not yet visited.
    offs: Vec<usize>,
    start: StreamId,
    end: StreamId,
    rev: bool,
}

impl<'a> Range<'a> {
    pub(super) fn new(
        nodes: &'a BTreeMap<StreamId, Node>,
        start: StreamId,
        end: StreamId,
        rev: bool,
    ) -> Range<'a> {
        let mut r = Range {
            nodes: None,
            cur: None,
            pos: 0,
            offs: Vec::new(),
            start,
            end,
            rev,
        };
        if start > end {
            return r;
        }
        r.nodes = Some(if rev {
            nodes.range(..=end)
        } else {
            let from = nodes
                .range(..=start)
                .next_back()
                .map_or(StreamId::MIN, |(k, _)| *k);
            nodes.range(from..=end)
        });
        r
    }
}

impl<'a> Iterator for Range<'a> {
    type Item = RawEntry<'a>;

    fn next(&mut self) -> Option<RawEntry<'a>> {
        loop {
            let Some((master, node)) = self.cur else {
                let nodes = self.nodes.as_mut()?;
                let next = if self.rev {
                    nodes.next_back()
                } else {
                    nodes.next()
                };
                let Some((k, n)) = next else {
                    self.nodes = None;
                    return None;
                };
                self.cur = Some((*k, n));
                if self.rev {
                    self.offs = n.offsets(*k);
                } else {
                    self.pos = n.start();
                }
                continue;
            };
            let at = if self.rev {
                self.offs.pop()
            } else {
                (self.pos < node.end()).then_some(self.pos)
            };
            let Some(at) = at else {
                self.cur = None;
                continue;
            };
            let (e, next) = node.entry_at(master, at);
            self.pos = next;
            if e.deleted() {
                continue;
            }
            if self.rev {
                if e.id > self.end {
                    continue;
                }
                if e.id < self.start {
                    self.nodes = None;
                    self.cur = None;
                    return None;
                }
            } else {
                if e.id < self.start {
                    continue;
                }
                if e.id > self.end {
                    self.nodes = None;
                    self.cur = None;
                    return None;
                }
            }
            return Some(e);
        }
    }
}

/// Rax nodes under a node at `depth` whose keys share `depth` bytes: a leaf,
/// or an optional compressed node followed by a branching node.
pub(super) fn rax_nodes(keys: &[[u8; 16]], depth: usize) -> usize {
    if keys.len() == 1 {
        return if depth == 16 { 1 } else { 2 };
    }
    let (a, b) = (&keys[0], &keys[keys.len() - 1]);
    let common = (depth..16).take_while(|&i| a[i] == b[i]).count() + depth;
    let mut n = if common > depth { 2 } else { 1 };
    let mut i = 0;
    while i < keys.len() {
        let c = keys[i][common];
        let j = i + keys[i..].iter().take_while(|k| k[common] == c).count();
        n += rax_nodes(&keys[i..j], common + 1);
        i = j;
    }
    n
}
