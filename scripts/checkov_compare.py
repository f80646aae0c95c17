"""Compares checkov's failed checks with the accepted ones (see scripts/checkov)."""
from __future__ import annotations

import json
import sys

import yaml


def findings(report_path: str) -> set[tuple[str, str]]:
    """(check id, `env/stack/Resource`) of every failed check."""
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    reports = report if isinstance(report, list) else [report]
    found = set()
    for r in reports:
        for check in r.get("results", {}).get("failed_checks", []):
            path = check["file_path"].lstrip("/").removesuffix(".yaml")
            resource = check["resource"].rsplit(".", 1)[-1]
            found.add((check["check_id"], f"{path}/{resource}"))
    return found


def accepted(path: str) -> dict[tuple[str, str], str]:
    with open(path, encoding="utf-8") as f:
        document = yaml.safe_load(f)
    out = {}
    for entry in document["accepted"]:
        reason = entry["reason"].strip()
        if not reason:
            sys.exit(f"{path}: {entry['check']} has no reason")
        for resource in entry["resources"]:
            out[(entry["check"], resource)] = reason
    return out


def main() -> int:
    found = findings(sys.argv[1])
    allowed = accepted(sys.argv[2])
    new = sorted(found - allowed.keys())
    gone = sorted(allowed.keys() - found)
    for check, resource in new:
        print(f"checkov: {check} on {resource} is not accepted: fix it, or accept it with its reason in {sys.argv[2]}")
    for check, resource in gone:
        print(f"checkov: {check} on {resource} is accepted in {sys.argv[2]} but no longer found: remove it")
    print(f"checkov: {len(found)} findings, {len(found & allowed.keys())} accepted, {len(new)} new, {len(gone)} stale")
    return 1 if new or gone else 0


if __name__ == "__main__":
    sys.exit(main())
