#!/usr/bin/env bash
# `make bench`: the transformation's throughput and memory table, reproducible on any machine.
#
# 1. builds the criterion benchmark and the RSS bench binary in release;
# 2. runs criterion over the pure transformation (request bytes in -> response bytes out,
#    budget disabled) for 1, 3 and 6 MB events at low (~4x) and high (~8x) gzip
#    compressibility, with quick settings (CRITERION_ARGS);
# 3. for each size and compressibility, writes the generated event to a file, then runs
#    examples/bench_rss on it ITERATIONS times in one process under /usr/bin/time -v, for
#    the peak RSS and the RSS after the first and the last invocation;
# 4. prints one table and writes it to target/bench/table.md;
# 5. the export converter's throughput and peak RSS;
# 6. what Lambda bills (the Runtime API path): the function binary under testkit's Runtime API
#    emulator, against the same work called in process (examples/bench_runtime.rs).
#
# MB/s is decompressed log data per second on one core (criterion's median); time per
# invocation is criterion's median; peak RSS is /usr/bin/time's maximum resident set size
# of the bench process (the event bytes, the processor and its buffers).
#
# Environment: ITERATIONS (default 100), SIZES (default "1 3 6"), LEVELS (default
# "low high"), CRITERION_ARGS (default quick settings, about 40 s in all),
# RUNTIME_ITERATIONS (default 100 invocations per event under the emulator).
set -euo pipefail
cd "$(dirname "$0")/.."

iterations=${ITERATIONS:-100}
sizes=${SIZES:-1 3 6}
levels=${LEVELS:-low high}
criterion_args=${CRITERION_ARGS:---warm-up-time 1 --measurement-time 3 --sample-size 20}
target_dir=${CARGO_TARGET_DIR:-target}
out=$target_dir/bench
mkdir -p "$out"
rm -f "$out"/rss-*.json "$out"/time-*.txt "$out"/table.md

# Peak RSS from GNU time; install Debian's `time` if it is missing, else fall back to
# the process's own VmHWM (the same figure for a single-process run) and say so.
time_bin=/usr/bin/time
if [ ! -x "$time_bin" ]; then
  echo "bench: /usr/bin/time missing; trying apt-get install time" >&2
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get install -y -qq time >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq time >/dev/null 2>&1; }) || true
  fi
fi
if [ -x "$time_bin" ] && "$time_bin" -v true >/dev/null 2>&1; then
  peak_source="/usr/bin/time -v"
else
  time_bin=
  peak_source="VmHWM (no /usr/bin/time)"
  echo "bench: /usr/bin/time unavailable: peak RSS is the process's VmHWM" >&2
fi

echo "bench: building (release)" >&2
# One profile for both, so the library is compiled (with the release settings) once.
cargo build --profile bench --example bench_rss --example bench_export --example bench_runtime \
  --bin firehose-logs-processor
cargo bench --bench transform --no-run

echo "bench: built in ${SECONDS}s; criterion ($criterion_args)" >&2
filter="transform/(${sizes// /|})MB/(${levels// /|})\$"
# shellcheck disable=SC2086 # criterion_args is a list of flags
cargo bench --bench transform -- $criterion_args "$filter" | tee "$out/criterion.txt"

bench_rss=$target_dir/release/examples/bench_rss
# Each case twice: budget disabled (what criterion measures: every record transformed,
# the response as large as it comes) and with the function's default budget of 6000000
# bytes (what a deployed function holds in memory).
for size in $sizes; do
  for level in $levels; do
    event=$out/event-$size-$level.json
    "$bench_rss" generate "$size" "$level" "$event"
    for budget in off 6000000; do
      echo "bench: $size MB $level, budget $budget, $iterations invocations in one process" >&2
      name=$size-$level-$budget
      run=("$bench_rss" "$size" "$level" "$iterations" "$event")
      [ -n "$time_bin" ] && run=("$time_bin" -v -o "$out/time-$name.txt" "${run[@]}")
      if [ "$budget" = off ]; then
        "${run[@]}" >"$out/rss-$name.json"
      else
        BENCH_BUDGET=$budget "${run[@]}" >"$out/rss-$name.json"
      fi
    done
    rm -f "$event"
  done
done

python3 - "$target_dir" "$sizes" "$levels" "$iterations" "$peak_source" <<'EOF'
import json, os, re, sys

target, sizes, levels, iterations, peak_source = sys.argv[1:]
out = os.path.join(target, "bench")
def rss(size, level, budget):
    """bench_rss's report, with the peak from /usr/bin/time when it ran."""
    name = f"{size}-{level}-{budget}"
    report = json.load(open(os.path.join(out, f"rss-{name}.json")))
    report["peak_kb"] = report["vm_hwm_kb"]
    time_file = os.path.join(out, f"time-{name}.txt")
    if os.path.exists(time_file):
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(time_file).read())
        report["peak_kb"] = int(match.group(1))
    return report

