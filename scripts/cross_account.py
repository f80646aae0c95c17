"""Cross-account rules for the local AWS harness (scripts/local_aws.py): what AWS enforces
when one account reaches another's resources, and what moto lets through.

moto keeps each account's resources apart but never checks who asks: any access key could
read any bucket (S3 names are global in moto), and a `registryId`, topic, queue, function
or key ARN of another account is served as if it were the caller's. AWS refuses all of
that unless the resource's policy names the caller (scripts/access_rules.py holds the
evaluation; shared/notes/cross-account.md the sources). Here:

  * S3: the bucket policy decides every request on a bucket of another account (GetObject,
    HeadObject, ListObjectsV2, PutObject, ...). Reading an object encrypted with a KMS key
    of another account also needs that key's policy to allow kms:Decrypt (writing one,
    kms:GenerateDataKey), with kms:ViaService s3.<region>.amazonaws.com; an object under
    the AWS managed key (aws/s3) can never be read from another account.
  * KMS: a key ARN of another account: the key policy decides.
  * ECR: a `registryId` of another account: the repository's policy decides.
  * SNS, SQS, Lambda: a topic, queue URL or function ARN of another account: the topic's,
    queue's or function's policy decides.
  * STS AssumeRole of another account's role: its trust policy decides. The session's keys
    then act as the role, inside its account (aws:PrincipalArn is the role; the role's inline
    and managed policies are its identity policies across accounts).
  * ECR replication (moto has none): a push to a registry with a replication configuration
    is copied to each destination whose rule's filters match, only when the destination's
    registry policy allows the source account ecr:ReplicateImage at push time, and creates
    the repository there only when it also allows ecr:CreateRepository (with AWS's default
    settings). Pushes made before the configuration are never replicated; each push
    replicates once. Each outcome is kept (GET /__harness/replications), as CloudTrail
    would show it.
  * CloudFormation: moto's CloudFormation ignores AWS::S3::BucketPolicy,
    AWS::ECR::RegistryPolicy, AWS::ECR::ReplicationConfiguration and a repository's
    RepositoryPolicyText; the harness applies them, so the rules above see what a stack
    declared.

Requests within one account behave as before, except that an explicit Deny of a bucket
policy applies to the owner's principals too, as on AWS (the models bucket's write-once
rule for registered objects).
"""
from __future__ import annotations

import json
import re
import threading
import urllib.parse
import uuid

from access_rules import (DENY, Caller, Decision, account_of_arn, decide, evaluate,
                          replication_destinations, request_context)

# Role sessions from AssumeRole: access key -> (role account, session ARN, role ARN).
SESSIONS: dict[str, tuple[str, str, str]] = {}
SESSIONS_LOCK = threading.Lock()
# Every replication attempt: {source, destination, repository, digest, outcome}.
REPLICATIONS: list[dict] = []
# The CloudFormation models the harness adds (kept alive: see stack_policies).
STACK_MODELS: list = []


def session_account(access_key: str) -> str | None:
    with SESSIONS_LOCK:
        found = SESSIONS.get(access_key)
    return found[0] if found else None


def remember_session(response_body: bytes) -> None:
    """After a successful AssumeRole: its keys act as the role from now on."""
    text = response_body.decode("utf-8", "replace")
    key = re.search(r"<AccessKeyId>([^<]+)</AccessKeyId>", text)
    arn = re.search(r"<Arn>([^<]+)</Arn>", text)
    if not (key and arn):
        return
    session_arn = arn.group(1)
    m = re.match(r"^arn:aws[a-z-]*:sts::(\d{12}):assumed-role/([^/]+)/", session_arn)
    if m:
        with SESSIONS_LOCK:
            SESSIONS[key.group(1)] = (m.group(1), session_arn, f"arn:aws:iam::{m.group(1)}:role/{m.group(2)}")


def caller_of(access_key: str, account: str) -> Caller:
    with SESSIONS_LOCK:
        found = SESSIONS.get(access_key)
    if not found:
        return Caller.root(account)
    role_account, session_arn, role_arn = found
    return Caller(role_account, session_arn, role_arn, tuple(role_policies(role_arn)))


