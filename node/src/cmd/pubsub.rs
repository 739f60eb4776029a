//! Pub/sub commands: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH
//! PUBSUB SSUBSCRIBE SUNSUBSCRIBE SPUBLISH. The registry and delivery live in
//! `server::channels`; shard channels behave as a separate namespace of plain
//! channels outside cluster mode, as in Redis.

use super::flags::*;
use super::{arity_error, err, unknown_subcommand, Args, CmdResult, CommandSpec, Ctx, SubSpec};
use crate::protocol::Out;
use crate::server::channels::{self, Kind, SelfSink};

macro_rules! cmd {
    ($name:expr, $arity:expr, $flags:expr, $keys:expr, $h:expr, $since:expr, $summary:expr) => {
        CommandSpec::new($name, $arity, $flags, $keys, $h, "pubsub", $since, $summary)
    };
}

const SUB_FLAGS: u32 = PUBSUB | NOSCRIPT | LOADING | STALE;
const PUB_FLAGS: u32 = PUBSUB | LOADING | STALE | FAST;
const NO_KEYS: (i32, i32, i32) = (0, 0, 0);

const PUBSUB_SUBS: &[SubSpec] = &[
    SubSpec {
        name: "channels",
        arity: -2,
        flags: PUBSUB | LOADING | STALE,
        summary: "Returns the active channels.",
    },
    SubSpec {
        name: "numpat",
        arity: 2,
        flags: PUBSUB | LOADING | STALE,
        summary: "Returns a count of unique pattern subscriptions.",
    },
    SubSpec {
        name: "numsub",
        arity: -2,
        flags: PUBSUB | LOADING | STALE,
        summary: "Returns a count of subscribers to channels.",
    },
    SubSpec {
        name: "shardchannels",
        arity: -2,
        flags: PUBSUB | LOADING | STALE,
        summary: "Returns the active shard channels.",
    },
    SubSpec {
        name: "shardnumsub",
        arity: -2,
        flags: PUBSUB | LOADING | STALE,
        summary: "Returns the count of subscribers of shard channels.",
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
        "subscribe",
        -2,
        SUB_FLAGS,
        NO_KEYS,
        subscribe,
        "2.0.0",
        "Listens for messages published to channels."
    ),
    cmd!(
        "unsubscribe",
        -1,
        SUB_FLAGS,
        NO_KEYS,
        unsubscribe,
        "2.0.0",
        "Stops listening to messages posted to channels."
    ),
    cmd!(
        "psubscribe",
        -2,
        SUB_FLAGS,
        NO_KEYS,
        psubscribe,
        "2.0.0",
        "Listens for messages published to channels that match one or more patterns."
    ),
    cmd!(
        "punsubscribe",
        -1,
        SUB_FLAGS,
        NO_KEYS,
        punsubscribe,
        "2.0.0",
        "Stops listening to messages published to channels that match one or more patterns."
    ),
    cmd!(
        "publish",
        3,
        PUB_FLAGS,
        NO_KEYS,
        publish,
        "2.0.0",
        "Posts a message to a channel."
    ),
    cmd!(
        "pubsub",
        -2,
        0,
        NO_KEYS,
        pubsub_cmd,
        "2.8.0",
        "A container for Pub/Sub commands."
    )
    .with_subcommands(PUBSUB_SUBS),
    cmd!(
        "ssubscribe",
        -2,
        SUB_FLAGS,
        (1, -1, 1),
        ssubscribe,
        "7.0.0",
        "Listens for messages published to shard channels."
    ),
    cmd!(
        "sunsubscribe",
        -1,
        SUB_FLAGS,
        (1, -1, 1),
        sunsubscribe,
        "7.0.0",
        "Stops listening to messages posted to shard channels."
    ),
    cmd!(
        "spublish",
        3,
        PUB_FLAGS,
        (1, 1, 1),
        spublish,
        "7.0.0",
        "Post a message to a shard channel"
    ),
];

/// One (un)subscribe confirmation: `[word, name, count]` as a push, which
/// CLIENT REPLY OFF|SKIP does not silence (`Client::push_buf`).
fn confirm(ctx: &mut Ctx, word: &[u8], name: Option<&[u8]>, count: usize) {
    let mut push = Out {
        buf: std::mem::take(ctx.client.push_buf(&mut ctx.out.buf)),
        resp3: ctx.out.resp3,
    };
    push.push(3);
    push.bulk(word);
    match name {
        Some(n) => push.bulk(n),
        None => push.null(),
    }
    push.int(count as i64);
    *ctx.client.push_buf(&mut ctx.out.buf) = push.buf;
}

fn subscribe_all(ctx: &mut Ctx, args: &Args, kind: Kind) -> CmdResult {
    for i in 1..args.len() {
        let name = args.get(i);
        channels::subscribe(ctx.srv, ctx.client, kind, name);
        let count = channels::reported_count(ctx.client, kind);
        confirm(ctx, kind.subscribe_word(), Some(name), count);
    }
    Ok(())
}

