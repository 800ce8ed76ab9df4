#!/usr/bin/env python3
"""The lake on a laptop: sample events through the function, objects as Firehose writes
them, and the README's Athena queries run by DuckDB over the Glue tables' own schema.

usage: lake.py run [--root DIR] [--layout LAYOUT] [EVENT ...]   build the lake, print the queries
       lake.py build [--root DIR] [--layout LAYOUT] [EVENT ...] build only
       lake.py sql [--root DIR] [--layout LAYOUT] "SELECT ..."  one query over an existing lake

`build` runs every event (default: every events/*.json) through the function under
`cargo lambda watch` / `cargo lambda invoke`, with a local moto server as the delivery
stream (and Kinesis source) that the function re-ingests into. What was re-ingested is
read back and handed to the function again, as Firehose would, until nothing is left.
Then, as Firehose with dynamic partitioning would:
- each `Ok` record's data goes to the prefix that template.yaml's `Prefix` gives for the
  record's partition keys, one gzip object per prefix, named
  `<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><FileExtension>`;
- each `ProcessingFailed` record goes under `ErrorOutputPrefix` with error type
  `processing-failed`, as Firehose's error record (the original data base64 in rawData).
Times come from the records' approximateArrivalTimestamp (the simulated clock), so the
same inputs always give the same tree.
"""
import argparse
import base64
import datetime
import gzip
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import devkit  # noqa: E402
from devkit import CREDENTIALS, EXPORT_CONVERTER, REGION, ROOT  # noqa: E402
from devkit import PROCESSOR as FUNCTION  # noqa: E402
from lake_schema import PrefixError, Template, firehose_expression  # noqa: E402

DEFAULT_LAKE = ROOT / "target" / "lake"
MARKER = ".lake"                 # marks a folder this script may wipe and rewrite
HISTORY = ROOT / "events" / "exports" / "history.json"
# The lake parses JSON messages unless told otherwise, so that `message_json` is filled.
LAKE_DEFAULTS = {"PARSE_JSON_MESSAGES": "true", "REINGEST_SAFETY_MARGIN_MS": "2000"}
MAX_ROUNDS = 10
STREAM_VERSION = 1
# Firehose's error record for a record the function answered ProcessingFailed.
PROCESSING_FAILED = ("Lambda.ProcessingFailedStatus", "ProcessingFailed status set for record")


def log(text=""):
    print(text, flush=True)


def split_payloads(blob):
    """The records in one object moto's Firehose wrote: concatenated gzip members or JSON."""
    out = []
    while blob:
        if blob[:2] == b"\x1f\x8b":
            d = zlib.decompressobj(wbits=31)
            d.decompress(blob)
            d.flush()
            size = len(blob) - len(d.unused_data)
        else:
            text = blob.decode("utf-8")
            _, end = json.JSONDecoder().raw_decode(text)
            size = len(text[:end].encode("utf-8"))
        out.append(blob[:size])
        blob = blob[size:].lstrip(b"\n")
    return out


