from validator import handler

GOOD = {
    "invoice_id": "a",
    "supplier": "ACME",
    "vat": "ES12345678A",
    "net": 100.0,
    "tax": 21.0,
    "total": 121.0,
    "currency": "EUR",
    "issued_at": "2026-03-01",
}


def test_a_consistent_invoice_is_valid():
    answer = handler(GOOD, None)
    assert answer["valid"] and answer["errors"] == []


def test_each_failed_check_is_named():
    bad = {**GOOD, "total": 120.0, "currency": "XXX", "issued_at": "2026-02-30"}
    answer = handler(bad, None)
    assert not answer["valid"]
    assert answer["errors"] == ["currency_known", "date_valid", "totals_match"]
