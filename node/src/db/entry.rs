//! One key and its value in a single allocation.
//!
//! Layout (all in one 8-aligned block, so that the table can pack the pointer):
//!
//! ```text
//! [flags u8][access u24][key len varint][key][expire i64 LE, if flagged][value]
//! value = inline string: [len varint][bytes]
//!       | heap string:   [*mut Vec<u8>]   (large or often-appended strings)
//!       | object:        [*mut Object]    (hash, list, set, sorted set, stream)
//! ```
//!
//! `access` is the 24-bit LRU clock (seconds) or, under an LFU policy, Redis's
//! 16-bit minutes + 8-bit logarithmic counter, as in Redis's `robj.lru`.
//! A 10-byte key with a 32-byte value takes 48 bytes, one allocator size class,
//! against roughly 100 bytes for the same pair in Redis (dictEntry + robj + sds).

use std::alloc::{alloc, dealloc, Layout};
use std::ptr::NonNull;

use super::types::Object;

const ENC_MASK: u8 = 0b0000_0011;
const ENC_INLINE: u8 = 0;
const ENC_HEAP: u8 = 1;
const ENC_OBJ: u8 = 2;
const HAS_EXPIRE: u8 = 0b0000_0100;

/// Strings longer than this live in their own growable buffer (Redis's "raw"
/// encoding); shorter ones are stored inline ("embstr"/"int").
pub const INLINE_MAX: usize = 44;

fn varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Writes `v` at `p`; returns the bytes written.
///
/// # Safety
/// `p` must have room for `varint_len(v)` bytes.
unsafe fn put_varint(p: *mut u8, mut v: usize) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        *p.add(i) = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    *p.add(i) = v as u8;
    i + 1
}

/// Reads a varint at `p`; returns (value, bytes read).
///
/// # Safety
/// `p` must point at a varint written by `put_varint`.
#[inline]
unsafe fn get_varint(p: *const u8) -> (usize, usize) {
    let mut v = 0usize;
    let mut shift = 0;
    let mut i = 0;
    loop {
        let b = *p.add(i);
        v |= ((b & 0x7f) as usize) << shift;
        i += 1;
        if b & 0x80 == 0 {
            return (v, i);
        }
        shift += 7;
    }
}

/// The value held by an entry, borrowed.
pub enum ValueRef<'a> {
    Str(&'a [u8]),
    Obj(&'a Object),
}

/// An owned entry. Dropping it frees the block and anything it points to.
pub struct Entry {
    ptr: NonNull<u8>,
}

// The block is owned uniquely by this handle (or by the table slot it came from).
unsafe impl Send for Entry {}

/// A borrowed entry that lives in a table; never freed through the view.
pub struct EntryView<'a> {
    entry: std::mem::ManuallyDrop<Entry>,
    _life: std::marker::PhantomData<&'a mut ()>,
}

impl std::ops::Deref for EntryView<'_> {
    type Target = Entry;
    fn deref(&self) -> &Entry {
        &self.entry
    }
}

impl std::ops::DerefMut for EntryView<'_> {
    fn deref_mut(&mut self) -> &mut Entry {
        &mut self.entry
    }
}

struct Parts {
    flags: u8,
    key_off: usize,
    key_len: usize,
    expire_off: usize,
    value_off: usize,
}

impl Entry {
    fn layout(size: usize) -> Layout {
        // Size is at most a few bytes over a bounded key/value length, and 8 is a
        // valid alignment, so this cannot fail.
        Layout::from_size_align(size, 8).expect("entry layout")
    }

    fn alloc_block(size: usize) -> NonNull<u8> {
        let layout = Self::layout(size);
        // SAFETY: size > 0 (at least the flags and key length).
        let p = unsafe { alloc(layout) };
        match NonNull::new(p) {
            Some(p) => p,
            None => std::alloc::handle_alloc_error(layout),
        }
    }

