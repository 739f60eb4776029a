//! Geo commands (Redis's `geo` group), on top of sorted sets whose scores are
//! 52-bit geohashes ([`hash`] holds the arithmetic): GEOADD GEOPOS GEODIST
//! GEOHASH, GEOSEARCH GEOSEARCHSTORE, GEORADIUS GEORADIUSBYMEMBER and their
//! `_RO` forms. Argument order, errors and reply shapes follow Redis 7.0's
//! `georadiusGeneric`; distances print as `%.4f`, coordinates as Redis's
//! "human" long double (`%.17Lf`, trailing zeros removed).

pub mod hash;

use self::hash::{Search, Shape};
use super::flags::*;
use super::zsets::{self, limits};
use super::{err, typed, Args, CmdError, CmdResult, CommandSpec, Ctx, SYNTAX, WRONGTYPE};
use crate::db::entry::ValueRef;
use crate::db::types::zset::{cmp_elem, ZSet};
use crate::db::types::Object;
use crate::protocol::Out;

macro_rules! cmd {
    ($name:expr, $arity:expr, $flags:expr, $keys:expr, $h:expr, $since:expr, $summary:expr) => {
        CommandSpec::new($name, $arity, $flags, $keys, $h, "geo", $since, $summary)
    };
}

const K1: (i32, i32, i32) = (1, 1, 1);

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("geoadd", -5, WRITE | DENYOOM, K1, geoadd, "3.2.0", "Adds one or more members to a geospatial index. The key is created if it doesn't exist."),
    cmd!("geopos", -2, READONLY, K1, geopos, "3.2.0", "Returns the longitude and latitude of members from a geospatial index."),
    cmd!("geodist", -4, READONLY, K1, geodist, "3.2.0", "Returns the distance between two members of a geospatial index."),
    cmd!("geohash", -2, READONLY, K1, geohash, "3.2.0", "Returns members from a geospatial index as geohash strings."),
    cmd!("geosearch", -7, READONLY, K1, geosearch, "6.2.0", "Queries a geospatial index for members inside an area of a box or a circle."),
    cmd!("geosearchstore", -8, WRITE | DENYOOM, (1, 2, 1), geosearchstore, "6.2.0", "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result."),
    cmd!("georadius", -6, WRITE | DENYOOM | MOVABLEKEYS, K1, georadius, "3.2.0", "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result."),
    cmd!("georadius_ro", -6, READONLY, K1, georadius_ro, "3.2.10", "Returns members from a geospatial index that are within a distance from a coordinate."),
    cmd!("georadiusbymember", -5, WRITE | DENYOOM | MOVABLEKEYS, K1, georadiusbymember, "3.2.0", "Queries a geospatial index for members within a distance from a member, optionally stores the result."),
    cmd!("georadiusbymember_ro", -5, READONLY, K1, georadiusbymember_ro, "3.2.10", "Returns members from a geospatial index that are within a distance from a member."),
];

/// Parses a longitude/latitude pair with Redis's range error.
fn lon_lat(args: &Args, i: usize) -> Result<(f64, f64), CmdError> {
    let lon = args.float(i)?;
    let lat = args.float(i + 1)?;
    if !(hash::LONG_MIN..=hash::LONG_MAX).contains(&lon)
        || !(hash::LAT_MIN..=hash::LAT_MAX).contains(&lat)
    {
        return err(format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        ));
    }
    Ok((lon, lat))
}

/// Metres per unit.
fn unit(arg: &[u8]) -> Result<f64, CmdError> {
    match arg.to_ascii_lowercase().as_slice() {
        b"m" => Ok(1.0),
        b"km" => Ok(1000.0),
        b"ft" => Ok(0.3048),
        b"mi" => Ok(1609.34),
        _ => err("ERR unsupported unit provided. please use M, KM, FT, MI"),
    }
}

fn float_or(args: &Args, i: usize, msg: &'static str) -> Result<f64, CmdError> {
    crate::util::parse_f64(args.get(i)).ok_or(CmdError::from(msg))
}

