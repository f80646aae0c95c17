#!/usr/bin/env python3
"""Benchmark: `audit drift` of a large synthetic environment against the local AWS harness.

The environment: 50 stacks (an SNS topic each), one stack with an ECS cluster and 30 Fargate
services, 300 alarms. It is deployed (the 30 services rolled out to one image, so the
deployment record names them), then audited twice. Prints the wall time and the requests
per operation: the audit must take a few round trips per kind of resource (DescribeServices
ten at a time, DescribeAlarms a hundred at a time), not one per resource. Figures only;
nothing asserts.

usage: python3 bench/audit.py [--binary PATH]
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
ACCOUNT = "ACCT300000000001BENCH"
ACCOUNT_ID = ACCOUNT[4:16]
STACKS, SERVICES, ALARMS = 50, 30, 300

TOPIC = """AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: "{{ stack.stack_name }}"
"""

ALERTS = """AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: "{{ env.prefix }}-alerts-ops"
      Subscription:
        - { Protocol: email, Endpoint: "ops@example.com" }
"""

SERVICES_TEMPLATE = """AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Cluster:
    Type: AWS::ECS::Cluster
    Properties:
      ClusterName: "{{ env.prefix }}"
{%- for name, svc in services %}
{%- set id = name | logical_id %}
  {{ id }}Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: "{{ env.prefix }}-{{ name }}"
      RequiresCompatibilities: [FARGATE]
      NetworkMode: awsvpc
      Cpu: "{{ svc.ecs.cpu }}"
      Memory: "{{ svc.ecs.memory }}"
      ContainerDefinitions:
        - Name: {{ name }}
          Image: "{{ env.account_id }}.dkr.ecr.{{ env.region }}.amazonaws.com/{{ svc.ecs.repository }}:bootstrap"
          Essential: true
  {{ id }}Service:
    Type: AWS::ECS::Service
    Properties:
      ServiceName: "{{ name }}"
      Cluster: { Ref: Cluster }
      LaunchType: FARGATE
      TaskDefinition: { Ref: {{ id }}Task }
      DesiredCount: {{ svc.ecs.desired_count }}
{%- endfor %}
"""

ALARMS_TEMPLATE = """{%- for i in range(end=300) %}
- name: "{{ env.prefix }}-a{{ i }}"
  settings: bench
  description: "synthetic alarm {{ i }}"
  metric:
    namespace: Bench
    name: "M{{ i }}"
    stat: Sum
  comparison: GreaterThanThreshold
  treat_missing_data: notBreaching
{%- endfor %}
"""


def project() -> str:
    root = tempfile.mkdtemp(prefix="facturactl-audit-bench-")
    for d in ("templates/stacks", "templates/alarms", "environments"):
        os.makedirs(os.path.join(root, d))
    toml = ['[project]\nname = "audit"\n',
            '[stacks.alerts]\ntemplate = "alerts.yaml.tera"\n',
            '[stacks.svc]\ntemplate = "services.yaml.tera"\n']
    toml += [f'[stacks.s{i}]\ntemplate = "topic.yaml.tera"\n' for i in range(STACKS)]
    for i in range(SERVICES):
        toml.append(f'[services.app{i}]\nstack = "svc"\n[services.app{i}.ecs]\nrepository = "bench/app"\n'
                    'cpu = 256\nmemory = 512\ndesired_count = 1\n')
    toml.append('[alarms.bench]\nthreshold = 1\nunit = "count"\nchannels = ["ops"]\nperiod_seconds = 60\n'
                'evaluation_periods = 1\n')
    toml.append('[channels.email.ops]\naddresses = ["ops@example.com"]\n')
    files = {
        "deploy.toml": "\n".join(toml),
        "environments/local.yaml": f'environment:\n  tier: local\n  account_id: "{ACCOUNT_ID}"\n'
                                   '  region: eu-west-1\n  retry:\n    max_attempts: 3\n',
        "templates/stacks/topic.yaml.tera": TOPIC,
        "templates/stacks/alerts.yaml.tera": ALERTS,
        "templates/stacks/services.yaml.tera": SERVICES_TEMPLATE,
        "templates/alarms/bench.yaml.tera": ALARMS_TEMPLATE,
    }
    for path, text in files.items():
        with open(os.path.join(root, path), "w") as f:
            f.write(text)
    return root


def control(endpoint, method, what, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{endpoint}/__harness/{what}?key={ACCOUNT}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"{}")


def run(binary, cwd, endpoint, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS", "AWS_ENDPOINT_URL")}
    env.update(AWS_ACCESS_KEY_ID=ACCOUNT, AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true",
               AWS_REGION="eu-west-1")
    start = time.perf_counter()
    result = subprocess.run([binary, *args, "--env", "local", "--endpoint-url", endpoint, "--output", "json"],
                            cwd=cwd, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "facturactl"))
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    python = subprocess.run([os.path.join(ROOT, "scripts", "python-env")], capture_output=True, text=True,
                            check=True).stdout.strip() + "/python"
    harness = subprocess.Popen([python, os.path.join(ROOT, "scripts", "local_aws.py"), "serve", "--port", "0",
                                "--exit-on-stdin-eof"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    endpoint = harness.stdout.readline().split(" ", 1)[1].strip()
    root = project()
    try:
        import boto3
        ecr = boto3.client("ecr", endpoint_url=endpoint, region_name="eu-west-1",
                           aws_access_key_id=ACCOUNT, aws_secret_access_key="bench")
        ecr.create_repository(repositoryName="bench/app")
        manifest = json.dumps({"schemaVersion": 2,
                               "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                               "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                          "digest": "sha256:" + "1" * 64, "size": 1},
                               "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                           "digest": "sha256:" + "2" * 64, "size": 1}]})
        ecr.put_image(repositoryName="bench/app", imageManifest=manifest, imageTag="v1")
        images = [a for i in range(SERVICES) for a in ("--image", f"app{i}=v1")]
        elapsed, result = run(args.binary, root, endpoint, "deploy", *images)
        if result.returncode != 0:
            sys.exit(f"deploy failed ({result.returncode}):\n{result.stderr[-3000:]}")
        print(f"synthetic environment: {STACKS + 2} stacks, {SERVICES} ECS services, {ALARMS} alarms "
              f"(deployed in {elapsed:.1f} s)")
        for attempt in (1, 2):
            control(endpoint, "DELETE", "requests")
            elapsed, result = run(args.binary, root, endpoint, "audit", "drift")
            counts = control(endpoint, "GET", "requests")
            if result.returncode not in (0, 2):
                sys.exit(f"audit failed ({result.returncode}):\n{result.stderr[-3000:]}")
            report = json.loads(result.stdout or "{}")
            by_op = counts.get("by_operation", {})
            top = ", ".join(f"{op} {n}" for op, n in sorted(by_op.items(), key=lambda kv: -kv[1]))
            print(f"audit drift #{attempt}: {elapsed:.2f} s, exit {result.returncode}, "
                  f"{len(report.get('findings', []))} findings, {counts['total']} requests: {top}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
        harness.stdin.close()
        harness.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
