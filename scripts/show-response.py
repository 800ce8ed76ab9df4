#!/usr/bin/env python3
"""Shows a Firehose transformation response for a person to read.

Per record: its result and why (control message, re-ingested whole, split by hour, not
base64, ...), the S3 prefix its partition keys produce under the template's layout, and
per line the event time, the log group (or event source) and the message in full.
Then what went back into the stream, record by record, with its event-time range and
the hour it will land in; then the invocation's metrics as a table.

usage: show-response.py EVENT RESPONSE [FUNCTION_LOG [REINGESTED]]
  FUNCTION_LOG  the function's log (JSON lines, AWS_LAMBDA_LOG_FORMAT=JSON): reasons
                for failed records, matched by recordId, and the metrics line
  REINGESTED    JSON written by `local-aws.py collect`: the payloads put back
environment: LINES=N lines shown per record (default 10); RECORDS=N records shown in
             detail (default 20); SUMMARY=1 totals only, for large batches
"""
import base64
import binascii
import datetime
import json
import os
import re
import sys
import zlib

from devkit import gzip_members

# The template's Prefix, with Firehose's !{partitionKeyFromLambda:KEY} filled in.
LAYOUT = "{kind}/account={account}/source={source}/dt={dt}/hour={hour}/"
LINES_PER_RECORD = int(os.environ.get("LINES") or 10)
RECORDS_SHOWN = int(os.environ.get("RECORDS") or 20)
SUMMARY_ONLY = os.environ.get("SUMMARY", "") not in ("", "0", "false", "no")
LABEL_WIDTH = 24  # log group or event source: metadata, truncated; messages never are


def clip(text, width):
    return text if len(text) <= width else text[: width - 1] + "…"


def one_line(text):
    """The message in full, its line breaks and tabs made visible as \\n and \\t."""
    return text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")


def iso(ms):
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def clock(ms):
    return iso(ms)[11:23]


def read_input(record):
    """What the input record is, as far as this script can tell without the function."""
    try:
        raw = base64.b64decode(record.get("data", ""), validate=True)
    except (binascii.Error, ValueError):
        return {"kind": "invalid", "note": "not base64"}
    if raw[:2] == b"\x1f\x8b":
        try:
            text = b"".join(gzip_members(raw))
        except zlib.error:
            return {"kind": "invalid", "note": "corrupt or truncated gzip", "raw": raw}
    else:
        text = raw
    try:
        document = json.loads(text)
    except ValueError:
        return {"kind": "invalid", "note": "neither gzip nor a JSON object", "raw": raw}
    if not isinstance(document, dict):
        return {"kind": "invalid", "note": "not a JSON object", "raw": raw}
    if "messageType" in document:
        return {"kind": "logs", "payload": document, "raw": raw}
    return {"kind": "event", "payload": document, "raw": raw}


def log_entries(path):
    """The function's structured log lines (JSON), skipping cargo's and the emulator's."""
    entries = []
    if not path or not os.path.exists(path):
        return entries
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
            if not line.startswith("{"):
                continue
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
    return entries


def reasons_by_record(entries):
    reasons = {}
    for entry in entries:
        fields = entry.get("fields", entry)
        if fields.get("message") == "record failed" and "record_id" in fields:
            reasons[str(fields["record_id"])] = str(fields.get("reason", "")).strip('"')
    return reasons


def stream_stops(entries):
    """The warning that ended re-ingestion early, when there was one."""
    for entry in entries:
        fields = entry.get("fields", entry)
        if str(fields.get("message", "")).startswith("re-ingestion stopped"):
            return str(fields.get("cause", "")).strip('"')
    return None


def metrics_line(entries):
    for entry in entries:
        if "_aws" in entry:
            return entry
    return None


def sanitize(name):
    """The template's key rule for `account` and `source` (see docs/output-schema.md, Partition keys)."""
    segment = re.sub(r"[^A-Za-z0-9._-]", "_", name.lstrip("/")) or "unknown"
    if set(segment) == {"."}:
        segment = "_" * len(segment)
    if len(segment) > 100:
        segment = segment[:91] + "-" + f"{zlib.crc32(name.encode()):08x}"
    return segment


