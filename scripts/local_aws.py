#!/usr/bin/env python3
"""The local AWS harness: moto behind a proxy that adds what moto lacks.

One process holds moto (in a thread) and a proxy in front of it. The proxy:
  * bridges CloudWatch's Smithy rpcv2Cbor protocol (what aws-sdk-cloudwatch speaks) to the
    awsJson1_0 protocol moto understands, using botocore's service model for timestamps,
    blobs and number types;
  * isolates callers by access key: each key maps to its own moto account (keys shaped
    `ACCT<12 digits>...` choose theirs; any other key is account 123456789012), and has its
    own request counters and fault settings, so parallel tests share one emulator safely;
  * injects faults on demand (throttling in each service's own format, 5xx, connection
    resets, latency with jitter), seeded for repeatable runs;
  * counts requests: total, reads and writes, by service and operation.

Control endpoints (never counted, never faulted):
  GET    /__harness/requests[?key=AKID]   counters (all keys, or one key)
  DELETE /__harness/requests[?key=AKID]   reset counters
  PUT    /__harness/faults                JSON {key?, seed, throttle, server_error, reset,
                                          lost, latency_ms, jitter_ms, services[],
                                          operations[], limit} (shares of requests; `lost`
                                          carries the request out, then answers 500; at most
                                          `limit` faults in all, when given)
  DELETE /__harness/faults[?key=AKID]     faults off
  PUT    /__harness/script                JSON {key, operation: "service:Op", responses: [
                                          {status, body, content_type} or {pass: true}]}:
                                          recorded answers served in order ({{now}} is
                                          replaced by the time); then moto answers again
  DELETE /__harness/script[?key=AKID]     scripts cleared
  PUT    /__harness/clock                 JSON {key, seconds_per_minute}: a state machine's
                                         TimeoutSeconds pass that much faster for the account
  POST   /__harness/reset                 moto state, counters and faults cleared
  GET    /__harness/replications       every ECR replication attempt and its outcome
  GET    /__harness/health                200 when ready

Commands:
  local_aws.py serve [--port N] [--exit-on-stdin-eof]   foreground; prints `endpoint URL`
  local_aws.py start [--port N]                         background; prints `endpoint URL`
  local_aws.py stop                                     stops the background one
  local_aws.py status

Beyond moto: CreateService and UpdateService complete their ECS deployment at once (see
complete_ecs_deployments and complete_ecs_services), since moto's deployments never move;
CreateService refuses a target group no listener or rule forwards to, as AWS does.
Lambda's GetAccountSettings (moto has none) answers a quota of 1,000 concurrent
executions less the functions' reservations; a test scripts a new account's smaller one.
SES v2's GetAccount (moto has none) answers a new account's: in the sandbox.
A stack's AWS::ECS::TaskDefinition is registered with every property and replaced on any
change, as AWS does (complete_stack_task_definitions); moto drops most properties.
A requested ACM certificate is ISSUED at once (DNS validation played as done). A stack's
load balancer has the type (and name) its template says (typed_stack_load_balancers);
moto makes every one an application load balancer. A database instance answers
Fn::GetAtt DbiResourceId (database_resource_ids), as AWS does. Deleting a stack deletes
its route tables, internet gateway and target groups (stack_deletion_in_order); moto left
them behind, so a network stack's VPC could never be deleted. A repository with
EmptyOnDelete goes with its images. An executed change set gives its stack its parameters,
tags and outputs, and deletes the stack's other change sets (executed_change_sets_as_aws);
moto left the stack's parameters, tags and outputs as they were. UpdateTerminationProtection
sets a stack's protection (termination_protection_updates); moto had no such call.

A stack's AWS::Scheduler::Schedule is created in moto's Scheduler (stack_schedules); moto's
CloudFormation skipped it. A RunTask of a model's training job (family `*-training`) runs
training/fraud-scoring/train.py as the container would and stops the task with its exit code
(training_runs); moto's tasks run nothing and never stop. The task's container reports
the digest ECR holds for its image, as Fargate's pull would, and the run gets the task
metadata endpoint (v4) at ECS_CONTAINER_METADATA_URI_V4, as on Fargate (no variable holds
the task id).

What the world does to the emulator, from the command line (the README's walk-throughs):
`push-image REPOSITORY:TAG` (a manifest in ECR, as `docker push` leaves), `put-object
s3://BUCKET/KEY TEXT` (a producer's object), `traffic FUNCTION --service S --namespace N`
(the CloudWatch figures requests to a Lambda's live alias would leave, split by its weights).

Across accounts, the proxy enforces what AWS does (resource policies, key policies, trust
policies, ECR replication): scripts/cross_account.py says each rule, scripts/access_rules.py
evaluates the policies (unit tests: scripts/test_access_rules.py).

An update that must replace a resource whose custom name it keeps fails and rolls back, as
CloudFormation fails it (scripts/stack_rules.py; moto replaced it in place).

Where moto is more lenient than AWS, the proxy answers as AWS does (CloudFormationRules):
  * a TemplateBody over 51,200 bytes (CreateStack, UpdateStack, CreateChangeSet,
    ValidateTemplate) is refused with AWS's ValidationError; moto accepts any size;
  * a CreateStack, UpdateStack, DeleteStack or ExecuteChangeSet that repeats the
    ClientRequestToken of an earlier successful one for the same stack is answered as
    that one was, without running again (AWS's idempotency); moto ignores the token, so a
    retry after a lost answer would create twice or fail with AlreadyExistsException;
  * the tokens are counted: `request_tokens` in the counters, per operation, with and
    without a token.
"""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import http.client
import http.server
import json
import logging
import os
import random
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid
import warnings

import cross_account
import local_services
import stack_rules

DEFAULT_ACCOUNT = "123456789012"
CBOR_SERVICE = "GraniteServiceVersion20100801"
CONTROL = "/__harness/"
# The environments' entry points (scripts/local_services.py): /__services/<account>/...
SERVICES = "/__services/"
READ_PREFIXES = ("Describe", "Get", "List", "Head", "BatchGet", "Query", "Scan", "Lookup",
                 "Validate", "Estimate", "Search")


# ------------------------------------------------------------------ requests and faults

class Scope:
    """Counters and fault settings of one access key (or of everyone, for the global scope)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.faults: dict | None = None
        self.rng = random.Random(0)
        # Recorded AWS-shaped responses, by "service:Operation", served in order (for the
        # states moto cannot reach: rollbacks, failed rollbacks, stacks busy elsewhere).
        self.scripts: dict[str, list[dict]] = {}
        self.reset_counters()

    def next_scripted(self, service: str, operation: str) -> dict | None:
        """The next recorded response for this operation, if a test scripted one."""
        with self.lock:
            queue = self.scripts.get(f"{service}:{operation}")
            return queue.pop(0) if queue else None

    def reset_counters(self) -> None:
        self.total = self.reads = self.writes = 0
        # Each request's start and end (monotonic seconds) and its operation: how many ran
        # one after another (`depth`) is the run's critical path in round trips.
        self.intervals: list[tuple[float, float, str]] = []
        self.by_operation: dict[str, int] = {}
        self.faults_injected: dict[str, int] = {}
        self.request_tokens: dict[str, dict[str, int]] = {}

    def count_token(self, operation: str, token: str | None) -> None:
        with self.lock:
            seen = self.request_tokens.setdefault(operation, {"with": 0, "without": 0})
            seen["with" if token else "without"] += 1

    def count(self, service: str, operation: str) -> None:
        with self.lock:
            self.total += 1
            if is_read(service, operation):
                self.reads += 1
            else:
                self.writes += 1
            key = f"{service}:{operation}"
            self.by_operation[key] = self.by_operation.get(key, 0) + 1

    def record(self, started: float, ended: float, operation: str) -> None:
        with self.lock:
            self.intervals.append((started, ended, operation))

    @staticmethod
    def sequential(intervals: list[tuple[float, float, str]]) -> list[str]:
        """The longest chain of requests each of which started after the one before it
        ended (earliest end first): the round trips the run made one after another."""
        chain, last_end = [], float("-inf")
        for started, ended, operation in sorted(intervals, key=lambda i: i[1]):
            if started >= last_end:
                chain.append(operation)
                last_end = ended
        return chain

    @staticmethod
    def timeline(intervals: list[tuple[float, float, str]]) -> list[list]:
        """Each request as [start, duration] in ms from the first one's start, with its
        operation: where a run's time went, between the emulator and the caller."""
        if not intervals:
            return []
        first = min(started for started, _, _ in intervals)
        return [[round((started - first) * 1000, 1), round((ended - started) * 1000, 1), operation]
                for started, ended, operation in sorted(intervals)]

    def snapshot(self) -> dict:
        with self.lock:
            chain = self.sequential(self.intervals)
            return {
                "depth": len(chain),
                "sequential": chain,
                "timeline": self.timeline(self.intervals),
                "total": self.total,
                "reads": self.reads,
                "writes": self.writes,
                "by_operation": dict(sorted(self.by_operation.items())),
                "faults": dict(sorted(self.faults_injected.items())),
                "request_tokens": {k: dict(v) for k, v in sorted(self.request_tokens.items())},
            }

    def set_faults(self, faults: dict | None) -> None:
        with self.lock:
            self.faults = faults
            self.rng = random.Random((faults or {}).get("seed", 0))

    def decide(self, service: str, operation: str) -> tuple[str | None, float]:
        """The fault for this request (or None) and the latency to add, in seconds."""
        with self.lock:
            f = self.faults
            if not f:
                return None, 0.0
            if f.get("services") and service not in f["services"]:
                return None, 0.0
            if f.get("operations") and operation not in f["operations"]:
                return None, 0.0
            latency = (f.get("latency_ms", 0) + self.rng.uniform(0, f.get("jitter_ms", 0))) / 1000
            roll = self.rng.random()
            fault = None
            for kind in ("throttle", "server_error", "reset", "lost"):
                share = float(f.get(kind, 0))
                if roll < share:
                    fault = kind
                    break
                roll -= share
            if fault and f.get("limit") is not None:
                if sum(self.faults_injected.values()) >= int(f["limit"]):
                    fault = None
            if fault:
                key = f"{service}:{operation}:{fault}"
                self.faults_injected[key] = self.faults_injected.get(key, 0) + 1
            return fault, latency


