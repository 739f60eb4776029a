//! The 24-bit access word every entry carries, as Redis's `robj.lru`: under an
//! LRU (or no) policy it is the LRU clock in seconds; under an LFU policy it is
//! 16 bits of minutes (when the counter was last decremented) and an 8-bit
//! logarithmic access counter (Redis's `LFULogIncr` / `LFUDecrAndReturn`).
//!
//! The policy and the LFU parameters are process-wide, like Redis's `server.*`:
//! the node hosts one server, and every call site that creates or touches an
//! entry (reads, SET, collection writes) can reach them without a handle. They are
//! mirrored here from the config on every change (`Config::set_*`) and read with
//! relaxed loads. Switching the policy at run time reinterprets the words already
//! stored, as Redis does.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::lru_clock;

/// Redis's `LFU_INIT_VAL`: the counter of a new key, so it is not evicted
/// before it had a chance to be accessed.
pub const LFU_INIT_VAL: u32 = 5;

static LFU: AtomicBool = AtomicBool::new(false);
static LOG_FACTOR: AtomicU32 = AtomicU32::new(10);
static DECAY_MINUTES: AtomicU32 = AtomicU32::new(1);

/// Mirrors `maxmemory-policy`, `lfu-log-factor` and `lfu-decay-time` (called by
/// the config on every change of one of them).
pub fn configure(name: &str, value: &str) {
    match name {
        "maxmemory-policy" => LFU.store(value.ends_with("-lfu"), Ordering::Relaxed),
        "lfu-log-factor" => {
            if let Ok(v) = value.parse::<u32>() {
                LOG_FACTOR.store(v, Ordering::Relaxed);
            }
        }
        "lfu-decay-time" => {
            if let Ok(v) = value.parse::<u32>() {
                DECAY_MINUTES.store(v, Ordering::Relaxed);
            }
        }
        _ => {}
    }
}

/// Whether an LFU policy is selected (access words hold counters).
#[inline]
pub fn lfu_mode() -> bool {
    LFU.load(Ordering::Relaxed)
}

/// Redis's `LFUGetTimeInMinutes`: Unix minutes, 16 bits.
#[inline]
fn minutes(now_ms: i64) -> u32 {
    ((now_ms / 60_000) as u32) & 0xffff
}

/// The word of a key being created: the LRU clock, or `LFU_INIT_VAL` stamped
/// with the current minute.
#[inline]
pub fn new_access(now_ms: i64) -> u32 {
    if lfu_mode() {
        (minutes(now_ms) << 8) | LFU_INIT_VAL
    } else {
        lru_clock(now_ms)
    }
}

/// The word after an access (Redis's `lookupKey` touch: `updateLFU` or
/// `LRU_CLOCK()`).
#[inline]
pub fn touched(word: u32, now_ms: i64) -> u32 {
    if lfu_mode() {
        let counter = lfu_decr_and_return(word, now_ms);
        (minutes(now_ms) << 8) | log_incr(counter)
    } else {
        lru_clock(now_ms)
    }
}

/// Redis's `LFUDecrAndReturn` with the configured `lfu-decay-time`: the counter
/// less one per decay period elapsed since the word's minute stamp. Does not
/// modify the word (OBJECT FREQ and eviction sampling read it this way).
pub fn lfu_decr_and_return(word: u32, now_ms: i64) -> u32 {
    lfu_decr_with(word, DECAY_MINUTES.load(Ordering::Relaxed), now_ms)
}

/// [`lfu_decr_and_return`] with an explicit decay period in minutes.
pub fn lfu_decr_with(word: u32, decay_minutes: u32, now_ms: i64) -> u32 {
    let ldt = (word >> 8) & 0xffff;
    let counter = word & 0xff;
    let now = minutes(now_ms);
    // Redis's LFUTimeElapsed, including its 65535 (not 65536) wrap.
    let elapsed = if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    };
    let periods = elapsed.checked_div(decay_minutes).unwrap_or(0);
    counter.saturating_sub(periods)
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let t = crate::util::now_us() as u64;
    let local = 0u8;
    (t ^ (&local as *const u8 as u64).rotate_left(29)) | 1
}

/// A random word from a per-thread xorshift64* (cheap, unsynchronised; for
/// LFU increments and eviction sampling, where Redis uses `rand()`).
pub fn random_u64() -> u64 {
    RNG.with(|c| {
        let mut x = c.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        c.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

/// A uniform double in [0, 1).
fn unit_random() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Redis's `LFULogIncr`: increments the counter with probability
/// `1 / ((counter - LFU_INIT_VAL) * lfu-log-factor + 1)`, saturating at 255.
pub fn log_incr(counter: u32) -> u32 {
    if counter >= 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * LOG_FACTOR.load(Ordering::Relaxed) as f64 + 1.0);
    if unit_random() < p {
        counter + 1
    } else {
        counter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lfu_counter_decays_per_period() {
        let minute = 60_000;
        let now = 1000 * minute;
        let word = |ldt: u32, counter: u32| ((ldt & 0xffff) << 8) | counter;
        assert_eq!(lfu_decr_with(word(1000, 5), 1, now), 5);
        assert_eq!(lfu_decr_with(word(998, 5), 1, now), 3);
        assert_eq!(lfu_decr_with(word(990, 5), 1, now), 0);
        assert_eq!(lfu_decr_with(word(990, 5), 0, now), 5);
        assert_eq!(lfu_decr_with(word(996, 5), 2, now), 3);
        // The minute stamp wraps at 16 bits.
        assert_eq!(lfu_decr_with(word(65535, 9), 1, 2 * minute), 7);
    }

    #[test]
    fn log_incr_is_certain_at_the_initial_value_and_saturates() {
        for _ in 0..100 {
            assert_eq!(log_incr(LFU_INIT_VAL), LFU_INIT_VAL + 1);
            assert_eq!(log_incr(0), 1);
        }
        assert_eq!(log_incr(255), 255);
        // With the default factor 10, a counter of 105 rises with p = 1/1001.
        let rises = (0..10_000).filter(|_| log_incr(105) == 106).count();
        assert!(rises < 60, "{rises}");
    }
}
