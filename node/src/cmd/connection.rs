//! Connection commands: PING ECHO HELLO AUTH SELECT QUIT RESET CLIENT.

use std::sync::atomic::Ordering;

use super::flags::*;
use super::{arity_error, err, unknown_subcommand, Args, CmdResult, CommandSpec, Ctx, SubSpec};
use crate::server::client::{ClientShared, ReplyMode};
use crate::server::Msg;

use super::keyless as cmd;

const GROUP: &str = "connection";

const CLIENT_SUBS: &[SubSpec] = &[
    SubSpec {
        name: "id",
        arity: 2,
        flags: NOSCRIPT | LOADING | STALE,
        summary: "Returns the unique client ID of the connection.",
    },
    SubSpec {
        name: "setname",
        arity: 3,
        flags: NOSCRIPT | LOADING | STALE,
        summary: "Sets the connection name.",
    },
    SubSpec {
        name: "getname",
        arity: 2,
        flags: NOSCRIPT | LOADING | STALE,
        summary: "Returns the name of the connection.",
    },
    SubSpec {
        name: "list",
        arity: -2,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Lists open connections.",
    },
    SubSpec {
        name: "info",
        arity: 2,
        flags: NOSCRIPT | LOADING | STALE,
        summary: "Returns information about the connection.",
    },
    SubSpec {
        name: "kill",
        arity: -3,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Terminates open connections.",
    },
    SubSpec {
        name: "unblock",
        arity: -3,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Unblocks a client blocked by a blocking command from a different connection.",
    },
    SubSpec {
        name: "no-evict",
        arity: 3,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Sets the client eviction mode of the connection.",
    },
    SubSpec {
        name: "setinfo",
        arity: 4,
        flags: NOSCRIPT | LOADING | STALE,
        summary: "Sets information specific to the client or connection.",
    },
    SubSpec {
        name: "pause",
        arity: -3,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Suspends commands processing.",
    },
    SubSpec {
        name: "unpause",
        arity: 2,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Resumes processing commands from paused clients.",
    },
    SubSpec {
        name: "reply",
        arity: 3,
        flags: NOSCRIPT | LOADING | STALE,
        summary: "Instructs the server whether to reply to commands.",
    },
    SubSpec {
        name: "help",
        arity: 2,
        flags: LOADING | STALE,
        summary: "Returns helpful text about the different subcommands.",
    },
];

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
        client,
        "2.4.0",
        "A container for client connection commands."
    )
    .with_subcommands(CLIENT_SUBS),
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
        validate_name(name)?;
        set_name(&ctx.client.shared, name);
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
    c.authenticated = ctx.srv.config.get("requirepass").is_empty();
    ctx.out.resp3 = false;
    ctx.out.simple("RESET");
    Ok(())
}

fn validate_name(name: &[u8]) -> CmdResult {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return err("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    Ok(())
}

fn set_name(shared: &ClientShared, name: &[u8]) {
    *shared.name.lock() = if name.is_empty() {
        None
    } else {
        Some(String::from_utf8_lossy(name).into_owned())
    };
}

/// One CLIENT LIST line (Redis 7.0 field order).
pub fn client_line(ctx: &Ctx, c: &ClientShared) -> String {
    let now = ctx.now_ms;
    let cmd = match c.last_cmd.load(Ordering::Relaxed) {
        usize::MAX => "NULL",
        i => ctx.srv.commands.specs.get(i).map_or("NULL", |s| s.name),
    };
    let qbuf = c.qbuf.load(Ordering::Relaxed);
    let omem = c.omem.load(Ordering::Relaxed);
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
        c.id,
        c.addr,
        c.laddr,
        c.fd,
        c.name().unwrap_or_default(),
        (now - c.created_ms).max(0) / 1000,
        (now - c.last_interaction_ms.load(Ordering::Relaxed)).max(0) / 1000,
        c.flags(),
        c.db.load(Ordering::Relaxed),
        c.subs.sub.load(Ordering::Relaxed),
        c.subs.psub.load(Ordering::Relaxed),
        c.subs.ssub.load(Ordering::Relaxed),
        c.multi.load(Ordering::Relaxed),
        qbuf,
        0,
        qbuf.max(1024),
        omem,
        qbuf + omem + 1024,
        cmd,
        c.resp.load(Ordering::Relaxed),
        c.lib_name.lock().as_deref().unwrap_or_default(),
        c.lib_ver.lock().as_deref().unwrap_or_default(),
    )
}

