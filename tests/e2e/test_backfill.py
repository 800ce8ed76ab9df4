"""The backfill end to end: template.yaml's own state machine (definition read from the
template, substitutions filled by `make backfill`) run by moto's Step Functions executor
(scripts/moto_sfn.py, with its documented shims), which invokes the real export converter
under `cargo lambda watch` for each group's plan; the converter then runs on every
export object, as the bucket's Object Created events would make it.

Log groups with events over several days (names with '/', '#', non-ASCII; one excluded;
the stack's own), the whole-account subscription (an account policy) as every group's
live start, and one group whose own subscription filter started earlier. Every event
older than its group's live start, and not older than Since, must land in the logs
layout exactly once; nothing of excluded groups. Faults are injected in moto: the first
CreateExportTask calls answer LimitExceededException (another export running), which
delays but loses nothing, and one group's first task ends FAILED, which is reported and
exported by the next run. A run after that adds nothing.

Run by `make e2e-backfill` (part of `make test`) with the project's tool venv.
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

BUCKET = "backfill-logs"
STREAM = "central-logs"  # the template's default DeliveryStreamName
HOUR = 3_600_000
DAY = 24 * HOUR
BASE = (int(time.time() * 1000) // DAY - 3) * DAY
SINCE = BASE - DAY

OWN = [f"/aws/lambda/{STREAM}-processor", f"/aws/kinesisfirehose/{STREAM}",
       f"/aws/lambda/{STREAM}-export-converter"]
EXCLUDED = "/noisy/app"
SPLIT = "/split/by-its-filter"
FAILS_FIRST = "/ecs/web#blue"

# log group -> stream -> [(offset from BASE in ms, message)]; all before the live start.
HISTORY = {
    "/aws/lambda/history-app": {
        "2026/11/20/[$LATEST]0a1b": [
            (-2 * DAY, "older than Since: not exported"),
            (-2_000, "START RequestId: 1 Version: $LATEST"),
            (1_500, "Traceback (most recent call last):\n  ValueError: é 漢字 😀"),
            (DAY + 7 * HOUR, "a later day"),
        ],
        "2026/11/20/[$LATEST]ffff": [(2 * HOUR, "second stream")],
    },
    FAILS_FIRST: {"web/1/abc": [(HOUR, "GET /health 200"), (2 * DAY, "GET / 500")]},
    "/app/é漢字": {"s": [(3 * HOUR, "non-ASCII group name")]},
    SPLIT: {"s": [(5 * HOUR, "before its filter")]},
    EXCLUDED: {"s": [(HOUR, "excluded: never exported")]},
    **{group: {"s": [(HOUR, "the stack's own: never exported")]} for group in OWN},
}



class BackfillEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.logs = tempfile.TemporaryDirectory()
        cls.addClassCleanup(cls.logs.cleanup)
        moto_port = devkit.free_port()
        moto_endpoint = f"http://127.0.0.1:{moto_port}"
        cls.watch = devkit.start_watch(
            os.path.join(cls.logs.name, "watch.log"),
            {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_REGION": REGION, **CREDENTIALS})
        cls.addClassCleanup(cls.watch.stop)
        faults = {"limit_exceeded": 3, "fail_group": FAILS_FIRST}
        cls.moto = devkit.Server(
            [sys.executable, os.path.join(ROOT, "scripts", "moto_sfn.py"), "--port", str(moto_port)],
            os.path.join(cls.logs.name, "moto.log"), moto_port, 60, "moto_sfn.py",
            env={**os.environ, "TZ": "UTC", "MOTO_LAMBDA_ENDPOINT": cls.watch.endpoint,
                 "MOTO_FAULTS": json.dumps(faults)})
        cls.addClassCleanup(cls.moto.stop)
        devkit.wait_for_log(cls.moto.log_path, lambda text: "executor on" in text)
        cls.aws_env = {**os.environ, "AWS_ENDPOINT_URL": moto_endpoint, "AWS_REGION": REGION,
                       "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": "/dev/null",
                       "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", **CREDENTIALS}
        cls.s3, cls.cwlogs, cls.firehose = devkit.clients(moto_endpoint, "s3", "logs", "firehose")
        cls.s3.create_bucket(Bucket=BUCKET)
        cls.live_start = cls.make_groups()

    @classmethod
    def make_groups(cls):
        """The groups and their history; the filter, then the account policy: each
        group's live start (its filter's creation, else the policy's update)."""
        for group, streams in HISTORY.items():
            devkit.put_history(cls.cwlogs, group, streams, BASE)
        stream_arn = cls.firehose.create_delivery_stream(
            DeliveryStreamName=STREAM, ExtendedS3DestinationConfiguration={
                "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/r",
                "BucketARN": f"arn:aws:s3:::{BUCKET}"})["DeliveryStreamARN"]
        cls.cwlogs.put_subscription_filter(
            logGroupName=SPLIT, filterName=f"to-{STREAM}", filterPattern="",
            destinationArn=stream_arn, roleArn=f"arn:aws:iam::{ACCOUNT}:role/r")
        filter_start = cls.cwlogs.describe_subscription_filters(
            logGroupName=SPLIT)["subscriptionFilters"][0]["creationTime"]
        time.sleep(1.5)
        policy = cls.cwlogs.put_account_policy(
            policyName=f"to-{STREAM}", policyType="SUBSCRIPTION_FILTER_POLICY", scope="ALL",
            policyDocument=json.dumps({"DestinationArn": stream_arn}),
            selectionCriteria="LogGroupName NOT IN []")["accountPolicy"]
        policy_start = policy["lastUpdatedTime"]
        # Events from the live start on reached the live layout: never exported.
        later = [(SPLIT, filter_start + 500, "after its filter, before the policy")]
        later += [(group, policy_start + 60_000, "live") for group in HISTORY]
        for group, stamp, message in later:
            stream = next(iter(HISTORY[group]))
            cls.cwlogs.put_log_events(logGroupName=group, logStreamName=stream,
                                      logEvents=[{"timestamp": stamp, "message": message}])
        return {group: (filter_start if group == SPLIT else policy_start) for group in HISTORY}

    def backfill(self):
        out = subprocess.run(
            ["make", "--no-print-directory", "backfill", f"BUCKET={BUCKET}", f"SINCE={SINCE}",
             f"UNTIL={int(time.time() * 1000)}", "POLL_SECONDS=1",
             f"BACKFILL_PARAMS=SubscriptionScope=whole-account ExcludedLogGroupNames={EXCLUDED}"],
            cwd=ROOT, env=self.aws_env, capture_output=True, text=True, timeout=900)
        return out

    def convert_new(self, seen):
        """Every export object not converted yet, through the converter (EventBridge shape)."""
        paginator = self.s3.get_paginator("list_objects_v2")
        keys = [item["Key"] for page in paginator.paginate(Bucket=BUCKET, Prefix="exports/")
                for item in page.get("Contents", [])]
        for key in keys:
            if key in seen:
                continue
            seen.add(key)
            event = {"version": "0", "id": "e2e", "detail-type": "Object Created",
                     "source": "aws.s3", "account": ACCOUNT, "time": "2026-11-22T06:41:00Z",
                     "region": REGION, "resources": [], "detail": {
                         "version": "0", "bucket": {"name": BUCKET}, "object": {"key": key}}}
            out = devkit.invoke(devkit.EXPORT_CONVERTER, event, self.watch.port)
            self.assertEqual(out.returncode, 0, out.stderr)

    def rows(self):
        paginator = self.s3.get_paginator("list_objects_v2")
        rows = []
        for page in paginator.paginate(Bucket=BUCKET, Prefix="logs/"):
            for item in page.get("Contents", []):
                body = self.s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
                for line in gzip.decompress(body).decode().splitlines():
                    line = json.loads(line)
                    rows.append((line["log_group"], line["log_stream"], line["time"], line["message"]))
        return sorted(rows)

    def expected(self, without=()):
        rows = []
        for group, streams in HISTORY.items():
            if group in OWN or group == EXCLUDED or group in without:
                continue
            for stream, events in streams.items():
                for offset, message in events:
                    stamp = BASE + offset
                    if SINCE <= stamp < self.live_start[group]:
                        # moto's export writes whole seconds
                        rows.append((group, stream.replace("/", "-"), iso(stamp // 1000 * 1000), message))
        return sorted(rows)

    def test_backfill_exports_each_groups_history_once(self):
        seen = set()
        first = self.backfill()
        report = first.stdout + first.stderr
        # make answers 2 when backfill.py's status is 1 (a group failed)
        self.assertNotEqual(first.returncode, 0, f"one group failed:\n{report}\n{devkit.read_log(self.moto.log_path)[-3000:]}")
        self.assertIn(f"FAILED   {FAILS_FIRST}", report)
        self.assertIn("injected fault", report)
        self.assertIn(f"skipped  {EXCLUDED}: excluded", report)
        for group in OWN:
            self.assertIn(f"skipped  {group}: excluded", report)
        self.assertIn("exported /app/é漢字", report)
        self.assertIn("1 failed", report)
        # The state machine's Retry saw every injected LimitExceededException, and waited.
        self.assertEqual(devkit.read_log(self.moto.log_path).count(
            "CreateExportTask answers LimitExceededException"), 3)
        self.convert_new(seen)
        self.assertEqual(self.rows(), self.expected(without=[FAILS_FIRST]), report)

        second = self.backfill()
        report = second.stdout + second.stderr
        self.assertEqual(second.returncode, 0, report)
        self.assertIn(f"exported {FAILS_FIRST}", report)
        self.assertIn("0 failed", report)
        self.convert_new(seen)
        self.assertEqual(self.rows(), self.expected(), report)

        third = self.backfill()
        report = third.stdout + third.stderr
        self.assertEqual(third.returncode, 0, report)
        self.assertIn("0 exported", report)
        before = len(seen)
        self.convert_new(seen)
        self.assertEqual(len(seen), before, "no new export object")
        self.assertEqual(self.rows(), self.expected(), "nothing twice")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
