"""End-to-end tests against real parts: the built function under `cargo lambda watch`,
invoked with `cargo lambda invoke`, re-ingesting through the real AWS SDK over HTTP
into a moto server standing in for Firehose, Kinesis, S3 and CloudWatch Logs.

Run by `make e2e` (part of `make test`) with the project's tool venv, which has
cargo-lambda, moto and boto3.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import devkit  # noqa: E402
from devkit import ACCOUNT, CREDENTIALS, REGION, ROOT  # noqa: E402


def event_keys(events):
    return sorted((str(e["id"]), e["timestamp"], e["message"]) for e in events)


def firehose_event(payloads, stream_arn, kinesis_arn=None):
    event = {
        "invocationId": "e2e",
        "deliveryStreamArn": stream_arn,
        "region": REGION,
        "records": [
            {"recordId": f"r{i:06d}", "approximateArrivalTimestamp": 1795329660000,
             "data": base64.b64encode(p).decode()}
            for i, p in enumerate(payloads)
        ],
    }
    if kinesis_arn:
        event["sourceKinesisStreamArn"] = kinesis_arn
    return event


def emf_lines(log_text):
    return [json.loads(l) for l in log_text.splitlines() if l.startswith("{") and '"_aws"' in l]


class EndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Built first, in the foreground: the watches below then start an up-to-date
        # binary, and no invoke waits for a build.
        subprocess.run(["cargo", "build", "--bin", devkit.PROCESSOR], cwd=ROOT,
                       check=True, timeout=3600)
        # Class cleanups run even when a later step here fails, last registered first.
        cls.logs = tempfile.TemporaryDirectory()
        cls.addClassCleanup(cls.logs.cleanup)
        cls.moto = devkit.start_moto(os.path.join(cls.logs.name, "moto.log"))
        cls.addClassCleanup(cls.moto.stop)
        cls.watch = devkit.start_watch(
            os.path.join(cls.logs.name, "watch.log"),
            {"AWS_ENDPOINT_URL": cls.moto.endpoint, "AWS_REGION": REGION,
             "REINGEST_SAFETY_MARGIN_MS": "2000", **CREDENTIALS})
        cls.addClassCleanup(cls.watch.stop)
        cls.s3, cls.firehose, cls.kinesis, cls.cwlogs = devkit.clients(
            cls.moto.endpoint, "s3", "firehose", "kinesis", "logs")
        for client in (cls.s3, cls.firehose, cls.kinesis, cls.cwlogs):
            cls.addClassCleanup(client.close)

    def invoke(self, event, watch=None):
        watch = watch or self.watch
        out = devkit.invoke(devkit.PROCESSOR, event, watch.port, timeout=300)
        if out.returncode != 0:
            self.fail(f"invoke failed: {out.stderr}\n{devkit.read_log(watch.log_path)[-4000:]}")
        response = json.loads(out.stdout)
        sent = [r["recordId"] for r in event["records"]]
        self.assertEqual([r["recordId"] for r in response["records"]], sent,
                         "every recordId exactly once, in order")
        return response

    @staticmethod
    def ok_events(response):
        events = []
        for record in response["records"]:
            if record["result"] == "Ok":
                for line in base64.b64decode(record["data"]).decode().splitlines():
                    events.append(json.loads(line))
        return events

    def make_stream(self, name, bucket):
        self.s3.create_bucket(Bucket=bucket)
        return self.firehose.create_delivery_stream(
            DeliveryStreamName=name,
            ExtendedS3DestinationConfiguration={
                "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/firehose",
                "BucketARN": f"arn:aws:s3:::{bucket}"})["DeliveryStreamARN"]

    def take_objects(self, bucket):
        """Every record moto's Firehose wrote to S3 since the last call."""
        payloads = []
        for item in self.s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            body = self.s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            payloads.extend(devkit.gzip_members(body))
            self.s3.delete_object(Bucket=bucket, Key=item["Key"])
        return payloads

    def large_batch_events(self, stream_arn, kinesis_arn=None):
        with open(os.path.join(ROOT, "events", "large-batch.json")) as f:
            batch = json.load(f)
        batch["deliveryStreamArn"] = stream_arn
        if kinesis_arn:
            batch["sourceKinesisStreamArn"] = kinesis_arn
        expected = []
        for record in batch["records"]:
            payload = json.loads(zlib.decompress(base64.b64decode(record["data"]), wbits=31))
            if payload["messageType"] == "DATA_MESSAGE":
                expected.extend(payload["logEvents"])
        return batch, event_keys(expected)

    def run_rounds(self, event, expected, next_payloads, make_event):
        """Invokes until nothing is re-ingested; the union of Ok output must be `expected`."""
        delivered, reingested_rounds = [], 0
        for _ in range(8):
            response = self.invoke(event)
            results = {r["result"] for r in response["records"]}
            if "ProcessingFailed" in results:
                with open(self.watch.log_path) as log:
                    reasons = [l for l in log if "record failed" not in l and ("WARN" in l or "ERROR" in l or "INFO" in l)]
                self.fail("nothing may fail in a healthy stream:\n" + "".join(reasons[-10:]))
            delivered.extend(self.ok_events(response))
            payloads = next_payloads()
            dropped = sum(r["result"] == "Dropped" for r in response["records"])
            if not payloads:
                break
            self.assertGreater(dropped + sum(r["result"] == "Ok" for r in response["records"]), 0)
            reingested_rounds += 1
            event = make_event(payloads)
        self.assertGreater(reingested_rounds, 0, "the large batch must overflow one response")
        self.assertEqual(event_keys(delivered), expected, "every event exactly once over all rounds")

    def test_firehose_reingestion_rounds_deliver_every_event_once(self):
        arn = self.make_stream("logs", "reingest-firehose")
        event, expected = self.large_batch_events(arn)
        self.run_rounds(event, expected, lambda: self.take_objects("reingest-firehose"),
                        lambda payloads: firehose_event(payloads, arn))

    def test_kinesis_source_reingestion_rounds_deliver_every_event_once(self):
        firehose_arn = self.make_stream("from-kinesis", "reingest-kinesis-unused")
        self.kinesis.create_stream(StreamName="central-logs", ShardCount=1)
        stream_arn = self.kinesis.describe_stream(StreamName="central-logs")[
            "StreamDescription"]["StreamARN"]
        shard = self.kinesis.list_shards(StreamARN=stream_arn)["Shards"][0]["ShardId"]
        iterator = [self.kinesis.get_shard_iterator(
            StreamARN=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]]

        def take_records():
            records = []
            while True:
                page = self.kinesis.get_records(StreamARN=stream_arn, ShardIterator=iterator[0])
                iterator[0] = page["NextShardIterator"]
                records.extend(page["Records"])
                if not page["Records"]:
                    return [r["Data"] for r in records]

        event, expected = self.large_batch_events(firehose_arn, stream_arn)
        self.run_rounds(event, expected, take_records,
                        lambda payloads: firehose_event(payloads, firehose_arn, stream_arn))

    def test_subscription_filter_payloads_written_by_moto(self):
        arn = self.make_stream("subscribed", "subscribed-logs")
        group, stream = "/aws/lambda/e2e", "2026/11/22/[$LATEST]e2e"
        self.cwlogs.create_log_group(logGroupName=group)
        self.cwlogs.create_log_stream(logGroupName=group, logStreamName=stream)
        self.cwlogs.put_subscription_filter(
            logGroupName=group, filterName="to-firehose", filterPattern="",
            destinationArn=arn, roleArn=f"arn:aws:iam::{ACCOUNT}:role/logs")
        now = int(time.time() * 1000)
        messages = ["plain line", "multi\nline\n\tstack", "ünïcödé 漢字 😀",
                    json.dumps({"level": "info", "nested": {"a": [1, 2]}}), 'quote " \\ slash']
        messages += [f"event {i}" for i in range(40)]
        self.cwlogs.put_log_events(
            logGroupName=group, logStreamName=stream,
            logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(messages)])
        payloads = self.take_objects("subscribed-logs")
        self.assertTrue(payloads, "moto delivered the subscription payload to the stream")
        for payload in payloads:
            self.assertEqual(json.loads(payload)["messageType"], "DATA_MESSAGE")
        # The records as Firehose would hand them to the function: gzip, as CloudWatch sends.
        records = [zlib.compress(p, wbits=31) if not p.startswith(b"\x1f\x8b") else p
                   for p in payloads]
        response = self.invoke(firehose_event(records, arn))
        lines = self.ok_events(response)
        self.assertEqual(sorted(l["message"] for l in lines), sorted(messages))
        for line in lines:
            self.assertEqual((line["log_group"], line["log_stream"], line["account"]),
                             (group, stream, ACCOUNT))
            self.assertIsInstance(line["id"], str)


    def mixed_event(self, stream_arn):
        """events/mixed.json, whose fifth record has an event of a later hour: that
        event must be re-ingested, so the record depends on the stream."""
        with open(os.path.join(ROOT, "events", "mixed.json")) as f:
            event = json.load(f)
        event["deliveryStreamArn"] = stream_arn
        return event

    def assert_fails_fast(self, watch, cause):
        """Only the record that needed re-ingestion fails, at once, for `cause`, with one
        warning; the metrics count it as a permanent re-ingestion error."""
        event = self.mixed_event(f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/missing")
        # A first invoke that needs no re-ingestion starts the function (cargo lambda
        # watch runs it on first use), so that the timing below is the function's own.
        self.invoke(dict(event, records=event["records"][:1]), watch)
        before = len(emf_lines(devkit.read_log(watch.log_path)))
        started = time.monotonic()
        response = self.invoke(event, watch)
        elapsed = time.monotonic() - started
        self.assertLess(elapsed, 15, "a permanent error must not be retried until the deadline")
        results = [r["result"] for r in response["records"]]
        self.assertEqual(results, ["Dropped", "Ok", "Ok", "ProcessingFailed", "ProcessingFailed"])

        def stops(log):
            return [l for l in log.splitlines() if "re-ingestion stopped" in l]

        def failed(log):
            return [l for l in log.splitlines()
                    if "record failed" in l and event["records"][4]["recordId"] in l]

        # The function's log reaches the file through cargo lambda watch, after the
        # answer may have: read until the warning, the failed record and the invocation's
        # metrics line (its last) are all there.
        log = devkit.wait_for_log(watch.log_path, lambda log: stops(log) and failed(log)
                                  and len(emf_lines(log)) > before)
        self.assertEqual(len(stops(log)), 1, "one warning naming the cause:\n" + log[-3000:])
        self.assertIn(cause, stops(log)[0])
        self.assertEqual(len(failed(log)), 1, log[-3000:])
        self.assertIn("not re-ingested: " + cause, failed(log)[0])
        metrics = emf_lines(log)[before:]
        self.assertEqual(len(metrics), 1)
        self.assertEqual((metrics[0]["ReingestPermanentErrors"], metrics[0]["ReingestFailures"],
                          metrics[0]["PutRetries"]), (1, 1, 0))

    def test_a_missing_stream_fails_fast(self):
        self.assert_fails_fast(self.watch, "ResourceNotFoundException")

    def test_denied_access_fails_fast(self):
        """moto checks IAM once its first INITIAL_NO_AUTH_ACTION_COUNT calls are spent:
        the function gets the keys of a user without any policy."""
        with devkit.start_moto(os.path.join(self.logs.name, "moto-iam.log"),
                               INITIAL_NO_AUTH_ACTION_COUNT="2") as moto:
            (iam,) = devkit.clients(moto.endpoint, "iam")
            iam.create_user(UserName="no-permissions")
            key = iam.create_access_key(UserName="no-permissions")["AccessKey"]
            iam.close()
            with devkit.start_watch(os.path.join(self.logs.name, "watch-denied.log"), {
                    "AWS_ENDPOINT_URL": moto.endpoint, "AWS_REGION": REGION,
                    "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                    "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}) as watch:
                self.assert_fails_fast(watch, "AccessDenied")

    def test_missing_credentials_fail_fast(self):
        """No keys, no profile, instance metadata disabled, no endpoint: the credential
        provider fails, and that is final."""
        with devkit.start_watch(os.path.join(self.logs.name, "watch-no-credentials.log"),
                                {"AWS_REGION": REGION},
                                base_env=devkit.without_aws_settings()) as watch:
            self.assert_fails_fast(watch, "no AWS credentials")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"e2e: {result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed or not result.wasSuccessful() else 0)
