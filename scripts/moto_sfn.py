#!/usr/bin/env python3
"""A moto server that runs the backfill's state machine (template.yaml, setup 4) locally.

usage: moto_sfn.py [--host 127.0.0.1] [--port 5000]

Runs moto's server in this process with its Step Functions executor on (the
`POST /moto-api/config {"stepfunctions": {"execute_state_machine": true}}` call is made
once the server listens) and MOTO_PORT set to the port, as the executor calls back into
the server. `make local-aws` runs it in the foreground.

The shims, each the smallest that lets the state machine run as it does in AWS; none
makes moto answer differently from the service's documented behaviour:

1. Service name. Step Functions' SDK integrations name CloudWatch Logs `cloudwatchlogs`
   (`arn:aws:states:::aws-sdk:cloudwatchlogs:describeLogGroups`); boto names it `logs`.
   moto's executor maps only `sfn`/`states`: `cloudwatchlogs` -> `logs` is added.
2. Member names. The SDK integrations take parameters and return results in PascalCase
   (`LogGroupName`, `LogGroups`); moto's executor passes and returns the API's own
   camelCase. Its own converters (`_to_boto_request`, `_from_boto_response`, over the
   botocore operation's shapes) are applied to aws-sdk tasks, parameters in and
   results out.
3. Error names. Step Functions names an SDK error `<Service>.<error code>`
   (`CloudWatchLogs.LimitExceededException`, which the state machine's Retry matches);
   moto's executor says `cloudwatchlogs.cloudwatchlogsException`. For `cloudwatchlogs`
   only, the name is built from the service's error code.
4. Lambda. moto runs Lambda functions only in Docker. When MOTO_LAMBDA_ENDPOINT is set
   (`cargo lambda watch`'s address, which serves the Lambda Invoke API), the executor's
   Lambda client calls it instead, so the state machine invokes the real export converter.
5. Account policies. moto has no PutAccountPolicy / DescribeAccountPolicies: both are
   added, in memory, with the API's documented members (policyName, policyDocument,
   policyType, scope, selectionCriteria, lastUpdatedTime, accountId).

Test-only fault injection (never set by `make local-aws`): MOTO_FAULTS, JSON
`{"limit_exceeded": N, "fail_group": NAME}`: the first N CreateExportTask calls answer
LimitExceededException (another export running), and the first export task of log group
NAME ends FAILED, as the service reports a task it could not complete.
"""
import argparse
import json
import os
import sys
import threading
import urllib.request

import devkit


def shim_service_names():
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )
    StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES["cloudwatchlogs"] = "logs"


def shim_member_names():
    import botocore.session
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )
    models = {}

    def operation(task):
        service = task._get_boto_service_name()
        if service not in models:
            models[service] = botocore.session.get_session().get_service_model(service)
        action = task.resource.api_action
        return models[service].operation_model(action[:1].upper() + action[1:])

    def normalise_parameters(self, parameters, boto_service_name=None, service_action_name=None):
        self._to_boto_request(parameters, operation(self).input_shape)

    def normalise_response(self, response, boto_service_name=None, service_action_name=None):
        self._from_boto_response(response, operation(self).output_shape)

    StateTaskServiceAwsSdk._normalise_parameters = normalise_parameters
    StateTaskServiceAwsSdk._normalise_response = normalise_response


def shim_error_names():
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as aws_sdk,
    )
    aws_sdk._SERVICE_ERROR_NAMES["cloudwatchlogs"] = "CloudWatchLogs"
    original = aws_sdk.StateTaskServiceAwsSdk._normalise_exception_name

    def exception_name(norm_service_name, ex):
        if norm_service_name == "CloudWatchLogs" and isinstance(ex, ClientError):
            return f"CloudWatchLogs.{ex.response['Error']['Code']}"
        return original(norm_service_name, ex)

    aws_sdk.StateTaskServiceAwsSdk._normalise_exception_name = staticmethod(exception_name)


