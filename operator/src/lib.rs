//! kcache-operator: reconciles `CacheCluster` resources into StatefulSets, Services,
//! PodDisruptionBudgets, a ConfigMap and a Secret, and reports their status.
//!
//! Map: `crd` (the resource), `reconcile` (the pipeline), `builders` (one per
//! kind, pure), `parameters` (the parameter group), `constants` (ports, labels,
//! names), `controller` + `leader` + `http` + `config` (the process around it).

pub mod builders;
pub mod config;
pub mod constants;
pub mod controller;
pub mod crd;
pub mod error;
pub mod http;
pub mod leader;
pub mod maintenance;
pub mod metrics;
pub mod parameters;
pub mod quantity;
pub mod reconcile;
pub mod resp;
pub mod topology;
