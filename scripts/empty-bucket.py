#!/usr/bin/env python3
"""Deletes every object version and delete marker of a versioned S3 bucket, and aborts
its unfinished multipart uploads, so that `aws s3api delete-bucket` can remove it.

`aws s3 rm --recursive` is not enough: on a versioned bucket it only adds a delete
marker in front of each object, and the bucket stays full. This is the step of the
teardown (docs/teardown.md) that `make delete` prints with the stack's bucket name.

usage: empty-bucket.py [--region REGION] BUCKET
Needs boto3: .tools/venv/bin/python scripts/empty-bucket.py ...
"""
import argparse
import sys
import time

BATCH = 1000  # DeleteObjects takes at most 1000 keys per request


def empty(s3, bucket, report=print, every_seconds=5):
    """Deletes all versions and delete markers of `bucket`, aborts its multipart uploads;
    returns (versions, markers, uploads) removed. Raises on the first key S3 refuses."""
    counts = {"Versions": 0, "DeleteMarkers": 0}
    last_report = time.monotonic()
    # Each round lists from the start again: what the last round deleted is gone, and a
    # listing that went on from a marker whose version was just deleted could stop short.
    while True:
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=BATCH)
        entries = [(kind, {"Key": e["Key"], "VersionId": e["VersionId"]})
                   for kind in counts for e in page.get(kind, [])]
        if not entries:
            break
        for start in range(0, len(entries), BATCH):
            batch = entries[start:start + BATCH]
            answer = s3.delete_objects(Bucket=bucket, Delete={
                "Objects": [entry for _, entry in batch], "Quiet": True})
            errors = answer.get("Errors", [])
            if errors:
                first = errors[0]
                raise RuntimeError(f"s3://{bucket}/{first['Key']} version {first.get('VersionId')}: "
                                   f"{first['Code']}: {first['Message']} "
                                   f"({len(errors)} of {len(batch)} refused)")
            for kind, _ in batch:
                counts[kind] += 1
        if time.monotonic() - last_report >= every_seconds:
            report(f"  {counts['Versions']} versions and {counts['DeleteMarkers']} "
                   "delete markers deleted so far")
            last_report = time.monotonic()
    uploads = 0
    while True:
        unfinished = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        if not unfinished:
            break
        for upload in unfinished:
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
            uploads += 1
    return counts["Versions"], counts["DeleteMarkers"], uploads


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--region")
    parser.add_argument("bucket")
    options = parser.parse_args(argv)
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError
    s3 = boto3.Session(region_name=options.region).client("s3")
    print(f"emptying s3://{options.bucket}: every version, delete marker and unfinished upload")
    try:
        versions, markers, uploads = empty(s3, options.bucket)
    except (BotoCoreError, ClientError, RuntimeError) as e:
        print(f"empty-bucket: {e}", file=sys.stderr)
        return 1
    print(f"s3://{options.bucket} is empty: {versions} versions, {markers} delete markers and "
          f"{uploads} unfinished uploads deleted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
