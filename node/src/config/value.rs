//! Checking a value for its parameter and normalising it to the form CONFIG GET
//! reports, as Redis 7.0 does.

use super::*;

/// Why a value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("unknown parameter '{0}'")]
    Unknown(String),
    #[error("argument must be a memory value")]
    NotMemory,
    #[error("argument couldn't be parsed into an integer")]
    NotInteger,
    #[error("argument must be between {min} and {max} inclusive")]
    OutOfRange { min: i64, max: i64 },
    #[error("argument must be 'yes' or 'no'")]
    NotBool,
    #[error("argument(s) must be one of the following: {0}")]
    NotInEnum(String),
    #[error("Invalid save parameters")]
    BadSave,
    #[error("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")]
    BadNotify,
    #[error("can't set immutable config")]
    Immutable,
    #[error("{0}")]
    Other(String),
}

/// Parses a memory value: digits with an optional unit (`k`=1000, `kb`=1024, ...).
pub fn parse_memory(s: &str) -> Option<i64> {
    let lower = s.to_ascii_lowercase();
    let (digits, mul) = [
        ("gb", 1024i64 * 1024 * 1024),
        ("mb", 1024 * 1024),
        ("kb", 1024),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1000),
        ("b", 1),
    ]
    .iter()
    .find_map(|(suf, m)| lower.strip_suffix(suf).map(|d| (d.to_string(), *m)))
    .unwrap_or((lower.clone(), 1));
    let n: i64 = digits.parse().ok()?;
    if n < 0 {
        return None;
    }
    n.checked_mul(mul)
}

fn is_yes(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// Validates `value` for `param` and returns its normalised form (as CONFIG GET
/// prints it).
pub fn normalize(param: &Param, value: &str) -> Result<String, ConfigError> {
    match param.kind {
        Kind::Int { min, max } => {
            let v: i64 = value.trim().parse().map_err(|_| ConfigError::NotInteger)?;
            if v < min || v > max {
                return Err(ConfigError::OutOfRange { min, max });
            }
            Ok(v.to_string())
        }
        Kind::Memory { min } => {
            let v = parse_memory(value.trim()).ok_or(ConfigError::NotMemory)?;
            if v < min {
                return Err(ConfigError::OutOfRange { min, max: i64::MAX });
            }
            Ok(v.to_string())
        }
        Kind::Bool => match is_yes(value) {
            Some(true) => Ok("yes".into()),
            Some(false) => Ok("no".into()),
            None => Err(ConfigError::NotBool),
        },
        Kind::Enum(options) => {
            let lower = value.to_ascii_lowercase();
            if options.contains(&lower.as_str()) {
                Ok(lower)
            } else {
                Err(ConfigError::NotInEnum(options.join(", ")))
            }
        }
        Kind::Str => Ok(value.to_string()),
        Kind::Save => {
            let parts: Vec<&str> = value.split_whitespace().collect();
            if !parts.len().is_multiple_of(2) {
                return Err(ConfigError::BadSave);
            }
            for p in &parts {
                p.parse::<u64>().map_err(|_| ConfigError::BadSave)?;
            }
            Ok(parts.join(" "))
        }
        Kind::NotifyFlags => normalize_notify(value),
        Kind::Bind => Ok(value.split_whitespace().collect::<Vec<_>>().join(" ")),
        Kind::OutputLimits => merge_output_limits(OUTPUT_LIMITS_DEFAULT, value),
        Kind::ShutdownFlags => normalize_shutdown_flags(value),
    }
}

/// Redis's multi-word enum for the signals' SHUTDOWN flags, printed in its
/// order (`default` alone when none is set).
fn normalize_shutdown_flags(value: &str) -> Result<String, ConfigError> {
    const FLAGS: &[&str] = &["save", "nosave", "now", "force"];
    let words: Vec<String> = value
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    if words.is_empty()
        || words
            .iter()
            .any(|w| w != "default" && !FLAGS.contains(&w.as_str()))
    {
        return Err(ConfigError::NotInEnum(
            "default, save, nosave, now, force".into(),
        ));
    }
    let has = |f: &str| words.iter().any(|w| w == f);
    if has("save") && has("nosave") {
        return Err(ConfigError::Other(
            "shutdown options SAVE and NOSAVE can't be used simultaneously".into(),
        ));
    }
    let set: Vec<&str> = FLAGS.iter().copied().filter(|f| has(f)).collect();
    Ok(if set.is_empty() {
        "default".into()
    } else {
        set.join(" ")
    })
}

/// One class of `client-output-buffer-limit`: hard and soft limits in bytes and
/// how long the soft limit may be exceeded (0 = no limit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard: usize,
    pub soft: usize,
    pub soft_secs: u64,
}

