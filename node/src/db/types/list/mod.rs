//! The list value type: a quicklist, i.e. a deque of packed nodes (see
//! [`node`]), each bounded by `list-max-listpack-size` (negative: a byte budget
//! of 4/8/16/32/64 KiB; positive: an entry count, with an 8 KiB safety cap).
//!
//! A short list is a single node, which is the compact form Redis 7.2 calls
//! `listpack`; it grows into more nodes as it passes the fill limit. Redis 7.0
//! reports `quicklist` for every list, and so does OBJECT ENCODING here.
//!
//! Pushes and pops at both ends touch only the end nodes; indexed operations
//! walk node counts first and then one node, from whichever end is nearer.

pub mod node;

use std::collections::VecDeque;

pub use node::Node;

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Head,
    Tail,
}

/// Byte budgets of the negative `list-max-listpack-size` values -1..-5.
const FILL_BYTES: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// Largest node under a positive (count) fill, as Redis's SIZE_SAFETY_LIMIT.
const SAFETY_BYTES: usize = 8192;

/// Whether a node of `bytes` bytes holding `count` entries may take `more` bytes
/// in one more entry under `fill` (an empty node always accepts one entry).
fn fits(count: usize, bytes: usize, more: usize, fill: i64) -> bool {
    if count == 0 {
        return true;
    }
    let new = bytes + more;
    if fill < 0 {
        let level = (fill.unsigned_abs() as usize).min(FILL_BYTES.len()) - 1;
        new <= FILL_BYTES[level]
    } else {
        new <= SAFETY_BYTES && (count as i64) < fill
    }
}

/// Whether a node may be split to get back under the fill limit.
fn over_limit(n: &Node, fill: i64) -> bool {
    if n.len() <= 1 {
        return false;
    }
    if fill < 0 {
        let level = (fill.unsigned_abs() as usize).min(FILL_BYTES.len()) - 1;
        n.bytes() > FILL_BYTES[level]
    } else {
        n.bytes() > SAFETY_BYTES || n.len() as i64 > fill.max(1)
    }
}

/// A list value.
#[derive(Clone, Default)]
pub struct List {
    nodes: VecDeque<Node>,
    len: usize,
}

