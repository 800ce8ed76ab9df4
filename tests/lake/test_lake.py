"""The local lake (`make lake`): the samples through the real function under the runtime
emulator, objects where template.yaml's Prefix puts them, tables built from the Glue
definitions in template.yaml and read strictly by DuckDB, and the README's Athena
queries run as the README writes them.

Run by `make lake-test` (part of `make test`) with the tools venv (cargo-lambda, moto,
boto3, duckdb).
"""
import base64
import gzip
import json
import os
import re
import shutil
import sys
import tempfile
import unittest
import zlib
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent / "scripts"))
import lake  # noqa: E402
from devkit import ROOT  # noqa: E402
from lake_schema import Template, firehose_expression  # noqa: E402

# The day the samples were written on: the README's relative ranges are read from it.
SAMPLES_TODAY = "2026-11-22"

# What each README query returns on the samples, keyed by the number in its `-- N.` title.
README_ROWS = {
    "1": [
        ("2026-11-22T06:10:05.120Z", "2026/11/22/[$LATEST]5d4c3b2a1908f7e6d5c4b3a291807f6e",
         "[ERROR] KeyError: 'sku'\nTraceback (most recent call last):\n  File \"/var/task/app.py\", "
         "line 42, in handler\n    sku = item['sku']"),
        ("2026-11-22T06:10:03.250Z", "2026/11/22/[$LATEST]5d4c3b2a1908f7e6d5c4b3a291807f6e",
         "ERROR payment provider timed out after 3000 ms (order o-1004)"),
        # yesterday is in range; the day before (ERROR disk quota exceeded) is not
        ("2026-11-21T23:55:31.407Z", "2026/11/21/[$LATEST]c0ffee00112233445566778899aabbcc",
         "ERROR retry budget exhausted for queue orders-dlq"),
    ],
    # hour 06 only: the 07:00 line went back into the stream and landed under hour=07
    "2": [("INFO", 4), ("WARN", 2), ("ERROR", 1)],
    "3": None,   # filled from the samples' readable source below
}
# Query 1's row from export-task history (events/exports/history.json, through the export
# converter): the service writes the stream's folder with `-` for `/`.
HISTORY_ROW = ("2026-11-21T22:14:09.350Z", "2026-11-21-[$LATEST]9e8d7c6b5a4938271605f4e3d2c1b0a9",
               "ERROR inventory service returned 503 (order o-0987)\n"
               "    at reserve (/var/task/inventory.js:31:11)")


def cloudtrail_rows():
    """Query 3's rows, read from the EventBridge samples' sources: write calls to IAM."""
    rows = []
    for name in ("eventbridge-cloudtrail.json", "mixed.json"):
        source = json.loads((ROOT / "events" / "src" / name).read_text())
        for record in source["records"]:
            event = record.get("json")
            if (event and event["source"] == "aws.iam"
                    and event["detail-type"] == "AWS API Call via CloudTrail"
                    and event["detail"].get("readOnly") is False):
                d = event["detail"]
                rows.append((event["time"], d["eventName"], d["userIdentity"]["arn"],
                             d["sourceIPAddress"]))
    return sorted(rows, reverse=True)


def payload(record_data):
    data = base64.b64decode(record_data)
    if data[:2] == b"\x1f\x8b":
        data = zlib.decompress(data, wbits=31)
    return json.loads(data)


def expected_log_events(paths):
    """(id, timestamp) of every log event in the samples' readable DATA_MESSAGE records."""
    out = Counter()
    for path in paths:
        for record in json.loads(Path(path).read_text())["records"]:
            try:
                message = payload(record["data"])
            except (ValueError, zlib.error):
                continue
            if not isinstance(message, dict) or message.get("messageType") != "DATA_MESSAGE":
                continue
            if not isinstance(message.get("logEvents"), list):
                continue
            for event in message["logEvents"]:
                out[(str(event["id"]), event["timestamp"])] += 1
    return out


