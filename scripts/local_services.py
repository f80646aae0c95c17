"""What the deployed services do, on the emulator: something real for `facturactl verify`.

moto keeps ECS services and Lambda functions as records; nothing serves a request. The
harness adds:

- **The environment's entry point**, at `<endpoint>/__services/<account>/...` (one per
  account, as each environment has its own API): `GET /health` answers for the account's
  `backend` ECS service, `POST /invoices` is the OCR path (the backend's), `POST
  /predict` is the account's `scoring` ECS service, which loads its pinned model artifact
  (the task definition's MODEL_URI) from the emulator's S3 and refuses to answer when its
  SHA-256 is not MODEL_SHA256, as the real container does at start. A service that is not
  running (no ACTIVE ECS service with a desired count) answers 503. A request whose
  `Authorization` header is not an ID token of one of the account's user pools answers
  401, as API Gateway's Cognito authorizer would (`require_token` in a fault makes the
  header required).
- **Lambda invocations that run the deployed package** (moto would need Docker): Invoke
  runs the version's zip (the alias or version asked for) in a Python process with the
  event on stdin, the function's environment and its timeout; an exception is an
  `Unhandled` function error, as Lambda reports it.
- **Cognito's unsigned calls reach the client's account**: InitiateAuth carries no
  credentials; AWS finds the app client by its id, moto would look in its default account.
- **Faults per account**: `PUT /__harness/services {"key": K, "service": "backend",
  "status": 500, "latency_ms": 800, "require_token": true}` makes that service answer
  500, or slowly, or only to a signed-in user;
  `DELETE /__harness/services?key=K` clears them.
"""

import base64
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

FAULTS: dict[tuple[str, str], dict] = {}
FAULTS_LOCK = threading.Lock()

# Runs `module.function(event, context)` from the package in the working directory.
RUNNER = r"""
import importlib, json, sys, traceback
module, function = sys.argv[1].rsplit(".", 1)
sys.path.insert(0, ".")
event = json.load(sys.stdin)
class Context:
    function_name = sys.argv[2]
    aws_request_id = sys.argv[3]
try:
    result = getattr(importlib.import_module(module), function)(event, Context())
    sys.stdout.write(json.dumps({"ok": result}))
except Exception as e:
    sys.stdout.write(json.dumps({"error": {"errorMessage": str(e), "errorType": type(e).__name__,
                                           "stackTrace": traceback.format_exc().splitlines()}}))
"""


def set_faults(account: str, body: dict) -> None:
    with FAULTS_LOCK:
        FAULTS[(account, body["service"])] = body


def clear_faults(account: str) -> None:
    with FAULTS_LOCK:
        for k in [k for k in FAULTS if k[0] == account]:
            del FAULTS[k]


def fault_of(account: str, service: str) -> dict:
    with FAULTS_LOCK:
        return dict(FAULTS.get((account, service), {}))


# ------------------------------------------------------------------ the entry point

ROUTES = {("GET", "/health"): "backend", ("POST", "/invoices"): "backend",
          ("POST", "/predict"): "scoring"}


def serve(account: str, method: str, path: str, headers, body: bytes) -> tuple[int, dict, bytes]:
    """The answer of the account's entry point to one request."""
    route = path.split("?", 1)[0].rstrip("/") or "/"
    service = ROUTES.get((method, route))
    if not service:
        return answer(404, {"message": "Not Found"})
    fault = fault_of(account, service)
    auth = headers.get("Authorization")
    if (auth is not None or fault.get("require_token")) and not issued_here(account, auth or ""):
        return answer(401, {"message": "Unauthorized"})
    if fault.get("latency_ms"):
        time.sleep(float(fault["latency_ms"]) / 1000)
    if fault.get("status"):
        return answer(int(fault["status"]), {"message": f"{service} answers {fault['status']} (harness fault)"})
    running = ecs_service(account, service)
    if running is None:
        return answer(503, {"message": f"no running {service} service"})
    if service == "scoring":
        return predict(account, running, body)
    return backend_route(method, path, body)


def issued_here(account: str, auth: str) -> bool:
    """Whether `auth` is an ID token of one of the account's user pools (its `iss`), as
    API Gateway's Cognito authorizer takes it (the token alone, or after `Bearer `)."""
    token = auth[len("Bearer "):] if auth.startswith("Bearer ") else auth
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return False
    from moto.cognitoidp.models import cognitoidp_backends
    pool = str(claims.get("iss", "")).rsplit("/", 1)[-1]
    return claims.get("token_use") == "id" and any(
        pool in backend.user_pools for backend in cognitoidp_backends[account].values())


def answer(status: int, value) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(value).encode()


