//! `CONFIG GET | SET | RESETSTAT | REWRITE | HELP` over [`crate::config`].

use std::sync::atomic::Ordering;

use super::super::{err, Args, CmdResult, Ctx, SYNTAX};
use crate::config::{find_param, ConfigError};

/// `CONFIG <subcommand> [arg ...]`
pub fn config(ctx: &mut Ctx, args: &Args) -> CmdResult {
    match super::subcommand(args, "config", super::CONFIG_SUBS)? {
        "get" => get(ctx, args),
        "set" => set(ctx, args),
        "resetstat" => {
            resetstat(ctx);
            ctx.out.ok();
            Ok(())
        }
        "rewrite" => rewrite(ctx),
        _ => {
            super::help(
                ctx,
                "config",
                &[
                    "GET <pattern>",
                    "    Return parameters matching the glob-like <pattern> and their values.",
                    "SET <directive> <value>",
                    "    Set the configuration <directive> to <value>.",
                    "RESETSTAT",
                    "    Reset statistics reported by the INFO command.",
                    "REWRITE",
                    "    Rewrite the configuration file.",
                ],
            );
            Ok(())
        }
    }
}

/// `CONFIG GET parameter [parameter ...]`: every parameter matching any of the
/// glob patterns, each once, in the order first matched.
fn get(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut seen = std::collections::HashSet::new();
    let mut pairs = Vec::new();
    for pattern in args.iter().skip(2) {
        for (name, value) in ctx.srv.config.matching(pattern) {
            if seen.insert(name) {
                pairs.push((name, value));
            }
        }
    }
    ctx.out.map(pairs.len());
    for (name, value) in pairs {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(value.as_bytes());
    }
    Ok(())
}

/// Whether this client may change a protected parameter: `enable-protected-configs`
/// is `yes`, or `local` and the client is on a loopback address.
fn protected_allowed(ctx: &Ctx) -> bool {
    protected_action_allowed(ctx, "enable-protected-configs")
}

/// Redis's `allowProtectedAction`: the `no | yes | local` parameter `param`
/// allows this client (`local`: on a loopback address).
pub fn protected_action_allowed(ctx: &Ctx, param: &str) -> bool {
    match ctx.srv.config.get(param).as_str() {
        "yes" => true,
        "local" => ctx
            .client
            .shared
            .addr
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|a| a.ip().is_loopback()),
        _ => false,
    }
}

/// `CONFIG SET parameter value [parameter value ...]`: all or nothing, with
/// Redis 7's checks in Redis 7's order (unknown names, then immutable or
/// duplicate ones, then values).
fn set(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if !args.len().is_multiple_of(2) {
        return err(SYNTAX);
    }
    let mut unknown = None;
    let mut refused: Option<(String, &'static str)> = None;
    let mut params = Vec::new();
    let mut pairs = Vec::new();
    for i in (2..args.len()).step_by(2) {
        let name = args.str_lossy(i).into_owned();
        let Some(param) = find_param(&name) else {
            unknown.get_or_insert(name);
            continue;
        };
        if unknown.is_some() || refused.is_some() {
            continue;
        }
        if !param.mutable {
            refused = Some((name, "can't set immutable config"));
            continue;
        }
        if crate::config::PROTECTED.contains(&param.name) && !protected_allowed(ctx) {
            refused = Some((name, "can't set protected config"));
            continue;
        }
        if params.iter().any(|p| std::ptr::eq(*p, param)) {
            refused = Some((name, "duplicate parameter"));
            continue;
        }
        params.push(param);
        pairs.push((param.name.to_string(), args.str_lossy(i + 1).into_owned()));
    }
    if let Some(name) = unknown {
        return err(format!(
            "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
        ));
    }
    if let Some((name, why)) = refused {
        return err(format!(
            "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
        ));
    }
    if let Err((name, e)) = ctx.srv.config.set_runtime(&pairs) {
        let why = match e {
            ConfigError::Unknown(_) => "unknown parameter".to_string(),
            other => other.to_string(),
        };
        return err(format!(
            "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
        ));
    }
    if pairs
        .iter()
        .any(|(n, _)| n == "appendonly" || n == "appendfsync")
    {
        if let Some(srv) = ctx.srv.me() {
            crate::persist::aof::config_changed(&srv);
        }
    }
    ctx.out.ok();
    Ok(())
}

/// `CONFIG RESETSTAT`: the counters behind INFO stats and commandstats, the
/// keyspace hit/miss/expiry counters and the memory peak (not the slow log).
pub fn resetstat(ctx: &Ctx) {
    ctx.srv.stats.reset();
    let ks = &ctx.srv.keyspace;
    for c in [&ks.expired_keys, &ks.keyspace_hits, &ks.keyspace_misses] {
        c.store(0, Ordering::Relaxed);
    }
}

/// `CONFIG REWRITE`: updates the config file in place, through a temporary file
/// and a rename so a crash never leaves it half written.
fn rewrite(ctx: &mut Ctx) -> CmdResult {
    let Some(path) = ctx.srv.config.file.clone() else {
        return err("ERR The server is running without a config file");
    };
    if path.as_os_str() == "-" {
        return err("ERR The server is running without a config file");
    }
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let text = ctx.srv.config.rewrite_text(&old);
    let tmp = path.with_extension(format!("rewrite-{}.tmp", std::process::id()));
    let result = std::fs::write(&tmp, text.as_bytes()).and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        tracing::warn!(path = %path.display(), error = %e, "CONFIG REWRITE failed");
        return err(format!("ERR Rewriting config file: {e}"));
    }
    ctx.out.ok();
    Ok(())
}
