//! Stream commands against a real node: fixed scripts played side by side
//! with redis-server (RESP2 and RESP3, byte for byte), consumer-group flows
//! compared with delivery times masked, a seeded random run, blocking reads
//! without data, and memory per entry against redis-server.

mod common;
#[path = "zsets_support/mod.rs"]
mod support;

use common::Server;
use support::side_by_side;

fn pair() -> (Server, Server) {
    let node = Server::start(&[]);
    let redis = Server::start_redis(&[]).expect("redis-server is installed");
    (node, redis)
}

fn assert_same(script: &str) {
    let (node, redis) = pair();
    let diffs = side_by_side(script, node.port, redis.port);
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn basics_match_redis() {
    assert_same(include_str!("streams_support/basics.txt"));
}

#[test]
fn trimming_and_node_limits_match_redis() {
    assert_same(include_str!("streams_support/trim.txt"));
}

#[test]
fn consumer_groups_match_redis() {
    assert_same(include_str!("streams_support/groups.txt"));
}

#[test]
fn xread_matches_redis() {
    assert_same(include_str!("streams_support/read.txt"));
}