fn client(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let sub = args.get(1).to_ascii_lowercase();
    let argc = args.len();
    let check = |ok: bool, name: &str| -> CmdResult {
        if ok {
            Ok(())
        } else {
            err(arity_error(&format!("client|{name}")))
        }
    };
    match sub.as_slice() {
        b"id" => {
            check(argc == 2, "id")?;
            ctx.out.int(ctx.client.id as i64);
        }
        b"setname" => {
            check(argc == 3, "setname")?;
            validate_name(args.get(2))?;
            set_name(&ctx.client.shared, args.get(2));
            ctx.out.ok();
        }
        b"getname" => {
            check(argc == 2, "getname")?;
            match ctx.client.shared.name() {
                Some(n) => ctx.out.bulk(n.as_bytes()),
                None => ctx.out.null(),
            }
        }
        b"info" => {
            check(argc == 2, "info")?;
            let line = client_line(ctx, &ctx.client.shared.clone()) + "\n";
            ctx.out.verbatim(&line);
        }
        b"list" => client_list(ctx, args)?,
        b"kill" => client_kill(ctx, args)?,
        b"unblock" => super::blocking::client_unblock(ctx, args)?,
        b"setinfo" => {
            check(argc == 4, "setinfo")?;
            client_setinfo(ctx, args)?;
        }
        b"no-evict" => {
            check(argc == 3, "no-evict")?;
            let on = if args.is(2, "on") {
                true
            } else if args.is(2, "off") {
                false
            } else {
                return err(super::SYNTAX);
            };
            ctx.client.shared.no_evict.store(on, Ordering::Relaxed);
            ctx.out.ok();
        }
        b"pause" => client_pause(ctx, args)?,
        b"unpause" => {
            check(argc == 2, "unpause")?;
            ctx.srv.pause.unpause();
            // Every loop re-runs its held clients now, not at its next timeout.
            ctx.srv.wake_loops();
            ctx.out.ok();
        }
        b"reply" => {
            check(argc == 3, "reply")?;
            if args.is(2, "on") {
                ctx.client.reply = ReplyMode::On;
                ctx.out.ok();
            } else if args.is(2, "off") {
                ctx.client.reply = ReplyMode::Off;
            } else if args.is(2, "skip") {
                if ctx.client.reply == ReplyMode::On {
                    ctx.client.reply = ReplyMode::Skip;
                }
            } else {
                return err(super::SYNTAX);
            }
        }
        b"help" => {
            let lines = [
                "GETNAME",
                "    Return the name of the current connection.",
                "ID",
                "    Return the ID of the current connection.",
                "INFO",
                "    Return information about the current client connection.",
                "KILL <ip:port>",
                "    Kill connection made from <ip:port>.",
                "KILL <option> <value> [<option> <value> [...]]",
                "    Kill connections. Options are: ID, ADDR, LADDR, TYPE, USER, SKIPME, MAXAGE.",
                "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> [<id> ...]]",
                "    Return information about client connections.",
                "UNPAUSE",
                "    Stop the current client pause, resuming traffic.",
                "PAUSE <timeout> [WRITE|ALL]",
                "    Suspend all, or just write, clients for <timeout> milliseconds.",
                "NO-EVICT (ON|OFF)",
                "    Protect current client connection from eviction.",
                "REPLY (ON|OFF|SKIP)",
                "    Control the replies sent to the current connection.",
                "SETNAME <name>",
                "    Assign the name <name> to the current connection.",
                "UNBLOCK <clientid> [TIMEOUT|ERROR]",
                "    Unblock the specified blocked client.",
                "SETINFO <option> <value>",
                "    Set client meta attr. Options are:",
                "    * LIB-NAME: the client lib name.",
                "    * LIB-VER: the client lib version.",
            ];
            super::admin::help(ctx, "client", &lines);
        }
        _ => return err(unknown_subcommand(args.get(1), "client")),
    }
    Ok(())
}