/// `radius unit` -> (radius, metres per unit).
fn distance_arg(args: &Args, i: usize) -> Result<(f64, f64), CmdError> {
    let d = float_or(args, i, "ERR need numeric radius")?;
    if d < 0.0 {
        return err("ERR radius cannot be negative");
    }
    Ok((d, unit(args.get(i + 1))?))
}

/// Redis's `addReplyHumanLongDouble` of a coordinate.
fn coord(out: &mut Out, v: f64) {
    let s = format!("{v:.17}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    let s = if s == "-0" { "0" } else { s };
    if out.resp3 {
        out.raw(b",");
        out.raw(s.as_bytes());
        out.raw(b"\r\n");
    } else {
        out.bulk(s.as_bytes());
    }
}

fn distance_reply(out: &mut Out, d: f64) {
    out.bulk(format!("{d:.4}").as_bytes());
}

fn zset_of<'s>(o: Option<ValueRef<'s>>) -> Result<Option<&'s ZSet>, CmdError> {
    match o {
        None => Ok(None),
        Some(ValueRef::Obj(Object::ZSet(z))) => Ok(Some(z)),
        Some(_) => err(WRONGTYPE),
    }
}

/// `GEOADD key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]`
fn geoadd(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (mut nx, mut xx, mut ch) = (false, false, false);
    let mut i = 2;
    while i < args.len() {
        match args.get(i).to_ascii_lowercase().as_slice() {
            b"nx" => nx = true,
            b"xx" => xx = true,
            b"ch" => ch = true,
            _ => break,
        }
        i += 1;
    }
    let rest = args.len() - i;
    if !rest.is_multiple_of(3) || (nx && xx) || rest == 0 {
        return err(SYNTAX);
    }
    let mut items = Vec::with_capacity(rest / 3);
    for j in 0..rest / 3 {
        let at = i + 3 * j;
        let (lon, lat) = lon_lat(args, at)?;
        let score = hash::score_of(lon, lat).unwrap_or(0) as f64;
        items.push((score, args.get(at + 2)));
    }
    let n = zsets::add_scored(ctx, args.get(1), &items, nx, xx, ch)?;
    ctx.out.int(n);
    Ok(())
}

/// `GEOPOS key [member [member ...]]`
fn geopos(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let z = zsets::read(ctx, &mut sh, h, key)?;
    let out = &mut *ctx.out;
    out.array(args.len() - 2);
    for m in args.iter().skip(2) {
        match z.and_then(|z| z.score(m)).and_then(hash::decode_score) {
            Some((lon, lat)) => {
                out.array(2);
                coord(out, lon);
                coord(out, lat);
            }
            None => out.null_array(),
        }
    }
    Ok(())
}

/// `GEODIST key member1 member2 [M | KM | FT | MI]`
fn geodist(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let to_m = match args.len() {
        4 => 1.0,
        5 => unit(args.get(4))?,
        _ => return err(SYNTAX),
    };
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let z = zsets::read(ctx, &mut sh, h, key)?;
    let pos = |m: &[u8]| z.and_then(|z| z.score(m)).and_then(hash::decode_score);
    let d = pos(args.get(2))
        .zip(pos(args.get(3)))
        .map(|(a, b)| hash::distance(a.0, a.1, b.0, b.1) / to_m);
    drop(sh);
    match d {
        Some(d) => distance_reply(ctx.out, d),
        None => ctx.out.null(),
    }
    Ok(())
}

/// `GEOHASH key [member [member ...]]`
fn geohash(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let mut sh = ctx.db().lock(h);
    let z = zsets::read(ctx, &mut sh, h, key)?;
    let out = &mut *ctx.out;
    out.array(args.len() - 2);
    for m in args.iter().skip(2) {
        match z.and_then(|z| z.score(m)).and_then(hash::geohash_string) {
            Some(s) => out.bulk(s.as_bytes()),
            None => out.null(),
        }
    }
    Ok(())
}

/// Which command is running (Redis's `georadiusGeneric` flags).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Radius { ro: bool },
    ByMember { ro: bool },
    Search,
    SearchStore,
}

