#!/usr/bin/env bash
# Coverage-guided fuzzing of the record decoder, the whole batch and the export
# converter's input (cargo-fuzz, libFuzzer).
#
#   scripts/fuzz.sh SECONDS [TARGET...]     targets: record batch export (default: all)
#
# Needs the nightly toolchain (it is not installed for you: `rustup toolchain install
# nightly` adds it to your rustup, outside the project); installs cargo-fuzz from
# crates.io into .tools/bin (inside the project, git-ignored) when it is missing.
# Seeds fuzz/corpus/<target>/ (git-ignored) from the sample events, replays the
# committed reproducers in fuzz/regressions/<target>/, runs each target for SECONDS
# and prints one summary line per target. Exits non-zero when a target crashes or a
# reproducer still fails. Crash inputs land in fuzz/artifacts/<target>/; minimize one with
#   cargo +nightly fuzz tmin <target> fuzz/artifacts/<target>/crash-…
# FUZZ_KEEP_GOING=1 keeps fuzzing past crashes (libFuzzer fork mode, -ignore_crashes).
# FUZZ_SANITIZER=address builds with ASan; the default is none: the oracles are
# assertions and the 2-3x throughput is worth more. The one unsafe block (the libdeflate
# call in src/transform/decode.rs) is worth an ASan run after any change to it.
set -euo pipefail

usage() { echo "usage: $0 SECONDS [record|batch ...]" >&2; exit 2; }
[[ $# -ge 1 && $1 =~ ^[0-9]+$ && $1 -gt 0 ]] || usage
seconds=$1
shift
all_targets=(record batch export)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")
for target in "${targets[@]}"; do
    [[ " ${all_targets[*]} " == *" $target "* ]] || { echo "unknown target: $target" >&2; usage; }
done

cd "$(dirname "$0")/.."
root=$PWD

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "fuzz: the nightly Rust toolchain is not installed; cargo-fuzz needs it." >&2
    echo "      install it with: rustup toolchain install nightly" >&2
    exit 1
fi
# cargo-fuzz lives in the project (.tools/bin, git-ignored), not in ~/.cargo/bin.
export PATH="$root/.tools/bin:$PATH"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz from crates.io into .tools/bin (project folder, git-ignored):"
    echo "      cargo install --locked --root .tools cargo-fuzz   (compiles it: a few minutes, once)"
    cargo install --locked --root "$root/.tools" cargo-fuzz
fi
command -v python3 >/dev/null || { echo "fuzz: python3 is needed to write the seed corpus" >&2; exit 1; }

# Seeds: every sample event's record payloads (base64-decoded) for `record`, with the
# 12-byte header documented in fuzz/fuzz_targets/record.rs; whole small requests and
# single-record requests for `batch`. Existing corpus files are kept.
python3 - "$root" "${targets[@]}" <<'PY'
import base64, glob, gzip, hashlib, json, os, struct, sys

root, targets = sys.argv[1], sys.argv[2:]
events = sorted(glob.glob(os.path.join(root, "events", "*.json")))

def write(target, content):
    directory = os.path.join(root, "fuzz", "corpus", target)
    os.makedirs(directory, exist_ok=True)
    name = "seed-" + hashlib.sha1(content).hexdigest()[:16]
    with open(os.path.join(directory, name), "wb") as f:
        f.write(content)

def header(mode, flags=0, entry=4 << 20, aux=0, piece=16 << 10):
    return struct.pack("<BBIHI", mode, flags, entry, aux, piece)

requests = []
for path in events:
    with open(path, "rb") as f:
        raw = f.read()
    try:
        request = json.loads(raw)
    except ValueError:
        continue
    requests.append((raw, request))
    if "record" not in targets:
        continue
    for record in request.get("records", []):
        try:
            payload = base64.b64decode(record.get("data", ""), validate=True)
        except ValueError:
            write("record", header(3) + record.get("data", "").encode())
            continue
        write("record", header(0) + payload)
        write("record", header(0, flags=1, entry=2048, piece=1024) + payload)
        if payload[:2] == b"\x1f\x8b":
            try:
                plain = gzip.decompress(payload)
            except Exception:
                continue
            if len(plain) <= 64 << 10:
                write("record", header(1) + plain)
                write("record", header(1, flags=1 | 2, entry=4096, aux=3, piece=8192) + plain)
                write("record", header(0, flags=16) + plain)
for i in range(4):
    write("record", header(2, flags=i) + bytes(range(i * 64, i * 64 + 64)))

if "batch" in targets:
    for raw, request in requests:
        if len(raw) <= 64 << 10:
            write("batch", raw)
        for record in request.get("records", [])[:12]:
            single = dict(request, records=[record])
            content = json.dumps(single).encode()
            if len(content) <= 64 << 10:
                write("batch", content)
    for i in range(4):
        write("batch", b"\xff" + bytes(range(i * 50, i * 50 + 50)))

# `export`: a header byte (even: the harness gzips the rest; odd: the rest is the object
# as it is), then export text: the lake's export objects, as text and as gzip.
if "export" in targets:
    for path in glob.glob(os.path.join(root, "events", "exports", "*.json")):
        with open(path, "rb") as f:
            objects = json.load(f).get("objects", [])
        for item in objects:
            text = item.get("text", "").encode()
            write("export", b"\x00" + text)
            write("export", b"\x06" + text)
            write("export", b"\x01" + gzip.compress(text))
    write("export", b"\x00" + b"2026-11-22T06:41:00.012Z a\n\tat b\n2026-11-22T07:00:00Z c")
PY

max_len_of() { case $1 in record) echo 16384 ;; batch | export) echo 65536 ;; esac; }

