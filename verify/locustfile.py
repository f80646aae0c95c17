"""The load test `facturactl verify` runs ([verify.load]): invoices uploaded to the OCR path
(`POST /invoices`, whose p95 the platform's alert bounds at 5 s) and the health check, as a
client of the API would.

Run by `facturactl verify` with `--headless`, `--host` (the environment's entry point) and
the users, spawn rate and run time of its config; the test user's token, when there is one,
in FACTURASCAN_VERIFY_TOKEN (sent as API Gateway's Cognito authorizer takes it).
"""

import itertools
import os

from locust import HttpUser, constant, task

TOKEN = os.environ.get("FACTURASCAN_VERIFY_TOKEN", "")
SEQUENCE = itertools.count()


class ApiClient(HttpUser):
    wait_time = constant(0.05)

    def on_start(self):
        if TOKEN:
            self.client.headers["Authorization"] = TOKEN

    @task(4)
    def upload(self):
        n = next(SEQUENCE)
        invoice = {"invoice_id": f"LOAD-{n}", "supplier": "Load Test SL", "vat": "ESB12345678",
                   "net": 100.0, "tax": 21.0, "total": 121.0, "currency": "EUR",
                   "issued_at": "2026-11-02"}
        self.client.post("/invoices", json=invoice, name="POST /invoices")

    @task(1)
    def health(self):
        self.client.get("/health", name="GET /health")
