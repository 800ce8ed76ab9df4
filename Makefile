# Two commands on a fresh machine:
#   make invoke   build the function, run it under the Lambda runtime emulator, invoke
#                 it on a sample event (EVENT=path to pick another) and show the result
#   make test     everything CI runs
# Where things go: Python tools from PyPI into .tools/venv, cargo-fuzz into .tools/bin,
# build output into target/ (all git-ignored, inside the project). Only two steps
# install outside it, each announced before it runs: `make sam-build` (part of
# `make test`) adds the aarch64-unknown-linux-gnu target to your Rust toolchain when it
# is missing, and `make fuzz` needs the nightly toolchain (it says how to get it).

# Here: this overview and `help`, what CI runs (`test`), lint, unit and fuzz. The rest,
# by concern, in mk/:
#   tools.mk    the tools venv and the AWS CLI
#   local.mk    the function on this machine: invoke, e2e, readme-commands, events
#   lake.mk     the local lake and the README's queries over it
#   deploy.mk   template checks, the arm64 build, deploy, delete
#   history.mk  export-task history: export-logs, the backfill (local-aws, backfill) and their tests
#   bench.mk    the benchmarks
#   docs.mk     the documentation's links and anchors

SHELL := /bin/bash
FUZZ_SECONDS ?= 60

.PHONY: help test lint unit fuzz

# CI (CI=true, as GitHub Actions and most runners set it) gets a log without colour codes.
ifneq ($(filter true 1 yes,$(CI)),)
export CARGO_TERM_COLOR := never
export NO_COLOR := 1
export ANSI_COLORS_DISABLED := 1
export PY_COLORS := 0
endif

## help: this list
help:
	@grep -hE '^## ' $(MAKEFILE_LIST) | sed 's/^## //'

## test: everything CI runs: lint, unit, e2e, e2e-export, e2e-backfill, readme-commands, docs-check, template-check, test-export, sam-build, lake-test
test: tools lint unit e2e e2e-export e2e-backfill readme-commands docs-check template-check test-export sam-build lake-test

## lint: cargo fmt --check and cargo clippy --all-targets -D warnings
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# The ignored tests need the tools (mk/tools.mk: cargo-lambda, moto): they run here, not in a bare `cargo test`.
## unit: unit, integration, property and output-equality tests, and the runtime-emulator smoke test (cargo nextest, else cargo test)
unit: tools
	@echo "unit: building the function binaries first, as cargo lambda watch runs them (its feature set differs from the tests')"
	cargo build --bins
	@if cargo nextest --version >/dev/null 2>&1; then \
		$(TOOLS_ON_PATH) cargo nextest run --workspace --run-ignored all --no-fail-fast; \
	else \
		echo "cargo-nextest not found: running cargo test"; \
		$(TOOLS_ON_PATH) cargo test --workspace -- --include-ignored; \
	fi

## fuzz: run the fuzz targets (record: one record's decoding; batch: whole requests; export: the export converter's input) for FUZZ_SECONDS each; FUZZ_TARGETS=record picks one (nightly Rust; cargo-fuzz goes into .tools/bin)
fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

include mk/tools.mk
include mk/local.mk
include mk/lake.mk
include mk/deploy.mk
include mk/history.mk
include mk/bench.mk
include mk/cost.mk
include mk/docs.mk
