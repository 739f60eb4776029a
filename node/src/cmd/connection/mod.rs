//! Connection commands: PING ECHO HELLO AUTH SELECT QUIT RESET, and CLIENT
//! (in [`client`]).

mod client;
mod tracking;

use std::sync::atomic::Ordering;

use super::flags::*;
use super::{arity_error, err, unknown_subcommand, Args, CmdResult, CommandSpec, Ctx, SubSpec};
use crate::server::client::{ClientShared, ReplyMode};
use crate::server::Msg;

use super::keyless as cmd;

const GROUP: &str = "connection";

pub static COMMANDS: &[CommandSpec] = &[
    cmd!(
        "ping",
        -1,
        FAST,
        ping,
        "1.0.0",
        "Returns the server's liveliness response."
    ),
    cmd!("echo", 2, FAST, echo, "1.0.0", "Returns the given string."),
    cmd!(
        "hello",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH,
        hello,
        "6.0.0",
        "Handshakes with the Redis server."
    ),
    cmd!(
        "auth",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH,
        auth,
        "1.0.0",
        "Authenticates the connection."
    ),
    cmd!(
        "select",
        2,
        LOADING | STALE | FAST,
        select,
        "1.0.0",
        "Changes the selected database."
    ),
    cmd!(
        "quit",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH,
        quit,
        "1.0.0",
        "Closes the connection."
    ),
    cmd!(
        "reset",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH,
        reset,
        "6.2.0",
        "Resets the connection."
    ),
    cmd!(
        "client",
        -2,
        0,
        client::client,
        "2.4.0",
        "A container for client connection commands."
    )
    .with_subcommands(client::SUBCOMMANDS),
];

fn ping(ctx: &mut Ctx, args: &Args) -> CmdResult {
    // A RESP2 subscriber gets `["pong", message]`, as Redis replies in that context.
    if crate::server::channels::is_subscriber(ctx.client) && !ctx.client.resp3 && args.len() <= 2 {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out
            .bulk(if args.len() == 2 { args.get(1) } else { b"" });
        return Ok(());
    }
    match args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(args.get(1)),
        _ => return err(arity_error("ping")),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx, args: &Args) -> CmdResult {
    ctx.out.bulk(args.get(1));
    Ok(())
}

/// Checks a password against `requirepass` (only the `default` user exists).
fn check_password(ctx: &Ctx, user: Option<&[u8]>, pass: &[u8]) -> CmdResult {
    let required = ctx.srv.config.get("requirepass");
    if user.is_some_and(|u| u != b"default") {
        return err("WRONGPASS invalid username-password pair or user is disabled.");
    }
    if required.is_empty() {
        if user.is_some() {
            // `default` with any password succeeds when no password is set (nopass).
            return Ok(());
        }
        return err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    }
    // Compare in constant time with respect to the content.
    let a = required.as_bytes();
    let same =
        a.len() == pass.len() && a.iter().zip(pass).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
    if same {
        Ok(())
    } else {
        err("WRONGPASS invalid username-password pair or user is disabled.")
    }
}

fn auth(ctx: &mut Ctx, args: &Args) -> CmdResult {
    match args.len() {
        2 => check_password(ctx, None, args.get(1))?,
        3 => check_password(ctx, Some(args.get(1)), args.get(2))?,
        _ => return err(super::SYNTAX),
    }
    ctx.client.authenticated = true;
    ctx.out.ok();
    Ok(())
}

fn hello(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut proto = if ctx.client.resp3 { 3 } else { 2 };
    let mut i = 1;
    if args.len() >= 2 {
        let v = args.int(1).map_err(|_| {
            super::CmdError::from("ERR Protocol version is not an integer or out of range")
        })?;
        if !(2..=3).contains(&v) {
            return err("NOPROTO unsupported protocol version");
        }
        proto = v;
        i = 2;
    }
    let mut setname = None;
    let mut authed = false;
    while i < args.len() {
        let more = args.len() - i - 1;
        if args.is(i, "auth") && more >= 2 {
            check_password(ctx, Some(args.get(i + 1)), args.get(i + 2))?;
            authed = true;
            i += 3;
        } else if args.is(i, "setname") && more >= 1 {
            setname = Some(args.get(i + 1));
            i += 2;
        } else {
            return err(format!(
                "ERR Syntax error in HELLO option '{}'",
                args.str_lossy(i)
            ));
        }
    }
    if !ctx.client.authenticated && !authed {
        return err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(name) = setname {
        client::validate_name(name)?;
        client::set_name(&ctx.client.shared, name);
    }
    if authed {
        ctx.client.authenticated = true;
    }
    ctx.client.resp3 = proto == 3;
    ctx.client.shared.resp.store(proto as u8, Ordering::Relaxed);
    ctx.out.resp3 = ctx.client.resp3;
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_COMPAT_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(proto);
    out.bulk(b"id");
    out.int(ctx.client.id as i64);
    out.bulk(b"mode");
    out.bulk(if ctx.srv.config.get_bool("cluster-enabled") {
        b"cluster"
    } else {
        b"standalone"
    });
    out.bulk(b"role");
    out.bulk(if ctx.srv.repl.is_replica() {
        b"replica"
    } else {
        b"master"
    });
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

fn select(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let idx = args
        .int(1)
        .map_err(|_| super::CmdError::from("ERR value is not an integer or out of range"))?;
    if idx != 0 && ctx.srv.cluster.enabled() {
        return err("ERR SELECT is not allowed in cluster mode");
    }
    if idx < 0 || idx as usize >= ctx.srv.keyspace.db_count() {
        return err(super::DB_INDEX);
    }
    ctx.client.select(idx as usize);
    ctx.out.ok();
    Ok(())
}

fn quit(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.out.ok();
    ctx.client.close_after_reply = true;
    Ok(())
}

fn reset(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let c = &mut *ctx.client;
    crate::server::multi::discard(c); // ends MULTI and drops WATCHes
    c.select(0);
    c.readonly = false;
    c.resp3 = false;
    c.shared.resp.store(2, Ordering::Relaxed);
    c.reply = ReplyMode::On;
    *c.shared.name.lock() = None;
    c.shared.no_evict.store(false, Ordering::Relaxed);
    if c.monitor {
        c.monitor = false;
        c.shared.monitor.store(false, Ordering::Relaxed);
        crate::server::exec::remove_monitor(ctx.srv, c.id);
    }
    crate::server::channels::remove_client(ctx.srv, c);
    if c.tracking.take().is_some() {
        ctx.srv.tracking.disable(c.id);
    }
    c.authenticated = ctx.srv.config.get("requirepass").is_empty();
    ctx.out.resp3 = false;
    ctx.out.simple("RESET");
    Ok(())
}