def is_read(service: str, operation: str) -> bool:
    if service == "s3":
        return operation in ("GET", "HEAD") or operation.startswith(READ_PREFIXES)
    return operation.startswith(READ_PREFIXES)


class Registry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.everyone = Scope()
        self.keys: dict[str, Scope] = {}

    def scope(self, key: str) -> Scope:
        with self.lock:
            return self.keys.setdefault(key, Scope())

    def clear(self) -> None:
        with self.lock:
            self.keys.clear()
            self.everyone = Scope()


def account_for(access_key: str) -> str:
    assumed = cross_account.session_account(access_key)
    if assumed:
        return assumed
    m = re.match(r"^ACCT(\d{12})", access_key or "")
    return m.group(1) if m else DEFAULT_ACCOUNT


# ------------------------------------------------------------------ request identification

CREDENTIAL = re.compile(r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/aws4_request")

LAMBDA_ROUTES = [
    ("POST", r"^/2015-03-31/functions/?$", "CreateFunction"),
    ("GET", r"^/2015-03-31/functions/?$", "ListFunctions"),
    ("GET", r"^/2015-03-31/functions/[^/]+/?$", "GetFunction"),
    ("DELETE", r"^/2015-03-31/functions/[^/]+/?$", "DeleteFunction"),
    ("PUT", r"^/2015-03-31/functions/[^/]+/code/?$", "UpdateFunctionCode"),
    ("GET", r"^/2015-03-31/functions/[^/]+/configuration/?$", "GetFunctionConfiguration"),
    ("PUT", r"^/2015-03-31/functions/[^/]+/configuration/?$", "UpdateFunctionConfiguration"),
    ("POST", r"^/2015-03-31/functions/[^/]+/versions/?$", "PublishVersion"),
    ("GET", r"^/2015-03-31/functions/[^/]+/versions/?$", "ListVersionsByFunction"),
    ("POST", r"^/2015-03-31/functions/[^/]+/aliases/?$", "CreateAlias"),
    ("GET", r"^/2015-03-31/functions/[^/]+/aliases/?$", "ListAliases"),
    ("GET", r"^/2015-03-31/functions/[^/]+/aliases/[^/]+/?$", "GetAlias"),
    ("PUT", r"^/2015-03-31/functions/[^/]+/aliases/[^/]+/?$", "UpdateAlias"),
    ("DELETE", r"^/2015-03-31/functions/[^/]+/aliases/[^/]+/?$", "DeleteAlias"),
    ("POST", r"^/2015-03-31/functions/[^/]+/invocations/?$", "Invoke"),
    ("GET", r"^/2016-08-19/account-settings/?$", "GetAccountSettings"),
    ("GET", r"^/2019-09-30/functions/[^/]+/concurrency/?$", "GetFunctionConcurrency"),
    ("PUT", r"^/2017-10-31/functions/[^/]+/concurrency/?$", "PutFunctionConcurrency"),
    ("POST", r"^/2017-03-31/tags/.+$", "TagResource"),
    ("GET", r"^/2017-03-31/tags/.+$", "ListTags"),
    ("DELETE", r"^/2017-03-31/tags/.+$", "UntagResource"),
]


def identify(method: str, path: str, headers, body: bytes) -> tuple[str, str, str]:
    """(service signing name, operation, access key) of a request."""
    auth = headers.get("Authorization", "")
    m = CREDENTIAL.search(auth)
    access_key, service = (m.group(1), m.group(3)) if m else ("", "unknown")
    url_path = urllib.parse.urlsplit(path).path
    target = headers.get("X-Amz-Target")
    if url_path.startswith(f"/service/{CBOR_SERVICE}/operation/"):
        return "monitoring", url_path.rsplit("/", 1)[-1], access_key
    if target:
        return service, target.rsplit(".", 1)[-1], access_key
    if service == "ses" and method == "GET" and re.match(r"^/v2/email/account/?$", url_path):
        return service, "GetAccount", access_key
    if service == "ses" and method == "GET" and re.match(r"^/v2/email/identities/[^/]+/?$", url_path):
        return service, "GetEmailIdentity", access_key
    if service == "lambda":
        for verb, pattern, op in LAMBDA_ROUTES:
            if verb == method and re.match(pattern, url_path):
                return service, op, access_key
        return service, f"{method} {url_path}", access_key
    content_type = headers.get("Content-Type", "")
    if "x-www-form-urlencoded" in content_type:
        action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
        return service, action or "Unknown", access_key
    if service == "s3":
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query, keep_blank_values=True)
        for marker, op in (("delete", "DeleteObjects"), ("versions", "ListObjectVersions"),
                           ("tagging", "Tagging"), ("versioning", "Versioning")):
            if marker in query:
                return service, op, access_key
        return service, method, access_key
    if method == "GET" and "Action=" in path:
        return service, urllib.parse.parse_qs(urllib.parse.urlsplit(path).query).get("Action", ["Unknown"])[0], access_key
    return service, method, access_key


# ------------------------------------------------------------------ CloudWatch CBOR bridge

class CborBridge:
    """Translates rpcv2Cbor <-> awsJson1_0 for CloudWatch with botocore's service model."""

    def __init__(self) -> None:
        import botocore.session
        import cbor2
        from moto.cloudwatch.responses import CloudWatchResponse

        self.cbor2 = cbor2
        self.model = botocore.session.get_session().get_service_model("cloudwatch")
        self.moto_actions = CloudWatchResponse

    def implemented(self, operation: str) -> bool:
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()
        return operation in self.model.operation_names and hasattr(self.moto_actions, snake)

    def request_to_json(self, body: bytes) -> bytes:
        value = self.cbor2.loads(body) if body else {}
        return json.dumps(to_json_value(value)).encode()

    def response_to_cbor(self, operation: str, body: bytes) -> bytes:
        data = json.loads(body) if body.strip() else {}
        shape = self.model.operation_model(operation).output_shape
        return self.cbor2.dumps(from_json_value(data, shape), datetime_as_timestamp=True,
                                timezone=dt.timezone.utc)

    def error(self, status: int, code: str, message: str, fault: str = "Sender") -> tuple[int, dict, bytes]:
        body = self.cbor2.dumps({"__type": f"com.amazonaws.cloudwatch#{code}", "message": message})
        headers = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor",
                   "x-amzn-query-error": f"{code};{fault}"}
        return status, headers, body


def to_json_value(value):
    """CBOR-decoded values to awsJson: timestamps as epoch seconds, blobs as base64."""
    if isinstance(value, dict):
        return {k: to_json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json_value(v) for v in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return value


def from_json_value(value, shape):
    """awsJson values to what the CBOR encoder must write for `shape`."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: from_json_value(v, members.get(k)) for k, v in value.items() if k in members}
    if kind == "list" and isinstance(value, list):
        return [from_json_value(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: from_json_value(v, shape.value) for k, v in value.items()}
    if kind == "timestamp":
        if isinstance(value, (int, float)):
            return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)
        if isinstance(value, str):
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if kind == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    if kind in ("double", "float") and isinstance(value, (int, float)):
        return float(value)
    if kind in ("integer", "long") and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# ------------------------------------------------------------------ fault responses

def query_error(status: int, code: str, kind: str) -> tuple[int, dict, bytes]:
    # AWS's query services put the request id in the x-amzn-RequestId header as well as the
    # body; the SDKs read the header.
    request_id = str(uuid.uuid4())
    body = (f'<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code>'
            f'<Message>injected by the local AWS harness</Message></Error>'
            f'<RequestId>{request_id}</RequestId></ErrorResponse>').encode()
    return status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body


def json_error(status: int, code: str, content_type: str) -> tuple[int, dict, bytes]:
    body = json.dumps({"__type": code, "message": "injected by the local AWS harness"}).encode()
    return status, {"Content-Type": content_type, "x-amzn-RequestId": str(uuid.uuid4())}, body


def fault_response(fault: str, service: str, headers, bridge: CborBridge | None, path: str):
    """A throttling or 5xx answer in the protocol the caller speaks."""
    throttle = fault == "throttle"
    if path.startswith(f"/service/{CBOR_SERVICE}/") and bridge:
        if throttle:
            return bridge.error(400, "Throttling", "Rate exceeded")
        return bridge.error(500, "InternalServiceError", "injected server error", "Receiver")
    if service == "lambda":
        code = "TooManyRequestsException" if throttle else "ServiceException"
        status, hdrs, body = json_error(429 if throttle else 500, code, "application/json")
        hdrs["x-amzn-ErrorType"] = code
        return status, hdrs, body
    if service == "s3":
        return query_error(503, "SlowDown" if throttle else "InternalError", "Receiver")
    target = headers.get("X-Amz-Target")
    if target:
        content_type = headers.get("Content-Type", "application/x-amz-json-1.1")
        if throttle:
            return json_error(400, "ThrottlingException", content_type)
        return json_error(500, "InternalFailure" if random.random() < 0.5 else "ServiceUnavailableException", content_type)
    if throttle:
        return query_error(400, "Throttling", "Sender")
    return query_error(503, "ServiceUnavailable", "Receiver")


# ------------------------------------------------------------------ what AWS enforces

TEMPLATE_BODY_LIMIT = 51_200
TEMPLATE_OPERATIONS = ("CreateStack", "UpdateStack", "CreateChangeSet", "ValidateTemplate")
TOKEN_OPERATIONS = ("CreateStack", "UpdateStack", "DeleteStack", "ExecuteChangeSet")


class CloudFormationRules:
    """CloudFormation's request rules that moto does not apply (see the module docstring)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # (access key, operation, stack, token) -> the answer AWS would repeat.
        self.answers: dict[tuple, tuple[int, dict, bytes]] = {}

    @staticmethod
    def params(body: bytes) -> dict[str, str]:
        parsed = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in parsed.items()}

    def before(self, key: str, operation: str, body: bytes, scopes: list) -> tuple | None:
        """AWS's answer when it differs from moto's, else None (moto answers)."""
        params = self.params(body)
        template = params.get("TemplateBody")
        if operation in TEMPLATE_OPERATIONS and template is not None \
                and len(template.encode()) > TEMPLATE_BODY_LIMIT:
            message = ("1 validation error detected: Value at 'templateBody' failed to satisfy "
                       "constraint: Member must have length less than or equal to 51200")
            request_id = str(uuid.uuid4())
            body = (f'<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
                    f'<Error><Type>Sender</Type><Code>ValidationError</Code><Message>{message}'
                    f'</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>')
            return 400, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body.encode()
        if operation in TOKEN_OPERATIONS:
            token = params.get("ClientRequestToken")
            for scope in scopes:
                scope.count_token(operation, token)
            if token:
                with self.lock:
                    return self.answers.get((key, operation, params.get("StackName"), token))
        return None

    def after(self, key: str, operation: str, body: bytes, answer: tuple) -> None:
        if operation not in TOKEN_OPERATIONS or not 200 <= answer[0] < 300:
            return
        params = self.params(body)
        token = params.get("ClientRequestToken")
        if token:
            with self.lock:
                self.answers[(key, operation, params.get("StackName"), token)] = answer


