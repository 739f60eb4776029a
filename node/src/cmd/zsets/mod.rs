//! Sorted set commands (Redis's `sorted_set` group).
//!
//! Split by what the commands do: [`add`] (ZADD and the point reads and
//! writes), [`range`] (the ZRANGE family, ZRANGESTORE, ZREMRANGEBY*, ZCOUNT),
//! [`setops`] (ZUNION/ZINTER/ZDIFF and their STORE forms, ZINTERCARD), [`pop`]
//! (ZPOPMIN/ZPOPMAX/ZMPOP, ZRANDMEMBER, ZSCAN). This file holds the table and
//! what they share: score and lex range parsing with Redis's rules and errors,
//! and the reply shapes of member lists (RESP3 pairs as nested arrays).

mod add;
pub use add::add_scored;
mod pop;
pub use pop::{parse_zmpop, serve_zpop, ZMpopArgs, ZPopReply};
mod range;
mod setops;

use super::flags::*;
use super::typed;
use super::{CmdError, CommandSpec, Ctx};
use crate::db::types::zset::{Limits, ZSet};
use crate::db::types::Object;
use crate::db::Stripe;
use crate::protocol::Out;

macro_rules! cmd {
    ($name:expr, $arity:expr, $flags:expr, $keys:expr, $h:expr, $since:expr, $summary:expr) => {
        CommandSpec::new(
            $name,
            $arity,
            $flags,
            $keys,
            $h,
            "sorted_set",
            $since,
            $summary,
        )
    };
}

