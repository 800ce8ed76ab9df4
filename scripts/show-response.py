#!/usr/bin/env python3
"""Shows a Firehose transformation response readably: per record its result, the S3
prefix its partition keys produce under the template's layout, and its decoded lines.

usage: show-response.py EVENT RESPONSE [FUNCTION_LOG]
"""
import base64
import json
import os
import sys

# The template's Prefix, with Firehose's !{partitionKeyFromLambda:KEY} filled in.
LAYOUT = "{kind}/account={account}/source={source}/dt={dt}/hour={hour}/"
LINES_PER_RECORD = int(os.environ.get("LINES", "4"))
WIDTH = 160


def clip(text, width=WIDTH):
    return text if len(text) <= width else text[: width - 1] + "…"


def main():
    event_path, response_path = sys.argv[1], sys.argv[2]
    log_path = sys.argv[3] if len(sys.argv) > 3 else None
    with open(event_path, encoding="utf-8") as f:
        event = json.load(f)
    with open(response_path, "rb") as f:
        raw = f.read()
    response = json.loads(raw)
    sent = [r["recordId"] for r in event["records"]]
    got = [r["recordId"] for r in response["records"]]
    print(f"\n{event_path}: {len(sent)} records in, response {len(json.dumps(response, separators=(',', ':')))} bytes (Lambda limit 6291456)\n")
    counts, total_lines = {}, 0
    for record in response["records"]:
        result = record["result"]
        counts[result] = counts.get(result, 0) + 1
        print(f"{result:<17} {record['recordId']}")
        if result != "Ok":
            continue
        keys = record.get("metadata", {}).get("partitionKeys", {})
        print(f"  -> s3://BUCKET/{LAYOUT.format(**keys)}")
        lines = base64.b64decode(record["data"]).decode("utf-8").splitlines()
        total_lines += len(lines)
        for line in lines[:LINES_PER_RECORD]:
            print(f"     {clip(line)}")
        if len(lines) > LINES_PER_RECORD:
            print(f"     … {len(lines) - LINES_PER_RECORD} more lines")
    print("\nsummary: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + f"; {total_lines} lines delivered")
    if sorted(sent) != sorted(got):
        print("ERROR: the response does not answer every recordId exactly once", file=sys.stderr)
        return 1
    if log_path and os.path.exists(log_path):
        with open(log_path, encoding="utf-8", errors="replace") as f:
            notes = [l.rstrip() for l in f if "record failed" in l or '"_aws"' in l]
        if notes:
            print("\nfrom the function's log (reasons for failed records, and the metrics line):")
            for line in notes[-20:]:
                print(f"  {clip(line, 400)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