def role_policies(role_arn: str) -> list:
    from moto.iam.models import iam_backends
    account = account_of_arn(role_arn) or ""
    try:
        role = iam_backends[account]["aws"].get_role_by_arn(role_arn)
    except Exception:  # noqa: BLE001 - a deleted role has no policies
        return []
    documents = list(role.policies.values())
    documents += [p.document for p in role.managed_policies.values()]
    return [urllib.parse.unquote(d) if isinstance(d, str) and d.startswith("%7B") else d
            for d in documents]


# ------------------------------------------------------------------ denials, per protocol

def denial(service: str, message: str, headers) -> tuple[int, dict, bytes]:
    request_id = str(uuid.uuid4())
    if service == "s3":
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>"
                f"<Message>{message}</Message><RequestId>{request_id}</RequestId></Error>").encode()
        return 403, {"Content-Type": "application/xml", "x-amz-request-id": request_id}, body
    if service in ("sts", "sns") or "x-www-form-urlencoded" in headers.get("Content-Type", ""):
        code = "AuthorizationError" if service == "sns" else "AccessDenied"
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId>"
                f"</ErrorResponse>").encode()
        return 403, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body
    if service == "lambda":
        body = json.dumps({"Type": "User", "message": message}).encode()
        return 403, {"Content-Type": "application/json", "x-amzn-RequestId": request_id,
                     "x-amzn-ErrorType": "AccessDeniedException"}, body
    code = "AccessDenied" if service == "sqs" else "AccessDeniedException"
    content_type = headers.get("Content-Type") or "application/x-amz-json-1.1"
    body = json.dumps({"__type": code, "message": message}).encode()
    return 400 if service != "sqs" else 403, {"Content-Type": content_type,
                                              "x-amzn-RequestId": request_id}, body


# ------------------------------------------------------------------ S3

S3_BUCKET_READS = {"versions": "s3:ListBucketVersions", "policy": "s3:GetBucketPolicy",
                   "versioning": "s3:GetBucketVersioning", "location": "s3:GetBucketLocation",
                   "tagging": "s3:GetBucketTagging", "encryption": "s3:GetEncryptionConfiguration",
                   "publicAccessBlock": "s3:GetBucketPublicAccessBlock"}


def s3_request(method: str, path: str) -> tuple[str, str | None, dict]:
    url = urllib.parse.urlsplit(path)
    parts = url.path.lstrip("/").split("/", 1)
    bucket = urllib.parse.unquote(parts[0])
    key = urllib.parse.unquote(parts[1]) if len(parts) > 1 and parts[1] else None
    return bucket, key, urllib.parse.parse_qs(url.query, keep_blank_values=True)


def s3_action(method: str, key: str | None, query: dict) -> str:
    if key is not None:
        if method in ("GET", "HEAD"):
            if "tagging" in query:
                return "s3:GetObjectTagging"
            return "s3:GetObjectVersion" if "versionId" in query else "s3:GetObject"
        if method == "DELETE":
            return "s3:DeleteObject"
        return "s3:PutObjectTagging" if "tagging" in query else "s3:PutObject"
    if method in ("GET", "HEAD"):
        return next((a for marker, a in S3_BUCKET_READS.items() if marker in query), "s3:ListBucket")
    if method == "POST" and "delete" in query:
        return "s3:DeleteObject"
    if method == "DELETE":
        return "s3:DeleteBucketPolicy" if "policy" in query else "s3:DeleteBucket"
    marker = next(iter(query), "")
    return f"s3:PutBucket{marker[:1].upper()}{marker[1:]}" if marker else "s3:CreateBucket"


def expected_owner_denial(method: str, path: str, headers) -> tuple | None:
    """`x-amz-expected-bucket-owner` (ExpectedBucketOwner): AWS answers 403 when the bucket
    belongs to another account than the one named, before reading or writing anything.
    moto ignores the header."""
    from moto.s3.models import s3_backends
    expected = headers.get("x-amz-expected-bucket-owner")
    bucket_name, _, _ = s3_request(method, path)
    owner = s3_backends.bucket_accounts.get(bucket_name) if bucket_name else None
    if not expected or owner is None or owner[1] == expected:
        return None
    return denial("s3", "Access Denied: the bucket is not owned by the expected bucket owner", headers)


