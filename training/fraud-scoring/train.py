#!/usr/bin/env python3
"""The reference training job: what a model's training image does, as facturactl expects.

The contract (README, "Retraining"), from the container's environment:
  TRAINING_DATA_URI  s3://bucket/prefix/ of the batch data: JSON Lines objects, each an
                     input record with its validated outcome in `fraud` (true or false);
  OUTPUT_URI         s3://models-bucket/training/<model>/: the run writes under
                     OUTPUT_URI + RUN_ID + "/" (RUN_ID set by `facturactl retrain`; a
                     scheduled or drift-started run uses its ECS task id, read from the
                     task metadata endpoint at $ECS_CONTAINER_METADATA_URI_V4);
  MODEL_NAME         the model being trained.
It writes `model` (the artifact's bytes), `reference.json` (the training inputs'
distribution, which the population-stability measure compares served inputs with: for each
field, its bins and the share of rows in each) and then `model.json`:
  {"parameters": {...}, "metrics": {...}, "input": {"field": "string|number|integer|boolean"},
   "lineage": {"data": [{"key": ..., "etag": ..., "version_id": ...}],
               "image_digest": "sha256:..."}}
(`lineage.data`: every object it read, as it read it; `image_digest`: from the task
metadata endpoint, when it has one) and exits 0; anything else (no data, a bad record) exits
non-zero with the reason on its last line of stderr, which ECS reports as the container's
reason.

This one learns the fraud rate of each supplier (a deliberately small model): the local
harness runs it for every training task, since the emulator runs no containers. A real
image replaces the learning, not the contract.
"""
from __future__ import annotations

import json
import os
import sys
import time
import urllib.parse

import boto3


def split(uri: str) -> tuple[str, str]:
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise SystemExit(f"not an s3:// URI: {uri}")
    return parsed.netloc, parsed.path.lstrip("/")


def field_type(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def task_metadata() -> tuple[dict, dict]:
    """This container's and this task's metadata, from the ECS task metadata endpoint
    (v4), which Fargate serves at $ECS_CONTAINER_METADATA_URI_V4: the container's ImageID
    is the digest of the image that runs, the task's TaskARN ends with the task id."""
    base = os.environ.get("ECS_CONTAINER_METADATA_URI_V4")
    if not base:
        return {}, {}
    import urllib.request

    def read(url: str) -> dict:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return json.load(answer)

    return read(base), read(base + "/task")


def records(s3, bucket: str, prefix: str, read: list):
    """Every row under the prefix; each object read is appended to `read` (lineage)."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for item in page.get("Contents", []):
            got = s3.get_object(Bucket=bucket, Key=item["Key"])
            read.append(
                {
                    "key": item["Key"],
                    "etag": got["ETag"].strip('"'),
                    **(
                        {"version_id": got["VersionId"]}
                        if got.get("VersionId") not in (None, "null")
                        else {}
                    ),
                }
            )
            body = got["Body"].read().decode()
            for number, line in enumerate(body.splitlines(), 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError:
                        raise SystemExit(f"{item['Key']}:{number}: not a JSON object")


def reference(rows: list) -> dict:
    """Each field's distribution in the training rows: numbers in ten equal-width bins
    (edges and shares), other values by share of each. The service computes the population
    stability index of what it serves against these bins."""
    fields: dict = {}
    for name in sorted({k for row in rows for k in row}):
        values = [row.get(name) for row in rows]
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if numbers and len(numbers) == len(values):
            low, high = min(numbers), max(numbers)
            width = (high - low) / 10 or 1.0
            counts = [0] * 10
            for v in numbers:
                counts[min(int((v - low) / width), 9)] += 1
            fields[name] = {
                "edges": [low + i * width for i in range(11)],
                "shares": [c / len(numbers) for c in counts],
            }
        else:
            shares: dict = {}
            for v in values:
                shares[str(v)] = shares.get(str(v), 0) + 1 / len(values)
            fields[name] = {"shares": shares}
    return {"rows": len(rows), "fields": fields}


def main() -> int:
    # A hung run, on the harness's request (a test of what stops one).
    hang = os.environ.get("TRAINING_JOB_HANG_SECONDS")
    if hang:
        time.sleep(float(hang))
    s3 = boto3.client("s3")
    data_bucket, data_prefix = split(os.environ["TRAINING_DATA_URI"])
    out_bucket, out_prefix = split(os.environ["OUTPUT_URI"])
    container, task = task_metadata()
    # `facturactl retrain` names its run; a scheduled or drift-started run is its task id
    # (ECS sets no variable for it: the metadata endpoint has the task's ARN).
    run = os.environ.get("RUN_ID") or task.get("TaskARN", "").rsplit("/", 1)[-1]
    if not run:
        print("no RUN_ID and no task metadata (ECS_CONTAINER_METADATA_URI_V4)", file=sys.stderr)
        return 2
    read: list = []
    rows = list(records(s3, data_bucket, data_prefix, read))
    if not rows:
        print(f"no batch data under {os.environ['TRAINING_DATA_URI']}", file=sys.stderr)
        return 2
    frauds: dict[str, list[int]] = {}
    schema: dict[str, str] = {}
    for row in rows:
        label = row.pop("fraud", None)
        if not isinstance(label, bool):
            print("a record without a boolean `fraud` outcome", file=sys.stderr)
            return 2
        for name, value in row.items():
            schema.setdefault(name, field_type(value))
        seen = frauds.setdefault(str(row.get("supplier")), [0, 0])
        seen[0] += int(label)
        seen[1] += 1
    overall = sum(f for f, _ in frauds.values()) / len(rows)
    model = {
        "overall": overall,
        "suppliers": {s: f / n for s, (f, n) in sorted(frauds.items())},
    }
    # Training accuracy of "fraud when the supplier's rate is over one half".
    correct = sum((n - f) if f / n <= 0.5 else f for f, n in frauds.values())
    metrics = {"samples": float(len(rows)), "accuracy": correct / len(rows), "fraud_rate": overall}
    key = f"{out_prefix}{run}/"
    s3.put_object(
        Bucket=out_bucket, Key=key + "model", Body=json.dumps(model, sort_keys=True).encode()
    )
    s3.put_object(
        Bucket=out_bucket,
        Key=key + "reference.json",
        Body=json.dumps(reference(rows), sort_keys=True).encode(),
    )
    lineage = {"data": read}
    if container.get("ImageID"):
        lineage["image_digest"] = container["ImageID"]
    s3.put_object(
        Bucket=out_bucket,
        Key=key + "model.json",
        Body=json.dumps(
            {
                "parameters": {
                    "algorithm": "supplier-rate",
                    "data": os.environ["TRAINING_DATA_URI"],
                },
                "metrics": metrics,
                "input": schema,
                "lineage": lineage,
            }
        ).encode(),
    )
    print(
        f"trained {os.environ.get('MODEL_NAME', 'model')} on {len(rows)} records: "
        f"s3://{out_bucket}/{key}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
