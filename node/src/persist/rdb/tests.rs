//! Codec tests: every value type round-trips through the writer and the
//! reader, and no input (random, truncated or mutated) makes the reader panic.

use proptest::prelude::*;

use super::read::{self, Loaded};
use super::write::{self, Opts};
use super::{Limits, RdbError, Value};
use crate::db::entry::ValueRef;
use crate::db::types::list::End;
use crate::db::types::stream::{NewId, StreamId};
use crate::db::types::{Hash, List, Object, Set, Stream, ZSet};

fn objects() -> Vec<(Vec<u8>, Value)> {
    let lim = Limits::default();
    let mut out: Vec<(Vec<u8>, Value)> = vec![
        (b"int".to_vec(), Value::Str(b"-123456".to_vec())),
        (b"lzf".to_vec(), Value::Str(b"abcabc".repeat(50))),
        (b"raw".to_vec(), Value::Str(vec![0, 1, 2, 255])),
    ];
    for n in [3usize, 1000] {
        let mut h = Hash::default();
        let mut l = List::default();
        let mut s = Set::default();
        let mut ss = Set::for_member(b"x");
        let mut z = ZSet::default();
        for i in 0..n {
            let t = format!("item{i}");
            h.set(t.as_bytes(), format!("{i}").as_bytes(), lim.hash);
            l.push(End::Tail, t.as_bytes(), lim.list_fill);
            s.add(format!("{}", i as i64 - 7).as_bytes(), lim.set_max_intset);
            ss.add(t.as_bytes(), lim.set_max_intset);
            z.set(t.as_bytes(), i as f64 / 3.0, lim.zset);
        }
        out.push((format!("h{n}").into_bytes(), Value::Obj(Object::Hash(h))));
        out.push((format!("l{n}").into_bytes(), Value::Obj(Object::List(l))));
        out.push((format!("s{n}").into_bytes(), Value::Obj(Object::Set(s))));
        out.push((format!("ss{n}").into_bytes(), Value::Obj(Object::Set(ss))));
        out.push((format!("z{n}").into_bytes(), Value::Obj(Object::ZSet(z))));
    }
    let mut st = Stream::default();
    for i in 0..300u64 {
        let v = i.to_string();
        let pairs: [&[u8]; 4] = [b"f", v.as_bytes(), b"g", b"x"];
        st.log
            .add(
                NewId::Exact(StreamId::new(100 + i, 1)),
                &pairs,
                lim.stream,
                0,
            )
            .expect("ascending IDs");
    }
    st.groups.create(b"grp", StreamId::new(150, 1), 51);
    let g = st.groups.get_mut(b"grp").expect("created");
    let (c, _) = g.consumer_or_create(b"alice", 77);
    let name = c.name.clone();
    g.deliver(StreamId::new(120, 1), &name, 1234);
    out.push((b"stream".to_vec(), Value::Obj(Object::Stream(st))));
    out
}

/// A canonical text rendering of a value, for comparisons.
fn render(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("str {s:?}"),
        Value::Obj(Object::Hash(h)) => {
            let mut p: Vec<_> = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            p.sort();
            format!("hash {} {p:?}", h.encoding_name())
        }
        Value::Obj(Object::List(l)) => format!("list {:?}", l.iter().collect::<Vec<_>>()),
        Value::Obj(Object::Set(s)) => {
            let mut m: Vec<_> = s.iter().map(|m| m.to_vec()).collect();
            m.sort();
            format!("set {} {m:?}", s.encoding_name())
        }
        Value::Obj(Object::ZSet(z)) => {
            let mut v = Vec::new();
            z.for_each(&mut |m, s| v.push((m.to_vec(), s)));
            format!("zset {} {v:?}", z.encoding_name())
        }
        Value::Obj(Object::Stream(s)) => {
            let e: Vec<_> = s
                .log
                .iter()
                .map(|e| {
                    (
                        e.id,
                        e.pairs()
                            .map(|(f, v)| (f.to_vec(), v.to_vec()))
                            .collect::<Vec<_>>(),
                    )
                })
                .collect();
            let g: Vec<_> = s
                .groups
                .iter()
                .map(|(n, g)| {
                    let pel: Vec<_> = g
                        .pel
                        .iter()
                        .map(|(id, n)| {
                            (*id, n.delivery_time, n.delivery_count, n.consumer.to_vec())
                        })
                        .collect();
                    let cs: Vec<_> = g
                        .consumers
                        .values()
                        .map(|c| (c.name.to_vec(), c.seen_time))
                        .collect();
                    (n.to_vec(), g.last_id, g.entries_read, pel, cs)
                })
                .collect();
            format!(
                "stream {e:?} {:?} {:?} {:?} {} {g:?}",
                s.log.last_id, s.log.first_id, s.log.max_deleted, s.log.entries_added
            )
        }
    }
}

