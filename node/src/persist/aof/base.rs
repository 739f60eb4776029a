//! The AOF-format base file: every key as the commands that rebuild it, as
//! Redis's `rewriteAppendOnlyFileRio` writes them (collections in batches of
//! 64 items per command, a `PEXPIREAT` after a key with a TTL, streams with
//! their ID state, groups, consumers and pending entries).
//!
//! [`write_base`] takes a consistent iteration of `(db, entry)` and only
//! serialises: the snapshot engine of `persist::snapshot` calls it per stripe
//! for a base written with `aof-use-rdb-preamble no` (`Format::Commands`).

use crate::db::entry::{Entry, ValueRef};
use crate::db::log::encode_slice;
use crate::db::types::Object;

/// Redis's `AOF_REWRITE_ITEMS_PER_CMD`.
const ITEMS_PER_CMD: usize = 64;

/// Appends the commands that rebuild `e` (in the current database).
pub fn emit_entry(out: &mut Vec<u8>, e: &Entry) {
    let key = e.key();
    match e.value() {
        ValueRef::Str(v) => encode_slice(out, &[b"SET", key, v]),
        ValueRef::Obj(Object::List(l)) => {
            batched(out, b"RPUSH", key, l.iter().map(|x| vec![x]));
        }
        ValueRef::Obj(Object::Set(s)) => {
            let members: Vec<Vec<u8>> = s.iter().map(|m| m.to_vec()).collect();
            batched(
                out,
                b"SADD",
                key,
                members.iter().map(|m| vec![m.as_slice()]),
            );
        }
        ValueRef::Obj(Object::Hash(h)) => {
            batched(out, b"HSET", key, h.iter().map(|(f, v)| vec![f, v]));
        }
        ValueRef::Obj(Object::ZSet(z)) => {
            let mut items: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(z.len().min(1 << 16));
            z.for_each(&mut |m, s| items.push((fmt_score(s), m.to_vec())));
            batched(
                out,
                b"ZADD",
                key,
                items.iter().map(|(s, m)| vec![s.as_slice(), m.as_slice()]),
            );
        }
        ValueRef::Obj(Object::Stream(s)) => emit_stream(out, key, s),
    }
    if let Some(at) = e.expire() {
        let at = itoa::Buffer::new().format(at).to_owned();
        encode_slice(out, &[b"PEXPIREAT", key, at.as_bytes()]);
    }
}

/// `cmd key item...` commands of at most [`ITEMS_PER_CMD`] items each.
fn batched<'a>(
    out: &mut Vec<u8>,
    cmd: &[u8],
    key: &[u8],
    items: impl Iterator<Item = Vec<&'a [u8]>>,
) {
    let mut argv: Vec<&[u8]> = vec![cmd, key];
    let mut n = 0;
    for item in items {
        argv.extend(item);
        n += 1;
        if n == ITEMS_PER_CMD {
            encode_slice(out, &argv);
            argv.truncate(2);
            n = 0;
        }
    }
    if n > 0 {
        encode_slice(out, &argv);
    }
}

/// A score as Redis writes it in AOF rewrites (`%.17g`-exact round trip).
pub fn fmt_score(s: f64) -> Vec<u8> {
    if s == f64::INFINITY {
        b"inf".to_vec()
    } else if s == f64::NEG_INFINITY {
        b"-inf".to_vec()
    } else {
        // Rust's shortest round-trip form parses back to the same double.
        format!("{s}").into_bytes()
    }
}

fn emit_stream(out: &mut Vec<u8>, key: &[u8], s: &crate::db::types::stream::Stream) {
    let log = &s.log;
    let last = log.last_id.format();
    let mut any = false;
    for entry in log.iter() {
        any = true;
        let id = entry.id.format();
        let mut argv: Vec<&[u8]> = vec![b"XADD", key, id.as_bytes()];
        let pairs: Vec<(&[u8], &[u8])> = entry.pairs().collect();
        for (f, v) in &pairs {
            argv.push(f);
            argv.push(v);
        }
        encode_slice(out, &argv);
    }
    if !any {
        // An empty stream: create it at its last ID, then trim it away.
        encode_slice(
            out,
            &[b"XADD", key, b"MAXLEN", b"0", last.as_bytes(), b"x", b"y"],
        );
    }
    let added = itoa::Buffer::new().format(log.entries_added).to_owned();
    let maxdel = log.max_deleted.format();
    encode_slice(
        out,
        &[
            b"XSETID",
            key,
            last.as_bytes(),
            b"ENTRIESADDED",
            added.as_bytes(),
            b"MAXDELETEDID",
            maxdel.as_bytes(),
        ],
    );
    for (name, g) in s.groups.iter() {
        let gid = g.last_id.format();
        let read = itoa::Buffer::new().format(g.entries_read).to_owned();
        encode_slice(
            out,
            &[
                b"XGROUP",
                b"CREATE",
                key,
                name,
                gid.as_bytes(),
                b"ENTRIESREAD",
                read.as_bytes(),
            ],
        );
        for (cname, c) in &g.consumers {
            if c.pel.is_empty() {
                encode_slice(out, &[b"XGROUP", b"CREATECONSUMER", key, name, cname]);
                continue;
            }
            for id in &c.pel {
                let Some(nack) = g.pel.get(id) else {
                    continue;
                };
                let idt = id.format();
                let time = itoa::Buffer::new().format(nack.delivery_time).to_owned();
                let count = itoa::Buffer::new().format(nack.delivery_count).to_owned();
                encode_slice(
                    out,
                    &[
                        b"XCLAIM",
                        key,
                        name,
                        cname,
                        b"0",
                        idt.as_bytes(),
                        b"TIME",
                        time.as_bytes(),
                        b"RETRYCOUNT",
                        count.as_bytes(),
                        b"JUSTID",
                        b"FORCE",
                    ],
                );
            }
        }
    }
}

/// Writes a base file body from `(db, entry)` pairs: `SELECT` whenever the
/// database changes, then each entry's commands. Returns the bytes.
pub fn write_base<'a>(
    w: &mut impl std::io::Write,
    entries: impl Iterator<Item = (usize, &'a Entry)>,
) -> std::io::Result<u64> {
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut db = None;
    let mut total = 0u64;
    for (d, e) in entries {
        if db != Some(d) {
            let n = itoa::Buffer::new().format(d).to_owned();
            encode_slice(&mut buf, &[b"SELECT", n.as_bytes()]);
            db = Some(d);
        }
        emit_entry(&mut buf, e);
        if buf.len() >= 64 * 1024 {
            w.write_all(&buf)?;
            total += buf.len() as u64;
            buf.clear();
        }
    }
    w.write_all(&buf)?;
    total += buf.len() as u64;
    Ok(total)
}