class LocalFirehose:
    """The function under `cargo lambda watch`, and a moto server for re-ingestion."""

    def __init__(self, workdir, extra_env=None, history=False, quiet=False):
        self.workdir = Path(workdir)
        self.history, self.quiet = history, quiet
        self.extra_env = dict(extra_env or {})
        self.servers = []
        self.streams = {}      # delivery stream name -> re-ingestion bucket
        self.kinesis = {}      # kinesis stream name -> shard iterator
        self.invocations = 0

    def __enter__(self):
        # cargo-lambda and moto_server live beside this interpreter (the tools venv).
        os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        try:
            return self._start()
        except BaseException:
            self.__exit__()     # `with` calls it only once __enter__ has returned
            raise

    def _start(self):
        moto = devkit.start_moto(self.workdir / "moto.log")
        self.servers.append(moto)
        self.endpoint = moto.endpoint
        self.s3, self.firehose, self.kinesis_client = devkit.clients(
            self.endpoint, "s3", "firehose", "kinesis")
        # Build first, in the open: the emulator would build on the first invoke, silently.
        binaries = [FUNCTION] + ([EXPORT_CONVERTER] if self.history else [])
        subprocess.run(["cargo", "build", *sum((["--bin", b] for b in binaries), [])],
                       cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL if self.quiet else None,
                       stderr=subprocess.DEVNULL if self.quiet else None)
        # The function's settings, passed through when set in the shell (as `make invoke`
        # does); the names are the ones the function lists itself.
        self.function_settings = devkit.function_settings(FUNCTION)
        env = {**LAKE_DEFAULTS,
               **{k: os.environ[k] for k in self.function_settings if os.environ.get(k)},
               "AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": REGION, **CREDENTIALS,
               **self.extra_env}
        self.settings = env
        watch = devkit.start_watch(self.workdir / "watch.log", env, ignore_changes=True)
        self.servers.append(watch)
        self.port, self.watch_log = watch.port, watch.log_path
        return self

    def __exit__(self, *exc):
        for server in reversed(self.servers):
            server.stop()

    def prepare(self, event):
        """Creates the event's delivery stream (and Kinesis source) in moto, once."""
        stream = event["deliveryStreamArn"].rsplit("/", 1)[-1]
        if stream not in self.streams:
            bucket = f"reingested-{len(self.streams)}"
            self.s3.create_bucket(Bucket=bucket)
            self.firehose.create_delivery_stream(
                DeliveryStreamName=stream,
                ExtendedS3DestinationConfiguration={
                    "RoleARN": "arn:aws:iam::123456789012:role/local",
                    "BucketARN": f"arn:aws:s3:::{bucket}"})
            self.streams[stream] = bucket
        kinesis_arn = event.get("sourceKinesisStreamArn")
        if kinesis_arn:
            name = kinesis_arn.rsplit("/", 1)[-1]
            if name not in self.kinesis:
                self.kinesis_client.create_stream(StreamName=name, ShardCount=1)

                def active():
                    desc = self.kinesis_client.describe_stream(StreamName=name)["StreamDescription"]
                    return desc if desc["StreamStatus"] == "ACTIVE" else None

                desc = devkit.wait_for(active, 10, 0.25)
                if desc is None:
                    raise RuntimeError(f"Kinesis stream {name} not ACTIVE after 10 s")
                shard = desc["Shards"][0]["ShardId"]
                self.kinesis[name] = (shard, self.kinesis_client.get_shard_iterator(
                    StreamName=name, ShardId=shard,
                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"])

    def invoke(self, event, function=FUNCTION):
        out = devkit.invoke(function, event, self.port, timeout=1200, workdir=self.workdir)
        self.invocations += 1
        if out.returncode != 0:
            tail = self.watch_log.read_text(errors="replace")[-4000:]
            raise RuntimeError(f"invoke failed: {out.stderr}\n{tail}")
        response = json.loads(out.stdout)
        if function != FUNCTION:
            return response
        sent = [r["recordId"] for r in event["records"]]
        got = [r["recordId"] for r in response["records"]]
        if sorted(sent) != sorted(got) or len(set(got)) != len(got):
            raise RuntimeError("the response does not answer every recordId exactly once "
                               "(Firehose would fail the whole batch)")
        return response

    def take_reingested(self, event):
        """What the function put back into the event's stream since the last call."""
        kinesis_arn = event.get("sourceKinesisStreamArn")
        if kinesis_arn:
            name = kinesis_arn.rsplit("/", 1)[-1]
            shard, iterator = self.kinesis[name]
            records = []
            while True:
                page = self.kinesis_client.get_records(ShardIterator=iterator)
                iterator = page["NextShardIterator"]
                records += page["Records"]
                if not page["Records"]:
                    break
            self.kinesis[name] = (shard, iterator)
            return [(r["Data"], {"shardId": shard, "partitionKey": r["PartitionKey"],
                                 "sequenceNumber": r["SequenceNumber"], "subsequenceNumber": 0})
                    for r in records]
        bucket = self.streams[event["deliveryStreamArn"].rsplit("/", 1)[-1]]
        payloads = []
        for item in self.s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            body = self.s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            payloads += [(p, None) for p in split_payloads(body)]
            self.s3.delete_object(Bucket=bucket, Key=item["Key"])
        return payloads


class Lake:
    """What Firehose writes to S3, gathered in memory, then written as one object per prefix."""

    def __init__(self, template):
        self.template = template
        destination = template.s3_destination()
        self.prefix = destination["Prefix"]
        self.error_prefix = destination["ErrorOutputPrefix"]
        self.extension = destination.get("FileExtension", "")
        self.compression = destination.get("CompressionFormat", "UNCOMPRESSED")
        self.stream = template.ref("DeliveryStreamName")
        self.lambda_arn = template.getatt("ProcessorFunction", "Arn")
        self.objects = defaultdict(lambda: {"data": [], "arrival": None, "records": 0})
        self.results = Counter()
        self.errors = 0

    def _add(self, prefix, data, arrival):
        obj = self.objects[prefix]
        obj["data"].append(data)
        obj["records"] += 1
        obj["arrival"] = arrival if obj["arrival"] is None else min(obj["arrival"], arrival)

    def deliver(self, keys, data, arrival):
        if not data:
            return      # Ok with no data: Firehose has nothing to write
        try:
            prefix = firehose_expression(self.prefix, keys, arrival)
        except PrefixError as e:
            raise RuntimeError(f"partition keys {keys}: {e}; Firehose would send the record "
                               "to the error prefix") from e
        self._add(prefix, data, arrival)

    def fail(self, raw_b64, arrival, ending, error=PROCESSING_FAILED,
             error_type="processing-failed"):
        code, message = error
        record = {"attemptsMade": 1, "arrivalTimestamp": arrival, "errorCode": code,
                  "errorMessage": message, "attemptEndingTimestamp": ending,
                  "rawData": raw_b64, "lambdaARN": self.lambda_arn}
        prefix = firehose_expression(self.error_prefix, None, arrival, error_type)
        self._add(prefix, (json.dumps(record, separators=(",", ":")) + "\n").encode(), arrival)
        self.errors += 1

    def write(self, root):
        written = []
        for prefix in sorted(self.objects):
            obj = self.objects[prefix]
            body = b"".join(obj["data"])
            when = datetime.datetime.fromtimestamp(obj["arrival"] / 1000, tz=datetime.timezone.utc)
            name = (f"{self.stream}-{STREAM_VERSION}-{when:%Y-%m-%d-%H-%M-%S}-"
                    f"{uuid.UUID(hashlib.sha256(prefix.encode() + body).hexdigest()[:32])}"
                    f"{self.extension}")
            path = Path(root) / prefix / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if self.compression == "GZIP":
                body = gzip.compress(body, mtime=0)
            path.write_bytes(body)
            written.append((path, obj["records"], body))
        return written


def firehose_event(template_event, payloads, arrival):
    """A new batch, as Firehose would hand the re-ingested records to the function again."""
    event = {k: v for k, v in template_event.items() if k != "records"}
    event["invocationId"] = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{arrival}-{len(payloads)}"))
    records = []
    for i, (data, kinesis) in enumerate(payloads):
        record = {"recordId": f"reingested-{arrival}-{i:06d}", "approximateArrivalTimestamp": arrival,
                  "data": base64.b64encode(data).decode()}
        if kinesis:
            record["kinesisRecordMetadata"] = {**kinesis, "approximateArrivalTimestamp": arrival}
        records.append(record)
    event["records"] = records
    return event


def history_available():
    """Whether this package has the export converter (binary export-converter)."""
    return (ROOT / "src" / "bin" / f"{EXPORT_CONVERTER}.rs").exists() and \
        os.environ.get("LAKE_HISTORY", "1") not in ("0", "false", "no", "off")


def convert_history(firehose, fixture, root, say):
    """Export-task objects through the export converter (S3 on moto), its outputs into the lake.

    The fixture's objects are gzipped and put into a local bucket under their keys; one S3
    "Object Created" notification per object is handed to the converter, which reads the
    object and writes its outputs through the AWS SDK (AWS_ENDPOINT_URL: the moto server).
    Every object it wrote under logs/ is then copied to the same key in the lake.
    """
    from urllib.parse import quote_plus
    spec = json.loads(Path(fixture).read_text(encoding="utf-8"))
    bucket = "lake-history"
    s3 = firehose.s3
    s3.create_bucket(Bucket=bucket)
    report = Counter()
    for obj in spec["objects"]:
        body = obj["text"].encode("utf-8")
        if obj["key"].endswith(".gz"):
            body = gzip.compress(body, mtime=0)
        s3.put_object(Bucket=bucket, Key=obj["key"], Body=body)
        event = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
                              "awsRegion": REGION, "eventName": "ObjectCreated:Put",
                              "s3": {"bucket": {"name": bucket},
                                     "object": {"key": quote_plus(obj["key"], safe="/"),
                                                "size": len(body)}}}]}
        answer = firehose.invoke(event, EXPORT_CONVERTER)
        report.update({k: v for k, v in answer.items() if isinstance(v, int)})
    written = []
    for item in s3.list_objects_v2(Bucket=bucket, Prefix="logs/").get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        path = Path(root) / item["Key"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        lines = gzip.decompress(body).decode().splitlines()
        written.append((path, len(lines), body))
    say(f"  {os.path.relpath(fixture, ROOT)}: {len(spec['objects'])} export objects through "
        f"{EXPORT_CONVERTER}: " + ", ".join(f"{k} {v}" for k, v in sorted(report.items())) +
        f"; {len(written)} objects under logs/")
    return written


def prepare_root(root):
    root = Path(root)
    if root.exists():
        if not (root / MARKER).exists() and any(root.iterdir()):
            raise SystemExit(f"{root} exists and is not a lake this script wrote; not touching it")
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / MARKER).write_text("written by scripts/lake.py; rewritten on every run\n")
    return root