fn as_ref(v: &Value) -> ValueRef<'_> {
    match v {
        Value::Str(s) => ValueRef::Str(s),
        Value::Obj(o) => ValueRef::Obj(o),
    }
}

fn file(values: &[(Vec<u8>, Value)], compress: bool) -> Vec<u8> {
    let mut out = Vec::new();
    write::header(&mut out, &write::standard_aux(0, 0, false));
    write::select_db(&mut out, 2);
    for (i, (k, v)) in values.iter().enumerate() {
        let exp = (i % 3 == 0).then_some(i64::MAX / 2);
        write::key_value(&mut out, k, as_ref(v), exp, None, Opts { compress });
    }
    let crc = super::crc64::crc64(&out);
    write::trailer(Some(crc), &mut out);
    out
}

fn load(bytes: &[u8]) -> Result<Vec<Loaded>, RdbError> {
    let mut got = Vec::new();
    read::load(bytes, &Limits::default(), 1, |k| {
        got.push(k);
        Ok(())
    })?;
    Ok(got)
}

#[test]
fn every_type_round_trips_through_a_file_and_a_payload() {
    let values = objects();
    for compress in [false, true] {
        let bytes = file(&values, compress);
        let got = load(&bytes).expect("loads");
        assert_eq!(got.len(), values.len());
        for (i, (g, (k, v))) in got.iter().zip(&values).enumerate() {
            assert_eq!((&g.key, g.db), (k, 2));
            assert_eq!(g.expire, (i % 3 == 0).then_some(i64::MAX / 2));
            assert_eq!(
                render(&g.value),
                render(v),
                "key {}",
                String::from_utf8_lossy(k)
            );
        }
        for (_, v) in &values {
            let p = write::dump_payload(as_ref(v), Opts { compress });
            let back = read::restore_payload(&p, &Limits::default(), 0)
                .expect("checksum ok")
                .expect("decodes");
            assert_eq!(render(&back), render(v));
        }
    }
}

#[test]
fn damage_is_refused_with_an_offset() {
    let bytes = file(&objects(), true);
    // Truncation anywhere is an error, never a panic or a partial success.
    for cut in (0..bytes.len()).step_by(97) {
        assert!(load(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut bad = bytes.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    let e = load(&bad).err().expect("refused");
    assert!(e.to_string().contains("offset"), "{e}");
    // A checksum of 0 means "not checksummed" (rdbchecksum no).
    let mut unchecked = bytes.clone();
    let n = unchecked.len();
    unchecked[n - 8..].fill(0);
    assert!(load(&unchecked).is_ok());
    let mut wrong = bytes;
    wrong[n - 1] ^= 1;
    assert!(load(&wrong)
        .err()
        .expect("refused")
        .to_string()
        .contains("checksum"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut input = b"REDIS0010".to_vec();
        input.extend_from_slice(&data);
        let _ = load(&input);
        let _ = read::restore_payload(&data, &Limits::default(), 0);
    }

    #[test]
    fn mutated_files_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = file(&objects(), true);
        // Zero the checksum so that damage reaches the value decoders.
        let n = bytes.len();
        bytes[n - 8..].fill(0);
        for (at, b) in edits {
            let i = at.index(n - 8);
            bytes[i] = b;
        }
        let _ = load(&bytes);
        // The value decoders behind a valid payload checksum.
        let body_end = bytes.len().min(4096);
        let mut payload = bytes[9..body_end].to_vec();
        payload.extend_from_slice(&super::RDB_VERSION.to_le_bytes());
        let crc = super::crc64::crc64(&payload);
        payload.extend_from_slice(&crc.to_le_bytes());
        let _ = read::restore_payload(&payload, &Limits::default(), 0);
    }
}