def s3_check(caller: Caller, method: str, path: str, headers, region: str) -> Decision | None:
    from moto.s3.models import s3_backends
    bucket_name, key, query = s3_request(method, path)
    owner = s3_backends.bucket_accounts.get(bucket_name)
    if not bucket_name or owner is None:
        return None
    partition, owner_account = owner
    bucket = s3_backends[owner_account][partition].buckets.get(bucket_name)
    action = s3_action(method, key, query)
    resource = f"arn:aws:s3:::{bucket_name}" + (f"/{key}" if key is not None else "")
    context = {"s3:prefix": query.get("prefix", [""])[0]} if action == "s3:ListBucket" else {}
    if headers.get("If-None-Match") is not None:
        context["s3:if-none-match"] = headers.get("If-None-Match")
    if owner_account == caller.account:
        return own_bucket_denial(caller, action, resource, bucket, context)
    decided = decide(caller, owner_account, action, resource, bucket.policy if bucket else None,
                     context)
    if not decided.allowed or key is None or bucket is None:
        return decided
    # The object's key: reading needs kms:Decrypt, writing kms:GenerateDataKey.
    if method == "GET" and action in ("s3:GetObject", "s3:GetObjectVersion"):
        stored = bucket.keys.get(key)
        if stored is not None and stored.encryption == "aws:kms":
            return kms_through_s3(caller, owner_account, stored.kms_key_id, "kms:Decrypt", region)
    if method in ("PUT", "POST") and action == "s3:PutObject":
        key_id = headers.get("x-amz-server-side-encryption-aws-kms-key-id")
        if key_id is None and bucket.encryption:
            rule = bucket.encryption.get("Rule", {}).get("ApplyServerSideEncryptionByDefault", {})
            if rule.get("SSEAlgorithm") == "aws:kms":
                key_id = rule.get("KMSMasterKeyID") or ""
        if key_id is not None:
            return kms_through_s3(caller, owner_account, key_id, "kms:GenerateDataKey", region)
    return decided


def own_bucket_denial(caller: Caller, action: str, resource: str, bucket, context: dict
                      ) -> Decision | None:
    """Within its account, IAM decides (not modelled here), but an explicit Deny in the
    bucket policy applies to the owner's principals too, as on AWS (enforced conditional
    writes, TLS only)."""
    policy = bucket.policy if bucket else None
    if policy and evaluate(policy, caller, action, resource,
                           request_context(caller, context)) == DENY:
        return Decision(False, f"User: {caller.arn} is not authorized to perform: {action} on "
                               f"resource: {resource} with an explicit deny in a resource-based "
                               "policy")
    return None


def kms_through_s3(caller: Caller, bucket_account: str, key_id: str | None, action: str,
                   region: str) -> Decision:
    """A KMS use S3 makes on the caller's behalf: the key's policy must allow the caller."""
    key_account = account_of_arn(key_id or "") or bucket_account
    if key_account == caller.account:
        return Decision(True)
    if not key_id or "alias/aws/" in key_id:
        arn = f"arn:aws:kms:{region}:{key_account}:alias/aws/s3"
        return Decision(False, f"User: {caller.arn} is not authorized to perform: {action} on "
                               f"resource: {arn} (an AWS managed key cannot be used from another account)")
    policy, arn = key_policy(key_account, region, key_id)
    return decide(caller, key_account, action, arn, policy,
                  {"kms:ViaService": f"s3.{region}.amazonaws.com", "kms:CallerAccount": caller.account},
                  kind="key policy")


def key_policy(account: str, region: str, key_id: str) -> tuple[str | None, str]:
    from moto.kms.models import kms_backends
    key_region = key_id.split(":")[3] if key_id.startswith("arn:") else region
    backend = kms_backends[account][key_region]
    try:
        key = backend.describe_key(key_id)
    except Exception:  # noqa: BLE001 - an unknown key: no policy allows anything
        return None, key_id if key_id.startswith("arn:") else f"arn:aws:kms:{key_region}:{account}:key/{key_id}"
    return key.policy, key.arn


# ------------------------------------------------------------------ the other services

def json_body(body: bytes) -> dict:
    try:
        value = json.loads(body or b"{}")
        return value if isinstance(value, dict) else {}
    except ValueError:
        return {}


