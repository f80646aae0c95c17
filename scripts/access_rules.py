"""Cross-account access as AWS decides it, for the local AWS harness (scripts/local_aws.py).

Pure functions over policy documents: no moto, no I/O, so the rules are unit-tested on
their own (scripts/test_access_rules.py, run by `cargo test` through tests/all/harness.rs)
with the examples of AWS's documentation.

The rules (IAM User Guide, "Cross-account policy evaluation logic"):
  * a request whose caller is in the resource's own account is allowed, as the harness
    always did (same-account evaluation is not emulated: moto's callers are account roots);
  * across accounts, BOTH must allow: the resource's policy (bucket, key, repository,
    registry, topic, queue, function, role trust policy) must name the caller (its account
    id or root ARN, which delegates to that account's IAM; its role ARN; its assumed-role
    session ARN; or `*` narrowed by conditions such as aws:PrincipalAccount), and the
    caller's identity policy must allow the action on the resource (an account root is
    allowed everything; an assumed role has its inline and managed policies);
  * an explicit Deny in either wins over any Allow;
  * a condition operator the harness does not know makes an Allow not apply and a Deny
    apply (never more lenient than AWS).
"""
from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field

ALLOW, DENY, NOT_ALLOWED = "allow", "deny", "not allowed"


@dataclass(frozen=True)
class Caller:
    """Who signed the request."""
    account: str
    # The ARN AWS reports for the caller: `arn:aws:iam::<acct>:root` for an account's keys,
    # `arn:aws:sts::<acct>:assumed-role/<role>/<session>` for a role session.
    arn: str
    # For a role session: the role's ARN (what aws:PrincipalArn is).
    role_arn: str | None = None
    # For a role session: the role's identity policies (documents); None for a root caller.
    identity_policies: tuple = field(default=None)  # type: ignore[assignment]

    @staticmethod
    def root(account: str) -> "Caller":
        return Caller(account, f"arn:aws:iam::{account}:root")

    @property
    def principal_arn(self) -> str:
        return self.role_arn or self.arn


@dataclass(frozen=True)
class Decision:
    allowed: bool
    message: str = ""


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _document(policy) -> dict:
    if policy is None or policy == "":
        return {}
    if isinstance(policy, (bytes, bytearray)):
        policy = policy.decode()
    if isinstance(policy, str):
        return json.loads(policy)
    return policy


