//! Where the values come from at start-up: the config file (redis.conf
//! syntax), `KCACHE_<NAME>` environment variables and `--name value` pairs.

use super::*;

use std::path::Path;

/// How deep `include` may nest (a file including itself must not loop).
const MAX_INCLUDE_DEPTH: usize = 16;

/// One directive of a config file or the command line: a parameter, or one of
/// the directives that are not parameters (`include` is handled by the caller).
fn set_directive(cfg: &mut Config, name: &str, value: &str) -> Result<(), String> {
    match name {
        "rename-command" => {
            let mut words = value.split_whitespace();
            let (Some(from), to) = (words.next(), words.next().unwrap_or("")) else {
                return Err("rename-command needs a command name and a new name".into());
            };
            if words.next().is_some() {
                return Err("rename-command takes a command name and a new name".into());
            }
            cfg.renames
                .push((from.to_ascii_lowercase(), to.to_ascii_lowercase()));
            Ok(())
        }
        "loadmodule" => Err("modules are not supported: loadmodule cannot be honoured".into()),
        _ => cfg.set_initial(name, value).map_err(|e| e.to_string()),
    }
}

/// Applies a config file's directives; `include <path>` reads another file in
/// place (a `*` in its last component matches several, read in name order, as
/// Redis 7 does).
fn apply_conf_text(cfg: &mut Config, path: &Path, text: &str, depth: usize) -> Result<(), String> {
    if depth > MAX_INCLUDE_DEPTH {
        return Err(format!(
            "{}: includes nest deeper than {MAX_INCLUDE_DEPTH}",
            path.display()
        ));
    }
    for (name, value) in parse_conf_text(text).map_err(|e| format!("{}: {e}", path.display()))? {
        if name == "include" {
            for file in include_files(&value)? {
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| format!("{}: include {}: {e}", path.display(), file.display()))?;
                apply_conf_text(cfg, &file, &text, depth + 1)?;
            }
            continue;
        }
        set_directive(cfg, &name, &value)
            .map_err(|e| format!("{}: parameter '{name}': {e}", path.display()))?;
    }
    Ok(())
}

/// The files an `include` names: the path itself, or the files of its
/// directory whose names match its last component when that holds a glob.
fn include_files(pattern: &str) -> Result<Vec<PathBuf>, String> {
    let path = PathBuf::from(pattern);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let Some(name) = name.filter(|n| n.contains(['*', '?', '['])) else {
        return Ok(vec![path]);
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("include {pattern}: {e}"))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            crate::util::glob_match(name.as_bytes(), e.file_name().as_encoded_bytes(), false)
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}

/// Parses redis.conf text into (name, value) pairs, in order. Values of directives
/// with several arguments are joined with spaces (`save 900 1 300 10`).
pub fn parse_conf_text(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (no, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut buf = Vec::new();
        let mut ranges = Vec::new();
        crate::protocol::parse::split_args(trimmed.as_bytes(), &mut buf, &mut ranges)
            .map_err(|_| format!("line {}: unbalanced quotes in '{trimmed}'", no + 1))?;
        let words: Vec<String> = ranges
            .iter()
            .map(|r| String::from_utf8_lossy(&buf[r.clone()]).into_owned())
            .collect();
        let Some((name, args)) = words.split_first() else {
            continue;
        };
        out.push((name.to_ascii_lowercase(), args.join(" ")));
    }
    Ok(out)
}

/// A config file path and the (name, value) pairs that follow it.
pub type CommandLine = (Option<PathBuf>, Vec<(String, String)>);

/// Splits redis-server style arguments `[configfile] [--name value...]` into the
/// optional config file and (name, value) pairs. A `--name` takes every following
/// argument up to the next `--name` (so `--save ""` and `--save 900 1` both work).
pub fn split_command_line(args: &[String]) -> Result<CommandLine, String> {
    let mut file = None;
    let mut rest = args;
    if let Some(first) = rest.first() {
        if !first.starts_with("--") {
            file = Some(PathBuf::from(first));
            rest = &rest[1..];
        }
    }
    let mut pairs: Vec<(String, Vec<String>)> = Vec::new();
    for a in rest {
        if let Some(name) = a.strip_prefix("--") {
            pairs.push((name.to_ascii_lowercase(), Vec::new()));
        } else if let Some((_, vals)) = pairs.last_mut() {
            vals.push(a.clone());
        } else {
            return Err(format!(
                "unexpected argument '{a}': parameters are given as --name value"
            ));
        }
    }
    Ok((
        file,
        pairs.into_iter().map(|(n, v)| (n, v.join(" "))).collect(),
    ))
}

/// The full start-up sequence; errors name the offending parameter and source.
pub fn load(args: &[String], env: &[(String, String)]) -> Result<Config, String> {
    let (file, cli) = split_command_line(args)?;
    let mut cfg = Config::defaults();
    if let Some(path) = &file {
        let text = if path.as_os_str() == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(|e| format!("reading the config from standard input: {e}"))?;
            s
        } else {
            std::fs::read_to_string(path)
                .map_err(|e| format!("reading config file {}: {e}", path.display()))?
        };
        apply_conf_text(&mut cfg, path, &text, 0)?;
        cfg.file = Some(path.clone());
    }
    for (key, value) in env {
        let Some(rest) = key.strip_prefix("KCACHE_") else {
            continue;
        };
        let name = rest.to_ascii_lowercase().replace('_', "-");
        if let Some(p) = find_param(&name) {
            cfg.set_initial(p.name, value)
                .map_err(|e| format!("environment {key}: {e}"))?;
        }
    }
    for (name, value) in cli {
        if name == "include" {
            let text = std::fs::read_to_string(&value)
                .map_err(|e| format!("argument --include: reading {value}: {e}"))?;
            apply_conf_text(&mut cfg, Path::new(&value), &text, 1)?;
            continue;
        }
        set_directive(&mut cfg, &name, &value).map_err(|e| format!("argument --{name}: {e}"))?;
    }
    if cfg.get("bind").is_empty() {
        let inside_kubernetes = env.iter().any(|(k, _)| k == "KUBERNETES_SERVICE_HOST");
        let bind = if inside_kubernetes {
            "* -::*"
        } else {
            "127.0.0.1 -::1"
        };
        cfg.set_initial("bind", bind).map_err(|e| e.to_string())?;
    }
    Ok(cfg)
}
