# kcache: `make help` lists every target.
SHELL := /bin/bash
CARGO ?= cargo
# Tools built here (helm, kubernetes components) live outside git.
TOOLS_DIR ?= $(HOME)/.cache/kcache/tools

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets with a line on each
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | sort | \
	  awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

.PHONY: build
build: ## Build every crate in release mode
	$(CARGO) build --release --workspace

.PHONY: run
run: ## Run a kcache node on 127.0.0.1:6379 (ARGS="--port 7000" to change)
	$(CARGO) run --release -p kcache-node -- $(ARGS)

.PHONY: fmt
fmt: ## Format all Rust code
	$(CARGO) fmt --all

.PHONY: lint
lint: ## cargo fmt --check and clippy -D warnings
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Tests build with the `ci` profile (optimised, no LTO); see Cargo.toml.
TEST_BIN := $(CURDIR)/target/ci/kcache-node

.PHONY: test
test: lint ## The test command: lint, unit and integration tests (real redis clients)
	$(CARGO) build --profile ci -p kcache-node
	KCACHE_NODE_BIN=$(TEST_BIN) $(CARGO) test --workspace --profile ci
	KCACHE_NODE_BIN=$(TEST_BIN) python3 -m pytest -q node/tests/py

.PHONY: fuzz-diff
fuzz-diff: ## Long differential run against redis-server (ITER=200000)
	$(CARGO) build --profile ci -p kcache-node
	KCACHE_NODE_BIN=$(TEST_BIN) KCACHE_DIFF_ITER=$${ITER:-200000} \
	  $(CARGO) test --profile ci -p kcache-node --test differential -- --nocapture

.PHONY: bench
bench: ## Side-by-side benchmark of kcache-node and redis-server (redis-benchmark)
	$(CARGO) build --release -p kcache-node
	python3 bench/bench.py --node $(CURDIR)/target/release/kcache-node

# --- local cluster ---
# A real single-node Kubernetes built from upstream Go modules (hack/cluster/README.md).
# Needs root and: apt-get install containerd runc containernetworking-plugins iptables conntrack busybox-static
CLUSTER_ENV := TOOLS_DIR=$(TOOLS_DIR)

.PHONY: cluster-build cluster-up cluster-down cluster-status cluster-smoke
cluster-build: ## Build the local cluster's components from their Go modules (cached in TOOLS_DIR)
	$(CLUSTER_ENV) hack/cluster/build.sh
	$(CLUSTER_ENV) hack/cluster/images.sh

cluster-up: cluster-build ## Start the local cluster (KCACHE_IMAGES="a.tar b.tar" imports more images)
	$(CLUSTER_ENV) hack/cluster/up.sh

cluster-down: ## Stop the local cluster and remove its processes, mounts, interfaces and state
	$(CLUSTER_ENV) hack/cluster/down.sh

cluster-status: ## Show the local cluster's components, memory, node and pods
	$(CLUSTER_ENV) hack/cluster/status.sh

cluster-smoke: ## Check pods, Services, DNS, PVCs and (once built) a kcache-node pod answering PING
	$(CLUSTER_ENV) hack/cluster/smoke.sh
