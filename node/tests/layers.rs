//! The node's layers (see `node/ARCHITECTURE.md`): a module may import from its
//! own layer and the layers below it, never from one above.
//!
//! The test reads every file under `node/src`, takes each path it names
//! through `crate::` (a `use` line or a path written inline; comments are not
//! read) and places both ends on a layer by the longest module prefix in
//! [`LAYERS`]. An import that goes up fails the test unless it stands in
//! [`ALLOWED_UP`], the list of edges not cut yet. That list only shrinks: an
//! entry that no longer matches an import fails the test too, so that cutting
//! an edge also removes it from the list.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// Layers from the bottom (0) up. A module takes the layer of the longest
/// prefix listed here; every top-level module must be covered.
const LAYERS: &[(&str, usize)] = &[
    // 0. protocol and util: no knowledge of the keyspace or the server.
    ("protocol", 0),
    ("util", 0),
    ("alloc", 0),
    ("stats", 0),
    // 1. the keyspace and the data types.
    ("db", 1),
    // 2. shared services: parameters, blocking, pub/sub, notifications,
    //    watch, eviction, pause, the propagation log and replication,
    //    persistence, the cluster map.
    ("config", 2),
    ("server::client", 2),
    ("server::blocked", 2),
    ("server::channels", 2),
    ("server::notify", 2),
    ("server::watch", 2),
    ("server::tracking", 2),
    ("server::evict", 2),
    ("server::pause", 2),
    ("repl", 2),
    ("persist", 2),
    ("cluster", 2),
    // 3. commands: one module per command family.
    ("cmd", 3),
    // 4. dispatch: a parsed command and a client context in, a reply out
    //    (RESP clients, MULTI/EXEC).
    ("server::exec", 4),
    ("server::multi", 4),
    // 5. transport: event loops, connections, the HTTP endpoint, start-up
    //    and shutdown.
    ("server", 5),
];

/// Imports that go up a layer today, as (file under `node/src`, the layer
/// prefix in [`LAYERS`] it imports). Each is a cut still to make; the list
/// may only shrink. Grouped by the one change that would cut each group.
const ALLOWED_UP: &[(&str, &str)] = &[
    // 1. The shared state. `server::Server` (with `Msg`, the messages to an
    //    event loop) is both the transport's start-up and the state that every
    //    layer reads: the keyspace, the config, the registries of the services,
    //    the replication and persistence state, and the command table. To cut:
    //    move the shared state into a module of its own below the commands,
    //    with the command table and the event-loop handles behind traits.
    ("cmd/blocking.rs", "server"),
    ("cmd/connection/mod.rs", "server"),
    ("cmd/mod.rs", "server"),
    ("cmd/admin/info.rs", "server"),
    ("cmd/admin/mod.rs", "server"),
    ("persist/aof/load.rs", "server"),
    ("persist/aof/mod.rs", "server"),
    ("persist/aof/rewrite.rs", "server"),
    ("persist/aof/schedule.rs", "server"),
    ("persist/mod.rs", "server"),
    ("persist/save.rs", "server"),
    ("repl/failover.rs", "server"),
    ("repl/primary/catchup.rs", "server"),
    ("repl/primary/fullsync.rs", "server"),
    ("repl/primary/link.rs", "server"),
    ("repl/primary/mod.rs", "server"),
    ("repl/primary/report.rs", "server"),
    ("repl/primary/wait.rs", "server"),
    ("repl/replica/conn.rs", "server"),
    ("repl/replica/handshake.rs", "server"),
    ("repl/replica/link.rs", "server"),
    ("repl/replica/mod.rs", "server"),
    ("repl/replica/report.rs", "server"),
    ("repl/replica/state.rs", "server"),
    ("repl/replica/stream.rs", "server"),
    ("repl/replica/sync.rs", "server"),
    ("server/notify/rules.rs", "server"),
    // 2. The command vocabulary. `Args`, `Ctx`, `CmdResult`, `CommandSpec`,
    //    the command flags and the error replies are defined in `cmd/mod.rs`,
    //    and the services, replication and persistence speak them (what a
    //    command propagates, which commands a pause holds, BGREWRITEAOF's and
    //    WAIT's handlers). To cut: move the vocabulary into a module below the
    //    services, and the handlers that live in `repl/` and `persist/` into
    //    `cmd/`.
    ("persist/aof/cmd.rs", "cmd"),
    ("persist/aof/load.rs", "cmd"),
    ("persist/aof/mod.rs", "cmd"),
    ("repl/failover.rs", "cmd"),
    ("repl/primary/link.rs", "cmd"),
    ("repl/primary/wait.rs", "cmd"),
    ("repl/prop.rs", "cmd"),
    ("repl/replica/mod.rs", "cmd"),
    ("repl/replica/stream.rs", "cmd"),
    ("repl/rewrite.rs", "cmd"),
    ("server/evict/mod.rs", "cmd"),
    ("server/notify/mod.rs", "cmd"),
    ("server/notify/rules.rs", "cmd"),
    ("server/pause.rs", "cmd"),
    ("server/channels.rs", "cmd"),
    ("server/watch.rs", "cmd"),
    // A write waking a blocked client: `server::blocked` serves the woken
    // client with the blocking commands' own code (`cmd::blocking::serve`).
    // To cut: the blocking commands register a trait object with the
    // registry when they block.
    ("server/blocked.rs", "cmd"),
    // 3. Front-ends below dispatch. The AOF loader and the replica's command
    //    stream feed commands into `server::exec` (and MULTI/EXEC blocks into
    //    `server::multi`). To cut: dispatch hands them a trait object (one
    //    entry point: a parsed command and a client context in, a reply out).
    ("persist/aof/load.rs", "server::exec"),
    ("persist/aof/load.rs", "server::multi"),
    ("repl/replica/mod.rs", "server::exec"),
    ("repl/replica/stream.rs", "server::exec"),
    // 4. Commands that reach dispatch: MONITOR registers with the request
    //    path, MULTI/DISCARD and CLIENT KILL touch the transaction queue, and
    //    propagation computes a command's stripes with MULTI's footprint. To
    //    cut: move the MONITOR feed and the transaction queue into a service.
    ("cmd/connection/mod.rs", "server::exec"),
    ("cmd/connection/mod.rs", "server::multi"),
    ("cmd/admin/mod.rs", "server::exec"),
    ("cmd/transactions.rs", "server::multi"),
    ("repl/prop.rs", "server::multi"),
];

