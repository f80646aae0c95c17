import json

from app import route


def test_health_names_the_service():
    assert route("GET", "/health", b"") == (200, {"status": "ok", "service": "backend"})


def test_an_invoice_is_queued_under_its_id():
    queued = []
    body = json.dumps({"invoice_id": "inv-1", "text": "total: 10"}).encode()
    status, answer = route("POST", "/invoices", body, queued.append)
    assert (status, answer) == (202, {"invoice_id": "inv-1", "status": "queued"})
    assert queued == [{"invoice_id": "inv-1", "text": "total: 10"}]


def test_an_invoice_without_id_gets_one_from_its_bytes():
    status, first = route("POST", "/invoices/", b'{"text": "a"}')
    _, again = route("POST", "/invoices", b'{"text": "a"}')
    assert status == 202 and first["invoice_id"] == again["invoice_id"]
    assert len(first["invoice_id"]) == 16


def test_bad_bodies_and_unknown_paths_are_refused():
    assert route("POST", "/invoices", b"not json")[0] == 400
    assert route("POST", "/invoices", b"[1, 2]")[0] == 400
    assert route("GET", "/invoices", b"")[0] == 404
    assert route("DELETE", "/health", b"")[0] == 404
