//! CLIENT and its subcommands: ID SETNAME GETNAME LIST INFO KILL UNBLOCK
//! NO-EVICT SETINFO PAUSE UNPAUSE REPLY TRACKING CACHING GETREDIR TRACKINGINFO
//! HELP.

use super::*;

pub(super) const SUBCOMMANDS: &[SubSpec] = &[
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
        name: "tracking",
        arity: -3,
        flags: NOSCRIPT | LOADING | STALE,
        summary: "Controls server-assisted client-side caching for the connection.",
    },
    SubSpec {
        name: "caching",
        arity: 3,
        flags: NOSCRIPT | LOADING | STALE,
        summary: "Instructs the server whether to track the keys in the next request.",
    },
    SubSpec {
        name: "getredir",
        arity: 2,
        flags: NOSCRIPT | LOADING | STALE,
        summary:
            "Returns the client ID to which the connection's tracking notifications are redirected.",
    },
    SubSpec {
        name: "trackinginfo",
        arity: 2,
        flags: NOSCRIPT | LOADING | STALE,
        summary:
            "Returns information about server-assisted client-side caching for the connection.",
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

pub(super) fn validate_name(name: &[u8]) -> CmdResult {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return err("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    Ok(())
}

pub(super) fn set_name(shared: &ClientShared, name: &[u8]) {
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
    let redir = if ctx.srv.tracking.active() {
        ctx.srv
            .tracking
            .mode(c.id)
            .map_or(-1, |(m, _)| m.redirect as i64)
    } else {
        -1
    };
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user=default redir={} resp={} lib-name={} lib-ver={}",
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
        redir,
        c.resp.load(Ordering::Relaxed),
        c.lib_name.lock().as_deref().unwrap_or_default(),
        c.lib_ver.lock().as_deref().unwrap_or_default(),
    )
}

pub(super) fn client(ctx: &mut Ctx, args: &Args) -> CmdResult {
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
        b"unblock" => crate::cmd::blocking::client_unblock(ctx, args)?,
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
                return err(crate::cmd::SYNTAX);
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
        b"tracking" => {
            check(argc >= 3, "tracking")?;
            super::tracking::tracking(ctx, args)?;
        }
        b"caching" => {
            check(argc == 3, "caching")?;
            super::tracking::caching(ctx, args)?;
        }
        b"getredir" => {
            check(argc == 2, "getredir")?;
            super::tracking::getredir(ctx);
        }
        b"trackinginfo" => {
            check(argc == 2, "trackinginfo")?;
            super::tracking::trackinginfo(ctx);
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
                return err(crate::cmd::SYNTAX);
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
            crate::cmd::admin::help(ctx, "client", &lines);
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
            return err(crate::cmd::SYNTAX);
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
        return err(crate::cmd::SYNTAX);
    }
    let mut skipme = true;
    let mut filters: Vec<Filter> = Vec::new();
    let mut i = 2;
    while i + 1 < args.len() {
        let v = args.get(i + 1);
        if args.is(i, "id") {
            let id = crate::util::parse_i64_strict(v)
                .filter(|&n| n > 0)
                .ok_or_else(|| {
                    crate::cmd::CmdError::from("ERR client-id should be greater than 0")
                })?;
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
                return err(crate::cmd::SYNTAX);
            };
        } else if args.is(i, "maxage") {
            let max = crate::util::parse_i64_strict(v)
                .ok_or_else(|| crate::cmd::CmdError::from(crate::cmd::NOT_INTEGER))?;
            let now = ctx.now_ms;
            filters.push(Box::new(move |c| (now - c.created_ms) / 1000 >= max));
        } else {
            return err(crate::cmd::SYNTAX);
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
