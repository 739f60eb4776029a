//! Tests of the pod template builder.

use super::*;
use crate::builders::fixtures::{secret, validated, validated_with};

fn pod_spec(spec: &str) -> PodSpec {
    template(&validated(spec), 0, "hash")
        .spec
        .expect("pod spec")
}

fn node(spec: &PodSpec) -> &Container {
    &spec.containers[0]
}

fn flag(args: &[String], name: &str) -> Option<String> {
    let i = args.iter().position(|a| a == &format!("--{name}"))?;
    args.get(i + 1).cloned()
}

#[test]
fn node_is_wired_by_flags() {
    let args = args(&validated(""));
    assert_eq!(args[0], "/etc/kcache/kcache.conf");
    assert_eq!(flag(&args, "bind").as_deref(), Some("0.0.0.0"));
    assert_eq!(flag(&args, "port").as_deref(), Some("6379"));
    assert_eq!(flag(&args, "http-port").as_deref(), Some("9121"));
    assert_eq!(flag(&args, "dir").as_deref(), Some("/data"));
    assert_eq!(flag(&args, "cluster-enabled").as_deref(), Some("no"));
    assert!(
        flag(&args, "requirepass").is_none(),
        "passwords never go on the command line"
    );
    let sharded = args_of("shards: 3");
    assert_eq!(flag(&sharded, "cluster-enabled").as_deref(), Some("yes"));
}

fn args_of(spec: &str) -> Vec<String> {
    args(&validated(spec))
}

#[test]
fn password_comes_from_the_secret_as_env() {
    let spec = pod_spec("");
    let env = node(&spec).env.as_ref().expect("env");
    let pass = env
        .iter()
        .find(|e| e.name == "KCACHE_REQUIREPASS")
        .expect("requirepass env");
    let key_ref = pass
        .value_from
        .as_ref()
        .and_then(|s| s.secret_key_ref.as_ref())
        .expect("from a secret");
    assert_eq!(key_ref.name, "demo-auth");
    assert_eq!(key_ref.key, "password");
    assert!(env.iter().any(|e| e.name == "KCACHE_MASTERAUTH"));

    let user = validated_with(
        "auth: {passwordSecret: {name: mine, key: pw}}",
        vec![secret("mine", &[("pw", "x")])],
    );
    let spec = template(&user, 0, "h").spec.expect("spec");
    let env = node(&spec).env.clone().expect("env");
    let key_ref = env
        .iter()
        .find(|e| e.name == "KCACHE_REQUIREPASS")
        .and_then(|e| e.value_from.clone())
        .and_then(|s| s.secret_key_ref)
        .expect("user secret");
    assert_eq!(
        (key_ref.name.as_str(), key_ref.key.as_str()),
        ("mine", "pw")
    );

    let off = pod_spec("auth: {enabled: false}");
    assert!(node(&off)
        .env
        .as_ref()
        .expect("env")
        .iter()
        .all(|e| !e.name.starts_with("KCACHE_")));
}

#[test]
fn hardened_security_context() {
    let spec = pod_spec("");
    let pod = spec.security_context.as_ref().expect("pod security");
    assert_eq!(pod.run_as_non_root, Some(true));
    assert_eq!(pod.run_as_user, Some(65532));
    assert_eq!(
        pod.seccomp_profile.as_ref().map(|s| s.type_.as_str()),
        Some("RuntimeDefault")
    );
    let c = node(&spec)
        .security_context
        .as_ref()
        .expect("container security");
    assert_eq!(c.allow_privilege_escalation, Some(false));
    assert_eq!(c.read_only_root_filesystem, Some(true));
    assert_eq!(
        c.capabilities.as_ref().and_then(|c| c.drop.clone()),
        Some(vec!["ALL".into()])
    );
    assert_eq!(spec.automount_service_account_token, Some(false));
}

