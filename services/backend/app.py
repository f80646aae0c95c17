"""The backend's HTTP API (ECS Fargate, behind the load balancer): `GET /health` for the
target group's health check and `POST /invoices`, which queues an invoice for OCR.

`route` is the whole behaviour; the server around it is the standard library's. The local
harness (scripts/local_services.py) answers the entry point's requests with `route` too, so
what `facturactl verify` checks locally is this code.
"""

import hashlib
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVICE = "backend"


def route(method, path, body, enqueue=None):
    """`(status, answer)` for one request; `enqueue(invoice)` queues an accepted one."""
    path = path.split("?", 1)[0].rstrip("/") or "/"
    if (method, path) == ("GET", "/health"):
        return 200, {"status": "ok", "service": SERVICE}
    if (method, path) != ("POST", "/invoices"):
        return 404, {"message": "Not Found"}
    try:
        invoice = json.loads(body or b"{}")
    except ValueError:
        return 400, {"message": "the body is not JSON"}
    if not isinstance(invoice, dict):
        return 400, {"message": "an invoice is a JSON object"}
    invoice_id = invoice.get("invoice_id") or hashlib.sha256(body).hexdigest()[:16]
    if enqueue is not None:
        enqueue({**invoice, "invoice_id": invoice_id})
    return 202, {"invoice_id": invoice_id, "status": "queued"}


def sqs_enqueue(queue_url):
    """Sends each accepted invoice to the OCR queue (boto3 is in the image)."""
    import boto3

    sqs = boto3.client("sqs")

    def enqueue(invoice):
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(invoice))

    return enqueue


class Handler(BaseHTTPRequestHandler):
    enqueue = None

    def do_GET(self):
        self.answer(*route("GET", self.path, b""))

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.answer(*route("POST", self.path, body, type(self).enqueue))

    def answer(self, status, value):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    queue = os.environ.get("OCR_QUEUE_URL")
    Handler.enqueue = staticmethod(sqs_enqueue(queue)) if queue else None
    port = int(os.environ.get("PORT", "8000"))
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
