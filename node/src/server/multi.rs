//! MULTI/EXEC: queueing a transaction and running it atomically.
//!
//! # Queueing
//! After MULTI, `exec.rs` checks each command as usual (unknown command, arity,
//! NOAUTH, `no-multi`) and then, instead of running it, hands it to [`queue`],
//! which copies its arguments (the read buffer moves on) and answers `+QUEUED`.
//! A rejected command flags the transaction, so EXEC answers EXECABORT. MULTI,
//! EXEC, DISCARD, WATCH, QUIT and RESET run at once, as in Redis.
//!
//! # Atomicity across lock stripes
//! Handlers lock their own stripes, so EXEC cannot simply "run under one lock".
//! Instead it computes the transaction's *footprint* — the stripes its commands
//! may lock — locks all of it in the global (database, stripe) order, and runs
//! the queued handlers unchanged inside [`Keyspace::with_held`]: their `lock*`
//! calls on held stripes return guards that do not lock again (`db/guard.rs`).
//! No other client can observe the keyspace between two of the transaction's
//! commands, and since the footprint is taken in the global order, EXEC cannot
//! deadlock with multi-key commands or other transactions.
//!
//! The footprint is exact for the common case and conservative otherwise:
//! - commands with a fixed key spec (first/last/step, no `movablekeys`) add the
//!   stripes of their keys in the database the client will have selected (the
//!   queue is run in order, so SELECT changes it — see below);
//! - a few keyless commands that never touch the keyspace (PING, ECHO, TIME,
//!   HELLO, AUTH, UNWATCH, COMMAND) add nothing;
//! - anything else (no key spec: FLUSHALL, DBSIZE, SCAN, INFO, CLIENT, ...;
//!   movable keys: ZUNIONSTORE, SORT, LMPOP; cross-database: MOVE, COPY; SELECT)
//!   makes the footprint every stripe of every database. Measured (one I/O
//!   thread, pipelined): `MULTI GET k EXEC` takes 2.7 us, `MULTI DBSIZE EXEC` 34 us,
//!   nearly all of it locking and unlocking 16 x 256 stripes, during which every
//!   other client waits;
//! - the watched keys' stripes are added, so EXEC checks WATCH under the same
//!   locks a conflicting write takes (`watch.rs`).
//!
//! Transactions that only touch keys thus serialise only with commands on the
//! same stripes. Outside transactions a lock costs one more thread-local check;
//! the WATCH bookkeeping of write commands is described in `watch.rs`.
//!
//! Redis's behaviours reproduced: runtime errors do not abort (each reply is in
//! EXEC's array); CLIENT REPLY OFF inside the queue silences the rest of the array
//! (leaving the header, as Redis does) and SKIP applies to the command after EXEC;
//! HELLO inside switches the protocol of the replies that follow; blocking
//! commands see [`Tx::executing`] and must not block; MONITOR is refused.

use std::ops::Range;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::client::{Client, ReplyMode};
use super::exec::Env;
use super::watch::WatchSet;
use super::Server;
use crate::cmd::{err, flags, Args, CmdResult, CommandSpec};
use crate::db::{stripe_of, StripeSet};
use crate::protocol::Out;

/// The commands of a transaction, with their arguments copied into one buffer.
#[derive(Default)]
struct Queue {
    buf: Vec<u8>,
    /// Argument ranges into `buf`, all commands' one after another.
    ranges: Vec<Range<usize>>,
    /// Per command: its table index and its slice of `ranges`.
    cmds: Vec<(usize, Range<usize>)>,
    /// A command was rejected while queueing: EXEC answers EXECABORT.
    failed: bool,
}

impl Queue {
    fn args(&self, i: usize) -> (usize, Args<'_>) {
        let (idx, r) = &self.cmds[i];
        (*idx, Args::new(&self.buf, &self.ranges[r.clone()]))
    }
}

/// A client's transaction state.
#[derive(Default)]
pub struct Tx {
    /// `Some` between MULTI and EXEC/DISCARD.
    queue: Option<Queue>,
    /// Keys WATCHed since the last EXEC/DISCARD/UNWATCH.
    pub watch: Option<WatchSet>,
    /// EXEC is running the queue: blocking commands must answer as if timed out,
    /// as Redis does for a client that cannot block.
    pub executing: bool,
    /// Effects of the running transaction's commands, (database, RESP), logged
    /// as one `MULTI ... EXEC` when it ends (`repl::prop`).
    pub prop: Vec<(usize, Vec<u8>)>,
}

