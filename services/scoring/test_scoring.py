import pytest

from scoring import predict


def test_a_score_depends_on_the_model_and_the_input(monkeypatch):
    monkeypatch.setenv("MODEL_SHA256", "a" * 64)
    first = predict({"total": 10}, None)
    assert 0 <= first["fraud_score"] <= 1 and first["model_sha256"] == "a" * 64
    assert predict({"total": 10}, None) == first
    monkeypatch.setenv("MODEL_SHA256", "b" * 64)
    assert predict({"total": 10}, None)["model_sha256"] == "b" * 64


def test_without_a_model_it_fails(monkeypatch):
    monkeypatch.delenv("MODEL_SHA256", raising=False)
    with pytest.raises(RuntimeError):
        predict({"total": 10}, None)