def build(events, root=DEFAULT_LAKE, layout=None, quiet=False, history=None):
    """Runs the events through the function and writes the lake. Returns a summary dict.

    `history`: an export fixture to put through the export converter too (default: the
    samples' when the converter exists; False: none)."""
    if history is None:
        history = HISTORY if history_available() else False
    started = time.time()
    template = Template(ROOT / "template.yaml", {"PartitionLayout": layout} if layout else None)
    root = prepare_root(root)
    lake = Lake(template)
    say = (lambda *_: None) if quiet else log
    summary = {"events": [], "rounds": 0, "lines": [], "failed_raw": [], "reingested": 0,
               "history": []}
    extra = {"PARTITION_LAYOUT": template.param("PartitionLayout")}
    with tempfile.TemporaryDirectory(prefix="lake-") as work, \
            LocalFirehose(work, extra, bool(history), quiet) as firehose:
        summary["settings"] = {k: v for k, v in firehose.settings.items()
                               if k in firehose.function_settings}
        for path in events:
            with open(path, encoding="utf-8") as f:
                event = json.load(f)
            firehose.prepare(event)
            counts = Counter()
            rounds = 0
            batch = event
            while True:
                response = firehose.invoke(batch)
                by_id = {r["recordId"]: r for r in batch["records"]}
                clock = max(r.get("approximateArrivalTimestamp", 0) for r in batch["records"])
                for answer in response["records"]:
                    sent = by_id[answer["recordId"]]
                    arrival = sent.get("approximateArrivalTimestamp", clock)
                    counts[answer["result"]] += 1
                    if answer["result"] == "Ok":
                        data = base64.b64decode(answer.get("data") or "")
                        keys = (answer.get("metadata") or {}).get("partitionKeys") or {}
                        lake.deliver(keys, data, arrival)
                        summary["lines"] += [(keys, line) for line in data.decode().splitlines()]
                    elif answer["result"] == "ProcessingFailed":
                        lake.fail(sent["data"], arrival, clock + 1000)
                        summary["failed_raw"].append(sent["data"])
                    elif answer["result"] != "Dropped":
                        raise RuntimeError(f"result {answer['result']!r} is not a Firehose result")
                payloads = firehose.take_reingested(event)
                if not payloads:
                    break
                rounds += 1
                summary["reingested"] += len(payloads)
                if rounds > MAX_ROUNDS:
                    raise RuntimeError(f"{path}: still re-ingesting after {MAX_ROUNDS} rounds")
                batch = firehose_event(event, payloads, clock + 1000)
            summary["rounds"] += rounds
            lake.results.update(counts)
            summary["events"].append((str(path), dict(counts), rounds))
            say(f"  {os.path.relpath(path, ROOT)}: " +
                ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) +
                (f"; {rounds} re-ingestion round{'s' * (rounds > 1)}" if rounds else ""))
        written = lake.write(root)
        if history:
            summary["history"] = convert_history(firehose, history, root, say)
        summary["invocations"] = firehose.invocations
    summary.update(root=root, written=written, template=template, results=dict(lake.results),
                   seconds=time.time() - started)
    return summary