    /// Allocates a block of `key`, `expire` and `value_size` value bytes, writes
    /// everything but the value, and returns the block and the value's offset.
    fn with_header(
        key: &[u8],
        expire: Option<i64>,
        access: u32,
        enc: u8,
        value_size: usize,
    ) -> (NonNull<u8>, usize) {
        let size = 4
            + varint_len(key.len())
            + key.len()
            + if expire.is_some() { 8 } else { 0 }
            + value_size;
        let ptr = Self::alloc_block(size);
        // SAFETY: every write below stays within the `size` bytes computed above;
        // the caller writes the `value_size` bytes that follow.
        let off = unsafe {
            let p = ptr.as_ptr();
            *p = enc | if expire.is_some() { HAS_EXPIRE } else { 0 };
            let a = access.to_le_bytes();
            std::ptr::copy_nonoverlapping(a.as_ptr(), p.add(1), 3);
            let mut off = 4 + put_varint(p.add(4), key.len());
            std::ptr::copy_nonoverlapping(key.as_ptr(), p.add(off), key.len());
            off += key.len();
            if let Some(at) = expire {
                std::ptr::copy_nonoverlapping(at.to_le_bytes().as_ptr(), p.add(off), 8);
                off += 8;
            }
            off
        };
        (ptr, off)
    }

    /// A string entry. `access` is the initial LRU/LFU word.
    pub fn new_string(key: &[u8], value: &[u8], expire: Option<i64>, access: u32) -> Entry {
        if value.len() > INLINE_MAX {
            return Self::new_heap_string(key, value.to_vec(), expire, access);
        }
        let value_size = varint_len(value.len()) + value.len();
        let (ptr, off) = Self::with_header(key, expire, access, ENC_INLINE, value_size);
        // SAFETY: `with_header` left `value_size` bytes at `off` for the value.
        unsafe {
            let p = ptr.as_ptr().add(off);
            let n = put_varint(p, value.len());
            std::ptr::copy_nonoverlapping(value.as_ptr(), p.add(n), value.len());
        }
        Entry { ptr }
    }

    /// A string kept in its own growable buffer (Redis's "raw" encoding).
    fn new_heap_string(key: &[u8], value: Vec<u8>, expire: Option<i64>, access: u32) -> Entry {
        let (ptr, off) = Self::with_header(key, expire, access, ENC_HEAP, 8);
        // SAFETY: `with_header` left 8 bytes at `off` for the pointer.
        unsafe {
            let boxed = Box::into_raw(Box::new(value));
            std::ptr::write_unaligned(ptr.as_ptr().add(off) as *mut *mut Vec<u8>, boxed);
        }
        Entry { ptr }
    }

    /// An entry holding a collection (hash, list, set, sorted set, stream).
    pub fn new_object(key: &[u8], obj: Object, expire: Option<i64>, access: u32) -> Entry {
        let (ptr, off) = Self::with_header(key, expire, access, ENC_OBJ, 8);
        // SAFETY: `with_header` left 8 bytes at `off` for the pointer.
        unsafe {
            let boxed = Box::into_raw(Box::new(obj));
            std::ptr::write_unaligned(ptr.as_ptr().add(off) as *mut *mut Object, boxed);
        }
        Entry { ptr }
    }

    /// A string entry that owns an already built buffer (no copy for large values).
    pub fn new_string_owned(key: &[u8], value: Vec<u8>, expire: Option<i64>, access: u32) -> Entry {
        if value.len() <= INLINE_MAX {
            return Self::new_string(key, &value, expire, access);
        }
        Self::new_heap_string(key, value, expire, access)
    }

    #[inline]
    fn parts(&self) -> Parts {
        // SAFETY: the block was written by a constructor above and is immutable in
        // shape for its lifetime.
        unsafe {
            let p = self.ptr.as_ptr();
            let flags = *p;
            let (key_len, n) = get_varint(p.add(4));
            let key_off = 4 + n;
            let expire_off = key_off + key_len;
            let value_off = expire_off + if flags & HAS_EXPIRE != 0 { 8 } else { 0 };
            Parts {
                flags,
                key_off,
                key_len,
                expire_off,
                value_off,
            }
        }
    }

    fn block_size(&self) -> usize {
        let parts = self.parts();
        match parts.flags & ENC_MASK {
            ENC_INLINE => {
                // SAFETY: the value length varint sits at value_off.
                let (len, n) = unsafe { get_varint(self.ptr.as_ptr().add(parts.value_off)) };
                parts.value_off + n + len
            }
            _ => parts.value_off + 8,
        }
    }

    /// The raw pointer, for the table. Ownership passes to the caller.
    pub fn into_raw(self) -> *mut u8 {
        let p = self.ptr.as_ptr();
        std::mem::forget(self);
        p
    }

