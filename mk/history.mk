# History: a log group's past events exported with a CloudWatch Logs export task into
# the bucket's exports/ folder, which the export converter turns into the live layout;
# and the tests of both, against moto.

.PHONY: export-logs test-export e2e-export

# FROM/TO: ISO 8601 (2026-11-01, 2026-11-01T06:00:00Z; no zone = UTC) or epoch milliseconds.
EXPORT_TO_MS = $(TOOLS_BIN)/python -c 'import sys, datetime as d; v = sys.argv[1].strip(); \
t = None if v.isdigit() else d.datetime.fromisoformat(v); \
print(v if t is None else int((t if t.tzinfo else t.replace(tzinfo=d.timezone.utc)).timestamp() * 1000))'
EXPORT_PREFIX ?= exports
# The destination prefix, EXPORT_PREFIX/<account id>/<encoded log group>, as the export
# converter itself spells and reads it back (src/export/key.rs); the first run builds
# the converter.
EXPORT_DESTINATION_PREFIX = cargo run --quiet --bin export-converter -- prefix
# BUCKET defaults to the BucketName output of stack STACK_NAME (mk/deploy.mk).

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
	prefix=$$($(EXPORT_DESTINATION_PREFIX) "$$account" '$(LOG_GROUP)' '$(EXPORT_PREFIX)') || exit $$?; \
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

## e2e-export: history end to end: make export-logs into a moto server, the export converter under cargo lambda watch on every object (both trigger shapes), every event exactly once, twice
e2e-export: tools
	$(TOOLS_ON_PATH) $(TOOLS_BIN)/python tests/e2e/test_export.py

# ---------------------------------------------------------------- the backfill (setup 4)
.PHONY: local-aws backfill e2e-backfill

PORT ?= 5000
# SINCE/UNTIL as FROM/TO above; UNTIL defaults to now less the 12-hour export delay.
# BACKFILL_PARAMS: template parameters for a local state machine, NAME=VALUE separated by
# spaces (SubscriptionScope=whole-account ExcludedLogGroupNames=/a,/b).
BACKFILL_ARGS = $(if $(BUCKET),--bucket '$(BUCKET)') $(if $(SINCE),--since '$(SINCE)') \
	$(if $(UNTIL),--until '$(UNTIL)') $(if $(PREFIX),--prefix '$(PREFIX)') \
	$(if $(POLL_SECONDS),--poll-seconds '$(POLL_SECONDS)') --stack-name '$(STACK_NAME)' \
	$(foreach p,$(BACKFILL_PARAMS),--param '$(p)')

## local-aws: [PORT=5000] moto in the foreground with its Step Functions executor on and the backfill's shims (scripts/moto_sfn.py says which and why); MOTO_LAMBDA_ENDPOINT=<cargo lambda watch address> runs the state machine's Lambda invokes there
local-aws: tools
	TZ=UTC $(TOOLS_BIN)/python scripts/moto_sfn.py --port $(PORT)

## backfill: [BUCKET=...] [SINCE=...] [UNTIL=...] [PREFIX=...] start the backfill state machine of stack STACK_NAME (or, with AWS_ENDPOINT_URL and no stack, create it from template.yaml there) and follow it: a line per log group, then the tally
backfill: tools
	@$(TOOLS_BIN)/python scripts/backfill.py $(BACKFILL_ARGS)

## e2e-backfill: the backfill end to end: template.yaml's state machine in moto's executor, the converter under cargo lambda watch, every event once, faults injected, run three times
e2e-backfill: tools
	$(TOOLS_ON_PATH) $(TOOLS_BIN)/python tests/e2e/test_backfill.py
