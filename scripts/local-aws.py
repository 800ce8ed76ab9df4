#!/usr/bin/env python3
"""A local stand-in for the streams `make invoke` re-ingests into, on a moto server.

usage: local-aws.py setup EVENT    create the event's delivery stream (and Kinesis source)
       local-aws.py collect EVENT  print what was re-ingested into them, as JSON
                                   (base64 payloads, read by show-response.py)
Reads AWS_ENDPOINT_URL from the environment.
"""
import base64
import json
import os
import sys

import devkit
from devkit import gzip_members

BUCKET = "local-reingested"


def clients(event):
    return devkit.clients(os.environ["AWS_ENDPOINT_URL"], "s3", "firehose", "kinesis",
                          region=event.get("region") or devkit.REGION)


def names(event):
    stream = (event.get("deliveryStreamArn") or "arn:x/local").rsplit("/", 1)[-1]
    kinesis = event.get("sourceKinesisStreamArn")
    return stream, (kinesis.rsplit("/", 1)[-1] if kinesis else None)


def setup(event):
    s3, firehose, kinesis = clients(event)
    stream, kinesis_stream = names(event)
    s3.create_bucket(Bucket=BUCKET)
    firehose.create_delivery_stream(
        DeliveryStreamName=stream,
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/local",
            "BucketARN": f"arn:aws:s3:::{BUCKET}"})
    if kinesis_stream:
        kinesis.create_stream(StreamName=kinesis_stream, ShardCount=1)


def collect(event):
    """Prints, as JSON, every payload put back into the stand-in streams (base64)."""
    s3, _, kinesis = clients(event)
    stream, kinesis_stream = names(event)
    payloads = []
    if kinesis_stream:
        shard = kinesis.list_shards(StreamName=kinesis_stream)["Shards"][0]["ShardId"]
        iterator = kinesis.get_shard_iterator(StreamName=kinesis_stream, ShardId=shard,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        payloads = [gzip_members(r["Data"])[0] if r["Data"][:2] == b"\x1f\x8b" else r["Data"]
                    for r in kinesis.get_records(ShardIterator=iterator)["Records"]]
        where = f"Kinesis stream {kinesis_stream} (local moto stand-in)"
    else:
        for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
            payloads += gzip_members(body) if body[:2] == b"\x1f\x8b" else [body]
        where = f"delivery stream {stream} (local moto stand-in)"
    json.dump({"where": where,
               "payloads": [base64.b64encode(p).decode() for p in payloads]}, sys.stdout)


if __name__ == "__main__":
    command, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        event = json.load(f)
    {"setup": setup, "collect": collect}[command](event)