mib = lambda kb: f"{kb / 1024:.1f}"
rows = []
for size in sizes.split():
    for level in levels.split():
        off = rss(size, level, "off")
        on = rss(size, level, "6000000")
        estimates = os.path.join(target, "criterion", "transform", f"{size}MB", level, "new", "estimates.json")
        median_ns = json.load(open(estimates))["median"]["point_estimate"]
        decompressed = off["decompressed_bytes"]
        rows.append([
            f"{size} MB ({off['event_bytes'] / 1e6:.2f})",
            f"{level} ({decompressed / (off['event_bytes'] * 0.75):.1f}x)",
            f"{decompressed / 1e6:.1f}",
            f"{decompressed / median_ns * 1e3:.0f}",
            f"{median_ns / 1e6:.1f}",
            f"{off['response_bytes']:,}",
            mib(off["peak_kb"]),
            f"{mib(off['rss_after_first_kb'])} → {mib(off['rss_after_last_kb'])}",
            mib(on["peak_kb"]),
            f"{mib(on['rss_after_first_kb'])} → {mib(on['rss_after_last_kb'])}",
        ])
header = [
    "Event MB (bytes/10^6)",
    "Compressibility",
    "Decompressed MB",
    "MB/s per core",
    "ms / invocation",
    "Response bytes",
    "Peak RSS MiB",
    f"RSS MiB 1st → {iterations}th",
    "Peak RSS MiB, 6 MB budget",
    f"RSS MiB 1st → {iterations}th, 6 MB budget",
]
lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
lines += ["| " + " | ".join(row) + " |" for row in rows]
notes = [
    "",
    "MB/s: decompressed log bytes (10^6) per second on one thread, criterion median. "
    "ms / invocation: criterion median, request JSON bytes to response bytes, budget disabled "
    "so that every record is transformed. Response bytes: with the budget disabled. "
    f"Peak RSS: {peak_source} of one process running {iterations} invocations "
    "(examples/bench_rss) as the processor function does: the request body read before each invocation "
    "and dropped once parsed, as the Lambda runtime does, then plan, every re-ingested payload "
    "put back (nothing leaves the process), finish. Once with the budget disabled, once with "
    "the function's default budget (6000000 bytes; records past it re-ingested when deployed). "
    "Compressibility: decompressed bytes / (event bytes x 3/4), about the gzip ratio.",
]
table = "\n".join(lines + notes) + "\n"
open(os.path.join(out, "table.md"), "w").write(table)
print()
print(table)
EOF
# The export converter: MB/s of export text per core end to end without S3 (one pass:
# gunzip, split, NDJSON, gzip out), and the peak RSS converting one
# EXPORT_RSS_MB export object streamed from a generator.
export_mb=${EXPORT_MB:-64}
export_rss_mb=${EXPORT_RSS_MB:-1000}
bench_export=$target_dir/release/examples/bench_export
echo "bench: export converter, $export_mb MB of export text, median of 7" >&2
"$bench_export" throughput "$export_mb" 7 >"$out/export-throughput.json"
echo "bench: export converter with S3 simulated by timers, median of 3" >&2
"$bench_export" overlap "$export_mb" 3 >"$out/export-overlap.json"
echo "bench: export converter, one $export_rss_mb MB export object, streamed" >&2
"$bench_export" generate "$out/export-events.json"
run=("$bench_export" rss "$export_rss_mb" "$out/export-events.json")
[ -n "$time_bin" ] && run=("$time_bin" -v -o "$out/time-export.txt" "${run[@]}")
"${run[@]}" >"$out/export-rss.json"
python3 - "$out" "$peak_source" <<'EOF'
import json, os, re, sys
out, peak_source = sys.argv[1:]
t = json.load(open(os.path.join(out, "export-throughput.json")))
r = json.load(open(os.path.join(out, "export-rss.json")))
o = json.load(open(os.path.join(out, "export-overlap.json")))
peak = "n/a"
time_file = os.path.join(out, "time-export.txt")
if os.path.exists(time_file):
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(time_file).read())
    peak = f"{int(match.group(1)) / 1024:.1f}"