# ------------------------------------------------------------------ Lambda

# An established account's quota; a new one starts lower (a test scripts that answer).
LAMBDA_CONCURRENCY_QUOTA = 1000


def lambda_account_settings(account: str, region: str) -> tuple[int, dict, bytes]:
    """GetAccountSettings, which moto does not implement, as Lambda answers it: the quota,
    and what is left unreserved after every function's ReservedConcurrentExecutions."""
    from moto.awslambda.models import lambda_backends
    functions = list(lambda_backends[account][region].list_functions())
    reserved = sum(int(f.reserved_concurrency or 0) for f in functions)
    body = {
        "AccountLimit": {
            "TotalCodeSize": 80530636800,
            "CodeSizeUnzipped": 262144000,
            "CodeSizeZipped": 52428800,
            "ConcurrentExecutions": LAMBDA_CONCURRENCY_QUOTA,
            "UnreservedConcurrentExecutions": LAMBDA_CONCURRENCY_QUOTA - reserved,
        },
        "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": len(functions)},
    }
    return 200, {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}, \
        json.dumps(body).encode()


def ses_account() -> tuple[int, dict, bytes]:
    """SES v2 GetAccount, which moto does not implement: a new account, as AWS creates it,
    in the sandbox (only verified recipients get mail) until production access is granted.
    A test scripts the other answer."""
    body = {
        "DedicatedIpAutoWarmupEnabled": False,
        "EnforcementStatus": "HEALTHY",
        "ProductionAccessEnabled": False,
        "SendingEnabled": True,
        "SendQuota": {"Max24HourSend": 200.0, "MaxSendRate": 1.0, "SentLast24Hours": 0.0},
    }
    return 200, {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}, \
        json.dumps(body).encode()


def signed_region(headers) -> str:
    m = CREDENTIAL.search(headers.get("Authorization", ""))
    return m.group(2) if m else "us-east-1"


# ------------------------------------------------------------------ the proxy

class Harness:
    def __init__(self, moto_host: str, moto_port: int) -> None:
        self.moto = (moto_host, moto_port)
        self.registry = Registry()
        self.bridge = CborBridge()
        self.cloudformation = CloudFormationRules()


def make_handler(harness: Harness):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet: the tool's own logs matter
            pass

        def do_GET(self):
            self.handle_any()

        def do_POST(self):
            self.handle_any()

        def do_PUT(self):
            self.handle_any()

        def do_DELETE(self):
            self.handle_any()

        def do_HEAD(self):
            self.handle_any()

        def do_PATCH(self):
            self.handle_any()

        def read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def reply(self, status: int, headers: dict, body: bytes) -> None:
            self.send_response(status)
            for k, v in headers.items():
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def reset_connection(self) -> None:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True

        def handle_any(self) -> None:
            body = self.read_body()
            if self.path.startswith(CONTROL):
                return self.control(body)
            if self.path.startswith(SERVICES):
                account, _, rest = self.path[len(SERVICES):].partition("/")
                return self.reply(*local_services.serve(account, self.command, "/" + rest, self.headers, body))
            service, operation, key = identify(self.command, self.path, self.headers, body)
            scopes = [harness.registry.everyone, harness.registry.scope(key)]
            for scope in scopes:
                scope.count(service, operation)
            started = time.monotonic()
            try:
                self.answer(service, operation, key, body, scopes)
            finally:
                ended = time.monotonic()
                for scope in scopes:
                    scope.record(started, ended, f"{service}:{operation}")

        def answer(self, service: str, operation: str, key: str, body: bytes, scopes) -> None:
            scripted = harness.registry.scope(key).next_scripted(service, operation)
            if scripted and not scripted.get("pass"):
                now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                body = scripted.get("body", "").replace("{{now}}", now).encode()
                headers = {"Content-Type": scripted.get("content_type", "text/xml"),
                           "x-amzn-RequestId": str(uuid.uuid4())}
                return self.reply(int(scripted.get("status", 200)), headers, body)
            fault, latency = None, 0.0
            for scope in scopes:
                f, l = scope.decide(service, operation)
                fault, latency = fault or f, latency + l
            if latency:
                time.sleep(latency)
            if fault == "reset":
                return self.reset_connection()
            if fault == "lost":
                # The request is carried out, then its answer is lost: the caller sees a
                # 500 for a write that happened (what makes blind retries publish twice).
                self.forward(service, operation, key, body)
                return self.reply(*fault_response("server_error", service, self.headers, harness.bridge, self.path))
            if fault:
                return self.reply(*fault_response(fault, service, self.headers, harness.bridge, self.path))
            self.reply(*self.forward(service, operation, key, body))

        def forward(self, service: str, operation: str, key: str, body: bytes):
            target = self.headers.get("X-Amz-Target", "")
            if not key and target.startswith("AWSCognitoIdentityProviderService."):
                owner = local_services.client_account(body, DEFAULT_ACCOUNT)
                return self.forward_to_moto(service, operation, key, body, owner)
            if service == "lambda" and operation == "GetAccountSettings":
                return lambda_account_settings(account_for(key), signed_region(self.headers))
            if service == "ses" and operation == "GetAccount":
                return ses_account()
            caller = cross_account.caller_of(key, account_for(key))
            owner, denied = cross_account.check(service, operation, caller, self.command, self.path,
                                                self.headers, body, signed_region(self.headers))
            if denied:
                return denied
            if service == "lambda" and operation == "Invoke":
                return local_services.invoke(owner or account_for(key), signed_region(self.headers),
                                             self.path, body)
            if service != "cloudformation":
                answer = self.forward_to_moto(service, operation, key, body, owner)
                if service == "sts" and operation == "AssumeRole" and answer[0] == 200:
                    cross_account.remember_session(answer[2])
                return answer
            rules = harness.cloudformation
            scopes = [harness.registry.everyone, harness.registry.scope(key)]
            answer = rules.before(key, operation, body, scopes)
            if answer is None:
                answer = self.forward_to_moto(service, operation, key, body)
                rules.after(key, operation, body, answer)
            return answer

        def forward_to_moto(self, service: str, operation: str, key: str, body: bytes,
                            owner: str | None = None):
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("host", "content-length", "transfer-encoding", "connection", "expect")}
            # A resource of another account (allowed by its policy) is served from there.
            headers["x-moto-account-id"] = owner or account_for(key)
            method, path, cbor = self.command, self.path, False
            if self.path.startswith(f"/service/{CBOR_SERVICE}/operation/"):
                if not harness.bridge.implemented(operation):
                    return harness.bridge.error(
                        501, "NotImplemented",
                        f"the local AWS emulator (moto) does not implement CloudWatch {operation}")
                cbor = True
                try:
                    body = harness.bridge.request_to_json(body)
                except Exception as e:  # a malformed CBOR body is the caller's error
                    return harness.bridge.error(400, "SerializationException", f"bad CBOR body: {e}")
                method, path = "POST", "/"
                for h in list(headers):
                    if h.lower() in ("content-type", "smithy-protocol", "accept"):
                        del headers[h]
                headers["Content-Type"] = "application/x-amz-json-1.0"
                headers["X-Amz-Target"] = f"{CBOR_SERVICE}.{operation}"
            connection = http.client.HTTPConnection(*harness.moto, timeout=120)
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                status, data = response.status, response.read()
                out_headers = dict(response.getheaders())
            finally:
                connection.close()
            if not cbor:
                return status, out_headers, data
            return self.cbor_response(operation, status, out_headers, data)

        def cbor_response(self, operation: str, status: int, headers: dict, data: bytes):
            bridge = harness.bridge
            if 200 <= status < 300:
                return status, {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}, \
                    bridge.response_to_cbor(operation, data)
            try:
                error = json.loads(data)
                code = str(error.get("__type", "InternalFailure")).rsplit("#", 1)[-1]
                message = error.get("message") or error.get("Message") or code
            except ValueError:
                code, message = "InternalFailure", f"the emulator failed on {operation} (HTTP {status})"
            query = headers.get("x-amzn-query-error") or f"{code};{'Sender' if status < 500 else 'Receiver'}"
            code, _, fault = query.partition(";")
            return bridge.error(status, code, message, fault or "Sender")

        def control(self, body: bytes) -> None:
            url = urllib.parse.urlsplit(self.path)
            what = url.path[len(CONTROL):].strip("/")
            key = urllib.parse.parse_qs(url.query).get("key", [None])[0]
            registry = harness.registry
            scope = registry.scope(key) if key else registry.everyone
            reply = lambda status, value: self.reply(status, {"Content-Type": "application/json"},  # noqa: E731
                                                     json.dumps(value).encode())
            if what == "replications" and self.command == "GET":
                return reply(200, list(cross_account.REPLICATIONS))
            if what == "health":
                return reply(200, {"ok": True})
            if what == "requests" and self.command == "GET":
                return reply(200, scope.snapshot())
            if what == "requests" and self.command == "DELETE":
                with scope.lock:
                    scope.reset_counters()
                return reply(200, {"ok": True})
            if what == "faults" and self.command in ("PUT", "POST"):
                faults = json.loads(body or b"{}")
                target = registry.scope(faults["key"]) if faults.get("key") else registry.everyone
                target.set_faults(faults)
                return reply(200, {"ok": True})
            if what == "faults" and self.command == "DELETE":
                scope.set_faults(None)
                return reply(200, {"ok": True})
            if what == "script" and self.command in ("PUT", "POST"):
                script = json.loads(body or b"{}")
                target = registry.scope(script["key"]) if script.get("key") else registry.everyone
                with target.lock:
                    target.scripts.setdefault(script["operation"], []).extend(script["responses"])
                return reply(200, {"ok": True})
            if what == "script" and self.command == "DELETE":
                with scope.lock:
                    scope.scripts.clear()
                return reply(200, {"ok": True})
            if what == "clock" and self.command in ("PUT", "POST"):
                clock = json.loads(body or b"{}")
                CLOCK[account_for(clock["key"])] = float(clock["seconds_per_minute"])
                return reply(200, {"ok": True})
            if what == "services" and self.command in ("PUT", "POST"):
                fault = json.loads(body or b"{}")
                local_services.set_faults(account_for(fault["key"]), fault)
                return reply(200, {"ok": True})
            if what == "services" and self.command == "DELETE":
                local_services.clear_faults(account_for(key or ""))
                return reply(200, {"ok": True})
            if what == "reset" and self.command == "POST":
                connection = http.client.HTTPConnection(*harness.moto, timeout=30)
                connection.request("POST", "/moto-api/reset")
                connection.getresponse().read()
                registry.clear()
                cross_account.REPLICATIONS.clear()
                with cross_account.SESSIONS_LOCK:
                    cross_account.SESSIONS.clear()
                return reply(200, {"ok": True})
            return reply(404, {"error": f"unknown control endpoint {self.command} {url.path}"})

    return Handler


