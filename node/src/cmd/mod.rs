//! Commands: the table that names them, the context they run in, and dispatch.
//!
//! Each family lives in its own file (`strings.rs`, `keys.rs`, ...) and exports a
//! `COMMANDS` slice; a command's spec carries its Redis name, arity, flags, key
//! positions and one-line docs, which also feed COMMAND INFO/DOCS. Handlers write
//! their reply into [`Ctx::out`] and return `Err` with a Redis error line for the
//! dispatcher to send, so an error never closes the connection.

pub mod admin;
pub mod bits;
pub mod blocking;
pub mod cluster;
pub mod coll;
pub mod connection;
pub mod geo;
pub mod hashes;
pub mod hyperloglog;
pub mod keys;
pub mod lists;
pub mod pubsub;
pub mod rdb;
pub mod sets;
pub mod sort;
pub mod streams;
pub mod strings;
pub mod transactions;
pub mod typed;
pub mod zsets;

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use crate::db::Db;
use crate::protocol::Out;
use crate::server::client::Client;
use crate::server::Server;

/// Command flags, named as COMMAND INFO prints them.
pub mod flags {
    pub const WRITE: u32 = 1;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    pub const NO_AUTH: u32 = 1 << 12;
    pub const MAY_REPLICATE: u32 = 1 << 13;
    pub const NO_MULTI: u32 = 1 << 14;
    pub const MOVABLEKEYS: u32 = 1 << 15;
    pub const ALLOW_BUSY: u32 = 1 << 16;

    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_MULTI, "no_multi"),
        (MOVABLEKEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// A subcommand of a container command (CLIENT, CONFIG, OBJECT, ...), for
/// COMMAND INFO/DOCS; the container's handler dispatches it.
pub struct SubSpec {
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
    pub summary: &'static str,
}

/// One command. `arity` follows Redis: positive = exact count including the name,
/// negative = at least that many.
pub struct CommandSpec {
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub handler: Handler,
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub subcommands: &'static [SubSpec],
}

pub type Handler = fn(&mut Ctx, &Args) -> CmdResult;

/// A command table row for the families that give key positions as three
/// numbers (`first, last, step`), in the calling module's `GROUP`:
/// `keyed!(name, arity, flags, first, last, step, handler, since, summary)`.
macro_rules! keyed {
    ($name:expr, $arity:expr, $flags:expr, $first:expr, $last:expr, $step:expr, $h:expr, $since:expr, $summary:expr) => {
        $crate::cmd::CommandSpec::new(
            $name,
            $arity,
            $flags,
            ($first, $last, $step),
            $h,
            GROUP,
            $since,
            $summary,
        )
    };
}
pub(crate) use keyed;

/// A command table row for a command without keys, in the calling module's
/// `GROUP`: `keyless!(name, arity, flags, handler, since, summary)`.
macro_rules! keyless {
    ($name:expr, $arity:expr, $flags:expr, $h:expr, $since:expr, $summary:expr) => {
        $crate::cmd::CommandSpec::new(
            $name,
            $arity,
            $flags,
            (0, 0, 0),
            $h,
            GROUP,
            $since,
            $summary,
        )
    };
}
pub(crate) use keyless;

impl CommandSpec {
    /// A command without subcommands. `keys` is (first, last, step) as COMMAND
    /// INFO reports them: (0, 0, 0) for none, a negative last counts from the end.
    /// Each family's command table wraps this in a `cmd!` of its own shape.
    #[allow(clippy::too_many_arguments)]
    pub const fn new(
        name: &'static str,
        arity: i32,
        flags: u32,
        keys: (i32, i32, i32),
        handler: Handler,
        group: &'static str,
        since: &'static str,
        summary: &'static str,
    ) -> CommandSpec {
        CommandSpec {
            name,
            arity,
            flags,
            first_key: keys.0,
            last_key: keys.1,
            step: keys.2,
            handler,
            group,
            since,
            summary,
            subcommands: &[],
        }
    }

    /// The same command as a container of `subcommands` (CONFIG, CLIENT, ...).
    pub const fn with_subcommands(self, subcommands: &'static [SubSpec]) -> CommandSpec {
        CommandSpec {
            subcommands,
            ..self
        }
    }
}
pub type CmdResult = Result<(), CmdError>;

/// An error reply (the text after `-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdError(pub Cow<'static, str>);

impl From<&'static str> for CmdError {
    fn from(s: &'static str) -> Self {
        CmdError(Cow::Borrowed(s))
    }
}

impl From<String> for CmdError {
    fn from(s: String) -> Self {
        CmdError(Cow::Owned(s))
    }
}

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const SYNTAX: &str = "ERR syntax error";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const DB_INDEX: &str = "ERR DB index is out of range";

