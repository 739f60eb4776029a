//! OBJECT ENCODING | FREQ | IDLETIME | REFCOUNT | HELP: introspection of one
//! key's value, without touching its access clock.

use super::lookup_notouch;
use crate::cmd::flags::*;
use crate::cmd::{arity_error, err, unknown_subcommand, Args, CmdResult, Ctx, SubSpec};
use crate::db::entry::Entry;
use crate::db::idle_seconds;

pub const SUBCOMMANDS: &[SubSpec] = &[
    SubSpec {
        name: "encoding",
        arity: 3,
        flags: READONLY,
        summary: "Returns the internal encoding of a Redis object.",
    },
    SubSpec {
        name: "freq",
        arity: 3,
        flags: READONLY,
        summary: "Returns the logarithmic access frequency counter of a Redis object.",
    },
    SubSpec {
        name: "idletime",
        arity: 3,
        flags: READONLY,
        summary: "Returns the time since the last access to a Redis object.",
    },
    SubSpec {
        name: "refcount",
        arity: 3,
        flags: READONLY,
        summary: "Returns the reference count of a value of a key.",
    },
    SubSpec {
        name: "help",
        arity: 2,
        flags: LOADING | STALE,
        summary: "Returns helpful text about the different subcommands.",
    },
];

const HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

const LFU_NOT_SELECTED: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
const LFU_SELECTED: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// Redis's `OBJ_SHARED_REFCOUNT`: the reference count reported for its shared
/// small integers.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// Redis shares the integers 0..10000 (`OBJ_SHARED_INTEGERS`).
const SHARED_INTEGERS: i64 = 10_000;

/// `OBJECT <ENCODING | FREQ | IDLETIME | REFCOUNT> key` and `OBJECT HELP`
pub fn object(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let sub = args.get(1).to_ascii_lowercase();
    let Some(spec) = SUBCOMMANDS.iter().find(|s| s.name.as_bytes() == sub) else {
        return Err(unknown_subcommand(args.get(1), "object"));
    };
    if !crate::cmd::arity_ok(spec.arity, args.len()) {
        return Err(arity_error(&format!("object|{}", spec.name)));
    }
    if spec.name == "help" {
        ctx.out.array(HELP.len());
        for line in HELP {
            ctx.out.simple(line);
        }
        return Ok(());
    }
    let policy = ctx.srv.config.get("maxmemory-policy");
    let lfu = policy.ends_with("-lfu");
    let key = args.get(2);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let Some(slot) = lookup_notouch(ctx.ks(), &mut sh, h, key, ctx.now_ms) else {
        drop(sh);
        ctx.out.null();
        return Ok(());
    };
    let e = sh.view(slot);
    match spec.name {
        "encoding" => {
            let name = e.encoding_name();
            drop(sh);
            ctx.out.bulk_str(name);
        }
        "idletime" => {
            if lfu {
                return err(LFU_SELECTED);
            }
            let idle = idle_seconds(e.access(), ctx.now_ms);
            drop(sh);
            ctx.out.int(idle as i64);
        }
        "freq" => {
            if !lfu {
                return err(LFU_NOT_SELECTED);
            }
            let freq = crate::db::access::lfu_decr_and_return(e.access(), ctx.now_ms);
            drop(sh);
            ctx.out.int(freq as i64);
        }
        _ => {
            let shares =
                ctx.srv.config.get_i64("maxmemory") == 0 || !(policy.ends_with("-lru") || lfu);
            let n = if shares && is_shared_integer(&e) {
                SHARED_REFCOUNT
            } else {
                1
            };
            drop(sh);
            ctx.out.int(n);
        }
    }
    Ok(())
}

/// Whether Redis would hold this value as one of its shared integer objects.
fn is_shared_integer(e: &Entry) -> bool {
    match e.value() {
        crate::db::entry::ValueRef::Str(s) => {
            e.encoding_name() == "int"
                && crate::util::parse_i64_strict(s)
                    .is_some_and(|v| (0..SHARED_INTEGERS).contains(&v))
        }
        crate::db::entry::ValueRef::Obj(_) => false,
    }
}