def form_body(body: bytes) -> dict:
    return {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()}


def ecr_target(operation: str, body: bytes, region: str):
    from moto.ecr.models import ecr_backends
    request = json_body(body)
    owner = str(request.get("registryId") or "")
    if not owner:
        return None
    name = request.get("repositoryName")
    resource = f"arn:aws:ecr:{region}:{owner}:repository/{name}" if name else f"arn:aws:ecr:{region}:{owner}:registry"
    repository = ecr_backends[owner][region].repositories.get(name) if name else None
    return owner, f"ecr:{operation}", resource, repository.policy if repository else None, "resource-based policy"


def sns_target(operation: str, body: bytes, region: str):
    from moto.sns.models import sns_backends
    request = form_body(body)
    arn = request.get("TopicArn") or request.get("TargetArn")
    owner = account_of_arn(arn or "")
    if not owner:
        return None
    topic = sns_backends[owner][region].topics.get(arn)
    return owner, f"sns:{operation}", arn, topic.policy if topic else None, "resource-based policy"


def sqs_target(operation: str, body: bytes, headers, region: str):
    from moto.sqs.models import sqs_backends
    request = json_body(body) if "json" in headers.get("Content-Type", "") else form_body(body)
    url = request.get("QueueUrl") or ""
    m = re.search(r"/(\d{12})/([^/?]+)$", url)
    if not m:
        return None
    owner, name = m.groups()
    queue = sqs_backends[owner][region].queues.get(name)
    arn = f"arn:aws:sqs:{region}:{owner}:{name}"
    return owner, f"sqs:{operation}", arn, queue.policy if queue else None, "resource-based policy"


def lambda_target(operation: str, path: str, region: str):
    from moto.awslambda.models import lambda_backends
    m = re.match(r"^/\d{4}-\d{2}-\d{2}/functions/([^/]+)", urllib.parse.urlsplit(path).path)
    if not m:
        return None
    name = urllib.parse.unquote(m.group(1))
    owner = account_of_arn(name)
    if not owner:
        return None
    function = name.split(":")[6] if len(name.split(":")) > 6 else name
    try:
        wire = json.loads(lambda_backends[owner][region].get_policy(function, None))
        policy = json.loads(wire["Policy"]) if isinstance(wire.get("Policy"), str) else wire.get("Policy")
    except Exception:  # noqa: BLE001 - no policy: nothing allows another account
        policy = None
    # AddPermission with an account id as principal: AWS stores {"AWS": "arn:...:root"};
    # moto keeps the bare id.
    for statement in (policy or {}).get("Statement", []):
        if isinstance(statement.get("Principal"), str) and statement["Principal"].isdigit():
            statement["Principal"] = {"AWS": f"arn:aws:iam::{statement['Principal']}:root"}
    action = "lambda:InvokeFunction" if operation == "Invoke" else f"lambda:{operation}"
    return owner, action, f"arn:aws:lambda:{region}:{owner}:function:{function}", policy, "resource-based policy"


def kms_target(operation: str, body: bytes, region: str):
    key_id = str(json_body(body).get("KeyId") or "")
    owner = account_of_arn(key_id)
    if not owner:
        return None
    policy, arn = key_policy(owner, region, key_id)
    return owner, f"kms:{operation}", arn, policy, "key policy"


def sts_target(operation: str, body: bytes):
    if operation != "AssumeRole":
        return None
    from moto.iam.models import iam_backends
    arn = form_body(body).get("RoleArn", "")
    owner = account_of_arn(arn)
    if not owner:
        return None
    try:
        trust = iam_backends[owner]["aws"].get_role_by_arn(arn).assume_role_policy_document
    except Exception:  # noqa: BLE001 - no such role: nobody may assume it
        trust = None
    return owner, "sts:AssumeRole", arn, trust, "trust policy"


