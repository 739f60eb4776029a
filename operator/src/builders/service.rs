//! Services: a headless one per shard (stable pod DNS names) and the three client
//! endpoints, primary, reader and configuration.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{labels, names, owned_meta};
use crate::constants::labels::ROLE_PRIMARY;
use crate::constants::{HTTP_PORT, HTTP_PORT_NAME, RESP_PORT, RESP_PORT_NAME};
use crate::reconcile::validate::Validated;

fn port(name: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        target_port: Some(IntOrString::String(name.into())),
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    }
}

/// `<name>-shard-<i>`: gives pods the names `<pod>.<name>-shard-<i>` that replicas
/// and the topology step dial. Lists pods before they are ready, because a
/// replica must reach its primary to become ready at all.
pub fn headless(v: &Validated, shard: i32) -> Service {
    Service {
        metadata: owned_meta(
            v,
            names::shard(&v.name, shard),
            labels::shard(&v.name, shard),
        ),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            publish_not_ready_addresses: Some(true),
            selector: Some(labels::shard_selector(&v.name, shard)),
            ports: Some(vec![
                port(RESP_PORT_NAME, RESP_PORT),
                port(HTTP_PORT_NAME, HTTP_PORT),
            ]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The client endpoints, of the type and with the annotations the spec asks for:
/// `<name>-primary` (pods labelled primary), `<name>-reader` (replicas) and
/// `<name>` (every pod, for cluster-aware clients).
pub fn endpoints(v: &Validated) -> Vec<Service> {
    [
        (
            names::primary_service(&v.name),
            labels::role_selector(&v.name, ROLE_PRIMARY),
        ),
        (
            names::reader_service(&v.name),
            labels::reader_selector(&v.name),
        ),
        (
            names::configuration_service(&v.name),
            labels::cluster_selector(&v.name),
        ),
    ]
    .into_iter()
    .map(|(name, selector)| endpoint(v, name, selector))
    .collect()
}

fn endpoint(v: &Validated, name: String, selector: labels::Labels) -> Service {
    let mut metadata = owned_meta(v, name, labels::common(&v.name));
    if !v.spec.service.annotations.is_empty() {
        metadata.annotations = Some(v.spec.service.annotations.clone());
    }
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some(v.spec.service.type_.as_str().into()),
            selector: Some(selector),
            ports: Some(vec![port(RESP_PORT_NAME, RESP_PORT)]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::fixtures::validated;
    use crate::constants::labels::{READER, ROLE};

    #[test]
    fn headless_service_publishes_unready_pods_of_its_shard() {
        let s = headless(&validated("shards: 2"), 1);
        assert_eq!(s.metadata.name.as_deref(), Some("demo-shard-1"));
        let spec = s.spec.expect("spec");
        assert_eq!(spec.cluster_ip.as_deref(), Some("None"));
        assert_eq!(spec.publish_not_ready_addresses, Some(true));
        let selector = spec.selector.expect("selector");
        assert_eq!(
            selector.get("kcache.io/shard").map(String::as_str),
            Some("1")
        );
        let ports: Vec<i32> = spec.ports.expect("ports").iter().map(|p| p.port).collect();
        assert_eq!(ports, vec![6379, 9121]);
    }

    #[test]
    fn endpoints_select_by_role() {
        let svcs = endpoints(&validated(""));
        let names: Vec<_> = svcs
            .iter()
            .filter_map(|s| s.metadata.name.clone())
            .collect();
        assert_eq!(names, ["demo-primary", "demo-reader", "demo"]);
        let label = |i: usize, key: &str| {
            svcs[i]
                .spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .and_then(|s| s.get(key))
                .cloned()
        };
        assert_eq!(label(0, ROLE).as_deref(), Some("primary"));
        assert_eq!(label(1, READER).as_deref(), Some("true"));
        assert_eq!(label(1, ROLE), None, "the reader falls back to the primary");
        assert_eq!(
            label(2, ROLE),
            None,
            "configuration endpoint selects every pod"
        );
    }

    #[test]
    fn endpoint_type_and_annotations_come_from_the_spec() {
        let v =
            validated("service: {type: LoadBalancer, annotations: {example.com/internal: 'true'}}");
        for svc in endpoints(&v) {
            assert_eq!(
                svc.spec.as_ref().and_then(|s| s.type_.as_deref()),
                Some("LoadBalancer")
            );
            let ann = svc.metadata.annotations.expect("annotations");
            assert_eq!(
                ann.get("example.com/internal").map(String::as_str),
                Some("true")
            );
        }
        let headless = headless(&v, 0);
        assert_eq!(
            headless.metadata.annotations, None,
            "headless Services stay internal"
        );
    }
}
