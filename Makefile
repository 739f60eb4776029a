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

.PHONY: test
test: lint ## The test command: lint, unit and integration tests (real redis clients)
	$(CARGO) build --release -p kcache-node
	KCACHE_NODE_BIN=$(CURDIR)/target/release/kcache-node $(CARGO) test --workspace --release
	KCACHE_NODE_BIN=$(CURDIR)/target/release/kcache-node python3 -m pytest -q node/tests/py
	$(MAKE) bench-smoke

.PHONY: fuzz-diff
fuzz-diff: ## Long differential run against redis-server (ITER=200000)
	$(CARGO) build --release -p kcache-node
	KCACHE_NODE_BIN=$(CURDIR)/target/release/kcache-node KCACHE_DIFF_ITER=$${ITER:-200000} \
	  $(CARGO) test --release -p kcache-node --test differential -- --nocapture

.PHONY: bench
bench: ## Side-by-side benchmark of kcache-node and redis-server (redis-benchmark)
	$(CARGO) build --release -p kcache-node
	python3 bench/bench.py --node $(CURDIR)/target/release/kcache-node $(ARGS)

.PHONY: bench-smoke
bench-smoke: ## bench.py's tests and a --quick run (seconds; part of make test)
	KCACHE_NODE_BIN=$${KCACHE_NODE_BIN:-$(CURDIR)/target/release/kcache-node} \
	  python3 -m pytest -q bench/test_bench.py
