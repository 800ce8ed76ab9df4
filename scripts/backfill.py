#!/usr/bin/env python3
"""Starts the backfill (template.yaml's BackfillStateMachine) and follows it: one line per
log group as it finishes, then the tally (the execution's output).

usage: backfill.py [--stack-name NAME] [--bucket NAME] [--since WHEN] [--until WHEN]
                   [--prefix PREFIX] [--poll-seconds N] [--param NAME=VALUE ...]

With a deployed stack, the state machine and the bucket come from its outputs. With
AWS_ENDPOINT_URL set and no such stack (a local moto server, `make local-aws`), the state
machine is created there from template.yaml: its definition as the template has it, the
substitutions evaluated from the template's parameters (defaults, or --param), the
progress table created, the plan function being `export-converter` as `cargo lambda
watch` serves it (BACKFILL_PLAN_FUNCTION to change it); --bucket is then required.

WHEN: ISO 8601 (2026-11-01, 2026-11-01T06:00:00Z; no zone = UTC) or epoch milliseconds.
--until defaults to now less 12 hours: CloudWatch Logs may take that long to make events
exportable, and a range once exported is not exported again.
"""
import argparse
import datetime
import json
import os
import sys
import time

import boto3

from lake_schema import Template

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPORT_DELAY_MS = 12 * 3600 * 1000
LINES = {"GroupExported", "GroupSkipped", "GroupFailed", "GroupError"}


def epoch_ms(text):
    text = text.strip()
    if text.isdigit():
        return int(text)
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp() * 1000)


def iso(millis):
    moment = datetime.datetime.fromtimestamp(millis / 1000, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


# ---------------------------------------------------------------- template.yaml, locally

def local_state_machine(clients, args):
    account = clients["sts"].get_caller_identity()["Account"]
    region = clients["sfn"].meta.region_name
    parameters = dict(pair.split("=", 1) for pair in args.param)
    evaluator = Template(os.path.join(ROOT, "template.yaml"), parameters, account=account,
                         region=region, stack_name=args.stack_name)
    template = evaluator.doc
    stream = evaluator.ref("DeliveryStreamName")
    table = f"{stream}-backfill-progress"
    if table not in clients["dynamodb"].list_tables()["TableNames"]:
        clients["dynamodb"].create_table(
            TableName=table, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "logGroup", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "logGroup", "KeyType": "HASH"}])
    machine = template["Resources"]["BackfillStateMachine"]["Properties"]
    values = {"ProgressTable": table, "Bucket": args.bucket,
              "PlanFunction": os.environ.get("BACKFILL_PLAN_FUNCTION", "export-converter")}
    text = json.dumps(machine["Definition"])
    for name, value in machine["DefinitionSubstitutions"].items():
        value = values[name] if name in values else evaluator.eval(value)
        text = text.replace("${" + name + "}", json.dumps(value)[1:-1])
    name = f"{stream}-backfill"
    role = f"arn:aws:iam::{account}:role/{name}"
    existing = [m["stateMachineArn"] for m in clients["sfn"].list_state_machines()["stateMachines"]
                if m["name"] == name]
    if existing:
        clients["sfn"].update_state_machine(stateMachineArn=existing[0], definition=text)
        return existing[0]
    return clients["sfn"].create_state_machine(name=name, definition=text, roleArn=role,
                                               type="STANDARD")["stateMachineArn"]


# ---------------------------------------------------------------- running it

def stack_outputs(clients, stack_name):
    try:
        stack = clients["cloudformation"].describe_stacks(StackName=stack_name)["Stacks"][0]
    except Exception:  # no stack (or no CloudFormation on the endpoint): run locally
        return None
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def keys_under(s3, bucket, prefix):
    """The keys under `prefix`, or None when they cannot be listed (a sender account's
    backfill writes into the central bucket, which it may not list)."""
    from botocore.exceptions import ClientError
    paginator = s3.get_paginator("list_objects_v2")
    try:
        return {item["Key"] for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
                for item in page.get("Contents", [])}
    except ClientError:
        return None