    /// # Safety
    /// `p` must come from [`Entry::into_raw`] and not be owned by anything else.
    pub unsafe fn from_raw(p: *mut u8) -> Entry {
        Entry {
            ptr: NonNull::new_unchecked(p),
        }
    }

    /// A non-owning view of the entry behind a raw table pointer.
    ///
    /// # Safety
    /// `p` must come from [`Entry::into_raw`] and stay alive, and not be viewed
    /// mutably elsewhere, for `'a`.
    #[inline]
    pub unsafe fn view<'a>(p: *mut u8) -> EntryView<'a> {
        EntryView {
            entry: std::mem::ManuallyDrop::new(Entry::from_raw(p)),
            _life: std::marker::PhantomData,
        }
    }

    #[inline]
    pub fn key(&self) -> &[u8] {
        let parts = self.parts();
        // SAFETY: key bytes are at key_off..key_off+key_len within the block.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(parts.key_off), parts.key_len) }
    }

    /// Absolute expiry time in Unix milliseconds, if any.
    #[inline]
    pub fn expire(&self) -> Option<i64> {
        let parts = self.parts();
        if parts.flags & HAS_EXPIRE == 0 {
            return None;
        }
        let mut b = [0u8; 8];
        // SAFETY: 8 expire bytes follow the key when the flag is set.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.ptr.as_ptr().add(parts.expire_off),
                b.as_mut_ptr(),
                8,
            )
        };
        Some(i64::from_le_bytes(b))
    }

    /// Overwrites an existing expiry in place (the entry must already have one).
    pub fn set_expire_in_place(&mut self, at: i64) -> bool {
        let parts = self.parts();
        if parts.flags & HAS_EXPIRE == 0 {
            return false;
        }
        // SAFETY: as in `expire`.
        unsafe {
            std::ptr::copy_nonoverlapping(
                at.to_le_bytes().as_ptr(),
                self.ptr.as_ptr().add(parts.expire_off),
                8,
            )
        };
        true
    }

    /// The same value under another key, with `expire`; the value moves, it is
    /// not copied (a heap value's buffer changes owner, not place). For RENAME.
    pub fn renamed(self, key: &[u8], expire: Option<i64>) -> Entry {
        self.rebuild(Some(key), expire)
    }

    /// The same key and value with another expiry (adding or removing the
    /// expiry field changes the block's size, hence a new block); the value
    /// moves, it is not copied.
    pub fn with_expire(self, expire: Option<i64>) -> Entry {
        self.rebuild(None, expire)
    }

    /// A new block for `key` (or this entry's own key) and `expire`, followed by
    /// this entry's value bytes verbatim. The value tail is position-independent
    /// (inline bytes, or a pointer the new block now owns), so it can move as is.
    fn rebuild(self, key: Option<&[u8]>, expire: Option<i64>) -> Entry {
        let parts = self.parts();
        let old_size = self.block_size();
        let tail = old_size - parts.value_off;
        let key = key.unwrap_or_else(|| self.key());
        let size =
            4 + varint_len(key.len()) + key.len() + if expire.is_some() { 8 } else { 0 } + tail;
        let ptr = Self::alloc_block(size);
        // SAFETY: the writes stay within `size` bytes laid out as in `new_string`;
        // `key` may point into the old block, which is freed only after the copy.
        unsafe {
            let p = ptr.as_ptr();
            let old = self.ptr.as_ptr();
            *p = (parts.flags & !HAS_EXPIRE) | if expire.is_some() { HAS_EXPIRE } else { 0 };
            std::ptr::copy_nonoverlapping(old.add(1), p.add(1), 3);
            let mut off = 4 + put_varint(p.add(4), key.len());
            std::ptr::copy_nonoverlapping(key.as_ptr(), p.add(off), key.len());
            off += key.len();
            if let Some(at) = expire {
                std::ptr::copy_nonoverlapping(at.to_le_bytes().as_ptr(), p.add(off), 8);
                off += 8;
            }
            std::ptr::copy_nonoverlapping(old.add(parts.value_off), p.add(off), tail);
            // The value now belongs to the new block: free only the old block.
            dealloc(old, Self::layout(old_size));
        }
        std::mem::forget(self);
        Entry { ptr }
    }

    /// Whether the TTL has passed. Never while the AOF is being loaded, as in
    /// Redis: the file's own `DEL`s do the deleting, and a command replayed
    /// later than it first ran must see the keys it saw then.
    #[inline]
    pub fn is_expired(&self, now_ms: i64) -> bool {
        matches!(self.expire(), Some(at) if at <= now_ms && !super::loading())
    }

    #[inline]
    pub fn access(&self) -> u32 {
        let mut b = [0u8; 4];
        // SAFETY: bytes 1..4 are the access word.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.as_ptr().add(1), b.as_mut_ptr(), 3) };
        u32::from_le_bytes(b)
    }

    #[inline]
    pub fn set_access(&mut self, v: u32) {
        let b = v.to_le_bytes();
        // SAFETY: bytes 1..4 are the access word.
        unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), self.ptr.as_ptr().add(1), 3) };
    }

    #[inline]
    pub fn value(&self) -> ValueRef<'_> {
        // SAFETY: `self` owns (or views) a live block.
        unsafe { Self::value_at(self.ptr.as_ptr()) }
    }

    /// The value of the block at `p`, borrowed for a caller-chosen lifetime.
    ///
    /// # Safety
    /// `p` must be a live entry block that outlives `'a` and is not mutated
    /// during `'a`.
    #[inline]
    pub unsafe fn value_at<'a>(p: *mut u8) -> ValueRef<'a> {
        let e = std::mem::ManuallyDrop::new(Entry {
            ptr: NonNull::new_unchecked(p),
        });
        let parts = e.parts();
        let v = p.add(parts.value_off);
        match parts.flags & ENC_MASK {
            ENC_INLINE => {
                let (len, n) = get_varint(v);
                ValueRef::Str(std::slice::from_raw_parts(v.add(n), len))
            }
            ENC_HEAP => {
                let b = std::ptr::read_unaligned(v as *const *mut Vec<u8>);
                ValueRef::Str((*b).as_slice())
            }
            _ => {
                let o = std::ptr::read_unaligned(v as *const *mut Object);
                ValueRef::Obj(&*o)
            }
        }
    }

    /// The collection held by the block at `p`, mutably, for a caller-chosen
    /// lifetime; `None` for strings.
    ///
    /// # Safety
    /// `p` must be a live entry block, exclusively borrowed for `'a`.
    #[inline]
    pub unsafe fn object_at<'a>(p: *mut u8) -> Option<&'a mut Object> {
        let e = std::mem::ManuallyDrop::new(Entry {
            ptr: NonNull::new_unchecked(p),
        });
        let parts = e.parts();
        if parts.flags & ENC_MASK != ENC_OBJ {
            return None;
        }
        let o = std::ptr::read_unaligned(p.add(parts.value_off) as *const *mut Object);
        Some(&mut *o)
    }

    /// The collection held by this entry, mutably (`None` for strings).
    pub fn object_mut(&mut self) -> Option<&mut Object> {
        // SAFETY: `&mut self` gives exclusive access to the block.
        unsafe { Self::object_at(self.ptr.as_ptr()) }
    }

    /// The growable buffer of a heap string, for in-place APPEND/SETRANGE.
    pub fn heap_string_mut(&mut self) -> Option<&mut Vec<u8>> {
        let parts = self.parts();
        if parts.flags & ENC_MASK != ENC_HEAP {
            return None;
        }
        // SAFETY: a heap string stores an owned `Box<Vec<u8>>` pointer at value_off.
        unsafe {
            let p = self.ptr.as_ptr().add(parts.value_off);
            let v = std::ptr::read_unaligned(p as *const *mut Vec<u8>);
            Some(&mut *v)
        }
    }

    /// Redis's OBJECT ENCODING name for this value.
    pub fn encoding_name(&self) -> &'static str {
        match self.value() {
            ValueRef::Str(s) => {
                if s.len() <= 20 && crate::util::parse_i64_strict(s).is_some() {
                    "int"
                } else if self.parts().flags & ENC_MASK == ENC_INLINE {
                    "embstr"
                } else {
                    "raw"
                }
            }
            ValueRef::Obj(o) => o.encoding_name(),
        }
    }

    /// Bytes this entry occupies, for MEMORY USAGE and INFO.
    pub fn memory_usage(&self) -> usize {
        let mut n = self.block_size();
        if let Some(v) = self.heap_vec() {
            n += std::mem::size_of::<Vec<u8>>() + v.capacity();
        }
        if let ValueRef::Obj(o) = self.value() {
            n += o.memory_usage();
        }
        n
    }

    fn heap_vec(&self) -> Option<&Vec<u8>> {
        let parts = self.parts();
        if parts.flags & ENC_MASK != ENC_HEAP {
            return None;
        }
        // SAFETY: see `heap_string_mut`.
        unsafe {
            let p = self.ptr.as_ptr().add(parts.value_off);
            Some(&*std::ptr::read_unaligned(p as *const *mut Vec<u8>))
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let size = self.block_size();
        let parts = self.parts();
        // SAFETY: we own the block and, for heap strings, the boxed Vec.
        unsafe {
            let p = self.ptr.as_ptr().add(parts.value_off);
            match parts.flags & ENC_MASK {
                ENC_HEAP => drop(Box::from_raw(std::ptr::read_unaligned(
                    p as *const *mut Vec<u8>,
                ))),
                ENC_OBJ => drop(Box::from_raw(std::ptr::read_unaligned(
                    p as *const *mut Object,
                ))),
                _ => {}
            }
            dealloc(self.ptr.as_ptr(), Self::layout(size));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(e: &Entry) -> Vec<u8> {
        match e.value() {
            ValueRef::Str(v) => v.to_vec(),
            ValueRef::Obj(_) => panic!("not a string"),
        }
    }

    #[test]
    fn inline_and_heap_strings_round_trip() {
        for len in [0usize, 1, 44, 45, 200, 70_000] {
            let v: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let e = Entry::new_string(b"k", &v, None, 0);
            assert_eq!(s(&e), v);
            assert_eq!(e.key(), b"k");
            assert_eq!(e.expire(), None);
        }
    }

    #[test]
    fn expire_and_access_fields() {
        let mut e = Entry::new_string(&[7u8; 300], b"v", Some(1234), 0x00ab_cdef);
        assert_eq!(e.expire(), Some(1234));
        assert_eq!(e.access(), 0x00ab_cdef);
        assert!(e.set_expire_in_place(99));
        assert_eq!(e.expire(), Some(99));
        e.set_access(5);
        assert_eq!(e.access(), 5);
        assert_eq!(e.key(), &[7u8; 300][..]);
        assert_eq!(s(&e), b"v");
    }

    #[test]
    fn raw_round_trip_and_encoding_names() {
        let e = Entry::new_string(b"key:1", b"12345", None, 0);
        assert_eq!(e.encoding_name(), "int");
        let p = e.into_raw();
        let e = unsafe { Entry::from_raw(p) };
        assert_eq!(e.key(), b"key:1");
        assert_eq!(
            Entry::new_string(b"a", b"hello", None, 0).encoding_name(),
            "embstr"
        );
        assert_eq!(
            Entry::new_string(b"a", &[b'x'; 45], None, 0).encoding_name(),
            "raw"
        );
        let mut big = Entry::new_string_owned(b"a", vec![b'y'; 100], Some(5), 0);
        big.heap_string_mut().expect("heap").push(b'z');
        assert_eq!(s(&big).len(), 101);
        assert_eq!(big.expire(), Some(5));
    }

    #[test]
    fn rebuild_moves_the_value_and_keeps_access() {
        let big: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        for value in [&b"small"[..], &big[..]] {
            let e = Entry::new_string(b"old-key", value, None, 0x0012_3456);
            let e = e.with_expire(Some(77));
            assert_eq!(
                (e.key(), e.expire(), e.access()),
                (&b"old-key"[..], Some(77), 0x0012_3456)
            );
            assert_eq!(s(&e), value);
            let e = e.renamed(b"a-much-longer-new-key-name", Some(5));
            assert_eq!(
                (e.key(), e.expire()),
                (&b"a-much-longer-new-key-name"[..], Some(5))
            );
            let e = e.with_expire(None);
            assert_eq!((e.expire(), e.access()), (None, 0x0012_3456));
            assert_eq!(s(&e), value);
            assert_eq!(
                e.encoding_name(),
                if value.len() > INLINE_MAX {
                    "raw"
                } else {
                    "embstr"
                }
            );
        }
    }

    #[test]
    fn benchmark_pair_fits_one_size_class() {
        let e = Entry::new_string(b"key:999999", &[b'x'; 32], None, 0);
        assert_eq!(e.block_size(), 48);
    }
}