def describe_payload(payload):
    """(label, first ms, last ms, events) of a re-ingested payload."""
    try:
        document = json.loads(payload)
    except ValueError:
        return None
    events = document.get("logEvents") if isinstance(document, dict) else None
    if not events:
        return None
    times = [e["timestamp"] for e in events]
    return document, min(times), max(times), events


def match_payloads(inputs, payloads):
    """For each re-ingested payload, the index of the record it came from (or None)."""
    owners = []
    for payload in payloads:
        owner = None
        for index, info in enumerate(inputs):
            if info["kind"] != "logs":
                if info.get("raw") is not None and payload == info["raw"]:
                    owner = index
                    break
                continue
            source = info["payload"]
            described = describe_payload(payload)
            if described is None:
                continue
            document, _, _, events = described
            ids = {str(e.get("id")) for e in source.get("logEvents", [])}
            if (document.get("logGroup"), document.get("logStream")) == (
                    source.get("logGroup"), source.get("logStream")) and \
                    all(str(e.get("id")) in ids for e in events):
                owner = index
                break
        owners.append(owner)
    return owners


def plural(count, word):
    return f"{count} {word}" + ("" if count == 1 else "s")


def reason_for(record, info, lines, pieces, failed_reason):
    """The inline explanation of a record's result."""
    result = record["result"]
    if result == "ProcessingFailed":
        return failed_reason or info.get("note") or "see the function's log"
    if result == "Dropped":
        if info["kind"] == "logs" and info["payload"].get("messageType") == "CONTROL_MESSAGE":
            return "control message (subscription check, no log data)"
        whole = [p for p in pieces if p == info.get("raw") or
                 (info["kind"] == "logs" and describe_payload(p) and
                  len(describe_payload(p)[3]) == len(info["payload"].get("logEvents", [])))]
        if len(pieces) == 1 and whole:
            return "did not fit in the response: re-ingested whole"
        if pieces:
            return f"too large for one response: split into {len(pieces)} payloads, re-ingested"
        return "from the function's own log group (loop guard), or re-ingested"
    if info["kind"] == "logs":
        total = len(info["payload"].get("logEvents", []))
        text = plural(lines, "line")
        if lines < total:
            moved = total - lines
            hours = "a later hour" if moved == 1 else "later hours"
            text += (f"; {plural(moved, 'event')} of {hours} split off into "
                     f"{plural(len(pieces), 'payload')}, re-ingested")
        return text
    if info["kind"] == "event":
        return "EventBridge event, as it came"
    return plural(lines, "line")


