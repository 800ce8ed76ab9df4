#!/usr/bin/env python3
"""What the pipeline costs, per TB of logs and per month, from its inputs.

usage: cost.py [--gb-per-day N] [--sources N]     the model, as Markdown, on stdout
       cost.py --write docs/cost.md               the document: the model explained, the default run
       cost.py --summary                          the short table README.md holds between its cost markers
       cost.py --measure                          the inputs measured on the project's sample, recomputed

Every input is in scripts/cost-inputs.json (INPUTS below), each with where it comes from: a template default (read
from template.yaml at run time), a measurement of this project (BENCHMARKS.md, the
README, or the sample batch and its golden output), a public price with the page and the
day it was read, or an assumption said to be one. Python standard library only.
"""
import argparse
import base64
import datetime
import gzip
import json
import math
import re
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
SAMPLE = ROOT / "events" / "large-batch.json"
GOLDEN = ROOT / "tests" / "golden" / "responses.txt"
DOC = ROOT / "docs" / "cost.md"
READ = "2026-12-05"

# Sources of the prices, named once. None of AWS's own pricing pages showed its rates in
# the stored copies searched on READ (the rate tables are filled in by script), so each
# figure is the last known public one, from the page named with it.
FIREHOSE_PAGE = (
    "Amazon Data Firehose pricing (aws.amazon.com/firehose/pricing/; German, Russian and "
    "Japanese editions read " + READ + ")"
)
FIREHOSE_FIGURES = (
    "last known public figure for us-east-1, from the 'Streaming on AWS' lesson of "
    "datavidhya.com's AWS data engineering course (the AWS page's rate table did not show)"
)
LAMBDA_FIGURES = (
    "price: AWS Lambda pricing (aws.amazon.com/lambda/pricing/) read " + READ + ", rate "
    "table not shown; last known public figure for us-east-1, from cloudchipr.com/blog/"
    "aws-lambda-pricing"
)
S3_FIGURES = (
    "price: Amazon S3 pricing (aws.amazon.com/s3/pricing/) read " + READ + ", rate table not "
    "shown; last known public figure for us-east-1, from "
)
CLOUDWATCH_FIGURES = (
    "price: Amazon CloudWatch pricing (aws.amazon.com/cloudwatch/pricing/) not among the "
    "stored pages on " + READ + "; last known public figure for us-east-1, from "
)

# Every input in one data file: name -> value (or the template parameter to read it from),
# unit and source ("measured: …", "price: <page> read <date>", "assumed: …").
INPUTS = {
    name: {**entry, "value": tuple(entry["value"])} if isinstance(entry.get("value"), list) else entry
    for name, entry in json.loads((Path(__file__).with_name("cost-inputs.json")).read_text(encoding="utf-8")).items()
}

TB = 10**12
GB = 10**9
MB = 10**6
MIB = 2**20


# ---------------------------------------------------------------- template.yaml defaults

def template_defaults(text):
    """`Default:` of each parameter under the top-level `Parameters:` key. Only what a
    CloudFormation template's parameter block needs: two-space parameter names, their
    four-space `Default:` scalars, quotes removed. Short tags (!Ref ...) live elsewhere
    in the template and are never read."""
    defaults = {}
    inside = False
    name = None
    for line in text.splitlines():
        if re.match(r"^\S", line):
            inside = line.rstrip() == "Parameters:"
            continue
        if not inside:
            continue
        declared = re.match(r"^  ([A-Za-z0-9]+):\s*$", line)
        if declared:
            name = declared.group(1)
            continue
        default = re.match(r"^    Default:\s*(.*?)\s*$", line)
        if default and name:
            value = default.group(1)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            defaults[name] = value
    return defaults


def number(text):
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def template_facts(text):
    """What the model relies on beyond the parameters, checked rather than assumed."""
    facts = {
        "arm64_functions": len(re.findall(r"^\s+Architectures: \[arm64\]\s*$", text, re.M)),
        "functions": len(re.findall(r"^\s+Type: AWS::Serverless::Function\s*$", text, re.M)),
        "bucket_keys": bool(re.search(r"^\s+- BucketKeyEnabled: true\s*$", text, re.M)),
        "gzip": bool(re.search(r"^\s+CompressionFormat: GZIP\s*$", text, re.M)),
        "key_rotation": bool(re.search(r"^\s+EnableKeyRotation: true\s*$", text, re.M)),
        "alarms": len(re.findall(r"^\s+Type: AWS::CloudWatch::Alarm\s*$", text, re.M)),
        "dashboards": len(re.findall(r"^\s+Type: AWS::CloudWatch::Dashboard\s*$", text, re.M)),
    }
    if facts["arm64_functions"] != facts["functions"] or not facts["functions"]:
        raise SystemExit("cost.py: template.yaml's functions are not all arm64; the Lambda price here is arm64's")
    for fact in ("bucket_keys", "gzip"):
        if not facts[fact]:
            raise SystemExit(f"cost.py: template.yaml no longer has {fact}; the model assumes it")
    return facts


