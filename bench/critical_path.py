#!/usr/bin/env python3
"""Benchmark: facturactl's own bookkeeping on the critical path (issue 32), release build.

With 200 ms added to every request (the emulator's latency fault, every service), prints
each run's wall time, its requests, and its depth: the longest chain of requests that ran
one after another, as the emulator saw them (`depth`, `sequential` in its counters).
  1. a one-stack deploy (an update; the release store exists)   target <= 1.0 s
  2. a no-op deploy of the local environment           target <= 0.6 s, <= 3 round trips
  3. a first deploy of a graph shaped like the local one (9 stacks) versus its longest
     chain alone                                        target <= 1.05x
  4. peak RSS of a full local deploy (no latency)      target <= 30 MiB
Figures only; nothing asserts (tests/all/deploy.rs guards the no-op's depth).

usage: python3 bench/critical_path.py [--binary PATH] [--latency-ms 200]
"""
import argparse
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploy import (ROOT, account, control, deploy, project_for, start_harness,  # noqa: E402
                    synthetic_project)

# The local environment's stacks and their dependencies (deploy.toml), as one SNS topic each.
LOCAL_GRAPH = {"network": [], "security": [], "registry": [], "storage": ["security"],
               "database": ["network", "security"], "auth": [], "alerts": ["security"],
               "processing": ["network", "security", "storage"],
               "api": ["network", "security", "processing", "auth"]}
LONGEST_CHAIN = {"security": [], "storage": ["security"], "processing": ["security", "storage"],
                 "api": ["security", "processing"]}


def timed(binary, project, endpoint, key, latency_ms):
    """One deploy with `latency_ms` added to every request: (seconds, requests, depth, chain)."""
    control(endpoint, "PUT", "faults", key, {"key": key, "latency_ms": latency_ms})
    control(endpoint, "DELETE", "requests", key)
    elapsed, _ = deploy(binary, project, endpoint, key)
    counts = control(endpoint, "GET", "requests", key)
    control(endpoint, "DELETE", "faults", key)
    return elapsed, counts["total"], counts["depth"], counts["sequential"]


def peak_rss_mib(binary, project, endpoint, key) -> float:
    """The deploy's peak resident set, from a wrapper whose only child it is."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS", "AWS_ENDPOINT_URL")}
    env.update(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true")
    wrapper = ("import resource, subprocess, sys; "
               "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", wrapper, binary, "deploy", "--env", "local", "--endpoint-url",
                          endpoint, "--output", "json"], cwd=project, env=env, capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip()) / 1024


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "facturactl"))
    parser.add_argument("--latency-ms", type=int, default=200)
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    latency = args.latency_ms
    harness, endpoint = start_harness()
    projects = []
    try:
        warm = account()
        projects.append(project_for(warm))
        deploy(args.binary, projects[-1], endpoint, warm)

        # One stack, its release store made by a first deploy; then a change to deploy.
        key = account()
        projects.append(synthetic_project({"s0": []}, key))
        deploy(args.binary, projects[-1], endpoint, key)
        template = os.path.join(projects[-1], "templates", "stacks", "topic.yaml.tera")
        with open(template) as f:
            text = f.read()
        with open(template, "w") as f:
            f.write(text.replace("KmsMasterKeyId: alias/aws/sns", "KmsMasterKeyId: alias/aws/sns\n      DisplayName: two"))
        elapsed, total, depth, chain = timed(args.binary, projects[-1], endpoint, key, latency)
        print(f"{latency} ms per request: one-stack deploy (an update) {elapsed:.2f} s, {total} requests, {depth} deep"
              f"   target <= 1.0 s\n  {' > '.join(chain)}")

        key = account()
        projects.append(project_for(key))
        rss = peak_rss_mib(args.binary, projects[-1], endpoint, key)
        elapsed, total, depth, chain = timed(args.binary, projects[-1], endpoint, key, latency)
        print(f"{latency} ms per request: no-op deploy of the local environment {elapsed:.2f} s, {total} requests, "
              f"{depth} deep   target <= 0.6 s, <= 3 deep\n  {' > '.join(chain)}")

        timings = {}
        for label, shape in (("graph", LOCAL_GRAPH), ("chain", LONGEST_CHAIN)):
            key = account()
            projects.append(synthetic_project(shape, key))
            timings[label] = timed(args.binary, projects[-1], endpoint, key, latency)
        (graph, _, graph_depth, _), (chain_s, _, chain_depth, _) = timings["graph"], timings["chain"]
        print(f"{latency} ms per request: first deploy of the local graph ({len(LOCAL_GRAPH)} stacks) {graph:.2f} s, "
              f"{graph_depth} deep; its longest chain alone ({len(LONGEST_CHAIN)} stacks) {chain_s:.2f} s, "
              f"{chain_depth} deep: {graph / chain_s:.2f}x   target <= 1.05x")
        print(f"peak RSS of a full local deploy (first, 9 stacks, no latency): {rss:.1f} MiB   target <= 30 MiB")
    finally:
        for project in projects:
            shutil.rmtree(project, ignore_errors=True)
        harness.stdin.close()
        harness.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
