# The pipeline on AWS: template.yaml and sender.yaml checked offline, the arm64
# functions built by sam with cargo-lambda and zig, the guided deploy, and the
# deletion.

TEMPLATE ?= template.yaml
STACK_NAME ?= firehose-logs-processor
# Offline validation still wants a region; nothing is sent to AWS.
TEMPLATE_CHECK_REGION ?= us-east-1
LAMBDA_RUST_TARGET := aarch64-unknown-linux-gnu
# Where the PyPI `ziglang` package keeps its zig binary; cargo-lambda cross-links with it.
ZIG_DIR = $(shell $(TOOLS_BIN)/python -c 'import os, ziglang; print(os.path.dirname(ziglang.__file__))' 2>/dev/null)
SAM_PATH = $(abspath $(TOOLS_BIN)):$(ZIG_DIR):$(PATH)

.PHONY: template-check sam-build deploy delete

# Every template the project ships: the pipeline, and the sender accounts' template.
CHECK_TEMPLATES ?= $(TEMPLATE) sender.yaml

## template-check: sam validate --lint, cfn-lint (no errors, no warnings), checkov (no failed checks), for template.yaml and sender.yaml
template-check: tools
	@set -e; for t in $(CHECK_TEMPLATES); do \
		echo "== $$t"; \
		AWS_DEFAULT_REGION=$(TEMPLATE_CHECK_REGION) SAM_CLI_TELEMETRY=0 \
			$(TOOLS_BIN)/sam validate --lint --template $$t; \
		AWS_DEFAULT_REGION=$(TEMPLATE_CHECK_REGION) \
			$(TOOLS_BIN)/cfn-lint --non-zero-exit-code warning -- $$t; \
		$(TOOLS_BIN)/checkov -f $$t --framework cloudformation --skip-download --compact --quiet; \
	done
	@echo "template-check: OK ($(CHECK_TEMPLATES))"

# Exit status 3 from the target probe means "cannot build here"; sam-build reports it as
# SKIPPED so an offline test run stays green, deploy treats it as a failure.
define probe_rust_target
	if rustc --print sysroot >/dev/null 2>&1 && \
	   test -d "$$(rustc --print sysroot)/lib/rustlib/$(LAMBDA_RUST_TARGET)"; then \
		exit 0; \
	fi; \
	echo "sam-build: Rust target $(LAMBDA_RUST_TARGET) is missing; installing it outside this project, into your Rust toolchain ($$(rustc --print sysroot)/lib/rustlib/): rustup target add $(LAMBDA_RUST_TARGET)"; \
	if command -v rustup >/dev/null 2>&1 && timeout 120 rustup target add $(LAMBDA_RUST_TARGET); then \
		exit 0; \
	fi; \
	echo "The Rust standard library for $(LAMBDA_RUST_TARGET) (arm64 Lambda) is missing and could not be downloaded."; \
	echo "Install it where the network allows: rustup target add $(LAMBDA_RUST_TARGET)"; \
	exit 3
endef

## sam-build: build the arm64 function with cargo-lambda + zig (SKIPPED when the arm64 Rust target cannot be had)
sam-build: tools
	@status=0; ( $(probe_rust_target) ) || status=$$?; \
	if [ $$status -eq 3 ]; then echo "SKIPPED: sam-build (Rust target $(LAMBDA_RUST_TARGET) unavailable)"; exit 0; fi; \
	if [ $$status -ne 0 ]; then exit $$status; fi; \
	if [ -z "$(ZIG_DIR)" ]; then echo "zig not found: the ziglang package is missing from $(TOOLS_BIN)"; exit 1; fi; \
	echo "PATH += $(abspath $(TOOLS_BIN)):$(ZIG_DIR)"; \
	PATH="$(SAM_PATH)" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-$(TEMPLATE_CHECK_REGION)} \
		$(TOOLS_BIN)/sam build --template $(TEMPLATE) --beta-features

## deploy: sam build, then sam deploy --guided (asks for every parameter; needs AWS credentials)
deploy: tools
	@( $(probe_rust_target) ) || { echo "deploy: cannot build the arm64 function here"; exit 1; }
	PATH="$(SAM_PATH)" SAM_CLI_TELEMETRY=0 $(TOOLS_BIN)/sam build --template $(TEMPLATE) --beta-features
	PATH="$(SAM_PATH)" SAM_CLI_TELEMETRY=0 $(TOOLS_BIN)/sam deploy --guided --stack-name $(STACK_NAME)

# Deleting has no default stack: STACK_NAME must come from the command line or the
# environment, never from the default above that deploy uses. Checked while the
# Makefile is read, so that the refusal is one line and nothing installs first.
ifneq ($(filter delete,$(MAKECMDGOALS)),)
ifeq ($(and $(filter command line environment environment override,$(origin STACK_NAME)),$(strip $(STACK_NAME))),)
$(error usage: make delete STACK_NAME=<stack to delete> [YES=1 to skip sam's confirmation])
endif
endif

## delete: STACK_NAME=... (no default) [YES=1]: print what the stack keeps (bucket, key, backfill progress) and the commands that remove it, then sam delete (docs/teardown.md)
delete: tools
	@SAM_CLI_TELEMETRY=0 $(TOOLS_BIN)/python scripts/teardown.py --stack-name '$(STACK_NAME)' \
		--template $(TEMPLATE) --sam $(TOOLS_BIN)/sam $(if $(filter-out 0,$(YES)),--yes,)
