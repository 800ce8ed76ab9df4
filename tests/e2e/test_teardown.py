"""The AWS side of the teardown, against moto (in process, no server, no Rust):
scripts/empty-bucket.py leaves a versioned bucket that `delete-bucket` accepts, and
`make delete`'s script reads the stack's outputs before it hands over to `sam delete`,
printing the real names and passing the region and YES=1 on.

Run by `make e2e` (part of `make test`) with the tools venv, which has boto3 and moto.
"""
import contextlib
import importlib.util
import io
import json
import os
import stat
import sys
import tempfile
import unittest
from unittest import mock

from moto import mock_aws

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import devkit  # noqa: E402
import teardown  # noqa: E402
from devkit import CREDENTIALS, REGION, ROOT  # noqa: E402

spec = importlib.util.spec_from_file_location("empty_bucket", ROOT / "scripts" / "empty-bucket.py")
empty_bucket = importlib.util.module_from_spec(spec)
spec.loader.exec_module(empty_bucket)

# A stack with what template.yaml retains and the outputs that name it.
STACK_TEMPLATE = json.dumps({
    "Resources": {
        "DataKey": {"Type": "AWS::KMS::Key", "DeletionPolicy": "Retain",
                    "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": []}}},
        "LogBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain",
                      "Properties": {"VersioningConfiguration": {"Status": "Enabled"}}},
        "BackfillProgressTable": {
            "Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain",
            "Properties": {"BillingMode": "PAY_PER_REQUEST",
                           "AttributeDefinitions": [{"AttributeName": "logGroup", "AttributeType": "S"}],
                           "KeySchema": [{"AttributeName": "logGroup", "KeyType": "HASH"}]}},
    },
    "Outputs": {"BucketName": {"Value": {"Ref": "LogBucket"}},
                "DataKeyArn": {"Value": {"Fn::GetAtt": ["DataKey", "Arn"]}},
                "BackfillProgressTableName": {"Value": {"Ref": "BackfillProgressTable"}}},
})


@mock_aws
class Teardown(unittest.TestCase):
    def setUp(self):
        self.environment = mock.patch.dict(os.environ, {**CREDENTIALS, "AWS_DEFAULT_REGION": REGION})
        self.environment.start()
        self.addCleanup(self.environment.stop)
        self.s3, self.cloudformation = devkit.clients(None, "s3", "cloudformation")

    def test_a_versioned_bucket_is_emptied_to_the_last_version_and_marker(self):
        bucket = "logs-bucket"
        self.s3.create_bucket(Bucket=bucket)
        self.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        # 1,250 keys (more than one DeleteObjects batch), each written twice, half of them
        # deleted since: 2,500 versions and 625 delete markers.
        for n in range(1250):
            key = f"logs/account=1/source=app/dt=2026-12-05/hour=18/{n:05d}.gz"
            self.s3.put_object(Bucket=bucket, Key=key, Body=b"first")
            self.s3.put_object(Bucket=bucket, Key=key, Body=b"second")
            if n % 2:
                self.s3.delete_object(Bucket=bucket, Key=key)
        self.s3.create_multipart_upload(Bucket=bucket, Key="logs/unfinished.gz")

        removed = empty_bucket.empty(self.s3, bucket, report=lambda _: None)

        self.assertEqual(removed, (2500, 625, 1))
        listing = self.s3.list_object_versions(Bucket=bucket)
        self.assertEqual(listing.get("Versions", []) + listing.get("DeleteMarkers", []), [])
        self.s3.delete_bucket(Bucket=bucket)  # refused while any version is left

    def test_make_delete_prints_the_stacks_real_names_then_runs_sam_delete(self):
        self.cloudformation.create_stack(StackName="logs-prod", TemplateBody=STACK_TEMPLATE)
        outputs = {o["OutputKey"]: o["OutputValue"] for o in
                   self.cloudformation.describe_stacks(StackName="logs-prod")["Stacks"][0]["Outputs"]}
        with tempfile.TemporaryDirectory() as tmp:
            called = os.path.join(tmp, "sam-called")
            sam = os.path.join(tmp, "sam")
            with open(sam, "w") as f:
                f.write(f'#!/bin/sh\necho "$@" > "{called}"\n')
            os.chmod(sam, stat.S_IRWXU)
            for yes in (False, True):
                with self.subTest(yes=yes):
                    printed = io.StringIO()
                    with contextlib.redirect_stdout(printed):
                        status = teardown.main(["--stack-name", "logs-prod", "--sam", sam,
                                                *(["--yes"] if yes else [])])
                    self.assertEqual(status, 0)
                    text = printed.getvalue()
                    self.assertIn(f"  LogBucket              s3://{outputs['BucketName']}\n", text)
                    self.assertIn(f"  BackfillProgressTable  {outputs['BackfillProgressTableName']}\n",
                                  text)
                    self.assertIn(f"  DataKey                {outputs['DataKeyArn']}\n", text)
                    self.assertIn("dynamodb delete-table --region "
                                  f"{REGION} --table-name {outputs['BackfillProgressTableName']}\n", text)
                    self.assertIn(f"empty-bucket.py --region {REGION} {outputs['BucketName']}\n", text)
                    with open(called) as f:
                        self.assertEqual(f.read().split(), ["delete", "--stack-name", "logs-prod",
                                                            "--region", REGION,
                                                            *(["--no-prompts"] if yes else [])])

    def test_a_stack_that_is_not_there_is_one_line_and_no_sam(self):
        printed = io.StringIO()
        with contextlib.redirect_stderr(printed):
            status = teardown.main(["--stack-name", "nothing-here", "--sam", "/bin/false"])
        self.assertEqual(status, 1)
        self.assertEqual(printed.getvalue(), f"delete: no stack nothing-here in {REGION}\n")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"teardown: {result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed or not result.wasSuccessful() else 0)
