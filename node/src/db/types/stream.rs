//! The stream value type (placeholder until its command family lands).

/// A stream value.
#[derive(Clone, Default)]
pub struct Stream {}

impl Stream {
    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding_name(&self) -> &'static str {
        "stream"
    }

    pub fn memory_usage(&self) -> usize {
        0
    }
}