# ------------------------------------------------------------------ moto, made closer to AWS

def associated(backend, load_balancers) -> None:
    """AWS refuses a service (created, or updated into other target groups) whose target
    group no listener or rule forwards to yet; moto accepted it."""
    from moto.ecs.exceptions import InvalidParameterException
    from moto.elbv2.models import elbv2_backends

    groups = elbv2_backends[backend.account_id][backend.region_name].target_groups
    for balancer in load_balancers or []:
        arn = balancer.get("targetGroupArn")
        group = groups.get(arn)
        if group is not None and not group.load_balancer_arns:
            raise InvalidParameterException(
                f"The target group with targetGroupArn {arn} does not have an associated load balancer.")


def complete_ecs_deployments() -> None:
    """moto's ECS deployments are static: UpdateService with a new task definition changes
    `taskDefinition` and nothing else, so the PRIMARY deployment would still name the old
    revision (which is what a circuit-breaker rollback looks like). Real ECS starts a new
    PRIMARY deployment and marks it COMPLETED once its tasks are healthy. The harness plays
    that happy path at once: a new PRIMARY on the new revision, COMPLETED, every task
    running, and a steady-state event. Failures, rollbacks and slow rollouts are served as
    recorded responses by the tests."""
    from moto.core.utils import utcnow
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.update_service

    def update_service(self, service_properties):
        requested = service_properties.get("task_definition")
        moved = service_properties.get("load_balancers")
        if moved:
            associated(self, moved)
            # The tasks leave the groups they were in (ECS deregisters them).
            cluster = service_properties.get("cluster", "default")
            name = service_properties["service"].split("/")[-1]
            before = self._get_service(cluster, name)
            leave_targets(self, before)
        service = original(self, service_properties)
        if requested or moved or service_properties.get("desired_count") is not None:
            service_targets(self, service)
        if requested and service.deployments:
            arn = self.describe_task_definition(requested).arn
            deployment_id = f"ecs-svc/{random.randint(0, 10**18)}"
            now = utcnow()
            service.task_definition = arn
            service.running_count = service.desired_count
            service.pending_count = 0
            service.deployments = [dict(
                service.deployments[0],
                id=deployment_id,
                status="PRIMARY",
                taskDefinition=arn,
                rolloutState="COMPLETED",
                rolloutStateReason=f"ECS deployment {deployment_id} completed.",
                desiredCount=service.desired_count,
                runningCount=service.desired_count,
                pendingCount=0,
                failedTasks=0,
                createdAt=now,
                updatedAt=now,
            )]
            service.events.insert(0, {
                "id": str(uuid.uuid4()),
                "createdAt": now,
                "message": f"(service {service.name}) has reached a steady state.",
            })
        return service

    EC2ContainerServiceBackend.update_service = update_service


def service_targets(backend, service) -> None:
    """ECS registers a service's running tasks (by IP, awsvpc) in its target groups and the
    load balancer marks them healthy once they pass their checks; moto registers nothing,
    so a target group stayed empty. The harness registers as many healthy IP targets as
    the service's desired count, on its container port; a test serves a failed health
    check as a recorded DescribeTargetHealth answer."""
    from moto.elbv2.models import elbv2_backends

    groups = elbv2_backends[backend.account_id][backend.region_name].target_groups
    for balancer in getattr(service, "load_balancers", None) or []:
        group = groups.get(balancer.get("targetGroupArn"))
        if group is None:
            continue
        group.targets.clear()
        port = balancer.get("containerPort") or group.port
        seed = sum(service.name.encode()) % 200
        group.register([{"Id": f"10.{seed}.{i // 250}.{i % 250 + 2}", "Port": port}
                        for i in range(service.desired_count or 0)])


def leave_targets(backend, service) -> None:
    """The service's tasks deregistered from the target groups it is in."""
    from moto.elbv2.models import elbv2_backends

    groups = elbv2_backends[backend.account_id][backend.region_name].target_groups
    for balancer in getattr(service, "load_balancers", None) or []:
        group = groups.get(balancer.get("targetGroupArn"))
        if group is not None:
            group.targets.clear()


def complete_ecs_services() -> None:
    """moto's CreateService leaves the first deployment IN_PROGRESS with no task running
    (unless MOTO_ECS_SERVICE_RUNNING is set for the whole process). Real ECS starts the
    tasks and marks the deployment COMPLETED once they are healthy; as for UpdateService,
    the harness plays that happy path at once."""
    from moto.core.utils import utcnow
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.create_service

    def create_service(self, *args, **kwargs):
        associated(self, args[4] if len(args) > 4 else kwargs.get("load_balancers"))
        service = original(self, *args, **kwargs)
        service.running_count = service.desired_count
        service.pending_count = 0
        service_targets(self, service)
        for deployment in service.deployments:
            deployment.update(
                rolloutState="COMPLETED",
                rolloutStateReason=f"ECS deployment {deployment['id']} completed.",
                runningCount=service.desired_count,
                pendingCount=0,
                updatedAt=utcnow(),
            )
        service.events.insert(0, {
            "id": str(uuid.uuid4()),
            "createdAt": utcnow(),
            "message": f"(service {service.name}) has reached a steady state.",
        })
        return service

    EC2ContainerServiceBackend.create_service = create_service


def complete_stack_task_definitions() -> None:
    """moto's CloudFormation registers an AWS::ECS::TaskDefinition with its family,
    containers, volumes and memory only: Cpu, NetworkMode, RequiresCompatibilities,
    RuntimePlatform and both role ARNs are dropped, and an update compares camelCase
    containers with PascalCase ones and registers the new revision with PascalCase keys.
    AWS registers every property, and any change to one is a replacement: a new revision
    (the old one is deregistered). The harness does as AWS does, so that facturactl's
    revisions, made from the stack's base, carry what the template says."""
    from moto.core.utils import pascal_to_camelcase, remap_nested_keys
    from moto.ecs.models import TaskDefinition, ecs_backends

    def register(properties: dict, account_id: str, region_name: str):
        camel = lambda value: remap_nested_keys(value, pascal_to_camelcase)  # noqa: E731
        backend = ecs_backends[account_id][region_name]
        return backend.register_task_definition(
            family=properties.get("Family", f"task-definition-{random.randint(0, 10**6)}"),
            container_definitions=camel(properties.get("ContainerDefinitions", [])),
            volumes=camel(properties.get("Volumes", [])),
            network_mode=properties.get("NetworkMode"),
            requires_compatibilities=properties.get("RequiresCompatibilities"),
            cpu=properties.get("Cpu"),
            memory=properties.get("Memory"),
            task_role_arn=properties.get("TaskRoleArn"),
            execution_role_arn=properties.get("ExecutionRoleArn"),
            runtime_platform=camel(properties.get("RuntimePlatform")),
        )

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        return register(cloudformation_json["Properties"], account_id, region_name)

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id,
               region_name):
        properties = cloudformation_json["Properties"]
        if getattr(original_resource, "_harness_properties", None) == properties:
            return original_resource
        backend = ecs_backends[account_id][region_name]
        backend.deregister_task_definition(original_resource.arn)
        created = register(properties, account_id, region_name)
        created._harness_properties = properties
        return created

    original_create = create

    def create_remembering(cls, resource_name, cloudformation_json, *args, **kwargs):
        created = original_create(cls, resource_name, cloudformation_json, *args, **kwargs)
        created._harness_properties = cloudformation_json["Properties"]
        return created

    TaskDefinition.create_from_cloudformation_json = classmethod(create_remembering)
    TaskDefinition.update_from_cloudformation_json = classmethod(update)


