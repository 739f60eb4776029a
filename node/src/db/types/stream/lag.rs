//! Consumer group progress (Redis 7.0): a group's logical read counter
//! (`entries-read`) and its lag, derived from the stream's `entries-added`,
//! first entry and largest deleted ID, as Redis does.

use super::group::{Group, INVALID_ENTRIES_READ};
use super::id::StreamId;
use super::Log;

impl Log {
    /// Whether a tombstone may lie at or after `start` (Redis's
    /// streamRangeHasTombstones with an open end).
    pub fn has_tombstones_from(&self, start: StreamId) -> bool {
        if self.length == 0 || self.max_deleted.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted {
            return false;
        }
        start <= self.max_deleted
    }

    /// The logical read counter of `id` when it can be known (Redis's
    /// streamEstimateDistanceFromFirstEverEntry), else INVALID_ENTRIES_READ.
    pub fn estimate_entries_read(&self, id: StreamId) -> i64 {
        let added = self.entries_added as i64;
        if self.entries_added == 0 {
            return 0;
        }
        if self.length == 0 && id <= self.last_id {
            return added;
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return added,
            std::cmp::Ordering::Greater => return INVALID_ENTRIES_READ,
            std::cmp::Ordering::Less => {}
        }
        if self.max_deleted.is_zero() || self.max_deleted < self.first_id {
            let base = added - self.length as i64;
            match id.cmp(&self.first_id) {
                std::cmp::Ordering::Less => return base,
                std::cmp::Ordering::Equal => return base + 1,
                std::cmp::Ordering::Greater => {}
            }
        }
        INVALID_ENTRIES_READ
    }

    /// A group's lag (entries not yet delivered), or None when unknown.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != INVALID_ENTRIES_READ && !self.has_tombstones_from(g.last_id) {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        match self.estimate_entries_read(g.last_id) {
            INVALID_ENTRIES_READ => None,
            read => Some(self.entries_added as i64 - read),
        }
    }

    /// Advances a group past `id` on delivery, keeping its read counter.
    pub fn advance_group(&self, g: &mut Group, id: StreamId) {
        if id <= g.last_id {
            return;
        }
        if g.entries_read != INVALID_ENTRIES_READ && !self.has_tombstones_from(id) {
            g.entries_read += 1;
        } else if self.entries_added > 0 {
            g.entries_read = self.estimate_entries_read(id);
        }
        g.last_id = id;
    }
}
