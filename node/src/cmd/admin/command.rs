//! `COMMAND [COUNT | INFO | DOCS | LIST | GETKEYS | GETKEYSANDFLAGS | HELP]`,
//! built from the
//! [`CommandSpec`] table.
//!
//! The table records arity, flags, key positions, group, `since` and a summary.
//! What Redis 7 adds on top is derived here: ACL categories from the flags and
//! the group (plus the few commands Redis marks `@dangerous` or files in another
//! category by hand), and one key spec from `first/last/step`.

use super::super::{err, flags, Args, CmdResult, CommandSpec, Ctx, SubSpec};
use crate::protocol::Out;

/// `COMMAND [subcommand [arg ...]]`
pub fn command(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() == 1 {
        let specs = &ctx.srv.commands.specs;
        ctx.out.array(specs.len());
        for spec in specs {
            info_entry(ctx.out, spec);
        }
        return Ok(());
    }
    match super::subcommand(args, "command", super::COMMAND_SUBS)? {
        "count" => ctx.out.int(ctx.srv.commands.len() as i64),
        "info" => info(ctx, args),
        "docs" => docs(ctx, args),
        "list" => list(ctx, args)?,
        "getkeys" => getkeys(ctx, args, false)?,
        "getkeysandflags" => getkeys(ctx, args, true)?,
        _ => super::help(
            ctx,
            "command",
            &[
                "(no subcommand)",
                "    Return details about all Redis commands.",
                "COUNT",
                "    Return the total number of commands in this Redis server.",
                "LIST",
                "    Return a list of all commands in this Redis server.",
                "INFO [<command-name> ...]",
                "    Return details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "GETKEYS <full-command>",
                "    Return the keys from a full Redis command.",
                "GETKEYSANDFLAGS <full-command>",
                "    Return the keys and the access flags from a full Redis command.",
            ],
        ),
    }
    Ok(())
}

/// A command or a `container|sub` named by a client.
enum Found {
    Cmd(&'static CommandSpec),
    Sub(&'static CommandSpec, &'static SubSpec),
}

fn find(ctx: &Ctx, name: &[u8]) -> Option<Found> {
    let commands = &ctx.srv.commands;
    match name.iter().position(|&b| b == b'|') {
        None => commands.lookup(name).map(|i| Found::Cmd(commands.specs[i])),
        Some(bar) => {
            let spec = commands.specs[commands.lookup(&name[..bar])?];
            let sub = &name[bar + 1..];
            spec.subcommands
                .iter()
                .find(|s| s.name.as_bytes().eq_ignore_ascii_case(sub))
                .map(|s| Found::Sub(spec, s))
        }
    }
}

/// ACL categories in Redis's bit order, which is the order COMMAND INFO prints.
const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// The category a command group implies.
fn group_category(group: &str) -> Option<&'static str> {
    Some(match group {
        "generic" => "keyspace",
        "string" => "string",
        "bitmap" => "bitmap",
        "hash" => "hash",
        "list" => "list",
        "set" => "set",
        "sorted-set" | "sorted_set" | "sortedset" => "sortedset",
        "hyperloglog" => "hyperloglog",
        "geo" => "geo",
        "stream" => "stream",
        "pubsub" => "pubsub",
        "connection" => "connection",
        "transactions" | "transaction" => "transaction",
        "scripting" => "scripting",
        _ => return None,
    })
}

/// Categories Redis assigns by hand beyond what flags and group imply.
fn extra_categories(name: &str) -> &'static [&'static str] {
    match name {
        "info" | "keys" | "flushdb" | "flushall" | "sort" | "sort_ro" | "swapdb" | "migrate"
        | "restore" | "restore-asking" => &["dangerous"],
        "dbsize" | "randomkey" => &["keyspace"],
        "command" => &["connection"],
        _ => &[],
    }
}