# Load balancers a stack update replaced, deleted once their listeners have moved.
REPLACED_LOAD_BALANCERS: list[tuple[str, str, str]] = []
REPLACED_TARGET_GROUPS: list[tuple[str, str, str]] = []


def typed_stack_load_balancers() -> None:
    """moto's CloudFormation creates every AWS::ElasticLoadBalancingV2::LoadBalancer as an
    application load balancer, ignoring `Type` (and `Name`), so a network load balancer's
    TCP listener is refused. AWS creates the type the template says."""
    from moto.elbv2.models import FakeListener, FakeLoadBalancer, FakeTargetGroup, elbv2_backends

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        return elbv2_backends[account_id][region_name].create_load_balancer(
            properties.get("Name", resource_name),
            properties.get("SecurityGroups"),
            properties.get("Subnets"),
            scheme=properties.get("Scheme", "internet-facing"),
            loadbalancer_type=properties.get("Type", "application"),
        )

    FakeLoadBalancer.create_from_cloudformation_json = classmethod(create)

    # moto has no update for a load balancer: the stack lost it, and the listeners that
    # name it failed with LoadBalancerNotFound. AWS replaces one whose name, scheme or type
    # changes (a new one, then the old one deleted) and updates the rest in place (security
    # groups, subnets, attributes). The custom-named case is refused before this
    # (scripts/stack_rules.py).
    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id,
               region_name):
        properties = cloudformation_json["Properties"]
        wanted = (properties.get("Name", new_resource_name), properties.get("Scheme", "internet-facing"),
                  properties.get("Type", "application"))
        current = (original_resource.name, original_resource.scheme, original_resource.type)
        if wanted == current:
            return original_resource
        # The old one goes in the cleanup phase, after its listeners moved (below).
        REPLACED_LOAD_BALANCERS.append((account_id, region_name, original_resource.arn))
        return create(cls, new_resource_name, cloudformation_json, account_id, region_name)

    FakeLoadBalancer.update_from_cloudformation_json = classmethod(update)

    # A listener whose load balancer changed is a new listener on the new one (AWS:
    # LoadBalancerArn requires replacement); moto modified the old one in place.
    listener_update = FakeListener.update_from_cloudformation_json.__func__

    def update_listener(cls, original_resource, new_resource_name, cloudformation_json,
                        account_id, region_name):
        wanted = cloudformation_json["Properties"].get("LoadBalancerArn")
        if wanted and wanted != original_resource.load_balancer_arn:
            made = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                       account_id, region_name)
            backend = elbv2_backends[account_id][region_name]
            backend.delete_listener(original_resource.arn)
            for account, region, arn in list(REPLACED_LOAD_BALANCERS):
                old = backend.load_balancers.get(arn)
                if account == account_id and region == region_name and old is not None and not old.listeners:
                    backend.delete_load_balancer(arn)
                    REPLACED_LOAD_BALANCERS.remove((account, region, arn))
            return made
        return listener_update(cls, original_resource, new_resource_name, cloudformation_json,
                               account_id, region_name)

    FakeListener.update_from_cloudformation_json = classmethod(update_listener)

    # moto has no update for a target group either: the stack's entry became None and the
    # listeners forwarding to it lost it. AWS replaces one whose name, port, protocol, type
    # or VPC changes and deletes the old one in the cleanup phase, once nothing forwards to
    # it; other properties (health checks) change in place, which is not modelled here.
    def update_target_group(cls, original_resource, new_resource_name, cloudformation_json,
                            account_id, region_name):
        properties = cloudformation_json["Properties"]
        wanted = (properties.get("Name", new_resource_name), properties.get("Port"),
                  properties.get("Protocol"), properties.get("TargetType", "instance"),
                  properties.get("VpcId"))
        current = (original_resource.name, original_resource.port, original_resource.protocol,
                   original_resource.target_type, original_resource.vpc_id)
        if tuple(str(v) for v in wanted) == tuple(str(v) for v in current):
            return original_resource
        REPLACED_TARGET_GROUPS.append((account_id, region_name, original_resource.arn))
        return cls.create_from_cloudformation_json(properties.get("Name", new_resource_name),
                                                   cloudformation_json, account_id, region_name)

    FakeTargetGroup.update_from_cloudformation_json = classmethod(update_target_group)



