from parser import handler

TEXT = """Supplier: ACME Tools SL
VAT: ES12345678A
Total: 121.00
Currency: EUR
Date: 2026-03-01"""


def test_fields_are_read_from_the_text():
    fields = handler({"invoice_id": "a", "text": TEXT}, None)
    assert fields == {
        "invoice_id": "a",
        "supplier": "ACME Tools SL",
        "vat": "ES12345678A",
        "total": 121.0,
        "currency": "EUR",
        "issued_at": "2026-03-01",
        "missing": [],
    }


def test_missing_fields_are_named():
    fields = handler({"text": "Total: 5"}, None)
    assert fields["total"] == 5.0
    assert fields["missing"] == ["currency", "issued_at", "supplier", "vat"]