fn client_list(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    // Some(true): pub/sub clients only; Some(false): normal clients only.
    let mut type_filter: Option<bool> = None;
    let mut i = 2;
    while i < args.len() {
        if args.is(i, "type") && i + 1 < args.len() {
            let t = args.get(i + 1).to_ascii_lowercase();
            match t.as_slice() {
                b"normal" | b"master" | b"replica" | b"slave" | b"pubsub" => {}
                _ => {
                    return err(format!(
                        "ERR Unknown client type '{}'",
                        args.str_lossy(i + 1)
                    ))
                }
            }
            type_filter = Some(t == b"pubsub");
            if t == b"master" {
                ids = Some(
                    crate::repl::replica::master_client_id(ctx.srv)
                        .into_iter()
                        .collect(),
                );
                type_filter = None;
            } else if t != b"normal" && t != b"pubsub" {
                // Replicas of this node (repl::primary).
                ids = Some(
                    ctx.srv
                        .clients
                        .snapshot()
                        .iter()
                        .filter(|c| c.replica.load(Ordering::Relaxed))
                        .map(|c| c.id)
                        .collect(),
                );
                type_filter = None;
            }
            i += 2;
        } else if args.is(i, "id") && i + 1 < args.len() {
            let mut v = Vec::new();
            for j in i + 1..args.len() {
                match args.int(j) {
                    Ok(id) if id > 0 => v.push(id as u64),
                    _ => return err("ERR Invalid client ID"),
                }
            }
            ids = Some(v);
            i = args.len();
        } else {
            return err(super::SYNTAX);
        }
    }
    let mut text = String::new();
    for c in ctx.srv.clients.snapshot() {
        if ids.as_ref().is_some_and(|v| !v.contains(&c.id)) {
            continue;
        }
        if type_filter.is_some_and(|p| p != c.is_pubsub()) {
            continue;
        }
        text.push_str(&client_line(ctx, &c));
        text.push('\n');
    }
    ctx.out.verbatim(&text);
    Ok(())
}

/// `CLIENT SETINFO <LIB-NAME libname | LIB-VER libver>` (Redis 7.2; client
/// libraries send it on connect), shown as `lib-name`/`lib-ver` in CLIENT LIST.
/// `CLIENT PAUSE timeout [WRITE | ALL]`: holds all commands, or those that may
/// change data, for `timeout` milliseconds (see `server/pause.rs`).
fn client_pause(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() < 3 {
        return err(arity_error("client|pause"));
    }
    if args.len() > 4 {
        return err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            args.str_lossy(1)
        ));
    }
    let timeout = crate::util::parse_i64_strict(args.get(2))
        .ok_or("ERR timeout is not an integer or out of range")?;
    if timeout < 0 {
        return err("ERR timeout is negative");
    }
    let mode = match args.len() {
        3 => crate::server::pause::Mode::All,
        _ if args.is(3, "write") => crate::server::pause::Mode::Write,
        _ if args.is(3, "all") => crate::server::pause::Mode::All,
        _ => return err("ERR CLIENT PAUSE mode must be WRITE or ALL"),
    };
    let until = ctx.now_ms.saturating_add(timeout);
    ctx.srv.pause.pause(mode, until, ctx.now_ms);
    ctx.out.ok();
    Ok(())
}

fn client_setinfo(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let shared = &ctx.client.shared;
    let slot = if args.is(2, "lib-name") {
        &shared.lib_name
    } else if args.is(2, "lib-ver") {
        &shared.lib_ver
    } else {
        return err(format!("ERR Unrecognized option '{}'", args.str_lossy(2)));
    };
    let value = args.get(3);
    if value.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return err(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            args.str_lossy(2)
        ));
    }
    *slot.lock() = (!value.is_empty()).then(|| String::from_utf8_lossy(value).into_owned());
    ctx.out.ok();
    Ok(())
}