/// The limits of `class` (`normal`, `slave`, `pubsub`) in a normalised value.
pub fn output_limit(value: &str, class: &str) -> OutputLimit {
    let w: Vec<&str> = value.split_whitespace().collect();
    w.chunks(4)
        .find(|c| c.len() == 4 && c[0] == class)
        .map(|c| OutputLimit {
            hard: c[1].parse().unwrap_or(0),
            soft: c[2].parse().unwrap_or(0),
            soft_secs: c[3].parse().unwrap_or(0),
        })
        .unwrap_or_default()
}

/// Applies the classes named in `value` to `current` (Redis changes only the
/// classes a CONFIG SET names) and returns the normalised result.
pub(super) fn merge_output_limits(current: &str, value: &str) -> Result<String, ConfigError> {
    let w: Vec<&str> = value.split_whitespace().collect();
    if !w.len().is_multiple_of(4) {
        return Err(ConfigError::Other(
            "Wrong number of arguments in buffer limit configuration.".into(),
        ));
    }
    let mut classes: Vec<(&str, OutputLimit)> = ["normal", "slave", "pubsub"]
        .iter()
        .map(|c| (*c, output_limit(current, c)))
        .collect();
    for g in w.chunks(4) {
        let class = match g[0].to_ascii_lowercase().as_str() {
            "normal" => "normal",
            "slave" | "replica" => "slave",
            "pubsub" => "pubsub",
            _ => {
                return Err(ConfigError::Other(
                    "Invalid client class specified in buffer limit configuration.".into(),
                ))
            }
        };
        let bad = || {
            ConfigError::Other(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.".into(),
            )
        };
        let hard = parse_memory(g[1]).ok_or_else(bad)?;
        let soft = parse_memory(g[2]).ok_or_else(bad)?;
        let secs: i64 = g[3].parse().map_err(|_| bad())?;
        if secs < 0 {
            return Err(bad());
        }
        if let Some(slot) = classes.iter_mut().find(|(c, _)| *c == class) {
            slot.1 = OutputLimit {
                hard: hard as usize,
                soft: soft as usize,
                soft_secs: secs as u64,
            };
        }
    }
    Ok(classes
        .iter()
        .map(|(c, l)| format!("{c} {} {} {}", l.hard, l.soft, l.soft_secs))
        .collect::<Vec<_>>()
        .join(" "))
}

/// Redis's `keyspaceEventsStringToFlags` / `FlagsToString` round trip.
fn normalize_notify(value: &str) -> Result<String, ConfigError> {
    const ALL: &str = "g$lshzxetd";
    let mut set = std::collections::BTreeSet::new();
    for c in value.chars() {
        match c {
            'A' => set.extend(ALL.chars()),
            'g' | '$' | 'l' | 's' | 'h' | 'z' | 'x' | 'e' | 'K' | 'E' | 't' | 'm' | 'd' | 'n' => {
                set.insert(c);
            }
            _ => return Err(ConfigError::BadNotify),
        }
    }
    let mut out = String::new();
    if ALL.chars().all(|c| set.contains(&c)) {
        out.push('A');
    } else {
        out.extend(ALL.chars().filter(|c| set.contains(c)));
    }
    out.extend("mnKE".chars().filter(|c| set.contains(c)));
    Ok(out)
}