c = t["codecs_alone"]
table = "\n".join([
    "| Export text MB | Events | Outputs | MB/s per core | Codecs alone: gunzip + gzip out"
    " | gzip out only | Peak RSS MiB, "
    + f"{r['text_bytes'] / 1e6:,.0f} MB object |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    f"| {t['text_bytes'] / 1e6:.1f} | {t['events']:,} | {t['outputs']} | {t['mb_per_s']:.0f}"
    f" | {c['one_gunzip_and_gzip_out_mb_per_s']:.0f}"
    f" | {c['gzip_out_mb_per_s']:.0f} | {peak} |",
    "",
    "Export converter: MB/s is export text (after gunzip, 10^6 bytes) per CPU second of the "
    "whole process (all threads), "
    "median of 7 runs of convert_object over an in-memory store (one pass; outputs gzip "
    "level 1, counted, not uploaded). Codecs alone, in MB/s of "
    "the same export text: the same object gunzipped and the NDJSON the converter wrote for "
    "it gzipped at its level in its 64 KiB blocks, nothing else; the floor of any conversion "
    "that reads this gzip and writes this gzip on this machine. Peak RSS: "
    + peak_source
    + " of one conversion of an export object generated while it is read (its generator's "
    "4 MB block of events included), outputs dropped once written.",
    "",
    f"With S3 simulated by timers ({o['simulated_request_ms']} ms a request, "
    f"{o['simulated_mb_per_s']} MB/s): the conversion alone {o['compute_seconds']:.2f} s, the "
    f"transfers alone {o['transfer_seconds']:.2f} s, one after the other "
    f"{o['one_after_the_other_seconds']:.2f} s; measured {o['measured_seconds']:.2f} s "
    "(the conversion's own thread works while the object is read and outputs upload).",
]) + "\n"
with open(os.path.join(out, "table.md"), "a") as f:
    f.write("\n" + table)
print()
print(table)
EOF
# What Lambda bills: the function binary under the Runtime API emulator, next to the same
# work called in process (examples/bench_runtime.rs), on the same events.
runtime_iterations=${RUNTIME_ITERATIONS:-100}
rm -f "$out/runtime.json"
for size in $sizes; do
  for level in $levels; do
    event=$out/runtime-event-$size-$level.json
    "$bench_rss" generate "$size" "$level" "$event"
    echo "bench: billed-like duration, $size MB $level, $runtime_iterations invocations" >&2
    "$target_dir/release/examples/bench_runtime" "$target_dir/release/firehose-logs-processor" \
      "$runtime_iterations" "$event" >>"$out/runtime.json"
    rm -f "$event"
  done
done
python3 - "$out" "$runtime_iterations" <<'EOF'
import json, os, sys
out, iterations = sys.argv[1:]
rows = [json.loads(line) for line in open(os.path.join(out, "runtime.json"))]
header = [
    "Event MB (bytes/10^6)",
    "Response bytes",
    "Re-ingested records",
    "Billed-like ms",
    "Handler-only ms",
    "Ratio",
    "CPU ms",
    "Minor faults / warm invocation (max)",
    "Peak RSS MiB",
    "Cold start ms",
    "lambda_runtime's response path ms (avoided)",
]
lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
for r in rows:
    size, level = r["event"].removeprefix("runtime-event-").removesuffix(".json").split("-")
    lines.append("| " + " | ".join([
        f"{size} MB {level} ({r['event_bytes'] / 1e6:.2f})",
        f"{r['response_bytes']:,}",
        f"{r['reingested_records_per_invocation']:.0f}",
        f"{r['billed_ms']:.1f}",
        f"{r['handler_ms']:.1f}",
        f"{r['ratio']:.2f}",
        f"{r['function_cpu_ms_per_invocation']:.1f}",
        f"{r['minor_faults_per_warm_invocation']} ({r['minor_faults_max']})",
        f"{r['peak_rss_kb'] / 1024:.1f}",
        f"{r['cold_start_ms']:.1f}",
        f"{r['response_handoff_ms']:.1f}",
    ]) + " |")
notes = (
    "\nBilled-like: the function binary (release) under testkit's Runtime API emulator "
    "(TCP_NODELAY), from the event handed to its GET /next to the last byte of its response, "
    f"median of {int(iterations) - 1} warm invocations. Handler-only: the same event parsed and "
    "handed to Handler::handle in the benchmark's process (transform, re-ingestion, response). "
    "Re-ingestion goes through the AWS SDK to the emulator's PutRecordBatch in both. CPU: the "
    "function's user + system time per invocation (clock ticks over all invocations). Faults: "
    "the function's minor page faults between two GET /next. Peak RSS: its VmHWM. Cold start: "
    "process start to the first GET /next. Last column: what lambda_runtime's own response "
    "path (RawValue checks, then serde_json's copy) would add, timed in process.\n"
)
table = "\n".join(lines) + "\n" + notes
with open(os.path.join(out, "table.md"), "a") as f:
    f.write("\n" + table)
print()
print(table)
EOF
echo "bench: done in ${SECONDS}s; table in $out/table.md" >&2