def references(value) -> set[str]:
    """The logical ids a resource's definition names: Ref, Fn::GetAtt, Fn::Sub's ${X}."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                first = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                found.add(first)
            elif key == "Fn::Sub":
                text = inner if isinstance(inner, str) else inner[0]
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
                if isinstance(inner, list):
                    found |= references(inner[1])
            else:
                found |= references(inner)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


def stack_updates_reach_dependents() -> None:
    """moto updates only the resources whose own definition changed: a resource that names
    a replaced one (a listener on a renamed load balancer, forwarding to a renamed target
    group) kept pointing at the old one, and the old one was never deleted. AWS updates every
    resource whose referenced values changed, then deletes the replaced resources in the
    cleanup phase. Here an update follows replacements to their dependents, then deletes the
    replaced load balancers and target groups nothing uses any more (a target group a
    listener rule outside the stack still forwards to stays, as AWS leaves it DELETE_FAILED)."""
    from moto.cloudformation.parsing import ResourceMap, parse_and_update_resource
    from moto.elbv2.models import elbv2_backends

    def physical(resource) -> str | None:
        for attribute in ("physical_resource_id", "arn", "id"):
            value = getattr(resource, attribute, None)
            if isinstance(value, str):
                return value
        return None

    resource_map_update = ResourceMap.update

    # A resource removed by an update is deleted in the cleanup phase: when that delete
    # fails (a target group a rule outside the stack forwards to), AWS gives up on it with a
    # DELETE_FAILED event and the update completes; moto failed the whole update. (A stack
    # delete still fails on it, as on AWS.)
    delete_resource = ResourceMap._delete_resource

    def delete_in_cleanup(self, parsed_resource, resource_json):
        try:
            delete_resource(self, parsed_resource, resource_json)
        except Exception as error:  # noqa: BLE001 - moto raises its own exception types
            if not getattr(self, "_harness_updating", False) or "InUse" not in type(error).__name__:
                raise
            delete_failed(self, physical(parsed_resource) or "", resource_json.get("Type", ""),
                          str(getattr(error, "message", error)))

    ResourceMap._delete_resource = delete_in_cleanup

    def update_and_clean(self, template, parameters=None):
        diff = self.build_resource_diff(template, parameters)
        before = {name: physical(r) for name, r in self._parsed_resources.items()}
        self._harness_updating = True
        try:
            resource_map_update(self, template, parameters)
        finally:
            self._harness_updating = False
        touched = set(diff["Add"]) | set(diff["Modify"])
        replaced = {name for name, r in self._parsed_resources.items()
                    if name in before and physical(r) != before[name]}
        while replaced:
            following = set()
            for name, definition in self._resource_json_map.items():
                if name in touched or not references(definition) & replaced:
                    continue
                touched.add(name)
                old = physical(self._parsed_resources.get(name))
                new = parse_and_update_resource(name, definition, self, self._account_id,
                                                self._region_name)
                if new is not None:
                    self._parsed_resources[name] = new
                    if physical(new) != old:
                        following.add(name)
            replaced = following
        for entry in list(REPLACED_LOAD_BALANCERS):
            account, region, arn = entry
            backend = elbv2_backends[account][region]
            old = backend.load_balancers.get(arn)
            if old is None or not old.listeners:
                if old is not None:
                    backend.delete_load_balancer(arn)
                REPLACED_LOAD_BALANCERS.remove(entry)
        for entry in list(REPLACED_TARGET_GROUPS):
            account, region, arn = entry
            backend = elbv2_backends[account][region]
            if arn not in backend.target_groups:
                REPLACED_TARGET_GROUPS.remove(entry)
            elif not backend._any_listener_using(arn):
                backend.delete_target_group(arn)
                REPLACED_TARGET_GROUPS.remove(entry)
            else:
                # AWS retries, then gives up: the update completes and the group is left
                # outside the stack, with a DELETE_FAILED event saying why.
                delete_failed(self, arn, "AWS::ElasticLoadBalancingV2::TargetGroup",
                              f"The target group '{arn}' is currently in use by a listener or a rule")
                REPLACED_TARGET_GROUPS.remove(entry)

    def delete_failed(resource_map, physical_id: str, resource_type: str, reason: str) -> None:
        from moto.cloudformation.models import Event, cloudformation_backends

        backend = cloudformation_backends[resource_map._account_id][resource_map._region_name]
        stack = backend.stacks.get(resource_map.stack_id)
        if stack is None:
            return
        logical_id = next((name for name, r in resource_map._parsed_resources.items()
                           if physical(r) == physical_id), physical_id.rsplit("/", 2)[-2])
        stack.events.append(Event(
            stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
            physical_resource_id=physical_id, resource_type=resource_type,
            resource_status="DELETE_FAILED", resource_status_reason=reason,
            resource_properties=None))

    ResourceMap.update = update_and_clean


def stack_target_groups_as_aws_keeps_them() -> None:
    """moto's CloudFormation creates a target group without its `Tags` (AWS tags it), and
    moto's ModifyRule does not associate the groups a rule now forwards to with the
    listener's load balancer (AWS does: ECS then accepts a service in them)."""
    from moto.elbv2.models import ELBv2Backend, FakeTargetGroup, elbv2_backends

    create = FakeTargetGroup.create_from_cloudformation_json.__func__

    def create_tagged(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        group = create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        tags = (cloudformation_json.get("Properties") or {}).get("Tags") or []
        if tags:
            backend = elbv2_backends[account_id][region_name]
            backend.tagging_service.tag_resource(group.arn, tags)
        return group

    FakeTargetGroup.create_from_cloudformation_json = classmethod(create_tagged)

    modify_rule = ELBv2Backend.modify_rule

    def modify_associating(self, rule_arn, conditions, actions):
        rule = modify_rule(self, rule_arn, conditions, actions)
        listener = next((l for b in self.load_balancers.values() for l in b.listeners.values()
                         if rule_arn in getattr(l, "_rules", {}) or rule.listener_arn == l.arn),
                        None)
        if listener is not None:
            for action in rule.actions:
                if action.type != "forward":
                    continue
                for arn in self._get_target_group_arns_from(action_data=action.data):
                    group = self.target_groups.get(arn)
                    if group is not None and listener.load_balancer_arn not in group.load_balancer_arns:
                        group.load_balancer_arns.append(listener.load_balancer_arn)
        return rule

    ELBv2Backend.modify_rule = modify_associating

def database_resource_ids() -> None:
    """moto's AWS::RDS::DBInstance answers Fn::GetAtt for Endpoint.Address and
    Endpoint.Port only; AWS also gives DbiResourceId, which an rds-db:connect grant names."""
    from moto.rds.models import DBInstance

    has, get = DBInstance.has_cfn_attr, DBInstance.get_cfn_attribute

    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "DbiResourceId" or has.__func__(cls, attr)

    def get_cfn_attribute(self, attribute_name: str):
        if attribute_name == "DbiResourceId":
            return self.dbi_resource_id
        return get(self, attribute_name)

    DBInstance.has_cfn_attr = classmethod(has_cfn_attr)
    DBInstance.get_cfn_attribute = get_cfn_attribute


def versioned_stack_buckets() -> None:
    """moto's AWS::S3::Bucket applies BucketEncryption and Tags but ignores
    VersioningConfiguration; AWS enables versioning, so objects get version ids (the model
    registry pins them). Applied here on create and update, as AWS does."""
    from moto.s3.models import FakeBucket, s3_backends
    from moto.utilities.utils import get_partition

    create, update = FakeBucket.create_from_cloudformation_json, FakeBucket.update_from_cloudformation_json

    def versioning(bucket, cloudformation_json, account_id, region_name):
        status = cloudformation_json.get("Properties", {}).get("VersioningConfiguration", {}).get("Status")
        if status:
            s3_backends[account_id][get_partition(region_name)].put_bucket_versioning(bucket.name, status)
        return bucket

    def create_versioned(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        bucket = create.__func__(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        return versioning(bucket, cloudformation_json, account_id, region_name)

    def update_versioned(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                         region_name):
        bucket = update.__func__(cls, original_resource, new_resource_name, cloudformation_json,
                                 account_id, region_name)
        return versioning(bucket, cloudformation_json, account_id, region_name)

    FakeBucket.create_from_cloudformation_json = classmethod(create_versioned)
    FakeBucket.update_from_cloudformation_json = classmethod(update_versioned)


def stack_schedules() -> None:
    """moto's CloudFormation has no AWS::Scheduler::Schedule: it skips the resource, so the
    schedule a template declares never exists. AWS creates it; the harness does, through
    moto's own Scheduler backend, so GetSchedule reads back what the template said."""
    from moto.core.common_models import CloudFormationModel
    from moto.scheduler.models import scheduler_backends

    def put(properties: dict, name: str, account_id: str, region_name: str, update: bool):
        backend = scheduler_backends[account_id][region_name]
        arguments = dict(
            description=properties.get("Description"),
            end_date=properties.get("EndDate"),
            flexible_time_window=properties["FlexibleTimeWindow"],
            group_name=properties.get("GroupName"),
            kms_key_arn=properties.get("KmsKeyArn"),
            name=name,
            schedule_expression=properties["ScheduleExpression"],
            schedule_expression_timezone=properties.get("ScheduleExpressionTimezone"),
            start_date=properties.get("StartDate"),
            state=properties.get("State", "ENABLED"),
            target=properties["Target"],
        )
        if update:
            return backend.update_schedule(**arguments)
        return backend.create_schedule(action_after_completion=None, **arguments)

    class StackSchedule(CloudFormationModel):
        __module__ = "moto.scheduler.models"  # moto's model metaclass keys models by service

        def __init__(self, schedule, properties: dict):
            self.schedule = schedule
            self.properties = properties

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Scheduler::Schedule"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr == "Arn"

        def get_cfn_attribute(self, attribute_name: str):
            return self.schedule.arn

        @property
        def physical_resource_id(self) -> str:
            return self.schedule.name

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                            region_name, **kwargs):
            properties = cloudformation_json["Properties"]
            return cls(put(properties, resource_name, account_id, region_name, False), properties)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                            cloudformation_json, account_id, region_name):
            properties = cloudformation_json["Properties"]
            if original_resource.schedule.name != new_resource_name:  # a new name replaces
                cls.delete_from_cloudformation_json(original_resource.schedule.name,
                                                    {"Properties": original_resource.properties},
                                                    account_id, region_name)
                return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                           account_id, region_name)
            return cls(put(properties, new_resource_name, account_id, region_name, True), properties)

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                            region_name):
            group = cloudformation_json.get("Properties", {}).get("GroupName")
            scheduler_backends[account_id][region_name].delete_schedule(group, resource_name)

        def is_created(self) -> bool:
            return True


