//! The multi-part AOF manifest of Redis 7.0 (`appendonly.aof.manifest` in
//! `appenddirname`): one line per file, `file <name> seq <n> type <b|h|i>`,
//! the base first, then the incr files in the order they are replayed.
//! History files (`h`) are left by an interrupted clean-up and are deleted.
//!
//! Written through a temporary file, fsynced, renamed over the old one and the
//! directory fsynced, so a crash leaves either manifest, never half of one.

use std::io::Write;
use std::path::{Path, PathBuf};

/// One file of the AOF set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub seq: u64,
}

/// The parsed manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<Part>,
    pub incrs: Vec<Part>,
    pub history: Vec<Part>,
}

impl Manifest {
    /// Parses the text of a manifest, as Redis's `aofLoadManifestFromFile`:
    /// `#` lines are comments; unknown keys are ignored.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        for (no, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words = split_args(line).ok_or_else(|| format!("line {}: bad quoting", no + 1))?;
            if words.len() % 2 != 0 {
                return Err(format!("line {}: odd number of fields", no + 1));
            }
            let (mut name, mut seq, mut kind) = (None, None, None);
            for kv in words.chunks(2) {
                match kv[0].as_str() {
                    "file" => name = Some(kv[1].clone()),
                    "seq" => seq = kv[1].parse::<u64>().ok(),
                    "type" => kind = Some(kv[1].clone()),
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(format!("line {}: missing file, seq or type", no + 1));
            };
            if name.contains('/') {
                return Err(format!("line {}: file name with a path", no + 1));
            }
            let part = Part { name, seq };
            match kind.as_str() {
                "b" => {
                    if m.base.is_some() {
                        return Err(format!("line {}: second base file", no + 1));
                    }
                    m.base = Some(part)
                }
                "i" => m.incrs.push(part),
                "h" => m.history.push(part),
                other => return Err(format!("line {}: unknown file type '{other}'", no + 1)),
            }
        }
        if m.base.is_none() && m.incrs.is_empty() {
            return Err("no base or incr file".into());
        }
        Ok(m)
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let mut line = |p: &Part, t: &str| {
            s.push_str(&format!(
                "file {} seq {} type {}\n",
                quote(&p.name),
                p.seq,
                t
            ));
        };
        if let Some(b) = &self.base {
            line(b, "b");
        }
        for h in &self.history {
            line(h, "h");
        }
        for i in &self.incrs {
            line(i, "i");
        }
        s
    }

    /// The next sequence number for a base or an incr file.
    pub fn next_base_seq(&self) -> u64 {
        self.base.as_ref().map_or(0, |b| b.seq) + 1
    }

    pub fn next_incr_seq(&self) -> u64 {
        self.incrs.iter().map(|p| p.seq).max().unwrap_or(0) + 1
    }

    /// Writes the manifest atomically into `dir`.
    pub fn store(&self, dir: &Path, manifest_name: &str) -> std::io::Result<()> {
        let tmp = dir.join(format!("temp-{manifest_name}"));
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(self.to_text().as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, dir.join(manifest_name))?;
        sync_dir(dir)
    }
}

/// fsyncs a directory, making renames and creations in it durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// File names, as Redis 7.0 forms them from `appendfilename`.
pub fn base_name(file: &str, seq: u64, rdb: bool) -> String {
    format!("{file}.{seq}.base.{}", if rdb { "rdb" } else { "aof" })
}

pub fn incr_name(file: &str, seq: u64) -> String {
    format!("{file}.{seq}.incr.aof")
}

pub fn manifest_name(file: &str) -> String {
    format!("{file}.manifest")
}

/// The AOF directory: `dir` (or the working directory) joined with
/// `appenddirname`.
pub fn aof_dir(dir: &str, dirname: &str) -> PathBuf {
    let base = if dir.is_empty() {
        PathBuf::from(".")
    } else {
        PathBuf::from(dir)
    };
    base.join(dirname)
}

/// Quotes a name with spaces or quotes as Redis does (`sdscatrepr`).
fn quote(name: &str) -> String {
    if name
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\'' && b != b'\\')
    {
        return name.to_string();
    }
    let mut s = String::new();
    crate::util::repr(&mut s, name.as_bytes());
    s
}

/// Splits a line into words, honouring double quotes with `\` escapes.
fn split_args(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else {
            return Some(out);
        };
        let mut w = String::new();
        if c == '"' {
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => match chars.next()? {
                        'n' => w.push('\n'),
                        't' => w.push('\t'),
                        other => w.push(other),
                    },
                    other => w.push(other),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                w.push(c);
                chars.next();
            }
        }
        out.push(w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_redis_manifests() {
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\n\
                    file appendonly.aof.1.incr.aof seq 1 type i\n\
                    file appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.1.base.rdb");
        assert_eq!(m.incrs.len(), 2);
        assert_eq!(m.next_incr_seq(), 3);
        assert_eq!(m.next_base_seq(), 2);
        assert_eq!(m.to_text(), text);
        let q = Manifest::parse("file \"a b.1.incr.aof\" seq 1 type i\n").unwrap();
        assert_eq!(q.incrs[0].name, "a b.1.incr.aof");
        assert_eq!(Manifest::parse(&q.to_text()).unwrap(), q);
    }

    #[test]
    fn rejects_bad_manifests() {
        assert!(Manifest::parse("").is_err());
        assert!(Manifest::parse("file x seq 1\n").is_err());
        assert!(Manifest::parse("file x seq 1 type z\n").is_err());
        assert!(Manifest::parse("file ../x seq 1 type i\n").is_err());
        assert!(Manifest::parse("file \"x seq 1 type i\n").is_err());
    }
}
