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

# --- set-up ---
# hack/setup.sh checks what a target needs in well under a second and, on
# Debian/Ubuntu as root, installs what is missing; elsewhere it stops with the
# command to run. It is the first step of test, demo, e2e-local and cluster-up.
.PHONY: setup setup-test setup-build setup-demo setup-cluster setup-e2e-local
setup: ## Check every prerequisite; on Debian/Ubuntu as root install what is missing (hack/setup.sh)
	@hack/setup.sh all
setup-test:
	@hack/setup.sh test
setup-build:
	@hack/setup.sh build
setup-cluster:
	@hack/setup.sh cluster
# kind and Docker, when present, stand in for the local cluster.
setup-demo:
	@if $(HAVE_KIND); then hack/setup.sh build; else hack/setup.sh build cluster; fi
setup-e2e-local:
	@hack/setup.sh build cluster

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
# The differential test's seed in `make test`: fixed, so a run is reproducible
# and CI is not at the mercy of a new seed; `make fuzz-diff` explores with the
# clock as seed (KCACHE_DIFF_SEED=N picks one).
DIFF_SEED ?= 20261126

.PHONY: test
test: setup-test lint ## The test command: set-up, lint, unit and integration tests (real redis clients)
	$(CARGO) build --profile ci -p kcache-node
	KCACHE_NODE_BIN=$(TEST_BIN) KCACHE_DIFF_SEED=$(DIFF_SEED) $(CARGO) test --workspace --profile ci
	KCACHE_NODE_BIN=$(TEST_BIN) python3 -m pytest -q node/tests/py
	$(MAKE) bench-smoke

.PHONY: fuzz-diff
fuzz-diff: ## Long differential run against redis-server (ITER=200000)
	$(CARGO) build --profile ci -p kcache-node
	KCACHE_NODE_BIN=$(TEST_BIN) KCACHE_DIFF_ITER=$${ITER:-200000} \
	  $(CARGO) test --profile ci -p kcache-node --test differential -- --nocapture

.PHONY: bench
bench: ## Side-by-side benchmark of kcache-node and redis-server (redis-benchmark)
	$(CARGO) build --release -p kcache-node
	python3 bench/bench.py --node $(CURDIR)/target/release/kcache-node $(ARGS)

.PHONY: bench-snapshot
bench-snapshot: ## Peak memory of BGSAVE under a write load, 1M keys, against redis-server's fork
	$(CARGO) build --release -p kcache-node
	python3 bench/snapshot.py --node $(CURDIR)/target/release/kcache-node $(ARGS)

.PHONY: bench-smoke
bench-smoke: ## bench.py's tests and a --quick run (seconds; part of make test)
	KCACHE_NODE_BIN=$${KCACHE_NODE_BIN:-$(TEST_BIN)} python3 -m pytest -q bench/test_bench.py bench/test_memory.py bench/test_snapshot.py

# --- local cluster ---
# A real Kubernetes of NODES nodes in as many zones, built from upstream Go modules
# (hack/cluster/README.md). Needs root and Debian's containerd, runc, CNI plugins,
# iptables, conntrack and busybox-static, which `make setup-cluster` installs.
NODES ?= 3
CLUSTER_ENV := TOOLS_DIR=$(TOOLS_DIR) NODES=$(NODES)

.PHONY: cluster-build cluster-up cluster-down cluster-status cluster-smoke
cluster-build: setup-cluster ## Build the local cluster's components from their Go modules (cached in TOOLS_DIR)
	$(CLUSTER_ENV) hack/cluster/build.sh
	$(CLUSTER_ENV) hack/cluster/images.sh

cluster-up: setup-cluster cluster-build ## Start the local cluster of NODES nodes, default 3 (KCACHE_IMAGES="a.tar b.tar" imports more images)
	$(CLUSTER_ENV) hack/cluster/up.sh

cluster-down: ## Stop the local cluster and remove its processes, mounts, interfaces and state
	$(CLUSTER_ENV) hack/cluster/down.sh

cluster-status: ## Show the local cluster's components, memory, nodes and pods
	$(CLUSTER_ENV) hack/cluster/status.sh

cluster-smoke: ## Check nodes and zones, pods and Services across nodes, DNS, PVCs and (once built) a kcache-node PING
	$(CLUSTER_ENV) hack/cluster/smoke.sh

# --- operator ---
# CRD generation, the Helm chart and the images, without a registry.
HELM_VERSION ?= v3.22.0
HELM ?= $(TOOLS_DIR)/helm-$(HELM_VERSION)
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
CRD_FILE := crds/cacheclusters.kcache.io.yaml
CHART := charts/kcache-operator
IMAGE_TAG ?= dev
IMAGES_DIR ?= target/images
# Cargo's output directory: honours CARGO_TARGET_DIR as cargo itself does.
TARGET_DIR = $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
STATIC_TARGET ?= x86_64-unknown-linux-gnu
# Cargo profile of the image binaries: release (fat LTO) for images users run;
# the e2e targets use ci (no LTO), which builds in a fraction of the time.
IMAGE_PROFILE ?= release
# Kubernetes version the chart is linted and rendered for.
KUBE_VERSION ?= 1.34.0

