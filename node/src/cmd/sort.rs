//! SORT and SORT_RO: sort a list, a set or a sorted set numerically or
//! lexicographically, by its own elements or by keys formed from a pattern,
//! with LIMIT, GET projections and STORE.
//!
//! Lookups through BY/GET patterns can touch any key of the database, so a SORT
//! that uses them locks every stripe of the database for its duration (it is
//! O(N log N) anyway); one without patterns locks only its source and
//! destination. Either way it is atomic, as in Redis.

use std::cmp::Ordering;

use super::flags::*;
use super::lists::fill;
use super::{err, typed, Args, CmdError, CmdResult, CommandSpec, Ctx, SYNTAX, WRONGTYPE};
use crate::db::entry::ValueRef;
use crate::db::types::list::{End, List};
use crate::db::types::Object;
use crate::db::{stripe_of, MultiLock, Stripe, StripeGuard};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "sort",
        -2,
        WRITE | DENYOOM | MOVABLEKEYS,
        (1, 1, 1),
        sort,
        "generic",
        "1.0.0",
        "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
    ),
    CommandSpec::new(
        "sort_ro",
        -2,
        READONLY | MOVABLEKEYS,
        (1, 1, 1),
        sort_ro,
        "generic",
        "7.0.0",
        "Returns the sorted elements of a list, a set, or a sorted set.",
    ),
];

/// `SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA] [STORE destination]`
fn sort(ctx: &mut Ctx, args: &Args) -> CmdResult {
    sort_generic(ctx, args, false)
}

/// `SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA]`
fn sort_ro(ctx: &mut Ctx, args: &Args) -> CmdResult {
    sort_generic(ctx, args, true)
}

struct Opts<'a> {
    by: Option<&'a [u8]>,
    dontsort: bool,
    start: i64,
    count: i64,
    gets: Vec<&'a [u8]>,
    desc: bool,
    alpha: bool,
    store: Option<&'a [u8]>,
}

