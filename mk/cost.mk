# What the pipeline costs: scripts/cost.py (Python standard library only) prints the cost
# model, every line as quantity x unit price = cost, with its inputs and their sources
# (template defaults read from template.yaml, measurements, public prices and the day
# they were read). docs/cost.md is its default run; tests/docs/test_cost.py holds the
# page and the README's summary to what the script writes.

GB_PER_DAY ?= 100
SOURCES ?= 20

.PHONY: cost cost-doc

## cost: the cost per TB of logs and per month at GB_PER_DAY (default 100) from SOURCES log groups (default 20), us-east-1, the template's defaults; every line's arithmetic and every input's source
cost:
	python3 scripts/cost.py --gb-per-day $(GB_PER_DAY) --sources $(SOURCES)

## cost-doc: rewrite docs/cost.md (the default run), then print the summary the README holds between <!-- cost:begin --> and <!-- cost:end -->
cost-doc:
	python3 scripts/cost.py --write docs/cost.md
	@echo "README summary (paste between the cost markers):"
	@python3 scripts/cost.py --summary