def show_line(line):
    try:
        item = json.loads(line)
    except ValueError:
        return f"     {line}"
    if "log_group" in item:
        return f"     {item.get('time', '')[11:23]}  {clip(item['log_group'], LABEL_WIDTH):<{LABEL_WIDTH}}  {one_line(item.get('message', ''))}"
    detail = item.get("detail") if isinstance(item.get("detail"), dict) else {}
    what = item.get("detail-type", "")
    if detail.get("eventName"):
        what += f": {detail['eventName']}"
    return f"     {str(item.get('time', ''))[11:19]:<12}  {clip(str(item.get('source', '')), LABEL_WIDTH):<{LABEL_WIDTH}}  {what}"


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    event_path, response_path = args[0], args[1]
    log_path = args[2] if len(args) > 2 else None
    reingested_path = args[3] if len(args) > 3 else None
    with open(event_path, encoding="utf-8") as f:
        event = json.load(f)
    with open(response_path, "rb") as f:
        raw = f.read()
    response = json.loads(raw)
    sent = [r["recordId"] for r in event["records"]]
    got = [r["recordId"] for r in response["records"]]
    if sorted(sent) != sorted(got):
        print("ERROR: the response does not answer every recordId exactly once", file=sys.stderr)
        return 1

    entries = log_entries(log_path)
    failed_reasons = reasons_by_record(entries)
    stopped_by = stream_stops(entries)
    reingested = {"where": None, "payloads": []}
    if reingested_path and os.path.exists(reingested_path):
        with open(reingested_path, encoding="utf-8") as f:
            reingested = json.load(f)
    payloads = [base64.b64decode(p) for p in reingested["payloads"]]
    inputs = [read_input(r) for r in event["records"]]
    owners = match_payloads(inputs, payloads)
    index_of = {record_id: i for i, record_id in enumerate(sent)}

    size = len(json.dumps(response, separators=(",", ":")))
    print(f"{event_path}: {len(sent)} records in, response {size:,} bytes "
          f"(Lambda's limit 6,291,456)")
    counts, total_lines = {}, 0
    shown = 0
    for record in response["records"]:
        result = record["result"]
        counts[result] = counts.get(result, 0) + 1
        index = index_of[record["recordId"]]
        info = inputs[index]
        lines = []
        if result == "Ok" and record.get("data"):
            lines = base64.b64decode(record["data"]).decode("utf-8").splitlines()
        total_lines += len(lines)
        if SUMMARY_ONLY or shown >= RECORDS_SHOWN:
            continue
        shown += 1
        pieces = [p for p, owner in zip(payloads, owners) if owner == index]
        reason = reason_for(record, info, len(lines), pieces,
                            failed_reasons.get(record["recordId"]))
        print(f"\n#{index + 1} {result:<16} {reason}")
        if result != "Ok":
            continue
        keys = record.get("metadata", {}).get("partitionKeys", {})
        try:
            print(f"   -> s3://BUCKET/{LAYOUT.format(**keys)}")
        except KeyError:
            print(f"   -> partition keys {keys}")
        for line in lines[:LINES_PER_RECORD]:
            print(show_line(line))
        if len(lines) > LINES_PER_RECORD:
            print(f"     … {len(lines) - LINES_PER_RECORD} more lines (LINES={len(lines)} shows them)")
    if shown < len(response["records"]) and not SUMMARY_ONLY:
        print(f"\n… {len(response['records']) - shown} more records (RECORDS=N shows more, "
              "SUMMARY=1 totals only)")

    print("\nresults: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
          + f"; {plural(total_lines, 'line')} delivered")
    if SUMMARY_ONLY and failed_reasons:
        grouped = {}
        for reason in failed_reasons.values():
            grouped[reason] = grouped.get(reason, 0) + 1
        for reason, count in sorted(grouped.items(), key=lambda item: -item[1]):
            print(f"  ProcessingFailed x{count}: {reason}")

    if stopped_by:
        print(f"\nre-ingestion stopped at once (no retry can help): {stopped_by}")
    if payloads:
        print(f"\nre-ingested into {reingested['where']}: {plural(len(payloads), 'payload')}; "
              "Firehose hands them to the function again")
        listed = 0 if SUMMARY_ONLY else min(len(payloads), RECORDS_SHOWN)
        for payload, owner in list(zip(payloads, owners))[:listed]:
            origin = f"from #{owner + 1}" if owner is not None else "from ?"
            described = describe_payload(payload)
            if described is None:
                print(f"  {origin:<8} {plural(len(payload), 'byte')}")
                continue
            document, first, last, events = described
            moment = datetime.datetime.fromtimestamp(first / 1000, datetime.timezone.utc)
            span = iso(first) if first == last else f"{iso(first)} .. {iso(last)}"
            print(f"  {origin:<8} {clip(document.get('logGroup', ''), LABEL_WIDTH)}  "
                  f"{plural(len(events), 'event')}  {span}")
            print(f"           lands in logs/account={sanitize(document.get('owner', ''))}/"
                  f"source={sanitize(document.get('logGroup', ''))}/"
                  f"dt={moment:%Y-%m-%d}/hour={moment:%H}/")
        if listed < len(payloads):
            hours = sorted({datetime.datetime.fromtimestamp(
                d[1] / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:00")
                for d in map(describe_payload, payloads) if d})
            print(f"  {plural(len(payloads) - listed, ('' if SUMMARY_ONLY else 'more ') + 'payload')}, "
                  f"landing in hours {', '.join(hours) or '?'}")

    emf = metrics_line(entries)
    if emf:
        # Counts and bytes; DurationMs is left out, as it differs from run to run.
        names = [m["Name"] for m in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                 if m.get("Unit") != "Milliseconds"]
        print(f"\nmetrics ({emf['_aws']['CloudWatchMetrics'][0]['Namespace']}, one EMF line):")
        cells = [f"{name:<24}{emf.get(name, 0):>8}" for name in names]
        for start in range(0, len(cells), 3):
            print("  " + "   ".join(cells[start:start + 3]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
