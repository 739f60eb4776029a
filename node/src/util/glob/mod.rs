//! Glob-style matching with the semantics of Redis's `stringmatchlen`, in
//! bounded time. Every place that matches a client's pattern (KEYS, SCAN and
//! the element scans' MATCH, pattern subscriptions, PUBSUB CHANNELS, CONFIG
//! GET, COMMAND LIST FILTERBY PATTERN) calls [`glob_match`].
//!
//! # Why not Redis's recursion
//! Redis recurses at every `*` and tries each split of the string; a pattern
//! such as `a*a*a*...b` against a long run of `a`s explores exponentially many
//! splits unless pruned (CVE-2022-36021). Here each `*` and every other token
//! matches as in Redis, but the search is the classic greedy one with a single
//! backtrack point (the last `*` seen): when a token fails, the last star takes
//! one more byte and the pattern resumes after it. Every non-star token matches
//! exactly one byte, so an earlier star never needs to be revisited, and the
//! work is at most (string length) x (pattern length) token steps, without
//! recursion or allocation.
//!
//! # Redis's quirks, kept on purpose
//! - An empty string matches only the empty pattern (`*` does not match it).
//! - `[` without a closing `]` ends with the pattern; `[^` at the very end
//!   matches any byte; a trailing `\` matches a backslash.
//! - Inside `[...]`, `\x` compares `x` case-sensitively even with `nocase`; a
//!   range `a-z` with reversed ends is swapped; `-` right before the end is
//!   literal.
//! - Range bounds compare as C's signed `char` (so `[a-\xff]` covers
//!   `\x00`-`a` and `\xff`), except with `nocase`, where glibc's `tolower`
//!   turns bytes above 0x7f (but 0xff) into their unsigned values first.
//! - More than [`MAX_STARS`] groups of stars before the end of the pattern
//!   match nothing (Redis's nesting limit against abusive patterns).

/// Groups of `*` a matching pattern may hold before its end. Redis refuses
/// (matches nothing) past a recursion depth of 1000, one level per group.
pub const MAX_STARS: u32 = 1000;

/// Whether `string` matches the glob `pattern` (`*`, `?`, `[abc]`, `[^a]`,
/// `[a-z]`, `\` escapes), as Redis's `stringmatchlen`; `nocase` folds ASCII
/// case. O(len(string) x len(pattern)) at worst, linear for most patterns.
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    // Redis's loop never starts on an empty string.
    if string.is_empty() {
        return pattern.is_empty();
    }
    let (mut p, mut s) = (0usize, 0usize);
    // The last star: where the pattern resumes after it, and where in the
    // string its current (shortest so far) match ends.
    let mut star: Option<(usize, usize)> = None;
    let mut stars = 0u32;
    while s < string.len() {
        if pattern.get(p) == Some(&b'*') {
            while pattern.get(p + 1) == Some(&b'*') {
                p += 1;
            }
            if p + 1 == pattern.len() {
                return true;
            }
            stars += 1;
            if stars > MAX_STARS {
                return false;
            }
            p += 1;
            star = Some((p, s));
            continue;
        }
        if p < pattern.len() {
            let (hit, len) = token(pattern, p, string[s], nocase);
            if hit {
                p += len;
                s += 1;
                continue;
            }
        }
        match star {
            Some((resume, end)) => {
                p = resume;
                s = end + 1;
                star = Some((resume, end + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches the token at `pattern[p]` (anything but `*`) against one byte:
/// whether it matched, and how many pattern bytes the token spans.
fn token(pattern: &[u8], p: usize, c: u8, nocase: bool) -> (bool, usize) {
    match pattern[p] {
        b'?' => (true, 1),
        b'[' => class(pattern, p, c, nocase),
        b'\\' if pattern.len() - p >= 2 => (same(pattern[p + 1], c, nocase), 2),
        x => (same(x, c, nocase), 1),
    }
}

/// A `[...]` class starting at `pattern[p]`, parsed exactly as Redis does.
fn class(pattern: &[u8], p: usize, c: u8, nocase: bool) -> (bool, usize) {
    let end = pattern.len();
    // Redis reads the pattern's NUL terminator one past its end.
    let at = |i: usize| pattern.get(i).copied().unwrap_or(0);
    let mut i = p + 1;
    let not = at(i) == b'^';
    if not {
        i += 1;
    }
    let mut hit = false;
    // Each step moves `i` forward by at least one and never past `end`.
    loop {
        let left = end - i;
        if at(i) == b'\\' && left >= 2 {
            i += 1;
            hit |= pattern[i] == c;
        } else if at(i) == b']' {
            break;
        } else if left == 0 {
            // Unterminated: the class ends with the pattern.
            i -= 1;
            break;
        } else if left >= 3 && pattern[i + 1] == b'-' {
            hit |= in_range(pattern[i], pattern[i + 2], c, nocase);
            i += 2;
        } else {
            hit |= same(pattern[i], c, nocase);
        }
        i += 1;
    }
    (hit != not, i + 1 - p)
}

fn same(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// A range test on C `char` values, as Redis compares them.
fn in_range(a: u8, b: u8, c: u8, nocase: bool) -> bool {
    let (mut lo, mut hi, mut c) = (signed(a), signed(b), signed(c));
    if lo > hi {
        std::mem::swap(&mut lo, &mut hi);
    }
    if nocase {
        lo = tolower(lo);
        hi = tolower(hi);
        c = tolower(c);
    }
    lo <= c && c <= hi
}

/// A byte as a C `char`: signed on x86-64, the reference build (Redis built for
/// arm64, where `char` is unsigned, orders these ranges differently).
fn signed(b: u8) -> i32 {
    b as i8 as i32
}

/// glibc's `tolower` in the C locale, on a signed `char` value: ASCII upper
/// case folds, negative values map to their unsigned byte, except -1 (EOF).
fn tolower(c: i32) -> i32 {
    match c {
        -1 => -1,
        c if c < 0 => c + 256,
        c => (c as u8).to_ascii_lowercase() as i32,
    }
}

#[cfg(test)]
mod tests;
