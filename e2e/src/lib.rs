//! End-to-end tests of kcache against the Kubernetes cluster in `KUBECONFIG`.
//!
//! The scenarios live in `tests/e2e/` and are `#[ignore]`d, so that `cargo test`
//! unit runs skip them; `make e2e-local` (our machines) and `make e2e` (kind) run
//! them with `--ignored`. This library holds what scenarios share:
//!
//! - `settings`: images, chart and tools, from the environment the Makefile sets;
//! - `operator`: the chart install, once per run;
//! - `scenario`: a namespace per test, and a dump of what happened when it fails;
//! - `wait`: waits on watched conditions with deadlines (no sleeps);
//! - `resp` and `node`: a RESP client over the API server's port-forward;
//! - `writer`: a writer that records every acknowledged write, for failover tests;
//! - `disruption`: evictions and pod kills;
//! - `manifests`: YAML documents from files and Markdown, applied or dry-run.

pub mod disruption;
pub mod load;
pub mod manifests;
pub mod node;
pub mod operator;
pub mod resp;
pub mod scenario;
pub mod settings;
pub mod wait;
pub mod writer;

pub use scenario::Scenario;