class TheLake(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="lake-test-")
        cls.events = lake.default_events()
        cls.summary = lake.build(cls.events, Path(cls.dir) / "lake", quiet=True)
        cls.root = cls.summary["root"]
        cls.template = cls.summary["template"]
        cls.tables = {t.name: t for t in lake.tables(cls.template)}
        cls.db = lake.connect(cls.root, template=cls.template)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def lines(self, kind):
        """The lines the processor wrote for `kind`, and for logs those the export converter wrote."""
        out = [json.loads(line) for keys, line in self.summary["lines"] if keys.get("kind") == kind]
        if kind == "logs":
            out += self.history_lines()
        return out

    def history_lines(self):
        return [json.loads(line) for _, _, body in self.summary["history"]
                for line in gzip.decompress(body).decode().splitlines()]

    # -- the function's output against the declared columns

    def test_every_declared_column_is_exercised_by_a_sample_line(self):
        missing = []
        for kind, table in self.tables.items():
            lines = self.lines(kind)
            self.assertTrue(lines, f"no {kind} lines at all")
            for column, hive in table.columns:
                key = table.json_keys[column]
                if not any(hive.exercised_by(line.get(key)) for line in lines):
                    missing.append(f"{kind}.{column} ({hive.text}, JSON key {key!r})")
        self.assertEqual(missing, [], "declared columns that no sample line fills "
                                      "(add a sample in events/src/ and run `make events`)")

    def test_every_emitted_field_fits_its_declared_type(self):
        misfits = []
        for kind, table in self.tables.items():
            for line in self.lines(kind):
                for column, hive in table.columns:
                    value = line.get(table.json_keys[column])
                    if not hive.fits(value):
                        misfits.append(f"{kind}.{column} is {hive.text}, the function wrote "
                                       f"{json.dumps(value)[:80]}")
        self.assertEqual(sorted(set(misfits)), [])

    # -- the objects

    def test_objects_are_one_per_partition_under_the_template_prefix(self):
        prefix = self.template.s3_destination()["Prefix"]
        expected = Counter(firehose_expression(prefix, keys) for keys, _ in self.summary["lines"])
        found = Counter()
        for path, _, body in self.summary["written"]:
            rel = str(path.relative_to(self.root))
            if rel.startswith("errors/"):
                continue
            directory = rel.rsplit("/", 1)[0] + "/"
            lines = gzip.decompress(body).decode().splitlines()
            found[directory] += len(lines)
            self.assertRegex(path.name, r"^central-logs-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-"
                                        r"[0-9a-f-]{36}\.json\.gz$")
        self.assertEqual(found, expected, "every line in the object of its own partition")
        dirs = [str(p.relative_to(self.root)).rsplit("/", 1)[0] for p, _, _ in self.summary["written"]]
        self.assertEqual(len(dirs), len(set(dirs)), "one object per partition")
        self.assertEqual(lake.invisible_objects(self.root, self.template), [],
                         "objects that the Glue projection would never read")

    def test_processing_failed_records_are_kept_in_firehose_error_format(self):
        arn = self.template.getatt("ProcessorFunction", "Arn")
        records = []
        for path, _, body in self.summary["written"]:
            rel = str(path.relative_to(self.root))
            if rel.startswith("errors/"):
                self.assertRegex(rel, r"^errors/processing-failed/dt=\d{4}-\d{2}-\d{2}/[^/]+$")
                records += [json.loads(l) for l in gzip.decompress(body).decode().splitlines()]
        self.assertEqual(len(records), self.summary["results"].get("ProcessingFailed", 0))
        self.assertGreater(len(records), 0, "malformed.json has failing records")
        for record in records:
            self.assertEqual(set(record), {"attemptsMade", "arrivalTimestamp", "errorCode",
                                           "errorMessage", "attemptEndingTimestamp", "rawData",
                                           "lambdaARN"})
            self.assertEqual(record["errorCode"], "Lambda.ProcessingFailedStatus")
            self.assertEqual(record["lambdaARN"], arn)
        self.assertEqual(sorted(r["rawData"] for r in records), sorted(self.summary["failed_raw"]))

    def test_every_log_event_lands_once_after_reingestion(self):
        self.assertGreater(self.summary["rounds"], 0, "the large batch overflows one response")
        got = Counter(self.db.execute("SELECT id, timestamp FROM firehose_logs.logs").fetchall())
        expected = expected_log_events(self.events)
        expected.update((l["id"], l["timestamp"]) for l in self.history_lines())
        self.assertEqual(got, expected)

    # -- DuckDB reads the declared types strictly

    def test_a_value_that_does_not_fit_its_column_is_an_error_not_null(self):
        line = self.lines("logs")[0]
        cases = {"timestamp": str(line["timestamp"]), "subscription_filters": "to-firehose",
                 "extracted_fields": {"port": 443}, "log_group": 7, "message": ["a"]}
        for column, value in cases.items():
            with self.subTest(column=column):
                root = Path(self.dir) / f"bad-{column}"
                shutil.copytree(self.root, root)
                bad = dict(line, **{column: value})
                target = root / "logs/account=1/source=x/dt=2026-11-22/hour=06/bad.json.gz"
                target.parent.mkdir(parents=True)
                target.write_bytes(gzip.compress((json.dumps(bad) + "\n").encode()))
                db = lake.connect(root, template=self.template)
                with self.assertRaisesRegex(Exception, f"column logs.{column} is declared"):
                    db.execute("SELECT * FROM firehose_logs.logs").fetchall()
                # The same line with the field absent reads as NULL.
                del bad[column]
                target.write_bytes(gzip.compress((json.dumps(bad) + "\n").encode()))
                db = lake.connect(root, template=self.template)
                db.execute("SELECT * FROM firehose_logs.logs").fetchall()

    # -- the README's queries

    def test_readme_queries_return_the_expected_rows(self):
        queries = lake.readme_queries()
        self.assertEqual(len(queries), len(README_ROWS), [t for t, _ in queries])
        expected = dict(README_ROWS, **{"3": cloudtrail_rows()})
        if self.summary["history"]:
            expected["1"] = expected["1"] + [HISTORY_ROW]
        for title, sql in queries:
            number = title.split(".", 1)[0]
            with self.subTest(query=title):
                rows = self.db.execute(lake.athena_to_duckdb(sql, SAMPLES_TODAY)).fetchall()
                self.assertTrue(rows, "a README query must show something on the samples")
                self.assertEqual(rows, expected[number])

    def test_one_query_returns_live_and_converted_rows_together(self):
        if not lake.history_available():
            self.skipTest("no export converter in this package")
        self.assertTrue(self.summary["history"], "the export converter wrote nothing")
        title, sql = lake.readme_queries()[0]
        rows = self.db.execute(
            "SELECT id, log_stream, message FROM ("
            + lake.athena_to_duckdb(sql, SAMPLES_TODAY).replace(
                "SELECT time, log_stream, message", "SELECT id, timestamp, time, log_stream, message")
            + ") ORDER BY timestamp DESC").fetchall()
        converted = [r for r in rows if re.fullmatch(r"[0-9a-f]{16}-\d+", r[0])]
        live = [r for r in rows if re.fullmatch(r"\d{56}", r[0])]
        self.assertEqual(len(converted) + len(live), len(rows), rows)
        self.assertEqual([r[1:] for r in converted], [HISTORY_ROW[1:]], title)
        self.assertEqual(len(live), 3, title)

    def test_readme_queries_name_every_injected_partition(self):
        # Athena refuses a query on an injected projection without an equality on its key.
        for title, sql in lake.readme_queries():
            for name, table in self.tables.items():
                if not re.search(rf"\b{table.database}\.{name}\b", sql):
                    continue
                for key in table.injected_keys():
                    with self.subTest(query=title, key=key):
                        self.assertRegex(sql, rf"\b{key}\s*(=|IN\b)")

    def test_only_documented_rewrites_are_applied(self):
        for _, sql in lake.readme_queries():
            rewritten = lake.athena_to_duckdb(sql, SAMPLES_TODAY)
            undone = re.sub(r"CAST\((DATE '[\d-]+' - INTERVAL '(\d+)' DAY) AS DATE\)",
                            lambda m: m.group(1).replace("INTERVAL", "interval").replace(" DAY", " day"),
                            rewritten)
            undone = undone.replace(f"DATE '{SAMPLES_TODAY}'", "current_date")
            self.assertEqual(undone, sql)


