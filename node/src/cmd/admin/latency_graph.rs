//! `LATENCY GRAPH <event>`: an ASCII sparkline of an event's samples, oldest
//! first, in the layout of Redis's `latencyCommandGenSparkeline` (a header
//! line, a rule, four rows of `_-`` steps with `|` below them, then each
//! sample's age written downwards). The drawing itself is the node's own.

use std::fmt::Write;

/// Rows of the graph; each holds three steps (`_`, `-`, `` ` ``).
const ROWS: usize = 4;
const STEPS: &[u8] = b"_-`";

/// The graph of `samples` ((unix time, milliseconds), oldest first), with
/// ages relative to `now` (unix seconds).
pub fn render(event: &str, samples: &[(i64, u64)], now: i64) -> String {
    let max = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let min = samples.iter().map(|s| s.1).min().unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{event} - high {max} ms, low {min} ms (all time high {max} ms)"
    );
    out.push_str(&"-".repeat(80));
    out.push('\n');
    let levels = (ROWS * STEPS.len()) as u64;
    let level = |v: u64| -> usize {
        if max == min {
            (levels - 1) as usize
        } else {
            ((v - min) * (levels - 1) / (max - min)) as usize
        }
    };
    for row in (0..ROWS).rev() {
        let line: String = samples
            .iter()
            .map(|s| {
                let l = level(s.1);
                match (l / STEPS.len()).cmp(&row) {
                    std::cmp::Ordering::Greater => '|',
                    std::cmp::Ordering::Equal => STEPS[l % STEPS.len()] as char,
                    std::cmp::Ordering::Less => ' ',
                }
            })
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push('\n');
    let labels: Vec<Vec<u8>> = samples
        .iter()
        .map(|s| age(now - s.0).into_bytes())
        .collect();
    let tallest = labels.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..tallest {
        let line: String = labels
            .iter()
            .map(|l| l.get(i).map_or(' ', |&b| b as char))
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// An age as Redis labels it: seconds, minutes, hours or days.
fn age(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86399 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let g = render("command", &[(100, 10), (160, 40), (200, 20)], 220);
        let lines: Vec<&str> = g.lines().collect();
        assert_eq!(
            lines[0],
            "command - high 40 ms, low 10 ms (all time high 40 ms)"
        );
        assert_eq!(lines[1].len(), 80);
        // The highest sample reaches the top row, the lowest stays at the bottom.
        assert_eq!(lines[2], " `");
        assert_eq!(lines[5], "_||");
        assert_eq!(lines[7], "212");
        assert_eq!(lines[8], "mm0");
        assert_eq!(lines[9], "  s");
    }
}
