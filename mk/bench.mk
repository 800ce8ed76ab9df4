# Benchmarks: the transformation's throughput and memory table, the export converter's,
# and what Lambda bills (scripts/bench.sh; BENCHMARKS.md reads them).

.PHONY: bench

## bench: criterion over the transformation (1/3/6 MB, ~4x/~8x) and peak RSS over 100 warm invocations; table in target/bench/table.md
bench:
	scripts/bench.sh