def load_inputs(template_path=TEMPLATE, overrides=None):
    """The value of every input: template defaults read from the template, the rest as
    written above, then `overrides` (the run's own GB_PER_DAY and SOURCES)."""
    text = Path(template_path).read_text(encoding="utf-8")
    defaults = template_defaults(text)
    values = {}
    for name, entry in INPUTS.items():
        if "template" in entry:
            raw = defaults.get(entry["template"])
            if raw is None:
                raise SystemExit(f"cost.py: template.yaml has no Default for {entry['template']}")
            values[name] = raw if name == "transition_class" else number(raw)
        else:
            values[name] = entry["value"]
    values.update(overrides or {})
    values["facts"] = template_facts(text)
    return values


def source_of(name):
    entry = INPUTS[name]
    return entry.get("source") or f"default: template.yaml {entry['template']}"


# ---------------------------------------------------------------- the arithmetic

def firehose_billed_bytes(record_bytes, increment=5120):
    """Bytes Firehose bills for one record: its size rounded up to the next increment."""
    return max(1, math.ceil(record_bytes / increment)) * increment


def lambda_cpu_factor(memory_mb, mb_per_vcpu):
    """How much longer than on one full core: Lambda allots CPU in proportion to memory,
    one vCPU at `mb_per_vcpu`; a single-threaded run gains nothing above it."""
    return max(1.0, mb_per_vcpu / memory_mb)


class Item:
    """One line of the model: quantity x unit price = cost."""

    def __init__(self, name, quantity, quantity_unit, price, price_unit, how, per=1):
        self.name = name
        self.quantity = quantity
        self.quantity_unit = quantity_unit
        self.price = price
        self.price_unit = price_unit
        self.per = per
        self.how = how

    @property
    def cost(self):
        return self.quantity / self.per * self.price


def per_tb_items(v):
    """The pipeline's cost for 1 TB of logs (10^12 bytes as CloudWatch Logs counts them:
    UTF-8 message bytes plus 26 per event), at the run's rate of GB_PER_DAY."""
    payload = TB * v["payload_per_log_byte"]
    records_bytes = payload / v["input_gzip_ratio"]
    billed_bytes = records_bytes * v["ingest_rounding"]
    records = records_bytes / v["record_bytes_mean"]
    ndjson = payload * v["ndjson_per_payload_byte"]
    gzip_out = ndjson / v["output_gzip_ratio"]

    invocations = invocations_per_tb(v)
    decompressed_mb = payload / MB / invocations
    (mb_small, ms_small), (mb_large, ms_large) = v["processor_point_small"], v["processor_point_large"]
    ms_per_mb = (ms_large - ms_small) / (mb_large - mb_small)
    ms_fixed = ms_small - mb_small * ms_per_mb
    core_ms = (ms_fixed + ms_per_mb * decompressed_mb) / v["lambda_core_speed"]
    billed_ms = math.ceil(core_ms * lambda_cpu_factor(v["function_memory_mb"], v["lambda_mb_per_vcpu"]))
    gb_seconds = invocations * billed_ms / 1000 * v["function_memory_mb"] / 1024

    objects = objects_per_tb(v)
    kms_requests = objects * v["kms_requests_per_s3_request"]
    emf_gb = invocations * v["emf_bytes_per_invocation"] / GB
    standard_months = v["transition_days"] / v["days_per_month"] if v["transition_days"] else 1.0
    retention_months = v["log_retention_days"] / v["days_per_month"]

    return [
        Item("Firehose ingestion", billed_bytes / GB, "GB billed", v["firehose_usd_per_gb"], "per GB",
             f"{records_bytes / GB:,.1f} GB of records ({records:,.0f} records of {v['record_bytes_mean']:,.0f} bytes "
             f"on average), each rounded up to 5 KB: x{v['ingest_rounding']}"),
        Item("Dynamic partitioning, data", ndjson / GB, "GB", v["partitioning_usd_per_gb"], "per GB",
             f"the function's NDJSON: {payload / GB:,.1f} GB of payload x {v['ndjson_per_payload_byte']}"),
        Item("Dynamic partitioning, objects", objects, "objects", v["partitioning_usd_per_1000_objects"],
             "per 1,000 objects", objects_how(v), per=1000),
        Item("Lambda processor, duration", gb_seconds, "GB-s", v["lambda_arm_usd_per_gb_s"], "per GB-s",
             f"{invocations:,.0f} invocations x {billed_ms} ms x {v['function_memory_mb'] / 1024:g} GB: "
             f"{decompressed_mb:.2f} MB decompressed each, {ms_fixed:.2f} ms + {ms_per_mb:.2f} ms/MB on one core, "
             f"x{lambda_cpu_factor(v['function_memory_mb'], v['lambda_mb_per_vcpu']):.3f} at "
             f"{v['function_memory_mb']} MB"),
        Item("Lambda processor, requests", invocations, "invocations", v["lambda_usd_per_million_requests"],
             "per million", f"{records_bytes / GB:,.1f} GB of records / {v['processor_buffer_mb']} MB a batch "
             f"(or one each {v['processor_interval_s']} s when the stream fills a batch more slowly)",
             per=10**6),
        Item("Function metrics lines, CloudWatch Logs ingestion", emf_gb, "GB", v["logs_ingest_usd_per_gb"], "per GB",
             f"{invocations:,.0f} invocations x {v['emf_bytes_per_invocation']:,} bytes"),
        Item("Function metrics lines, CloudWatch Logs storage", emf_gb * retention_months, "GB-months",
             v["logs_storage_usd_per_gb_month"], "per GB-month",
             f"{emf_gb:.2f} GB kept {v['log_retention_days']} days ({retention_months:.1f} months)"),
        Item("S3 PUT", objects, "requests", v["s3_put_usd_per_1000"], "per 1,000", "one per object", per=1000),
        Item("S3 Standard storage", gzip_out / GB * standard_months, "GB-months",
             v["s3_standard_usd_per_gb_month"], "per GB-month",
             f"{ndjson / GB:,.1f} GB of NDJSON / {v['output_gzip_ratio']} (gzip) = {gzip_out / GB:,.1f} GB, "
             f"kept {v['transition_days']} days ({standard_months:.3f} months) before the transition"),
        Item(f"S3 lifecycle transition to {v['transition_class']}", objects if v["transition_days"] else 0,
             "requests", v["s3_transition_ia_usd_per_1000"], "per 1,000", "one per object", per=1000),
        Item("KMS requests", kms_requests, "requests", v["kms_usd_per_10000_requests"], "per 10,000",
             f"{objects:,.0f} PUTs x {v['kms_requests_per_s3_request']} (S3 Bucket Keys)", per=10000),
    ]