fn parse<'a>(args: &Args<'a>, readonly: bool) -> Result<Opts<'a>, CmdError> {
    let mut o = Opts {
        by: None,
        dontsort: false,
        start: 0,
        count: -1,
        gets: Vec::new(),
        desc: false,
        alpha: false,
        store: None,
    };
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        if args.is(j, "asc") {
            o.desc = false;
        } else if args.is(j, "desc") {
            o.desc = true;
        } else if args.is(j, "alpha") {
            o.alpha = true;
        } else if args.is(j, "limit") && left >= 2 {
            o.start = args.int(j + 1)?;
            o.count = args.int(j + 2)?;
            j += 2;
        } else if !readonly && args.is(j, "store") && left >= 1 {
            o.store = Some(args.get(j + 1));
            j += 1;
        } else if args.is(j, "by") && left >= 1 {
            let p = args.get(j + 1);
            // A pattern without '*' means "don't sort" (BY nosort); Redis never
            // resets the flag once set.
            if !p.contains(&b'*') {
                o.dontsort = true;
            }
            o.by = Some(p);
            j += 1;
        } else if args.is(j, "get") && left >= 1 {
            o.gets.push(args.get(j + 1));
            j += 1;
        } else {
            return err(SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// The stripes a SORT holds: all of them when patterns may look up any key.
enum Locks<'a> {
    All(Vec<StripeGuard<'a>>),
    Keys(MultiLock<'a>),
}

impl Locks<'_> {
    fn stripe(&mut self, h: u64) -> &mut Stripe {
        match self {
            Locks::All(g) => &mut g[stripe_of(h)],
            Locks::Keys(m) => m.stripe(h),
        }
    }
}

/// Redis's `lookupKeyByPattern`: `#` is the element itself; otherwise the first
/// `*` is replaced by the element and the key read as a string, or, with a
/// `->field` suffix, as a hash field. `None` for anything missing or mistyped.
fn lookup(ctx: &Ctx, locks: &mut Locks, pattern: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(elem.to_vec());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let after = &pattern[star + 1..];
    let (suffix, field) = match after.windows(2).position(|w| w == b"->") {
        Some(i) if i + 2 < after.len() => (&after[..i], Some(&after[i + 2..])),
        _ => (after, None),
    };
    let mut key = Vec::with_capacity(star + elem.len() + suffix.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(suffix);
    let h = ctx.hash(&key);
    let sh = locks.stripe(h);
    let slot = ctx.ks().read(sh, h, &key, ctx.now_ms)?;
    match (sh.value(slot), field) {
        (ValueRef::Str(v), None) => Some(v.to_vec()),
        (ValueRef::Obj(Object::Hash(hash)), Some(f)) => hash.get(f).map(<[u8]>::to_vec),
        _ => None,
    }
}

/// C's `strtod` with Redis's acceptance rule: the whole string (up to a NUL, as
/// C sees it) must parse, without overflow or underflow, and not be NaN. This
/// accepts what Redis accepts and nothing else: leading spaces, hex floats,
/// `inf`, and the empty string as 0.
fn strtod(v: &[u8]) -> Option<f64> {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    let c = std::ffi::CString::new(&v[..end]).ok()?;
    let mut endp: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call;
    // errno is thread-local.
    let (d, errno, consumed) = unsafe {
        *libc::__errno_location() = 0;
        let d = libc::strtod(c.as_ptr(), &mut endp);
        (d, *libc::__errno_location(), endp.offset_from(c.as_ptr()))
    };
    (consumed as usize == end && errno != libc::ERANGE && !d.is_nan()).then_some(d)
}

struct Item {
    elem: Vec<u8>,
    score: f64,
    /// The BY value for ALPHA sorting by pattern (`None` sorts first).
    cmp: Option<Vec<u8>>,
}

fn compare(a: &Item, b: &Item, o: &Opts) -> Ordering {
    let c = if !o.alpha {
        a.score
            .partial_cmp(&b.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.elem.cmp(&b.elem))
    } else if o.by.is_some() {
        match (&a.cmp, &b.cmp) {
            (Some(x), Some(y)) => x.cmp(y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        }
    } else {
        a.elem.cmp(&b.elem)
    };
    if o.desc {
        c.reverse()
    } else {
        c
    }
}

/// What SORT reads from its source key.
enum Source {
    Missing,
    List(Vec<Vec<u8>>),
    /// Set members in the set's own iteration order.
    Set(Vec<Vec<u8>>),
}

/// The elements of a sortable value, in its native order. Sorted sets join here
/// when their type lands (Redis loads them in score order for BY nosort).
fn elements(obj: &Object) -> Result<Source, CmdError> {
    match obj {
        Object::List(l) => Ok(Source::List(l.iter().map(<[u8]>::to_vec).collect())),
        Object::Set(s) => Ok(Source::Set(s.iter().map(|m| m.to_vec()).collect())),
        // In rank order, which is what BY nosort returns for a sorted set.
        Object::ZSet(z) => {
            let mut v = Vec::with_capacity(z.len());
            z.for_each(&mut |m, _| v.push(m.to_vec()));
            Ok(Source::List(v))
        }
        _ => err(WRONGTYPE),
    }
}

fn sort_generic(ctx: &mut Ctx, args: &Args, readonly: bool) -> CmdResult {
    let o = parse(args, readonly)?;
    let key = args.get(1);
    let h = ctx.hash(key);
    // Decided before the source is read; a set that turns BY nosort into ALPHA
    // only drops the pattern, so this never under-locks.
    let needs_all = o.by.filter(|_| !o.dontsort).is_some()
        || o.gets.iter().any(|g| *g != b"#" && g.contains(&b'*'));
    let mut locks = if needs_all {
        Locks::All(ctx.db().lock_all())
    } else {
        let mut hashes = vec![h];
        hashes.extend(o.store.map(|s| ctx.hash(s)));
        Locks::Keys(ctx.db().lock_many(&hashes))
    };
    let source = {
        let sh = locks.stripe(h);
        match ctx.ks().read(sh, h, key, ctx.now_ms) {
            Some(slot) => match sh.value(slot) {
                ValueRef::Obj(obj) => elements(obj)?,
                ValueRef::Str(_) => return err(WRONGTYPE),
            },
            None => Source::Missing,
        }
    };
    let mut o = o;
    let (all, native_order) = match source {
        Source::Missing => (Vec::new(), true),
        Source::List(v) => (v, true),
        Source::Set(v) => {
            // A set has no order of its own: storing it unsorted would make the
            // result depend on the hash table, so Redis sorts it ALPHA instead.
            if o.dontsort && o.store.is_some() {
                o.dontsort = false;
                o.alpha = true;
                o.by = None;
            }
            (v, false)
        }
    };
    let by_pattern = o.by.filter(|_| !o.dontsort);
    let vlen = all.len() as i64;
    let mut start = o.start.max(0);
    let mut end = if o.count < 0 {
        vlen - 1
    } else {
        start.saturating_add(o.count).saturating_sub(1)
    };
    if start >= vlen {
        start = vlen - 1;
        end = vlen - 2;
    }
    if end >= vlen {
        end = vlen - 1;
    }
    let mut items: Vec<Item>;
    if o.dontsort && !native_order {
        // A set with BY nosort: its iteration order, LIMIT applied on output,
        // DESC ignored (nothing is sorted), as Redis does.
        items = all
            .into_iter()
            .map(|elem| Item {
                elem,
                score: 0.0,
                cmp: None,
            })
            .collect();
    } else if o.dontsort {
        // Native order, DESC reading from the tail; LIMIT applied while loading.
        let n = if end >= start {
            (end - start + 1) as usize
        } else {
            0
        };
        let skip = start.max(0) as usize;
        let pick = |e: &Vec<u8>| Item {
            elem: e.clone(),
            score: 0.0,
            cmp: None,
        };
        items = if o.desc {
            all.iter().rev().skip(skip).take(n).map(pick).collect()
        } else {
            all.iter().skip(skip).take(n).map(pick).collect()
        };
        end -= start;
        start = 0;
    } else {
        let mut bad = false;
        items = Vec::with_capacity(all.len());
        for elem in all {
            let by = match by_pattern {
                Some(p) => lookup(ctx, &mut locks, p, &elem),
                None => None,
            };
            let mut it = Item {
                elem,
                score: 0.0,
                cmp: None,
            };
            if o.alpha {
                it.cmp = by;
            } else {
                let v = if by_pattern.is_some() {
                    by.as_deref()
                } else {
                    Some(it.elem.as_slice())
                };
                if let Some(v) = v {
                    match strtod(v) {
                        Some(s) => it.score = s,
                        None => bad = true,
                    }
                }
            }
            items.push(it);
        }
        if bad {
            return err("ERR One or more scores can't be converted into double");
        }
        items.sort_by(|a, b| compare(a, b, &o));
    }
    let range: &[Item] = if end >= start && start >= 0 {
        &items[start as usize..=(end as usize).min(items.len().saturating_sub(1))]
    } else {
        &[]
    };
    let range: Vec<&Item> = range.iter().collect();
    let per = o.gets.len().max(1);
    let outputlen = range.len() * per;
    match o.store {
        None => {
            ctx.out.array(outputlen);
            for it in &range {
                if o.gets.is_empty() {
                    ctx.out.bulk(&it.elem);
                }
                for g in &o.gets {
                    match lookup(ctx, &mut locks, g, &it.elem) {
                        Some(v) => ctx.out.bulk(&v),
                        None => ctx.out.null(),
                    }
                }
            }
        }
        Some(dest) => {
            let fill = fill(ctx);
            let mut list = List::default();
            for it in &range {
                if o.gets.is_empty() {
                    list.push(End::Tail, &it.elem, fill);
                }
                for g in &o.gets {
                    let v = lookup(ctx, &mut locks, g, &it.elem).unwrap_or_default();
                    list.push(End::Tail, &v, fill);
                }
            }
            let hd = ctx.hash(dest);
            typed::store(ctx, locks.stripe(hd), hd, dest, Object::List(list));
            ctx.out.int(outputlen as i64);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_accepts_what_redis_accepts() {
        assert_eq!(strtod(b"1.5"), Some(1.5));
        assert_eq!(strtod(b" 2"), Some(2.0));
        assert_eq!(strtod(b""), Some(0.0));
        assert_eq!(strtod(b"0x10"), Some(16.0));
        assert_eq!(strtod(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(strtod(b"3\0junk"), Some(3.0));
        assert_eq!(strtod(b"2 "), None);
        assert_eq!(strtod(b"abc"), None);
        assert_eq!(strtod(b"nan"), None);
        assert_eq!(strtod(b"1e400"), None);
    }
}
