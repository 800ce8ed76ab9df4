#!/usr/bin/env bash
# Builds the function, runs it under `cargo lambda watch` (the Lambda runtime emulator),
# invokes it with `cargo lambda invoke --data-file EVENT`, and shows per record the
# result and why, the S3 prefix its partition keys produce, its lines, what was
# re-ingested and the metrics (scripts/show-response.py).
set -euo pipefail
cd "$(dirname "$0")/.."

event=${1:-events/mixed.json}
devkit() { python3 scripts/devkit.py "$@"; }
# Before anything builds or starts: a wrong file is one line and status 2, not a build
# followed by the emulator's log.
devkit check-event "$event"
command -v cargo-lambda >/dev/null || { echo "cargo-lambda not found: run 'make tools'" >&2; exit 2; }

out=target/invoke
mkdir -p "$out"
pids=()
trap 'for pid in ${pids[@]+"${pids[@]}"}; do kill -- -"$pid" 2>/dev/null || true; done' EXIT

# The build runs in the foreground so that its progress shows (one line per crate);
# `cargo lambda watch` below then finds the binary up to date. Only cargo's closing
# "Finished ... in 0.52s" is left out, so that a run on an unchanged tree prints the
# same every time. How long the first build takes is measured and stated once, in the
# README's "Try it locally" section; this script does not repeat the figures.
if [ ! -x target/debug/firehose-logs-processor ]; then
  echo "invoke: first build of the function (later runs take seconds; how long the first"
  echo "        takes: README.md, \"Try it locally\"); cargo's progress follows"
fi
cargo build --bin firehose-logs-processor 2>&1 | { grep -v '^ *Finished ' || true; }

# Records that do not fit in the response are put back into the stream. Without an
# AWS_ENDPOINT_URL of your own, a local moto server stands in for that stream.
local_aws=false
if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
  moto_port=$(devkit free-port)
  setsid moto_server -H 127.0.0.1 -p "$moto_port" >"$out/moto.log" 2>&1 &
  moto_pid=$!
  pids+=("$moto_pid")
  export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port" AWS_REGION=${AWS_REGION:-us-east-1}
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  devkit wait-for-port "$moto_port" --pid "$moto_pid" --seconds 60 || {
    echo "moto_server did not start; its log:" >&2; cat "$out/moto.log" >&2; exit 1; }
  python scripts/local-aws.py setup "$event"
  local_aws=true
fi

port=${PORT:-$(devkit free-port)}

# Forward the function's own settings when they are set in this shell: the variables
# it lists itself (`firehose-logs-processor settings`: NAME=DEFAULT lines), and the AWS
# ones. The function logs JSON lines here, which show-response.py reads for failure
# reasons and metrics.
settings=$(cargo run --quiet --bin firehose-logs-processor -- settings)
env_args=(--env-var AWS_LAMBDA_LOG_FORMAT=JSON)
for name in $(printf '%s\n' "$settings" | cut -d= -f1) \
            AWS_ENDPOINT_URL AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do
  if [ -n "${!name:-}" ]; then env_args+=(--env-var "$name=${!name}"); fi
done

echo "invoke: starting the function under cargo lambda watch (log: $out/watch.log)"
setsid cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" ${env_args[@]+"${env_args[@]}"} \
  >"$out/watch.log" 2>&1 &
watch_pid=$!
pids+=("$watch_pid")

devkit wait-for-port "$port" --pid "$watch_pid" --seconds 300 || { cat "$out/watch.log" >&2; exit 1; }

cargo lambda invoke firehose-logs-processor --invoke-address 127.0.0.1 --invoke-port "$port" \
  --data-file "$event" --output-format json >"$out/response.json" || {
  echo "invoke failed; the function's log:" >&2; cat "$out/watch.log" >&2; exit 1; }
# The function's log reaches the file through cargo lambda watch, after the answer may
# have: wait for its metrics line, the last it writes (an invocation without one goes on
# after 10 s).
devkit wait-for-line "$out/watch.log" '"_aws"' --seconds 10 || true

reingested=""
if $local_aws; then
  python scripts/local-aws.py collect "$event" >"$out/reingested.json"
  reingested="$out/reingested.json"
fi
echo
python3 scripts/show-response.py "$event" "$out/response.json" "$out/watch.log" $reingested
