//! The hash value type: `listpack` (fields and values back to back in one
//! buffer, in insertion order, as Redis's listpack) while it has at most
//! `hash-max-listpack-entries` fields and no field or value longer than
//! `hash-max-listpack-value`, then `hashtable` (one way, as in Redis).
//!
//! The compact form is `[len][field][len][value]...` with LEB128 lengths: a
//! 10-field hash of short strings is one allocation of about 20 bytes a pair.

use super::dense::{Dense, Keyed};

/// Encoding thresholds, read from the config for each write.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub entries: usize,
    pub value: usize,
}

/// A hash value.
#[derive(Clone)]
pub enum Hash {
    Listpack(Vec<u8>),
    Table(Box<Dense<Pair>>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Listpack(Vec::new())
    }
}

/// A field and its value in one allocation: `[len][field][value]`.
#[derive(Clone)]
pub struct Pair(Box<[u8]>);

impl Pair {
    fn new(field: &[u8], value: &[u8]) -> Pair {
        let mut b = Vec::with_capacity(varint_len(field.len()) + field.len() + value.len());
        put_varint(&mut b, field.len());
        b.extend_from_slice(field);
        b.extend_from_slice(value);
        Pair(b.into_boxed_slice())
    }

    fn split(&self) -> (&[u8], &[u8]) {
        // Built by `Pair::new`, so the length prefix is valid and in bounds.
        let (flen, n) = get_varint(&self.0, 0).expect("pair header");
        let (f, v) = self.0[n..].split_at(flen);
        (f, v)
    }

    pub fn field(&self) -> &[u8] {
        self.split().0
    }

    pub fn value(&self) -> &[u8] {
        self.split().1
    }
}

impl Keyed for Pair {
    #[inline]
    fn key(&self) -> &[u8] {
        self.field()
    }
    fn heap_bytes(&self) -> usize {
        self.0.len()
    }
}

fn varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// (value, bytes read) of the varint at `at`.
fn get_varint(buf: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut v = 0usize;
    for (i, &b) in buf.get(at..)?.iter().enumerate().take(10) {
        v |= ((b & 0x7f) as usize) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// One listpack entry: where its field, value and successor are.
struct LpEntry {
    start: usize,
    field: std::ops::Range<usize>,
    value: std::ops::Range<usize>,
}

/// Walks the listpack buffer `buf`.
struct LpIter<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Iterator for LpIter<'_> {
    type Item = LpEntry;
    fn next(&mut self) -> Option<LpEntry> {
        let start = self.at;
        let (flen, n) = get_varint(self.buf, start)?;
        let fs = start + n;
        let (vlen, m) = get_varint(self.buf, fs + flen)?;
        let vs = fs + flen + m;
        self.at = vs + vlen;
        Some(LpEntry {
            start,
            field: fs..fs + flen,
            value: vs..vs + vlen,
        })
    }
}

fn lp_iter(buf: &[u8]) -> LpIter<'_> {
    LpIter { buf, at: 0 }
}

fn lp_find(buf: &[u8], field: &[u8]) -> Option<LpEntry> {
    lp_iter(buf).find(|e| &buf[e.field.clone()] == field)
}

/// Random access to a hash's pairs (HRANDFIELD): a listpack is indexed once.
pub enum Indexed<'a> {
    Listpack(Vec<(&'a [u8], &'a [u8])>),
    Table(&'a Dense<Pair>),
}

