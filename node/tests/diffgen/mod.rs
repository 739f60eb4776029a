//! Seeded random command generator for the differential test against redis-server.
//!
//! The command list is a table of small generator functions, one per command
//! ([`table`]), grouped by family in the submodules. A generator draws its keys
//! from a small key space so commands collide on the same keys, mixes valid and
//! invalid arguments (so error strings are compared too), and says how its reply
//! is compared ([`Cmp`]).
//!
//! Time: the two servers execute each command a few microseconds apart, so any
//! outcome that depends on *when* a relative TTL was set (EXPIRE ... GT/LT against
//! an earlier relative TTL, a key expiring during the run) could differ between
//! them. Generators therefore never set a TTL that could fire during the run, and
//! relative TTLs are unique and spaced thousands of seconds apart, so comparisons
//! between them never hinge on a millisecond.

pub mod bits;
pub mod geo;
pub mod hashes;
pub mod hll;
pub mod keys;
pub mod lists;
pub mod resp;
pub mod sets;
pub mod streams;
pub mod strings;
pub mod zsets;

/// A [`Spec`] row.
macro_rules! spec {
    ($name:expr, $weight:expr, $gen:expr) => {
        $crate::diffgen::Spec {
            name: $name,
            weight: $weight,
            gen: $gen,
        }
    };
}
pub(crate) use spec;

/// splitmix64: tiny, seedable, good enough for test input.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: u32) -> bool {
        self.below(100) < pct as usize
    }

    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
}

/// How a reply pair is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// Byte for byte.
    Exact,
    /// An array whose order is unspecified (KEYS): sorted before comparing.
    Unordered,
    /// An integer that may differ by up to this much (TTL, PTTL, EXPIRETIME);
    /// negative sentinels (-1, -2) must still match exactly.
    Within(i64),
    /// An array of field/value (member/score) pairs in unspecified order
    /// (HGETALL, a RESP3 map): sorted as pairs before comparing.
    Pairs,
    /// Only the reply's type and length (RANDOMKEY, TIME, CLIENT ID, random
    /// picks such as SRANDMEMBER and HRANDFIELD).
    Kind,
    /// A SCAN with cursor 0: the harness iterates both servers to cursor 0 and
    /// compares the sorted set of keys returned.
    ScanAll,
    /// HSCAN / SSCAN / ZSCAN with cursor 0: iterated to the end on both
    /// servers, the elements (pairs when `true`) compared as sets.
    ScanKey(bool),
}

/// One generated request.
pub struct Req {
    pub args: Vec<Vec<u8>>,
    pub cmp: Cmp,
    /// Run on both servers after the request, replies not compared: brings
    /// them back to the same state after a random pick that changed data
    /// (SPOP of some members: the popped key is deleted).
    pub then: Option<Vec<Vec<u8>>>,
}

impl Req {
    pub fn new(name: &str) -> Req {
        Req {
            args: vec![name.as_bytes().to_vec()],
            cmp: Cmp::Exact,
            then: None,
        }
    }

    /// Sets the resynchronising follow-up (see [`Req::then`]).
    pub fn then(mut self, args: &[&[u8]]) -> Req {
        self.then = Some(args.iter().map(|a| a.to_vec()).collect());
        self
    }

    /// Appends an argument.
    pub fn a(mut self, arg: impl Into<Vec<u8>>) -> Req {
        self.args.push(arg.into());
        self
    }

    pub fn extend(mut self, args: impl IntoIterator<Item = Vec<u8>>) -> Req {
        self.args.extend(args);
        self
    }

    pub fn cmp(mut self, cmp: Cmp) -> Req {
        self.cmp = cmp;
        self
    }
}

/// A command in the generator table.
pub struct Spec {
    pub name: &'static str,
    /// Relative frequency.
    pub weight: u32,
    pub gen: fn(&mut Gen) -> Req,
}

/// Every generator, across families.
pub fn table() -> Vec<Spec> {
    let mut t = Vec::new();
    t.extend(strings::table());
    t.extend(bits::table());
    t.extend(keys::table());
    t.extend(hashes::table());
    t.extend(sets::table());
    t.extend(zsets::table());
    t.extend(lists::table());
    t.extend(hll::table());
    t.extend(streams::table());
    t.extend(geo::table());
    t
}

/// How many keys at the start of [`KEYS`] belong to no family.
const SHARED_KEYS: usize = 8;

/// The small key space every generator draws from.
pub const KEYS: &[&[u8]] = &[
    b"k0",
    b"k1",
    b"k2",
    b"k3",
    b"k4",
    b"k5",
    b"key:1",
    b"b\x00\r\n",
    // Home keys of the collection families (see `Gen::ckey`).
    b"h1",
    b"h2",
    b"s1",
    b"s2",
    b"z1",
    b"z2",
    b"l1",
    b"l2",
    b"p1",
    b"p2",
    b"x1",
    b"x2",
    b"g1",
    b"g2",
];

