//! Redis's geohash arithmetic, reproduced operation for operation so that
//! scores, positions, distances and the set of matched members agree with
//! redis-server to the last printed digit: 26 bits per axis interleaved into a
//! 52-bit integer score (latitude limited to the Web Mercator ±85.05112878),
//! the 3x3 neighbour search areas, and the haversine distance on a sphere of
//! radius 6372797.560856 m.

pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
pub const STEP_MAX: u8 = 26;

const D_R: f64 = std::f64::consts::PI / 180.0;
const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;

fn deg_rad(a: f64) -> f64 {
    a * D_R
}

fn rad_deg(a: f64) -> f64 {
    a / D_R
}

/// A geohash: `step` bits per axis.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Bits {
    pub bits: u64,
    pub step: u8,
}

impl Bits {
    fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

#[derive(Clone, Copy, Debug)]
pub struct Area {
    pub lon: Range,
    pub lat: Range,
}

pub const WGS84: (Range, Range) = (
    Range {
        min: LONG_MIN,
        max: LONG_MAX,
    },
    Range {
        min: LAT_MIN,
        max: LAT_MAX,
    },
);

fn interleave64(xlo: u32, ylo: u32) -> u64 {
    const B: [u64; 5] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
    ];
    const S: [u32; 5] = [1, 2, 4, 8, 16];
    let (mut x, mut y) = (xlo as u64, ylo as u64);
    for i in (0..5).rev() {
        x = (x | (x << S[i])) & B[i];
        y = (y | (y << S[i])) & B[i];
    }
    x | (y << 1)
}

fn deinterleave64(interleaved: u64) -> u64 {
    const B: [u64; 6] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
        0x00000000FFFFFFFF,
    ];
    const S: [u32; 6] = [0, 1, 2, 4, 8, 16];
    let (mut x, mut y) = (interleaved, interleaved >> 1);
    for i in 0..6 {
        x = (x | (x >> S[i])) & B[i];
        y = (y | (y >> S[i])) & B[i];
    }
    x | (y << 32)
}

/// `geohashEncode`: `None` outside the ranges.
pub fn encode(ranges: (Range, Range), lon: f64, lat: f64, step: u8) -> Option<Bits> {
    let (lon_r, lat_r) = ranges;
    if step > 32 || step == 0 {
        return None;
    }
    // Redis refuses points outside the WGS84 limits whatever the ranges.
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min) * scale;
    let lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min) * scale;
    Some(Bits {
        bits: interleave64(lat_off as u32, lon_off as u32),
        step,
    })
}

/// `geohashDecode`.
pub fn decode(ranges: (Range, Range), hash: Bits) -> Option<Area> {
    if hash.is_zero() {
        return None;
    }
    let (lon_r, lat_r) = ranges;
    let sep = deinterleave64(hash.bits);
    let lat_scale = lat_r.max - lat_r.min;
    let lon_scale = lon_r.max - lon_r.min;
    let ilato = sep as u32;
    let ilono = (sep >> 32) as u32;
    let div = (1u64 << hash.step) as f64;
    Some(Area {
        lat: Range {
            min: lat_r.min + (ilato as f64 / div) * lat_scale,
            max: lat_r.min + ((ilato as f64 + 1.0) / div) * lat_scale,
        },
        lon: Range {
            min: lon_r.min + (ilono as f64 / div) * lon_scale,
            max: lon_r.min + ((ilono as f64 + 1.0) / div) * lon_scale,
        },
    })
}

