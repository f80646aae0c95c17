#!/usr/bin/env python3
"""Soak: deploy / roll out / roll back cycles against the local harness with faults on.

Each cycle, in one emulator account with throttling, 5xx answers, connection resets and
added latency switched on for facturactl's calls (and off for this script's own setup and
checks):
  1. a new OCR image is pushed and a new validator package built;
  2. `facturactl deploy --image ocr=... --package validator=...`;
  3. `facturactl rollback` (to the previous release).
After each command the real state is read back: a deploy's success must have put exactly
the image and code it was given in place, a rollback's exactly what its release record
says (else it is a WRONG SUCCESS, the one thing that must never happen); a failure must be
reported (non-zero exit and an error or failed entry). Prints per cycle: exits, wall time,
peak RSS of each facturactl process, retries and time spent retrying (from the report),
faults injected; then totals, and the RSS trend (first 10 vs last 10 cycles).

usage: $(scripts/python-env)/python bench/soak.py [--cycles 50] [--binary PATH] [--seed 7]
       [--throttle 0.08] [--server-error 0.04] [--reset 0.02] [--attempts 6]
(boto3, for reading the state back, comes with moto in .venv)
exit 1 if any wrong success was seen; figures otherwise, no timing assertion.
"""
import argparse
import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploy import ROOT, account, account_id, control, project_for, start_harness  # noqa: E402

FAULTS = {"latency_ms": 20, "jitter_ms": 20}


def boto(service, endpoint, key):
    import boto3
    return boto3.client(service, endpoint_url=endpoint, region_name="eu-west-1",
                        aws_access_key_id=key, aws_secret_access_key="bench")