/// Members, fields and list elements: few, so they collide; integers (intset
/// and integer encodings), an empty one, binary, and one past the 64-byte
/// listpack value limit (so encodings convert).
const MEMBERS: &[&[u8]] = &[
    b"a",
    b"b",
    b"c",
    b"d",
    b"e",
    b"f",
    b"1",
    b"2",
    b"3",
    b"-5",
    b"100",
    b"",
    b"\x00\xff",
    b"a-member-whose-name-is-longer-than-sixty-four-bytes-so-listpacks-convert",
];

const STRINGS: &[&[u8]] = &[
    b"",
    b"foobar",
    b"hello world",
    b"\xff\xf0\x00",
    b"\x00\x00\x00\x01",
    b"abcdefghijklmnopqrstuvwxyz",
    b"ohmytext",
    b"mynewtext",
];

const INTS: &[&[u8]] = &[
    b"0",
    b"1",
    b"-1",
    b"10",
    b"-42",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"9223372036854775806",
];

/// Values that are not (quite) integers.
const NOT_INTS: &[&[u8]] = &[
    b"abc",
    b"",
    b"1.5",
    b" 1",
    b"1 ",
    b"+1",
    b"01",
    b"-0",
    b"9223372036854775808",
    b"-9223372036854775809",
    b"0x10",
];

const FLOATS: &[&[u8]] = &[
    b"1.5",
    b"-0.25",
    b"3.0e3",
    b"1e-3",
    b"10",
    b"-7",
    b"0.1",
    b"5.0000000001",
    b"1.7976931348623157e308",
    b"inf",
    b"-inf",
    b"nan",
    b"abc",
    b"",
    b" 1",
    b"0x1p3",
    b"1e400",
];

/// Per-run generator state.
pub struct Gen {
    pub rng: Rng,
    /// Makes every relative TTL unique (see the module doc).
    ttl_seq: i64,
    /// Unix seconds when the run started: the base of absolute timestamps.
    start_secs: i64,
    /// Millisecond part of the stream IDs generated last: XADD IDs mostly
    /// grow from it, so most appends succeed and some are too small.
    pub stream_ms: i64,
}

impl Gen {
    pub fn new(seed: u64) -> Gen {
        let start_secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(1_700_000_000);
        Gen {
            rng: Rng::new(seed),
            ttl_seq: 0,
            start_secs,
            stream_ms: 1,
        }
    }

    pub fn chance(&mut self, pct: u32) -> bool {
        self.rng.chance(pct)
    }

    /// Any key; the shared ones (before the home keys in [`KEYS`]) more
    /// often, so the other families do not overwrite the collections all
    /// the time.
    pub fn key(&mut self) -> Vec<u8> {
        if self.chance(60) {
            self.rng.pick(&KEYS[..SHARED_KEYS]).to_vec()
        } else {
            self.rng.pick(KEYS).to_vec()
        }
    }

    /// A key for a collection family: usually one of its two home keys (so
    /// collections grow), otherwise any key (so types mix and WRONGTYPE
    /// paths run).
    pub fn ckey(&mut self, home: &[&[u8]]) -> Vec<u8> {
        if self.chance(85) {
            self.rng.pick(home).to_vec()
        } else {
            self.key()
        }
    }

    /// A member, field or element (see [`MEMBERS`]); sometimes any value.
    pub fn member(&mut self) -> Vec<u8> {
        if self.chance(8) {
            self.val()
        } else {
            self.rng.pick(MEMBERS).to_vec()
        }
    }

    /// `lo..=hi` members (with repeats).
    pub fn members(&mut self, lo: usize, hi: usize) -> Vec<Vec<u8>> {
        let n = lo + self.rng.below(hi - lo + 1);
        (0..n).map(|_| self.member()).collect()
    }

    /// A count argument: usually small, sometimes zero, negative or invalid.
    pub fn count(&mut self) -> Vec<u8> {
        match self.rng.below(20) {
            0 => self.rng.pick(NOT_INTS).to_vec(),
            1 => b"0".to_vec(),
            2 => b"-3".to_vec(),
            3 => b"1000".to_vec(),
            _ => self.rng.range(1, 6).to_string().into_bytes(),
        }
    }

    /// A list/rank index, often negative, sometimes out of range or invalid.
    pub fn index(&mut self) -> Vec<u8> {
        match self.rng.below(20) {
            0 => self.rng.pick(NOT_INTS).to_vec(),
            1 => self.rng.pick(INTS).to_vec(),
            _ => self.rng.range(-8, 8).to_string().into_bytes(),
        }
    }

    /// `lo..=hi` keys (with repeats).
    pub fn keys(&mut self, lo: usize, hi: usize) -> Vec<Vec<u8>> {
        let n = lo + self.rng.below(hi - lo + 1);
        (0..n).map(|_| self.key()).collect()
    }