def invocations_per_tb(v):
    """One invocation per full processor buffer, or one per interval when the stream is
    too slow to fill it sooner."""
    records_bytes = TB * v["payload_per_log_byte"] / v["input_gzip_ratio"]
    by_size = records_bytes / (v["processor_buffer_mb"] * MB)
    by_interval = 86400 / v["processor_interval_s"] / (v["gb_per_day"] * GB / TB)
    return max(by_size, by_interval)


def hourly_ndjson_per_source(v):
    """Bytes of NDJSON one log group sends into one hour's partition."""
    day = v["gb_per_day"] * GB * v["payload_per_log_byte"] * v["ndjson_per_payload_byte"]
    return day / v["sources"] / 24


def objects_per_source_hour(v):
    """Firehose writes a partition's buffer when it is full or its interval has passed."""
    by_interval = 3600 / v["s3_interval_s"]
    by_size = math.ceil(hourly_ndjson_per_source(v) / (v["s3_buffer_mib"] * MIB))
    return max(by_interval, by_size)


def objects_per_tb(v):
    per_day = objects_per_source_hour(v) * 24 * v["sources"]
    return per_day / (v["gb_per_day"] * GB / TB)


def objects_how(v):
    return (f"{objects_per_source_hour(v):g} an hour for each of {v['sources']} log groups "
            f"(the {v['s3_interval_s']} s interval or the {v['s3_buffer_mib']} MiB buffer, whichever comes first; "
            f"{hourly_ndjson_per_source(v) / MB:,.0f} MB of NDJSON a log group an hour), "
            f"at {v['gb_per_day']:g} GB a day")


def later_months_item(v):
    """What each further month costs for each TB kept after the transition."""
    gzip_out = TB * v["payload_per_log_byte"] * v["ndjson_per_payload_byte"] / v["output_gzip_ratio"]
    if not v["transition_days"]:
        return Item("S3 Standard storage, each later month", gzip_out / GB, "GB-months",
                    v["s3_standard_usd_per_gb_month"], "per GB-month", "no transition")
    return Item(f"S3 {v['transition_class']} storage, each later month", gzip_out / GB, "GB-months",
                v["s3_ia_usd_per_gb_month"], "per GB-month",
                "ExpirationDays 0: kept until deleted" if not v["expiration_days"]
                else f"until day {v['expiration_days']}")


