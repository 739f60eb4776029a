//! The e2e scenarios, against the cluster in `KUBECONFIG`.
//!
//! Every scenario is `#[ignore]`d so that `cargo test` unit runs skip it; run them
//! with `make e2e-local` (the local cluster), `make e2e` (kind), or by hand:
//! `cargo test --workspace --test e2e -- --ignored` once the images are loaded.
//! Each runs in its own namespace (see `kcache_e2e::Scenario`) and shares one
//! install of the chart.

mod chart;
mod examples;
mod lifecycle;
mod placement;
mod serial;
mod sharding;
mod topology;
mod validation;