def training_runs() -> None:
    """moto's RunTask records a task that runs nothing and stays RUNNING for ever. For a
    model's training job (a task definition family ending in `-training`) the harness does
    what Fargate would with the training image: it runs training/fraud-scoring/train.py, the
    reference implementation of the job's contract, with the container's environment (the
    task definition's, then RunTask's overrides) against this emulator, in the task's
    account, and stops the task with the program's exit code as the container's, as ECS
    reports an essential container that exited."""
    import subprocess
    from moto.ecs.models import EC2ContainerServiceBackend

    run_task = EC2ContainerServiceBackend.run_task
    requirements = EC2ContainerServiceBackend._calculate_task_resource_requirements

    def fargate_requirements(self, task_definition):
        """moto sums container-level memory, which a Fargate task need not set (its size
        is the task's): a container without one made RunTask fail with a TypeError."""
        try:
            return requirements(self, task_definition)
        except TypeError:
            return {"CPU": 0, "MEMORY": 0, "PORTS": [], "PORTS_UDP": []}

    EC2ContainerServiceBackend._calculate_task_resource_requirements = fargate_requirements
    # moto's awsvpc tasks describe their network interface's private DNS name, which its
    # NetworkInterface does not have: RunTask in a subnet failed with an AttributeError.
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    if not hasattr(NetworkInterface, "private_dns_name"):
        NetworkInterface.private_dns_name = property(
            lambda eni: f"ip-{(eni.private_ip_address or '0.0.0.0').replace('.', '-')}.ec2.internal")
    job = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "training", "fraud-scoring", "train.py")

    def environment(backend, task) -> dict:
        definition = backend.describe_task_definition(task.task_definition_arn)
        container = definition.container_definitions[0]
        env = {e["name"]: e["value"] for e in container.get("environment", [])}
        for override in task.overrides.get("containerOverrides", []):
            if override.get("name") in (None, container.get("name")):
                env.update({e["name"]: e["value"] for e in override.get("environment", [])})
        return env

    def metadata_server(task):
        """An HTTP server of one task's metadata, as the ECS agent serves it (v4)."""
        container = task.containers[0]
        documents = {
            "": {"Name": container.name, "Image": container.image,
                 "ImageID": getattr(container, "image_digest", None),
                 "DockerId": task.id, "Type": "NORMAL"},
            "/task": {"Cluster": task.cluster_arn, "TaskARN": task.task_arn,
                      "Family": task.task_definition_arn.rsplit("/", 1)[-1].split(":")[0],
                      "Revision": task.task_definition_arn.rsplit(":", 1)[-1],
                      "DesiredStatus": "RUNNING", "KnownStatus": "RUNNING",
                      "LaunchType": "FARGATE"},
        }
        base = f"/v4/{task.id}"

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                document = documents.get(self.path.removeprefix(base)) \
                    if self.path.startswith(base) else None
                body = json.dumps(document).encode() if document is not None else b"{}"
                self.send_response(200 if document is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        server.url = f"http://127.0.0.1:{server.server_address[1]}{base}"
        return server

    def run(backend, task, env: dict) -> None:
        account = backend.account_id
        child = dict(os.environ)
        child.update(env)
        child.update({
            "AWS_ENDPOINT_URL": HARNESS_ENDPOINT[0],
            "AWS_ACCESS_KEY_ID": f"ACCT{account}TRAINING",
            "AWS_SECRET_ACCESS_KEY": "training",
            "AWS_DEFAULT_REGION": backend.region_name,
        })
        # Fargate sets no variable with the task's id: it serves the task metadata
        # endpoint (v4), the container's and the task's documents, at
        # ECS_CONTAINER_METADATA_URI_V4. So does the harness, for the run's length.
        metadata = metadata_server(task)
        child["ECS_CONTAINER_METADATA_URI_V4"] = metadata.url
        process = subprocess.Popen([sys.executable, job], env=child, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        RUNNING_JOBS[task.task_arn] = process
        try:
            _, stderr = process.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
        finally:
            RUNNING_JOBS.pop(task.task_arn, None)
            metadata.shutdown()
        # A container killed by a signal exits 128 + the signal, as Docker reports it.
        code = process.returncode if process.returncode >= 0 else 128 - process.returncode
        for container in task.containers:
            container.exitCode = code
            container.last_status = "STOPPED"
            container.reason = (stderr.strip().splitlines() or [""])[-1][:255] or None
        if getattr(task, "_harness_stopped", False):
            task.stop_code = "UserInitiated"  # StopTask: its reason stays
        else:
            task.stop_code = "EssentialContainerExited"
            task.stopped_reason = "Essential container in task exited"
        task.desired_status = "STOPPED"
        task.status = "STOPPED"

    def pulled_digest(account: str, image: str | None):
        """The digest ECR holds for `<registry>/<repository>:<tag>`, or None (Fargate
        would fail to pull it; moto starts the task regardless)."""
        from moto.ecr.models import ecr_backends

        if image and "@" in image:
            return image.rsplit("@", 1)[1]
        if not image or ".dkr.ecr." not in image or ":" not in image.rsplit("/", 1)[-1]:
            return None
        registry, path = image.split("/", 1)
        repository, tag = path.rsplit(":", 1)
        region = registry.split(".")[3]
        repo = ecr_backends[account][region].repositories.get(repository)
        found = [i for i in (repo.images if repo else []) if tag in i.image_tags]
        return found[0].get_image_digest() if found else None

    def run_task_training(self, cluster_str, task_definition_str, *args, **kwargs):
        tasks = run_task(self, cluster_str, task_definition_str, *args, **kwargs)
        for task in tasks:
            for container in task.containers:
                # AWS: `cpu` is a string, and a container has no exit code until it stops;
                # moto answered a number and 0 (the Rust SDK refuses the number).
                container.cpu = None if container.cpu is None else str(container.cpu)
                container.exitCode = None
            family = task.task_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]
            if family.endswith("-training"):
                # Fargate resolves the image's tag to a digest when it pulls, and
                # DescribeTasks reports it (containers[].imageDigest); moto has no pull.
                for container in task.containers:
                    container.image_digest = pulled_digest(self.account_id, container.image)
                # RUNNING until the container exits, as on Fargate (moto's tasks move on
                # through DEACTIVATING to STOPPED as they are described).
                task._transitions = []
                task.status = "RUNNING"
                for container in task.containers:
                    container.last_status = "RUNNING"
                threading.Thread(target=run, args=(self, task, environment(self, task)),
                                 daemon=True).start()
        return tasks

    EC2ContainerServiceBackend.run_task = run_task_training

    # StopTask stops the container (SIGTERM), as ECS does; moto only relabelled the task
    # while its program ran on.
    stop_task = EC2ContainerServiceBackend.stop_task

    def stop_task_running(self, cluster_str, task_str, reason):
        task = stop_task(self, cluster_str, task_str, reason)
        process = RUNNING_JOBS.get(task.task_arn)
        if process is not None:
            task._harness_stopped = True
            task.status = "RUNNING"  # until the container has exited
            process.terminate()
        return task

    EC2ContainerServiceBackend.stop_task = stop_task_running


def training_state_machines() -> None:
    """moto's StartExecution records an execution that runs nothing. A state machine whose
    start state is one Task `ecs:runTask.sync` (a model's training runner) the harness runs
    as Step Functions does: RunTask with the state's parameters, then SUCCEEDED when the
    task's container exits 0, FAILED when it exits otherwise, and when the state's
    TimeoutSeconds pass first, StopTask and TIMED_OUT. A test speeds the clock up per
    account (PUT /__harness/clock {seconds_per_minute}) so a two-hour timeout passes in
    seconds, and may ask the job to hang (the execution input's `harness_hang_seconds`,
    given to the job as TRAINING_JOB_HANG_SECONDS)."""
    import time
    from moto.core.utils import utcnow
    from moto.ecs.models import ecs_backends
    from moto.stepfunctions.models import StateMachine

    start = StateMachine.start_execution

    def task_state(definition) -> dict:
        if isinstance(definition, str):
            try:
                definition = json.loads(definition)
            except ValueError:
                return {}
        states = (definition or {}).get("States") or {}
        return states.get((definition or {}).get("StartAt"), {})

    def run_sync(execution, state: dict, account_id: str, region_name: str) -> None:
        params = state.get("Parameters") or {}
        network = (params.get("NetworkConfiguration") or {}).get("AwsvpcConfiguration") or {}
        backend = ecs_backends[account_id][region_name]
        hang = json.loads(execution.execution_input or "{}").get("harness_hang_seconds")
        overrides = {"containerOverrides": [{"environment": [
            {"name": "TRAINING_JOB_HANG_SECONDS", "value": str(hang)}]}]} if hang else {}
        try:
            task = backend.run_task(
                params["Cluster"], params["TaskDefinition"], 1, overrides,
                "AWS Step Functions", None, params.get("LaunchType"),
                {"awsvpcConfiguration": {"subnets": network.get("Subnets"),
                                         "securityGroups": network.get("SecurityGroups"),
                                         "assignPublicIp": network.get("AssignPublicIp")}})[0]
        except Exception as error:  # noqa: BLE001 - RunTask's refusal fails the state
            execution.status, execution.error, execution.cause = "FAILED", "ECS.AmazonECSException", str(error)
            execution.stop_date = utcnow()
            return
        seconds = float(state.get("TimeoutSeconds") or 99_999_999)
        limit = seconds / 60 * CLOCK.get(account_id, 60.0)
        began = time.monotonic()
        while task.status != "STOPPED":
            if time.monotonic() - began > limit:
                backend.stop_task(params["Cluster"], task.task_arn,
                                  "Step Functions: the state timed out (States.Timeout)")
                execution.status, execution.error = "TIMED_OUT", "States.Timeout"
                execution.cause = f"Train timed out after {int(seconds)} seconds"
                execution.stop_date = utcnow()
                return
            time.sleep(0.05)
        code = task.containers[0].exitCode if task.containers else None
        if code == 0:
            execution.status = "SUCCEEDED"
        else:
            execution.status, execution.error = "FAILED", "States.TaskFailed"
            execution.cause = f"Essential container in task exited (exit code {code})"
        execution.stop_date = utcnow()

    def start_running(self, region_name, account_id, execution_name, execution_input):
        execution = start(self, region_name, account_id, execution_name, execution_input)
        state = task_state(self.definition)
        resource = str(state.get("Resource", ""))
        if state.get("Type") == "Task" and resource.endswith(":states:::ecs:runTask.sync"):
            execution.status = "RUNNING"
            threading.Thread(target=run_sync,
                             args=(execution, state, account_id, region_name),
                             daemon=True).start()
        return execution

    StateMachine.start_execution = start_running


# The training programs running as tasks (task ARN to process), for StopTask.
RUNNING_JOBS: dict = {}
# Seconds per minute of a state's TimeoutSeconds, per account (PUT /__harness/clock).
CLOCK: dict[str, float] = {}


# The harness's own endpoint (set once it listens), for the programs it runs as tasks.
HARNESS_ENDPOINT: list[str] = [""]


def termination_protection_updates() -> None:
    """moto has no UpdateTerminationProtection (the call failed with HTTP 500); AWS sets
    the stack's EnableTerminationProtection, which DescribeStacks then reports. A stack
    created by a change set gets its protection this way (CreateChangeSet takes none)."""
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    def update_termination_protection(self):
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        enabled = str(self._get_param("EnableTerminationProtection")).lower() == "true"
        stack.enable_termination_protection = enabled
        return ActionResult({"StackId": stack.stack_id})

    CloudFormationResponse.update_termination_protection = update_termination_protection


def executed_change_sets_as_aws() -> None:
    """moto's ExecuteChangeSet applies a change set's resources but leaves the stack's
    parameters, tags and outputs as they were (an update through a change set looked
    undone to the next read), and keeps the stack's other change sets. AWS gives the stack
    the change set's parameters and tags, recomputes its outputs, and deletes every other
    change set of the stack ("they aren't valid for the updated stack")."""
    from moto.cloudformation.models import CloudFormationBackend

    execute = CloudFormationBackend.execute_change_set

    def execute_change_set(self, change_set_name, stack_name=None):
        execute(self, change_set_name, stack_name)
        executed = self.change_sets.get(change_set_name) or next(
            (c for c in self.change_sets.values() if c.change_set_name == change_set_name), None)
        if executed is None:
            return
        stack = self.stacks[executed.stack_id]
        if executed.parameters:
            stack.parameters = executed.parameters
        if executed.tags is not None:
            stack.tags = executed.tags
        stack._parse_template()
        stack.output_map = stack._create_output_map()
        for key in [k for k, c in self.change_sets.items()
                    if c.stack_id == stack.stack_id and c is not executed]:
            del self.change_sets[key]

    CloudFormationBackend.execute_change_set = execute_change_set


def stack_deletion_in_order() -> None:
    """moto's CloudFormation cannot delete AWS::EC2::RouteTable, AWS::EC2::InternetGateway
    or AWS::ElasticLoadBalancingV2::TargetGroup (no delete handler: they are skipped and
    left behind), so deleting a network stack fails with DependencyViolation on its VPC,
    and an api stack leaves its target group. AWS deletes every resource of a stack,
    dependents first. The harness gives those types their delete (moto retries what a
    dependency still blocks until nothing is left), and honours a repository's
    EmptyOnDelete."""
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.internet_gateways import InternetGateway
    from moto.ec2.models.route_tables import RouteTable
    from moto.elbv2.models import FakeTargetGroup, elbv2_backends

    def delete_route_table(cls, resource_name, cloudformation_json, account_id, region_name):
        backend = ec2_backends[account_id][region_name]
        table = backend.route_tables.get(resource_name)
        if table is None:
            return
        for association_id in list(table._associations):
            backend.disassociate_route_table(association_id)
        backend.delete_route_table(resource_name)

    def delete_internet_gateway(cls, resource_name, cloudformation_json, account_id,
                                region_name):
        backend = ec2_backends[account_id][region_name]
        gateway = backend.internet_gateways.get(resource_name)
        if gateway is None:
            return
        if gateway.vpc is not None:
            backend.detach_internet_gateway(resource_name, gateway.vpc.id)
        backend.delete_internet_gateway(resource_name)

    def delete_target_group(cls, resource_name, cloudformation_json, account_id, region_name):
        backend = elbv2_backends[account_id][region_name]
        for arn, group in list(backend.target_groups.items()):
            if resource_name in (arn, group.name):
                backend.delete_target_group(arn)

    # An ECR repository with `EmptyOnDelete: true` is deleted with its images, as AWS does;
    # moto ignores the property and refuses with RepositoryNotEmptyException.
    from moto.ecr.models import Repository, ecr_backends

    create_repository = Repository.create_from_cloudformation_json.__func__

    def create_remembering(cls, resource_name, cloudformation_json, account_id, region_name,
                           **kwargs):
        repository = create_repository(cls, resource_name, cloudformation_json, account_id,
                                       region_name, **kwargs)
        empty = cloudformation_json.get("Properties", {}).get("EmptyOnDelete")
        repository._harness_empty_on_delete = empty in (True, "true")
        return repository

    def delete_repository(self, account_id, region_name):
        force = getattr(self, "_harness_empty_on_delete", False)
        ecr_backends[account_id][region_name].delete_repository(self.name, force=force)

    Repository.create_from_cloudformation_json = classmethod(create_remembering)
    Repository.delete = delete_repository
    RouteTable.delete_from_cloudformation_json = classmethod(delete_route_table)
    InternetGateway.delete_from_cloudformation_json = classmethod(delete_internet_gateway)
    FakeTargetGroup.delete_from_cloudformation_json = classmethod(delete_target_group)


class QuietServer(http.server.ThreadingHTTPServer):
    """A client that goes away mid-request (a test killing a deploy) is not an error here."""

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError, TimeoutError)):
            return
        super().handle_error(request, client_address)