def history_items(v):
    """Converting 1 TB of export text (about 1 TB of logs: `<time> <message>` per event
    is within a byte of CloudWatch's message + 26) into the live layout."""
    text = TB
    export_objects = text * v["export_gzip_fraction"] / v["export_object_bytes"]
    outputs = text * v["converter_output_fraction"] / v["converter_output_bytes"]
    factor = lambda_cpu_factor(v["converter_memory_mb"], v["lambda_mb_per_vcpu"])
    seconds = text / MB / (v["converter_mb_per_s"] * v["lambda_core_speed"]) * factor
    gb_seconds = seconds * v["converter_memory_mb"] / 1024
    gzip_out = text * v["converter_output_fraction"]
    standard_months = v["transition_days"] / v["days_per_month"] if v["transition_days"] else 1.0
    return [
        Item("CloudWatch Logs export task", text / GB, "GB", v["export_task_usd_per_gb"], "per GB",
             "no CloudWatch charge for exporting"),
        Item("S3 PUT of the export objects", export_objects, "requests", v["s3_put_usd_per_1000"], "per 1,000",
             f"{text * v['export_gzip_fraction'] / GB:,.0f} GB of gzip in objects of {v['export_object_bytes'] / MB:g} MB",
             per=1000),
        Item("S3 Standard storage of the export objects, a month", text * v["export_gzip_fraction"] / GB, "GB-months",
             v["s3_standard_usd_per_gb_month"], "per GB-month",
             "each month they stay under exports/ (the converter deletes nothing)"),
        Item("S3 GET by the converter", export_objects, "requests", v["s3_get_usd_per_1000"], "per 1,000",
             "one per export object", per=1000),
        Item("Lambda converter, duration", gb_seconds, "GB-s", v["lambda_arm_usd_per_gb_s"], "per GB-s",
             f"{text / MB:,.0f} MB / {v['converter_mb_per_s']} MB/s x{factor:.3f} at {v['converter_memory_mb']} MB "
             f"= {seconds:,.0f} s x {v['converter_memory_mb'] / 1024:g} GB"),
        Item("Lambda converter, requests", export_objects, "invocations", v["lambda_usd_per_million_requests"],
             "per million", "one per export object", per=10**6),
        Item("S3 requests of the outputs", outputs * v["requests_per_output"], "requests",
             v["s3_put_usd_per_1000"], "per 1,000",
             f"{outputs:,.0f} outputs of {v['converter_output_bytes'] / MIB:g} MiB x {v['requests_per_output']}",
             per=1000),
        Item("S3 Standard storage of the outputs", gzip_out / GB * standard_months, "GB-months",
             v["s3_standard_usd_per_gb_month"], "per GB-month",
             f"{gzip_out / GB:,.0f} GB (gzip level 1), {v['transition_days']} days before the transition"),
        Item(f"S3 lifecycle transition to {v['transition_class']}", outputs if v["transition_days"] else 0,
             "requests", v["s3_transition_ia_usd_per_1000"], "per 1,000", "one per output", per=1000),
        Item("KMS requests", (export_objects * 2 + outputs * v["requests_per_output"])
             * v["kms_requests_per_s3_request"], "requests", v["kms_usd_per_10000_requests"], "per 10,000",
             "S3 requests x " + str(v["kms_requests_per_s3_request"]) + " (S3 Bucket Keys)", per=10000),
    ]


def athena_items(v):
    """The README's query 2: one log group, one hour (partition projection prunes the
    rest), scanning that partition's gzip objects."""
    scanned = hourly_ndjson_per_source(v) / v["output_gzip_ratio"]
    billed = max(scanned, v["athena_min_bytes"])
    return [
        Item("Athena scan", billed / TB, "TB", v["athena_usd_per_tb"], "per TB",
             f"{hourly_ndjson_per_source(v) / MB:,.0f} MB of NDJSON / {v['output_gzip_ratio']} = "
             f"{scanned / MB:,.1f} MB of gzip"),
        Item("S3 GET by Athena", objects_per_source_hour(v), "requests", v["s3_get_usd_per_1000"], "per 1,000",
             "one per object of the hour", per=1000),
    ]