impl<'a> Indexed<'a> {
    pub fn len(&self) -> usize {
        match self {
            Indexed::Listpack(v) => v.len(),
            Indexed::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pair at `i` (`i < len`).
    pub fn get(&self, i: usize) -> Option<(&'a [u8], &'a [u8])> {
        match self {
            Indexed::Listpack(v) => v.get(i).copied(),
            Indexed::Table(t) => t.get(i).map(|p| p.split()),
        }
    }
}

impl Hash {
    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(b) => lp_iter(b).count(),
            Hash::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Hash::Listpack(b) => b.is_empty(),
            Hash::Table(t) => t.is_empty(),
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    pub fn memory_usage(&self) -> usize {
        match self {
            Hash::Listpack(b) => b.capacity(),
            Hash::Table(t) => std::mem::size_of::<Dense<Pair>>() + t.memory_usage(),
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Listpack(b) => lp_find(b, field).map(|e| &b[e.value]),
            Hash::Table(t) => t.find(field).and_then(|p| t.get(p)).map(Pair::value),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Converts to the hashtable encoding (no-op when already there).
    fn ensure_table(&mut self) -> &mut Dense<Pair> {
        if let Hash::Listpack(b) = self {
            let mut t = Dense::with_capacity(lp_iter(b).count());
            for e in lp_iter(b) {
                t.push(Pair::new(&b[e.field], &b[e.value]));
            }
            *self = Hash::Table(Box::new(t));
        }
        match self {
            Hash::Table(t) => t,
            Hash::Listpack(_) => unreachable!("converted above"),
        }
    }

    /// Redis's `hashTypeTryConversion`: before HSET/HSETNX/HMSET write anything,
    /// a field or value longer than the limit converts the hash.
    pub fn convert_for<'x>(&mut self, args: impl IntoIterator<Item = &'x [u8]>, lim: Limits) {
        if matches!(self, Hash::Listpack(_)) && args.into_iter().any(|a| a.len() > lim.value) {
            self.ensure_table();
        }
    }

    /// Makes room for the pairs a command is about to set, so a multi-field
    /// HSET grows a listpack once instead of once per field (fewer partly
    /// used allocator pages); [`Hash::trim`] gives back what was not used.
    pub fn reserve_for<'x>(&mut self, pairs: impl IntoIterator<Item = &'x [u8]>) {
        if let Hash::Listpack(b) = self {
            let add: usize = pairs
                .into_iter()
                .map(|a| varint_len(a.len()) + a.len())
                .sum();
            b.reserve_exact(add);
        }
    }

    /// Drops unused listpack capacity.
    pub fn trim(&mut self) {
        if let Hash::Listpack(b) = self {
            if b.capacity() > b.len() {
                b.shrink_to_fit();
            }
        }
    }

    /// Sets `field` to `value`; true when the field is new. Converts when the
    /// pair is too long for the listpack or the field count passes the limit.
    pub fn set(&mut self, field: &[u8], value: &[u8], lim: Limits) -> bool {
        if field.len() > lim.value || value.len() > lim.value {
            self.ensure_table();
        }
        match self {
            Hash::Listpack(b) => {
                if let Some(e) = lp_find(b, field) {
                    let mut enc = Vec::with_capacity(varint_len(value.len()) + value.len());
                    put_varint(&mut enc, value.len());
                    enc.extend_from_slice(value);
                    let old = e.value.start - varint_len(e.value.len())..e.value.end;
                    b.splice(old, enc);
                    return false;
                }
                let add =
                    varint_len(field.len()) + field.len() + varint_len(value.len()) + value.len();
                // Exact growth, as a listpack reallocs per insert: a small hash
                // then costs its bytes, not a doubled capacity.
                b.reserve_exact(add);
                put_varint(b, field.len());
                b.extend_from_slice(field);
                put_varint(b, value.len());
                b.extend_from_slice(value);
                if lp_iter(b).count() > lim.entries {
                    self.ensure_table();
                }
                true
            }
            Hash::Table(t) => match t.find(field) {
                Some(p) => {
                    t.replace(p, Pair::new(field, value));
                    false
                }
                None => {
                    t.push(Pair::new(field, value));
                    true
                }
            },
        }
    }

    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(b) => match lp_find(b, field) {
                Some(e) => {
                    b.drain(e.start..e.value.end);
                    b.shrink_to_fit();
                    true
                }
                None => false,
            },
            Hash::Table(t) => match t.find(field) {
                Some(p) => {
                    t.swap_remove(p);
                    true
                }
                None => false,
            },
        }
    }

    /// Pairs in encoding order (insertion order for a listpack).
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match self {
            Hash::Listpack(b) => Box::new(lp_iter(b).map(move |e| (&b[e.field], &b[e.value]))),
            Hash::Table(t) => Box::new(t.iter().map(Pair::split)),
        }
    }

    pub fn indexed(&self) -> Indexed<'_> {
        match self {
            Hash::Listpack(_) => Indexed::Listpack(self.iter().collect()),
            Hash::Table(t) => Indexed::Table(t),
        }
    }

    /// One HSCAN step: a listpack is returned whole with cursor 0, as in Redis;
    /// see [`Dense::scan`] for the hashtable cursor.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], &[u8])) -> u64 {
        match self {
            Hash::Listpack(_) => {
                self.iter().for_each(|(k, v)| f(k, v));
                0
            }
            Hash::Table(t) => t.scan(cursor, count, |p| {
                let (k, v) = p.split();
                f(k, v)
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: Limits = Limits {
        entries: 4,
        value: 8,
    };

    #[test]
    fn listpack_keeps_order_and_replaces_in_place() {
        let mut h = Hash::default();
        assert!(h.set(b"a", b"1", LIM));
        assert!(h.set(b"b", b"2", LIM));
        assert!(!h.set(b"a", b"long one", LIM));
        assert!(h.set(b"c", b"", LIM));
        let pairs: Vec<_> = h.iter().collect();
        assert_eq!(
            pairs,
            vec![(&b"a"[..], &b"long one"[..]), (b"b", b"2"), (b"c", b"")]
        );
        assert!(h.remove(b"b") && !h.remove(b"b"));
        assert_eq!(h.get(b"c"), Some(&b""[..]));
        assert_eq!(h.len(), 2);
        assert_eq!(h.encoding_name(), "listpack");
    }

    #[test]
    fn converts_on_count_and_length() {
        let mut h = Hash::default();
        for i in 0..5 {
            h.set(format!("f{i}").as_bytes(), b"v", LIM);
        }
        assert_eq!(h.encoding_name(), "hashtable");
        assert_eq!(h.get(b"f3"), Some(&b"v"[..]));
        let mut g = Hash::default();
        g.set(b"x", b"123456789", LIM);
        assert_eq!(g.encoding_name(), "hashtable");
        let mut k = Hash::default();
        k.convert_for([&b"short"[..], b"far too long"], LIM);
        assert_eq!(k.encoding_name(), "hashtable");
        assert!(k.set(b"f", &[b'x'; 200], LIM));
        assert_eq!(k.get(b"f").map(<[u8]>::len), Some(200));
        assert!(k.remove(b"f") && k.is_empty());
    }
}
