//! Hash slots of a sharded cluster (cluster mode enabled): 16384 slots split
//! across the shards, as ranges. The assignment lives in
//! `status.shards[].slots` (`"0-5460"`), so an operator that restarts reads
//! it back instead of recomputing it.

/// Slots of Redis Cluster.
pub const SLOTS: u32 = 16384;

/// An inclusive range of slots.
pub type Range = (u16, u16);

/// Splits every slot over `shards` shards in contiguous ranges, as
/// `redis-cli --cluster create` does (3 shards: 0-5460, 5461-10922,
/// 10923-16383), so that a kcache cluster and a hand-made one look alike.
pub fn split(shards: usize) -> Vec<Vec<Range>> {
    if shards == 0 {
        return Vec::new();
    }
    let per = f64::from(SLOTS) / shards as f64;
    let mut cursor = 0.0_f64;
    let mut first: u32 = 0;
    let mut out = Vec::with_capacity(shards);
    for i in 0..shards {
        let mut last = (cursor + per - 1.0).round() as u32;
        if last >= SLOTS || i == shards - 1 {
            last = SLOTS - 1;
        }
        if last < first {
            last = first;
        }
        out.push(vec![(first as u16, last as u16)]);
        cursor += per;
        first = last + 1;
    }
    out
}

/// `["0-5460", "7"]` for status.
pub fn to_text(ranges: &[Range]) -> Vec<String> {
    ranges
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect()
}

/// Parses `to_text`'s form; `None` on anything else.
pub fn from_text(text: &[String]) -> Option<Vec<Range>> {
    text.iter()
        .map(|t| {
            let (a, b) = match t.split_once('-') {
                Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
                None => {
                    let n = t.parse().ok()?;
                    (n, n)
                }
            };
            (a <= b && u32::from(b) < SLOTS).then_some((a, b))
        })
        .collect()
}

/// Every slot assigned exactly once over `shards`.
pub fn covers_all_once(shards: &[Vec<Range>]) -> bool {
    let mut seen = vec![false; SLOTS as usize];
    for &(a, b) in shards.iter().flatten() {
        for s in a..=b {
            if std::mem::replace(&mut seen[s as usize], true) {
                return false;
            }
        }
    }
    seen.iter().all(|&s| s)
}

/// Number of slots in the ranges.
pub fn count(ranges: &[Range]) -> u32 {
    ranges
        .iter()
        .map(|&(a, b)| u32::from(b) - u32::from(a) + 1)
        .sum()
}

/// The assignment to use: the recorded one when it is whole and has one
/// entry per shard; an even split otherwise (a new cluster).
pub fn assignment(recorded: &[Vec<String>], shards: usize) -> Vec<Vec<Range>> {
    let parsed: Option<Vec<Vec<Range>>> = recorded.iter().map(|t| from_text(t)).collect();
    match parsed {
        Some(p) if p.len() == shards && covers_all_once(&p) => p,
        _ => split(shards),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_redis_cli() {
        assert_eq!(split(1), vec![vec![(0, 16383)]]);
        assert_eq!(
            split(3),
            vec![vec![(0, 5460)], vec![(5461, 10922)], vec![(10923, 16383)]]
        );
        for n in 1..=250 {
            let s = split(n);
            assert_eq!(s.len(), n);
            assert!(covers_all_once(&s), "{n} shards");
            let sizes: Vec<u32> = s.iter().map(|r| count(r)).collect();
            let (min, max) = (sizes.iter().min(), sizes.iter().max());
            assert!(
                max.zip(min).is_some_and(|(a, b)| a - b <= 1),
                "{n}: {sizes:?}"
            );
        }
    }

    #[test]
    fn text_round_trips_and_bad_text_is_refused() {
        let r = vec![(0, 5460), (7000, 7000)];
        assert_eq!(to_text(&r), ["0-5460", "7000"]);
        assert_eq!(from_text(&to_text(&r)), Some(r));
        for bad in ["5-1", "16384", "a-b", ""] {
            assert_eq!(from_text(&[bad.to_string()]), None, "{bad}");
        }
    }

    #[test]
    fn a_recorded_whole_assignment_is_kept() {
        let recorded = vec![
            vec!["0-99".to_string(), "200-16383".to_string()],
            vec!["100-199".to_string()],
        ];
        let a = assignment(&recorded, 2);
        assert_eq!(a[1], vec![(100, 199)]);
        // A gap, or a shard more than recorded: split afresh.
        assert_eq!(assignment(&recorded[..1], 1), split(1));
        assert_eq!(assignment(&recorded, 3), split(3));
    }
}
