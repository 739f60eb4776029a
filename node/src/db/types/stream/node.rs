//! One node of a stream: a packed byte block of consecutive entries, delta
//! encoded against the node's first ID (its key in the stream's B-tree), with
//! field names elided when an entry has the same fields as the node's master
//! entry (the fields of the entry that opened the node).
//!
//! Layout (`varint` is LEB128):
//! ```text
//! header: varint nfields, nfields × (varint len, bytes)      master fields
//! entry:  u8 flags                                           DELETED=1, SAMEFIELDS=2
//!         varint ms - master.ms
//!         varint seq - master.seq   (when the ms delta is 0) or seq
//!         [varint nfields]                                   unless SAMEFIELDS
//!         nfields × ([varint len, field bytes] varint len, value bytes)
//! ```
//! Deleting an entry only sets its DELETED flag (as Redis does); a node whose
//! entries are all deleted is dropped by the stream.
//!
//! Besides its own bytes, a node keeps the size the same entries would take in
//! a Redis listpack ([`Node::listpack_bytes`]): `stream-node-max-bytes` is
//! measured in those units, so node boundaries (and with them `~` trimming and
//! XINFO's radix-tree counts) fall exactly where redis-server puts them, while
//! the block itself stays smaller than the listpack it mirrors.

use super::id::StreamId;

pub const FLAG_DELETED: u8 = 1;
pub const FLAG_SAMEFIELDS: u8 = 2;

/// A packed block of entries.
#[derive(Clone)]
pub struct Node {
    data: Vec<u8>,
    /// Offset of the first entry (just past the master fields).
    first: u32,
    /// Number of master fields.
    nmaster: u32,
    live: u32,
    deleted: u32,
    /// Listpack-equivalent bytes of everything but the frame and the two
    /// counters (which change size as they grow).
    lp_rest: u32,
}

/// One decoded entry of a node, borrowed from it.
#[derive(Clone, Copy)]
pub struct RawEntry<'a> {
    pub id: StreamId,
    pub flags: u8,
    /// Offset of the flags byte in the node.
    pub at: usize,
    data: &'a [u8],
    /// Offset of the first field (or value, with SAMEFIELDS).
    body: usize,
    nfields: usize,
    master: usize,
}

impl<'a> RawEntry<'a> {
    pub fn deleted(&self) -> bool {
        self.flags & FLAG_DELETED != 0
    }

    pub fn nfields(&self) -> usize {
        self.nfields
    }

    /// The field/value pairs, in insertion order.
    pub fn pairs(&self) -> Pairs<'a> {
        Pairs {
            data: self.data,
            pos: self.body,
            master: (self.flags & FLAG_SAMEFIELDS != 0).then_some(self.master),
            left: self.nfields,
        }
    }
}

/// Iterator over an entry's field/value pairs.
pub struct Pairs<'a> {
    data: &'a [u8],
    pos: usize,
    /// Cursor into the master fields when the entry elides its field names.
    master: Option<usize>,
    left: usize,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let field = match &mut self.master {
            Some(m) => {
                let (f, next) = get_bytes(self.data, *m);
                *m = next;
                f
            }
            None => {
                let (f, next) = get_bytes(self.data, self.pos);
                self.pos = next;
                f
            }
        };
        let (v, next) = get_bytes(self.data, self.pos);
        self.pos = next;
        Some((field, v))
    }
}

impl Node {
    /// A node whose master fields are those of `pairs` (field, value, ...).
    pub fn new(pairs: &[&[u8]]) -> Node {
        let nfields = pairs.len() / 2;
        let mut data = Vec::new();
        put_varint(&mut data, nfields as u64);
        let mut lp = lp_int_size(nfields as i64) + lp_int_size(0);
        for f in pairs.iter().step_by(2) {
            put_varint(&mut data, f.len() as u64);
            data.extend_from_slice(f);
            lp += lp_str_size(f);
        }
        Node {
            first: data.len() as u32,
            data,
            nmaster: nfields as u32,
            live: 0,
            deleted: 0,
            lp_rest: lp as u32,
        }
    }

    pub fn live(&self) -> usize {
        self.live as usize
    }

    /// Entries including those marked deleted.
    pub fn total(&self) -> usize {
        (self.live + self.deleted) as usize
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.data.capacity()
    }

    /// What Redis's listpack for this node would measure (`lpBytes`).
    pub fn listpack_bytes(&self) -> usize {
        7 + lp_int_size(self.live as i64) + lp_int_size(self.deleted as i64) + self.lp_rest as usize
    }