# ---------------------------------------------------------------- DuckDB

# Athena functions DuckDB lacks, defined with Athena's meaning (see docs/local-lake.md).
MACROS = [
    # Athena: the scalar at the path as varchar; NULL when it is an object or an array.
    "CREATE OR REPLACE MACRO json_extract_scalar(j, path) AS "
    "CASE WHEN json_type(j, path) IN ('OBJECT', 'ARRAY') THEN NULL "
    "ELSE json_extract_string(j, path) END",
]

# The mechanical differences between the README's Athena SQL and DuckDB's, applied to the
# query text, in order. Nothing else in a query is changed.
ATHENA_TO_DUCKDB = [
    # The clock: `current_date` is the lake's today (the newest dt in it, or TODAY=...),
    # so that relative ranges select the samples whatever day it is.
    (r"\bcurrent_date\b", lambda today: f"DATE '{today}'"),
    # Athena: date - interval 'N' day is a date; DuckDB makes it a timestamp (so a cast to
    # varchar would read '2026-11-21 00:00:00'). Cast it back to a date.
    (r"(DATE '\d{4}-\d{2}-\d{2}')\s*-\s*interval\s*'(\d+)'\s*day\b",
     lambda today: r"CAST(\1 - INTERVAL '\2' DAY AS DATE)"),
]


