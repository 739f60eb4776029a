//! Hash slots in the keyspace (cluster mode): where a slot's keys live and
//! how many there are, with no memory per key.
//!
//! In cluster mode a key's 64-bit hash carries its slot: the top 8 bits are
//! the slot's low 8 bits, which pick the stripe ([`super::stripe_of`] reads
//! the top 8 bits), and the next 6 bits are the slot's high 6 bits. The rest
//! (the table's tag included) is the seeded key hash as in standalone mode.
//! So every key of a slot lives in one stripe (64 slots per stripe, spread
//! so that a contiguous slot range uses every stripe), a multi-key command on
//! one slot locks one stripe, and the stripe counts its slots' keys in a
//! 64-entry array under its own lock: `COUNTKEYSINSLOT` reads one counter
//! and `GETKEYSINSLOT` walks one stripe, not the keyspace.

use crate::util::slot::SLOTS;

/// Slots whose keys share one stripe.
pub const SLOTS_PER_STRIPE: usize = SLOTS / super::STRIPES;

/// Per-slot key counts of one stripe, indexed by [`index_in_stripe`].
pub type StripeCounts = [u32; SLOTS_PER_STRIPE];

const _: () = assert!(super::STRIPES == 256, "the slot layout assumes 256 stripes");

/// Bits of the hash kept from the seeded key hash.
const KEPT: u64 = (1 << 50) - 1;

/// A key hash `h` stamped with `slot` (see the module docs).
#[inline]
pub fn stamp(h: u64, slot: u16) -> u64 {
    let slot = slot as u64;
    ((slot & 0xff) << 56) | ((slot >> 8) << 50) | (h & KEPT)
}

/// The hash of any key of `slot` up to the seeded part: enough to find its
/// stripe and its counter.
#[inline]
pub fn slot_hash(slot: u16) -> u64 {
    stamp(0, slot)
}

/// The counter of a stamped hash's slot in its stripe.
#[inline]
pub fn index_in_stripe(hash: u64) -> usize {
    ((hash >> 50) & (SLOTS_PER_STRIPE as u64 - 1)) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_has_one_stripe_and_one_counter() {
        let mut seen = std::collections::HashSet::new();
        for slot in 0..SLOTS as u16 {
            let h = stamp(0x1234_5678_9abc_def0, slot);
            assert_eq!(super::super::stripe_of(h), (slot & 0xff) as usize);
            assert_eq!(index_in_stripe(h), (slot >> 8) as usize);
            assert_eq!(h & KEPT, 0x1234_5678_9abc_def0 & KEPT);
            assert!(seen.insert((super::super::stripe_of(h), index_in_stripe(h))));
        }
    }
}
