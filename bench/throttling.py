#!/usr/bin/env python3
"""Benchmark: a first deploy of the local environment under throttling and 5xx (issue 16).

Every AWS call meets 20% throttling and 5% HTTP 503 (the harness injects both, each
service in its own protocol). For each environment's retry policy (the `environment.retry`
block of environments/<env>.yaml, applied to the local environment), ten first deploys,
each in a fresh emulator account with its own fault seed, report whether they converged,
and the median and worst wall time of those that did.

Target: 10 of 10 converge under every policy, median no more than Sceptre's 21 s for 9
stacks under the same faults (shared/notes/benchmarks.md). Figures only; nothing asserts.

usage: python3 bench/throttling.py [--binary PATH] [--seeds 10] [--policies local,staging,production]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploy import ROOT, account, control, project_for, start_harness  # noqa: E402

FAULTS = {"throttle": 0.2, "server_error": 0.05}


def retry_block(env: str) -> str:
    """The `  retry:` block of an environment file, as written there."""
    with open(os.path.join(ROOT, "environments", f"{env}.yaml")) as f:
        text = f.read()
    found = re.search(r"^  retry:\n(?:    .*\n)+", text, re.M)
    if not found:
        sys.exit(f"environments/{env}.yaml has no retry block")
    return found.group(0)


def with_policy(project: str, block: str) -> None:
    path = os.path.join(project, "environments", "local.yaml")
    with open(path) as f:
        text = f.read()
    text = re.sub(r"^  retry:\n(?:    .*\n)+", block, text, count=1, flags=re.M)
    with open(path, "w") as f:
        f.write(text)


def first_deploy(binary: str, endpoint: str, block: str, seed: int) -> tuple[bool, float, str]:
    key = account()
    project = project_for(key)
    with_policy(project, block)
    control(endpoint, "PUT", "faults", key, {**FAULTS, "seed": seed})
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS", "AWS_ENDPOINT_URL")}
    env.update(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true")
    start = time.perf_counter()
    result = subprocess.run([binary, "deploy", "--env", "local", "--endpoint-url", endpoint, "--output", "json"],
                            cwd=project, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    last = next((l for l in reversed(result.stderr.splitlines()) if l.startswith("error")), "")
    return result.returncode == 0, elapsed, last


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "facturactl"))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--policies", default="local,staging,production")
    args = parser.parse_args()
    args.binary = os.path.abspath(args.binary)
    if not os.path.exists(args.binary):
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    harness, endpoint = start_harness()
    print(f"first deploy of the local environment, {FAULTS['throttle']:.0%} throttling and "
          f"{FAULTS['server_error']:.0%} HTTP 503 on every call, {args.seeds} seeds per policy")
    try:
        for policy in args.policies.split(","):
            block = retry_block(policy)
            settings = " ".join(l.strip() for l in block.splitlines()[1:])
            runs = [first_deploy(args.binary, endpoint, block, seed) for seed in range(args.seeds)]
            times = [t for ok, t, _ in runs if ok]
            line = f"  {policy:<11} ({settings}): converged {len(times)}/{len(runs)}"
            if times:
                line += f", median {statistics.median(times):.1f} s, worst {max(times):.1f} s"
            print(line + "   target 10/10, median <= 21 s (Sceptre)")
            for ok, _, error in runs:
                if not ok:
                    print(f"    failed: {error[:160]}")
    finally:
        harness.stdin.close()
        harness.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
