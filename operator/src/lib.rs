//! kcache-operator: reconciles `CacheCluster` resources into StatefulSets, Services,
//! PodDisruptionBudgets, a ConfigMap and a Secret, and reports their status.

pub mod builders;
pub mod constants;
pub mod crd;
pub mod error;
pub mod metrics;
pub mod parameters;
pub mod quantity;
pub mod reconcile;
