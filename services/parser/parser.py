"""The invoice parser (Lambda): OCR text in, invoice fields out.

The pipeline zips this folder into the `parser` package; `scripts/run-local` deploys it
so that `facturactl verify` has a real function to invoke on the emulator.
"""

import re

FIELDS = {
    "supplier": r"^supplier:\s*(.+)$",
    "vat": r"^vat:\s*(\S+)$",
    "total": r"^total:\s*([0-9]+(?:\.[0-9]+)?)$",
    "currency": r"^currency:\s*([A-Z]{3})$",
    "issued_at": r"^date:\s*(\d{4}-\d{2}-\d{2})$",
}


def handler(event, context):
    text = event.get("text", "")
    fields = {}
    for name, pattern in FIELDS.items():
        match = re.search(pattern, text, re.IGNORECASE | re.MULTILINE)
        fields[name] = match.group(1).strip() if match else None
    if fields["total"] is not None:
        fields["total"] = float(fields["total"])
    missing = sorted(k for k, v in fields.items() if v is None)
    return {"invoice_id": event.get("invoice_id"), **fields, "missing": missing}
