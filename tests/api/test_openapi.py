"""The OpenAPI document: committed, served, and honest about authentication."""

from __future__ import annotations

import json
from pathlib import Path

from django.test import Client

from tillbook.api.openapi import openapi_text

COMMITTED = Path(__file__).resolve().parents[2] / "openapi.json"
HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


def _document() -> dict:
    # As clients read it: JSON, where status codes are strings.
    return json.loads(openapi_text())


def _operations() -> list[tuple[str, str, dict]]:
    return [
        (path, method, operation)
        for path, methods in _document()["paths"].items()
        for method, operation in methods.items()
        if method in HTTP_METHODS
    ]


def test_committed_openapi_json_matches_the_api() -> None:
    assert COMMITTED.read_text() == openapi_text(), (
        "openapi.json is out of date with the API; run `make openapi` and commit the result."
    )


def test_document_is_served_without_a_token(client: Client) -> None:
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == _document()


def test_document_declares_the_bearer_scheme() -> None:
    assert _document()["components"]["securitySchemes"] == {
        "TokenAuth": {"type": "http", "scheme": "bearer"}
    }


def test_every_operation_requires_the_bearer_token() -> None:
    operations = _operations()

    assert {(path, method) for path, method, _ in operations} == {
        ("/api/v1/customers", "get"),
        ("/api/v1/customers", "post"),
        ("/api/v1/customers/{customer_id}", "get"),
        ("/api/v1/customers/{customer_id}", "patch"),
        ("/api/v1/services", "get"),
        ("/api/v1/services/{service_id}", "get"),
        ("/api/v1/services/{service_id}/availability", "get"),
        ("/api/v1/staff", "get"),
        ("/api/v1/staff/{staff_id}/hours", "put"),
        ("/api/v1/bookings", "get"),
        ("/api/v1/bookings", "post"),
        ("/api/v1/bookings/{booking_id}", "get"),
        ("/api/v1/bookings/{booking_id}/confirm", "post"),
        ("/api/v1/bookings/{booking_id}/reschedule", "post"),
        ("/api/v1/bookings/{booking_id}/cancel", "post"),
        ("/api/v1/payments", "get"),
        ("/api/v1/payments/{payment_id}", "get"),
        ("/api/v1/payments/{payment_id}/refunds", "get"),
        ("/api/v1/payments/{payment_id}/refunds", "post"),
        ("/api/v1/payment-links", "get"),
        ("/api/v1/payment-links", "post"),
        ("/api/v1/payment-links/{link_id}", "get"),
    }
    for path, method, operation in operations:
        assert operation["security"] == [{"TokenAuth": []}], f"{method.upper()} {path}"


def test_every_operation_documents_the_authentication_errors() -> None:
    for path, method, operation in _operations():
        responses = operation["responses"]
        for status in ("401", "403"):
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (
                f"{method.upper()} {path} {status}"
            )
