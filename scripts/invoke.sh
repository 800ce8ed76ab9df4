#!/usr/bin/env bash
# Builds the function, runs it under `cargo lambda watch` (the Lambda runtime emulator),
# invokes it with `cargo lambda invoke --data-file EVENT`, and shows per record the
# result, the S3 prefix its partition keys produce, and its decoded lines.
set -euo pipefail
cd "$(dirname "$0")/.."

event=${1:-events/mixed.json}
[ -f "$event" ] || { echo "no such event file: $event" >&2; exit 2; }
command -v cargo-lambda >/dev/null || { echo "cargo-lambda not found: run 'make tools'" >&2; exit 2; }

out=target/invoke
mkdir -p "$out"
port=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}

# Forward the function's own settings when they are set in this shell.
env_args=()
for name in MAX_DECOMPRESSED_BYTES RESPONSE_BUDGET_BYTES PARSE_JSON_MESSAGES METRICS_NAMESPACE \
            SPLIT_BY_EVENT_HOUR REINGEST_SAFETY_MARGIN_MS AWS_ENDPOINT_URL AWS_REGION; do
  if [ -n "${!name:-}" ]; then env_args+=(--env-var "$name=${!name}"); fi
done

echo "building and starting the function under cargo lambda watch on 127.0.0.1:$port ..."
setsid cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" ${env_args[@]+"${env_args[@]}"} \
  >"$out/watch.log" 2>&1 &
watch_pid=$!
trap 'kill -- -"$watch_pid" 2>/dev/null || true' EXIT

for _ in $(seq 1 600); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  if ! kill -0 "$watch_pid" 2>/dev/null; then cat "$out/watch.log" >&2; exit 1; fi
  sleep 0.5
done

cargo lambda invoke firehose-logs-processor --invoke-address 127.0.0.1 --invoke-port "$port" \
  --data-file "$event" --output-format json >"$out/response.json" || {
  echo "invoke failed; the function's log:" >&2; cat "$out/watch.log" >&2; exit 1; }
sleep 0.5  # let the function's last log lines reach the log file

python3 scripts/show-response.py "$event" "$out/response.json" "$out/watch.log"