const K1: (i32, i32, i32) = (1, 1, 1);
const NOKEYS: (i32, i32, i32) = (0, 0, 0);
const W: u32 = WRITE | DENYOOM;
const WM: u32 = WRITE | DENYOOM | MOVABLEKEYS;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("zadd", -4, W | FAST, K1, add::zadd, "1.2.0", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist."),
    cmd!("zincrby", 4, W | FAST, K1, add::zincrby, "1.2.0", "Increments the score of a member in a sorted set."),
    cmd!("zrem", -3, WRITE | FAST, K1, add::zrem, "1.2.0", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed."),
    cmd!("zscore", 3, READONLY | FAST, K1, add::zscore, "1.2.0", "Returns the score of a member in a sorted set."),
    cmd!("zmscore", -3, READONLY | FAST, K1, add::zmscore, "6.2.0", "Returns the score of one or more members in a sorted set."),
    cmd!("zcard", 2, READONLY | FAST, K1, add::zcard, "1.2.0", "Returns the number of members in a sorted set."),
    cmd!("zrank", 3, READONLY | FAST, K1, add::zrank, "2.0.0", "Returns the index of a member in a sorted set ordered by ascending scores."),
    cmd!("zrevrank", 3, READONLY | FAST, K1, add::zrevrank, "2.0.0", "Returns the index of a member in a sorted set ordered by descending scores."),
    cmd!("zcount", 4, READONLY | FAST, K1, range::zcount, "2.0.0", "Returns the count of members in a sorted set that have scores within a range."),
    cmd!("zlexcount", 4, READONLY | FAST, K1, range::zlexcount, "2.8.9", "Returns the number of members in a sorted set within a lexicographical range."),
    cmd!("zrange", -4, READONLY, K1, range::zrange, "1.2.0", "Returns members in a sorted set within a range of indexes."),
    cmd!("zrangestore", -5, W, (1, 2, 1), range::zrangestore, "6.2.0", "Stores a range of members from sorted set in a key."),
    cmd!("zrevrange", -4, READONLY, K1, range::zrevrange, "1.2.0", "Returns members in a sorted set within a range of indexes in reverse order."),
    cmd!("zrangebyscore", -4, READONLY, K1, range::zrangebyscore, "1.0.5", "Returns members in a sorted set within a range of scores."),
    cmd!("zrevrangebyscore", -4, READONLY, K1, range::zrevrangebyscore, "2.2.0", "Returns members in a sorted set within a range of scores in reverse order."),
    cmd!("zrangebylex", -4, READONLY, K1, range::zrangebylex, "2.8.9", "Returns members in a sorted set within a lexicographical range."),
    cmd!("zrevrangebylex", -4, READONLY, K1, range::zrevrangebylex, "2.8.9", "Returns members in a sorted set within a lexicographical range in reverse order."),
    cmd!("zremrangebyrank", 4, WRITE, K1, range::zremrangebyrank, "2.0.0", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed."),
    cmd!("zremrangebyscore", 4, WRITE, K1, range::zremrangebyscore, "1.2.0", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed."),
    cmd!("zremrangebylex", 4, WRITE, K1, range::zremrangebylex, "2.8.9", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed."),
    cmd!("zunion", -3, READONLY | MOVABLEKEYS, NOKEYS, setops::zunion, "6.2.0", "Returns the union of multiple sorted sets."),
    cmd!("zinter", -3, READONLY | MOVABLEKEYS, NOKEYS, setops::zinter, "6.2.0", "Returns the intersect of multiple sorted sets."),
    cmd!("zdiff", -3, READONLY | MOVABLEKEYS, NOKEYS, setops::zdiff, "6.2.0", "Returns the difference between multiple sorted sets."),
    cmd!("zintercard", -3, READONLY | MOVABLEKEYS, NOKEYS, setops::zintercard, "7.0.0", "Returns the number of members of the intersect of multiple sorted sets."),
    cmd!("zunionstore", -4, WM, K1, setops::zunionstore, "2.0.0", "Stores the union of multiple sorted sets in a key."),
    cmd!("zinterstore", -4, WM, K1, setops::zinterstore, "2.0.0", "Stores the intersect of multiple sorted sets in a key."),
    cmd!("zdiffstore", -4, WM, K1, setops::zdiffstore, "6.2.0", "Stores the difference of multiple sorted sets in a key."),
    cmd!("zpopmin", -2, WRITE | FAST, K1, pop::zpopmin, "5.0.0", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    cmd!("zpopmax", -2, WRITE | FAST, K1, pop::zpopmax, "5.0.0", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    cmd!("zmpop", -4, WRITE | MOVABLEKEYS, NOKEYS, pop::zmpop, "7.0.0", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped."),
    cmd!("zrandmember", -2, READONLY, K1, pop::zrandmember, "6.2.0", "Returns one or more random members from a sorted set."),
    cmd!("zscan", -3, READONLY, K1, pop::zscan, "2.8.0", "Iterates over members and scores of a sorted set."),
];

pub const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
pub const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";
pub const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";

/// The thresholds in force now.
pub fn limits(ctx: &Ctx) -> Limits {
    let enc = &ctx.srv.config.enc;
    let n = |v: i64| usize::try_from(v).unwrap_or(0);
    Limits {
        max_entries: n(enc.get(&enc.zset_max_listpack_entries)),
        max_value: n(enc.get(&enc.zset_max_listpack_value)),
    }
}

pub fn pick(o: &Object) -> Option<&ZSet> {
    match o {
        Object::ZSet(z) => Some(z),
        _ => None,
    }
}

pub fn pick_mut(o: &mut Object) -> Option<&mut ZSet> {
    match o {
        Object::ZSet(z) => Some(z),
        _ => None,
    }
}

/// Reads `key` as a sorted set (hit/miss counted, LRU refreshed).
pub fn read<'s>(
    ctx: &Ctx,
    sh: &'s mut Stripe,
    hash: u64,
    key: &[u8],
) -> Result<Option<&'s ZSet>, CmdError> {
    typed::read(ctx, sh, hash, key, pick)
}

/// Parses a double as `strtod` does inside Redis's range parsing: leading
/// spaces allowed, the empty string is 0, nothing may follow, NaN refused.
fn strtod_full(s: &[u8]) -> Option<f64> {
    if s.is_empty() {
        return Some(0.0);
    }
    let start = s
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))?;
    // An out-of-range bound is ±inf or 0 there, not an error.
    crate::util::strtod(&s[start..]).map(|(v, _)| v)
}

/// A score interval as ZRANGEBYSCORE's `min`/`max` (`(` marks exclusive).
#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    pub fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
        let bound = |s: &[u8]| -> Option<(f64, bool)> {
            match s.first() {
                Some(b'(') => strtod_full(&s[1..]).map(|v| (v, true)),
                _ => strtod_full(s).map(|v| (v, false)),
            }
        };
        let ((min, minex), (max, maxex)) = bound(min)
            .zip(bound(max))
            .ok_or(CmdError::from(NOT_FLOAT_RANGE))?;
        Ok(ScoreRange {
            min,
            max,
            minex,
            maxex,
        })
    }

    /// Ascending ranks `start..end` of the elements inside the range.
    pub fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let r = *self;
        if r.min > r.max || (r.min == r.max && (r.minex || r.maxex)) {
            return (0, 0);
        }
        let start = z.count_while(&|s, _| if r.minex { s <= r.min } else { s < r.min });
        let end = z.count_while(&|s, _| if r.maxex { s < r.max } else { s <= r.max });
        (start, end.max(start))
    }
}

