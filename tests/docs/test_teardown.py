"""`make delete` and docs/teardown.md against the templates: it refuses to run without a
stack name, and what it prints as kept is exactly what template.yaml retains, each with
the commands that remove it and the claims it makes about it true of the template.

Offline and standard library only (the template is read as text, as scripts/teardown.py
reads it): `python3 -m unittest discover -s tests/docs`, which `make docs-check` runs.
"""
import os
import re
import subprocess
import sys
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import teardown  # noqa: E402

TEMPLATE = (ROOT / "template.yaml").read_text(encoding="utf-8")
SENDER = (ROOT / "sender.yaml").read_text(encoding="utf-8")
REGION = "eu-west-1"
OUTPUTS = {
    "BucketName": f"logs-prod-logs-123456789012-{REGION}",
    "DataKeyArn": f"arn:aws:kms:{REGION}:123456789012:key/1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d",
    "BackfillProgressTableName": "logs-prod-BackfillProgressTable-1A2B3C4D5E6F",
}


def resource_block(text, logical_id):
    """A resource's text, from its `  Name:` line to the next resource or section."""
    found = re.search(rf"^  {logical_id}:\n(.*?)(?=^  [A-Za-z0-9]+:|^\S)", text, re.M | re.S)
    return found.group(1) if found else ""


def printed_plan(text=TEMPLATE, name="template.yaml", outputs=OUTPUTS):
    return teardown.plan("logs-prod", REGION, name, teardown.retained_resources(text),
                         teardown.outputs_naming(text), outputs)


class Refusal(unittest.TestCase):
    def make_delete(self, *args, **env):
        environment = {k: v for k, v in os.environ.items()
                       if k not in ("STACK_NAME", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "YES")}
        environment.update(env)
        return subprocess.run(["make", "--no-print-directory", "delete", *args], cwd=ROOT,
                              env=environment, capture_output=True, text=True, timeout=60)

    def test_no_stack_name_is_one_line_and_status_2(self):
        for args, env in [((), {}), (("STACK_NAME=",), {}), (("STACK_NAME= ",), {}),
                          ((), {"STACK_NAME": ""}), (("YES=1",), {})]:
            with self.subTest(args=args, env=env):
                out = self.make_delete(*args, **env)
                self.assertEqual(out.returncode, 2, out.stderr)
                self.assertEqual(out.stdout, "", "nothing installed or run before the refusal")
                lines = out.stderr.splitlines()
                self.assertEqual(len(lines), 1, out.stderr)
                self.assertIn("usage: make delete STACK_NAME=", lines[0])

    def test_the_deploy_default_is_not_taken(self):
        # deploy has a default stack name; delete must not fall back to it.
        self.assertRegex((ROOT / "mk" / "deploy.mk").read_text(), r"(?m)^STACK_NAME \?= \S+")
        out = self.make_delete()
        self.assertNotIn("firehose-logs-processor", out.stdout)
        self.assertEqual(out.returncode, 2)

    def test_a_stack_name_from_the_command_line_or_the_environment_is_taken(self):
        for args, env in [(("STACK_NAME=logs-prod",), {}), ((), {"STACK_NAME": "logs-prod"})]:
            with self.subTest(args=args, env=env):
                out = self.make_delete("-n", *args, **env)
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertIn("scripts/teardown.py --stack-name 'logs-prod'", out.stdout)
                self.assertNotIn("--yes", out.stdout)
        self.assertIn("--yes", self.make_delete("-n", "STACK_NAME=x", "YES=1").stdout)