#[test]
fn probes_and_shutdown_allow_a_switchover() {
    let spec = pod_spec("");
    let c = node(&spec);
    let path = |p: &Option<Probe>| {
        p.as_ref()
            .and_then(|p| p.http_get.as_ref())
            .and_then(|h| h.path.clone())
    };
    assert_eq!(path(&c.liveness_probe).as_deref(), Some("/healthz"));
    assert_eq!(path(&c.readiness_probe).as_deref(), Some("/readyz"));
    assert_eq!(path(&c.startup_probe).as_deref(), Some("/healthz"));
    let sleep = c
        .lifecycle
        .as_ref()
        .and_then(|l| l.pre_stop.as_ref())
        .and_then(|h| h.sleep.as_ref())
        .map(|s| s.seconds)
        .expect("preStop sleep");
    let grace = spec.termination_grace_period_seconds.expect("grace");
    assert!(
        grace > sleep * 3,
        "grace {grace}s must cover the preStop pause and a switchover"
    );
    let persistent = pod_spec("persistence: {mode: snapshot}");
    let failures = |s: &PodSpec| {
        node(s)
            .startup_probe
            .as_ref()
            .and_then(|p| p.failure_threshold)
    };
    assert!(
        failures(&persistent) > failures(&spec),
        "loading a snapshot gets longer to start"
    );
}

#[test]
fn data_is_an_empty_dir_without_persistence_and_a_claim_with_it() {
    let volume = |spec: &PodSpec| {
        spec.volumes
            .as_ref()
            .expect("volumes")
            .iter()
            .find(|v| v.name == "data")
            .cloned()
    };
    assert!(volume(&pod_spec("")).and_then(|v| v.empty_dir).is_some());
    assert!(volume(&pod_spec("persistence: {mode: aof}")).is_none());
    let mounts = node(&pod_spec("")).volume_mounts.clone().expect("mounts");
    let data = mounts
        .iter()
        .find(|m| m.name == "data")
        .expect("data mount");
    assert_eq!(data.mount_path, "/data");
}

#[test]
fn tls_mounts_the_secret_and_switches_the_port() {
    let v = validated_with(
        "tls: {secretName: demo-tls, clientAuth: true}",
        vec![secret(
            "demo-tls",
            &[("tls.crt", "c"), ("tls.key", "k"), ("ca.crt", "a")],
        )],
    );
    let a = args(&v);
    assert_eq!(flag(&a, "port").as_deref(), Some("0"));
    assert_eq!(flag(&a, "tls-port").as_deref(), Some("6379"));
    assert_eq!(
        flag(&a, "tls-cert-file").as_deref(),
        Some("/etc/kcache-tls/tls.crt")
    );
    assert_eq!(
        flag(&a, "tls-ca-cert-file").as_deref(),
        Some("/etc/kcache-tls/ca.crt")
    );
    assert_eq!(flag(&a, "tls-auth-clients").as_deref(), Some("yes"));
    let spec = template(&v, 0, "h").spec.expect("spec");
    let tls = spec
        .volumes
        .expect("volumes")
        .into_iter()
        .find(|v| v.name == "tls")
        .expect("tls volume");
    assert_eq!(
        tls.secret.and_then(|s| s.secret_name).as_deref(),
        Some("demo-tls")
    );
}

#[test]
fn placement_is_passed_through_with_zone_spread() {
    let spec = pod_spec(
        r#"
        placement:
          nodeSelector: {pool: cache}
          tolerations: [{key: dedicated, operator: Equal, value: cache, effect: NoSchedule}]
          priorityClassName: high
          zoneSpread: {maxSkew: 2, whenUnsatisfiable: DoNotSchedule}
        "#,
    );
    assert_eq!(
        spec.node_selector
            .as_ref()
            .and_then(|n| n.get("pool"))
            .map(String::as_str),
        Some("cache")
    );
    assert_eq!(spec.tolerations.as_ref().map(Vec::len), Some(1));
    assert_eq!(spec.priority_class_name.as_deref(), Some("high"));
    let spread = spec.topology_spread_constraints.expect("spread");
    let zone = spread
        .iter()
        .find(|c| c.topology_key == "topology.kubernetes.io/zone")
        .expect("zone spread");
    assert_eq!(zone.max_skew, 2);
    assert_eq!(zone.when_unsatisfiable, "DoNotSchedule");
    let off = pod_spec("placement: {zoneSpread: {enabled: false}}");
    let keys: Vec<_> = off
        .topology_spread_constraints
        .expect("spread")
        .into_iter()
        .map(|c| c.topology_key)
        .collect();
    assert_eq!(keys, ["kubernetes.io/hostname"]);
}

#[test]
fn image_and_config_hash() {
    let t = template(&validated("version: '1.2.0'"), 0, "cafe");
    let ann = t.metadata.and_then(|m| m.annotations).expect("annotations");
    assert_eq!(
        ann.get("kcache.io/config-hash").map(String::as_str),
        Some("cafe")
    );
    let spec = t.spec.expect("spec");
    assert_eq!(node(&spec).image.as_deref(), Some("kcache-node:1.2.0"));
}
