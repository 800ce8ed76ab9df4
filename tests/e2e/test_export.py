"""History end to end, against real parts: log groups in a moto server are exported with
`make export-logs` into moto's S3, the export converter runs under `cargo lambda watch`
on every created object (invoked with `cargo lambda invoke export-converter`, S3
notification and EventBridge shapes alike), and talks to moto through the real AWS SDK.
Every event must be found exactly once in the output objects, with the right fields and
partition prefixes, encrypted with the configured KMS key; a second run must leave the
same objects. Outputs are staged as multipart uploads and published at the end: none may
be left incomplete, and a truncated object that staged outputs before its end must have
them aborted, leaving nothing under logs/.

moto's export writer differs from the service (a fresh id as task folder, milliseconds
written as .000, local time: the server runs with TZ=UTC): objects in the service's
documented format are uploaded as fixtures beside them.

Run by `make e2e-export` (part of `make test`) with the project's tool venv.
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import devkit  # noqa: E402
from devkit import ACCOUNT, CREDENTIALS, REGION, ROOT, iso  # noqa: E402

BUCKET = "history-logs"
HOUR = 3_600_000
DAY = 24 * HOUR

# A fixed start a few days back: moto, like CloudWatch Logs, refuses events older than
# 14 days, and the test must not depend on the hour it runs at.
BASE = (int(time.time() * 1000) // DAY - 3) * DAY

# log group -> stream -> [(offset from BASE in ms, message)]
GROUPS = {
    "/aws/lambda/history-app": {
        "2026/11/20/[$LATEST]0a1b": [
            (-2_000, "START RequestId: 1 Version: $LATEST"),
            (1_500, "Traceback (most recent call last):\n  File \"app.py\", line 3\nValueError: é 漢字 😀"),
            (5 * HOUR + 42, '{"level":"INFO","msg":"order accepted"}'),
            (DAY + 7 * HOUR, "a later day"),
        ],
        "2026/11/20/[$LATEST]ffff": [(2 * HOUR, "second stream")],
    },
    "/ecs/web#blue": {"web/1/abc": [(HOUR, "GET /health 200"), (HOUR + 1, " ")]},
}

# Objects as the service writes them (ISO 8601 with milliseconds, the write-test object
# under the prefix), uploaded directly.
FIXTURE_GROUP = "/aws/apigateway/welcome"
FIXTURE_STREAM = "2026-11-22-[$LATEST]cb2c7d0c04344d1d820adffe7ae8a506"
FIXTURE_EVENTS = [
    ("2026-11-22T06:41:00.012Z", "START RequestId: a7679120 Version: $LATEST"),
    ("2026-11-22T06:41:00.255Z",
     "java.lang.IllegalStateException: boom\n\tat com.example.App.handle(App.java:42)"),
    ("2026-11-22T07:00:00.000Z", "END RequestId: a7679120"),
]
FIXTURE_TEXT = "".join(f"{stamp} {message}\n" for stamp, message in FIXTURE_EVENTS)


def key_segment(name):
    """The partition key rule for short names (docs/output-schema.md, 'Partition keys')."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_"
                   for c in name.lstrip("/")) or "unknown"



class ExportEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Class cleanups run even when a later step here fails, last registered first.
        cls.logs = tempfile.TemporaryDirectory()
        cls.addClassCleanup(cls.logs.cleanup)
        cls.moto = devkit.start_moto(os.path.join(cls.logs.name, "moto.log"), TZ="UTC")
        cls.addClassCleanup(cls.moto.stop)
        cls.aws_env = {**os.environ, "AWS_ENDPOINT_URL": cls.moto.endpoint, "AWS_REGION": REGION,
                       "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": "/dev/null",
                       "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PAGER": "",
                       **CREDENTIALS}
        cls.s3, cls.cwlogs, cls.kms = devkit.clients(cls.moto.endpoint, "s3", "logs", "kms")
        for client in (cls.s3, cls.cwlogs, cls.kms):
            cls.addClassCleanup(client.close)
        cls.s3.create_bucket(Bucket=BUCKET)
        cls.key_arn = cls.kms.create_key(Description="history outputs")["KeyMetadata"]["Arn"]
        cls.watch = devkit.start_watch(
            os.path.join(cls.logs.name, "watch.log"),
            {"AWS_ENDPOINT_URL": cls.moto.endpoint, "AWS_REGION": REGION,
             "PARTITION_LAYOUT": "account-source-hour",
             "OUTPUT_KMS_KEY_ARN": cls.key_arn, **CREDENTIALS})
        cls.addClassCleanup(cls.watch.stop)

    def invoke(self, event, expect_error=False):
        out = devkit.invoke(devkit.EXPORT_CONVERTER, event, self.watch.port, timeout=600)
        if expect_error:
            self.assertNotEqual(out.returncode, 0, out.stdout)
            return out.stderr + out.stdout
        if out.returncode != 0:
            self.fail(f"invoke failed: {out.stderr}\n{devkit.read_log(self.watch.log_path)[-4000:]}")
        return json.loads(out.stdout)

    @staticmethod
    def notification(key):
        quoted = "".join(c if c.isalnum() or c in "/._-*!" else
                         "".join(f"%{b:02X}" for b in c.encode()) for c in key).replace("%20", "+")
        return {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
                             "eventName": "ObjectCreated:Put",
                             "s3": {"bucket": {"name": BUCKET}, "object": {"key": quoted}}}]}

    @staticmethod
    def eventbridge(key):
        return {"version": "0", "id": "e2e", "detail-type": "Object Created",
                "source": "aws.s3", "account": ACCOUNT, "time": "2026-11-22T06:41:00Z",
                "region": REGION, "resources": [f"arn:aws:s3:::{BUCKET}"],
                "detail": {"version": "0", "bucket": {"name": BUCKET},
                           "object": {"key": key}, "reason": "PutObject"}}

    def keys(self, prefix):
        paginator = self.s3.get_paginator("list_objects_v2")
        return sorted(item["Key"] for page in paginator.paginate(Bucket=BUCKET, Prefix=prefix)
                      for item in page.get("Contents", []))

    def outputs(self):
        """Every output object: key -> (bytes, parsed lines)."""
        result = {}
        for key in self.keys("logs/"):
            body = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            lines = [json.loads(l) for l in gzip.decompress(body).decode().splitlines()]
            result[key] = (body, lines)
        return result

    def export_with_make(self):
        for group, streams in GROUPS.items():
            devkit.put_history(self.cwlogs, group, streams, BASE)
            out = subprocess.run(
                ["make", "--no-print-directory", "export-logs", f"LOG_GROUP={group}",
                 f"FROM={BASE - DAY}", f"TO={BASE + 3 * DAY}", f"BUCKET={BUCKET}"],
                cwd=ROOT, env=self.aws_env, capture_output=True, text=True, timeout=300)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            prefix = f"{devkit.export_prefix(ACCOUNT, group)}/"
            self.assertIn(prefix, out.stdout, "export-logs names the convention's prefix")

    def upload_fixtures(self):
        prefix = devkit.export_prefix(ACCOUNT, FIXTURE_GROUP)
        self.s3.put_object(Bucket=BUCKET, Key=f"{prefix}/aws-logs-write-test",
                           Body=b"Permission Check Successful")
        good = f"{prefix}/d8fdd9b6-9bb8-4e13-8df1-7f41e8610d8c/{FIXTURE_STREAM}/000000.gz"
        self.s3.put_object(Bucket=BUCKET, Key=good, Body=gzip.compress(FIXTURE_TEXT.encode()))
        # Six hours of events, cut short: the hours read before the cut close their
        # outputs (two are open at most), which are staged before the end fails. Random
        # text keeps the object large enough to arrive in many chunks.
        truncated = f"{prefix}/d8fdd9b6-9bb8-4e13-8df1-7f41e8610d8c/{FIXTURE_STREAM}/000001.gz"
        text = "".join(f"2026-11-21T{hour:02}:{minute:02}:{second:02}.000Z request "
                       f"{os.urandom(24).hex()}\n"
                       for hour in range(6) for minute in range(60) for second in range(10))
        body = gzip.compress(text.encode())
        self.s3.put_object(Bucket=BUCKET, Key=truncated, Body=body[: len(body) * 9 // 10])
        return good, truncated

    def expected(self):
        """(log group, stream folder, time, message) of every event, as moto exports it."""
        rows = []
        for group, streams in GROUPS.items():
            for stream, events in streams.items():
                for offset, message in events:
                    millis = (BASE + offset) // 1000 * 1000  # moto drops milliseconds
                    rows.append((group, stream.replace("/", "-"), iso(millis), message))
        for stamp, message in FIXTURE_EVENTS:
            rows.append((FIXTURE_GROUP, FIXTURE_STREAM, stamp, message))
        return sorted(rows)

    def test_history_lands_in_the_live_layout(self):
        self.export_with_make()
        good, truncated = self.upload_fixtures()
        objects = [key for key in self.keys("") if key not in (truncated,)]
        self.assertIn("aws-logs-write-test", objects, "moto writes its test object at the root")

        def convert_all():
            for index, key in enumerate(objects):
                shape = self.notification if index % 2 else self.eventbridge
                self.invoke(shape(key))

        convert_all()
        first = self.outputs()
        got = []
        for key, (_, lines) in first.items():
            for line in lines:
                got.append((line["log_group"], line["log_stream"], line["time"], line["message"]))
                self.assertEqual(line["account"], ACCOUNT)
                self.assertEqual(line["subscription_filters"], [])
                self.assertEqual(iso(line["timestamp"]), line["time"])
                prefix = (f"logs/account={ACCOUNT}/source={key_segment(line['log_group'])}/"
                          f"dt={line['time'][:10]}/hour={line['time'][11:13]}/export-")
                self.assertTrue(key.startswith(prefix), f"{key} vs {prefix}")
        self.assertEqual(sorted(got), self.expected(), "every event exactly once")
        for key in first:
            head = self.s3.head_object(Bucket=BUCKET, Key=key)
            self.assertEqual(head["ServerSideEncryption"], "aws:kms", key)
            self.assertEqual(head["SSEKMSKeyId"], self.key_arn, key)
        self.assertEqual(self.incomplete_uploads(), [], "every staged output is published")
        ids = [line["id"] for _, lines in first.values() for line in lines]
        self.assertEqual(len(ids), len(set(ids)), "ids are unique")

        # S3 delivers at least once: converting everything again leaves the same objects.
        convert_all()
        self.assertEqual(self.outputs(), first)

        # A truncated object fails the invocation and leaves nothing: the outputs it
        # staged before the cut are aborted (moto saw the aborts), none is published.
        before = self.keys("logs/")
        aborts = self.aborted_uploads()
        error = self.invoke(self.notification(truncated), expect_error=True)
        self.assertIn("not converted", error)
        self.assertEqual(self.keys("logs/"), before)
        self.assertGreaterEqual(self.aborted_uploads() - aborts, 3, "hours staged, then aborted")
        self.assertEqual(self.incomplete_uploads(), [], "nothing left staged")
        # The converter's log reaches the file through cargo lambda watch, after the
        # answer may have: read until both lines are there.
        text = devkit.wait_for_log(self.watch.log_path, lambda log: all(
            line in log for line in ("gzip stream is corrupt or truncated", "object left alone")))
        self.assertIn("gzip stream is corrupt or truncated", text)
        self.assertIn("object left alone", text)
        self.assertNotIn("was not discarded", text)

    def incomplete_uploads(self):
        return [upload["Key"] for upload in
                self.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])]

    def aborted_uploads(self):
        """AbortMultipartUpload requests moto has answered with 204."""
        with open(self.moto.log_path, encoding="utf-8", errors="replace") as log:
            return sum(1 for line in log if '"DELETE /' in line and "uploadId=" in line
                       and '" 204 ' in line)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
