//! The classes of keyspace events, as the `notify-keyspace-events` mask holds
//! them (Redis's `NOTIFY_*` bits), and the parser of that parameter's letters.
//!
//! They live with the keyspace because the keyspace tests the mask itself when
//! lazy expiry removes a key; `server::notify` publishes the events.

pub const KEYSPACE: u32 = 1 << 0;
pub const KEYEVENT: u32 = 1 << 1;
pub const GENERIC: u32 = 1 << 2;
pub const STRING: u32 = 1 << 3;
pub const LIST: u32 = 1 << 4;
pub const SET: u32 = 1 << 5;
pub const HASH: u32 = 1 << 6;
pub const ZSET: u32 = 1 << 7;
pub const EXPIRED: u32 = 1 << 8;
pub const EVICTED: u32 = 1 << 9;
pub const STREAM: u32 = 1 << 10;
pub const KEY_MISS: u32 = 1 << 11;
pub const MODULE: u32 = 1 << 12;
pub const NEW: u32 = 1 << 13;

/// `A`: every class but `m` and `n`.
const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// Redis's `keyspaceEventsStringToFlags`, reduced to 0 when neither `K` nor `E`
/// is set (nothing can be published then). Unknown letters are ignored here;
/// the config layer rejects them.
pub fn flags_from_str(s: &str) -> u32 {
    let mut m = 0;
    for c in s.chars() {
        m |= match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            _ => 0,
        };
    }
    if m & (KEYSPACE | KEYEVENT) == 0 {
        0
    } else {
        m
    }
}