sanitizer=${FUZZ_SANITIZER:-none}
status=0
summaries=()
for target in "${targets[@]}"; do
    corpus=fuzz/corpus/$target
    artifacts=fuzz/artifacts/$target
    regressions=fuzz/regressions/$target
    mkdir -p "$corpus" "$artifacts"
    log=$artifacts/run.log
    if [[ ! -d fuzz/target ]]; then
        echo "fuzz: first build of the fuzz targets with nightly and coverage instrumentation:"
        echo "      about 13 minutes on 2 cores (later builds take seconds); cargo's progress follows"
    fi
    echo "fuzz: building $target"
    (cd fuzz && cargo +nightly fuzz build --sanitizer "$sanitizer" "$target")

    regression_note="no reproducers"
    if compgen -G "$regressions/*" >/dev/null; then
        if (cd fuzz && cargo +nightly fuzz run --sanitizer "$sanitizer" "$target" "${root}/$regressions"/* -- -runs=0) \
            >"$artifacts/regressions.log" 2>&1; then
            regression_note="reproducers pass"
        else
            regression_note="REPRODUCERS FAIL (see $artifacts/regressions.log)"
            status=1
        fi
    fi

    before=$(find "$artifacts" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | wc -l)
    extra=()
    if [[ ${FUZZ_KEEP_GOING:-0} == 1 ]]; then
        extra=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
    fi
    echo "fuzz: running $target for ${seconds}s (log: $log)"
    started=$(date +%s)
    set +e
    (cd fuzz && cargo +nightly fuzz run --sanitizer "$sanitizer" "$target" "${root}/$corpus" -- \
        -max_total_time="$seconds" -max_len="$(max_len_of "$target")" -timeout=20 \
        -rss_limit_mb=2048 -print_final_stats=1 "${extra[@]}") >"$log" 2>&1
    rc=$?
    set -e
    elapsed=$(( $(date +%s) - started ))
    after=$(find "$artifacts" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | wc -l)
    new_crashes=$((after - before))

    # The last status line libFuzzer printed: "#N ... cov: C ft: F corp: K/… exec/s: E".
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1 || true)
    [[ -n $runs ]] || runs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")
    speed=$(grep -oE '^stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1 || true)
    [[ -n $speed ]] || speed=$(grep -oE 'exec/s: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)
    cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)
    ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)
    corp=$(grep -oE 'corp: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)
    corpus_files=$(find "$corpus" -type f | wc -l)

    if [[ $rc -ne 0 || $new_crashes -gt 0 ]]; then
        status=1
        found="CRASH: $new_crashes new artifact(s) in $artifacts (exit $rc); see $log"
    else
        found="no crash"
    fi
    summary="fuzz $target: ${elapsed}s, ${runs:-?} execs, ${speed:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?} in run / ${corpus_files} files, ${regression_note}, ${found}"
    echo "$summary"
    summaries+=("$summary")
done

echo
echo "fuzz summary:"
printf '  %s\n' "${summaries[@]}"
exit $status
