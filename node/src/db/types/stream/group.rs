//! Consumer groups: the last delivered ID and logical read counter of a group,
//! its pending entries list (PEL) and its consumers, each with its own PEL.
//!
//! A pending entry lives once, in the group's PEL, and names its consumer; the
//! consumer's PEL is the set of IDs it owns. Groups and consumers are kept in
//! name order, as Redis's radix trees list them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::id::StreamId;

/// Redis's SCG_INVALID_ENTRIES_READ: the group's read counter is unknown.
pub const INVALID_ENTRIES_READ: i64 = -1;

/// A pending (delivered, unacknowledged) entry.
#[derive(Clone, Debug)]
pub struct Nack {
    /// Unix ms of the last delivery.
    pub delivery_time: i64,
    pub delivery_count: u64,
    pub consumer: Arc<[u8]>,
}

#[derive(Clone, Debug)]
pub struct Consumer {
    pub name: Arc<[u8]>,
    /// Unix ms of the consumer's last interaction.
    pub seen_time: i64,
    pub pel: BTreeSet<StreamId>,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub last_id: StreamId,
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Arc<[u8]>, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// The consumer `name`, created when missing; the flag says it was created.
    pub fn consumer_or_create(&mut self, name: &[u8], now_ms: i64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        if created {
            let name: Arc<[u8]> = Arc::from(name);
            self.consumers.insert(
                name.clone(),
                Consumer {
                    name,
                    seen_time: now_ms,
                    pel: BTreeSet::new(),
                },
            );
        }
        let c = self
            .consumers
            .get_mut(name)
            .expect("consumer exists: found or just inserted");
        (c, created)
    }

    /// Creates `name` if missing; returns whether it was created.
    pub fn create_consumer(&mut self, name: &[u8], now_ms: i64) -> bool {
        self.consumer_or_create(name, now_ms).1
    }

    /// Deletes a consumer and its pending entries; returns how many it had, or
    /// None when there was no such consumer.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }

    /// Acknowledges `id`; returns whether it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(nack) = self.pel.remove(&id) else {
            return false;
        };
        if let Some(c) = self.consumers.get_mut(&nack.consumer) {
            c.pel.remove(&id);
        }
        true
    }

    /// Records a delivery of `id` to `consumer` (XREADGROUP): a new pending
    /// entry, or an existing one moved to this consumer with its count reset.
    pub fn deliver(&mut self, id: StreamId, consumer: &Arc<[u8]>, now_ms: i64) {
        let nack = Nack {
            delivery_time: now_ms,
            delivery_count: 1,
            consumer: consumer.clone(),
        };
        if let Some(old) = self.pel.insert(id, nack) {
            if old.consumer != *consumer {
                if let Some(c) = self.consumers.get_mut(&old.consumer) {
                    c.pel.remove(&id);
                }
            }
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }

    /// Moves the pending entry `id` to `consumer` (XCLAIM, XAUTOCLAIM).
    pub fn transfer(&mut self, id: StreamId, consumer: &Arc<[u8]>) {
        let Some(nack) = self.pel.get_mut(&id) else {
            return;
        };
        if nack.consumer == *consumer {
            return;
        }
        let old = std::mem::replace(&mut nack.consumer, consumer.clone());
        if let Some(c) = self.consumers.get_mut(&old) {
            c.pel.remove(&id);
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }

    /// Heap bytes, roughly (B-tree slots and names).
    pub fn heap_bytes(&self) -> usize {
        let nack = std::mem::size_of::<(StreamId, Nack)>() + 8;
        let mut n = self.pel.len() * nack;
        for (name, c) in &self.consumers {
            n += name.len() + 16 + std::mem::size_of::<Consumer>() + c.pel.len() * 24;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pel_moves_between_consumers() {
        let mut g = Group::new(StreamId::MIN, 0);
        g.create_consumer(b"a", 1);
        g.create_consumer(b"b", 1);
        let a: Arc<[u8]> = Arc::from(&b"a"[..]);
        let b: Arc<[u8]> = Arc::from(&b"b"[..]);
        let id = StreamId::new(1, 1);
        g.deliver(id, &a, 5);
        assert!(g.consumers[&a].pel.contains(&id));
        g.transfer(id, &b);
        assert!(!g.consumers[&a].pel.contains(&id));
        assert!(g.consumers[&b].pel.contains(&id));
        g.deliver(id, &a, 6);
        assert!(g.consumers[&a].pel.contains(&id) && g.consumers[&b].pel.is_empty());
        assert_eq!(g.delete_consumer(b"a"), Some(1));
        assert!(g.pel.is_empty());
        assert!(!g.ack(id));
        assert_eq!(g.delete_consumer(b"zz"), None);
    }
}
