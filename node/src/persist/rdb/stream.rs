//! Streams in RDB: `STREAM_LISTPACKS_2` as Redis 7.0 writes it, and the three
//! stream types (5.0-6.2, 7.0, 7.2) on load.
//!
//! Layout: node count, then per node its master ID (16 bytes big-endian) and
//! a listpack (`count deleted nfields field... 0` as the master entry, then
//! per entry `flags ms-diff seq-diff [nfields field...] value... lp-count`);
//! then length, last ID, first ID, max deleted ID, entries added (v2+); then
//! groups, each with name, last ID, entries read (v2+), its PEL (raw 16-byte
//! IDs, delivery time, count) and consumers (name, seen time, [active time
//! (v3)], their PEL as raw IDs that must be in the group's PEL).
//!
//! The writer cuts nodes where redis-server would with its default limits
//! (100 entries, 4096 bytes) and writes live entries only; the reader keeps
//! live entries and rebuilds nodes under the configured limits.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::sync::Arc;

use super::listpack::{self, Val, Writer as Lp};
use super::read::Input;
use super::write::{put_len, put_ms, put_string, Opts};
use super::{ty, Limits, RdbError};
use crate::db::types::stream::{Consumer, Nack, NewId, RawEntry, Stream, StreamId};

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;
const NODE_MAX_ENTRIES: usize = 100;
const NODE_MAX_BYTES: usize = 4096;

fn put_id_raw(out: &mut Vec<u8>, id: StreamId) {
    out.extend_from_slice(&id.to_be_bytes());
}