def describe(group, s3, bucket, before):
    outcome = group["outcome"]
    name = group["logGroupName"]
    if outcome == "exported":
        prefix = group["destinationPrefix"] + "/"
        now = keys_under(s3, bucket, prefix)
        written = ("objects not listable from here" if now is None or before is None else
                   f"{sum(1 for k in now - before if not k.endswith('aws-logs-write-test'))} objects")
        return (f"exported {name}: {iso(group['from'])} .. {iso(group['to'])}, "
                f"task {group['taskId']}, {written} under s3://{bucket}/{prefix}")
    if outcome == "skipped":
        return f"skipped  {name}: {group['reason']}"
    task = f" (task {group['taskId']})" if group.get("taskId") else ""
    return f"FAILED   {name}{task}: {group['reason']}"


def follow(sfn, s3, bucket, execution, before):
    seen, token = 0, None
    while True:
        status = sfn.describe_execution(executionArn=execution)
        kwargs = {"executionArn": execution, "maxResults": 1000}
        events = []
        while True:
            page = sfn.get_execution_history(**kwargs, **({"nextToken": token} if token else {}))
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                break
        for event in events[seen:]:
            details = event.get("stateExitedEventDetails")
            if details and details["name"] in LINES:
                print(describe(json.loads(details["output"]), s3, bucket, before), flush=True)
        seen = len(events)
        if status["status"] != "RUNNING":
            return status
        time.sleep(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack-name", default=os.environ.get("STACK_NAME", "firehose-logs-processor"))
    parser.add_argument("--bucket")
    parser.add_argument("--since")
    parser.add_argument("--until")
    parser.add_argument("--prefix", default="")
    parser.add_argument("--poll-seconds", type=int)
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    session = boto3.Session()
    clients = {name: session.client(service) for name, service in [
        ("sfn", "stepfunctions"), ("s3", "s3"), ("sts", "sts"), ("dynamodb", "dynamodb"),
        ("cloudformation", "cloudformation")]}
    outputs = stack_outputs(clients, args.stack_name)
    if outputs is not None and "BackfillStateMachineArn" in outputs:
        # A sender stack has no bucket of its own: BUCKET= names the central one.
        machine, bucket = outputs["BackfillStateMachineArn"], args.bucket or outputs.get("BucketName")
        if not bucket:
            print("BUCKET=<the central bucket> is needed with a sender stack", file=sys.stderr)
            return 2
    elif os.environ.get("AWS_ENDPOINT_URL") and args.bucket:
        machine, bucket = local_state_machine(clients, args), args.bucket
    else:
        print(f"no backfill: stack {args.stack_name} has no BackfillStateMachineArn output "
              "(EnableExportTasks and EnableBackfill on?); locally, set AWS_ENDPOINT_URL "
              "and BUCKET", file=sys.stderr)
        return 2
    until = epoch_ms(args.until) if args.until else int(time.time() * 1000) - EXPORT_DELAY_MS
    request = {"Until": until, "Prefix": args.prefix}
    if args.since:
        request["Since"] = epoch_ms(args.since)
    if args.poll_seconds is not None:
        request["PollSeconds"] = args.poll_seconds
    before = keys_under(clients["s3"], bucket, "exports/")
    execution = clients["sfn"].start_execution(
        stateMachineArn=machine, input=json.dumps(request),
        name=time.strftime("backfill-%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{os.getpid()}")
    print(f"backfill {execution['executionArn']}: up to {iso(until)}"
          + (f", from {iso(request['Since'])}" if "Since" in request else ""), flush=True)
    status = follow(clients["sfn"], clients["s3"], bucket, execution["executionArn"], before)
    if status["status"] != "SUCCEEDED":
        print(f"backfill {status['status']}: {status.get('error')}: {status.get('cause')}")
        return 1
    tally = json.loads(status["output"])
    print(f"tally: {tally['exported']} exported, {tally['skipped']} skipped, "
          f"{tally['failed']} failed")
    print(json.dumps(tally))
    return 1 if tally["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