/// Shorthand for building an error result.
pub fn err<T>(msg: impl Into<CmdError>) -> Result<T, CmdError> {
    Err(msg.into())
}

/// The wrong-arity error for a command or `container|sub`.
pub fn arity_error(name: &str) -> CmdError {
    format!("ERR wrong number of arguments for '{name}' command").into()
}

/// The first `max` bytes of `b` up to its first NUL: how Redis's `%.Ns`
/// prints an argument in an error.
pub fn c_prefix(b: &[u8], max: usize) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    &b[..end.min(max)]
}

/// The unknown-subcommand error, as Redis words it.
pub fn unknown_subcommand(sub: &[u8], container: &str) -> CmdError {
    format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        String::from_utf8_lossy(c_prefix(sub, 128)),
        container.to_ascii_uppercase()
    )
    .into()
}

/// Request arguments: ranges into the connection's read buffer, no copies.
#[derive(Clone, Copy)]
pub struct Args<'a> {
    buf: &'a [u8],
    ranges: &'a [Range<usize>],
}

impl<'a> Args<'a> {
    pub fn new(buf: &'a [u8], ranges: &'a [Range<usize>]) -> Args<'a> {
        Args { buf, ranges }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    #[inline]
    pub fn get(&self, i: usize) -> &'a [u8] {
        &self.buf[self.ranges[i].clone()]
    }

    /// Argument `i` compared case-insensitively with an ASCII keyword.
    #[inline]
    pub fn is(&self, i: usize, word: &str) -> bool {
        self.get(i).eq_ignore_ascii_case(word.as_bytes())
    }

    pub fn str_lossy(&self, i: usize) -> Cow<'a, str> {
        String::from_utf8_lossy(self.get(i))
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.ranges.iter().map(|r| &self.buf[r.clone()])
    }

    /// Argument `i` as an integer, or Redis's "not an integer" error.
    pub fn int(&self, i: usize) -> Result<i64, CmdError> {
        crate::util::parse_i64_strict(self.get(i)).ok_or_else(|| NOT_INTEGER.into())
    }

    pub fn float(&self, i: usize) -> Result<f64, CmdError> {
        crate::util::parse_f64(self.get(i)).ok_or_else(|| NOT_FLOAT.into())
    }
}

/// What a handler sees: the server, its client's state and the reply buffer.
pub struct Ctx<'a> {
    pub srv: &'a Server,
    pub client: &'a mut Client,
    pub out: &'a mut Out,
    /// Wall clock at the start of the command, in Unix milliseconds.
    pub now_ms: i64,
    /// Index of the command being run in the command table.
    pub cmd: usize,
    /// What this command propagates to the AOF and replicas (`repl::prop`).
    pub prop: crate::repl::Prop,
}

impl<'a> Ctx<'a> {
    /// The selected database. Borrows only the server, so replies can be written
    /// while a stripe guard from it is held.
    #[inline]
    pub fn db(&self) -> &'a Db {
        self.srv.keyspace.db(self.client.db)
    }

    #[inline]
    pub fn ks(&self) -> &'a crate::db::Keyspace {
        &self.srv.keyspace
    }

    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.srv.keyspace.hash(key)
    }

    /// Whether this command's effects are being logged (AOF on or replicas
    /// attached): handlers build rewritten forms only then.
    #[inline]
    pub fn propagating(&self) -> bool {
        self.srv.keyspace.log.active()
    }

    /// Propagates nothing for this command (it changed nothing, or what it
    /// changed is propagated otherwise).
    #[inline]
    pub fn propagate_none(&mut self) {
        if self.propagating() {
            self.prop.none();
        }
    }

    /// Propagates `argv` instead of the command's own arguments.
    #[inline]
    pub fn propagate_as(&mut self, argv: &[&[u8]]) {
        if self.propagating() {
            self.prop.replace(argv);
        }
    }

    /// Adds one more replacement command (after `propagate_none` or
    /// `propagate_as`), for commands whose effect takes several.
    #[inline]
    pub fn propagate_more(&mut self, argv: &[&[u8]]) {
        if self.propagating() {
            self.prop.push(argv);
        }
    }

    /// Propagates `argv` after the command (or its replacement).
    #[inline]
    pub fn also_propagate(&mut self, argv: &[&[u8]]) {
        if self.propagating() {
            self.prop.also(argv);
        }
    }
}

/// The command table and its name index.
pub struct Commands {
    pub specs: Vec<&'static CommandSpec>,
    index: HashMap<&'static str, usize, foldhash::fast::RandomState>,
}

