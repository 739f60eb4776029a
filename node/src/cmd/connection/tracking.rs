//! CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO over
//! [`crate::server::tracking`].

use super::*;
use crate::server::tracking::{Local, Mode};

/// `CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX prefix ...] [BCAST] [OPTIN]
/// [OPTOUT] [NOLOOP]`
pub(super) fn tracking(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let on = if args.is(2, "on") {
        true
    } else if args.is(2, "off") {
        false
    } else {
        return err(crate::cmd::SYNTAX);
    };
    let mut mode = Mode::default();
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        if args.is(i, "redirect") && more {
            i += 1;
            if mode.redirect != 0 {
                return err("ERR A client can only redirect to a single other client");
            }
            let id = args.int(i)?;
            // Required to exist now, as in Redis, though it may go away later.
            match u64::try_from(id)
                .ok()
                .filter(|&id| ctx.srv.clients.get(id).is_some())
            {
                Some(id) => mode.redirect = id,
                None => return err("ERR The client ID you want redirect to does not exist"),
            }
        } else if args.is(i, "bcast") {
            mode.bcast = true;
        } else if args.is(i, "optin") {
            mode.optin = true;
        } else if args.is(i, "optout") {
            mode.optout = true;
        } else if args.is(i, "noloop") {
            mode.noloop = true;
        } else if args.is(i, "prefix") && more {
            i += 1;
            mode.prefixes.push(args.get(i).into());
        } else {
            return err(crate::cmd::SYNTAX);
        }
        i += 1;
    }
    let srv = ctx.srv;
    if !on {
        srv.tracking.disable(ctx.client.id);
        ctx.client.tracking = None;
        ctx.out.ok();
        return Ok(());
    }
    // Redis's checks, in its order.
    let current = srv.tracking.mode(ctx.client.id).map(|(m, _)| m);
    if !mode.bcast && !mode.prefixes.is_empty() {
        return err("ERR PREFIX option requires BCAST mode to be enabled");
    }
    if current.as_ref().is_some_and(|c| c.bcast != mode.bcast) {
        return err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.");
    }
    if mode.bcast && (mode.optin || mode.optout) {
        return err("ERR OPTIN and OPTOUT are not compatible with BCAST");
    }
    if mode.optin && mode.optout {
        return err("ERR You can't specify both OPTIN mode and OPTOUT mode");
    }
    if current
        .as_ref()
        .is_some_and(|c| mode.optin && c.optout || mode.optout && c.optin)
    {
        return err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.");
    }
    // Options add up while tracking stays on, as in Redis.
    if let Some(c) = &current {
        mode.optin |= c.optin;
        mode.optout |= c.optout;
        mode.noloop |= c.noloop;
    }
    let local = Local {
        bcast: mode.bcast,
        optin: mode.optin,
        optout: mode.optout,
        caching: ctx.client.tracking.as_ref().and_then(|l| l.caching),
    };
    srv.tracking.enable(&ctx.client.shared, mode)?;
    // Lazily expired keys are invalidated too (db::note_expired logs them).
    srv.keyspace
        .track_expired
        .store(true, std::sync::atomic::Ordering::Relaxed);
    ctx.client.tracking = Some(local);
    ctx.out.ok();
    Ok(())
}

/// `CLIENT CACHING YES|NO`: whether the next command's keys are tracked, in
/// OPTIN (yes) or OPTOUT (no) mode.
pub(super) fn caching(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let Some(local) = ctx.client.tracking.as_mut() else {
        return err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
    };
    if args.is(2, "yes") {
        if !local.optin {
            return err(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
        local.caching = Some(true);
    } else if args.is(2, "no") {
        if !local.optout {
            return err(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
        local.caching = Some(false);
    } else {
        return err(crate::cmd::SYNTAX);
    }
    ctx.out.ok();
    Ok(())
}

/// `CLIENT GETREDIR`: the redirect id, 0 without one, -1 when not tracking.
pub(super) fn getredir(ctx: &mut Ctx) {
    let redir = ctx
        .srv
        .tracking
        .mode(ctx.client.id)
        .map_or(-1, |(m, _)| m.redirect as i64);
    ctx.out.int(redir);
}

/// `CLIENT TRACKINGINFO`: flags, redirect and prefixes, in Redis's shape.
pub(super) fn trackinginfo(ctx: &mut Ctx) {
    let state = ctx.srv.tracking.mode(ctx.client.id);
    let caching = ctx.client.tracking.as_ref().and_then(|l| l.caching);
    let mut flags: Vec<&str> = Vec::new();
    let out = &mut *ctx.out;
    out.map(3);
    out.bulk(b"flags");
    match &state {
        None => flags.push("off"),
        Some((m, broken)) => {
            flags.push("on");
            if m.bcast {
                flags.push("bcast");
            }
            if m.optin {
                flags.push("optin");
                if caching == Some(true) {
                    flags.push("caching-yes");
                }
            }
            if m.optout {
                flags.push("optout");
                if caching == Some(false) {
                    flags.push("caching-no");
                }
            }
            if m.noloop {
                flags.push("noloop");
            }
            if *broken {
                flags.push("broken_redirect");
            }
        }
    }
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"redirect");
    out.int(state.as_ref().map_or(-1, |(m, _)| m.redirect as i64));
    out.bulk(b"prefixes");
    let prefixes: &[Box<[u8]>] = state
        .as_ref()
        .filter(|(m, _)| m.bcast)
        .map_or(&[][..], |(m, _)| m.prefixes.as_slice());
    out.array(prefixes.len());
    for p in prefixes {
        out.bulk(p);
    }
}
