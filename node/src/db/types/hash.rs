//! The hash value type (placeholder until its command family lands).

/// A hash value.
#[derive(Clone, Default)]
pub struct Hash {}

impl Hash {
    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding_name(&self) -> &'static str {
        "listpack"
    }

    pub fn memory_usage(&self) -> usize {
        0
    }
}