# ------------------------------------------------------------------ commands

def serve(port: int, exit_on_eof: bool) -> int:
    # A requested ACM certificate is validated at once (AWS waits for the DNS record the
    # account's zone already carries); moto would keep it PENDING_VALIDATION for a minute.
    os.environ.setdefault("MOTO_ACM_VALIDATION_WAIT", "0")
    # moto warns about every resource type its CloudFormation skips; the notes list them.
    warnings.simplefilter("ignore")
    # moto answers unimplemented operations (drift detection) with a 500 the tests expect;
    # werkzeug would print a traceback for each.
    logging.getLogger("werkzeug").setLevel(logging.DEBUG if os.environ.get("LOCAL_AWS_DEBUG") else logging.CRITICAL)
    logging.getLogger("moto").setLevel(logging.DEBUG if os.environ.get("LOCAL_AWS_DEBUG") else logging.CRITICAL)
    from moto.server import ThreadedMotoServer

    complete_ecs_deployments()
    complete_ecs_services()
    complete_stack_task_definitions()
    typed_stack_load_balancers()
    stack_updates_reach_dependents()
    stack_target_groups_as_aws_keeps_them()
    database_resource_ids()
    versioned_stack_buckets()
    stack_deletion_in_order()
    executed_change_sets_as_aws()
    termination_protection_updates()
    stack_schedules()
    training_runs()
    training_state_machines()
    cross_account.install()
    stack_rules.install()
    local_services.cognito_in_stacks()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    moto_host, moto_port = moto.get_host_and_port()
    server = QuietServer(("127.0.0.1", port), make_handler(Harness(moto_host, moto_port)))
    server.daemon_threads = True
    stopping = threading.Event()

    def stop(*_):
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if exit_on_eof:
        # The parent (a test process) holds our stdin: when it exits, for whatever reason,
        # the pipe closes and we go too, so no emulator outlives its tests.
        threading.Thread(target=lambda: (sys.stdin.read(), stop()), daemon=True).start()
    HARNESS_ENDPOINT[0] = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"endpoint {HARNESS_ENDPOINT[0]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        moto.stop()
    return 0


def state_dir() -> str:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.environ.get("LOCAL_AWS_STATE_DIR", os.path.join(root, ".local-aws"))


def read_state() -> dict | None:
    try:
        with open(os.path.join(state_dir(), "state.json")) as f:
            state = json.load(f)
        os.kill(state["pid"], 0)
        return state
    except (OSError, ValueError, KeyError):
        return None


def start(port: int) -> int:
    running = read_state()
    if running:
        print(f"endpoint {running['endpoint']}")
        return 0
    os.makedirs(state_dir(), exist_ok=True)
    log_path = os.path.join(state_dir(), "server.log")
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the server: a session of its own, detached from this terminal
        os.setsid()
        os.close(read_fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(devnull, 0)
        os.dup2(write_fd, 1)
        os.dup2(log, 2)
        os.execv(sys.executable, [sys.executable, os.path.abspath(__file__), "serve", "--port", str(port)])
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        line = pipe.readline().strip()  # blocks until the server answers, or dies
    if not line.startswith("endpoint "):
        print(f"local-aws: the emulator did not start; see {log_path}", file=sys.stderr)
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        return 1
    endpoint = line.split(" ", 1)[1]
    with open(os.path.join(state_dir(), "state.json"), "w") as f:
        json.dump({"pid": pid, "endpoint": endpoint}, f)
    print(line)
    return 0


def stop_command() -> int:
    state = read_state()
    path = os.path.join(state_dir(), "state.json")
    if not state:
        if os.path.exists(path):
            os.remove(path)
        print("local-aws: not running")
        return 0
    pid = state["pid"]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = 0
            try:
                os.kill(pid, 0)
            except OSError:
                done = pid
        if done:
            break
        time.sleep(0.05)
    else:
        os.killpg(pid, signal.SIGKILL)
    os.remove(path)
    print(f"local-aws: stopped (pid {pid})")
    return 0


def status_command() -> int:
    state = read_state()
    if state:
        print(f"endpoint {state['endpoint']} (pid {state['pid']})")
        return 0
    print("local-aws: not running")
    return 3


def client(service: str):
    """A boto3 client of the running emulator, as the default local account."""
    import boto3

    state = read_state()
    if not state:
        raise SystemExit("local-aws: not running (scripts/local-aws start)")
    return boto3.client(service, endpoint_url=state["endpoint"], region_name="eu-west-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def push_image_command(reference: str) -> int:
    """What `docker push` would leave in ECR: an image manifest under the tag (the harness
    plays Fargate, so no layers are needed), and its digest."""
    repository, _, tag = reference.partition(":")
    if not tag:
        raise SystemExit(f"local-aws: `{reference}` is not REPOSITORY:TAG")
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
                   "digest": "sha256:" + hashlib.sha256(reference.encode()).hexdigest()},
        "layers": [],
    }
    out = client("ecr").put_image(repositoryName=repository, imageTag=tag,
                                  imageManifest=json.dumps(manifest))
    print(f"{reference} {out['image']['imageId']['imageDigest']}")
    return 0


def put_object_command(uri: str, body: str) -> int:
    """One object, as a producer would write it: `s3://bucket/key` and its text."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not key:
        raise SystemExit(f"local-aws: `{uri}` is not s3://BUCKET/KEY")
    client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode())
    print(f"put {uri} ({len(body.encode())} bytes)")
    return 0


def traffic_command(function: str, service: str, namespace: str, requests: int) -> int:
    """What `requests` invocations of a Lambda service's `live` alias would leave in
    CloudWatch, split by the alias's weights: Lambda's Invocations and Errors per executed
    version, and the service's own prediction measures per version (every prediction
    validated, 95% agreeing, 1% false positives, 0.1% false negatives, on both sides)."""
    alias = client("lambda").get_alias(FunctionName=function, Name="live")
    weights = alias.get("RoutingConfig", {}).get("AdditionalVersionWeights", {})
    sides = [(alias["FunctionVersion"], 1.0 - sum(weights.values()))] + list(weights.items())
    cloudwatch = client("cloudwatch")
    for version, share in sides:
        n = round(requests * share)
        executed = [{"Name": "FunctionName", "Value": function},
                    {"Name": "Resource", "Value": f"{function}:live"},
                    {"Name": "ExecutedVersion", "Value": version}]
        cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=[
            {"MetricName": "Invocations", "Value": n, "Dimensions": executed},
            {"MetricName": "Errors", "Value": 0, "Dimensions": executed},
        ])
        mine = [{"Name": "Service", "Value": service}, {"Name": "Version", "Value": version}]
        figures = {"Predictions": n, "Validated": n, "Agreements": round(n * 0.95),
                   "FalsePositives": round(n * 0.01), "FalseNegatives": round(n * 0.001)}
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=[
            {"MetricName": k, "Value": v, "Dimensions": mine} for k, v in figures.items()])
        print(f"version {version}: {n} requests ({share:.0%})")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="local-aws", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("serve", "start"):
        p = sub.add_parser(name)
        p.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
        if name == "serve":
            p.add_argument("--exit-on-stdin-eof", action="store_true")
    sub.add_parser("stop")
    sub.add_parser("status")
    p = sub.add_parser("push-image", help="put an image manifest in the emulator's ECR")
    p.add_argument("reference", metavar="REPOSITORY:TAG")
    p = sub.add_parser("put-object", help="write one object into the emulator's S3")
    p.add_argument("uri", metavar="s3://BUCKET/KEY")
    p.add_argument("body")
    p = sub.add_parser("traffic", help="CloudWatch figures of requests to a Lambda's live alias")
    p.add_argument("function")
    p.add_argument("--service", required=True)
    p.add_argument("--namespace", required=True)
    p.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args()
    if args.command == "push-image":
        return push_image_command(args.reference)
    if args.command == "put-object":
        return put_object_command(args.uri, args.body)
    if args.command == "traffic":
        return traffic_command(args.function, args.service, args.namespace, args.requests)
    if args.command == "serve":
        return serve(args.port, args.exit_on_stdin_eof)
    if args.command == "start":
        return start(args.port)
    if args.command == "stop":
        return stop_command()
    return status_command()


if __name__ == "__main__":
    sys.exit(main())