def _like(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    """IAM's `*` and `?` wildcards (no character classes, unlike fnmatch's `[`)."""
    escaped = pattern.replace("[", "[[]")
    if not case_sensitive:
        return fnmatch.fnmatchcase(value.lower(), escaped.lower())
    return fnmatch.fnmatchcase(value, escaped)


def action_matches(patterns, action: str) -> bool:
    return any(_like(p, action, case_sensitive=False) for p in _as_list(patterns))


def resource_matches(patterns, resource: str) -> bool:
    return any(_like(p, resource) for p in _as_list(patterns))


def principal_matches(principal, caller: Caller) -> bool:
    """Whether a statement's Principal names the caller."""
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for value in _as_list(principal.get("AWS")):
        value = str(value)
        if value == "*":
            return True
        if value in (caller.account, f"arn:aws:iam::{caller.account}:root"):
            return True  # the account: delegated to its IAM
        if value in (caller.arn, caller.role_arn):
            return True
    return False


# ------------------------------------------------------------------ conditions

def _string_op(op: str, values: list[str], wanted: list[str]) -> bool:
    if op in ("StringEquals", "ArnEquals"):
        return any(v == w for v in values for w in wanted)
    if op == "StringEqualsIgnoreCase":
        return any(v.lower() == w.lower() for v in values for w in wanted)
    if op in ("StringLike", "ArnLike"):
        return any(_like(w, v) for v in values for w in wanted)
    raise KeyError(op)


NEGATED = {"StringNotEquals": "StringEquals", "StringNotLike": "StringLike",
           "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike",
           "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase"}


def condition_holds(operator: str, key: str, wanted, context: dict) -> bool:
    """One condition (operator, key, values) against the request's context. Keys are
    case-insensitive, as in IAM. Raises KeyError for an operator the harness does not know."""
    found = next((v for k, v in context.items() if k.lower() == key.lower()), None)
    values = [str(v) for v in _as_list(found)]
    wanted = [str(w).lower() if isinstance(w, bool) else str(w) for w in _as_list(wanted)]
    if_exists = operator.endswith("IfExists")
    op = operator[: -len("IfExists")] if if_exists else operator
    if op == "Null":
        return (found is None) == (wanted[0].lower() == "true")
    if found is None:
        # A missing key matches no positive operator and every negated one.
        return if_exists or op in NEGATED
    if op == "Bool":
        return any(v.lower() == w.lower() for v in values for w in wanted)
    if op in NEGATED:
        return not _string_op(NEGATED[op], values, wanted)
    return _string_op(op, values, wanted)


def conditions_hold(conditions: dict | None, context: dict) -> bool:
    for operator, pairs in (conditions or {}).items():
        for key, wanted in pairs.items():
            if not condition_holds(operator, key, wanted, context):
                return False
    return True


# ------------------------------------------------------------------ evaluation

def evaluate(policy, caller: Caller | None, action: str, resource: str, context: dict) -> str:
    """ALLOW, DENY or NOT_ALLOWED: one policy's verdict. `caller` None: an identity policy
    (no Principal element); else a resource policy, whose statements must name the caller."""
    verdict = NOT_ALLOWED
    for statement in _as_list(_document(policy).get("Statement")):
        if caller is not None and not principal_matches(statement.get("Principal"), caller):
            continue
        if "Action" in statement and not action_matches(statement["Action"], action):
            continue
        if "NotAction" in statement and action_matches(statement["NotAction"], action):
            continue
        if "Resource" in statement and not resource_matches(statement["Resource"], resource):
            continue
        if "NotResource" in statement and resource_matches(statement["NotResource"], resource):
            continue
        deny = statement.get("Effect") == "Deny"
        try:
            holds = conditions_hold(statement.get("Condition"), context)
        except KeyError:
            holds = deny  # unknown operator: never more lenient than AWS
        if not holds:
            continue
        if deny:
            return DENY
        verdict = ALLOW
    return verdict


def request_context(caller: Caller, extra: dict | None = None) -> dict:
    """The global condition keys AWS sets for every request, plus the service's own."""
    # aws:SecureTransport is true: the SDKs speak HTTPS to AWS, and the harness's plain HTTP
    # stands for it (a TLS-only policy would otherwise refuse every emulated request).
    context = {"aws:PrincipalAccount": caller.account, "aws:PrincipalArn": caller.principal_arn,
               "aws:userid": caller.arn, "aws:SecureTransport": "true"}
    context.update(extra or {})
    return context


def decide(caller: Caller, owner: str, action: str, resource: str, resource_policy,
           context: dict | None = None, kind: str = "resource-based policy") -> Decision:
    """Whether `caller` may perform `action` on `resource`, owned by account `owner`."""
    if caller.account == owner:
        return Decision(True)
    context = request_context(caller, context)
    denied = f"User: {caller.arn} is not authorized to perform: {action} on resource: {resource}"
    on_resource = evaluate(resource_policy, caller, action, resource, context)
    if on_resource == DENY:
        return Decision(False, f"{denied} with an explicit deny in a {kind}")
    identity = ALLOW
    if caller.identity_policies is not None:
        verdicts = [evaluate(p, None, action, resource, context) for p in caller.identity_policies]
        identity = DENY if DENY in verdicts else ALLOW if ALLOW in verdicts else NOT_ALLOWED
    if identity == DENY:
        return Decision(False, f"{denied} with an explicit deny in an identity-based policy")
    if on_resource != ALLOW:
        return Decision(False, f"{denied} because no {kind} allows the {action} action")
    if identity != ALLOW:
        return Decision(False, f"{denied} because no identity-based policy allows the {action} action")
    return Decision(True)


ACCOUNT_IN_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):")


def account_of_arn(arn: str) -> str | None:
    m = ACCOUNT_IN_ARN.match(arn or "")
    return m.group(1) if m else None


# ------------------------------------------------------------------ ECR replication

def replication_destinations(configuration: dict, repository: str) -> list[tuple[str, str]]:
    """(account, region) of every destination a push to `repository` is replicated to: the
    rules whose repository filters (PREFIX_MATCH) match it, or that have none."""
    out = []
    for rule in _as_list((configuration or {}).get("rules")):
        filters = _as_list(rule.get("repositoryFilters"))
        if filters and not any(repository.startswith(f.get("filter", "")) for f in filters
                               if f.get("filterType", "PREFIX_MATCH") == "PREFIX_MATCH"):
            continue
        for destination in _as_list(rule.get("destinations")):
            out.append((str(destination.get("registryId")), destination.get("region")))
    return out
