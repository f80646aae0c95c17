#!/usr/bin/env python3
"""An MLflow tracking server for the tests: a sqlite backend in a temporary folder,
artifacts in S3 (the emulator's, reached through MLFLOW_S3_ENDPOINT_URL when the server
itself touches them; the tests write them there directly). Prints `endpoint URL` once the
server answers /health, and stops it (its whole process group) when stdin closes, so no
server outlives the test process that started it.

  mlflow_server.py [--artifact-root s3://bucket/prefix]
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact-root", default="s3://mlflow-artifacts/")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="facturactl-mlflow-")
    port = free_port()
    mlflow = os.path.join(os.path.dirname(sys.executable), "mlflow")
    log = open(os.path.join(folder, "server.log"), "w")
    server = subprocess.Popen(
        [mlflow, "server", "--backend-store-uri", f"sqlite:///{folder}/mlflow.db",
         "--default-artifact-root", args.artifact_root, "--no-serve-artifacts",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            print(f"mlflow server exited ({server.returncode}); see {folder}/server.log",
                  file=sys.stderr)
            return 1
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        print(f"mlflow server did not answer in 180 s; see {folder}/server.log", file=sys.stderr)
        os.killpg(server.pid, signal.SIGKILL)
        return 1
    print(f"endpoint {url}", flush=True)
    sys.stdin.read()
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