impl List {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Redis 7.0's OBJECT ENCODING name for every list.
    pub fn encoding_name(&self) -> &'static str {
        "quicklist"
    }

    /// Number of packed nodes (1 while the list is in its compact form).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn memory_usage(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.nodes.iter().map(Node::capacity).sum::<usize>()
    }

    pub fn push(&mut self, end: End, elem: &[u8], fill: i64) {
        let more = node::entry_size(elem.len());
        match end {
            End::Head => match self.nodes.front_mut() {
                Some(n) if fits(n.len(), n.bytes(), more, fill) => n.push_front(elem),
                _ => {
                    let mut n = Node::default();
                    n.push_front(elem);
                    self.nodes.push_front(n);
                }
            },
            End::Tail => match self.nodes.back_mut() {
                Some(n) if fits(n.len(), n.bytes(), more, fill) => n.push_back(elem),
                _ => {
                    let mut n = Node::default();
                    n.push_back(elem);
                    self.nodes.push_back(n);
                }
            },
        }
        self.len += 1;
    }

    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        let mut out = None;
        self.drain_end(end, 1, |e| out = Some(e.to_vec()));
        out
    }

    /// Removes up to `n` elements from `end`, visiting each in pop order (from
    /// that end inwards). Returns how many were removed.
    pub fn drain_end(&mut self, end: End, n: usize, mut visit: impl FnMut(&[u8])) -> usize {
        let mut left = n.min(self.len);
        let total = left;
        while left > 0 {
            let node = match end {
                End::Head => self.nodes.front_mut(),
                End::Tail => self.nodes.back_mut(),
            };
            let Some(node) = node else { break };
            let take = left.min(node.len());
            match end {
                End::Head => {
                    let mut off = 0;
                    for _ in 0..take {
                        let (e, next) = node.at(off);
                        visit(e);
                        off = next;
                    }
                    node.remove_range(0, off, take);
                }
                End::Tail => {
                    let mut off = node.bytes();
                    for _ in 0..take {
                        off = node.prev(off);
                        visit(node.at(off).0);
                    }
                    let b = node.bytes();
                    node.remove_range(off, b, take);
                }
            }
            if node.is_empty() {
                match end {
                    End::Head => self.nodes.pop_front(),
                    End::Tail => self.nodes.pop_back(),
                };
            }
            left -= take;
        }
        self.len -= total;
        total
    }

    /// Node and entry-within-node of element `index` (< len).
    fn locate(&self, index: usize) -> (usize, usize) {
        if index < self.len / 2 {
            let mut i = index;
            for (k, n) in self.nodes.iter().enumerate() {
                if i < n.len() {
                    return (k, i);
                }
                i -= n.len();
            }
        } else {
            let mut from_end = self.len - index;
            for (k, n) in self.nodes.iter().enumerate().rev() {
                if from_end <= n.len() {
                    return (k, n.len() - from_end);
                }
                from_end -= n.len();
            }
        }
        // The counts add up to `len` by construction; callers pass index < len.
        unreachable!("list index {index} out of {}", self.len)
    }

    /// Converts a Redis index (negative counts from the tail) to an offset.
    pub fn index(&self, i: i64) -> Option<usize> {
        let len = self.len as i64;
        let i = if i < 0 { i.checked_add(len)? } else { i };
        (0..len).contains(&i).then_some(i as usize)
    }

    pub fn get(&self, index: usize) -> Option<&[u8]> {
        if index >= self.len {
            return None;
        }
        let (k, i) = self.locate(index);
        let n = &self.nodes[k];
        Some(n.at(n.offset_of(i)).0)
    }

    /// Replaces element `index` (< len); false when out of range.
    pub fn set(&mut self, index: usize, elem: &[u8], fill: i64) -> bool {
        if index >= self.len {
            return false;
        }
        let (k, i) = self.locate(index);
        let n = &mut self.nodes[k];
        let off = n.offset_of(i);
        n.replace_at(off, elem);
        self.split_if_needed(k, fill);
        true
    }

    /// Inserts `elem` so that it becomes element `index` (0..=len).
    pub fn insert(&mut self, index: usize, elem: &[u8], fill: i64) {
        if index == 0 {
            return self.push(End::Head, elem, fill);
        }
        if index >= self.len {
            return self.push(End::Tail, elem, fill);
        }
        let (k, i) = self.locate(index);
        let n = &mut self.nodes[k];
        let off = n.offset_of(i);
        n.insert_at(off, elem);
        self.len += 1;
        self.split_if_needed(k, fill);
    }

    /// Splits node `k` in halves until every part is within the fill limit.
    fn split_if_needed(&mut self, k: usize, fill: i64) {
        let mut k = k;
        while over_limit(&self.nodes[k], fill) {
            let half = self.nodes[k].len() / 2;
            let tail = self.nodes[k].split_off(half);
            self.nodes.insert(k + 1, tail);
            if !over_limit(&self.nodes[k], fill) {
                k += 1;
            }
        }
    }

    /// Keeps elements `start..=stop` (already clamped, start <= stop < len).
    pub fn trim(&mut self, start: usize, stop: usize) {
        let tail = self.len - 1 - stop;
        self.drain_end(End::Head, start, |_| {});
        self.drain_end(End::Tail, tail, |_| {});
    }

    /// Removes elements equal to `elem`: the first `count` from the head when
    /// `count > 0`, from the tail when `count < 0`, all when 0 (LREM).
    pub fn remove_eq(&mut self, elem: &[u8], count: i64, fill: i64) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
        };
        let mut removed = 0;
        let order: Vec<usize> = if count < 0 {
            (0..self.nodes.len()).rev().collect()
        } else {
            (0..self.nodes.len()).collect()
        };
        for k in order {
            if removed >= limit {
                break;
            }
            let n = &mut self.nodes[k];
            if count < 0 {
                // From the tail: find which matches are the last ones in this node.
                let matches: Vec<usize> = n
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| *e == elem)
                    .map(|(i, _)| i)
                    .collect();
                let take = matches.len().min(limit - removed);
                let victims = &matches[matches.len() - take..];
                removed += n.retain(|i, _| victims.binary_search(&i).is_err());
            } else {
                let mut budget = limit - removed;
                removed += n.retain(|_, e| {
                    if budget > 0 && e == elem {
                        budget -= 1;
                        false
                    } else {
                        true
                    }
                });
            }
        }
        if removed > 0 {
            self.len -= removed;
            self.compact(fill);
        }
        removed
    }

    /// Drops empty nodes and merges neighbours that fit together.
    fn compact(&mut self, fill: i64) {
        let old = std::mem::take(&mut self.nodes);
        for n in old {
            if n.is_empty() {
                continue;
            }
            match self.nodes.back_mut() {
                Some(prev) if fits_merge(prev, &n, fill) => prev.append(&n),
                _ => self.nodes.push_back(n),
            }
        }
    }

    /// Iterates elements from `start` towards the tail.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let (mut k, i) = if start < self.len {
            self.locate(start)
        } else {
            (self.nodes.len(), 0)
        };
        let mut off = self.nodes.get(k).map_or(0, |n| n.offset_of(i));
        std::iter::from_fn(move || loop {
            let n = self.nodes.get(k)?;
            if off < n.bytes() {
                let (e, next) = n.at(off);
                off = next;
                return Some(e);
            }
            k += 1;
            off = 0;
        })
    }

    /// Iterates elements from `start` towards the head.
    pub fn iter_rev_from(&self, start: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let (mut k, mut end) = if start < self.len {
            let (k, i) = self.locate(start);
            let n = &self.nodes[k];
            (k as isize, n.at(n.offset_of(i)).1)
        } else {
            (-1, 0)
        };
        std::iter::from_fn(move || loop {
            if k < 0 {
                return None;
            }
            let n = &self.nodes[k as usize];
            if end > 0 {
                let off = n.prev(end);
                end = off;
                return Some(n.at(off).0);
            }
            k -= 1;
            if k >= 0 {
                end = self.nodes[k as usize].bytes();
            }
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.nodes.iter().flat_map(|n| n.iter())
    }
}

fn fits_merge(a: &Node, b: &Node, fill: i64) -> bool {
    if fill < 0 {
        fits(a.len(), a.bytes(), b.bytes(), fill)
    } else {
        a.bytes() + b.bytes() <= SAFETY_BYTES && (a.len() + b.len()) as i64 <= fill
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_check(l: &List, model: &VecDeque<Vec<u8>>) {
        assert_eq!(l.len(), model.len());
        let got: Vec<&[u8]> = l.iter().collect();
        let want: Vec<&[u8]> = model.iter().map(|v| v.as_slice()).collect();
        assert_eq!(got, want);
        for (i, w) in model.iter().enumerate() {
            assert_eq!(l.get(i), Some(w.as_slice()));
        }
        if !model.is_empty() {
            let mid = model.len() / 3;
            let fwd: Vec<&[u8]> = l.iter_from(mid).collect();
            assert_eq!(fwd, want[mid..].to_vec());
            let rev: Vec<&[u8]> = l.iter_rev_from(mid).collect();
            let mut exp = want[..=mid].to_vec();
            exp.reverse();
            assert_eq!(rev, exp);
        }
    }

    #[test]
    fn behaves_like_a_deque_across_fill_settings() {
        for fill in [-5, -2, -1, 1, 3, 128] {
            let mut rng = crate::util::Rng::new((fill as u64).wrapping_add(99));
            let mut l = List::default();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for step in 0..4000u32 {
                let r = rng.next_u64();
                let size = if r.is_multiple_of(17) {
                    3000
                } else {
                    (r % 40) as usize
                };
                let v = format!("{step}-{}", "x".repeat(size)).into_bytes();
                match r % 11 {
                    0..=2 => {
                        l.push(End::Head, &v, fill);
                        m.push_front(v);
                    }
                    3..=5 => {
                        l.push(End::Tail, &v, fill);
                        m.push_back(v);
                    }
                    6 => assert_eq!(l.pop(End::Head), m.pop_front()),
                    7 => assert_eq!(l.pop(End::Tail), m.pop_back()),
                    8 if !m.is_empty() => {
                        let i = (r >> 8) as usize % (m.len() + 1);
                        l.insert(i, &v, fill);
                        m.insert(i, v);
                    }
                    9 if !m.is_empty() => {
                        let i = (r >> 8) as usize % m.len();
                        assert!(l.set(i, &v, fill));
                        m[i] = v;
                    }
                    10 if m.len() > 10 => {
                        let target = m[(r >> 8) as usize % m.len()].clone();
                        let count = ((r >> 20) % 5) as i64 - 2;
                        let n = l.remove_eq(&target, count, fill);
                        let mut left = if count == 0 {
                            usize::MAX
                        } else {
                            count.unsigned_abs() as usize
                        };
                        let mut removed = 0;
                        if count >= 0 {
                            m.retain(|x| {
                                if left > 0 && *x == target {
                                    left -= 1;
                                    removed += 1;
                                    false
                                } else {
                                    true
                                }
                            });
                        } else {
                            let mut v: Vec<Vec<u8>> = m.drain(..).rev().collect();
                            v.retain(|x| {
                                if left > 0 && *x == target {
                                    left -= 1;
                                    removed += 1;
                                    false
                                } else {
                                    true
                                }
                            });
                            m = v.into_iter().rev().collect();
                        }
                        assert_eq!(n, removed);
                    }
                    _ => {}
                }
                if step % 500 == 0 {
                    model_check(&l, &m);
                }
            }
            model_check(&l, &m);
            if m.len() > 20 {
                l.trim(5, m.len() - 6);
                let trimmed: VecDeque<Vec<u8>> =
                    m.iter().skip(5).take(m.len() - 10).cloned().collect();
                model_check(&l, &trimmed);
            }
            if fill > 0 {
                assert!(l
                    .nodes
                    .iter()
                    .all(|n| n.len() as i64 <= fill || n.len() == 1));
            }
        }
    }

    #[test]
    fn short_lists_are_one_node() {
        let mut l = List::default();
        for i in 0..100 {
            l.push(End::Tail, format!("{i}").as_bytes(), -2);
        }
        assert_eq!(l.node_count(), 1);
        for i in 0..2000 {
            l.push(End::Tail, format!("element-{i}").as_bytes(), -2);
        }
        assert!(l.node_count() > 2);
        assert!(l.nodes.iter().all(|n| n.bytes() <= 8192));
    }
}