def run(binary, project, endpoint, key, *args):
    """Runs facturactl; returns exit code, JSON report (or None), stderr, peak RSS in MiB."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS", "AWS_ENDPOINT_URL")}
    env.update(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true")
    out_path = os.path.join(project, ".soak-out")
    err_path = os.path.join(project, ".soak-err")
    started = time.perf_counter()
    with open(out_path, "w") as out, open(err_path, "w") as err:
        process = subprocess.Popen([binary, *args, "--env", "local", "--endpoint-url", endpoint, "--output", "json"],
                                   cwd=project, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    run.seconds = time.perf_counter() - started
    with open(out_path) as f:
        text = f.read()
    with open(err_path) as f:
        stderr = f.read()
    try:
        report = json.loads(text)
    except ValueError:
        report = None
    return code, report, stderr, usage.ru_maxrss / 1024


def push_image(ecr, label):
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
                   "digest": "sha256:" + hashlib.sha256(label.encode()).hexdigest()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1,
                    "digest": "sha256:" + hashlib.sha256((label * 2).encode()).hexdigest()}],
    }
    put = ecr.put_image(repositoryName="facturascan/ocr", imageManifest=json.dumps(manifest), imageTag=label)
    return put["image"]["imageId"]["imageDigest"]


def package(project, label):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        info = zipfile.ZipInfo("validator.py", date_time=(2026, 1, 1, 0, 0, 0))
        z.writestr(info, f"def handler(event, context):\n    return {label!r}\n")
    data = buffer.getvalue()
    path = os.path.join(project, f"validator-{label}.zip")
    with open(path, "wb") as f:
        f.write(data)
    return path, base64.b64encode(hashlib.sha256(data).digest()).decode()


def live(ecs, lam):
    """What runs: the OCR service's image and the validator alias's code hash."""
    service = ecs.describe_services(cluster="facturascan-local", services=["ocr"])["services"]
    image = None
    if service:
        task = ecs.describe_task_definition(taskDefinition=service[0]["taskDefinition"])["taskDefinition"]
        image = task["containerDefinitions"][0]["image"]
    try:
        alias = lam.get_alias(FunctionName="facturascan-local-validator", Name="live")
        version = lam.get_function(FunctionName="facturascan-local-validator", Qualifier=alias["FunctionVersion"])
        code = version["Configuration"]["CodeSha256"]
    except lam.exceptions.ResourceNotFoundException:
        code = None
    return image, code


def recorded(binary, project, endpoint, key):
    """What the current release record says runs: (image, code hash)."""
    _, status, _, _ = run(binary, project, endpoint, key, "status")
    services = ((status or {}).get("current") or {}).get("services", {})
    return services.get("ocr", {}).get("image"), services.get("validator", {}).get("code_sha256")


def judge(code, report, stderr, state, wanted):
    """ok | failed (reported) | WRONG (a success whose state is not the declared one) |
    UNREPORTED (a failure nobody said)."""
    if code == 0:
        return "ok" if state == wanted else "WRONG"
    said = bool(stderr.strip()) or (report is not None and ("error" in report or "stacks" in report))
    return "failed" if said else "UNREPORTED"


def faults_total(counts):
    def total(v):
        if isinstance(v, dict):
            return sum(total(x) for x in v.values())
        return v if isinstance(v, int) else 0
    return total(counts.get("faults", {}))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "facturactl"))
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--throttle", type=float, default=0.08)
    parser.add_argument("--server-error", type=float, default=0.04)
    parser.add_argument("--reset", type=float, default=0.02)
    parser.add_argument("--attempts", type=int, default=6, help="the SDK's max attempts (adaptive mode)")
    args = parser.parse_args()
    FAULTS.update(throttle=args.throttle, server_error=args.server_error, reset=args.reset)
    args.binary = os.path.abspath(args.binary)
    if not os.path.exists(args.binary):
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    harness, endpoint = start_harness()
    verdicts = {}
    try:
        key = account()
        project = project_for(key)
        local = os.path.join(project, "environments", "local.yaml")
        with open(local) as f:
            text = f.read()
        # Bounded retries, as in staging; the validator switches all at once.
        text = text.replace("  retry:\n    max_attempts: 8", f"  retry:\n    max_attempts: {args.attempts}")
        text = text.replace("services:\n", "services:\n  validator:\n    lambda:\n      rollout: { strategy: all-at-once }\n", 1)
        # A run whose release of the lock was lost to a fault leaves it for its TTL: short
        # here, and the next run waits it out instead of being refused.
        text += "\nrelease:\n  lock_ttl_seconds: 15\n  lock_wait_seconds: 40\n"
        with open(local, "w") as f:
            f.write(text)
        ecr, ecs, lam = (boto(s, endpoint, key) for s in ("ecr", "ecs", "lambda"))
        ecr.create_repository(repositoryName="facturascan/ocr")
        digest = push_image(ecr, "base")
        zip_path, code_hash = package(project, "base")
        code, report, stderr, _ = run(args.binary, project, endpoint, key, "deploy",
                                      "--image", "ocr=base", "--package", f"validator={zip_path}")
        if code != 0:
            sys.exit(f"the first deploy failed:\n{stderr[-3000:]}")
        first = (f"{account_id(key)}.dkr.ecr.eu-west-1.amazonaws.com/facturascan/ocr@{digest}", code_hash)
        if live(ecs, lam) != first or recorded(args.binary, project, endpoint, key) != first:
            sys.exit(f"after the first deploy: live {live(ecs, lam)}, recorded "
                     f"{recorded(args.binary, project, endpoint, key)}, wanted {first}")

        print(f"{'cycle':>5} {'deploy':>8} {'rollback':>9} {'wall s':>11} {'rss MiB':>15} {'retries':>8} "
          f"{'retry s':>8} {'faults':>7}")
        rss_by_cycle = []
        totals = {"retries": 0, "retry_ms": 0, "faults": 0}
        for cycle in range(1, args.cycles + 1):
            label = f"c{cycle}"
            digest = push_image(ecr, label)
            zip_path, code_hash = package(project, label)
            wanted = (f"{account_id(key)}.dkr.ecr.eu-west-1.amazonaws.com/facturascan/ocr@{digest}", code_hash)
            control(endpoint, "DELETE", "requests", key)
            control(endpoint, "PUT", "faults", key, dict(FAULTS, key=key, seed=args.seed * 1000 + cycle))
            d_code, d_report, d_err, d_rss = run(args.binary, project, endpoint, key, "deploy",
                                                 "--image", f"ocr={label}", "--package", f"validator={zip_path}")
            d_wall = run.seconds
            control(endpoint, "DELETE", "faults", key)
            state = live(ecs, lam)
            deployed = judge(d_code, d_report, d_err, state, wanted)
            control(endpoint, "PUT", "faults", key, dict(FAULTS, key=key, seed=args.seed * 1000 + cycle + 500))
            r_code, r_report, r_err, r_rss = run(args.binary, project, endpoint, key, "rollback", "--yes")
            r_wall = run.seconds
            control(endpoint, "DELETE", "faults", key)
            counts = control(endpoint, "GET", "requests", key)
            state = live(ecs, lam)
            # A rollback declares the release it went back to: what runs must be exactly
            # what the current record (the rollback's own) says.
            rolled = judge(r_code, r_report, r_err, state, recorded(args.binary, project, endpoint, key))
            if rolled == "failed" and r_code == 3:
                rolled = "refused"
            retries = sum((r or {}).get("retries", {}).get("retries", 0) for r in (d_report, r_report))
            retry_ms = sum((r or {}).get("retries", {}).get("retry_ms", 0) for r in (d_report, r_report))
            faults = faults_total(counts)
            totals["retries"] += retries
            totals["retry_ms"] += retry_ms
            totals["faults"] += faults
            rss_by_cycle.append(max(d_rss, r_rss))
            for v in (deployed, rolled):
                verdicts[v] = verdicts.get(v, 0) + 1
            print(f"{cycle:>5} {deployed:>8} {rolled:>9} {d_wall:>5.1f}/{r_wall:<5.1f} {d_rss:>7.1f}/{r_rss:<7.1f} {retries:>8} "
                  f"{retry_ms / 1000:>8.2f} {faults:>7}", flush=True)
            if "WRONG" in (deployed, rolled) or "UNREPORTED" in (deployed, rolled):
                print(f"  deploy exit {d_code}: {d_err[-1500:]}\n  rollback exit {r_code}: {r_err[-1500:]}")
        first, last = rss_by_cycle[:10], rss_by_cycle[-10:]
        print(f"\ncycles: {args.cycles}; outcomes: {verdicts}")
        print(f"faults injected: {totals['faults']}; SDK retries reported: {totals['retries']}; "
              f"time spent retrying (summed over calls, which overlap): {totals['retry_ms'] / 1000:.1f} s")
        print(f"peak RSS: first 10 cycles mean {sum(first) / len(first):.1f} MiB, "
              f"last 10 mean {sum(last) / len(last):.1f} MiB, max {max(rss_by_cycle):.1f} MiB")
    finally:
        harness.stdin.close()
        harness.wait(timeout=30)
    bad = verdicts.get("WRONG", 0) + verdicts.get("UNREPORTED", 0)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