/// The ACL categories of a command (or subcommand, with its container's group).
pub fn categories(name: &str, group: &str, f: u32) -> Vec<&'static str> {
    let mut set = std::collections::HashSet::new();
    if f & flags::WRITE != 0 {
        set.insert("write");
    }
    if f & flags::READONLY != 0 && group != "scripting" {
        set.insert("read");
    }
    if f & flags::ADMIN != 0 {
        set.insert("admin");
        set.insert("dangerous");
    }
    if f & flags::PUBSUB != 0 {
        set.insert("pubsub");
    }
    if f & flags::BLOCKING != 0 {
        set.insert("blocking");
    }
    set.insert(if f & flags::FAST != 0 { "fast" } else { "slow" });
    if let Some(c) = group_category(group) {
        set.insert(c);
    }
    set.extend(extra_categories(name.split('|').next().unwrap_or(name)));
    CATEGORIES
        .iter()
        .copied()
        .filter(|c| set.contains(c))
        .collect()
}

fn flag_names(out: &mut Out, f: u32) {
    let names: Vec<&str> = flags::NAMES
        .iter()
        .filter(|(bit, _)| f & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    out.set(names.len());
    for n in names {
        out.simple(n);
    }
}

fn category_list(out: &mut Out, cats: &[&str]) {
    out.set(cats.len());
    for c in cats {
        out.simple(&format!("@{c}"));
    }
}

/// Key positions of a subcommand that has keys (only MEMORY USAGE among ours).
fn sub_keys(container: &str, sub: &str) -> (i32, i32, i32) {
    match (container, sub) {
        ("memory", "usage") => (2, 2, 1),
        _ => (0, 0, 0),
    }
}

/// The key flags of a command's keys, derived from its command flags (Redis
/// records them per key spec), as a set of status strings.
fn key_flag_set(out: &mut Out, f: u32) {
    let kf: &[&str] = if f & flags::WRITE != 0 {
        &["RW", "update"]
    } else if f & flags::READONLY != 0 {
        &["RO", "access"]
    } else if f & flags::PUBSUB != 0 {
        // Shard channels (SSUBSCRIBE, SPUBLISH) sit in key positions for slot
        // routing but are not keys.
        &["not_key"]
    } else {
        &["RW", "access"]
    };
    out.set(kf.len());
    for k in kf {
        out.simple(k);
    }
}

/// One key spec derived from first/last/step, in Redis 7's shape.
fn key_specs(out: &mut Out, f: u32, first: i32, last: i32, step: i32) {
    if first <= 0 {
        out.set(0);
        return;
    }
    out.set(1);
    out.map(3);
    out.bulk(b"flags");
    key_flag_set(out, f);
    out.bulk(b"begin_search");
    out.map(2);
    out.bulk(b"type");
    out.bulk(b"index");
    out.bulk(b"spec");
    out.map(1);
    out.bulk(b"index");
    out.int(first as i64);
    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    out.bulk(b"range");
    out.bulk(b"spec");
    out.map(3);
    out.bulk(b"lastkey");
    out.int(if last >= 0 {
        (last - first) as i64
    } else {
        last as i64
    });
    out.bulk(b"keystep");
    out.int(step as i64);
    out.bulk(b"limit");
    out.int(0);
}

/// A COMMAND INFO entry: name, arity, flags, first, last, step, ACL categories,
/// tips, key specs, subcommands.
fn info_entry(out: &mut Out, spec: &CommandSpec) {
    out.array(10);
    out.bulk(spec.name.as_bytes());
    out.int(spec.arity as i64);
    let container = !spec.subcommands.is_empty();
    if container {
        // Redis's containers have no flags and no categories but @slow; the
        // subcommands carry them.
        out.set(0);
        out.int(0);
        out.int(0);
        out.int(0);
        category_list(out, &["slow"]);
    } else {
        flag_names(out, spec.flags);
        out.int(spec.first_key as i64);
        out.int(spec.last_key as i64);
        out.int(spec.step as i64);
        category_list(out, &categories(spec.name, spec.group, spec.flags));
    }
    out.set(0);
    if container {
        out.set(0);
    } else {
        key_specs(out, spec.flags, spec.first_key, spec.last_key, spec.step);
    }
    out.set(spec.subcommands.len());
    for sub in spec.subcommands {
        sub_info_entry(out, spec, sub);
    }
}

fn sub_info_entry(out: &mut Out, spec: &CommandSpec, sub: &SubSpec) {
    let full = format!("{}|{}", spec.name, sub.name);
    let (first, last, step) = sub_keys(spec.name, sub.name);
    out.array(10);
    out.bulk(full.as_bytes());
    out.int(sub.arity as i64);
    flag_names(out, sub.flags);
    out.int(first as i64);
    out.int(last as i64);
    out.int(step as i64);
    category_list(out, &categories(&full, spec.group, sub.flags));
    out.set(0);
    key_specs(out, sub.flags, first, last, step);
    out.set(0);
}

/// `COMMAND INFO [command-name ...]`
fn info(ctx: &mut Ctx, args: &Args) {
    if args.len() == 2 {
        let specs = &ctx.srv.commands.specs;
        ctx.out.array(specs.len());
        for spec in specs {
            info_entry(ctx.out, spec);
        }
        return;
    }
    ctx.out.array(args.len() - 2);
    for name in args.iter().skip(2) {
        match find(ctx, name) {
            Some(Found::Cmd(spec)) => info_entry(ctx.out, spec),
            Some(Found::Sub(spec, sub)) => sub_info_entry(ctx.out, spec, sub),
            None => ctx.out.null(),
        }
    }
}

fn docs_entry(out: &mut Out, spec: &CommandSpec) {
    out.bulk(spec.name.as_bytes());
    let subs = !spec.subcommands.is_empty();
    out.map(3 + subs as usize);
    docs_common(out, spec.summary, spec.since, spec.group);
    if subs {
        out.bulk(b"subcommands");
        out.map(spec.subcommands.len());
        for sub in spec.subcommands {
            sub_docs_entry(out, spec, sub);
        }
    }
}

fn sub_docs_entry(out: &mut Out, spec: &CommandSpec, sub: &SubSpec) {
    out.bulk(format!("{}|{}", spec.name, sub.name).as_bytes());
    out.map(3);
    docs_common(out, sub.summary, spec.since, spec.group);
}

fn docs_common(out: &mut Out, summary: &str, since: &str, group: &str) {
    out.bulk(b"summary");
    out.bulk(summary.as_bytes());
    out.bulk(b"since");
    out.bulk(since.as_bytes());
    out.bulk(b"group");
    out.bulk(group.as_bytes());
}

/// `COMMAND DOCS [command-name ...]`: unknown names are left out.
fn docs(ctx: &mut Ctx, args: &Args) {
    if args.len() == 2 {
        let specs = &ctx.srv.commands.specs;
        ctx.out.map(specs.len());
        for spec in specs {
            docs_entry(ctx.out, spec);
        }
        return;
    }
    let found: Vec<Found> = args.iter().skip(2).filter_map(|n| find(ctx, n)).collect();
    ctx.out.map(found.len());
    for f in found {
        match f {
            Found::Cmd(spec) => docs_entry(ctx.out, spec),
            Found::Sub(spec, sub) => sub_docs_entry(ctx.out, spec, sub),
        }
    }
}

/// `COMMAND LIST [FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]`:
/// every command and subcommand name.
fn list(ctx: &mut Ctx, args: &Args) -> CmdResult {
    enum Filter<'a> {
        All,
        Module,
        Cat(String),
        Pattern(&'a [u8]),
    }
    let filter = match args.len() {
        2 => Filter::All,
        5 if args.is(2, "filterby") => {
            if args.is(3, "module") {
                Filter::Module
            } else if args.is(3, "aclcat") {
                Filter::Cat(args.str_lossy(4).to_ascii_lowercase())
            } else if args.is(3, "pattern") {
                Filter::Pattern(args.get(4))
            } else {
                return err(super::super::SYNTAX);
            }
        }
        _ => return err(super::super::SYNTAX),
    };
    let mut names: Vec<(String, Vec<&'static str>)> = Vec::new();
    for spec in &ctx.srv.commands.specs {
        let cats = if spec.subcommands.is_empty() {
            categories(spec.name, spec.group, spec.flags)
        } else {
            vec!["slow"]
        };
        names.push((spec.name.to_string(), cats));
        for sub in spec.subcommands {
            let full = format!("{}|{}", spec.name, sub.name);
            let cats = categories(&full, spec.group, sub.flags);
            names.push((full, cats));
        }
    }
    let keep: Vec<String> = names
        .into_iter()
        .filter(|(name, cats)| match &filter {
            Filter::All => true,
            Filter::Module => false,
            Filter::Cat(c) => cats.contains(&c.as_str()),
            Filter::Pattern(p) => crate::util::glob_match(p, name.as_bytes(), true),
        })
        .map(|(n, _)| n)
        .collect();
    ctx.out.array(keep.len());
    for n in keep {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

/// Key positions in `argv` (the full command, name first) for commands whose keys
/// move with their arguments; `None` when the arguments do not say.
pub fn movable_keys(name: &str, argv: &[&[u8]]) -> Option<Vec<usize>> {
    let int = |i: usize| -> Option<usize> {
        let n = crate::util::parse_i64_strict(argv.get(i)?)?;
        usize::try_from(n).ok()
    };
    // `numkeys` at `at`, keys right after it, plus an optional destination first.
    let numkeys = |at: usize, dest: bool| -> Option<Vec<usize>> {
        let n = int(at)?;
        let end = (at + 1).checked_add(n)?;
        if end > argv.len() {
            return None;
        }
        let mut v: Vec<usize> = if dest { vec![1] } else { vec![] };
        v.extend(at + 1..end);
        Some(v)
    };
    match name {
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" => numkeys(2, false),
        "zunionstore" | "zinterstore" | "zdiffstore" => numkeys(2, true),
        "zunion" | "zinter" | "zdiff" | "sintercard" | "zintercard" | "lmpop" | "zmpop" => {
            numkeys(1, false)
        }
        "blmpop" | "bzmpop" => numkeys(2, false),
        "xread" | "xreadgroup" => {
            let at = argv
                .iter()
                .position(|a| a.eq_ignore_ascii_case(b"streams"))?;
            let rest = argv.len() - at - 1;
            if rest == 0 || !rest.is_multiple_of(2) {
                return None;
            }
            Some((at + 1..at + 1 + rest / 2).collect())
        }
        "sort" | "sort_ro" | "georadius" | "georadiusbymember" => {
            let mut v = vec![1];
            let mut i = 2;
            while i + 1 < argv.len() {
                let a = argv[i];
                if name.starts_with("sort") && a.eq_ignore_ascii_case(b"store")
                    || name.starts_with("geo")
                        && (a.eq_ignore_ascii_case(b"store")
                            || a.eq_ignore_ascii_case(b"storedist"))
                {
                    v.push(i + 1);
                    i += 1;
                }
                i += 1;
            }
            Some(v)
        }
        _ => None,
    }
}

/// The keys a command names, by its key positions (empty for keyless
/// commands and for arguments that do not say): what CLIENT TRACKING
/// remembers for a read and invalidates for a write.
pub fn key_args<'a>(spec: &CommandSpec, args: &Args<'a>) -> Vec<&'a [u8]> {
    let argv: Vec<&'a [u8]> = args.iter().collect();
    let positions = if spec.flags & flags::MOVABLEKEYS != 0 {
        movable_keys(spec.name, &argv)
    } else if spec.first_key > 0 {
        range_keys(argv.len(), spec.first_key, spec.last_key, spec.step)
    } else {
        None
    };
    positions
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| argv.get(i).copied())
        .collect()
}

/// `COMMAND GETKEYS command [arg ...]`, and with `with_flags`
/// `COMMAND GETKEYSANDFLAGS command [arg ...]` (each key with its flags).
fn getkeys(ctx: &mut Ctx, args: &Args, with_flags: bool) -> CmdResult {
    let argv: Vec<&[u8]> = args.iter().skip(2).collect();
    let (name, arity, f, first, last, step) = match find(ctx, argv[0]) {
        Some(Found::Cmd(spec)) if !spec.subcommands.is_empty() && argv.len() > 1 => {
            // `COMMAND GETKEYS memory usage key`: resolve the subcommand.
            match spec
                .subcommands
                .iter()
                .find(|s| s.name.as_bytes().eq_ignore_ascii_case(argv[1]))
            {
                Some(sub) => {
                    let (a, b, c) = sub_keys(spec.name, sub.name);
                    (spec.name, sub.arity, sub.flags, a, b, c)
                }
                None => return err("ERR Invalid command specified"),
            }
        }
        Some(Found::Cmd(spec)) => (
            spec.name,
            spec.arity,
            spec.flags,
            spec.first_key,
            spec.last_key,
            spec.step,
        ),
        _ => return err("ERR Invalid command specified"),
    };
    let movable = f & flags::MOVABLEKEYS != 0;
    if first <= 0 && !movable {
        return err("ERR The command has no key arguments");
    }
    if !super::super::arity_ok(arity, argv.len()) {
        return err("ERR Invalid number of arguments specified for command");
    }
    let keys = if movable {
        movable_keys(name, &argv)
    } else {
        range_keys(argv.len(), first, last, step)
    };
    let Some(keys) = keys.filter(|k| !k.is_empty()) else {
        return err("ERR Invalid arguments specified for command");
    };
    ctx.out.array(keys.len());
    for k in keys {
        if with_flags {
            ctx.out.array(2);
            ctx.out.bulk(argv[k]);
            key_flag_set(ctx.out, f);
        } else {
            ctx.out.bulk(argv[k]);
        }
    }
    Ok(())
}

/// Key positions from first/last/step; a negative `last` counts from the end.
fn range_keys(argc: usize, first: i32, last: i32, step: i32) -> Option<Vec<usize>> {
    let argc = argc as i64;
    let (first, step) = (first as i64, step.max(1) as i64);
    let last = if last < 0 {
        argc + last as i64
    } else {
        last as i64
    };
    if first < 1 || last >= argc || last < first {
        return None;
    }
    Some(
        (first..=last)
            .step_by(step as usize)
            .map(|i| i as usize)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_match_redis_examples() {
        assert_eq!(
            categories("get", "string", flags::READONLY | flags::FAST),
            ["read", "string", "fast"]
        );
        assert_eq!(
            categories(
                "config|set",
                "server",
                flags::ADMIN | flags::NOSCRIPT | flags::LOADING | flags::STALE
            ),
            ["admin", "slow", "dangerous"]
        );
        assert_eq!(
            categories("client|list", "connection", flags::ADMIN),
            ["admin", "slow", "dangerous", "connection"]
        );
        assert_eq!(
            categories("echo", "connection", flags::FAST),
            ["fast", "connection"]
        );
        assert_eq!(
            categories("info", "server", flags::LOADING | flags::STALE),
            ["slow", "dangerous"]
        );
        assert_eq!(
            categories("dbsize", "server", flags::READONLY | flags::FAST),
            ["keyspace", "read", "fast"]
        );
    }

    #[test]
    fn key_ranges() {
        assert_eq!(range_keys(3, 1, 1, 1), Some(vec![1]));
        assert_eq!(range_keys(5, 1, -1, 2), Some(vec![1, 3]));
        assert_eq!(range_keys(4, 1, -2, 1), Some(vec![1, 2]));
        assert_eq!(range_keys(2, 1, 2, 1), None);
        let argv: Vec<&[u8]> = vec![b"eval", b"s", b"2", b"a", b"b", b"x"];
        assert_eq!(movable_keys("eval", &argv), Some(vec![3, 4]));
        let argv: Vec<&[u8]> = vec![b"eval", b"s", b"9", b"a"];
        assert_eq!(movable_keys("eval", &argv), None);
        let argv: Vec<&[u8]> = vec![b"xread", b"COUNT", b"1", b"STREAMS", b"a", b"b", b"0", b"0"];
        assert_eq!(movable_keys("xread", &argv), Some(vec![4, 5]));
    }
}
