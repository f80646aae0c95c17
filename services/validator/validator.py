"""A reference validator for the local environment: an invoice's fields in, the checks
and their verdict out (what `facturactl verify`'s regression compares with its baseline)."""

import datetime
import re

CURRENCIES = {"EUR", "USD", "GBP", "MXN"}
VAT = re.compile(r"^[A-Z]{2}[0-9A-Z]{8,12}$")


def handler(event, context):
    net, tax, total = (event.get(k) for k in ("net", "tax", "total"))
    checks = {
        "vat_format": bool(VAT.match(str(event.get("vat", "")))),
        "totals_match": all(isinstance(v, (int, float)) for v in (net, tax, total))
        and round(net + tax, 2) == round(total, 2),
        "currency_known": event.get("currency") in CURRENCIES,
        "date_valid": _date(event.get("issued_at")),
        "supplier_present": bool(str(event.get("supplier", "")).strip()),
    }
    errors = sorted(name for name, ok in checks.items() if not ok)
    return {
        "invoice_id": event.get("invoice_id"),
        "valid": not errors,
        "checks": checks,
        "errors": errors,
    }


def _date(text):
    try:
        return datetime.date.fromisoformat(str(text)) <= datetime.date(2100, 1, 1)
    except ValueError:
        return False
