//! One quicklist node: a run of list elements packed in a single byte buffer, as
//! Redis's listpack.
//!
//! Entry layout: `[len varint][bytes][back varint]`, where `back` is the size of
//! `[len varint][bytes]` written in reverse byte order so it can be read from the
//! entry's end. That makes the node walkable in both directions, which is what
//! keeps RPOP, LINDEX with negative indexes and LRANGE from the tail proportional
//! to the distance walked, not to the node size.

/// A packed run of elements.
#[derive(Clone, Default)]
pub struct Node {
    buf: Vec<u8>,
    count: u32,
}

fn varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Bytes one element of `len` bytes takes in a node.
pub fn entry_size(len: usize) -> usize {
    let body = varint_len(len) + len;
    body + varint_len(body)
}

/// Writes the entry for `elem` into `out`, which is exactly `entry_size` long.
fn encode(elem: &[u8], out: &mut [u8]) {
    let mut i = 0;
    let mut v = elem.len();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out[i] = b;
            i += 1;
            break;
        }
        out[i] = b | 0x80;
        i += 1;
    }
    out[i..i + elem.len()].copy_from_slice(elem);
    i += elem.len();
    // The back length, least significant group last so a reader starting from
    // the entry's end meets it first.
    let body = i;
    let n = varint_len(body);
    let mut v = body;
    for k in 0..n {
        let mut b = (v & 0x7f) as u8;
        v >>= 7;
        if k + 1 < n {
            b |= 0x80;
        }
        out[i + n - 1 - k] = b;
    }
}

impl Node {
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Packed size in bytes (what the fill limit is measured against).
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The element at byte offset `off` and the offset of the next entry.
    #[inline]
    pub fn at(&self, off: usize) -> (&[u8], usize) {
        let mut len = 0usize;
        let mut shift = 0;
        let mut p = off;
        loop {
            let b = self.buf[p];
            p += 1;
            len |= ((b & 0x7f) as usize) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        let data = &self.buf[p..p + len];
        let body = p + len - off;
        (data, p + len + varint_len(body))
    }

    /// Offset of the entry that ends at byte offset `end`.
    #[inline]
    pub fn prev(&self, end: usize) -> usize {
        let mut body = 0usize;
        let mut shift = 0;
        let mut p = end;
        loop {
            p -= 1;
            let b = self.buf[p];
            body |= ((b & 0x7f) as usize) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        p - body
    }

    /// Byte offset of entry `idx` (`idx == len` gives the end), walking from the
    /// nearer end.
    pub fn offset_of(&self, idx: usize) -> usize {
        let n = self.len();
        if idx <= n / 2 {
            let mut off = 0;
            for _ in 0..idx {
                off = self.at(off).1;
            }
            off
        } else {
            let mut off = self.buf.len();
            for _ in idx..n {
                off = self.prev(off);
            }
            off
        }
    }

    /// Inserts `elem` as a new entry at byte offset `off`.
    pub fn insert_at(&mut self, off: usize, elem: &[u8]) {
        let sz = entry_size(elem.len());
        let old = self.buf.len();
        // Exact growth, as a listpack realloc: nodes stay close to their packed size.
        self.buf.reserve_exact(sz);
        self.buf.resize(old + sz, 0);
        self.buf.copy_within(off..old, off + sz);
        encode(elem, &mut self.buf[off..off + sz]);
        self.count += 1;
    }

    pub fn push_back(&mut self, elem: &[u8]) {
        self.insert_at(self.buf.len(), elem);
    }

    pub fn push_front(&mut self, elem: &[u8]) {
        self.insert_at(0, elem);
    }

    /// Removes the entries in byte range `start..end`, which hold `n` entries.
    pub fn remove_range(&mut self, start: usize, end: usize, n: usize) {
        self.buf.drain(start..end);
        self.count -= n as u32;
        if self.buf.capacity() > 2 * self.buf.len() + 64 {
            self.buf.shrink_to_fit();
        }
    }

    /// Replaces the entry at byte offset `off` with `elem`.
    pub fn replace_at(&mut self, off: usize, elem: &[u8]) {
        let end = self.at(off).1;
        let sz = entry_size(elem.len());
        let mut tmp = vec![0u8; sz];
        encode(elem, &mut tmp);
        self.buf.splice(off..end, tmp);
    }

    /// Splits off entries `idx..` into a new node.
    pub fn split_off(&mut self, idx: usize) -> Node {
        let off = self.offset_of(idx);
        let tail = self.buf.split_off(off);
        self.buf.shrink_to_fit();
        let moved = self.count - idx as u32;
        self.count = idx as u32;
        Node {
            buf: tail,
            count: moved,
        }
    }

    /// Appends every entry of `other` (a merge of two neighbours).
    pub fn append(&mut self, other: &Node) {
        self.buf.reserve_exact(other.buf.len());
        self.buf.extend_from_slice(&other.buf);
        self.count += other.count;
    }

    /// Keeps the entries for which `keep(index, elem)` is true, rebuilding the
    /// buffer once. Returns how many were removed.
    pub fn retain(&mut self, mut keep: impl FnMut(usize, &[u8]) -> bool) -> usize {
        let mut out = Vec::with_capacity(self.buf.len());
        let mut off = 0;
        let mut i = 0;
        let mut removed = 0;
        while off < self.buf.len() {
            let (elem, next) = self.at(off);
            if keep(i, elem) {
                out.extend_from_slice(&self.buf[off..next]);
            } else {
                removed += 1;
            }
            off = next;
            i += 1;
        }
        if removed > 0 {
            out.shrink_to_fit();
            self.buf = out;
            self.count -= removed as u32;
        }
        removed
    }

    /// Iterates the elements front to back.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut off = 0;
        std::iter::from_fn(move || {
            if off >= self.buf.len() {
                return None;
            }
            let (e, next) = self.at(off);
            off = next;
            Some(e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_both_ways_with_long_and_short_entries() {
        let mut n = Node::default();
        let big = vec![b'x'; 300];
        let items: Vec<Vec<u8>> = vec![
            b"a".to_vec(),
            big.clone(),
            Vec::new(),
            vec![b'y'; 127],
            vec![b'z'; 128],
            vec![b'w'; 20000],
        ];
        for it in &items {
            n.push_back(it);
        }
        assert_eq!(n.len(), items.len());
        let fwd: Vec<&[u8]> = n.iter().collect();
        assert_eq!(fwd, items.iter().map(|v| v.as_slice()).collect::<Vec<_>>());
        let mut end = n.bytes();
        for it in items.iter().rev() {
            let off = n.prev(end);
            assert_eq!(n.at(off).0, it.as_slice());
            end = off;
        }
        assert_eq!(end, 0);
        for (i, it) in items.iter().enumerate() {
            assert_eq!(n.at(n.offset_of(i)).0, it.as_slice());
        }
        let off = n.offset_of(1);
        n.replace_at(off, b"short");
        assert_eq!(n.at(n.offset_of(1)).0, b"short");
        assert_eq!(n.at(n.offset_of(2)).0, b"");
        let tail = n.split_off(3);
        assert_eq!((n.len(), tail.len()), (3, 3));
        assert_eq!(tail.iter().next(), Some(&[b'y'; 127][..]));
        n.push_front(b"first");
        assert_eq!(n.iter().next(), Some(&b"first"[..]));
        assert_eq!(n.retain(|i, _| i % 2 == 0), 2);
        assert_eq!(n.iter().collect::<Vec<_>>(), vec![&b"first"[..], b"short"]);
    }
}
