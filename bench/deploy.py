#!/usr/bin/env python3
"""Benchmark: stack deploys against the local AWS harness (release build).

Prints, each in its own emulator account:
  1. first deploy of the local environment: wall time and requests;
  2. no-op redeploy: wall time and requests (reads, writes);
  3. eight independent stacks with 200 ms added per request, versus one stack alone;
  4. a graph shaped like the local environment's, with 200 ms per request, versus its
     longest dependency chain alone.
Targets (issue 4): (1) under 2 s; (2) zero writes, at most one read per stack plus a small
constant, under 0.1 s; (3) at most 1.1x; (4) at most 1.2x. Figures only; nothing asserts.
Since releases (issue 7) every deploy also takes the lock, reads the current record, writes
a record and releases the lock in S3, and notifies: counted in (1) and (2); (3) and (4) add
latency to CloudFormation only, to measure the scheduler.

usage: python3 bench/deploy.py [--binary PATH] [--latency-ms 200]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_accounts = iter(range(400_000_000_000, 500_000_000_000))


def account() -> str:
    return f"ACCT{next(_accounts):012d}BENCH"


def control(endpoint, method, what, key, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{endpoint}/__harness/{what}?key={key}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"{}")


def deploy(binary, project, endpoint, key, *extra):
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS", "AWS_ENDPOINT_URL")}
    env.update(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true")
    start = time.perf_counter()
    result = subprocess.run([binary, "deploy", "--env", "local", "--endpoint-url", endpoint, "--output", "json", *extra],
                            cwd=project, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"deploy failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return elapsed, json.loads(result.stdout)


def measured(binary, project, endpoint, key, *extra):
    control(endpoint, "DELETE", "requests", key)
    elapsed, report = deploy(binary, project, endpoint, key, *extra)
    counts = control(endpoint, "GET", "requests", key)
    return elapsed, report, counts


def start_harness():
    """The local AWS harness on a free port, stopped when its stdin closes; (process, endpoint)."""
    python = subprocess.run([os.path.join(ROOT, "scripts", "python-env")], capture_output=True, text=True,
                            check=True).stdout.strip() + "/python"
    harness = subprocess.Popen([python, os.path.join(ROOT, "scripts", "local_aws.py"), "serve", "--port", "0",
                                "--exit-on-stdin-eof"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return harness, harness.stdout.readline().split(" ", 1)[1].strip()


def account_id(key: str) -> str:
    return key[4:16]


def project_for(key: str) -> str:
    """A copy of this project pointed at the key's emulator account (its release bucket's
    name carries the account id, and S3 bucket names are global)."""
    project = tempfile.mkdtemp(prefix="facturactl-bench-")
    shutil.copy(os.path.join(ROOT, "deploy.toml"), project)
    for folder in ("environments", "templates"):
        shutil.copytree(os.path.join(ROOT, folder), os.path.join(project, folder))
    local = os.path.join(project, "environments", "local.yaml")
    with open(local) as f:
        text = f.read().replace('account_id: "123456789012"', f'account_id: "{account_id(key)}"')
    with open(local, "w") as f:
        f.write(text)
    return project


def synthetic_project(stacks: dict, key: str) -> str:
    """A project whose stacks hold one SNS topic each, with the given dependencies."""
    project = tempfile.mkdtemp(prefix="facturactl-bench-")
    os.makedirs(os.path.join(project, "templates", "stacks"))
    os.makedirs(os.path.join(project, "environments"))
    toml = ['[project]\nname = "bench"\n']
    for name, deps in stacks.items():
        inputs = ", ".join(f'In{d.capitalize()} = "{d}.TopicArn"' for d in deps)
        toml.append(f'[stacks.{name}]\ntemplate = "topic.yaml.tera"\ndepends_on = {json.dumps(deps)}\n'
                    f'inputs = {{ {inputs} }}\n')
    with open(os.path.join(project, "deploy.toml"), "w") as f:
        f.write("\n".join(toml))
    with open(os.path.join(project, "environments", "local.yaml"), "w") as f:
        f.write(f'environment:\n  tier: local\n  account_id: "{account_id(key)}"\n  region: eu-west-1\n'
                '  retry:\n    max_attempts: 3\n')
    template = """AWSTemplateFormatVersion: "2010-09-09"
{%- set deps = stacks[stack.name].depends_on %}
{%- if deps %}
Parameters:
{%- for d in deps %}
  In{{ d | capitalize }}:
    Type: String
{%- endfor %}
{%- endif %}
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: "{{ stack.stack_name }}"
      KmsMasterKeyId: alias/aws/sns
Outputs:
  TopicArn:
    Value: { Ref: Topic }
"""
    with open(os.path.join(project, "templates", "stacks", "topic.yaml.tera"), "w") as f:
        f.write(template)
    return project


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "facturactl"))
    parser.add_argument("--latency-ms", type=int, default=200)
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    harness, endpoint = start_harness()
    try:
        # Warm the emulator up (moto imports each service's backend on first use).
        warm = account()
        deploy(args.binary, project_for(warm), endpoint, warm)

        key = account()
        project = project_for(key)
        elapsed, report, counts = measured(args.binary, project, endpoint, key)
        n = len(report["stacks"])
        print(f"first deploy of the local environment ({n} stacks): {elapsed:.2f} s, "
              f"{counts['total']} requests ({counts['reads']} reads, {counts['writes']} writes)   target < 2 s")
        elapsed, report, counts = measured(args.binary, project, endpoint, key)
        print(f"no-op redeploy: {elapsed * 1000:.0f} ms, {counts['total']} requests ({counts['reads']} reads, "
              f"{counts['writes']} writes)   target 0 writes, <= {n} + c reads, < 100 ms")

        # Latency on CloudFormation only: the scheduler is what is measured, not the fixed
        # cost of the release store (lock, record) around it.
        latency = {"latency_ms": args.latency_ms, "services": ["cloudformation"]}
        timings, projects = {}, []
        for label, shape in (("one", {"s0": []}), ("eight", {f"s{i}": [] for i in range(8)})):
            key = account()
            projects.append(synthetic_project(shape, key))
            control(endpoint, "PUT", "faults", key, {"key": key, **latency})
            timings[label], _ = deploy(args.binary, projects[-1], endpoint, key)
        print(f"{args.latency_ms} ms per request: eight independent stacks {timings['eight']:.2f} s, one stack "
              f"{timings['one']:.2f} s: {timings['eight'] / timings['one']:.2f}x   target <= 1.1x")

        shape = {"network": [], "security": [], "storage": ["security"], "database": ["network", "security"],
                 "auth": [], "alerts": ["security"], "processing": ["network", "security", "storage"],
                 "api": ["network", "security", "processing", "auth"]}
        chain = {"security": [], "storage": ["security"], "processing": ["security", "storage"],
                 "api": ["security", "processing"]}
        for label, stacks in (("graph", shape), ("chain", chain)):
            key = account()
            projects.append(synthetic_project(stacks, key))
            control(endpoint, "PUT", "faults", key, {"key": key, **latency})
            timings[label], _ = deploy(args.binary, projects[-1], endpoint, key)
        print(f"{args.latency_ms} ms per request: the local graph (8 stacks) {timings['graph']:.2f} s, its longest "
              f"chain alone (4 stacks) {timings['chain']:.2f} s: {timings['graph'] / timings['chain']:.2f}x   "
              f"target <= 1.2x")
        for project in projects:
            shutil.rmtree(project, ignore_errors=True)
    finally:
        harness.stdin.close()
        harness.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
