# Targets for template.yaml, included by the top-level Makefile (`include mk/template.mk`).
# The top-level Makefile provides `tools`, which creates the venv in $(TOOLS_BIN) with
# sam, cfn-lint, checkov, cargo-lambda, moto_server and ziglang.

TOOLS_BIN ?= .tools/venv/bin
TEMPLATE ?= template.yaml
STACK_NAME ?= firehose-logs-processor
# Offline validation still wants a region; nothing is sent to AWS.
TEMPLATE_CHECK_REGION ?= us-east-1
LAMBDA_RUST_TARGET := aarch64-unknown-linux-gnu
# Where the PyPI `ziglang` package keeps its zig binary; cargo-lambda cross-links with it.
ZIG_DIR = $(shell $(TOOLS_BIN)/python -c 'import os, ziglang; print(os.path.dirname(ziglang.__file__))' 2>/dev/null)
SAM_PATH = $(abspath $(TOOLS_BIN)):$(ZIG_DIR):$(PATH)

.PHONY: template-check sam-build deploy export-logs test-export awscli

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

## awscli: the AWS CLI in .tools/venv (installed with the tools; export-logs uses it)
awscli: $(TOOLS_BIN)/aws
$(TOOLS_BIN)/aws: | tools
	$(TOOLS_BIN)/pip install --quiet awscli

# FROM/TO: ISO 8601 (2026-11-01, 2026-11-01T06:00:00Z; no zone = UTC) or epoch milliseconds.
EXPORT_TO_MS = $(TOOLS_BIN)/python -c 'import sys, datetime as d; v = sys.argv[1].strip(); \
t = None if v.isdigit() else d.datetime.fromisoformat(v); \
print(v if t is None else int((t if t.tzinfo else t.replace(tzinfo=d.timezone.utc)).timestamp() * 1000))'
EXPORT_PREFIX ?= exports
# The export prefix convention (src/export/key.rs): exports/<account id>/<encoded log
# group>, where the encoding keeps A-Z a-z 0-9 . _ -, turns / into !, and writes every
# other byte of the UTF-8 name as * and two uppercase hex digits.
EXPORT_ENCODE_GROUP = $(TOOLS_BIN)/python -c 'import sys; \
keep = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"); \
print("".join(chr(b) if b in keep else "!" if b == 0x2F else "*%02X" % b for b in sys.argv[1].encode()))'

## export-logs: LOG_GROUP=... FROM=... TO=... [BUCKET=...|STACK_NAME=...] [ACCOUNT=...] history into s3://BUCKET/exports/ACCOUNT/<log group>/
export-logs: awscli
	@if [ -z "$(LOG_GROUP)" ] || [ -z "$(FROM)" ] || [ -z "$(TO)" ]; then \
		echo "usage: make export-logs LOG_GROUP=/aws/lambda/app FROM=2026-11-01 TO=2026-11-02 [BUCKET=name | STACK_NAME=$(STACK_NAME)] [ACCOUNT=123456789012]"; \
		exit 2; \
	fi; \
	from_ms=$$($(EXPORT_TO_MS) '$(FROM)') || { echo "FROM is not an ISO date or epoch ms: $(FROM)"; exit 2; }; \
	to_ms=$$($(EXPORT_TO_MS) '$(TO)') || { echo "TO is not an ISO date or epoch ms: $(TO)"; exit 2; }; \
	if [ "$$from_ms" -ge "$$to_ms" ]; then echo "FROM must be before TO"; exit 2; fi; \
	account='$(ACCOUNT)'; \
	if [ -z "$$account" ]; then \
		account=$$($(TOOLS_BIN)/aws sts get-caller-identity --query Account --output text) || exit 1; \
	fi; \
	if ! printf '%s' "$$account" | grep -Eq '^[0-9]{12}$$'; then echo "ACCOUNT is not a 12-digit account id: $$account"; exit 2; fi; \
	bucket='$(BUCKET)'; \
	if [ -z "$$bucket" ]; then \
		bucket=$$($(TOOLS_BIN)/aws cloudformation describe-stacks --stack-name '$(STACK_NAME)' \
			--query "Stacks[0].Outputs[?OutputKey=='BucketName'].OutputValue" --output text) || exit 1; \
	fi; \
	if [ -z "$$bucket" ] || [ "$$bucket" = "None" ]; then echo "no bucket: pass BUCKET=... or deploy stack $(STACK_NAME)"; exit 1; fi; \
	prefix="$(EXPORT_PREFIX)/$$account/$$($(EXPORT_ENCODE_GROUP) '$(LOG_GROUP)')"; \
	echo "exporting $(LOG_GROUP) [$$from_ms, $$to_ms) to s3://$$bucket/$$prefix/"; \
	$(TOOLS_BIN)/aws logs create-export-task \
		--task-name "export-$$(date -u +%Y%m%dT%H%M%SZ)" \
		--log-group-name '$(LOG_GROUP)' \
		--from "$$from_ms" --to "$$to_ms" \
		--destination "$$bucket" --destination-prefix "$$prefix" \
		--query taskId --output text

## test-export: run export-logs against a local moto server (no AWS account needed)
test-export: awscli
	TOOLS_BIN=$(abspath $(TOOLS_BIN)) MAKE="$(MAKE)" bash scripts/test-export.sh