def check(service: str, operation: str, caller: Caller, method: str, path: str, headers,
          body: bytes, region: str) -> tuple[str | None, tuple | None]:
    """(the account whose moto backend serves the request, or None for the caller's own;
    AWS's refusal, or None)."""
    if service == "s3":
        refused = expected_owner_denial(method, path, headers)
        if refused is not None:
            return None, refused
        decided = s3_check(caller, method, path, headers, region)
        if decided is not None and not decided.allowed:
            return None, denial(service, decided.message, headers)
        return None, None
    target = None
    if service == "ecr":
        target = ecr_target(operation, body, region)
    elif service == "sns":
        target = sns_target(operation, body, region)
    elif service == "sqs":
        target = sqs_target(operation, body, headers, region)
    elif service == "lambda":
        target = lambda_target(operation, path, region)
    elif service == "kms":
        target = kms_target(operation, body, region)
    elif service == "sts":
        target = sts_target(operation, body)
    if target is None:
        return None, None
    owner, action, resource, policy, kind = target
    if owner == caller.account:
        return None, None
    decided = decide(caller, owner, action, resource, policy, kind=kind)
    if not decided.allowed:
        return None, denial(service, decided.message, headers)
    # STS answers in the caller's account (moto files the session under the role's).
    return (None if service == "sts" else owner), None


# ------------------------------------------------------------------ moto, made to apply policies

def install() -> None:
    """Patches moto: policies its CloudFormation skips, and ECR replication."""
    stack_policies()
    ecr_replication()