/// Where the centre comes from before the source key is read.
enum Center {
    Point(f64, f64),
    /// FROMMEMBER on a missing key: no position, the reply is empty anyway.
    Member,
}

struct Query<'a> {
    center: Option<Center>,
    shape: Option<(Shape, f64)>,
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    sort: Option<bool>,
    any: bool,
    count: u64,
    store: Option<&'a [u8]>,
    storedist: bool,
}

/// One match.
struct Point {
    member: Vec<u8>,
    score: f64,
    lon: f64,
    lat: f64,
    dist: f64,
}

/// Parses the arguments in Redis's order. Centre member lookups are deferred
/// (their errors come after option errors only where Redis's come after).
fn parse<'a>(args: &Args<'a>, form: Form, src: Option<&ZSet>) -> Result<Query<'a>, CmdError> {
    let mut q = Query {
        center: None,
        shape: None,
        withdist: false,
        withhash: false,
        withcoord: false,
        sort: None,
        any: false,
        count: 0,
        store: None,
        storedist: false,
    };
    let member_pos = |z: Option<&ZSet>, m: &[u8]| -> Result<Option<(f64, f64)>, CmdError> {
        match z {
            None => Ok(None),
            Some(z) => z
                .score(m)
                .and_then(hash::decode_score)
                .map(Some)
                .ok_or(CmdError::from("ERR could not decode requested zset member")),
        }
    };
    let base = match form {
        Form::Radius { .. } => {
            let (lon, lat) = lon_lat(args, 2)?;
            q.center = Some(Center::Point(lon, lat));
            let (r, conv) = distance_arg(args, 4)?;
            q.shape = Some((Shape::Radius(r), conv));
            6
        }
        Form::ByMember { .. } => {
            if src.is_some() {
                if let Some((lon, lat)) = member_pos(src, args.get(2))? {
                    q.center = Some(Center::Point(lon, lat));
                }
                let (r, conv) = distance_arg(args, 3)?;
                q.shape = Some((Shape::Radius(r), conv));
            }
            5
        }
        Form::Search => 2,
        Form::SearchStore => {
            q.store = Some(args.get(1));
            3
        }
    };
    let search = matches!(form, Form::Search | Form::SearchStore);
    let nostore = matches!(
        form,
        Form::Radius { ro: true } | Form::ByMember { ro: true }
    );
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut i = base;
    while i < args.len() {
        let remaining = args.len() - i - 1;
        let a = args.get(i).to_ascii_lowercase();
        match a.as_slice() {
            b"withdist" => q.withdist = true,
            b"withhash" => q.withhash = true,
            b"withcoord" => q.withcoord = true,
            b"any" => q.any = true,
            b"asc" => q.sort = Some(true),
            b"desc" => q.sort = Some(false),
            b"count" if remaining >= 1 => {
                let c = args.int(i + 1)?;
                if c <= 0 {
                    return err("ERR COUNT must be > 0");
                }
                q.count = c as u64;
                i += 1;
            }
            b"store" | b"storedist" if remaining >= 1 && !nostore && !search => {
                q.store = Some(args.get(i + 1));
                q.storedist = a == b"storedist";
                i += 1;
            }
            b"storedist" if form == Form::SearchStore => q.storedist = true,
            b"frommember" if remaining >= 1 && search && !fromloc => {
                if let Some((lon, lat)) = member_pos(src, args.get(i + 1))? {
                    q.center = Some(Center::Point(lon, lat));
                } else {
                    q.center = Some(Center::Member);
                }
                frommember = true;
                i += 1;
            }
            b"fromlonlat" if remaining >= 2 && search && !frommember => {
                let (lon, lat) = lon_lat(args, i + 1)?;
                q.center = Some(Center::Point(lon, lat));
                fromloc = true;
                i += 2;
            }
            b"byradius" if remaining >= 2 && search && !bybox => {
                let (r, conv) = distance_arg(args, i + 1)?;
                q.shape = Some((Shape::Radius(r), conv));
                byradius = true;
                i += 2;
            }
            b"bybox" if remaining >= 3 && search && !byradius => {
                let w = float_or(args, i + 1, "ERR need numeric width")?;
                let h = float_or(args, i + 2, "ERR need numeric height")?;
                if h < 0.0 || w < 0.0 {
                    return err("ERR height or width cannot be negative");
                }
                let conv = unit(args.get(i + 3))?;
                q.shape = Some((
                    Shape::Box {
                        width: w,
                        height: h,
                    },
                    conv,
                ));
                bybox = true;
                i += 3;
            }
            _ => return err(SYNTAX),
        }
        i += 1;
    }
    if q.store.is_some() && (q.withdist || q.withhash || q.withcoord) {
        let what = if form == Form::SearchStore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return err(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        ));
    }
    let name = String::from_utf8_lossy(args.get(0)).into_owned();
    if search && !(frommember || fromloc) {
        return err(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        ));
    }
    if search && !(byradius || bybox) {
        return err(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        ));
    }
    if q.any && q.count == 0 {
        return err("ERR the ANY argument requires COUNT argument");
    }
    Ok(q)
}