    /// An option keyword in random letter case (Redis matches them case-insensitively).
    pub fn opt(&mut self, word: &str) -> Vec<u8> {
        if self.chance(20) {
            word.to_ascii_lowercase().into_bytes()
        } else {
            word.as_bytes().to_vec()
        }
    }

    /// A value to store: often an integer (so INCR and friends succeed), sometimes
    /// a float, a text, binary bytes or random bytes.
    pub fn val(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0..=2 => self.rng.range(-100, 100).to_string().into_bytes(),
            3 => self.rng.pick(INTS).to_vec(),
            4 => self.rng.pick(FLOATS).to_vec(),
            5..=7 => self.rng.pick(STRINGS).to_vec(),
            _ => {
                let n = self.rng.below(12);
                (0..n).map(|_| self.rng.next_u64() as u8).collect()
            }
        }
    }

    /// An integer argument: usually in `lo..=hi`, sometimes an edge or not an integer.
    pub fn int(&mut self, lo: i64, hi: i64) -> Vec<u8> {
        match self.rng.below(20) {
            0 => self.rng.pick(NOT_INTS).to_vec(),
            1 => self.rng.pick(INTS).to_vec(),
            _ => self.rng.range(lo, hi).to_string().into_bytes(),
        }
    }

    /// A float argument (valid and invalid spellings).
    pub fn float(&mut self) -> Vec<u8> {
        if self.chance(50) {
            self.rng.range(-50, 50).to_string().into_bytes()
        } else {
            self.rng.pick(FLOATS).to_vec()
        }
    }

    fn next_ttl(&mut self) -> i64 {
        self.ttl_seq += 1;
        self.ttl_seq * 10_000
    }

    /// Relative seconds: unique and far in the future, or an edge that is
    /// rejected or deletes at once.
    pub fn ttl_secs(&mut self) -> Vec<u8> {
        match self.rng.below(12) {
            0 => self.rng.pick(&[&b"0"[..], b"-1", b"-100"]).to_vec(),
            1 => self
                .rng
                .pick(&[
                    &b"9223372036854775807"[..],
                    b"9223372036854775",
                    b"abc",
                    b"1.5",
                ])
                .to_vec(),
            _ => self.next_ttl().to_string().into_bytes(),
        }
    }

    /// Relative milliseconds, offset by half a TTL step from the second ones.
    pub fn ttl_ms(&mut self) -> Vec<u8> {
        match self.rng.below(12) {
            0 => self.rng.pick(&[&b"0"[..], b"-1", b"-5000"]).to_vec(),
            1 => self
                .rng
                .pick(&[&b"9223372036854775807"[..], b"-9223372036854775808", b"x"])
                .to_vec(),
            _ => ((self.next_ttl() + 5_000) * 1000).to_string().into_bytes(),
        }
    }

    /// Absolute Unix seconds: in the past (deletes at once) or far in the future.
    /// `past: false` leaves out past times: SET with one stores a dead key that
    /// DBSIZE counts until active expiry removes it (Redis 7.0 does the same),
    /// so DBSIZE would depend on when each server's expiry cycle ran.
    pub fn at_secs(&mut self, past: bool) -> Vec<u8> {
        match self.rng.below(10) {
            0 | 1 if !past => b"-1".to_vec(),
            0 => b"1".to_vec(),
            1 => (self.start_secs - 1000).to_string().into_bytes(),
            2 => self
                .rng
                .pick(&[&b"-1"[..], b"0", b"9223372036854775807", b"z"])
                .to_vec(),
            _ => (self.start_secs + 5_000_000_000 + self.next_ttl() + 2_500)
                .to_string()
                .into_bytes(),
        }
    }

    /// Absolute Unix milliseconds (`past` as for [`Gen::at_secs`]).
    pub fn at_ms(&mut self, past: bool) -> Vec<u8> {
        match self.rng.below(10) {
            0 | 1 if !past => b"0".to_vec(),
            0 => b"1".to_vec(),
            1 => ((self.start_secs - 1000) * 1000).to_string().into_bytes(),
            2 => self
                .rng
                .pick(&[&b"-1"[..], b"0", b"9223372036854775807", b"z"])
                .to_vec(),
            _ => ((self.start_secs + 5_000_000_000 + self.next_ttl() + 7_500) * 1000)
                .to_string()
                .into_bytes(),
        }
    }

    /// Sometimes breaks a request's arity (drops trailing arguments or adds
    /// one), so wrong-number-of-arguments and syntax errors are compared too.
    /// Error replies are always compared byte for byte, whatever the [`Cmp`].
    pub fn mutate_arity(&mut self, mut req: Req) -> Req {
        // A random pick's comparison and resync are made for its exact form.
        if req.then.is_some() {
            return req;
        }
        if self.chance(3) && req.args.len() > 1 {
            let keep = 1 + self.rng.below(req.args.len() - 1);
            req.args.truncate(keep);
        } else if self.chance(2) {
            let extra = self.val();
            req.args.push(extra);
        }
        req
    }
}
