//! Test fixtures: CacheClusters from small YAML spec fragments, passed through the
//! real `validate` so that builder tests see what the reconciler would build.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::ObjectMeta;

use crate::crd::{CacheCluster, CacheClusterSpec};
use crate::reconcile::dereference::Referenced;
use crate::reconcile::validate::{validate, Validated};

pub const NAME: &str = "demo";
pub const NAMESPACE: &str = "shop";
pub const IMAGE: &str = "kcache-node:dev";
pub const PASSWORD: &str = "fixture-password";

/// A CacheCluster `shop/demo` with the given spec (YAML, defaults applied by serde
/// as the API server's schema defaults would).
pub fn cluster(spec_yaml: &str) -> CacheCluster {
    let spec: CacheClusterSpec = serde_yaml::from_str(if spec_yaml.trim().is_empty() {
        "{}"
    } else {
        spec_yaml
    })
    .expect("fixture spec parses");
    let mut cc = CacheCluster::new(NAME, spec);
    cc.metadata = ObjectMeta {
        name: Some(NAME.into()),
        namespace: Some(NAMESPACE.into()),
        uid: Some("0b7c-uid".into()),
        generation: Some(1),
        ..ObjectMeta::default()
    };
    cc
}

/// References as dereference finds them for a fresh cluster: no generated Secret
/// yet (so a fresh password), plus whatever Secrets the test passes.
pub fn refs(secrets: Vec<Secret>) -> Referenced {
    let spec_free = Referenced {
        fresh_password: Some(PASSWORD.into()),
        ..Referenced::default()
    };
    secrets.into_iter().fold(spec_free, |mut r, s| {
        if s.metadata
            .name
            .as_deref()
            .is_some_and(|n| n.contains("tls"))
        {
            r.tls_secret = Some(s);
        } else {
            r.auth_secret = Some(s);
        }
        r
    })
}

/// A Secret `name` with the given keys.
pub fn secret(name: &str, keys: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NAMESPACE.into()),
            ..ObjectMeta::default()
        },
        data: Some(
            keys.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Secret::default()
    }
}

/// A validated cluster from a spec fragment; panics (test only) when invalid.
pub fn validated(spec_yaml: &str) -> Validated {
    validated_with(spec_yaml, vec![])
}

pub fn validated_with(spec_yaml: &str, secrets: Vec<Secret>) -> Validated {
    validate(&cluster(spec_yaml), &refs(secrets), IMAGE).expect("fixture is valid")
}