/// The members inside the shape, scanning the cells in Redis's order (and
/// stopping at `limit` matches when non-zero, for ANY).
fn matches(z: &ZSet, s: &Search, limit: u64) -> Vec<Point> {
    let mut found: Vec<Point> = Vec::new();
    let cells = s.areas();
    let mut last: Option<usize> = None;
    for (i, cell) in cells.iter().enumerate() {
        if cell.bits == 0 && cell.step == 0 {
            continue;
        }
        if let Some(l) = last {
            if l != 0 && cells[l] == *cell {
                continue;
            }
        }
        let (min, max) = hash::cell_scores(*cell);
        let start = z.count_while(&|sc, _| sc < min);
        let end = z.count_while(&|sc, _| sc < max);
        let mut done = false;
        z.range(start, end, false, &mut |m, score| {
            if done {
                return;
            }
            if let Some((lon, lat)) = hash::decode_score(score) {
                if let Some(dist) = s.within(lon, lat) {
                    found.push(Point {
                        member: m.to_vec(),
                        score,
                        lon,
                        lat,
                        dist,
                    });
                    if limit > 0 && found.len() as u64 >= limit {
                        done = true;
                    }
                }
            }
        });
        last = Some(i);
        if limit > 0 && found.len() as u64 >= limit {
            break;
        }
    }
    found
}

/// Runs a parsed query on `z`: the matches, sorted and cut as asked, with
/// distances in the query's unit.
fn search(z: &ZSet, q: &Query) -> Result<Vec<Point>, CmdError> {
    let (Some(Center::Point(lon, lat)), Some((shape, conversion))) = (&q.center, q.shape) else {
        return err("ERR could not decode requested zset member");
    };
    let s = Search {
        lon: *lon,
        lat: *lat,
        shape,
        conversion,
    };
    let mut points = matches(z, &s, if q.any { q.count } else { 0 });
    let sort = match q.sort {
        None if q.count > 0 && !q.any => Some(true),
        s => s,
    };
    let by_dist = |a: &Point, b: &Point| {
        a.dist
            .partial_cmp(&b.dist)
            .unwrap_or(std::cmp::Ordering::Equal)
    };
    match sort {
        Some(true) => points.sort_by(by_dist),
        Some(false) => points.sort_by(|a, b| by_dist(b, a)),
        None => {}
    }
    if q.count > 0 {
        points.truncate(usize::try_from(q.count).unwrap_or(usize::MAX));
    }
    for p in &mut points {
        p.dist /= conversion;
    }
    Ok(points)
}