class HiveTypes(unittest.TestCase):
    """The one mapping: DuckDB types, and what fits, the same in Python and in DuckDB's SQL."""

    CASES = [  # (hive type, DuckDB type, values that fit, values that do not)
        ("string", "VARCHAR", ["x", "", {"a": [1]}, None], [12, 1.5, True, ["x"]]),
        ("bigint", "BIGINT", [12, -1, 2**63 - 1, None], ["12", 1.5, True, 2**63, {"a": 1}]),
        ("int", "INTEGER", [7], [2**31, "7"]),
        ("double", "DOUBLE", [1.5, 2], ["1.5", False]),
        ("boolean", "BOOLEAN", [True, False], ["true", 0]),
        ("array<string>", "VARCHAR[]", [[], ["a", "b"]], ["a", [1], [["a"]]]),
        ("map<string,string>", "MAP(VARCHAR, VARCHAR)", [{}, {"k": "v"}], [{"k": 1}, ["k"], "k"]),
        ("struct<a:bigint,b:array<string>>", 'STRUCT("a" BIGINT, "b" VARCHAR[])',
         [{"a": 1, "b": ["x"]}, {"a": None}], [{"a": "1"}, {"b": "x"}, [1]]),
    ]

    def test_types_and_fits_agree_in_python_and_sql(self):
        import duckdb
        from lake_schema import HiveType
        db = duckdb.connect()
        for text, duck, good, bad in self.CASES:
            kind = HiveType.parse(text)
            self.assertEqual(kind.duckdb(), duck, text)
            for value, expected in [(v, True) for v in good] + [(v, False) for v in bad]:
                with self.subTest(type=text, value=value):
                    self.assertEqual(kind.fits(value), expected)
                    # A column, as in the tables (a constant would be folded away first).
                    db.execute("CREATE OR REPLACE TEMP TABLE v AS SELECT CAST(? AS JSON) AS x",
                               [json.dumps(value)])
                    self.assertEqual(db.execute(f"SELECT {kind.sql_fits('x')} FROM v")
                                     .fetchall()[0][0], expected)