class WhatStays(unittest.TestCase):
    def test_the_retained_resources_are_read_as_the_template_states_them(self):
        marked = re.findall(r"^\s+DeletionPolicy:\s*Retain\s*$", TEMPLATE, re.M)
        retained = teardown.retained_resources(TEMPLATE)
        self.assertEqual(len(retained), len(marked), "every DeletionPolicy: Retain, no other")
        self.assertEqual(sorted(name for name, _ in retained), ["BackfillProgressTable", "DataKey", "LogBucket"])
        for name, kind in retained:
            block = resource_block(TEMPLATE, name)
            self.assertRegex(block, r"(?m)^    DeletionPolicy: Retain$", name)
            self.assertRegex(block, rf"(?m)^    Type: {re.escape(kind)}$", name)

    def test_the_plan_lists_exactly_the_retained_resources_with_their_real_names(self):
        lines = printed_plan()
        listed = {m.group(1): m.group(2) for m in
                  (re.match(r"^  ([A-Z][A-Za-z0-9]+)  +(\S+)$", line) for line in lines) if m}
        retained = {name for name, _ in teardown.retained_resources(TEMPLATE)}
        self.assertEqual(set(listed), retained)
        self.assertEqual(listed["LogBucket"], f"s3://{OUTPUTS['BucketName']}")
        self.assertEqual(listed["DataKey"], OUTPUTS["DataKeyArn"])
        self.assertIn(f"but {len(retained)}, which template.yaml retains", "\n".join(lines))

    def test_each_retained_resource_has_an_output_and_a_way_to_be_removed(self):
        naming = teardown.outputs_naming(TEMPLATE)
        for name, kind in teardown.retained_resources(TEMPLATE):
            with self.subTest(resource=name):
                self.assertIn(kind, teardown.BY_TYPE, f"make delete cannot say how to remove a {kind}")
                self.assertIn(name, naming, "no output names it: make delete could not print its name")
        text = "\n".join(printed_plan())
        self.assertNotIn("no removal command known", text)
        self.assertNotIn("<no output names", text)

    def test_the_removal_commands_come_in_order_with_the_real_names(self):
        lines = printed_plan()
        commands = lines[lines.index("To remove what stays too, once the stack is gone "
                                     "(the data first, then its key):") + 1:]
        bucket, key = OUTPUTS["BucketName"], OUTPUTS["DataKeyArn"]
        table = OUTPUTS["BackfillProgressTableName"]
        self.assertEqual(commands[:4], [
            f"  .tools/venv/bin/python scripts/empty-bucket.py --region {REGION} {bucket}",
            f"  .tools/venv/bin/aws s3api delete-bucket --region {REGION} --bucket {bucket}",
            f"  .tools/venv/bin/aws dynamodb delete-table --region {REGION} --table-name {table}",
            f"  .tools/venv/bin/aws kms schedule-key-deletion --region {REGION} --key-id {key} "
            "--pending-window-in-days 7"])
        self.assertTrue((ROOT / "scripts" / "empty-bucket.py").is_file())
        self.assertIn(f"kms cancel-key-deletion --region {REGION} --key-id {key}", "\n".join(commands))
        self.assertTrue(7 <= teardown.KEY_DELETION_WINDOW_DAYS <= 30, "the range KMS allows")

    def test_what_the_plan_says_about_the_resources_is_true_of_the_template(self):
        text = "\n".join(printed_plan())
        # "the bucket being versioned": every version has to go before the bucket can.
        self.assertIn("versioned", text)
        self.assertRegex(resource_block(TEMPLATE, "LogBucket"),
                         r"VersioningConfiguration:\n\s+Status: Enabled")
        # "its alias ... goes with the stack"
        self.assertIn("alias", text)
        alias = resource_block(TEMPLATE, "DataKeyAlias")
        self.assertRegex(alias, r"Type: AWS::KMS::Alias")
        self.assertRegex(alias, r"TargetKeyId: !Ref DataKey")
        self.assertNotIn("Retain", alias)
        # "the functions and their log groups, the subscriptions (the account policy
        # included) ... go with the stack"
        log_groups = re.findall(r"^  (\w+):\n    Type: AWS::Logs::LogGroup", TEMPLATE, re.M)
        self.assertTrue(log_groups)
        for name in log_groups:
            self.assertRegex(resource_block(TEMPLATE, name), r"DeletionPolicy: Delete", name)
        self.assertRegex(resource_block(TEMPLATE, "AccountSubscriptionPolicy"),
                         r"Type: AWS::Logs::AccountPolicy")
        # The bucket's name comes from the stack name (why a new stack of the same name
        # cannot be created while it stays).
        self.assertIn('BucketName: !Sub "${AWS::StackName}-', resource_block(TEMPLATE, "LogBucket"))

    def test_senders_keep_only_their_backfill_progress(self):
        self.assertEqual(teardown.retained_resources(SENDER),
                         [("BackfillProgressTable", "AWS::DynamoDB::Table")])
        self.assertEqual(teardown.outputs_naming(SENDER).get("BackfillProgressTable"),
                         "BackfillProgressTableName")

    def test_a_stack_with_senders_says_to_delete_them_first(self):
        destination = f"arn:aws:logs:{REGION}:123456789012:destination:central-logs-destination"
        text = "\n".join(printed_plan(outputs={**OUTPUTS, "CrossAccountDestinationArn": destination}))
        self.assertIn(f"Other accounts send to {destination}", text)
        self.assertNotIn("Other accounts", "\n".join(printed_plan()))


class TheDocument(unittest.TestCase):
    DOC = (ROOT / "docs" / "teardown.md").read_text(encoding="utf-8")

    def test_its_sample_is_what_make_delete_prints(self):
        sample = re.search(r"^What it prints, .*?\n\n```\n(.*?)^```", self.DOC, re.M | re.S)
        self.assertIsNotNone(sample, "docs/teardown.md: the sample of make delete's output")
        account, region = "111111111111", "eu-west-1"
        outputs = {
            "BucketName": f"central-logs-logs-{account}-{region}",
            "DataKeyArn": f"arn:aws:kms:{region}:{account}:key/1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d",
            "BackfillProgressTableName": "central-logs-BackfillProgressTable-1A2B3C4D5E6F",
            "CrossAccountDestinationArn":
                f"arn:aws:logs:{region}:{account}:destination:central-logs-destination",
        }
        printed = teardown.plan("central-logs", region, "template.yaml",
                                teardown.retained_resources(TEMPLATE),
                                teardown.outputs_naming(TEMPLATE), outputs)
        self.assertEqual(sample.group(1).splitlines(), printed)

    def test_it_names_what_stays_and_the_commands(self):
        for name, _ in teardown.retained_resources(TEMPLATE):
            self.assertIn(f"`{name}`", self.DOC)
        for text in ("make delete STACK_NAME=", "YES=1", "scripts/empty-bucket.py",
                     "aws s3api delete-bucket", "aws kms schedule-key-deletion",
                     "--pending-window-in-days", "aws kms cancel-key-deletion",
                     "aws cloudformation delete-stack-instances",
                     "aws cloudformation delete-stack-set", "DeletionPolicy: Retain"):
            self.assertIn(text, self.DOC)


if __name__ == "__main__":
    unittest.main()