/// A CLIENT KILL filter.
type Filter = Box<dyn Fn(&ClientShared) -> bool>;

fn client_kill(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let me = ctx.client.id;
    let all = ctx.srv.clients.snapshot();
    if args.len() == 3 {
        // Old form: CLIENT KILL addr:port.
        let addr = args.str_lossy(2);
        let Some(c) = all.iter().find(|c| c.addr == addr) else {
            return err("ERR No such client");
        };
        kill(ctx, c);
        ctx.out.ok();
        return Ok(());
    }
    if !args.len().is_multiple_of(2) {
        return err(super::SYNTAX);
    }
    let mut skipme = true;
    let mut filters: Vec<Filter> = Vec::new();
    let mut i = 2;
    while i + 1 < args.len() {
        let v = args.get(i + 1);
        if args.is(i, "id") {
            let id = crate::util::parse_i64_strict(v)
                .filter(|&n| n > 0)
                .ok_or_else(|| super::CmdError::from("ERR client-id should be greater than 0"))?;
            filters.push(Box::new(move |c| c.id == id as u64));
        } else if args.is(i, "addr") {
            let a = String::from_utf8_lossy(v).into_owned();
            filters.push(Box::new(move |c| c.addr == a));
        } else if args.is(i, "laddr") {
            let a = String::from_utf8_lossy(v).into_owned();
            filters.push(Box::new(move |c| c.laddr == a));
        } else if args.is(i, "type") {
            let t = v.to_ascii_lowercase();
            match t.as_slice() {
                b"normal" => {
                    let m = crate::repl::replica::master_client_id(ctx.srv);
                    filters.push(Box::new(move |c| {
                        !c.is_pubsub() && Some(c.id) != m && !c.replica.load(Ordering::Relaxed)
                    }))
                }
                b"pubsub" => filters.push(Box::new(|c| c.is_pubsub())),
                b"master" => {
                    // The replication link's pseudo-client (repl::replica).
                    let m = crate::repl::replica::master_client_id(ctx.srv);
                    filters.push(Box::new(move |c| Some(c.id) == m))
                }
                b"replica" | b"slave" => {
                    filters.push(Box::new(|c| c.replica.load(Ordering::Relaxed)))
                }
                _ => {
                    return err(format!(
                        "ERR Unknown client type '{}'",
                        String::from_utf8_lossy(v)
                    ))
                }
            }
        } else if args.is(i, "user") {
            let u = v.to_vec();
            filters.push(Box::new(move |_| u == b"default"));
        } else if args.is(i, "skipme") {
            skipme = if v.eq_ignore_ascii_case(b"yes") {
                true
            } else if v.eq_ignore_ascii_case(b"no") {
                false
            } else {
                return err(super::SYNTAX);
            };
        } else if args.is(i, "maxage") {
            let max = crate::util::parse_i64_strict(v)
                .ok_or_else(|| super::CmdError::from(super::NOT_INTEGER))?;
            let now = ctx.now_ms;
            filters.push(Box::new(move |c| (now - c.created_ms) / 1000 >= max));
        } else {
            return err(super::SYNTAX);
        }
        i += 2;
    }
    let mut killed = 0;
    for c in &all {
        if skipme && c.id == me {
            continue;
        }
        if filters.iter().all(|f| f(c)) {
            kill(ctx, c);
            killed += 1;
        }
    }
    ctx.out.int(killed);
    Ok(())
}

fn kill(ctx: &mut Ctx, c: &ClientShared) {
    if c.id == ctx.client.id {
        ctx.client.close_after_reply = true;
        return;
    }
    c.killed.store(true, Ordering::Relaxed);
    if let Some(w) = ctx.srv.worker(c.worker) {
        w.send(Msg::Kill {
            token: c.token,
            id: c.id,
        });
    }
}