/// Encodes one node of `entries` (non-empty, ascending).
fn node(out: &mut Vec<u8>, entries: &[RawEntry<'_>], opts: Opts) {
    let master = entries[0].id;
    let fields: Vec<&[u8]> = entries[0].pairs().map(|(f, _)| f).collect();
    let mut lp = Lp::new();
    lp.int(entries.len() as i64);
    lp.int(0);
    lp.int(fields.len() as i64);
    for f in &fields {
        lp.str(f);
    }
    lp.int(0);
    for e in entries {
        let same = e.nfields() == fields.len() && e.pairs().zip(&fields).all(|((f, _), m)| f == *m);
        lp.int(if same { FLAG_SAMEFIELDS } else { 0 });
        lp.int(e.id.ms.wrapping_sub(master.ms) as i64);
        lp.int(e.id.seq.wrapping_sub(master.seq) as i64);
        if !same {
            lp.int(e.nfields() as i64);
        }
        for (f, v) in e.pairs() {
            if !same {
                lp.str(f);
            }
            lp.str(v);
        }
        let count = if same {
            e.nfields() + 3
        } else {
            e.nfields() * 2 + 4
        };
        lp.int(count as i64);
    }
    put_string(out, &master.to_be_bytes(), opts);
    put_string(out, &lp.finish(), opts);
}

/// Appends a `STREAM_LISTPACKS_2` body.
pub fn write(out: &mut Vec<u8>, s: &Stream, opts: Opts) {
    let mut nodes = Vec::new();
    let mut count = 0u64;
    let mut cur: Vec<RawEntry<'_>> = Vec::new();
    let mut cur_bytes = 0usize;
    for e in s.log.iter() {
        let size: usize = 16 + e.pairs().map(|(f, v)| f.len() + v.len() + 4).sum::<usize>();
        if !cur.is_empty() && (cur.len() >= NODE_MAX_ENTRIES || cur_bytes + size >= NODE_MAX_BYTES)
        {
            node(&mut nodes, &cur, opts);
            count += 1;
            cur.clear();
            cur_bytes = 0;
        }
        cur_bytes += size;
        cur.push(e);
    }
    if !cur.is_empty() {
        node(&mut nodes, &cur, opts);
        count += 1;
    }
    put_len(out, count);
    out.extend_from_slice(&nodes);
    let log = &s.log;
    put_len(out, log.len() as u64);
    put_len(out, log.last_id.ms);
    put_len(out, log.last_id.seq);
    put_len(out, log.first_id.ms);
    put_len(out, log.first_id.seq);
    put_len(out, log.max_deleted.ms);
    put_len(out, log.max_deleted.seq);
    put_len(out, log.entries_added);
    put_len(out, s.groups.len() as u64);
    for (name, g) in s.groups.iter() {
        put_string(out, name, opts);
        put_len(out, g.last_id.ms);
        put_len(out, g.last_id.seq);
        put_len(out, g.entries_read as u64);
        put_len(out, g.pel.len() as u64);
        for (id, n) in &g.pel {
            put_id_raw(out, *id);
            put_ms(out, n.delivery_time);
            put_len(out, n.delivery_count);
        }
        put_len(out, g.consumers.len() as u64);
        for c in g.consumers.values() {
            put_string(out, &c.name, opts);
            put_ms(out, c.seen_time);
            put_len(out, c.pel.len() as u64);
            for id in &c.pel {
                put_id_raw(out, *id);
            }
        }
    }
}

fn id_raw<R: Read>(inp: &mut Input<R>) -> Result<StreamId, RdbError> {
    let b = inp.bytes(16)?;
    id_from(inp, &b)
}

fn id_from<R: Read>(inp: &Input<R>, b: &[u8]) -> Result<StreamId, RdbError> {
    if b.len() != 16 {
        return inp.corrupt("stream node key is not a 16-byte ID");
    }
    let mut ms = [0u8; 8];
    let mut seq = [0u8; 8];
    ms.copy_from_slice(&b[..8]);
    seq.copy_from_slice(&b[8..]);
    Ok(StreamId::new(
        u64::from_be_bytes(ms),
        u64::from_be_bytes(seq),
    ))
}

fn id_len<R: Read>(inp: &mut Input<R>) -> Result<StreamId, RdbError> {
    let ms = inp.length()?;
    let seq = inp.length()?;
    Ok(StreamId::new(ms, seq))
}

/// Receives each live entry of a node: its ID and its fields and values.
type EntrySink<'a> = dyn FnMut(StreamId, &[Vec<u8>]) -> Result<(), RdbError> + 'a;

/// Walks a node's listpack, calling `f(id, pairs)` for each live entry.
fn read_node<R: Read>(
    inp: &Input<R>,
    master: StreamId,
    lp: &[u8],
    f: &mut EntrySink<'_>,
) -> Result<(), RdbError> {
    let vals = match listpack::collect(lp) {
        Ok(v) => v,
        Err(e) => return inp.corrupt(e),
    };
    let bad = || inp.corrupt::<()>("malformed stream node");
    let mut it = vals.into_iter();
    let int = |it: &mut std::vec::IntoIter<Val<'_>>| it.next().and_then(Val::as_int);
    let (Some(_count), Some(_deleted), Some(nmaster)) = (int(&mut it), int(&mut it), int(&mut it))
    else {
        return bad();
    };
    let Ok(nmaster) = usize::try_from(nmaster) else {
        return bad();
    };
    let mut master_fields = Vec::new();
    for _ in 0..nmaster {
        match it.next() {
            Some(v) => master_fields.push(v.to_vec()),
            None => return bad(),
        }
    }
    if int(&mut it) != Some(0) {
        return bad();
    }
    let mut pairs: Vec<Vec<u8>> = Vec::new();
    while let Some(flags) = it.next() {
        let (Some(flags), Some(ms), Some(seq)) = (flags.as_int(), int(&mut it), int(&mut it))
        else {
            return bad();
        };
        let same = flags & FLAG_SAMEFIELDS != 0;
        let nfields = if same {
            nmaster
        } else {
            match int(&mut it).map(usize::try_from) {
                Some(Ok(n)) => n,
                _ => return bad(),
            }
        };
        pairs.clear();
        for i in 0..nfields {
            if let (true, Some(f)) = (same, master_fields.get(i)) {
                pairs.push(f.clone());
            } else {
                match it.next() {
                    Some(v) => pairs.push(v.to_vec()),
                    None => return bad(),
                }
            }
            match it.next() {
                Some(v) => pairs.push(v.to_vec()),
                None => return bad(),
            }
        }
        if int(&mut it).is_none() {
            return bad();
        }
        if flags & FLAG_DELETED == 0 {
            let id = StreamId::new(
                master.ms.wrapping_add(ms as u64),
                master.seq.wrapping_add(seq as u64),
            );
            f(id, &pairs)?;
        }
    }
    Ok(())
}

/// Reads a stream body of type `t`.
pub fn read<R: Read>(
    inp: &mut Input<R>,
    t: u8,
    lim: &Limits,
    now_ms: i64,
) -> Result<Stream, RdbError> {
    let mut s = Stream::default();
    let nodes = inp.length()?;
    for _ in 0..nodes {
        let key = inp.string()?;
        let master = id_from(inp, &key)?;
        let lp = inp.string()?;
        let inp_ref: &Input<R> = inp;
        let log = &mut s.log;
        read_node(inp_ref, master, &lp, &mut |id, pairs| {
            let refs: Vec<&[u8]> = pairs.iter().map(|p| &p[..]).collect();
            match log.add(NewId::Exact(id), &refs, lim.stream, now_ms) {
                Ok(_) => Ok(()),
                Err(_) => inp_ref.corrupt("stream entries out of order or too large"),
            }
        })?;
    }
    let length = inp.length()?;
    if length != s.log.len() as u64 {
        return inp.corrupt("stream length does not match its entries");
    }
    let last = id_len(inp)?;
    if last < s.log.last_id {
        return inp.corrupt("stream last ID is smaller than its last entry");
    }
    s.log.last_id = last;
    if t >= ty::STREAM_LISTPACKS_2 {
        s.log.first_id = id_len(inp)?;
        s.log.max_deleted = id_len(inp)?;
        s.log.entries_added = inp.length()?;
    } else {
        // Redis 5.0-6.2 kept no counters: derive them as Redis 7.0 does.
        s.log.entries_added = length;
        s.log.max_deleted = StreamId::MIN;
    }
    let groups = inp.length()?;
    for _ in 0..groups {
        let name = inp.string()?;
        let last_id = id_len(inp)?;
        let entries_read = if t >= ty::STREAM_LISTPACKS_2 {
            inp.length()? as i64
        } else if last_id == s.log.last_id {
            s.log.entries_added as i64
        } else {
            crate::db::types::stream::INVALID_ENTRIES_READ
        };
        if !s.groups.create(&name, last_id, entries_read) {
            return inp.corrupt("duplicate consumer group");
        }
        let npel = inp.length()?;
        let mut pel: BTreeMap<StreamId, (i64, u64)> = BTreeMap::new();
        for _ in 0..npel {
            let id = id_raw(inp)?;
            let time = inp.ms_time()?;
            let count = inp.length()?;
            if pel.insert(id, (time, count)).is_some() {
                return inp.corrupt("duplicate ID in a group PEL");
            }
        }
        let nconsumers = inp.length()?;
        let mut owned: BTreeMap<StreamId, Arc<[u8]>> = BTreeMap::new();
        let mut consumers = BTreeMap::new();
        for _ in 0..nconsumers {
            let cname: Arc<[u8]> = Arc::from(inp.string()?);
            let seen = inp.ms_time()?;
            if t >= ty::STREAM_LISTPACKS_3 {
                inp.ms_time()?; // active-time (7.2): not kept
            }
            let n = inp.length()?;
            let mut cpel = BTreeSet::new();
            for _ in 0..n {
                let id = id_raw(inp)?;
                if !pel.contains_key(&id) {
                    return inp.corrupt("consumer PEL entry not in the group PEL");
                }
                if owned.insert(id, cname.clone()).is_some() {
                    return inp.corrupt("PEL entry owned by two consumers");
                }
                cpel.insert(id);
            }
            let c = Consumer {
                name: cname.clone(),
                seen_time: seen,
                pel: cpel,
            };
            if consumers.insert(cname, c).is_some() {
                return inp.corrupt("duplicate consumer");
            }
        }
        let Some(g) = s.groups.get_mut(&name) else {
            return inp.corrupt("consumer group vanished");
        };
        for (id, (time, count)) in pel {
            let Some(consumer) = owned.remove(&id) else {
                return inp.corrupt("group PEL entry without a consumer");
            };
            g.pel.insert(
                id,
                Nack {
                    delivery_time: time,
                    delivery_count: count,
                    consumer,
                },
            );
        }
        g.consumers = consumers;
    }
    Ok(s)
}
