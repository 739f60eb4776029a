//! The `CacheCluster` custom resource (`kcache.io/v1alpha1`).

pub mod docs;
mod sections;
mod spec;
mod status;

pub use sections::*;
pub use spec::*;
pub use status::*;

use kube::CustomResourceExt;

/// The CRD as YAML, as `crdgen` prints it and `crds/` holds it. Written with
/// YAML 1.1-safe quoting: kubectl reads YAML 1.1, where a bare `yes` is a boolean.
pub fn crd_yaml() -> Result<String, serde_saphyr::ser::Error> {
    serde_saphyr::to_string(&CacheCluster::crd())
}