/// The module path of a file under `src` (`db/mod.rs` is `db`, `db/entry.rs`
/// is `db::entry`).
fn module_of(rel: &str) -> Vec<String> {
    let rel = rel.strip_suffix(".rs").unwrap_or(rel);
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The layer entry (prefix, layer) that covers a module path.
fn layer_of(path: &[String]) -> Option<(&'static str, usize)> {
    LAYERS
        .iter()
        .filter(|(prefix, _)| {
            let p: Vec<&str> = prefix.split("::").collect();
            p.len() <= path.len() && p.iter().zip(path).all(|(a, b)| *a == b)
        })
        .max_by_key(|(prefix, _)| prefix.split("::").count())
        .copied()
}

/// Every path written as `crate::a::b::...` in the code (not in comments),
/// as its segments.
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let code = code.split(" //").next().unwrap_or(code);
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // `kcache_crate::`, not ours
            }
            assert!(
                !rest.starts_with('{'),
                "write one `use crate::a::b` path per module instead of `crate::{{...}}` \
                 (the layering test reads paths): {line}"
            );
            let mut segs = Vec::new();
            let mut path = rest;
            loop {
                let ident: String = path
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if ident.is_empty() {
                    break;
                }
                path = &path[ident.len()..];
                segs.push(ident);
                match path.strip_prefix("::") {
                    Some(next) => path = next,
                    None => break,
                }
            }
            out.push(segs);
        }
    }
    out
}

fn walk(dir: &Path, root: &Path, files: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("node/src is readable")
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, root, files);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let rel = p
                .strip_prefix(root)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            files.push((rel, fs::read_to_string(&p).expect("source is UTF-8")));
        }
    }
}

/// Every import that goes up a layer, as (file, imported layer prefix, the
/// path as written).
fn upward_imports() -> Vec<(String, String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    assert!(
        files.len() > 50,
        "found only {} files under src",
        files.len()
    );
    let mut up = Vec::new();
    for (rel, text) in &files {
        if rel == "main.rs" || rel == "lib.rs" {
            continue; // the crate root and the binary stand above every layer
        }
        let from = module_of(rel);
        let (_, from_layer) = layer_of(&from)
            .unwrap_or_else(|| panic!("{rel}: module {from:?} is on no layer; add it to LAYERS"));
        for to in crate_paths(text) {
            if to
                .first()
                .is_some_and(|s| s.chars().next().is_some_and(char::is_uppercase) || s == "VERSION")
            {
                continue; // items of the crate root (VERSION, REDIS_COMPAT_VERSION)
            }
            let Some((prefix, to_layer)) = layer_of(&to) else {
                panic!(
                    "{rel}: `crate::{}` is on no layer; add it to LAYERS",
                    to.join("::")
                );
            };
            if to_layer > from_layer {
                up.push((rel.clone(), prefix.to_string(), to.join("::")));
            }
        }
    }
    up
}

#[test]
fn every_top_level_module_is_on_a_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for e in fs::read_dir(&root).expect("node/src is readable") {
        let name = e.expect("directory entry").file_name();
        let name = name.to_string_lossy();
        let module = name.strip_suffix(".rs").unwrap_or(&name);
        if module == "main" || module == "lib" {
            continue;
        }
        assert!(
            layer_of(&[module.to_string()]).is_some(),
            "top-level module `{module}` is on no layer: add it to LAYERS and to node/ARCHITECTURE.md"
        );
    }
}

#[test]
fn imports_only_go_down() {
    let up = upward_imports();
    let allowed: BTreeSet<(&str, &str)> = ALLOWED_UP.iter().copied().collect();
    let mut broken: Vec<String> = up
        .iter()
        .filter(|(file, prefix, _)| !allowed.contains(&(file.as_str(), prefix.as_str())))
        .map(|(file, prefix, path)| {
            format!("{file} imports crate::{path} (layer `{prefix}` is above it)")
        })
        .collect();
    broken.sort();
    broken.dedup();
    assert!(
        broken.is_empty(),
        "imports that go up a layer (call down instead, or hand the lower layer a \
         trait object or a channel; see node/ARCHITECTURE.md):\n  {}",
        broken.join("\n  ")
    );
}

#[test]
fn the_allow_list_only_shrinks() {
    let up: BTreeSet<(String, String)> = upward_imports()
        .into_iter()
        .map(|(file, prefix, _)| (file, prefix))
        .collect();
    let stale: Vec<String> = ALLOWED_UP
        .iter()
        .filter(|(file, prefix)| !up.contains(&(file.to_string(), prefix.to_string())))
        .map(|(file, prefix)| format!("(\"{file}\", \"{prefix}\")"))
        .collect();
    assert!(
        stale.is_empty(),
        "these ALLOWED_UP entries no longer match an import: remove them so the \
         edge cannot come back:\n  {}",
        stale.join("\n  ")
    );
}
