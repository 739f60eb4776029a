//! Helpers shared by collection commands: the options of HSCAN/SSCAN (and any
//! other element scan), the random source and count bounds of HRANDFIELD,
//! SRANDMEMBER and SPOP, and a side buffer for replies whose length is known
//! only at the end.

use std::cell::RefCell;

use super::{err, Args, CmdError, Ctx, SYNTAX};
use crate::protocol::Out;
use crate::util::Rng;

/// The cursor and options of an element scan (`HSCAN key cursor [MATCH
/// pattern] [COUNT count]`).
pub struct ScanOpts<'a> {
    pub cursor: u64,
    pub count: usize,
    pub pattern: Option<&'a [u8]>,
}

impl ScanOpts<'_> {
    pub fn matches(&self, element: &[u8]) -> bool {
        self.pattern
            .is_none_or(|p| crate::util::glob_match(p, element, false))
    }
}

/// The cursor at `args[2]`; Redis checks it before looking the key up.
pub fn scan_cursor(args: &Args) -> Result<u64, CmdError> {
    super::keys::iter::parse_cursor(args.get(2)).ok_or_else(|| "ERR invalid cursor".into())
}

/// The options after the cursor (Redis parses them after the key lookup, so a
/// missing key answers an empty scan even with bad options).
pub fn scan_options<'a>(args: &Args<'a>, cursor: u64) -> Result<ScanOpts<'a>, CmdError> {
    let mut o = ScanOpts {
        cursor,
        count: 10,
        pattern: None,
    };
    let mut i = 3;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if args.is(i, "count") && has_value {
            let n = args.int(i + 1)?;
            if n < 1 {
                return err(SYNTAX);
            }
            o.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if args.is(i, "match") && has_value {
            let p = args.get(i + 1);
            o.pattern = (p != b"*").then_some(p);
        } else {
            return err(SYNTAX);
        }
        i += 2;
    }
    Ok(o)
}

/// `[cursor, []]`: the reply to a scan of a missing key.
pub fn empty_scan(out: &mut Out) {
    out.array(2);
    out.bulk(b"0");
    out.array(0);
}

/// Writes `[next, [elements...]]` with `n` elements already encoded in `body`.
pub fn scan_reply(out: &mut Out, next: u64, n: usize, body: &Out) {
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.array(n);
    out.raw(&body.buf);
}

/// An encoder for elements of a reply whose length is known only at the end.
pub fn side_buffer(ctx: &Ctx) -> Out {
    Out {
        buf: Vec::new(),
        resp3: ctx.out.resp3,
    }
}

thread_local! {
    static RNG: RefCell<Rng> = RefCell::new(Rng::from_entropy());
}

/// A uniformly distributed index below `n` (`n > 0`).
pub fn random_index(n: usize) -> usize {
    RNG.with(|r| (r.borrow_mut().next_u64() % n as u64) as usize)
}

/// Redis's range for the counts of HRANDFIELD and SRANDMEMBER.
pub const COUNT_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

/// The most elements a negative (repeating) random count may ask for. Redis
/// has no bound and would build the whole reply in memory; this caps a single
/// reply at a few hundred megabytes instead of letting one request exhaust
/// the node.
pub const MAX_REPEATS: u64 = 1 << 24;

/// Picks `count` distinct indices below `n` (`count < n`), in random order.
pub fn distinct_indices(n: usize, count: usize) -> Vec<usize> {
    if count.saturating_mul(3) > n {
        // Most of the collection: shuffle the front of all indices.
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..count {
            let j = i + random_index(n - i);
            all.swap(i, j);
        }
        all.truncate(count);
        all
    } else {
        // A small part: draw until `count` distinct ones are seen.
        let mut seen = std::collections::HashSet::with_capacity(count);
        let mut picked = Vec::with_capacity(count);
        while picked.len() < count {
            let i = random_index(n);
            if seen.insert(i) {
                picked.push(i);
            }
        }
        picked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_indices_are_distinct_and_in_range() {
        for (n, c) in [(10, 9), (10, 1), (1000, 5), (5, 0)] {
            let v = distinct_indices(n, c);
            assert_eq!(v.len(), c);
            let s: std::collections::HashSet<_> = v.iter().collect();
            assert_eq!(s.len(), c);
            assert!(v.iter().all(|&i| i < n));
        }
    }
}