def athena_to_duckdb(sql, today):
    for pattern, replacement in ATHENA_TO_DUCKDB:
        sql = re.sub(pattern, replacement(today), sql, flags=re.IGNORECASE)
    return sql


def readme_queries(readme=ROOT / "README.md"):
    """Every statement of the README's ```sql blocks: [(title, sql)], title from `-- N. ...`."""
    text = Path(readme).read_text(encoding="utf-8")
    queries = []
    for block in re.findall(r"```sql\n(.*?)```", text, flags=re.DOTALL):
        for statement in block.split(";"):
            lines = [l for l in statement.strip().splitlines()]
            if not any(l.strip() and not l.strip().startswith("--") for l in lines):
                continue
            title = next((l.strip()[2:].strip() for l in lines if l.strip().startswith("--")), "")
            sql = "\n".join(l for l in lines if not l.strip().startswith("--")).strip()
            queries.append((title, sql))
    return queries


def tables(template):
    return [template.table("LogsTable"), template.table("EventsTable")]


def connect(root=DEFAULT_LAKE, layout=None, template=None):
    import duckdb
    template = template or Template(ROOT / "template.yaml",
                                    {"PartitionLayout": layout} if layout else None)
    db = duckdb.connect()
    for macro in MACROS:
        db.execute(macro)
    bucket = template.bucket()
    root = Path(root).resolve()
    for table in tables(template):
        db.execute(f'CREATE SCHEMA IF NOT EXISTS "{table.database}"')
        has_files = bool(list(root.glob(table.glob(bucket, root)[len(str(root)) + 1:])))
        db.execute(table.view_sql(bucket, root, has_files))
    return db


def invisible_objects(root, template):
    """Objects under a table's location that its projection would never read."""
    root = Path(root).resolve()
    bucket = template.bucket()
    out = []
    for table in tables(template):
        base = table.location[len(f"s3://{bucket}/"):]
        regex = re.compile(table.path_regex(bucket, root))
        order = table.template_keys()
        for path in sorted((root / base).rglob("*")):
            if path.is_dir():
                continue
            m = regex.match(str(path))
            if not m or not all(table.projection_fits(k, v) for k, v in zip(order, m.groups())):
                out.append(path)
    return out


def newest_dt(db, template):
    rows = [db.execute(f'SELECT max(dt) FROM "{t.database}"."{t.name}"').fetchall()[0][0]
            for t in tables(template)]
    rows = [r for r in rows if r]
    return max(rows) if rows else datetime.date.today().isoformat()


