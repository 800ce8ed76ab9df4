# The export converter (history in the same table), included by the top-level Makefile
# (`include mk/export.mk`). The top-level Makefile provides `tools`.

TOOLS_BIN ?= .tools/venv/bin

.PHONY: e2e-export

## e2e-export: history end to end: make export-logs into a moto server, the export converter under cargo lambda watch on every object (both trigger shapes), every event exactly once, twice
e2e-export: tools
	PATH="$(abspath $(TOOLS_BIN)):$$PATH" $(TOOLS_BIN)/python tests/e2e/test_export.py
