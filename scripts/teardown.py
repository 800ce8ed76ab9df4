#!/usr/bin/env python3
"""`make delete`: what deleting the stack keeps, the commands that remove that too, then
`sam delete`.

Deleting a stack removes every resource of its template except those whose
DeletionPolicy is Retain. They are read from the template, and their names from the
stack's outputs, fetched before the stack is deleted (afterwards there are no outputs to
ask), so that the commands printed carry the real names. docs/teardown.md explains it.

usage: teardown.py --stack-name NAME [--template template.yaml] [--sam sam] [--yes]
  --yes  passes --no-prompts to sam delete (YES=1 in make); otherwise sam asks

Standard library at import time (tests/docs reads the template through it with any
python3); boto3, from the tools venv, only to ask AWS.
"""
import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS_BIN = ".tools/venv/bin"  # the printed commands run as pasted in the project folder
AWS = f"{TOOLS_BIN}/aws"
PYTHON = f"{TOOLS_BIN}/python"
# 7 is the shortest window KMS allows (30 the longest): long enough to notice a mistake
# and cancel, short enough that the key does not linger.
KEY_DELETION_WINDOW_DAYS = 7


# ---------------------------------------------------------------- the template, as text

def _section(template_text, name):
    """The lines of a top-level section (`Resources:`, `Outputs:`) of a CloudFormation
    YAML template, up to the next top-level key."""
    lines, inside = [], False
    for line in template_text.splitlines():
        if re.match(r"^[A-Za-z]", line):
            inside = line.rstrip() == f"{name}:"
            continue
        if inside:
            lines.append(line)
    return lines


def _entries(section_lines):
    """{logical id: {attribute: value}} of a section's two-space entries, with their
    four-space scalar attributes (Type, DeletionPolicy, Value, ...)."""
    entries, current = {}, None
    for line in section_lines:
        entry = re.match(r"^  ([A-Za-z0-9]+):\s*$", line)
        if entry:
            current = entries.setdefault(entry.group(1), {})
            continue
        attribute = re.match(r"^    ([A-Za-z]+):\s*(\S.*?)\s*$", line)
        if attribute and current is not None:
            current[attribute.group(1)] = attribute.group(2)
    return entries


def retained_resources(template_text):
    """[(logical id, type)] of the resources with DeletionPolicy: Retain, in template order."""
    return [(name, attributes.get("Type", "?"))
            for name, attributes in _entries(_section(template_text, "Resources")).items()
            if attributes.get("DeletionPolicy") == "Retain"]


def outputs_naming(template_text):
    """{logical id: output key} of the outputs whose value is a resource's name or ARN
    (`!Ref X`, `!GetAtt X.Arn`)."""
    naming = {}
    for key, attributes in _entries(_section(template_text, "Outputs")).items():
        value = re.fullmatch(r"!(?:Ref (\w+)|GetAtt (\w+)\.Arn)", attributes.get("Value", ""))
        if value:
            naming.setdefault(value.group(1) or value.group(2), key)
    return naming


# ---------------------------------------------------------------- what stays, and why

def _bucket(name, region):
    return {
        "name": f"s3://{name}",
        "text": ["keeps every object the pipeline wrote (logs/, events/, errors/, exports/) and,",
                 "the bucket being versioned, every earlier version and delete marker: deleting",
                 "a stack never deletes the logs. Its lifecycle rules keep applying. While it",
                 "exists, no stack of the same name can be created here (the bucket name comes",
                 "from the stack name)."],
        "remove": [f"{PYTHON} scripts/empty-bucket.py --region {region} {name}",
                   f"{AWS} s3api delete-bucket --region {region} --bucket {name}"],
    }


def _key(arn, region):
    return {
        "name": arn,
        "text": ["the key the bucket's objects are encrypted with: once it is deleted they can",
                 "never be read again, so it stays as long as they may be needed. Its alias is",
                 "a stack resource and goes with the stack."],
        "remove": [f"{AWS} kms schedule-key-deletion --region {region} --key-id {arn} "
                   f"--pending-window-in-days {KEY_DELETION_WINDOW_DAYS}"],
        "after": [f"KMS deletes the key {KEY_DELETION_WINDOW_DAYS} days later (7 to 30 allowed); "
                  "until then these take it back:",
                  f"  {AWS} kms cancel-key-deletion --region {region} --key-id {arn}",
                  f"  {AWS} kms enable-key --region {region} --key-id {arn}"],
    }