fn unsubscribe_all(ctx: &mut Ctx, args: &Args, kind: Kind) -> CmdResult {
    let word = kind.unsubscribe_word();
    if args.len() > 1 {
        for i in 1..args.len() {
            let name = args.get(i);
            channels::unsubscribe(ctx.srv, ctx.client, kind, name);
            let count = channels::reported_count(ctx.client, kind);
            confirm(ctx, word, Some(name), count);
        }
        return Ok(());
    }
    let names = channels::subscribed_names(ctx.client, kind);
    if names.is_empty() {
        let count = channels::reported_count(ctx.client, kind);
        confirm(ctx, word, None, count);
    }
    for name in names {
        channels::unsubscribe(ctx.srv, ctx.client, kind, &name);
        let count = channels::reported_count(ctx.client, kind);
        confirm(ctx, word, Some(&name), count);
    }
    Ok(())
}

/// `SUBSCRIBE channel [channel ...]`
fn subscribe(ctx: &mut Ctx, args: &Args) -> CmdResult {
    subscribe_all(ctx, args, Kind::Channel)
}

/// `UNSUBSCRIBE [channel [channel ...]]`
fn unsubscribe(ctx: &mut Ctx, args: &Args) -> CmdResult {
    unsubscribe_all(ctx, args, Kind::Channel)
}

/// `PSUBSCRIBE pattern [pattern ...]`
fn psubscribe(ctx: &mut Ctx, args: &Args) -> CmdResult {
    subscribe_all(ctx, args, Kind::Pattern)
}

/// `PUNSUBSCRIBE [pattern [pattern ...]]`
fn punsubscribe(ctx: &mut Ctx, args: &Args) -> CmdResult {
    unsubscribe_all(ctx, args, Kind::Pattern)
}

/// `SSUBSCRIBE shardchannel [shardchannel ...]`
fn ssubscribe(ctx: &mut Ctx, args: &Args) -> CmdResult {
    subscribe_all(ctx, args, Kind::Shard)
}

/// `SUNSUBSCRIBE [shardchannel [shardchannel ...]]`
fn sunsubscribe(ctx: &mut Ctx, args: &Args) -> CmdResult {
    unsubscribe_all(ctx, args, Kind::Shard)
}

fn publish_to(ctx: &mut Ctx, args: &Args, shard: bool) -> CmdResult {
    let id = ctx.client.id;
    let mut me = SelfSink {
        id,
        buf: ctx.client.push_buf(&mut ctx.out.buf),
    };
    let n = channels::publish(ctx.srv, shard, args.get(1), args.get(2), Some(&mut me));
    ctx.out.int(n as i64);
    Ok(())
}

/// `PUBLISH channel message`
fn publish(ctx: &mut Ctx, args: &Args) -> CmdResult {
    publish_to(ctx, args, false)
}

/// `SPUBLISH shardchannel message`
fn spublish(ctx: &mut Ctx, args: &Args) -> CmdResult {
    publish_to(ctx, args, true)
}

/// `PUBSUB <CHANNELS [pattern] | NUMPAT | NUMSUB [channel ...] |
/// SHARDCHANNELS [pattern] | SHARDNUMSUB [shardchannel ...] | HELP>`
fn pubsub_cmd(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let sub = args.get(1).to_ascii_lowercase();
    let argc = args.len();
    let ps = &ctx.srv.pubsub;
    match sub.as_slice() {
        b"channels" | b"shardchannels" => {
            if argc > 3 {
                return err(format!(
                    "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
                    args.str_lossy(1)
                ));
            }
            let kind = if sub == b"channels" {
                Kind::Channel
            } else {
                Kind::Shard
            };
            let names = ps.names(kind, (argc == 3).then(|| args.get(2)));
            ctx.out.array(names.len());
            for n in names {
                ctx.out.bulk(&n);
            }
        }
        b"numpat" => {
            if argc != 2 {
                return err(arity_error("pubsub|numpat"));
            }
            ctx.out.int(ps.count(Kind::Pattern) as i64);
        }
        b"numsub" | b"shardnumsub" => {
            let kind = if sub == b"numsub" {
                Kind::Channel
            } else {
                Kind::Shard
            };
            // An array of pairs in both protocols, as Redis 7.0 replies.
            ctx.out.array((argc - 2) * 2);
            for i in 2..argc {
                ctx.out.bulk(args.get(i));
                ctx.out.int(ps.subscribers(kind, args.get(i)) as i64);
            }
        }
        b"help" => {
            if argc != 2 {
                return err(arity_error("pubsub|help"));
            }
            let lines = [
                "CHANNELS [<pattern>]",
                "    Return the currently active channels matching a <pattern> (default: '*').",
                "NUMPAT",
                "    Return number of subscriptions to patterns.",
                "NUMSUB [<channel> ...]",
                "    Return the number of subscribers for the specified channels, excluding",
                "    pattern subscriptions(default: no channels).",
                "SHARDCHANNELS [<pattern>]",
                "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                "SHARDNUMSUB [<shardchannel> ...]",
                "    Return the number of subscribers for the specified shard level channel(s)",
            ];
            super::admin::help(ctx, "pubsub", &lines);
        }
        _ => return err(unknown_subcommand(args.get(1), "pubsub")),
    }
    Ok(())
}