impl Tx {
    /// Whether a queued command satisfies `pred` (given its table index).
    pub fn queue_has(&self, pred: impl Fn(usize) -> bool) -> bool {
        self.queue
            .as_ref()
            .is_some_and(|q| q.cmds.iter().any(|(idx, _)| pred(*idx)))
    }

    /// Each queued command: its table index and its arguments.
    pub fn queued(&self) -> impl Iterator<Item = (usize, Args<'_>)> + '_ {
        self.queue
            .iter()
            .flat_map(|q| (0..q.cmds.len()).map(move |i| q.args(i)))
    }

    /// Between MULTI and EXEC.
    #[inline]
    pub fn queuing(&self) -> bool {
        self.queue.is_some()
    }

    /// Marks the transaction as failed (a command was rejected while queueing).
    #[inline]
    pub fn flag_error(&mut self) {
        if let Some(q) = &mut self.queue {
            q.failed = true;
        }
    }
}

/// MULTI: starts queueing.
pub fn begin(client: &mut Client) -> CmdResult {
    if client.tx.queuing() {
        return err("ERR MULTI calls can not be nested");
    }
    client.tx.queue = Some(Queue::default());
    client.shared.multi.store(0, Ordering::Relaxed);
    Ok(())
}

/// Ends the transaction and drops its watches (DISCARD, EXEC, RESET).
pub fn discard(client: &mut Client) {
    client.tx.queue = None;
    client.tx.watch = None;
    client.shared.multi.store(-1, Ordering::Relaxed);
}

/// Whether `spec` is queued after MULTI (the others run at once).
pub fn queues(spec: &CommandSpec) -> bool {
    !matches!(
        spec.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Queues a checked command and answers `+QUEUED`.
pub fn queue(client: &mut Client, out: &mut Out, idx: usize, args: &Args) {
    let Some(q) = &mut client.tx.queue else {
        return;
    };
    let first = q.ranges.len();
    for a in args.iter() {
        let start = q.buf.len();
        q.buf.extend_from_slice(a);
        q.ranges.push(start..q.buf.len());
    }
    q.cmds.push((idx, first..q.ranges.len()));
    client
        .shared
        .multi
        .store(q.cmds.len() as i64, Ordering::Relaxed);
    out.simple("QUEUED");
}

/// Key argument positions from a command's first/last/step (a negative last
/// counts from the end), clamped to the arguments present.
pub fn key_positions(spec: &CommandSpec, argc: usize) -> impl Iterator<Item = usize> {
    let argc = argc as i64;
    let first = spec.first_key as i64;
    let last = match spec.last_key as i64 {
        l if l < 0 => argc + l,
        l => l.min(argc - 1),
    };
    let step = spec.step.max(1) as usize;
    let range = if first >= 1 && last >= first {
        first as usize..last as usize + 1
    } else {
        0..0
    };
    range.step_by(step)
}

/// Commands with a key spec that also lock stripes outside it.
const CROSS_DB: &[&str] = &["move", "copy"];

/// Keyless commands that never touch the keyspace: they add nothing.
const NO_KEYSPACE: &[&str] = &[
    "ping", "echo", "time", "hello", "auth", "unwatch", "command",
];

/// The stripes the queued commands and the watched keys may lock (module docs).
fn footprint(srv: &Server, client: &Client, q: &Queue) -> StripeSet {
    let ks = &srv.keyspace;
    let dbs = ks.db_count();
    let mut set = StripeSet::new(dbs);
    for w in client.tx.watch.iter().flat_map(|w| w.keys.iter()) {
        set.insert(w.db, stripe_of(w.hash));
    }
    for i in 0..q.cmds.len() {
        let (idx, args) = q.args(i);
        if !add_command(srv, client.db, srv.commands.specs[idx], &args, &mut set) {
            return StripeSet::all(dbs);
        }
    }
    set
}

/// The stripes one command run in database `db` may lock: what `repl::prop`
/// holds while a propagated write runs and is logged.
pub fn command_footprint(srv: &Server, db: usize, spec: &CommandSpec, args: &Args) -> StripeSet {
    let dbs = srv.keyspace.db_count();
    // Only databases up to `db` can be named by a keyed command.
    let mut set = StripeSet::new((db + 1).min(dbs));
    if add_command(srv, db, spec, args, &mut set) {
        set
    } else {
        StripeSet::all(dbs)
    }
}

/// Adds the stripes of one command's keys to `set`; false when the command
/// may lock stripes its key spec does not name (see the module docs).
fn add_command(
    srv: &Server,
    db: usize,
    spec: &CommandSpec,
    args: &Args,
    set: &mut StripeSet,
) -> bool {
    if NO_KEYSPACE.contains(&spec.name) {
        return true;
    }
    // XGROUP's subcommands all name their key second.
    if spec.name == "xgroup" && args.len() > 2 {
        set.insert(db, stripe_of(srv.keyspace.hash(args.get(2))));
        return true;
    }
    let keyed = spec.first_key > 0
        && spec.flags & flags::MOVABLEKEYS == 0
        && !CROSS_DB.contains(&spec.name);
    if !keyed {
        return false;
    }
    for p in key_positions(spec, args.len()) {
        set.insert(db, stripe_of(srv.keyspace.hash(args.get(p))));
    }
    true
}

/// Whether a watched key was touched, or has expired since WATCH. Runs with the
/// watched keys' stripes held.
fn watch_failed(srv: &Server, client: &Client, now_ms: i64) -> bool {
    let Some(w) = &client.tx.watch else {
        return false;
    };
    if client.shared.dirty_cas.load(Ordering::Relaxed) {
        return true;
    }
    w.keys.iter().filter(|k| k.volatile).any(|k| {
        let sh = srv.keyspace.db(k.db).lock(k.hash);
        sh.find(k.hash, &k.key)
            .is_none_or(|slot| sh.view(slot).is_expired(now_ms))
    })
}

/// EXEC: runs the queue atomically, or answers EXECABORT / the null array.
pub fn exec(
    env: Env<'_>,
    client: &mut Client,
    out: &mut Out,
    now_ms: i64,
    t0: &mut Instant,
) -> CmdResult {
    let srv = env.srv;
    let Some(q) = client.tx.queue.take() else {
        return err("ERR EXEC without MULTI");
    };
    if q.failed {
        discard(client);
        return err("EXECABORT Transaction discarded because of previous errors.");
    }
    if let Some(i) = srv.commands.lookup(b"exec") {
        // CLIENT LIST shows `cmd=exec` while the queue runs.
        client.shared.last_cmd.store(i, Ordering::Relaxed);
    }
    let set = footprint(srv, client, &q);
    srv.keyspace.with_held(&set, || {
        if watch_failed(srv, client, now_ms) {
            out.null_array();
            return;
        }
        // Redis unwatches before running: the transaction's own writes must not
        // count as touches of its watches.
        client.tx.watch = None;
        client.tx.executing = true;
        out.array(q.cmds.len());
        for i in 0..q.cmds.len() {
            let (idx, args) = q.args(i);
            out.resp3 = client.resp3;
            let before = client.reply;
            let start = out.buf.len();
            if srv.commands.specs[idx].name == "monitor" {
                out.error("ERR MONITOR isn't allowed for DENY BLOCKING client");
            } else {
                super::exec::run(env, client, out, idx, &args, now_ms, t0);
            }
            // CLIENT REPLY OFF silences the rest; SKIP waits for the next request.
            if before == ReplyMode::Off && client.reply != ReplyMode::On {
                out.buf.truncate(start);
            }
        }
        client.tx.executing = false;
        // Logged while the footprint is still held (nothing if nothing wrote).
        let ops = std::mem::take(&mut client.tx.prop);
        if !ops.is_empty() {
            srv.keyspace.log.append_tx(&ops);
        }
    });
    discard(client);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(first: i32, last: i32, step: i32) -> CommandSpec {
        fn h(_: &mut crate::cmd::Ctx, _: &Args) -> CmdResult {
            Ok(())
        }
        CommandSpec {
            name: "t",
            arity: -1,
            flags: 0,
            first_key: first,
            last_key: last,
            step,
            handler: h,
            group: "",
            since: "",
            summary: "",
            subcommands: &[],
        }
    }

    #[test]
    fn key_positions_follow_the_spec() {
        let v = |s: CommandSpec, n| key_positions(&s, n).collect::<Vec<_>>();
        assert_eq!(v(spec(1, 1, 1), 3), vec![1]);
        assert_eq!(v(spec(1, -1, 2), 5), vec![1, 3]);
        assert_eq!(v(spec(2, -1, 1), 5), vec![2, 3, 4]);
        assert_eq!(v(spec(1, -2, 1), 4), vec![1, 2]);
        assert_eq!(v(spec(1, 2, 1), 2), vec![1]);
        assert!(v(spec(0, 0, 0), 3).is_empty());
        assert!(v(spec(1, -1, 1), 1).is_empty());
    }
}