.PHONY: crds
crds: ## Regenerate the CRD (crds/, the chart's copy) and docs/cachecluster.md from the Rust types
	$(CARGO) run -q -p kcache-operator --bin crdgen > $(CRD_FILE).tmp
	mv $(CRD_FILE).tmp $(CRD_FILE)
	cp $(CRD_FILE) $(CHART)/crds/
	$(CARGO) run -q -p kcache-operator --bin crdgen -- docs > docs/cachecluster.md.tmp
	mv docs/cachecluster.md.tmp docs/cachecluster.md

.PHONY: helm
helm: setup-build $(HELM) ## Build helm from its Go module into $(TOOLS_DIR) (cached)

$(HELM):
	mkdir -p $(TOOLS_DIR)
	cd $(TOOLS_DIR) && GOBIN=$(TOOLS_DIR)/.helm-$(HELM_VERSION) CGO_ENABLED=0 \
	  $(GO) install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION)" \
	  helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mv $(TOOLS_DIR)/.helm-$(HELM_VERSION)/helm $@
	rmdir $(TOOLS_DIR)/.helm-$(HELM_VERSION)

.PHONY: chart-lint
chart-lint: $(HELM) ## helm lint and helm template of the chart, both RBAC modes
	cmp $(CRD_FILE) $(CHART)/crds/cacheclusters.kcache.io.yaml || \
	  { echo "the chart's CRD differs from $(CRD_FILE): run make crds"; exit 1; }
	mkdir -p target
	$(HELM) lint --strict --kube-version $(KUBE_VERSION) $(CHART)
	$(HELM) lint --strict --kube-version $(KUBE_VERSION) $(CHART) --set 'watchNamespaces={team-a,team-b}'
	$(HELM) template kcache $(CHART) --kube-version $(KUBE_VERSION) --namespace kcache-system --include-crds > $(CURDIR)/target/chart-all.yaml
	$(HELM) template kcache $(CHART) --kube-version $(KUBE_VERSION) --namespace kcache-system \
	  --set 'watchNamespaces={team-a,team-b}' --set image.tag=1.2.3 > $(CURDIR)/target/chart-ns.yaml
	@for kind in CustomResourceDefinition Deployment ServiceAccount ClusterRole ClusterRoleBinding Role RoleBinding Service; do \
	  grep -q "^kind: $$kind$$" target/chart-all.yaml || { echo "chart: no $$kind rendered"; exit 1; }; done
	@grep -q 'namespace: team-b' target/chart-ns.yaml && ! grep -q '^kind: ClusterRole' target/chart-ns.yaml \
	  || { echo "chart: watchNamespaces must give namespaced Roles only"; exit 1; }
	@grep -q 'image: "kcache-operator:1.2.3"' target/chart-ns.yaml || { echo "chart: image override ignored"; exit 1; }
	@! $(HELM) template kcache $(CHART) --kube-version $(KUBE_VERSION) --set leaderElection.enabled=false >/dev/null 2>&1 \
	  || { echo "chart: 2 replicas without leader election must fail"; exit 1; }
	@echo "chart OK"

.PHONY: test-operator
test-operator: chart-lint ## Operator packaging: chart lint/template and the image archive script
	python3 -m pytest -q scripts/test_oci_archive.py

# `make test` runs the operator's packaging checks too (the CRD and docs drift tests
# run with the workspace's cargo tests).
test: test-operator

.PHONY: images
images: ## Build kcache-node:$(IMAGE_TAG) and kcache-operator:$(IMAGE_TAG) image archives in target/images (no registry)
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --profile $(IMAGE_PROFILE) --target $(STATIC_TARGET) \
	  -p kcache-node -p kcache-operator -p kcache-load --bin kcache-node --bin kcache-operator --bin kcache-load
	python3 scripts/oci_archive.py --name kcache-node:$(IMAGE_TAG) \
	  --file $(TARGET_DIR)/$(STATIC_TARGET)/$(IMAGE_PROFILE)/kcache-node:/kcache-node --entrypoint /kcache-node \
	  --port 6379 --port 9121 --label org.opencontainers.image.title=kcache-node \
	  --out $(IMAGES_DIR)/kcache-node.tar
	python3 scripts/oci_archive.py --name kcache-operator:$(IMAGE_TAG) \
	  --file $(TARGET_DIR)/$(STATIC_TARGET)/$(IMAGE_PROFILE)/kcache-operator:/kcache-operator --entrypoint /kcache-operator \
	  --port 8080 --label org.opencontainers.image.title=kcache-operator \
	  --out $(IMAGES_DIR)/kcache-operator.tar
	python3 scripts/oci_archive.py --name kcache-load:$(IMAGE_TAG) \
	  --file $(TARGET_DIR)/$(STATIC_TARGET)/$(IMAGE_PROFILE)/kcache-load:/kcache-load --entrypoint /kcache-load \
	  --label org.opencontainers.image.title=kcache-load \
	  --out $(IMAGES_DIR)/kcache-load.tar
	@echo "load with: kind load image-archive $(IMAGES_DIR)/kcache-node.tar (and kcache-operator.tar)"
	@echo "       or: ctr -n k8s.io images import $(IMAGES_DIR)/kcache-node.tar"