def _table(name, region):
    return {
        "name": name,
        "text": ["the backfill's progress: how far each log group's history was exported. Kept",
                 "with the data, so that a backfill of a new stack over the same bucket goes on",
                 "from there instead of exporting (and converting) the same history twice."],
        "remove": [f"{AWS} dynamodb delete-table --region {region} --table-name {name}"],
    }


# What a retained resource keeps and how to remove it, by type. A type missing here is
# printed as such, and tests/docs/test_teardown.py fails on it.
BY_TYPE = {"AWS::S3::Bucket": _bucket, "AWS::DynamoDB::Table": _table, "AWS::KMS::Key": _key}
# Removal order: the data first, then the key that could still read it.
ORDER = ["AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::KMS::Key"]


def plan(stack, region, template_name, retained, naming, outputs):
    """The lines `make delete` prints before `sam delete`: what stays, why, and the
    commands that remove it, with the names of the stack's `outputs`."""
    lines = [f"delete: stack {stack} in {region}."]
    if not retained:
        return lines + [f"Deleting it keeps nothing: {template_name} retains no resource."]
    lines += [f"Deleting it removes every resource but {len(retained)}, which {template_name} "
              "retains (DeletionPolicy: Retain):", ""]
    width = max(len(logical_id) for logical_id, _ in retained)
    removal, after = [], []
    for logical_id, kind in sorted(retained, key=lambda r: ORDER.index(r[1])
                                   if r[1] in ORDER else len(ORDER)):
        name = outputs.get(naming.get(logical_id, ""), f"<no output names {logical_id}>")
        describe = BY_TYPE.get(kind)
        said = describe(name, region) if describe else {
            "name": name, "text": [f"a {kind}: no removal command known for this type"],
            "remove": []}
        lines += [f"  {logical_id:<{width}}  {said['name']}"]
        lines += [f"    {text}" for text in said["text"]]
        removal += said["remove"]
        after += said.get("after", [])
    lines += ["", "Everything else goes with the stack: the stream, the functions and their log",
              "groups, the subscriptions (the account policy included), the backfill's state",
              "machine, the Glue tables, the alarms and the dashboard."]
    if "CrossAccountDestinationArn" in outputs:
        lines += [f"Other accounts send to {outputs['CrossAccountDestinationArn']}:",
                  "delete their sender stacks (or stack set instances) first: docs/teardown.md."]
    lines += ["", "To remove what stays too, once the stack is gone (the data first, then its key):"]
    lines += [f"  {command}" for command in removal] + after
    return lines


# ---------------------------------------------------------------- AWS

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack-name", required=True)
    parser.add_argument("--template", default=str(ROOT / "template.yaml"))
    parser.add_argument("--sam", default="sam")
    parser.add_argument("--yes", action="store_true")
    options = parser.parse_args(argv)

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    template = Path(options.template).read_text(encoding="utf-8")
    session = boto3.Session()
    # boto3 and the SAM CLI read AWS_DEFAULT_REGION and the profile, not AWS_REGION (the
    # Rust SDK's); either will do here, and sam gets the region explicitly.
    region = session.region_name or os.environ.get("AWS_REGION")
    if not region:
        print("delete: no AWS region: set AWS_DEFAULT_REGION, AWS_REGION or a profile's region",
              file=sys.stderr)
        return 2
    cloudformation = session.client("cloudformation", region_name=region)

    def stack():
        try:
            return cloudformation.describe_stacks(StackName=options.stack_name)["Stacks"][0]
        except ClientError as e:
            if "does not exist" in str(e):
                return None
            raise

    try:
        found = stack()
    except (BotoCoreError, ClientError) as e:
        print(f"delete: cannot read stack {options.stack_name} in {region}: {e}", file=sys.stderr)
        return 1
    if found is None:
        print(f"delete: no stack {options.stack_name} in {region}", file=sys.stderr)
        return 1
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
    retained = retained_resources(template)
    print("\n".join(plan(options.stack_name, region, Path(options.template).name, retained,
                         outputs_naming(template), outputs)), flush=True)

    command = [options.sam, "delete", "--stack-name", options.stack_name, "--region", region]
    if options.yes:
        command.append("--no-prompts")
    print("\n" + " ".join(command), flush=True)
    status = subprocess.run(command).returncode
    if status == 0 and retained:
        try:
            gone = stack() is None
        except (BotoCoreError, ClientError):
            gone = False
        if gone:
            print(f"\ndelete: stack {options.stack_name} deleted; the resources above stay "
                  "until the commands above remove them")
    return status


if __name__ == "__main__":
    sys.exit(main())
