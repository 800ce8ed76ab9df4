# The function on this machine: run it on an event, the end-to-end tests against moto,
# the README's local-use commands, and the sample events.

EVENT ?= events/mixed.json

.PHONY: invoke e2e readme-commands events

## invoke: run the function locally on EVENT (default events/mixed.json) and show what would land in S3 (SUMMARY=1 for totals only)
invoke: tools
	@$(TOOLS_ON_PATH) scripts/invoke.sh $(EVENT)

## e2e: re-ingestion, subscription payloads and fail-fast on permanent errors end to end: cargo lambda watch/invoke against moto servers
e2e: tools
	$(TOOLS_ON_PATH) $(TOOLS_BIN)/python tests/e2e/test_moto.py

## readme-commands: run the README's local-use commands as written (cargo lambda watch, then the invokes; port 9000)
readme-commands: tools
	$(TOOLS_BIN)/python tests/e2e/test_readme.py

## events: regenerate events/*.json from the readable sources in events/src/
events:
	cargo run --quiet -p testkit -- events events