/// One end of a lex range.
#[derive(Clone, Copy, Debug)]
pub enum Lex<'a> {
    NegInf,
    PosInf,
    Incl(&'a [u8]),
    Excl(&'a [u8]),
}

/// A lexicographic interval as ZRANGEBYLEX's `min`/`max`.
#[derive(Clone, Copy, Debug)]
pub struct LexRange<'a> {
    pub min: Lex<'a>,
    pub max: Lex<'a>,
}

impl<'a> LexRange<'a> {
    pub fn parse(min: &'a [u8], max: &'a [u8]) -> Result<LexRange<'a>, CmdError> {
        let item = |s: &'a [u8]| -> Option<Lex<'a>> {
            match s.first() {
                Some(b'+') if s.len() == 1 => Some(Lex::PosInf),
                Some(b'-') if s.len() == 1 => Some(Lex::NegInf),
                Some(b'(') => Some(Lex::Excl(&s[1..])),
                Some(b'[') => Some(Lex::Incl(&s[1..])),
                _ => None,
            }
        };
        let (min, max) = item(min)
            .zip(item(max))
            .ok_or(CmdError::from(NOT_LEX_RANGE))?;
        Ok(LexRange { min, max })
    }

    /// Ascending ranks `start..end` of the elements inside the range (the set
    /// is assumed to hold equal scores, as Redis documents).
    pub fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let before_min = |m: &[u8]| match self.min {
            Lex::NegInf => false,
            Lex::PosInf => true,
            Lex::Incl(b) => m < b,
            Lex::Excl(b) => m <= b,
        };
        let up_to_max = |m: &[u8]| match self.max {
            Lex::NegInf => false,
            Lex::PosInf => true,
            Lex::Incl(b) => m <= b,
            Lex::Excl(b) => m < b,
        };
        let start = z.count_while(&|_, m| before_min(m));
        let end = z.count_while(&|_, m| up_to_max(m));
        (start, end.max(start))
    }
}

/// Writes the header of a member list of `n` elements.
pub fn list_header(out: &mut Out, n: usize, withscores: bool) {
    if withscores && !out.resp3 {
        out.array(2 * n);
    } else {
        out.array(n);
    }
}

/// Writes one element of a member list opened by [`list_header`].
pub fn list_item(out: &mut Out, member: &[u8], score: f64, withscores: bool) {
    if withscores {
        if out.resp3 {
            out.array(2);
        }
        out.bulk(member);
        out.double(score);
    } else {
        out.bulk(member);
    }
}

/// Writes a whole member list.
pub fn list_reply(out: &mut Out, items: &[(Vec<u8>, f64)], withscores: bool) {
    list_header(out, items.len(), withscores);
    for (m, s) in items {
        list_item(out, m, *s, withscores);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_bounds_parse_like_redis() {
        let r = ScoreRange::parse(b"(1", b"+inf").expect("valid");
        assert!(r.minex && !r.maxex && r.max == f64::INFINITY);
        assert!(ScoreRange::parse(b"", b"(").is_ok());
        assert!(ScoreRange::parse(b" 1", b"2").is_ok());
        assert!(ScoreRange::parse(b"1 ", b"2").is_err());
        assert!(ScoreRange::parse(b"nan", b"2").is_err());
        assert!(ScoreRange::parse(b"x", b"2").is_err());
        assert!(LexRange::parse(b"-", b"+").is_ok());
        assert!(LexRange::parse(b"a", b"+").is_err());
        assert!(LexRange::parse(b"[a", b"(b").is_ok());
    }
}