/// The centre of a cell, clamped to the valid ranges
/// (`geohashDecodeAreaToLongLat`).
pub fn area_center(a: &Area) -> (f64, f64) {
    let lon = ((a.lon.min + a.lon.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((a.lat.min + a.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// Position of a sorted set score (`decodeGeohash`), with the score cast to
/// uint64 as Redis's x86-64 build does (see [`c_double_to_u64`]): a sorted
/// set member that GEOADD did not write (a negative or huge score) decodes to
/// the same position there and here.
pub fn decode_score(score: f64) -> Option<(f64, f64)> {
    let hash = Bits {
        bits: c_double_to_u64(score),
        step: STEP_MAX,
    };
    decode(WGS84, hash).map(|a| area_center(&a))
}

/// `(uint64_t)d` as GCC compiles it for x86-64: below 2^63 `cvttsd2si`
/// (truncation, wrapping negatives to two's complement; NaN and out-of-range
/// values give 2^63), otherwise `cvttsd2si(d - 2^63)` with the top bit
/// flipped. C leaves most of these undefined; Redis's released binaries do
/// this.
pub fn c_double_to_u64(d: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    fn cvttsd2si(x: f64) -> u64 {
        if !(-TWO63..TWO63).contains(&x) {
            1 << 63
        } else {
            x as i64 as u64
        }
    }
    if d >= TWO63 {
        cvttsd2si(d - TWO63) ^ (1 << 63)
    } else {
        cvttsd2si(d)
    }
}

/// The 52-bit score of a position.
pub fn score_of(lon: f64, lat: f64) -> Option<u64> {
    encode(WGS84, lon, lat, STEP_MAX).map(align52)
}

pub fn align52(h: Bits) -> u64 {
    h.bits << (52 - h.step as u32 * 2)
}

/// The 11-character standard geohash of a score (GEOHASH).
pub fn geohash_string(score: f64) -> Option<String> {
    const ALPHABET: &[u8] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = decode_score(score)?;
    let ranges = (
        Range {
            min: -180.0,
            max: 180.0,
        },
        Range {
            min: -90.0,
            max: 90.0,
        },
    );
    let bits = encode(ranges, lon, lat, 26).map_or(0, |h| h.bits);
    Some(
        (0..11)
            .map(|i| {
                let idx = if i == 10 {
                    0
                } else {
                    (bits >> (52 - (i + 1) * 5)) & 0x1f
                };
                ALPHABET[idx as usize] as char
            })
            .collect(),
    )
}

fn move_x(h: &mut Bits, d: i8) {
    if d == 0 {
        return;
    }
    let mut x = h.bits & 0xaaaaaaaaaaaaaaaa;
    let y = h.bits & 0x5555555555555555;
    let zz = 0x5555555555555555u64 >> (64 - h.step as u32 * 2);
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xaaaaaaaaaaaaaaaau64 >> (64 - h.step as u32 * 2);
    h.bits = x | y;
}

fn move_y(h: &mut Bits, d: i8) {
    if d == 0 {
        return;
    }
    let x = h.bits & 0xaaaaaaaaaaaaaaaa;
    let mut y = h.bits & 0x5555555555555555;
    let zz = 0xaaaaaaaaaaaaaaaau64 >> (64 - h.step as u32 * 2);
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555555555555555u64 >> (64 - h.step as u32 * 2);
    h.bits = x | y;
}

fn moved(h: Bits, dx: i8, dy: i8) -> Bits {
    let mut n = h;
    move_x(&mut n, dx);
    move_y(&mut n, dy);
    n
}

/// A search shape: centre, and a radius or a box (in the unit, with the
/// factor to metres).
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    Radius(f64),
    Box { width: f64, height: f64 },
}

#[derive(Clone, Copy, Debug)]
pub struct Search {
    pub lon: f64,
    pub lat: f64,
    pub shape: Shape,
    pub conversion: f64,
}

fn estimate_steps(mut range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

impl Search {
    fn half_extents_m(&self) -> (f64, f64) {
        match self.shape {
            Shape::Radius(r) => (r * self.conversion, r * self.conversion),
            Shape::Box { width, height } => (
                width / 2.0 * self.conversion,
                height / 2.0 * self.conversion,
            ),
        }
    }

    /// `geohashBoundingBox`: (min lon, min lat, max lon, max lat).
    fn bounding_box(&self) -> (f64, f64, f64, f64) {
        let (width, height) = self.half_extents_m();
        let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
        let long_delta_top =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(self.lat + lat_delta).cos());
        let long_delta_bottom =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(self.lat - lat_delta).cos());
        let south = self.lat < 0.0;
        let d = if south {
            long_delta_bottom
        } else {
            long_delta_top
        };
        (
            self.lon - d,
            self.lat - lat_delta,
            self.lon + d,
            self.lat + lat_delta,
        )
    }

    /// The cells to scan, in Redis's order (centre, N, S, E, W, NE, NW, SE,
    /// SW), with the useless ones zeroed (`geohashCalculateAreasByShapeWGS84`).
    pub fn areas(&self) -> [Bits; 9] {
        let (min_lon, min_lat, max_lon, max_lat) = self.bounding_box();
        let radius_m = match self.shape {
            Shape::Radius(r) => r,
            Shape::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        } * self.conversion;
        let mut steps = estimate_steps(radius_m, self.lat);
        let cells = |steps: u8| {
            let hash = encode(WGS84, self.lon, self.lat, steps).unwrap_or_default();
            let n = [
                hash,
                moved(hash, 0, 1),
                moved(hash, 0, -1),
                moved(hash, 1, 0),
                moved(hash, -1, 0),
                moved(hash, 1, 1),
                moved(hash, -1, 1),
                moved(hash, 1, -1),
                moved(hash, -1, -1),
            ];
            (hash, n)
        };
        let (_, mut n) = cells(steps);
        let area_of = |b: Bits| decode(WGS84, b);
        let mut decrease = false;
        if let (Some(north), Some(south), Some(east), Some(west)) =
            (area_of(n[1]), area_of(n[2]), area_of(n[3]), area_of(n[4]))
        {
            decrease = north.lat.max < max_lat
                || south.lat.min > min_lat
                || east.lon.max < max_lon
                || west.lon.min > min_lon;
        }
        if steps > 1 && decrease {
            steps -= 1;
            n = cells(steps).1;
        }
        if steps >= 2 {
            if let Some(area) = area_of(n[0]) {
                let zero = Bits::default();
                if area.lat.min < min_lat {
                    n[2] = zero;
                    n[8] = zero;
                    n[7] = zero;
                }
                if area.lat.max > max_lat {
                    n[1] = zero;
                    n[5] = zero;
                    n[6] = zero;
                }
                if area.lon.min < min_lon {
                    n[4] = zero;
                    n[8] = zero;
                    n[6] = zero;
                }
                if area.lon.max > max_lon {
                    n[3] = zero;
                    n[7] = zero;
                    n[5] = zero;
                }
            }
        }
        n
    }

    /// Distance in metres from the centre when `(lon, lat)` is inside the
    /// shape (`geoWithinShape`).
    pub fn within(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.shape {
            Shape::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= r * self.conversion).then_some(d)
            }
            Shape::Box { width, height } => {
                let (w, h) = (width * self.conversion, height * self.conversion);
                let lon_distance = distance(lon, lat, self.lon, lat);
                let lat_distance = distance(lon, lat, lon, self.lat);
                if lon_distance > w / 2.0 || lat_distance > h / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }
}

/// The score interval `[min, max)` holding every point of a cell.
pub fn cell_scores(h: Bits) -> (f64, f64) {
    let min = align52(h);
    let max = align52(Bits {
        bits: h.bits + 1,
        step: h.step,
    });
    (min as f64, max as f64)
}

/// Haversine great-circle distance in metres (`geohashGetDistance`).
pub fn distance(lon1d: f64, lat1d: f64, lon2d: f64, lat2d: f64) -> f64 {
    let lat1r = deg_rad(lat1d);
    let lon1r = deg_rad(lon1d);
    let lat2r = deg_rad(lat2d);
    let lon2r = deg_rad(lon2d);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let v = ((lon2r - lon1r) / 2.0).sin();
    2.0 * EARTH_RADIUS_IN_METERS * (u * u + lat1r.cos() * lat2r.cos() * v * v).sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_to_u64_casts_as_x86_64_c() {
        assert_eq!(c_double_to_u64(5.9), 5);
        assert_eq!(c_double_to_u64(-7.0), (-7i64) as u64);
        assert_eq!(c_double_to_u64(-0.5), 0);
        assert_eq!(c_double_to_u64(f64::NAN), 1 << 63);
        assert_eq!(c_double_to_u64(f64::NEG_INFINITY), 1 << 63);
        assert_eq!(c_double_to_u64(f64::INFINITY), 0);
        assert_eq!(c_double_to_u64(1e19), 10_000_000_000_000_000_000);
        assert_eq!(c_double_to_u64(1e30), 0);
    }

    #[test]
    fn palermo_matches_redis() {
        // Values printed by redis-server 7.0 for GEOADD 13.361389 38.115556.
        let s = score_of(13.361389, 38.115556).expect("valid point");
        assert_eq!(s, 3479099956230698);
        let (lon, lat) = decode_score(s as f64).expect("decodes");
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
        assert_eq!(geohash_string(s as f64).as_deref(), Some("sqc8b49rny0"));
        assert!(score_of(181.0, 0.0).is_none());
        assert!(score_of(0.0, 86.0).is_none());
    }

    #[test]
    fn interleave_round_trips() {
        for (x, y) in [(0u32, 0u32), (1, 2), (0x3ffffff, 0x1234567), (u32::MAX, 0)] {
            let d = deinterleave64(interleave64(x, y));
            assert_eq!((d as u32, (d >> 32) as u32), (x, y));
        }
    }
}
