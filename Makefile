# Two commands on a fresh machine:
#   make invoke   build the function, run it under the Lambda runtime emulator, invoke
#                 it on a sample event (EVENT=path to pick another) and show the result
#   make test     everything CI runs
# Where things go: Python tools from PyPI into .tools/venv, cargo-fuzz into .tools/bin,
# build output into target/ (all git-ignored, inside the project). Only two steps
# install outside it, each announced before it runs: `make sam-build` (part of
# `make test`) adds the aarch64-unknown-linux-gnu target to your Rust toolchain when it
# is missing, and `make fuzz` needs the nightly toolchain (it says how to get it).

SHELL := /bin/bash
TOOLS_BIN := .tools/venv/bin
EVENT ?= events/mixed.json
FUZZ_SECONDS ?= 60

.PHONY: help tools invoke test lint unit e2e readme-commands fuzz events

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

## tools: install cargo-lambda, SAM CLI, cfn-lint, checkov, moto and the AWS CLI into .tools/venv (first time: about 3 minutes)
tools: .tools/venv/.installed
.tools/venv/.installed: requirements-tools.txt
	@echo "tools: installing the pinned tools of requirements-tools.txt from PyPI into .tools/venv"
	@echo "       (project folder, git-ignored; about 3 minutes and 600 MB the first time)"
	python3 -m venv .tools/venv
	$(TOOLS_BIN)/pip install --disable-pip-version-check --progress-bar off -r requirements-tools.txt \
		| grep --line-buffered -E '^(Collecting|Successfully installed)' | cut -c1-100; \
		exit $${PIPESTATUS[0]}
	touch $@

## invoke: run the function locally on EVENT (default events/mixed.json) and show what would land in S3 (SUMMARY=1 for totals only)
invoke: tools
	@PATH="$(abspath $(TOOLS_BIN)):$$PATH" scripts/invoke.sh $(EVENT)

## test: everything CI runs: lint, unit, e2e, e2e-export, readme-commands, template-check, test-export, sam-build, lake-test
test: tools lint unit e2e e2e-export readme-commands template-check test-export sam-build lake-test

## lint: cargo fmt --check and cargo clippy --all-targets -D warnings
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# The ignored tests need the tools above (cargo-lambda, moto): they run here, not in a bare `cargo test`.
## unit: unit, integration, property and output-equality tests, and the runtime-emulator smoke test (cargo nextest, else cargo test)
unit: tools
	@echo "unit: building the function binaries first, as cargo lambda watch runs them (its feature set differs from the tests')"
	cargo build --bins
	@if cargo nextest --version >/dev/null 2>&1; then \
		PATH="$(abspath $(TOOLS_BIN)):$$PATH" cargo nextest run --workspace --run-ignored all --no-fail-fast; \
	else \
		echo "cargo-nextest not found: running cargo test"; \
		PATH="$(abspath $(TOOLS_BIN)):$$PATH" cargo test --workspace -- --include-ignored; \
	fi

## e2e: re-ingestion, subscription payloads and fail-fast on permanent errors end to end: cargo lambda watch/invoke against moto servers
e2e: tools
	PATH="$(abspath $(TOOLS_BIN)):$$PATH" $(TOOLS_BIN)/python tests/e2e/test_moto.py

## readme-commands: run the README's local-use commands as written (cargo lambda watch, then the invokes; port 9000)
readme-commands: tools
	$(TOOLS_BIN)/python tests/e2e/test_readme.py

## events: regenerate events/*.json from the readable sources in events/src/
events:
	cargo run --quiet -p testkit -- events events

## fuzz: run the fuzz targets (record: one record's decoding; batch: whole requests; export: the export converter's input) for FUZZ_SECONDS each; FUZZ_TARGETS=record picks one (nightly Rust; cargo-fuzz goes into .tools/bin)
fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

include mk/template.mk
include mk/export.mk
include mk/bench.mk
include mk/lake.mk
