//! Pod template of a shard's StatefulSet: the node container, its probes, its
//! security context and where it may be scheduled.

use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    EnvVarSource, HTTPGetAction, Lifecycle, LifecycleHandler, ObjectFieldSelector,
    PodSecurityContext, PodSpec, PodTemplateSpec, Probe, SeccompProfile, SecretKeySelector,
    SecretVolumeSource, SecurityContext, SleepAction, TopologySpreadConstraint, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::labels;
use super::names;
use super::statefulset::DATA_VOLUME;
use crate::constants::*;
use crate::reconcile::validate::{Auth, Validated};

const CONFIG_VOLUME: &str = "config";
const TLS_VOLUME: &str = "tls";
const TMP_VOLUME: &str = "tmp";

pub fn template(v: &Validated, shard: i32, config_hash: &str) -> PodTemplateSpec {
    let placement = &v.spec.placement;
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels::shard(&v.name, shard)),
            annotations: Some(
                [(
                    annotations::CONFIG_HASH.to_string(),
                    config_hash.to_string(),
                )]
                .into(),
            ),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![container(v)],
            // The node never calls the Kubernetes API.
            automount_service_account_token: Some(false),
            // Service links would put an environment variable per Service of the
            // namespace into every pod; the node reads none of them.
            enable_service_links: Some(false),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(NODE_UID),
                run_as_group: Some(NODE_UID),
                fs_group: Some(NODE_UID),
                fs_group_change_policy: Some("OnRootMismatch".into()),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".into(),
                    ..SeccompProfile::default()
                }),
                ..PodSecurityContext::default()
            }),
            termination_grace_period_seconds: Some(TERMINATION_GRACE_SECONDS),
            topology_spread_constraints: Some(spread(v, shard)),
            node_selector: (!placement.node_selector.is_empty())
                .then(|| placement.node_selector.clone()),
            tolerations: (!placement.tolerations.is_empty()).then(|| placement.tolerations.clone()),
            affinity: placement.affinity.clone(),
            priority_class_name: placement.priority_class_name.clone(),
            volumes: Some(volumes(v)),
            ..PodSpec::default()
        }),
    }
}

/// Pods of a shard on different nodes when possible, and across zones as the
/// spec asks; a shard that shares one fault domain fails over to nothing.
fn spread(v: &Validated, shard: i32) -> Vec<TopologySpreadConstraint> {
    let selector = LabelSelector {
        match_labels: Some(labels::shard_selector(&v.name, shard)),
        ..LabelSelector::default()
    };
    let constraint = |key: &str, max_skew: i32, when: &str| TopologySpreadConstraint {
        topology_key: key.into(),
        max_skew,
        when_unsatisfiable: when.into(),
        label_selector: Some(selector.clone()),
        ..TopologySpreadConstraint::default()
    };
    let zone = &v.spec.placement.zone_spread;
    let mut out = vec![constraint("kubernetes.io/hostname", 1, "ScheduleAnyway")];
    if zone.enabled {
        out.push(constraint(
            "topology.kubernetes.io/zone",
            zone.max_skew,
            zone.when_unsatisfiable.as_str(),
        ));
    }
    out
}

/// Command-line arguments: the config file, then what the operator owns. Flags
/// win over the file, so a hand edit of the ConfigMap cannot rewire a pod.
pub fn args(v: &Validated) -> Vec<String> {
    let mut args = vec![format!("{CONFIG_DIR}/{CONFIG_KEY}")];
    let mut flag = |name: &str, value: String| {
        args.push(format!("--{name}"));
        args.push(value);
    };
    flag("bind", "0.0.0.0".into());
    flag("http-port", HTTP_PORT.to_string());
    flag("dir", DATA_DIR.into());
    // Roles come from the operator only: the node starts unconfirmed (not
    // ready, out of every Service) until told its role with an epoch.
    flag("managed-topology", "yes".into());
    flag(
        "cluster-enabled",
        if v.cluster_mode() { "yes" } else { "no" }.into(),
    );
    match &v.spec.tls {
        None => flag("port", RESP_PORT.to_string()),
        Some(tls) => {
            // As redis-server: plain port off, TLS on the RESP port, so that
            // Services and clients keep one port number.
            flag("port", "0".into());
            flag("tls-port", RESP_PORT.to_string());
            flag("tls-cert-file", format!("{TLS_DIR}/tls.crt"));
            flag("tls-key-file", format!("{TLS_DIR}/tls.key"));
            flag("tls-replication", "yes".into());
            if tls.client_auth {
                flag("tls-ca-cert-file", format!("{TLS_DIR}/ca.crt"));
            }
            flag(
                "tls-auth-clients",
                if tls.client_auth { "yes" } else { "no" }.into(),
            );
        }
    }
    args
}