    /// Whether the fields of `pairs` are the master fields.
    fn same_fields(&self, pairs: &[&[u8]]) -> bool {
        if pairs.len() / 2 != self.nmaster as usize {
            return false;
        }
        let (_, mut pos) = get_varint(&self.data, 0);
        for f in pairs.iter().step_by(2) {
            let (m, next) = get_bytes(&self.data, pos);
            if m != *f {
                return false;
            }
            pos = next;
        }
        true
    }

    /// Appends entry `id` (greater than every ID in the node) with `pairs`.
    pub fn append(&mut self, master: StreamId, id: StreamId, pairs: &[&[u8]]) {
        let same = self.same_fields(pairs);
        let nfields = pairs.len() / 2;
        let ms_delta = id.ms.wrapping_sub(master.ms);
        let seq = if ms_delta == 0 {
            id.seq.wrapping_sub(master.seq)
        } else {
            id.seq
        };
        let mut need = 1 + varint_len(ms_delta) + varint_len(seq) + varint_len(nfields as u64);
        for p in pairs {
            need += varint_len(p.len() as u64) + p.len();
        }
        if self.data.capacity() - self.data.len() < need {
            // Grow by half again: appends are amortised, and the slack of a
            // node is returned by `seal` once the stream moves to a new node.
            let extra = need.max(self.data.len() / 2).max(64);
            self.data.reserve_exact(extra);
        }
        let flags = if same { FLAG_SAMEFIELDS } else { 0 };
        self.data.push(flags);
        put_varint(&mut self.data, ms_delta);
        put_varint(&mut self.data, seq);
        // Redis's listpack: flags, ms-diff, seq-diff, [nfields], ..., lp-count.
        let mut lp = lp_int_size(flags as i64)
            + lp_int_size(ms_delta as i64)
            + lp_int_size(id.seq.wrapping_sub(master.seq) as i64);
        let mut lp_count = nfields + 3;
        if !same {
            put_varint(&mut self.data, nfields as u64);
            lp += lp_int_size(nfields as i64);
            lp_count += nfields + 1;
        }
        for (i, p) in pairs.iter().enumerate() {
            if same && i % 2 == 0 {
                continue;
            }
            put_varint(&mut self.data, p.len() as u64);
            self.data.extend_from_slice(p);
            lp += lp_str_size(p);
        }
        lp += lp_int_size(lp_count as i64);
        self.lp_rest = self
            .lp_rest
            .saturating_add(lp.min(u32::MAX as usize) as u32);
        self.live += 1;
    }

    /// Returns the spare capacity of a node that will take no more entries.
    pub fn seal(&mut self) {
        self.data.shrink_to_fit();
    }

    /// Decodes the entry at `at`; returns it and the offset of the next one.
    pub fn entry_at(&self, master: StreamId, at: usize) -> (RawEntry<'_>, usize) {
        let d = &self.data[..];
        let flags = d[at];
        let (ms_delta, p) = get_varint(d, at + 1);
        let (seq, mut p) = get_varint(d, p);
        let id = StreamId {
            ms: master.ms.wrapping_add(ms_delta),
            seq: if ms_delta == 0 {
                master.seq.wrapping_add(seq)
            } else {
                seq
            },
        };
        let same = flags & FLAG_SAMEFIELDS != 0;
        let nfields = if same {
            self.nmaster as usize
        } else {
            let (n, q) = get_varint(d, p);
            p = q;
            n as usize
        };
        let body = p;
        let mut end = p;
        for _ in 0..if same { nfields } else { nfields * 2 } {
            end = skip_bytes(d, end);
        }
        let master_fields = get_varint(d, 0).1;
        (
            RawEntry {
                id,
                flags,
                at,
                data: d,
                body,
                nfields,
                master: master_fields,
            },
            end,
        )
    }

    /// Offset of the first entry.
    pub fn start(&self) -> usize {
        self.first as usize
    }

    /// Offset just past the last entry.
    pub fn end(&self) -> usize {
        self.data.len()
    }

    /// Offsets of every entry (deleted included), for walking backwards.
    pub fn offsets(&self, master: StreamId) -> Vec<usize> {
        let mut v = Vec::with_capacity(self.total());
        let mut at = self.start();
        while at < self.end() {
            v.push(at);
            at = self.entry_at(master, at).1;
        }
        v
    }

    /// The last entry's ID, deleted or not (Redis's lpGetEdgeStreamID).
    pub fn last_id(&self, master: StreamId) -> StreamId {
        let mut at = self.start();
        let mut last = master;
        while at < self.end() {
            let (e, next) = self.entry_at(master, at);
            last = e.id;
            at = next;
        }
        last
    }

