//! The weekly maintenance window (`spec.maintenanceWindow`), in ElastiCache's
//! format `ddd:hh24:mi-ddd:hh24:mi`, UTC: for example `sun:23:00-mon:01:30`.
//! Rolls that restart nodes wait for it; nothing else does.

use std::fmt;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

/// The CRD's pattern for the field (the API server refuses other shapes).
pub const PATTERN: &str = r"^(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]-(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]$";

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const MINUTES_PER_WEEK: u32 = 7 * 24 * 60;

/// A weekly window: minutes since Monday 00:00 UTC of its start and end. It
/// may wrap over the end of the week (`sun:23:00-mon:01:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    start: u32,
    end: u32,
}

impl Window {
    pub fn parse(text: &str) -> Result<Window, String> {
        let bad = || {
            format!(
                "maintenanceWindow {text:?} is not ddd:hh:mm-ddd:hh:mm in UTC (like sun:23:00-mon:01:30)"
            )
        };
        let (from, to) = text.trim().split_once('-').ok_or_else(bad)?;
        let start = minute_of_week(from).ok_or_else(bad)?;
        let end = minute_of_week(to).ok_or_else(bad)?;
        if start == end {
            return Err(format!(
                "maintenanceWindow {text:?} is empty: it starts where it ends"
            ));
        }
        Ok(Window { start, end })
    }

    /// Length of the window.
    pub fn length(&self) -> Duration {
        minutes((self.end + MINUTES_PER_WEEK - self.start) % MINUTES_PER_WEEK)
    }

    pub fn contains(&self, now: Timestamp) -> bool {
        let m = now_minute(now);
        if self.start < self.end {
            (self.start..self.end).contains(&m)
        } else {
            m >= self.start || m < self.end
        }
    }

    /// Time until the window next opens (zero while it is open).
    pub fn opens_in(&self, now: Timestamp) -> Duration {
        if self.contains(now) {
            return Duration::ZERO;
        }
        let secs = now.as_second().rem_euclid(60) as u64;
        let m = now_minute(now);
        let wait = (self.start + MINUTES_PER_WEEK - m) % MINUTES_PER_WEEK;
        minutes(wait).saturating_sub(Duration::from_secs(secs))
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = |m: u32| {
            format!(
                "{}:{:02}:{:02}",
                DAYS[(m / 1440) as usize],
                (m % 1440) / 60,
                m % 60
            )
        };
        write!(f, "{}-{}", part(self.start), part(self.end))
    }
}

/// `ddd:hh:mm` as minutes since Monday 00:00.
fn minute_of_week(text: &str) -> Option<u32> {
    let mut parts = text.split(':');
    let day = parts.next()?;
    let day = DAYS.iter().position(|d| *d == day)? as u32;
    let hour: u32 = parts.next()?.parse().ok().filter(|h| *h < 24)?;
    let minute: u32 = parts.next()?.parse().ok().filter(|m| *m < 60)?;
    if parts.next().is_some() {
        return None;
    }
    Some(day * 1440 + hour * 60 + minute)
}

/// Minutes since Monday 00:00 UTC of the week `now` falls in. The Unix epoch
/// was a Thursday (day 3 from Monday).
fn now_minute(now: Timestamp) -> u32 {
    let minute = now.as_second().div_euclid(60) + 3 * 1440;
    minute.rem_euclid(MINUTES_PER_WEEK as i64) as u32
}

fn minutes(m: u32) -> Duration {
    Duration::from_secs(u64::from(m) * 60)
}

/// `2d 3h 10m`, `45m`, `under a minute`: for status lines.
pub fn human(d: Duration) -> String {
    let m = d.as_secs() / 60;
    let (days, hours, mins) = (m / 1440, (m % 1440) / 60, m % 60);
    match (days, hours, mins) {
        (0, 0, 0) => "under a minute".into(),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, m) => format!("{d}d {h}h {m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07 was a Monday.
    fn at(day: i64, hour: i64, minute: i64) -> Timestamp {
        let monday = Timestamp::from_second(1_796_601_600).expect("valid");
        Timestamp::from_second(monday.as_second() + ((day * 24 + hour) * 60 + minute) * 60)
            .expect("valid")
    }

    #[test]
    fn the_reference_monday_is_a_monday() {
        assert_eq!(at(0, 0, 0).to_string(), "2026-12-07T00:00:00Z");
        assert_eq!(now_minute(at(0, 0, 0)), 0);
        assert_eq!(now_minute(at(6, 23, 59)), MINUTES_PER_WEEK - 1);
    }

    #[test]
    fn a_window_inside_the_week() {
        let w = Window::parse("tue:03:00-tue:04:30").expect("valid");
        assert_eq!(w.to_string(), "tue:03:00-tue:04:30");
        assert_eq!(w.length(), Duration::from_secs(90 * 60));
        assert!(!w.contains(at(1, 2, 59)));
        assert!(w.contains(at(1, 3, 0)));
        assert!(w.contains(at(1, 4, 29)));
        assert!(!w.contains(at(1, 4, 30)));
        assert_eq!(w.opens_in(at(1, 2, 0)), Duration::from_secs(3600));
        assert_eq!(w.opens_in(at(1, 3, 10)), Duration::ZERO);
        // Just after it closed: a week minus its length.
        assert_eq!(
            w.opens_in(at(1, 4, 30)),
            Duration::from_secs(7 * 86400 - 90 * 60)
        );
    }

    #[test]
    fn a_window_over_the_end_of_the_week() {
        let w = Window::parse("sun:23:00-mon:01:30").expect("valid");
        assert!(w.contains(at(6, 23, 30)));
        assert!(w.contains(at(0, 1, 0)));
        assert!(!w.contains(at(0, 1, 30)));
        assert!(!w.contains(at(6, 22, 59)));
        assert_eq!(w.length(), Duration::from_secs(150 * 60));
    }

    #[test]
    fn bad_windows_are_refused_with_the_format() {
        for bad in [
            "",
            "sun:23:00",
            "sun:24:00-mon:01:00",
            "fun:01:00-sat:02:00",
            "mon:01:00-mon:01:00",
        ] {
            let e = Window::parse(bad).expect_err(bad);
            assert!(e.contains("maintenanceWindow"), "{e}");
        }
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human(Duration::from_secs(30)), "under a minute");
        assert_eq!(human(Duration::from_secs(45 * 60)), "45m");
        assert_eq!(human(Duration::from_secs(3 * 3600 + 600)), "3h 10m");
        assert_eq!(
            human(Duration::from_secs(2 * 86400 + 3 * 3600 + 600)),
            "2d 3h 10m"
        );
    }
}
