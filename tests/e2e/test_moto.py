"""End-to-end tests against real parts: the built function under `cargo lambda watch`,
invoked with `cargo lambda invoke`, re-ingesting through the real AWS SDK over HTTP
into a moto server standing in for Firehose, Kinesis, S3 and CloudWatch Logs.

Run by `make e2e` (part of `make test`) with the project's tool venv, which has
cargo-lambda, moto and boto3.
"""
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import zlib

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.25)
    raise TimeoutError(f"nothing listening on {port} after {seconds}s")


def gzip_members(blob):
    """Splits concatenated gzip members (moto writes a PutRecordBatch as one object)."""
    members = []
    while blob:
        decompressor = zlib.decompressobj(wbits=31)
        members.append(decompressor.decompress(blob) + decompressor.flush())
        blob = decompressor.unused_data
    return members


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


class EndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.logs = tempfile.TemporaryDirectory()
        moto_port = free_port()
        cls.endpoint = f"http://127.0.0.1:{moto_port}"
        cls.moto = subprocess.Popen(
            ["moto_server", "-H", "127.0.0.1", "-p", str(moto_port)],
            stdout=open(os.path.join(cls.logs.name, "moto.log"), "w"), stderr=subprocess.STDOUT)
        wait_for_port(moto_port, cls.moto, 60)
        cls.lambda_port = free_port()
        env_args = []
        for name, value in {"AWS_ENDPOINT_URL": cls.endpoint, "AWS_REGION": REGION,
                            "REINGEST_SAFETY_MARGIN_MS": "2000", **CREDENTIALS}.items():
            env_args += ["--env-var", f"{name}={value}"]
        cls.watch_log = os.path.join(cls.logs.name, "watch.log")
        cls.watch = subprocess.Popen(
            ["cargo", "lambda", "watch", "--invoke-address", "127.0.0.1",
             "--invoke-port", str(cls.lambda_port), *env_args],
            cwd=ROOT, stdout=open(cls.watch_log, "w"), stderr=subprocess.STDOUT,
            start_new_session=True)
        wait_for_port(cls.lambda_port, cls.watch, 900)
        session = boto3.Session(region_name=REGION, aws_access_key_id="testing",
                                aws_secret_access_key="testing")
        cls.s3 = session.client("s3", endpoint_url=cls.endpoint)
        cls.firehose = session.client("firehose", endpoint_url=cls.endpoint)
        cls.kinesis = session.client("kinesis", endpoint_url=cls.endpoint)
        cls.cwlogs = session.client("logs", endpoint_url=cls.endpoint)

    @classmethod
    def tearDownClass(cls):
        try:
            os.killpg(cls.watch.pid, 15)
        except ProcessLookupError:
            pass
        cls.moto.terminate()
        cls.watch.wait(timeout=30)
        cls.moto.wait(timeout=30)
        cls.logs.cleanup()

    def invoke(self, event):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(event, f)
        try:
            out = subprocess.run(
                ["cargo", "lambda", "invoke", "firehose-logs-processor", "--invoke-address",
                 "127.0.0.1", "--invoke-port", str(self.lambda_port), "--output-format", "json",
                 "--data-file", f.name],
                cwd=ROOT, capture_output=True, text=True, timeout=300)
        finally:
            os.unlink(f.name)
        if out.returncode != 0:
            with open(self.watch_log) as log:
                self.fail(f"invoke failed: {out.stderr}\n{log.read()[-4000:]}")
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
            payloads.extend(gzip_members(body))
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
                with open(self.watch_log) as log:
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


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"e2e: {result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed or not result.wasSuccessful() else 0)
