# The lake on this machine: the samples through the function into target/lake/ as
# Firehose writes them, the Glue tables of template.yaml read by DuckDB, and the
# README's Athena queries run on them.

LAKE_ROOT ?= target/lake
# EVENT has a default (mk/local.mk); only one given on the command line or in the
# environment is added to the samples here.
LAKE_EVENT = $(if $(filter command line environment,$(origin EVENT)),$(EVENT),)
LAKE_ENV = $(TOOLS_ON_PATH) $(if $(LAYOUT),LAYOUT=$(LAYOUT),)

.PHONY: lake lake-sql lake-test

## lake: the samples (plus EVENT=...) through the function, objects as Firehose writes them into target/lake/, then the README's Athena queries run by DuckDB (LAYOUT=account-day etc.)
lake: tools
	$(LAKE_ENV) $(TOOLS_BIN)/python scripts/lake.py run --root $(LAKE_ROOT) \
		$(wildcard events/*.json) $(filter-out $(wildcard events/*.json),$(LAKE_EVENT))

## lake-sql: Q="SELECT ..." over the lake `make lake` built (tables firehose_logs.logs and .events)
lake-sql: export LAKE_SQL = $(Q)
lake-sql: tools
	$(LAKE_ENV) $(TOOLS_BIN)/python scripts/lake.py sql --root $(LAKE_ROOT) "$$LAKE_SQL"

## lake-test: the lake's tests: columns vs samples, strict types, objects and error records, the README's queries
lake-test: tools
	$(LAKE_ENV) $(TOOLS_BIN)/python tests/lake/test_lake.py
