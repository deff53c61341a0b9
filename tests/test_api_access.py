"""The API half of the access matrix: every operation in the OpenAPI document, called without a
token, with a token of the business, and with a token of another business (all scopes). The
other business's token never reads or changes this business's rows. An operation missing from
MATRIX fails the suite."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.scheduling.world import scheduling_world
from tillbook.api.openapi import openapi_document
from tillbook.api.scopes import SCOPES
from tillbook.api.services import api_token_create
from tillbook.core.models import Business, User
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope
from tillbook.customers.services import customer_create
from tillbook.payments.sandbox import sandbox_succeed
from tillbook.payments.services import payment_link_create, payment_start

from .access import database_fingerprint


@dataclass(frozen=True)
class Operation:
    member_status: int
    body: dict[str, Any] = field(default_factory=dict)
    # For the other business: "404" when the path names one of our objects, "own" when the
    # operation only ever touches the caller's business (listing, creating).
    other: str = "404"
    not_found: str = "No customer with this id."


MATRIX: dict[tuple[str, str], Operation] = {
    ("get", "/api/v1/customers"): Operation(200, other="own"),
    ("post", "/api/v1/customers"): Operation(201, {"email": "new@example.com"}, other="own"),
    ("get", "/api/v1/customers/{customer_id}"): Operation(200),
    ("patch", "/api/v1/customers/{customer_id}"): Operation(200, {"name": "Changed"}),
    ("get", "/api/v1/services"): Operation(200, other="own"),
    ("get", "/api/v1/services/{service_id}"): Operation(200, not_found="No service with this id."),
    ("get", "/api/v1/services/{service_id}/availability?start={free_start}&end={free_end}"): (
        Operation(200, not_found="No service with this id.")
    ),
    ("get", "/api/v1/staff"): Operation(200, other="own"),
    ("put", "/api/v1/staff/{staff_id}/hours"): Operation(
        200,
        {"weekly_hours": {"0": [{"start": "09:00", "end": "12:00"}]}},
        not_found="No staff member with this id.",
    ),
    ("get", "/api/v1/bookings?start={free_start}&end={free_end}"): Operation(200, other="own"),
    ("get", "/api/v1/bookings/{booking_id}"): Operation(200, not_found="No booking with this id."),
    ("post", "/api/v1/bookings"): Operation(
        201,
        {"service_id": "{service_id}", "duration": 60, "start": "{free_start}"},
        not_found="No service with this id.",
    ),
    ("post", "/api/v1/bookings/{booking_id}/confirm"): Operation(
        200,
        {"name": "Ann", "email": "ann.booked@example.com"},
        not_found="No booking with this id.",
    ),
    ("post", "/api/v1/bookings/{booking_id}/reschedule"): Operation(
        200, {"start": "{free_start}"}, not_found="No booking with this id."
    ),
    ("post", "/api/v1/bookings/{booking_id}/cancel"): Operation(
        200, {"reason": "x"}, not_found="No booking with this id."
    ),
    ("get", "/api/v1/payments"): Operation(200, other="own"),
    ("get", "/api/v1/payments/{payment_id}"): Operation(200, not_found="No payment with this id."),
    ("get", "/api/v1/payments/{payment_id}/refunds"): Operation(
        200, not_found="No payment with this id."
    ),
    ("post", "/api/v1/payments/{payment_id}/refunds"): Operation(
        201, {"amount": 100, "reason": "Sorry"}, not_found="No payment with this id."
    ),
    ("get", "/api/v1/payment-links"): Operation(200, other="own"),
    ("post", "/api/v1/payment-links"): Operation(
        201, {"title": "Lesson", "amount": 5000}, other="own"
    ),
    ("get", "/api/v1/payment-links/{link_id}"): Operation(
        200, not_found="No payment link with this id."
    ),
}
PUBLIC = {("get", "/api/v1/openapi.json"), ("get", "/api/v1/docs")}


def operations() -> list[tuple[str, str]]:
    return [
        (method, path)
        for path, item in openapi_document()["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]


def test_every_api_operation_is_in_the_matrix() -> None:
    assert set(operations()) == {(method, path.split("?")[0]) for method, path in MATRIX}


@pytest.fixture
def tokens(business: Business, other_business: Business, owner: User) -> dict[str, Any]:
    with business_scope(business):
        customer = customer_create(business=business, actor=owner, email="ann@example.com")
        mine = api_token_create(business=business, actor=owner, name="Mine", scopes=list(SCOPES))
        scheduling = scheduling_world(business, owner)
        link = payment_link_create(
            business=business, actor=owner, title="Coaching", amount=Money(5000, "USD")
        )
        payment = payment_start(
            request=link,
            provider="sandbox",
            return_url="https://shop.example.test/",
            customer_email="ann@example.com",
        ).payment
        sandbox_succeed(payment)
    with business_scope(other_business):
        customer_create(business=other_business, actor=None, email="theirs@example.com")
        theirs = api_token_create(
            business=other_business, actor=None, name="Theirs", scopes=list(SCOPES)
        )
    free = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=11)
    return {
        **scheduling,
        "mine": mine.secret,
        "theirs": theirs.secret,
        "customer_id": customer.pk,
        "payment_id": payment.pk,
        "link_id": link.pk,
        "free_start": free.isoformat().replace("+00:00", "Z"),
        "free_end": (free + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
    }


def filled(text: str, values: dict[str, Any]) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def call(client: Client, method: str, path: str, token: str | None, body: dict[str, Any]) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    if method == "get":
        return client.get(path, **headers)
    return client.generic(method.upper(), path, json.dumps(body), "application/json", **headers)


@pytest.mark.parametrize(("method", "path"), list(MATRIX))
def test_api_access(method: str, path: str, tokens: dict[str, Any], client: Client) -> None:
    spec = MATRIX[(method, path)]
    url = filled(path, tokens)
    body = json.loads(filled(json.dumps(spec.body), tokens))
    if "service_id" in body:
        body["service_id"] = int(body["service_id"])
    spec = Operation(spec.member_status, body, spec.other, spec.not_found)

    before = database_fingerprint()
    anonymous = call(client, method, url, None, spec.body)
    assert anonymous.status_code == 401
    assert anonymous.json() == {
        "detail": "Send an API token in the header: Authorization: Bearer <token>."
    }
    assert database_fingerprint() == before

    other = call(client, method, url, tokens["theirs"], spec.body)
    if spec.other == "404":
        assert other.status_code == 404
        assert other.json()["detail"] == spec.not_found
        assert database_fingerprint() == before
    else:
        assert other.status_code in (200, 201)
        assert "ann@example.com" not in other.content.decode()

    mine = call(client, method, url, tokens["mine"], spec.body)
    assert mine.status_code == spec.member_status


@pytest.mark.parametrize(("method", "path"), sorted(PUBLIC))
def test_public_api_pages_need_no_token(method: str, path: str, client: Client, db: None) -> None:
    assert client.get(path).status_code == 200
