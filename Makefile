# Two commands on a fresh machine:
#   make invoke   build the function, run it under the Lambda runtime emulator, invoke
#                 it on a sample event (EVENT=path to pick another) and show the result
#   make test     everything CI runs
# Tools come from PyPI into .tools/venv (git-ignored); nothing is installed globally.

SHELL := /bin/bash
TOOLS_BIN := .tools/venv/bin
EVENT ?= events/mixed.json
FUZZ_SECONDS ?= 60

.PHONY: help tools invoke test lint unit smoke fuzz events

help:
	@grep -hE '^## ' $(MAKEFILE_LIST) | sed 's/^## //'

## tools: install cargo-lambda, SAM CLI, cfn-lint, checkov, moto and the AWS CLI into .tools/venv
tools: .tools/venv/.installed
.tools/venv/.installed: requirements-tools.txt
	python3 -m venv .tools/venv
	$(TOOLS_BIN)/pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	touch $@

## invoke: run the function locally on EVENT (default events/mixed.json) and show what would land in S3
invoke: tools
	PATH="$(abspath $(TOOLS_BIN)):$$PATH" scripts/invoke.sh $(EVENT)

## test: fmt, clippy, unit/integration/property tests, runtime-emulator smoke test, template checks
test: tools lint unit e2e template-check test-export sam-build lake-test

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# The ignored tests need the tools above (cargo-lambda, moto): they run here, not in a bare `cargo test`.
unit: tools
	@if cargo nextest --version >/dev/null 2>&1; then \
		PATH="$(abspath $(TOOLS_BIN)):$$PATH" cargo nextest run --workspace --run-ignored all --no-fail-fast; \
	else \
		echo "cargo-nextest not found: running cargo test"; \
		PATH="$(abspath $(TOOLS_BIN)):$$PATH" cargo test --workspace -- --include-ignored; \
	fi

## e2e: re-ingestion and subscription payloads end to end: cargo lambda watch/invoke against a moto server
e2e: tools
	PATH="$(abspath $(TOOLS_BIN)):$$PATH" $(TOOLS_BIN)/python tests/e2e/test_moto.py

## events: regenerate events/*.json from the readable sources in events/src/
events:
	cargo run --quiet -p testkit -- events events

## fuzz: run the record-decoder fuzz target for FUZZ_SECONDS (nightly toolchain + cargo-fuzz)
fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)

include mk/template.mk
include mk/bench.mk
include mk/lake.mk
