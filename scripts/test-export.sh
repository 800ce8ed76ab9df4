#!/usr/bin/env bash
# Exercises `make export-logs` against a local moto server, which implements
# CloudWatch Logs CreateExportTask and S3. No AWS account, no network beyond 127.0.0.1.
# Prints "test-export: N passed, N failed" and exits non-zero on any failure.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS_BIN=${TOOLS_BIN:-$ROOT/.tools/venv/bin}
MAKE=${MAKE:-make}
cd "$ROOT"

passed=0
failed=0
check() { # description, then a command that must succeed
    local what=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok   - $what"; else failed=$((failed + 1)); echo "FAIL - $what"; fi
}

port=$("$TOOLS_BIN/python" scripts/devkit.py free-port)
workdir=$(mktemp -d)
"$TOOLS_BIN/moto_server" -H 127.0.0.1 -p "$port" >"$workdir/moto.log" 2>&1 &
moto_pid=$!
cleanup() { kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; rm -rf "$workdir"; }
trap cleanup EXIT

# Credentials and config that can only ever reach the local server.
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER=""
aws() { "$TOOLS_BIN/aws" "$@"; }

make_export() { "$MAKE" --no-print-directory export-logs TOOLS_BIN="$TOOLS_BIN" "$@"; }

"$TOOLS_BIN/python" scripts/devkit.py wait-for-port "$port" --pid "$moto_pid" --seconds 60 &&
    aws s3api list-buckets >/dev/null || { echo "moto server did not start:"; cat "$workdir/moto.log"; exit 1; }

bucket=export-test-bucket
group=/aws/lambda/export-test
aws s3api create-bucket --bucket "$bucket" >/dev/null
aws logs create-log-group --log-group-name "$group"
aws logs create-log-stream --log-group-name "$group" --log-stream-name stream-1
aws logs put-log-events --log-group-name "$group" --log-stream-name stream-1 \
    --log-events "timestamp=1793577600000,message=hello from the past" >/dev/null

# moto's STS answers for account 123456789012: the default ACCOUNT comes from there.
account=$(aws sts get-caller-identity --query Account --output text)

# 2026-11-02T00:00:00Z = 1793577600000 ms; the export covers that day.
out=$(make_export LOG_GROUP="$group" FROM=2026-11-02 TO=2026-11-03T00:00:00Z BUCKET="$bucket")
echo "$out"
task_id=$(printf '%s\n' "$out" | tail -n 1)

check "create-export-task returned a task id" test -n "$task_id"
task_field() { # task id, field
    aws logs describe-export-tasks --task-id "$1" --output json |
        "$TOOLS_BIN/python" -c "import json, sys; print(json.load(sys.stdin)['exportTasks'][0]['$2'])"
}
field() { task_field "$task_id" "$1"; }
check "task targets the bucket" test "$(field destination)" = "$bucket"
# The convention (src/export/key.rs): exports/<account>/<log group with / as !>.
check "task writes under exports/<account>/<encoded log group>" \
    test "$(field destinationPrefix)" = "exports/$account/!aws!lambda!export-test"
check "task is for the log group" test "$(field logGroupName)" = "$group"
check "FROM converted to epoch ms (UTC)" test "$(field from)" = "1793577600000"
check "TO converted to epoch ms (UTC)" test "$(field to)" = "1793664000000"
objects=$(aws s3api list-objects-v2 --bucket "$bucket" --prefix "exports/$account/!aws!lambda!export-test/" \
    --query 'length(Contents || `[]`)' --output text)
check "exported objects land under the task's prefix" test "${objects:-0}" -gt 0

# Characters other than A-Z a-z 0-9 . _ - and / are written as * and two hex digits,
# and ACCOUNT= overrides the caller's account (an export started for another account's
# folder, as a sender account runs it).
odd=/aws/lambda/odd#group.v2
aws logs create-log-group --log-group-name "$odd"
out=$(make_export LOG_GROUP="$odd" FROM=2026-11-02 TO=2026-11-03 BUCKET="$bucket" ACCOUNT=210987654321)
odd_task=$(printf '%s\n' "$out" | tail -n 1)
check "'#' is encoded as *23, '.' kept, ACCOUNT= used" \
    test "$(task_field "$odd_task" destinationPrefix)" = "exports/210987654321/!aws!lambda!odd*23group.v2"

# Bad input is refused before any AWS call.
refused() { ! make_export "$@" >/dev/null 2>&1; }
check "FROM after TO is refused" refused LOG_GROUP=g FROM=2026-11-03 TO=2026-11-02 BUCKET=b
check "missing LOG_GROUP is refused" refused FROM=2026-11-01 TO=2026-11-02 BUCKET=b
check "an ACCOUNT that is not 12 digits is refused" refused LOG_GROUP=g FROM=2026-11-01 TO=2026-11-02 BUCKET=b ACCOUNT=12345

echo "test-export: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