def ecs_service(account: str, suffix: str) -> dict | None:
    """The account's running ECS service `suffix` (the control of a split: its `-variant`
    is not served here), with its container's environment."""
    from moto.ecs.models import ecs_backends
    for region, backend in ecs_backends[account].items():
        for svc in list(backend.services.values()):
            name = svc.name
            if name != suffix or svc.status != "ACTIVE" or not svc.desired_count:
                continue
            task = backend.describe_task_definition(svc.task_definition)
            environment = {}
            for container in task.container_definitions:
                for pair in container.get("environment", []):
                    environment[pair["name"]] = pair["value"]
            return {"name": name, "region": region, "environment": environment}
    return None


def backend_route(method: str, path: str, body: bytes) -> tuple[int, dict, bytes]:
    """The backend's own answer: services/backend/app.py's `route`, the code its image runs
    (the emulator runs no containers); an accepted invoice is not queued here."""
    import importlib.util
    source = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "services", "backend", "app.py")
    spec = importlib.util.spec_from_file_location("facturascan_backend", source)
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    status, value = app.route(method, path, body)
    return answer(status, value)


def predict(account: str, running: dict, body: bytes) -> tuple[int, dict, bytes]:
    env = running["environment"]
    uri, expected = env.get("MODEL_URI", ""), env.get("MODEL_SHA256", "")
    m = re.match(r"^s3://([^/]+)/(.+)$", uri)
    if not m or not expected:
        return answer(500, {"message": "the service runs no model (MODEL_URI, MODEL_SHA256)"})
    from moto.s3.models import s3_backends
    try:
        data = s3_backends[account]["aws"].get_object(m.group(1), m.group(2)).value
    except Exception as e:  # noqa: BLE001 - the container fails to start on any of these
        return answer(500, {"message": f"cannot load the model {uri}: {e}"})
    if hashlib.sha256(data).hexdigest() != expected:
        return answer(500, {"message": f"the model at {uri} is not sha256:{expected}"})
    try:
        features = json.loads(body or b"{}")
    except ValueError:
        return answer(400, {"message": "the body is not JSON"})
    if not isinstance(features, dict) or not features:
        return answer(422, {"message": "expected the model's input fields"})
    seed = hashlib.sha256(data + json.dumps(features, sort_keys=True).encode()).digest()
    return answer(200, {"fraud_score": round(seed[0] / 255, 4), "model_sha256": expected})


# ------------------------------------------------------------------ Lambda

def invoke(account: str, region: str, path: str, body: bytes) -> tuple[int, dict, bytes]:
    """Runs the function's package as Lambda would, with the event `body`."""
    from moto.awslambda.models import lambda_backends
    m = re.match(r"^/2015-03-31/functions/([^/]+)/invocations/?(?:\?(.*))?$", path)
    name = m.group(1)
    qualifier = None
    for part in (m.group(2) or "").split("&"):
        if part.startswith("Qualifier="):
            qualifier = part.split("=", 1)[1]
    try:
        function = lambda_backends[account][region].get_function(name, qualifier)
    except Exception as e:  # noqa: BLE001
        return answer(404, {"Type": "User", "message": f"Function not found: {name}:{qualifier} ({e})"})
    code = function.code_bytes
    if not code:
        return answer(500, {"message": "the function has no package the emulator can run"})
    handler = function.handler
    env = dict(function.environment_vars or {})
    with tempfile.TemporaryDirectory(prefix="lambda-") as work:
        with zipfile.ZipFile(io.BytesIO(code)) as package:
            package.extractall(work)
        request_id = base64.b32encode(os.urandom(10)).decode().lower()
        try:
            done = subprocess.run(
                [sys.executable, "-c", RUNNER, handler, function.function_name, request_id],
                input=body or b"{}", capture_output=True, cwd=work, timeout=int(function.timeout or 3),
                env={"PATH": os.environ.get("PATH", ""), "AWS_REGION": region,
                     "AWS_LAMBDA_FUNCTION_NAME": function.function_name, **env})
        except subprocess.TimeoutExpired:
            return function_error({"errorMessage": f"Task timed out after {function.timeout}.00 seconds",
                                   "errorType": "Sandbox.Timedout"})
    try:
        result = json.loads(done.stdout or b"{}")
    except ValueError:
        result = {}
    if "ok" in result:
        return 200, {"Content-Type": "application/json",
                     "X-Amz-Executed-Version": str(function.version)}, json.dumps(result["ok"]).encode()
    return function_error(result.get("error") or {
        "errorMessage": (done.stderr or b"").decode("utf-8", "replace")[-500:] or "the runtime exited",
        "errorType": "Runtime.ExitError"})


