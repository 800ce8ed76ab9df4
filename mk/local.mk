# The function on this machine: run it on an event, the end-to-end tests against moto,
# the README's local-use commands, and the sample events.

EVENT ?= events/mixed.json

# `make invoke` checks its event while the Makefile is read, before the tools install
# or anything builds: a wrong file is one line (make's own) and status 2.
ifneq ($(filter invoke,$(MAKECMDGOALS)),)
EVENT_PROBLEM := $(shell python3 scripts/devkit.py check-event '$(EVENT)' 2>&1 >/dev/null)
ifneq ($(EVENT_PROBLEM),)
$(error $(EVENT_PROBLEM))
endif
endif

.PHONY: invoke e2e readme-commands events

## invoke: run the function locally on EVENT (default events/mixed.json) and show what would land in S3 (SUMMARY=1 for totals only)
invoke: tools
	@$(TOOLS_ON_PATH) scripts/invoke.sh $(EVENT)

## e2e: make invoke's answer to bad events (one line, status 2, nothing built first); the teardown's AWS side against moto; re-ingestion, subscription payloads and fail-fast on permanent errors end to end: cargo lambda watch/invoke against moto servers
e2e: tools
	$(TOOLS_BIN)/python tests/e2e/test_invoke_errors.py
	$(TOOLS_BIN)/python tests/e2e/test_teardown.py
	$(TOOLS_ON_PATH) $(TOOLS_BIN)/python tests/e2e/test_moto.py

## readme-commands: run the README's local-use commands as written (cargo lambda watch, then the invokes; port 9000)
readme-commands: tools
	$(TOOLS_BIN)/python tests/e2e/test_readme.py

## events: regenerate events/*.json from the readable sources in events/src/
events:
	cargo run --quiet -p testkit -- events events
