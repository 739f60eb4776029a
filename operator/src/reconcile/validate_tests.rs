//! Tests of `validate` on small spec fragments.

use super::*;
use crate::builders::fixtures::{cluster, refs, secret, validated, IMAGE, PASSWORD};

fn check(spec: &str) -> Result<Validated> {
    validate(&cluster(spec), &refs(vec![]), IMAGE)
}

fn message(spec: &str) -> String {
    match check(spec) {
        Ok(_) => panic!("spec should be invalid: {spec}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_are_valid() {
    let v = validated("");
    assert_eq!(v.name, "demo");
    assert_eq!(v.namespace, "shop");
    assert_eq!(v.image, IMAGE);
    assert_eq!(v.pods_per_shard(), 2);
    assert!(!v.cluster_mode());
    assert_eq!(v.maxmemory, None);
    assert_eq!(
        v.auth,
        Auth::Secret {
            name: "demo-auth".into(),
            key: "password".into(),
            generated: Some(PASSWORD.into())
        }
    );
    assert_eq!(v.owner.kind, "CacheCluster");
    assert_eq!(v.owner.controller, Some(true));
}

#[test]
fn memcached_is_reported_as_unsupported() {
    let err = check("engine: memcached").expect_err("memcached is not served yet");
    assert_eq!(err.reason(), "EngineNotSupported");
}

#[test]
fn image_resolution() {
    assert_eq!(validated("image: reg.io/x/node:2").image, "reg.io/x/node:2");
    assert_eq!(validated("version: '1.4'").image, "kcache-node:1.4");
    assert_eq!(
        image_repository("reg.io:5000/kcache-node:dev"),
        "reg.io:5000/kcache-node"
    );
    assert_eq!(
        image_repository("reg.io:5000/kcache-node"),
        "reg.io:5000/kcache-node"
    );
    assert_eq!(image_repository("kcache-node@sha256:abc"), "kcache-node");
    assert!(message("image: a:1\nversion: '2'").contains("not both"));
}

#[test]
fn maxmemory_must_fit_the_limit() {
    let m = message("resources: {limits: {memory: 1Gi}}\nmaxMemory: 2Gi");
    assert!(m.contains("exceeds the memory limit"), "{m}");
    assert!(message("maxMemory: 500m").contains("not a positive memory quantity"));
    assert_eq!(validated("maxMemory: 100Mi").maxmemory, Some(100 << 20));
}

#[test]
fn parameter_values_are_checked() {
    assert!(message("parameters: {hz: '0'}").contains("integer from 1 to 500"));
    assert!(message("parameters: {port: '7000'}").contains("comes from the operator"));
    assert!(message("parameters: {maxmemory: 1gb}").contains("spec.maxMemory"));
    assert!(check("parameters: {hz: '50', timeout: '0'}").is_ok());
}

#[test]
fn cross_field_rules_are_rechecked() {
    let m = message("replicasPerShard: 1\nfailover: {minReplicasToWrite: 2}");
    assert!(m.contains("minReplicasToWrite"), "{m}");
    assert!(message("replicasPerShard: 6").contains("between 0 and 5"));
    assert!(message("shards: 0").contains("between 1 and 250"));
    assert!(
        message("persistence: {mode: none, schedule: '60 1'}").contains("only to mode snapshot")
    );
    assert!(message("auth: {enabled: false, passwordSecret: {name: x}}").contains("auth.enabled"));
    assert!(message("persistence: {mode: aof, storage: {size: 0Gi}}").contains("positive quantity"));
}

#[test]
fn long_names_are_refused() {
    let mut cc = cluster("");
    cc.metadata.name = Some("x".repeat(41));
    let err = validate(&cc, &refs(vec![]), IMAGE).expect_err("too long");
    assert!(err.to_string().contains("at most 40"));
}

#[test]
fn referenced_secrets_must_exist_with_their_keys() {
    let spec = "auth: {passwordSecret: {name: app-pass, key: pw}}";
    let missing = validate(&cluster(spec), &refs(vec![]), IMAGE).expect_err("missing secret");
    assert_eq!(missing.reason(), "SecretNotFound");
    assert!(missing.to_string().contains("does not exist"));
    let wrong_key = validate(
        &cluster(spec),
        &refs(vec![secret("app-pass", &[("password", "x")])]),
        IMAGE,
    )
    .expect_err("missing key");
    assert!(
        wrong_key.to_string().contains("no non-empty key pw"),
        "{wrong_key}"
    );
    assert!(validate(
        &cluster(spec),
        &refs(vec![secret("app-pass", &[("pw", "x")])]),
        IMAGE
    )
    .is_ok());

    let tls = "tls: {secretName: my-tls, clientAuth: true}";
    let partial = refs(vec![secret(
        "my-tls",
        &[("tls.crt", "c"), ("tls.key", "k")],
    )]);
    let err = validate(&cluster(tls), &partial, IMAGE).expect_err("ca.crt needed for client auth");
    assert!(err.to_string().contains("ca.crt"), "{err}");
}