def show(db, sql, width=150):
    relation = db.sql(sql)
    rows = relation.fetchall()
    names = relation.columns
    cells = [[("NULL" if v is None else str(v)).replace("\n", "\\n") for v in row] for row in rows]
    widths = [len(n) for n in names]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    budget = max(12, (width - 3 * len(names)) // max(1, len(names)))
    # Give narrow columns what they need and share the rest among the wide ones.
    spare = width - 3 * len(names) - sum(min(w, budget) for w in widths)
    widths = [min(w, budget + max(0, spare) // max(1, sum(x > budget for x in widths)))
              for w in widths]

    def clip(text, w):
        return text if len(text) <= w else text[: w - 1] + "…"
    lines = [" | ".join(clip(n, w).ljust(w) for n, w in zip(names, widths)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(clip(c, w).ljust(w) for c, w in zip(row, widths)) for row in cells]
    lines.append(f"({len(rows)} row{'s' * (len(rows) != 1)})")
    return rows, "\n".join(lines)


def run_queries(root, template, today=None):
    db = connect(root, template=template)
    today = today or os.environ.get("TODAY") or newest_dt(db, template)
    for table in tables(template):
        count = db.execute(f'SELECT count(*) FROM "{table.database}"."{table.name}"').fetchall()[0][0]
        log(f"table {table.database}.{table.name}: {count} rows "
            f"({len(table.columns)} columns, partitions {', '.join(k for k, _ in table.partition_keys)})")
    failed = 0
    for title, sql in readme_queries():
        log(f"\nREADME query {title}   [current_date = {today}]")
        try:
            _, text = show(db, athena_to_duckdb(sql, today))
        except Exception as e:  # noqa: BLE001 (any DuckDB error is the query's answer)
            failed += 1
            text = f"does not run: {str(e).splitlines()[0]}"
        log(text)
    layout = template.param("PartitionLayout")
    default = template.doc["Parameters"]["PartitionLayout"].get("Default")
    if failed and layout != default:
        log(f"\n(the README's queries are written for PartitionLayout={default}; "
            f"under {layout} a query that names a missing partition column cannot run, in Athena either)")
        return 0
    return 1 if failed else 0


def default_events():
    return sorted(p for p in (ROOT / "events").glob("*.json"))


def main(argv=None):
    # A stopped run still stops the emulator and moto it started (the `with` blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["run", "build", "sql"])
    parser.add_argument("args", nargs="*", help="event files (run/build) or one SQL query (sql)")
    parser.add_argument("--root", default=str(DEFAULT_LAKE))
    parser.add_argument("--layout", default=os.environ.get("LAYOUT") or None,
                        help="template.yaml PartitionLayout (default: the template's default)")
    options = parser.parse_intermixed_args(argv)
    if options.command == "sql":
        template = Template(ROOT / "template.yaml",
                            {"PartitionLayout": options.layout} if options.layout else None)
        db = connect(options.root, template=template)
        today = os.environ.get("TODAY") or newest_dt(db, template)
        log(show(db, athena_to_duckdb(" ".join(options.args), today))[1])
        return 0
    events = [Path(p) for p in options.args] or default_events()
    log(f"lake: {len(events)} event files through {FUNCTION} under cargo lambda watch "
        "(moto as the stream) ...")
    summary = build(events, options.root, options.layout)
    template, written = summary["template"], summary["written"]
    log(f"{summary['invocations']} invocations ({summary['rounds']} of them re-ingestion rounds, "
        f"{summary['reingested']} records put back); results: " +
        ", ".join(f"{k} {v}" for k, v in sorted(summary["results"].items())) +
        f"; settings: {' '.join(f'{k}={v}' for k, v in sorted(summary['settings'].items()))}")
    layout = template.param("PartitionLayout")
    log(f"\n{os.path.relpath(summary['root'], ROOT)}/  (PartitionLayout={layout}; "
        f"Prefix and ErrorOutputPrefix from template.yaml): {len(written)} objects from Firehose")
    for path, records, _ in written:
        log(f"  {os.path.relpath(path, summary['root'])}  ({records} record{'s' * (records != 1)})")
    if summary["history"]:
        log(f"  and {len(summary['history'])} from export-task history ({EXPORT_CONVERTER}):")
        for path, lines, _ in summary["history"]:
            log(f"  {os.path.relpath(path, summary['root'])}  ({lines} line{'s' * (lines != 1)})")
    hidden = invisible_objects(summary["root"], template)
    if hidden:
        for path in hidden:
            log(f"ERROR: {path} is under a table's location but its projection never reads it")
        return 1
    log(f"built in {summary['seconds']:.0f} s\n")
    if options.command == "run":
        return run_queries(summary["root"], template)
    return 0


if __name__ == "__main__":
    sys.exit(main())