def function_error(error: dict) -> tuple[int, dict, bytes]:
    return 200, {"Content-Type": "application/json", "X-Amz-Function-Error": "Unhandled"}, \
        json.dumps(error).encode()


# ------------------------------------------------------------------ Cognito

def client_account(body: bytes, default: str) -> str:
    """The account whose user pool has the app client an unsigned call names."""
    from moto.cognitoidp.models import cognitoidp_backends
    try:
        client_id = json.loads(body or b"{}").get("ClientId")
    except ValueError:
        return default
    for account, regions in cognitoidp_backends.items():
        for backend in regions.values():
            for pool in backend.user_pools.values():
                if client_id in pool.clients:
                    return account
    return default


# ------------------------------------------------------------------ Cognito in stacks

def cognito_in_stacks() -> None:
    """moto's CloudFormation has no AWS::Cognito::UserPool nor UserPoolClient: a stack's
    pool was skipped, `${UserPool}` left as text in the ARNs naming it, and the outputs
    that `Ref` it dropped (the auth stack's UserPoolId and client ids). These create them
    in moto's Cognito backend, as AWS does: `Ref` is the pool's or the client's id,
    `Fn::GetAtt` Arn, ProviderName, ProviderURL; an update keeps the pool (its id is what
    the API's authorizer and every client name), a delete removes it."""
    from moto.cloudformation import parsing
    from moto.cognitoidp.models import cognitoidp_backends
    from moto.core.common_models import CloudFormationModel

    def backend(account_id: str, region_name: str):
        return cognitoidp_backends[account_id][region_name]

    class StackUserPool(CloudFormationModel):
        # moto's model registry files a model under the service its module names.
        __module__ = "moto.cognitoidp.models"

        def __init__(self, pool, account_id: str, region_name: str) -> None:
            self.pool, self.account_id, self.region_name = pool, account_id, region_name

        @staticmethod
        def cloudformation_name_type() -> str:
            return "UserPoolName"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Cognito::UserPool"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("Arn", "ProviderName", "ProviderURL", "UserPoolId")

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                            region_name, **kwargs):
            props = dict(cloudformation_json.get("Properties", {}))
            name = props.pop("UserPoolName", resource_name)
            try:
                pool = backend(account_id, region_name).create_user_pool(name, props)
            except Exception:  # noqa: BLE001 - a setting moto cannot model: the pool still exists
                pool = backend(account_id, region_name).create_user_pool(name, {})
            return cls(pool, account_id, region_name)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                            cloudformation_json, account_id, region_name):
            return original_resource

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                            region_name):
            backend(account_id, region_name).user_pools.pop(resource_name, None)

        def delete(self, account_id: str, region_name: str) -> None:
            backend(account_id, region_name).user_pools.pop(self.pool.id, None)

        @property
        def physical_resource_id(self) -> str:
            return self.pool.id

        def get_cfn_attribute(self, attribute_name: str):
            provider = f"cognito-idp.{self.region_name}.amazonaws.com/{self.pool.id}"
            return {"Arn": self.pool.arn, "UserPoolId": self.pool.id, "ProviderName": provider,
                    "ProviderURL": f"https://{provider}"}[attribute_name]

    class StackUserPoolClient(CloudFormationModel):
        # moto's model registry files a model under the service its module names.
        __module__ = "moto.cognitoidp.models"

        def __init__(self, client, account_id: str, region_name: str) -> None:
            self.client, self.account_id, self.region_name = client, account_id, region_name

        @staticmethod
        def cloudformation_name_type() -> str:
            return "ClientName"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Cognito::UserPoolClient"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("ClientSecret", "Name", "ClientId")

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                            region_name, **kwargs):
            props = dict(cloudformation_json.get("Properties", {}))
            pool = props.pop("UserPoolId")
            secret = bool(props.pop("GenerateSecret", False))
            props.setdefault("ClientName", resource_name)
            client = backend(account_id, region_name).create_user_pool_client(pool, secret, props)
            return cls(client, account_id, region_name)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                            cloudformation_json, account_id, region_name):
            return original_resource

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                            region_name):
            for pool in backend(account_id, region_name).user_pools.values():
                pool.clients.pop(resource_name, None)

        def delete(self, account_id: str, region_name: str) -> None:
            self.delete_from_cloudformation_json(self.client.id, {}, account_id, region_name)

        @property
        def physical_resource_id(self) -> str:
            return self.client.id

        def get_cfn_attribute(self, attribute_name: str):
            return {"ClientSecret": getattr(self.client, "secret", None), "Name":
                    self.client.extended_config.get("ClientName"), "ClientId": self.client.id}[attribute_name]

    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