fn container(v: &Validated) -> Container {
    let http_get = |path: &str| {
        Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(HTTP_PORT_NAME.into()),
            ..HTTPGetAction::default()
        })
    };
    // Loading a snapshot or replaying a log can take minutes; a memory-only node
    // starts in a second.
    let startup_failures = if v.persistent() { 300 } else { 30 };
    Container {
        name: NODE_CONTAINER.into(),
        image: Some(v.image.clone()),
        image_pull_policy: v.spec.image_pull_policy.map(|p| p.as_str().into()),
        args: Some(args(v)),
        ports: Some(vec![
            container_port(RESP_PORT_NAME, RESP_PORT),
            container_port(HTTP_PORT_NAME, HTTP_PORT),
        ]),
        env: Some(env(v)),
        resources: v.spec.resources.clone(),
        startup_probe: Some(Probe {
            http_get: http_get("/healthz"),
            period_seconds: Some(2),
            failure_threshold: Some(startup_failures),
            ..Probe::default()
        }),
        liveness_probe: Some(Probe {
            http_get: http_get("/healthz"),
            period_seconds: Some(10),
            timeout_seconds: Some(3),
            failure_threshold: Some(3),
            ..Probe::default()
        }),
        readiness_probe: Some(Probe {
            http_get: http_get("/readyz"),
            period_seconds: Some(5),
            timeout_seconds: Some(2),
            failure_threshold: Some(2),
            ..Probe::default()
        }),
        // Keeps a terminating pod serving while the operator, which watches pods,
        // hands a primary's role to a replica before SIGTERM.
        lifecycle: Some(Lifecycle {
            pre_stop: Some(LifecycleHandler {
                sleep: Some(SleepAction {
                    seconds: PRESTOP_SLEEP_SECONDS,
                }),
                ..LifecycleHandler::default()
            }),
            ..Lifecycle::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            privileged: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(mounts(v)),
        ..Container::default()
    }
}

fn container_port(name: &str, port: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: port,
        protocol: Some("TCP".into()),
        ..ContainerPort::default()
    }
}

fn env(v: &Validated) -> Vec<EnvVar> {
    let field = |name: &str, path: &str| EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    };
    let mut env = vec![
        field("POD_NAME", "metadata.name"),
        field("POD_NAMESPACE", "metadata.namespace"),
        field("POD_IP", "status.podIP"),
    ];
    if let Auth::Secret { name, key, .. } = &v.auth {
        // The same password authenticates clients and a replica to its primary.
        for var in [ENV_REQUIREPASS, ENV_MASTERAUTH] {
            env.push(EnvVar {
                name: var.into(),
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: name.clone(),
                        key: key.clone(),
                        optional: Some(false),
                    }),
                    ..EnvVarSource::default()
                }),
                ..EnvVar::default()
            });
        }
    }
    env
}

fn mounts(v: &Validated) -> Vec<VolumeMount> {
    let mount = |name: &str, path: &str, read_only: bool| VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(read_only),
        ..VolumeMount::default()
    };
    let mut mounts = vec![
        mount(CONFIG_VOLUME, CONFIG_DIR, true),
        mount(DATA_VOLUME, DATA_DIR, false),
        mount(TMP_VOLUME, TMP_DIR, false),
    ];
    if v.spec.tls.is_some() {
        mounts.push(mount(TLS_VOLUME, TLS_DIR, true));
    }
    mounts
}

fn volumes(v: &Validated) -> Vec<Volume> {
    let empty_dir = |name: &str| Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    };
    let mut volumes = vec![
        Volume {
            name: CONFIG_VOLUME.into(),
            config_map: Some(ConfigMapVolumeSource {
                name: names::configmap(&v.name),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
        empty_dir(TMP_VOLUME),
    ];
    // With persistence the data volume is the StatefulSet's claim template.
    if !v.persistent() {
        volumes.push(empty_dir(DATA_VOLUME));
    }
    if let Some(tls) = &v.spec.tls {
        volumes.push(Volume {
            name: TLS_VOLUME.into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(tls.secret_name.clone()),
                // Readable by the node's group only (fsGroup).
                default_mode: Some(0o440),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    volumes
}

#[cfg(test)]
#[path = "pod_tests.rs"]
mod tests;