fn generic(ctx: &mut Ctx, args: &Args, form: Form) -> CmdResult {
    let src_idx = if form == Form::SearchStore { 2 } else { 1 };
    let src = args.get(src_idx);
    let hs = ctx.hash(src);
    // The destination, when any, is only known after parsing; lock both the
    // source and every key a STORE option could name up front.
    let mut hashes = vec![hs];
    for i in 1..args.len() {
        if i != src_idx {
            hashes.push(ctx.hash(args.get(i)));
        }
    }
    let may_store = matches!(
        form,
        Form::SearchStore | Form::Radius { ro: false } | Form::ByMember { ro: false }
    );
    if !may_store {
        hashes.truncate(1);
    }
    let lim = limits(ctx);
    let mut locked = ctx.db().lock_many(&hashes);
    let (q, points) = {
        let sh = locked.stripe(hs);
        let slot = ctx.ks().read(sh, hs, src, ctx.now_ms);
        let sh: &crate::db::Stripe = sh;
        let z = zset_of(slot.map(|s| sh.value(s)))?;
        let q = parse(args, form, z)?;
        let points = match z {
            Some(z) => Some(search(z, &q)?),
            None => None,
        };
        (q, points)
    };
    let Some(points) = points else {
        if let Some(dst) = q.store {
            let hd = ctx.hash(dst);
            typed::store(
                ctx,
                locked.stripe(hd),
                hd,
                dst,
                Object::ZSet(ZSet::default()),
            );
            drop(locked);
            ctx.out.int(0);
        } else {
            drop(locked);
            ctx.out.array(0);
        }
        return Ok(());
    };
    if let Some(dst) = q.store {
        let mut items: Vec<(Vec<u8>, f64)> = points
            .into_iter()
            .map(|p| {
                let s = if q.storedist { p.dist } else { p.score };
                (p.member, s)
            })
            .collect();
        items.sort_by(|a, b| cmp_elem(a.1, &a.0, b.1, &b.0));
        let n = items.len();
        let hd = ctx.hash(dst);
        typed::store(
            ctx,
            locked.stripe(hd),
            hd,
            dst,
            Object::ZSet(ZSet::from_sorted(&items, lim)),
        );
        drop(locked);
        ctx.out.int(n as i64);
        return Ok(());
    }
    drop(locked);
    let out = &mut *ctx.out;
    let opts = q.withdist as usize + q.withhash as usize + q.withcoord as usize;
    out.array(points.len());
    for p in &points {
        if opts > 0 {
            out.array(opts + 1);
        }
        out.bulk(&p.member);
        if q.withdist {
            distance_reply(out, p.dist);
        }
        if q.withhash {
            out.int(p.score as i64);
        }
        if q.withcoord {
            out.array(2);
            coord(out, p.lon);
            coord(out, p.lat);
        }
    }
    Ok(())
}

/// `GEOSEARCH key FROMMEMBER member | FROMLONLAT longitude latitude BYRADIUS radius M | KM | FT | MI | BYBOX width height M | KM | FT | MI [ASC | DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]`
fn geosearch(ctx: &mut Ctx, args: &Args) -> CmdResult {
    generic(ctx, args, Form::Search)
}

/// `GEOSEARCHSTORE destination source FROMMEMBER member | FROMLONLAT longitude latitude BYRADIUS radius M | KM | FT | MI | BYBOX width height M | KM | FT | MI [ASC | DESC] [COUNT count [ANY]] [STOREDIST]`
fn geosearchstore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    generic(ctx, args, Form::SearchStore)
}

/// `GEORADIUS key longitude latitude radius M | KM | FT | MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]`
fn georadius(ctx: &mut Ctx, args: &Args) -> CmdResult {
    generic(ctx, args, Form::Radius { ro: false })
}

/// `GEORADIUS_RO key longitude latitude radius M | KM | FT | MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]`
fn georadius_ro(ctx: &mut Ctx, args: &Args) -> CmdResult {
    generic(ctx, args, Form::Radius { ro: true })
}

/// `GEORADIUSBYMEMBER key member radius M | KM | FT | MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]`
fn georadiusbymember(ctx: &mut Ctx, args: &Args) -> CmdResult {
    generic(ctx, args, Form::ByMember { ro: false })
}

/// `GEORADIUSBYMEMBER_RO key member radius M | KM | FT | MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]`
fn georadiusbymember_ro(ctx: &mut Ctx, args: &Args) -> CmdResult {
    generic(ctx, args, Form::ByMember { ro: true })
}
