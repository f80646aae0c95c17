#!/usr/bin/env python3
"""Benchmark: `facturactl render --env production` with a release build.

Prints wall time (min, median, p90, max over N runs) and peak resident memory. Targets from
issue 2: under 20 ms and under 30 MB. Figures only; nothing here asserts a time.

usage: python3 bench/render.py [--runs N] [--binary PATH]
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "facturactl"))
    parser.add_argument("--env", default="production")
    args = parser.parse_args()

    if not os.path.exists(args.binary):
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)

    command = [args.binary, "render", "--env", args.env, "--output", "json", "--log-format", "text"]
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS")}
    # One warm-up run so the page cache holds the binary and the templates.
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)

    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - start) * 1000)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss

    times.sort()
    p90 = times[int(len(times) * 0.9) - 1]
    print(f"render --env {args.env}: {args.runs} runs (release build, process start included)")
    print(f"  wall ms: min {times[0]:.2f}  median {statistics.median(times):.2f}  p90 {p90:.2f}  max {times[-1]:.2f}")
    print(f"  peak RSS: {peak_kib / 1024:.1f} MB")
    print("  targets: < 20 ms, < 30 MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