class PrefixAndProjection(unittest.TestCase):
    """For every PartitionLayout: the Prefix Firehose evaluates is a path the projection reads."""

    def test_every_layout(self):
        root = Path("/lake")
        spec = Template(ROOT / "template.yaml").doc["Parameters"]["PartitionLayout"]
        for layout in spec["AllowedValues"]:
            template = Template(ROOT / "template.yaml", {"PartitionLayout": layout})
            prefix = template.s3_destination()["Prefix"]
            bucket = template.bucket()
            for table in lake.tables(template):
                with self.subTest(layout=layout, table=table.name):
                    keys = {"kind": table.name, "account": "111111111111",
                            "source": "aws_lambda_app", "dt": "2026-11-22", "hour": "06"}
                    path = root / firehose_expression(prefix, keys) / "object.json.gz"
                    match = re.match(table.path_regex(bucket, root), str(path))
                    self.assertIsNotNone(match, f"{path} vs {table.location_template}")
                    values = dict(zip(table.template_keys(), match.groups()))
                    for key, value in values.items():
                        self.assertTrue(table.projection_fits(key, value), (key, value))
                    self.assertEqual(values["dt"], "2026-11-22")
                    self.assertEqual("hour" in values, layout.endswith("-hour"))
                    self.assertEqual("partition_source" in values, "-source-" in layout)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"lake: {result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed or not result.wasSuccessful() else 0)
