import pytest

from worker import extract


def test_given_text_is_kept():
    assert extract({"invoice_id": "a", "text": "total: 1"}) == {
        "invoice_id": "a",
        "text": "total: 1",
    }


def test_a_scanned_document_is_read_from_s3():
    read = []

    def detect_text(bucket, key):
        read.append((bucket, key))
        return "supplier: ACME"

    invoice = extract({"document": "s3://scans/2026/a.pdf"}, detect_text)
    assert invoice["text"] == "supplier: ACME"
    assert read == [("scans", "2026/a.pdf")]


@pytest.mark.parametrize("document", ["", "scans/a.pdf", "s3://bucket-only"])
def test_an_invoice_without_text_or_document_is_refused(document):
    with pytest.raises(ValueError):
        extract({"document": document}, lambda b, k: "")
