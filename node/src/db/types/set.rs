//! The set value type (placeholder until its command family lands).

/// A set value.
#[derive(Clone, Default)]
pub struct Set {}

impl Set {
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

    /// Members, in no particular order (sets as ZUNION/ZINTER/ZDIFF inputs).
    pub fn iter(&self) -> Box<dyn Iterator<Item = &[u8]> + '_> {
        Box::new(std::iter::empty())
    }

    pub fn contains(&self, _m: &[u8]) -> bool {
        false
    }
}