    /// Marks the live entry at `at` deleted.
    pub fn mark_deleted(&mut self, at: usize) {
        if self.data[at] & FLAG_DELETED == 0 {
            self.data[at] |= FLAG_DELETED;
            self.live -= 1;
            self.deleted += 1;
        }
    }
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint written by [`put_varint`] (the node is only written by this
/// module, so the bytes are well formed).
fn get_varint(buf: &[u8], mut pos: usize) -> (u64, usize) {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[pos];
        pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return (v, pos);
        }
        shift += 7;
    }
}

fn get_bytes(buf: &[u8], pos: usize) -> (&[u8], usize) {
    let (n, p) = get_varint(buf, pos);
    let end = p + n as usize;
    (&buf[p..end], end)
}

fn skip_bytes(buf: &[u8], pos: usize) -> usize {
    let (n, p) = get_varint(buf, pos);
    p + n as usize
}

/// Bytes of an integer element in a listpack (encoding plus back-length).
pub fn lp_int_size(v: i64) -> usize {
    let enc = if (0..=127).contains(&v) {
        1
    } else if (-4096..=4095).contains(&v) {
        2
    } else if (-32768..=32767).contains(&v) {
        3
    } else if (-8_388_608..=8_388_607).contains(&v) {
        4
    } else if (-2_147_483_648..=2_147_483_647).contains(&v) {
        5
    } else {
        9
    };
    enc + 1
}

/// Bytes of a string element in a listpack (stored as an integer when it is
/// one, as lpAppend does).
pub fn lp_str_size(s: &[u8]) -> usize {
    if let Some(v) = crate::util::parse_i64_strict(s) {
        return lp_int_size(v);
    }
    let l = s.len();
    let enc = if l < 64 {
        1 + l
    } else if l < 4096 {
        2 + l
    } else {
        5 + l
    };
    let back = if enc <= 127 {
        1
    } else if enc < 16383 {
        2
    } else if enc < 2_097_151 {
        3
    } else if enc < 268_435_455 {
        4
    } else {
        5
    };
    enc + back
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_with_and_without_master_fields() {
        let m = StreamId::new(100, 5);
        let mut n = Node::new(&[b"a", b"1", b"b", b"2"]);
        n.append(m, m, &[b"a", b"1", b"b", b"2"]);
        n.append(m, StreamId::new(100, 6), &[b"a", b"x", b"b", b"y"]);
        n.append(m, StreamId::new(250, 0), &[b"c", b"3"]);
        let mut at = n.start();
        let mut got = Vec::new();
        while at < n.end() {
            let (e, next) = n.entry_at(m, at);
            got.push((e.id, e.flags, e.pairs().collect::<Vec<_>>()));
            at = next;
        }
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].0, m);
        assert_eq!(
            got[1].2,
            vec![(&b"a"[..], &b"x"[..]), (&b"b"[..], &b"y"[..])]
        );
        assert_eq!(got[1].1, FLAG_SAMEFIELDS);
        assert_eq!(got[2].0, StreamId::new(250, 0));
        assert_eq!(got[2].1, 0);
        assert_eq!(got[2].2, vec![(&b"c"[..], &b"3"[..])]);
        assert_eq!(n.last_id(m), StreamId::new(250, 0));
        assert_eq!(n.offsets(m).len(), 3);
        let second = n.offsets(m)[1];
        n.mark_deleted(second);
        assert_eq!((n.live(), n.total()), (2, 3));
        assert!(n.entry_at(m, second).0.deleted());
    }

    #[test]
    fn listpack_sizes_match_redis_encodings() {
        assert_eq!(lp_int_size(0), 2);
        assert_eq!(lp_int_size(128), 3);
        assert_eq!(lp_int_size(-1), 3);
        assert_eq!(lp_int_size(40000), 5);
        assert_eq!(lp_int_size(i64::MAX), 10);
        assert_eq!(lp_str_size(b"v"), 3);
        assert_eq!(lp_str_size(b"123"), 2);
        assert_eq!(lp_str_size(&[b'x'; 63]), 65);
        assert_eq!(lp_str_size(&[b'x'; 64]), 67);
        assert_eq!(lp_str_size(&[b'x'; 126]), 130);
        // One entry `f v` in a fresh node: a 29-byte listpack in Redis.
        let mut n = Node::new(&[b"f", b"v"]);
        n.append(StreamId::new(1, 0), StreamId::new(1, 0), &[b"f", b"v"]);
        assert_eq!(n.listpack_bytes(), 29);
    }
}
