//! The list value type (placeholder until its command family lands).

/// A list value.
#[derive(Clone, Default)]
pub struct List {}

impl List {
    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding_name(&self) -> &'static str {
        "quicklist"
    }

    pub fn memory_usage(&self) -> usize {
        0
    }
}