def fixed_monthly_items(v):
    facts = v["facts"]
    keys = 1 + (1 if facts["key_rotation"] else 0)
    return [
        Item("KMS key", keys, "key-months", v["kms_key_usd_per_month"], "per key-month",
             "the stack's key, and its rotated backing key from the first yearly rotation on ($1 before)"
             if facts["key_rotation"] else "the stack's key"),
        Item("CloudWatch custom metrics", v["processor_metrics"] + v["converter_metrics"], "metrics",
             v["metric_usd_per_month"], "per metric-month", "the two functions' EMF metrics, one dimension value each"),
        Item("CloudWatch alarms", facts["alarms"], "alarms", v["alarm_usd_per_month"], "per alarm-month",
             "template.yaml"),
        Item("CloudWatch dashboard", facts["dashboards"], "dashboards", v["dashboard_usd_per_month"],
             "per dashboard-month", "template.yaml (free within an account's first 3)"),
    ]


def total(items):
    return sum(item.cost for item in items)


def tb_per_month(v):
    return v["gb_per_day"] * GB * v["days_per_month"] / TB


def sensitivity(v):
    """The model's largest uncertainties: (what changes, its line, the total per TB then)."""
    items = {item.name: item for item in per_tb_items(v)}
    base = total(items.values())
    partitioning = items["Dynamic partitioning, data"].cost
    price = v["partitioning_usd_per_gb"]
    ingested_gb = TB * v["payload_per_log_byte"] / v["input_gzip_ratio"] / GB
    gzip_gb = TB * v["payload_per_log_byte"] * v["ndjson_per_payload_byte"] / v["output_gzip_ratio"] / GB
    level_1 = dict(v, output_gzip_ratio=v["output_gzip_ratio_level_1"])
    no_bucket_keys = dict(v, kms_requests_per_s3_request=1)
    return [
        ("dynamic partitioning metered on the GB ingested, not the function's NDJSON",
         f"{ingested_gb:,.1f} GB x ${price_digits(price)}", base - partitioning + ingested_gb * price),
        ("dynamic partitioning metered on the gzip Firehose writes",
         f"{gzip_gb:,.1f} GB x ${price_digits(price)}", base - partitioning + gzip_gb * price),
        (f"Firehose's gzip at level 1 ({v['output_gzip_ratio_level_1']}x, not {v['output_gzip_ratio']}x)",
         "S3 storage", total(per_tb_items(level_1))),
        ("no S3 Bucket Keys: one KMS request per PUT", "KMS requests", total(per_tb_items(no_bucket_keys))),
    ]


# ---------------------------------------------------------------- the sample, measured

def golden_large_batch(golden_text):
    """From the golden output of large-batch.json under the default configuration: the
    NDJSON bytes of its Ok records, and which records were put back instead."""
    put_back = set()
    bytes_out = None
    for line in golden_text.splitlines():
        parts = line.split()
        if parts[:2] != ["default", "large-batch.json"]:
            continue
        if parts[2] == "payload":
            put_back.add(int(parts[3]))
        elif parts[2] == "metrics" and bytes_out is None:
            bytes_out = int(re.search(r"bytes_out: (\d+)", line).group(1))
        elif parts[2] == "all-put-back":
            break
    return bytes_out, put_back


