//! The matcher against a straight port of Redis 7.0's recursive
//! `stringmatchlen` (the oracle), on fixed cases, exhaustively on short
//! inputs and on generated ones; and adversarial patterns within a time bound.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::glob_match;

/// Redis's `stringmatchlen_impl` line by line (recursion at `*`, the
/// `skipLongerMatches` pruning, the nesting limit, reads of the NUL
/// terminator past the pattern's end), on indices instead of pointers.
fn oracle(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip = false;
    oracle_impl(pattern, string, nocase, &mut skip, 0)
}

fn oracle_impl(pat: &[u8], s: &[u8], nocase: bool, skip: &mut bool, nesting: u32) -> bool {
    if nesting > 1000 {
        return false;
    }
    let at = |i: usize| pat.get(i).copied().unwrap_or(0);
    let plen = |i: usize| pat.len() - i;
    let lower = |c: i32| match c {
        -1 => -1,
        c if c < 0 => c + 256,
        65..=90 => c + 32,
        c => c,
    };
    let ch = |b: u8| b as i8 as i32;
    let (mut pi, mut si) = (0usize, 0usize);
    while plen(pi) > 0 && si < s.len() {
        match at(pi) {
            b'*' => {
                while plen(pi) > 0 && at(pi + 1) == b'*' {
                    pi += 1;
                }
                if plen(pi) == 1 {
                    return true;
                }
                while si < s.len() {
                    if oracle_impl(&pat[pi + 1..], &s[si..], nocase, skip, nesting + 1) {
                        return true;
                    }
                    if *skip {
                        return false;
                    }
                    si += 1;
                }
                *skip = true;
                return false;
            }
            b'?' => si += 1,
            b'[' => {
                pi += 1;
                let not = at(pi) == b'^';
                if not {
                    pi += 1;
                }
                let mut hit = false;
                loop {
                    if at(pi) == b'\\' && plen(pi) >= 2 {
                        pi += 1;
                        if at(pi) == s[si] {
                            hit = true;
                        }
                    } else if at(pi) == b']' {
                        break;
                    } else if plen(pi) == 0 {
                        pi -= 1;
                        break;
                    } else if plen(pi) >= 3 && at(pi + 1) == b'-' {
                        let (mut start, mut end, mut c) = (ch(at(pi)), ch(at(pi + 2)), ch(s[si]));
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = lower(start);
                            end = lower(end);
                            c = lower(c);
                        }
                        pi += 2;
                        if c >= start && c <= end {
                            hit = true;
                        }
                    } else if !nocase {
                        if at(pi) == s[si] {
                            hit = true;
                        }
                    } else if lower(ch(at(pi))) == lower(ch(s[si])) {
                        hit = true;
                    }
                    pi += 1;
                }
                if not {
                    hit = !hit;
                }
                if !hit {
                    return false;
                }
                si += 1;
            }
            first => {
                let mut b = first;
                if b == b'\\' && plen(pi) >= 2 {
                    pi += 1;
                    b = at(pi);
                }
                let same = if nocase {
                    lower(ch(b)) == lower(ch(s[si]))
                } else {
                    b == s[si]
                };
                if !same {
                    return false;
                }
                si += 1;
            }
        }
        pi += 1;
        if si == s.len() {
            while at(pi) == b'*' {
                pi += 1;
            }
            break;
        }
    }
    plen(pi) == 0 && si == s.len()
}

fn check(pattern: &[u8], string: &[u8], nocase: bool) -> Result<(), String> {
    let want = oracle(pattern, string, nocase);
    let got = glob_match(pattern, string, nocase);
    if want == got {
        Ok(())
    } else {
        Err(format!(
            "pattern {:?} string {:?} nocase {nocase}: oracle {want}, matcher {got}",
            String::from_utf8_lossy(pattern),
            String::from_utf8_lossy(string)
        ))
    }
}

#[test]
fn basics() {
    assert!(glob_match(b"*", b"anything", false));
    assert!(glob_match(b"h?llo", b"hello", false));
    assert!(glob_match(b"h[ae]llo", b"hallo", false));
    assert!(!glob_match(b"h[^e]llo", b"hello", false));
    assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
    assert!(glob_match(b"key:*", b"key:1", false));
    assert!(!glob_match(b"key:*", b"kez:1", false));
    assert!(glob_match(b"a\\*b", b"a*b", false));
    assert!(glob_match(b"HELLO", b"hello", true));
    assert!(glob_match(b"a*", b"a", false));
    assert!(!glob_match(b"a?", b"a", false));
}