# --- e2e ---
# The e2e suite (e2e/, hack/e2e/) and the demo. `make e2e` (kind, for users) and
# `make e2e-local` (the local cluster) differ only in how the cluster is made and
# the images are loaded; both then run `e2e-run`, as `demo` runs `hack/e2e/demo.sh`.
E2E_IMAGE_TAG ?= e2e
E2E_IMAGE_PROFILE ?= ci
E2E_THREADS ?= 3
IMAGE_ARCHIVES := $(IMAGES_DIR)/kcache-node.tar $(IMAGES_DIR)/kcache-operator.tar $(IMAGES_DIR)/kcache-load.tar
KIND ?= kind
KIND_CLUSTER ?= kcache
KIND_KUBECONFIG := $(CURDIR)/target/e2e/kind.kubeconfig
LOCAL_KUBECONFIG := /var/lib/kcache-cluster/admin.kubeconfig
LOCAL_KUBECTL = $(TOOLS_DIR)/kubernetes-$(shell sed -n 's/^KUBERNETES_VERSION=//p' hack/cluster/versions.env)/bin/kubectl
# A helm on PATH (users) or the one built here (our machines).
E2E_HELM = $(or $(shell command -v helm 2>/dev/null),$(HELM))
HAVE_KIND = command -v $(KIND) >/dev/null 2>&1 && command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
# Changes with every image build, so that an install under the same tag rolls
# the operator's pods onto the new image.
IMAGE_ID = $$(cat $(IMAGE_ARCHIVES) | sha256sum | cut -c1-12)

.PHONY: e2e e2e-local e2e-run demo e2e-kind-cluster e2e-local-cluster
e2e: ## kind + Docker: a kind cluster in 3 zones, images loaded, chart installed, e2e suite run
	@$(HAVE_KIND) && command -v kubectl >/dev/null || \
	  { echo "make e2e needs docker (running), kind and kubectl; make e2e-local uses the local cluster"; exit 1; }
	$(MAKE) images IMAGE_TAG=$(E2E_IMAGE_TAG) IMAGE_PROFILE=$(E2E_IMAGE_PROFILE)
	$(MAKE) e2e-kind-cluster
	$(MAKE) e2e-run KUBECONFIG=$(KIND_KUBECONFIG) E2E_KUBECTL=kubectl

e2e-local: setup-e2e-local ## The e2e suite on the local cluster: images, cluster-up with them, chart installed, suite run
	$(MAKE) images IMAGE_TAG=$(E2E_IMAGE_TAG) IMAGE_PROFILE=$(E2E_IMAGE_PROFILE)
	$(MAKE) e2e-local-cluster
	$(MAKE) e2e-run KUBECONFIG=$(LOCAL_KUBECONFIG) E2E_KUBECTL=$(LOCAL_KUBECTL)

e2e-run: $(E2E_HELM) ## Install the chart and run the e2e suite against KUBECONFIG, images loaded (ARGS=filter)
	KUBECONFIG=$(KUBECONFIG) HELM=$(E2E_HELM) KUBECTL=$(or $(E2E_KUBECTL),kubectl) CARGO="$(CARGO)" \
	  KCACHE_E2E_OPERATOR_IMAGE=kcache-operator:$(E2E_IMAGE_TAG) KCACHE_E2E_NODE_IMAGE=kcache-node:$(E2E_IMAGE_TAG) \
	  KCACHE_E2E_LOAD_IMAGE=kcache-load:$(E2E_IMAGE_TAG) \
	  KCACHE_E2E_IMAGE_ID=$(IMAGE_ID) hack/e2e/run-suite.sh $(E2E_THREADS) $(ARGS)

demo: setup-demo $(E2E_HELM) ## The README's first command: a cluster (kind if present, else local), the operator, examples/cachecluster.yaml, Ready
	$(MAKE) images
	@if $(HAVE_KIND); then \
	  $(MAKE) e2e-kind-cluster && \
	  KUBECONFIG=$(KIND_KUBECONFIG) HELM=$(E2E_HELM) KUBECTL=kubectl IMAGE_ID=$(IMAGE_ID) hack/e2e/demo.sh; \
	else \
	  echo "no kind and Docker here: using the local cluster (hack/cluster/README.md)"; \
	  $(MAKE) e2e-local-cluster && \
	  KUBECONFIG=$(LOCAL_KUBECONFIG) HELM=$(E2E_HELM) KUBECTL=$(LOCAL_KUBECTL) IMAGE_ID=$(IMAGE_ID) hack/e2e/demo.sh; \
	fi

e2e-kind-cluster:
	KIND=$(KIND) hack/e2e/kind-up.sh $(KIND_CLUSTER) $(KIND_KUBECONFIG) $(IMAGE_ARCHIVES)

e2e-local-cluster:
	KCACHE_IMAGES="$(IMAGE_ARCHIVES)" $(MAKE) cluster-up