def shim_lambda(endpoint):
    import boto3
    from botocore.config import Config
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    original = lambda_eval_utils.boto_client_for

    def client_for(region, service, state_credentials=None):
        if service != "lambda":
            return original(region=region, service=service, state_credentials=state_credentials)
        return boto3.client("lambda", region_name=region, endpoint_url=endpoint,
                            aws_access_key_id="ak", aws_secret_access_key="sk",
                            config=Config(retries={"total_max_attempts": 1}, read_timeout=900))

    lambda_eval_utils.boto_client_for = client_for


def shim_account_policies():
    from moto.core.utils import unix_time_millis, utcnow
    from moto.logs.responses import LogsResponse

    def put_account_policy(self):
        backend = self.logs_backend
        policies = backend.__dict__.setdefault("account_policies", {})
        policy = {
            "policyName": self._get_param("policyName"),
            "policyDocument": self._get_param("policyDocument"),
            "policyType": self._get_param("policyType"),
            "scope": self._get_param("scope", "ALL"),
            "selectionCriteria": self._get_param("selectionCriteria"),
            "lastUpdatedTime": int(unix_time_millis(utcnow())),
            "accountId": backend.account_id,
        }
        policies[(policy["policyType"], policy["policyName"])] = policy
        return json.dumps({"accountPolicy": policy})

    def describe_account_policies(self):
        policies = self.logs_backend.__dict__.get("account_policies", {}).values()
        kind, name = self._get_param("policyType"), self._get_param("policyName")
        found = [p for p in policies if p["policyType"] == kind
                 and name in (None, p["policyName"])]
        return json.dumps({"accountPolicies": found})

    LogsResponse.put_account_policy = put_account_policy
    LogsResponse.describe_account_policies = describe_account_policies


def inject_faults(faults):
    from moto.logs.exceptions import LimitExceededException
    from moto.logs.models import LogsBackend
    original = LogsBackend.create_export_task
    state = {"limit_exceeded": int(faults.get("limit_exceeded", 0)),
             "fail_group": faults.get("fail_group")}

    def create_export_task(self, **kwargs):
        if state["limit_exceeded"] > 0:
            state["limit_exceeded"] -= 1
            print("moto_sfn: fault injected: CreateExportTask answers LimitExceededException",
                  flush=True)
            raise LimitExceededException()
        if state["fail_group"] is None or kwargs["logGroupName"] != state["fail_group"]:
            return original(self, **kwargs)
        # A task that fails before writing anything: created over an empty range, so
        # that moto writes no object, then reported FAILED.
        state["fail_group"] = None
        task_id = original(self, **{**kwargs, "to": kwargs["fromTime"] - 1})
        self.export_tasks[task_id].status = {
            "code": "FAILED", "message": "injected fault: the export could not complete"}
        return task_id

    LogsBackend.create_export_task = create_export_task


def turn_executor_on(port):
    devkit.wait_for_port(port, seconds=60, what="moto server")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/moto-api/config", method="POST",
        data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
        headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).read()
    print(f"moto_sfn: Step Functions executor on at http://127.0.0.1:{port}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    options = parser.parse_args()
    os.environ["MOTO_PORT"] = str(options.port)
    shim_service_names()
    shim_member_names()
    shim_error_names()
    shim_account_policies()
    if os.environ.get("MOTO_LAMBDA_ENDPOINT"):
        shim_lambda(os.environ["MOTO_LAMBDA_ENDPOINT"])
    if os.environ.get("MOTO_FAULTS"):
        inject_faults(json.loads(os.environ["MOTO_FAULTS"]))
    threading.Thread(target=turn_executor_on, args=(options.port,), daemon=True).start()
    from moto.server import main as moto_main
    moto_main(["-H", options.host, "-p", str(options.port)])


if __name__ == "__main__":
    sys.exit(main())