def stack_policies() -> None:
    from moto.core.common_models import CloudFormationModel
    from moto.ecr.models import Repository, ecr_backends
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    def text(document) -> str:
        return document if isinstance(document, str) else json.dumps(document)

    def model(module: str, type_name: str, apply, remove):
        """A CloudFormation resource whose whole effect is one policy call."""

        class Applied(CloudFormationModel):
            __module__ = module  # moto's model metaclass keys models by service

            def __init__(self, physical_id: str, properties: dict):
                self.physical_id, self.properties = physical_id, properties

            @staticmethod
            def cloudformation_type() -> str:
                return type_name

            @staticmethod
            def cloudformation_name_type() -> str:
                return ""

            @property
            def physical_resource_id(self) -> str:
                return self.physical_id

            @classmethod
            def has_cfn_attr(cls, attr: str) -> bool:
                return attr == "RegistryId"

            def get_cfn_attribute(self, attribute_name: str):
                return self.physical_id

            @classmethod
            def create_from_cloudformation_json(cls, resource_name, cloudformation_json,
                                                account_id, region_name, **kwargs):
                properties = cloudformation_json["Properties"]
                return cls(apply(properties, account_id, region_name), properties)

            @classmethod
            def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                                cloudformation_json, account_id, region_name):
                properties = cloudformation_json["Properties"]
                return cls(apply(properties, account_id, region_name), properties)

            @classmethod
            def delete_from_cloudformation_json(cls, resource_name, cloudformation_json,
                                                account_id, region_name):
                remove(cloudformation_json.get("Properties", {}), account_id, region_name)

            def is_created(self) -> bool:
                return True

        # __subclasses__ (how moto's CloudFormation finds models) holds weak references:
        # keep each class alive.
        STACK_MODELS.append(Applied)
        return Applied

    def bucket_policy(properties, account_id, region_name):
        name = properties["Bucket"]
        backend = s3_backends[account_id][get_partition(region_name)]
        backend.put_bucket_policy(name, text(properties["PolicyDocument"]).encode())
        return name

    def drop_bucket_policy(properties, account_id, region_name):
        try:
            s3_backends[account_id][get_partition(region_name)].delete_bucket_policy(properties.get("Bucket"))
        except Exception:  # noqa: BLE001 - the bucket went first
            pass

    def registry_policy(properties, account_id, region_name):
        ecr_backends[account_id][region_name].registry_policy = text(properties["PolicyText"])
        return account_id

    def drop_registry_policy(properties, account_id, region_name):
        ecr_backends[account_id][region_name].registry_policy = None

    def replication(properties, account_id, region_name):
        configuration = properties["ReplicationConfiguration"]
        rules = [{"destinations": [{"region": d["Region"], "registryId": d["RegistryId"]}
                                   for d in rule.get("Destinations", [])],
                  "repositoryFilters": [{"filter": f["Filter"], "filterType": f.get("FilterType", "PREFIX_MATCH")}
                                        for f in rule.get("RepositoryFilters", [])]}
                 for rule in configuration.get("Rules", [])]
        ecr_backends[account_id][region_name].replication_config = {"rules": rules}
        return account_id

    def drop_replication(properties, account_id, region_name):
        ecr_backends[account_id][region_name].replication_config = {"rules": []}

    model("moto.s3.models", "AWS::S3::BucketPolicy", bucket_policy, drop_bucket_policy)
    # moto's own bucket-policy check ignores conditions: a DenyInsecureTransport statement
    # (aws:SecureTransport "false") would refuse every request, which AWS never does over
    # HTTPS. The proxy evaluates bucket policies (with their conditions) instead.
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket
    FakeBucket.get_permission = lambda self, action, resource: PermissionResult.NEUTRAL
    model("moto.ecr.models", "AWS::ECR::RegistryPolicy", registry_policy, drop_registry_policy)
    model("moto.ecr.models", "AWS::ECR::ReplicationConfiguration", replication, drop_replication)

    # A repository's RepositoryPolicyText (moto's CloudFormation drops it).
    create, update = Repository.create_from_cloudformation_json, Repository.update_from_cloudformation_json

    def with_policy(repository, properties):
        policy = properties.get("RepositoryPolicyText")
        repository.policy = text(policy) if policy else None
        return repository

    def create_with_policy(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        made = create.__func__(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        return with_policy(made, cloudformation_json["Properties"])

    def update_with_policy(cls, original_resource, new_resource_name, cloudformation_json,
                           account_id, region_name):
        made = update.__func__(cls, original_resource, new_resource_name, cloudformation_json,
                               account_id, region_name)
        return with_policy(made, cloudformation_json["Properties"])

    Repository.create_from_cloudformation_json = classmethod(create_with_policy)
    Repository.update_from_cloudformation_json = classmethod(update_with_policy)

    # A key's KeyPolicy is updated in place (AWS: no interruption); moto had no update.
    from moto.kms.models import Key

    def update_key(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                   region_name):
        properties = cloudformation_json["Properties"]
        original_resource.policy = properties.get("KeyPolicy") or original_resource.policy
        original_resource.description = properties.get("Description", original_resource.description)
        return original_resource

    Key.update_from_cloudformation_json = classmethod(update_key)


def ecr_replication() -> None:
    from moto.ecr.models import ECRBackend, ecr_backends

    put_image = ECRBackend.put_image

    def replicate(self, repository_name, image_manifest, image_tag, image_manifest_mediatype=None,
                  digest=None):
        image = put_image(self, repository_name, image_manifest, image_tag,
                          image_manifest_mediatype, digest)
        for account, region in replication_destinations(self.replication_config, repository_name):
            if account == self.account_id and region == self.region_name:
                continue
            REPLICATIONS.append(replicate_one(self.account_id, account, region, repository_name,
                                              image_manifest, image_tag, image_manifest_mediatype,
                                              image.get_image_digest()))
        return image

    def replicate_one(source, account, region, repository, manifest, tag, media_type, image_digest):
        destination = ecr_backends[account][region]
        arn = f"arn:aws:ecr:{region}:{account}:repository/{repository}"
        source_root = Caller.root(source)
        outcome = {"source": source, "destination": account, "region": region,
                   "repository": repository, "digest": image_digest}
        allowed = account == source or decide(
            source_root, account, "ecr:ReplicateImage", arn, destination.registry_policy,
            kind="registry policy").allowed
        if not allowed:
            return {**outcome, "outcome": "failed: the destination's registry policy does not allow ecr:ReplicateImage"}
        if repository not in destination.repositories:
            may_create = account == source or decide(
                source_root, account, "ecr:CreateRepository", arn, destination.registry_policy,
                kind="registry policy").allowed
            if not may_create:
                return {**outcome, "outcome": "failed: no such repository, and the registry policy does not allow ecr:CreateRepository"}
            destination.create_repository(repository, None, {"encryptionType": "AES256"},
                                          {"scanOnPush": False}, "MUTABLE", [])
        try:
            put_image(destination, repository, manifest, tag, media_type, image_digest)
        except Exception as e:  # noqa: BLE001 - e.g. an immutable tag already there
            return {**outcome, "outcome": f"failed: {e}"}
        return {**outcome, "outcome": "replicated"}

    ECRBackend.put_image = replicate