impl Commands {
    pub fn new() -> Commands {
        let specs: Vec<&'static CommandSpec> = [
            connection::COMMANDS,
            keys::COMMANDS,
            strings::COMMANDS,
            bits::COMMANDS,
            hashes::COMMANDS,
            sets::COMMANDS,
            lists::COMMANDS,
            hyperloglog::COMMANDS,
            sort::COMMANDS,
            admin::COMMANDS,
            cluster::COMMANDS,
            zsets::COMMANDS,
            geo::COMMANDS,
            blocking::COMMANDS,
            pubsub::COMMANDS,
            streams::COMMANDS,
            transactions::COMMANDS,
            rdb::COMMANDS,
            crate::persist::aof::cmd::COMMANDS,
        ]
        .iter()
        .flat_map(|family| family.iter())
        .collect();
        let index = specs.iter().enumerate().map(|(i, s)| (s.name, i)).collect();
        Commands { specs, index }
    }

    /// Finds a command by name, case-insensitively, without allocating (but
    /// for names longer than any built-in, which only `rename-command` makes).
    #[inline]
    pub fn lookup(&self, name: &[u8]) -> Option<usize> {
        let mut buf = [0u8; 32];
        let Some(n) = crate::util::lower_name(name, &mut buf) else {
            let lower = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
            return self.index.get(lower.as_str()).copied();
        };
        let lower = std::str::from_utf8(&buf[..n]).ok()?;
        self.index.get(lower).copied()
    }

    /// Applies `rename-command` directives in order, as Redis does at start-up:
    /// the old name stops resolving and the new one (none when empty) resolves
    /// to the same command. COMMAND still describes it under its own name, as
    /// in Redis.
    pub fn rename(&mut self, renames: &[(String, String)]) -> Result<(), String> {
        for (from, to) in renames {
            let Some(idx) = self.index.remove(from.as_str()) else {
                return Err(format!("rename-command: no such command '{from}'"));
            };
            if to.is_empty() {
                continue;
            }
            if self.index.contains_key(to.as_str()) {
                return Err(format!("rename-command: '{to}' already names a command"));
            }
            // Start-up only, bounded by the config file: leaking the few new
            // names keeps the index's keys `&'static str` like the built-ins'.
            let name: &'static str = Box::leak(to.clone().into_boxed_str());
            self.index.insert(name, idx);
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.specs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }
}

impl Default for Commands {
    fn default() -> Self {
        Commands::new()
    }
}

/// Whether `argc` satisfies a Redis arity.
#[inline]
pub fn arity_ok(arity: i32, argc: usize) -> bool {
    if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= (-arity) as usize
    }
}

/// Redis's unknown-command error, quoting up to the first arguments: the name
/// and each argument as C strings (cut at a NUL), the name to 128 bytes and the
/// arguments to 128 bytes in all. Cut on bytes, then made text, so a multi-byte
/// sequence is never split (invalid UTF-8 shows as U+FFFD where Redis sends the
/// raw bytes).
pub fn unknown_command(args: &Args) -> CmdError {
    let mut quoted: Vec<u8> = Vec::new();
    for i in 1..args.len() {
        if quoted.len() >= 128 {
            break;
        }
        let a = c_prefix(args.get(i), 128 - quoted.len());
        quoted.push(b'\'');
        quoted.extend_from_slice(a);
        quoted.extend_from_slice(b"' ");
    }
    format!(
        "ERR unknown command '{}', with args beginning with: {}",
        String::from_utf8_lossy(c_prefix(args.get(0), 128)),
        String::from_utf8_lossy(&quoted)
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        let c = Commands::new();
        let mut names = std::collections::HashSet::new();
        for s in &c.specs {
            assert!(names.insert(s.name), "duplicate command {}", s.name);
            assert_eq!(s.name, s.name.to_ascii_lowercase());
            assert!(s.arity != 0, "{} has arity 0", s.name);
            assert!(!s.summary.is_empty(), "{} has no summary", s.name);
        }
        assert!(c.lookup(b"GeT").is_some());
        assert!(c.lookup(b"nosuchcommand").is_none());
    }

    #[test]
    fn unknown_command_cuts_bytes_like_redis() {
        let mut buf = vec![0xe2u8; 200]; // not UTF-8, and 128 is mid-sequence
        buf.extend_from_slice(b"a\x00b");
        buf.extend(std::iter::repeat_n(b'y', 300));
        let ranges = vec![0..200, 200..203, 203..503, 203..205];
        let e = unknown_command(&Args::new(&buf, &ranges)).0;
        let want = format!(
            "ERR unknown command '{}', with args beginning with: 'a' '{}' ",
            "\u{fffd}".repeat(128),
            "y".repeat(124)
        );
        assert_eq!(e, want);
    }

    #[test]
    fn arity_rules() {
        assert!(arity_ok(2, 2));
        assert!(!arity_ok(2, 3));
        assert!(arity_ok(-2, 5));
        assert!(!arity_ok(-3, 2));
    }
}
