# The documentation's own checks: README.md, BENCHMARKS.md and docs/ hold together.
# Standard library only (any python3), so they need neither the tools nor a build.

.PHONY: docs-check

## docs-check: the documentation's tests (tests/docs/test_*.py): every relative link and #anchor resolves, README and docs/ link each other, nothing said twice, every old README section has a home
docs-check:
	python3 -m unittest discover --start-directory tests/docs --pattern 'test_*.py'
