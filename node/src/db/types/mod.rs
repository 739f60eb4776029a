//! Collection values: the `Object` an entry points to when it is not a string.
//!
//! Each type lives in its own file with its compact and large encodings (as
//! Redis's listpack/intset versus hashtable/skiplist), converting between them at
//! the `*-max-listpack-*` thresholds, and reports Redis's OBJECT ENCODING name.
//! HyperLogLogs are strings, as in Redis, so they are not here.

pub mod dense;
pub mod hash;
pub mod intset;
pub mod list;
pub mod set;
pub mod stream;
pub mod zset;

pub use hash::Hash;
pub use list::List;
pub use set::Set;
pub use stream::Stream;
pub use zset::ZSet;

/// A collection value.
pub enum Object {
    Hash(Hash),
    List(List),
    Set(Set),
    ZSet(ZSet),
    Stream(Stream),
}

impl Object {
    /// Redis's TYPE name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Object::Hash(_) => "hash",
            Object::List(_) => "list",
            Object::Set(_) => "set",
            Object::ZSet(_) => "zset",
            Object::Stream(_) => "stream",
        }
    }

    /// Redis's OBJECT ENCODING name.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Object::Hash(h) => h.encoding_name(),
            Object::List(l) => l.encoding_name(),
            Object::Set(s) => s.encoding_name(),
            Object::ZSet(z) => z.encoding_name(),
            Object::Stream(_) => "stream",
        }
    }

    /// Heap bytes owned by the value (beyond the entry block).
    pub fn memory_usage(&self) -> usize {
        std::mem::size_of::<Object>()
            + match self {
                Object::Hash(h) => h.memory_usage(),
                Object::List(l) => l.memory_usage(),
                Object::Set(s) => s.memory_usage(),
                Object::ZSet(z) => z.memory_usage(),
                Object::Stream(s) => s.memory_usage(),
            }
    }

    /// Whether the collection has no elements (such keys are deleted, as in Redis;
    /// streams are the exception and may exist empty).
    pub fn is_empty(&self) -> bool {
        match self {
            Object::Hash(h) => h.len() == 0,
            Object::List(l) => l.len() == 0,
            Object::Set(s) => s.len() == 0,
            Object::ZSet(z) => z.len() == 0,
            Object::Stream(_) => false,
        }
    }

    /// A deep copy (COPY).
    pub fn duplicate(&self) -> Object {
        match self {
            Object::Hash(h) => Object::Hash(h.clone()),
            Object::List(l) => Object::List(l.clone()),
            Object::Set(s) => Object::Set(s.clone()),
            Object::ZSet(z) => Object::ZSet(z.clone()),
            Object::Stream(s) => Object::Stream(s.clone()),
        }
    }
}