def json_text(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def ndjson_lines(payload):
    """The function's lines for one subscription payload (README 'Output'), rebuilt only
    to measure how well they compress; `measure_sample` checks their length against the
    function's own count."""
    out = []
    for event in payload["logEvents"]:
        stamp = event["timestamp"]
        time = datetime.datetime.fromtimestamp(stamp // 1000, datetime.timezone.utc)
        line = ('{"time":%s,"timestamp":%d,"account":%s,"log_group":%s,"log_stream":%s,"id":%s,"message":%s,'
                '"subscription_filters":%s' % (
                    json_text(time.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (stamp % 1000)), stamp,
                    json_text(payload["owner"]), json_text(payload["logGroup"]), json_text(payload["logStream"]),
                    json_text(str(event["id"])), json_text(event["message"]),
                    json_text(payload["subscriptionFilters"])))
        if "policyLevel" in payload:
            line += ',"policy_level":' + json_text(payload["policyLevel"])
        if "extractedFields" in event:
            line += ',"extracted_fields":' + json_text(event["extractedFields"])
        out.append((line + "}\n").encode("utf-8"))
    return b"".join(out)


def gzip_size(data, level):
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    return len(compressor.compress(data) + compressor.flush())


def measure_sample(sample=SAMPLE, golden=GOLDEN, increment=5120):
    records = [base64.b64decode(r["data"]) for r in json.loads(Path(sample).read_text())["records"]]
    payloads = [gzip.decompress(r) for r in records]
    bytes_out, put_back = golden_large_batch(Path(golden).read_text())
    events = log_bytes = 0
    ok_payload = 0
    ndjson = bytearray()
    for index, raw in enumerate(payloads):
        payload = json.loads(raw)
        for event in payload["logEvents"]:
            events += 1
            log_bytes += len(event["message"].encode("utf-8")) + 26
        if index not in put_back:
            ok_payload += len(raw)
            ndjson += ndjson_lines(payload)
    if len(ndjson) != bytes_out:
        raise SystemExit(f"cost.py: rebuilt NDJSON is {len(ndjson):,} bytes, the function's {bytes_out:,}: "
                         "the line format changed; update ndjson_lines")
    compressed = {level: gzip_size(bytes(ndjson), level) for level in (1, 6)}
    record_bytes = sum(len(r) for r in records)
    payload_bytes = sum(len(p) for p in payloads)
    return {
        "record_bytes_mean": round(record_bytes / len(records), 1),
        "ingest_rounding": round(sum(firehose_billed_bytes(len(r), increment) for r in records) / record_bytes, 4),
        "payload_per_log_byte": round(payload_bytes / log_bytes, 4),
        "input_gzip_ratio": round(payload_bytes / record_bytes, 4),
        "ndjson_per_payload_byte": round(bytes_out / ok_payload, 4),
        "output_gzip_ratio": round(len(ndjson) / compressed[6], 4),
        "output_gzip_ratio_level_1": round(len(ndjson) / compressed[1], 4),
    }


# ---------------------------------------------------------------- Markdown

def plain(value, digits=3):
    """A number without an exponent: whole above 100, else `digits` significant digits."""
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    places = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{places}f}"


def money(value):
    if abs(value) >= 1 or value == 0:
        return "$" + (f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}")
    return "$" + plain(value, 2)


def amount(value):
    if float(value).is_integer():
        return f"{value:,.0f}"
    return plain(value)


def price_digits(price):
    """A unit price as published: every digit it has."""
    return f"{price:.10f}".rstrip("0").rstrip(".")


def price_text(item):
    return f"${price_digits(item.price)} {item.price_unit}"


def table(items, total_label=None):
    rows = ["| item | quantity | x unit price | = cost | how |", "| --- | --- | --- | --- | --- |"]
    for item in items:
        rows.append(f"| {item.name} | {amount(item.quantity)} {item.quantity_unit} | {price_text(item)} "
                    f"| {money(item.cost)} | {item.how} |")
    if total_label:
        rows.append(f"| **{total_label}** | | | **{money(total(items))}** | sum of the lines above |")
    return rows


def run_parameters(v):
    return (f"{v['gb_per_day']:g} GB of logs a day from {v['sources']} log groups, us-east-1, "
            f"the template's defaults")


def model_markdown(v):
    tb_month = tb_per_month(v)
    items = per_tb_items(v)
    later = later_months_item(v)
    history = history_items(v)
    athena = athena_items(v)
    fixed = fixed_monthly_items(v)
    per_tb = total(items)
    lines = [
        f"### Per TB of logs ({run_parameters(v)})",
        "",
        "A TB of logs is 10^12 bytes as CloudWatch Logs counts them (UTF-8 message bytes plus 26 per event).",
        "",
        *table(items, "total per TB, its first month in S3"),
        "",
        f"Then, each month it is kept ({later.how}): {later.name}: {amount(later.quantity)} "
        f"{later.quantity_unit} x {price_text(later)} = **{money(later.cost)} per TB a month**.",
        "",
        "What the largest uncertainties would make of the total per TB:",
        "",
        "| if | line | total per TB |",
        "| --- | --- | --- |",
        *[f"| {case} | {line} | {money(value)} |" for case, line, value in sensitivity(v)],
        "",
        f"### Per month at {v['gb_per_day']:g} GB a day",
        "",
        f"{v['gb_per_day']:g} GB x {v['days_per_month']:.4g} days = {tb_month:.3f} TB a month.",
        "",
        "| item | = cost a month |",
        "| --- | --- |",
        f"| the per-TB items: {tb_month:.3f} TB x {money(per_tb)} | {money(tb_month * per_tb)} |",
        f"| fixed: {', '.join(i.name for i in fixed)} (below) | {money(total(fixed))} |",
        f"| **total a month** (storage of the month's data included) | **{money(tb_month * per_tb + total(fixed))}** |",
        f"| then, for every month of data already moved to {v['transition_class']}: "
        f"{tb_month:.3f} TB x {money(later.cost)} | {money(tb_month * later.cost)} more each month |",
        "",
        "Fixed a month, whatever the volume:",
        "",
        *table(fixed, "fixed a month"),
        "",
        "### History: per TB of export text converted (export tasks, setup 4)",
        "",
        "Export text is `<time> <message>` a line, within a byte per event of what CloudWatch Logs counts, so a TB "
        "of export text is about a TB of logs. No Firehose is involved.",
        "",
        *table(history, "total per TB of export text"),
        "",
        "### Athena: the README's query 2 (one log group, one hour)",
        "",
        *table(athena, "per query"),
        "",
        f"A thousand such queries: {money(1000 * total(athena))}. A query over data already in "
        f"{v['transition_class']} adds its retrieval, {money(v['s3_ia_retrieval_usd_per_gb'])} per GB scanned.",
        "",
        "### Not in the totals: CloudWatch Logs ingestion",
        "",
        f"The logs are ingested by CloudWatch Logs before a subscription filter sends them on: 1,000 GB x "
        f"{money(v['logs_ingest_usd_per_gb'])}/GB = {money(1000 * v['logs_ingest_usd_per_gb'])} per TB, the "
        "account's existing cost with or without this pipeline. A subscription filter adds no CloudWatch charge of "
        "its own (last known: c3x.dev/resources/aws/aws_cloudwatch_log_group, 'free for the subscription; cost is "
        "on the destination'); the records it delivers are billed by Firehose as ingestion (the first line above), "
        "with the 5 KB rounding. Firehose's Vended Logs pricing, per GB without the rounding, is for logs that AWS "
        "services deliver to Firehose themselves, not for subscription filters; the Firehose page names the "
        "source types without listing which services count as Vended Logs, so that reading is this model's.",
    ]
    return lines


def inputs_markdown(v):
    rows = ["| input | value | unit | source |", "| --- | --- | --- | --- |"]
    for name in INPUTS:
        value = v[name]
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        rows.append(f"| `{name}` | {shown} | {INPUTS[name]['unit']} | {source_of(name)} |")
    return rows


def measured_markdown():
    names = [name for name in INPUTS if source_of(name).startswith(("measured", "estimated", "counted"))]
    return [f"- `{name}`: {source_of(name)}" for name in names]


def report(v):
    return "\n".join([
        "## What the pipeline costs",
        "",
        *model_markdown(v),
        "",
        "### Which inputs were measured in this project",
        "",
        *measured_markdown(),
        "",
        "Not measured: the objects per partition and hour (from the template's buffer interval and size), the "
        "speed of an arm64 Lambda vCPU, the size of the export service's objects and Firehose's gzip level.",
        "",
        "### Every input",
        "",
        *inputs_markdown(v),
        "",
    ])


def summary(v):
    items = per_tb_items(v)
    groups = [
        ("Firehose ingestion (records rounded up to 5 KB)", ["Firehose ingestion"]),
        ("Firehose dynamic partitioning (per GB, per object)", ["Dynamic partitioning, data",
                                                                "Dynamic partitioning, objects"]),
        ("Lambda processor, arm64 (duration, requests)", ["Lambda processor, duration", "Lambda processor, requests"]),
        ("S3 (PUTs, first month in Standard, transition)", ["S3 PUT", "S3 Standard storage",
                                                            f"S3 lifecycle transition to {v['transition_class']}"]),
        ("KMS (S3 Bucket Keys) and the function's metrics lines", [
            "KMS requests", "Function metrics lines, CloudWatch Logs ingestion",
            "Function metrics lines, CloudWatch Logs storage"]),
    ]
    by_name = {item.name: item.cost for item in items}
    named = [name for _, names in groups for name in names]
    if sorted(named) != sorted(by_name):
        raise SystemExit("cost.py: the summary's groups do not cover the model's items")
    later = later_months_item(v)
    lines = [
        f"| per TB of logs ({v['gb_per_day']:g} GB a day, {v['sources']} log groups, us-east-1) | cost |",
        "| --- | --- |",
        *[f"| {label} | {money(sum(by_name[n] for n in names))} |" for label, names in groups],
        f"| **total per TB** | **{money(total(items))}** |",
        f"| then each month kept, {v['transition_class']} | {money(later.cost)} |",
    ]
    return "\n".join(lines) + "\n"


DOC_HEAD = """\
# What the pipeline costs

The cost of the pipeline per TB of logs, and per month at a given volume, for
`template.yaml`'s default parameters in us-east-1, every line shown as quantity x unit
price = cost. The README's summary is in [What it costs](../README.md#what-it-costs).
This page is written by `scripts/cost.py --write docs/cost.md`; a test checks that it
still is what the script writes.

```sh
make cost GB_PER_DAY=250 SOURCES=40   # the model for your volume and number of log groups
make cost-doc                         # rewrite this page (the default run) and print the README's summary
```

## The model

One TB of logs, counted as CloudWatch Logs counts its ingestion, goes through:

1. **CloudWatch Logs to Firehose.** A subscription filter sends the events as gzip
   subscription payloads, one Firehose record each. The payload JSON is larger than the
   log (`payload_per_log_byte`) and gzip makes it smaller (`input_gzip_ratio`). Firehose
   bills each record rounded up to the next 5 KB (`ingest_rounding`, from the sample's
   record sizes).
2. **The processor function.** Firehose hands it `ProcessorBufferSizeMB` of records per
   invocation. Its billed duration is a straight line through two measured points (a
   fixed part and a part per decompressed MB, on one core), stretched by Lambda's CPU
   share at `FunctionMemoryMB` (one vCPU at 1,769 MB), rounded up to the millisecond.
   Each invocation also writes one metrics line to CloudWatch Logs.
3. **Dynamic partitioning.** Firehose charges per GB and per object it delivers. The
   GB are taken as the function's NDJSON (`ndjson_per_payload_byte`); objects come from
   the per-partition buffer: one per `S3BufferIntervalSeconds` for each log group and
   hour, or more when a log group fills `S3BufferSizeMB` sooner.
4. **S3.** One PUT per object; the gzip output (`output_gzip_ratio`) stays in Standard
   for `TransitionDays`, then moves to `TransitionStorageClass` (one request per object)
   and stays there (`ExpirationDays` 0). KMS requests are few: the bucket's S3 Bucket
   Keys spare most of them.

The history path (export tasks converted by the export converter) is priced apart, per TB
of export text, and so is an Athena query, per query.
Nothing here counts the free tiers (Lambda, KMS, CloudWatch), which would lower a small
account's bill.

## What is uncertain

- **Dynamic partitioning's GB.** The sources read say "per GB" without saying whether
  that is the GB ingested, the GB after the transformation or the GB written after
  Firehose's gzip. The model takes the transformation's NDJSON, the largest, which makes
  it the largest item; the run below shows the total for the other two readings.
- **Prices.** AWS's own pricing pages did not show their rates in the stored copies that
  could be searched; each figure is the last known public one, with its source in the
  inputs below. Check them against the AWS pages before relying on the totals.
- **Lambda's speed.** The processor and converter were measured on an x86-64 core; the
  model assumes an arm64 Lambda vCPU is as fast.
- **Firehose's gzip level** is not published: the model takes level 6; the run below
  shows the total at level 1.
- **Firehose's PUTs.** One PUT per object is assumed; Firehose may upload large objects
  in parts, each part a request.
- **Units.** GB and TB are decimal throughout; AWS meters some items in binary units
  (GiB), which would make those lines up to 7% smaller.
- **The sample.** Record sizes, compressibility and the NDJSON expansion come from one
  generated batch of realistic logs; real log groups differ (short messages expand more,
  large subscription records round up less).
- **Not modelled:** Firehose's own KMS calls for the stream's encryption (their count is
  not published), EventBridge records (a CloudTrail event of 2 KB bills as 5 KB), records
  re-ingested when a batch does not fit (rare at 0.25 MB batches), data transfer (none
  within the region), Glue (partition projection makes no catalog calls per partition)
  and the SNS and SQS queues (idle in normal running).

## The default run

"""


def document(v):
    return DOC_HEAD + report(v).split("\n", 2)[2]


def main(argv=None):
    parser = argparse.ArgumentParser(description="The pipeline's cost model, from its inputs.")
    parser.add_argument("--gb-per-day", type=float, help="GB of logs a day (default: the inputs' gb_per_day)")
    parser.add_argument("--sources", type=int, help="log groups sending (default: the inputs' sources)")
    parser.add_argument("--write", metavar="PATH", help="write the document (the default run) to PATH")
    parser.add_argument("--summary", action="store_true", help="print the README's summary table")
    parser.add_argument("--measure", action="store_true", help="recompute the inputs measured on the sample")
    args = parser.parse_args(argv)
    overrides = {}
    if args.gb_per_day is not None:
        if args.gb_per_day <= 0:
            parser.error("--gb-per-day must be above 0")
        overrides["gb_per_day"] = args.gb_per_day
    if args.sources is not None:
        if args.sources < 1:
            parser.error("--sources must be at least 1")
        overrides["sources"] = args.sources
    if args.measure:
        for name, value in measure_sample().items():
            print(f"{name} = {value}   (INPUTS: {INPUTS[name]['value']})")
        return 0
    if args.write:
        if overrides:
            parser.error("--write writes the default run; leave out --gb-per-day and --sources")
        Path(args.write).parent.mkdir(parents=True, exist_ok=True)
        Path(args.write).write_text(document(load_inputs()), encoding="utf-8")
        print(f"wrote {args.write}")
        return 0
    values = load_inputs(overrides=overrides)
    sys.stdout.write(summary(values) if args.summary else report(values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