/// Redis's quirks, each checked against the oracle too.
#[test]
fn quirks() {
    let cases: &[(&[u8], &[u8], bool, bool)] = &[
        // An empty string matches only the empty pattern.
        (b"*", b"", false, false),
        (b"", b"", false, true),
        (b"", b"a", false, false),
        // Unterminated classes end with the pattern.
        (b"[a", b"a", false, true),
        (b"[", b"[", false, false),
        (b"[^", b"x", false, true),
        (b"[a-", b"-", false, true),
        (b"x[ab", b"xb", false, true),
        // A `-` range may swallow the closing bracket.
        (b"[a-]x", b"]", false, true),
        (b"[z-a]", b"m", false, true),
        // Trailing backslash: a literal backslash.
        (b"a\\", b"a\\", false, true),
        (b"[\\", b"\\", false, true),
        // An escape inside a class ignores nocase.
        (b"[\\A]", b"a", true, false),
        (b"[A]", b"a", true, true),
        // Ranges on signed chars, swapped, then with nocase turned unsigned
        // (so `[a-\xfe]` is empty without case).
        (b"[a-\xff]", b"\x01", false, true),
        (b"[a-\xff]", b"b", false, false),
        (b"[a-\xfe]", b"b", true, false),
        (b"[a-\xfe]", b"\x01", true, false),
        (b"[\x80-\xfe]", b"\xe9", true, true),
        (b"[Z-a]", b"_", true, false),
    ];
    for &(p, s, nocase, want) in cases {
        assert_eq!(
            glob_match(p, s, nocase),
            want,
            "{:?} vs {:?}",
            String::from_utf8_lossy(p),
            String::from_utf8_lossy(s)
        );
        check(p, s, nocase).unwrap();
    }
}

/// Redis's nesting limit: a 1001st group of stars before the end of the
/// pattern matches nothing; a final one still matches.
#[test]
fn star_limit() {
    let s = vec![b'a'; 1100];
    let mut p = b"a*".repeat(1000);
    p.push(b'a');
    assert!(glob_match(&p, &s, false));
    let mut p = b"a*".repeat(1001);
    p.push(b'a');
    assert!(!glob_match(&p, &s, false));
    assert!(glob_match(&b"a*".repeat(1001), &s, false));
    for p in [b"a*".repeat(999), b"a*".repeat(1002)] {
        check(&p, &s, false).unwrap();
    }
}

/// Every pattern of up to 4 tokens from a small alphabet against every string
/// of up to 3 bytes, both case modes.
#[test]
fn exhaustive_short() {
    const P: &[u8] = b"*?[]^-\\aB";
    const S: &[u8] = b"ab-]";
    let strings: Vec<Vec<u8>> = all_words(S, 3);
    let mut failures = Vec::new();
    for p in all_words(P, 4) {
        for s in &strings {
            for nocase in [false, true] {
                if let Err(e) = check(&p, s, nocase) {
                    failures.push(e);
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

fn all_words(alphabet: &[u8], max: usize) -> Vec<Vec<u8>> {
    let mut all = vec![Vec::new()];
    let mut last = vec![Vec::new()];
    for _ in 0..max {
        let next: Vec<Vec<u8>> = last
            .iter()
            .flat_map(|w| {
                alphabet.iter().map(move |&c| {
                    let mut w = w.clone();
                    w.push(c);
                    w
                })
            })
            .collect();
        all.extend(next.iter().cloned());
        last = next;
    }
    all
}

/// Generated patterns and strings (bounded so the oracle terminates quickly).
#[test]
fn agrees_with_redis_on_generated_inputs() {
    const P: &[u8] = b"**??[[]]^^--\\\\aabAB\xe9\xff";
    const S: &[u8] = b"aaabAB-]^*\\\xe9\xff\x01";
    let pattern = prop::collection::vec(prop::sample::select(P), 0..14);
    let string = prop::collection::vec(prop::sample::select(S), 0..14);
    let mut runner = TestRunner::new(Config {
        cases: 20_000,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(pattern, string, any::<bool>()), |(p, s, nocase)| {
            check(&p, &s, nocase).map_err(TestCaseError::fail)
        })
        .unwrap();
}

/// Patterns that make a backtracking matcher explode answer at once.
#[test]
fn adversarial_patterns_are_fast() {
    let long_a = vec![b'a'; 64];
    let mut evil = b"a*".repeat(33);
    evil.push(b'b');
    let start = Instant::now();
    assert!(!glob_match(&evil, &long_a, false));
    assert!(start.elapsed() < Duration::from_millis(100));

    // The worst case is (string x pattern) steps: 10^4 x ~2*10^3 here.
    let s = vec![b'a'; 10_000];
    let mut p = b"*a".repeat(999);
    p.extend_from_slice(b"*b");
    let start = Instant::now();
    assert!(!glob_match(&p, &s, false));
    assert!(!glob_match(
        &b"*?"
            .repeat(900)
            .into_iter()
            .chain(*b"[b]")
            .collect::<Vec<_>>(),
        &s,
        true
    ));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
}
