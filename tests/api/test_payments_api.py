"""The payments API: payments with fee and net, refunds, payment links with their URL."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tillbook.core.models import Business, User
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope
from tillbook.messaging.models import OutboxMessage
from tillbook.payments.models import Payment, PaymentRequest, Refund
from tillbook.payments.sandbox import sandbox_succeed
from tillbook.payments.services import payment_link_create, payment_start

from ..access import database_fingerprint


def paid(business: Business, owner: User) -> Payment:
    with business_scope(business):
        link = payment_link_create(
            business=business, actor=owner, title="Coaching", amount=Money(12000, "USD")
        )
        payment = payment_start(
            request=link,
            provider="sandbox",
            return_url="https://shop.example.test/",
            customer_email="ann@example.com",
        ).payment
        sandbox_succeed(payment)
        payment.refresh_from_db()
    return payment


def test_payments_are_listed_with_fee_and_net(api: Client, business: Business, owner: User) -> None:
    payment = paid(business, owner)
    body = api.get("/api/v1/payments?state=succeeded").json()
    assert body["count"] == 1
    item = body["items"][0]
    assert {
        key: item[key]
        for key in (
            "id",
            "purpose",
            "title",
            "provider",
            "state",
            "currency",
            "amount",
            "tip_amount",
            "fee_amount",
            "net_amount",
            "refunded_amount",
            "refundable_amount",
            "method",
            "customer_email",
            "provider_reference",
            "refunds",
        )
    } == {
        "id": payment.pk,
        "purpose": "link",
        "title": "Coaching",
        "provider": "sandbox",
        "state": "succeeded",
        "currency": "USD",
        "amount": 12000,
        "tip_amount": 0,
        "fee_amount": 378,
        "net_amount": 11622,
        "refunded_amount": 0,
        "refundable_amount": 12000,
        "method": "card",
        "customer_email": "ann@example.com",
        "provider_reference": f"sbx_pi_{payment.pk}",
        "refunds": [],
    }
    assert api.get("/api/v1/payments?state=failed").json() == {"count": 0, "items": []}
    assert api.get(f"/api/v1/payments/{payment.pk}").json()["id"] == payment.pk
    assert api.get("/api/v1/payments/999999").status_code == 404


@pytest.mark.parametrize("search", ["²", "P-¹²"])
def test_a_search_with_digits_that_are_not_ascii_finds_nothing_instead_of_failing(
    api: Client, business: Business, owner: User, search: str
) -> None:
    payment = paid(business, owner)
    response = api.get("/api/v1/payments", {"search": search})
    assert response.status_code == 200
    assert response.json() == {"count": 0, "items": []}
    assert api.get("/api/v1/payments", {"search": f"P-{payment.pk}"}).json()["count"] == 1


def test_refund_part_then_the_rest_and_never_more(
    api: Client, business: Business, owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    payment = paid(business, owner)
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post(
            f"/api/v1/payments/{payment.pk}/refunds",
            {"amount": 2000, "reason": "Late start", "releases_capacity": True},
            content_type="application/json",
        )
    assert first.status_code == 201
    assert {k: first.json()[k] for k in ("amount", "state", "reason", "releases_capacity")} == {
        "amount": 2000,
        "state": "succeeded",
        "reason": "Late start",
        "releases_capacity": True,
    }
    before = database_fingerprint()
    too_much = api.post(
        f"/api/v1/payments/{payment.pk}/refunds", {"amount": 10001}, content_type="application/json"
    )
    assert (too_much.status_code, too_much.json()["detail"]) == (
        400,
        "At most $100.00 can still be refunded.",
    )
    assert database_fingerprint() == before
    rest = api.post(f"/api/v1/payments/{payment.pk}/refunds", {}, content_type="application/json")
    assert (rest.status_code, rest.json()["amount"]) == (201, 10000)
    listed = api.get(f"/api/v1/payments/{payment.pk}/refunds").json()
    assert [r["amount"] for r in listed] == [2000, 10000]
    nothing_left = api.post(
        f"/api/v1/payments/{payment.pk}/refunds", {}, content_type="application/json"
    )
    assert (nothing_left.status_code, nothing_left.json()["detail"]) == (
        409,
        "This payment has been refunded in full.",
    )
    with business_scope(business):
        assert Refund.objects.count() == 2
        assert OutboxMessage.objects.filter(template="payment_refund").count() == 2


def test_a_refund_retried_with_its_idempotency_key_refunds_once(
    api: Client, business: Business, owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    payment = paid(business, owner)
    other = paid(business, owner)

    def refund(payment: Payment, body: dict[str, Any], key: str) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return api.post(
                f"/api/v1/payments/{payment.pk}/refunds",
                body,
                content_type="application/json",
                headers={"Idempotency-Key": key},
            )

    first = refund(payment, {}, "order-17-refund")
    assert (first.status_code, first.json()["amount"], first.json()["state"]) == (
        201,
        12000,
        "succeeded",
    )
    before = database_fingerprint()
    # The same request again (a timeout, a retry): the first refund comes back, nothing new.
    again = refund(payment, {}, "order-17-refund")
    assert (again.status_code, again.json()) == (201, first.json())
    same_amount = refund(payment, {"amount": 12000}, "order-17-refund")
    assert (same_amount.status_code, same_amount.json()["id"]) == (201, first.json()["id"])
    assert database_fingerprint() == before
    # The key cannot be reused for something else.
    for target, body in ((payment, {"amount": 500}), (other, {})):
        reused = refund(target, body, "order-17-refund")
        assert (reused.status_code, reused.json()["detail"]) == (
            409,
            "This Idempotency-Key was already used for another refund; "
            "send a new key for a new refund.",
        )
    assert database_fingerprint() == before
    # Another key is another refund; keys of another business do not collide.
    assert refund(other, {"amount": 500}, "order-18-refund").status_code == 201
    with business_scope(business):
        assert sorted(Refund.objects.values_list("payment_id", "amount")) == sorted(
            [(payment.pk, 12000), (other.pk, 500)]
        )
        assert OutboxMessage.objects.filter(template="payment_refund").count() == 2


def test_payment_link_is_created_with_its_pay_url_and_can_be_sent(
    api: Client, business: Business, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            "/api/v1/payment-links",
            {
                "title": "Consultation",
                "amount_type": "minimum",
                "amount": 5000,
                "tip_allowed": True,
                "send_to": "bo@example.com",
            },
            content_type="application/json",
        )
    assert created.status_code == 201
    body = created.json()
    with business_scope(business):
        link = PaymentRequest.objects.get()
        mail = OutboxMessage.objects.get(template="payment_link")
    assert body["url"] == f"https://shop.example.test/pay/{link.token}/"
    assert (body["amount_type"], body["amount"], body["state"]) == ("minimum", 5000, "open")
    assert mail.to_email == "bo@example.com"
    assert api.get(f"/api/v1/payment-links/{link.pk}").json() == body
    assert api.get("/api/v1/payment-links").json()["count"] == 1


def test_bad_payment_links_are_refused_and_nothing_is_kept(api: Client, business: Business) -> None:
    before = database_fingerprint()
    for data, message in [
        ({"title": "x"}, "A payment request needs an amount."),
        ({"title": "x", "amount": 100, "send_to": "not-an-address"}, "Enter the email address"),
        # A line break is no address (the message would fail as a header injection, unseen).
        (
            {"title": "x", "amount": 100, "send_to": "bo@example.com\r\nBcc: eve@example.com"},
            "Enter the email address",
        ),
        (
            {"title": "x", "amount": 100, "expires_at": "2030-01-01T00:00:00"},
            "The expiry needs a time zone",
        ),
        (
            {"title": "x", "amount": 100, "expires_at": "2001-01-01T00:00:00Z"},
            "The expiry must be in the future.",
        ),
    ]:
        response = api.post("/api/v1/payment-links", data, content_type="application/json")
        assert response.status_code == 400, data
        assert response.json()["detail"].startswith(message), data
    assert database_fingerprint() == before


def test_a_read_only_token_cannot_refund(
    client: Client, business: Business, owner: User, make_token: Callable[..., str]
) -> None:
    payment = paid(business, owner)
    token = make_token(business, scopes=["payments:read"])
    before = database_fingerprint()
    response = client.post(
        f"/api/v1/payments/{payment.pk}/refunds",
        {},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert (response.status_code, response.json()["detail"]) == (
        403,
        "This token does not have the payments:write scope.",
    )
    assert database_fingerprint() == before


HUGE_AMOUNTS = ["1e999999", "-1e999999", "Infinity", "NaN", str(10**30), "1e400", "12.5"]


def test_huge_and_non_finite_amounts_are_refused_with_422_and_nothing_is_kept(
    api: Client, business: Business, owner: User
) -> None:
    payment = paid(business, owner)
    before = database_fingerprint()
    for literal in HUGE_AMOUNTS:
        for url, body in [
            ("/api/v1/payment-links", f'{{"title": "x", "amount": {literal}}}'),
            (f"/api/v1/payments/{payment.pk}/refunds", f'{{"amount": {literal}}}'),
            ("/api/v1/offerings", f'{{"kind": "download", "title": "x", "price": {literal}}}'),
        ]:
            response = api.post(url, body, content_type="application/json")
            assert response.status_code == 422, (url, literal, response.content)
            [problem] = response.json()["detail"]
            assert problem["loc"][-1] in ("amount", "price"), (url, literal)
            assert problem["msg"] in (
                "Input should be a finite number",
                "Input should be a valid integer, got a number with a fractional part",
                "Input should be less than or equal to 10000000000000",
                "Input should be less than or equal to 100000000000",
                "Input should be greater than or equal to 1",
                "Input should be greater than or equal to 0",
            ), (url, literal, problem)
    assert database_fingerprint() == before


@pytest.mark.parametrize("expires_at", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"])
def test_a_payment_link_expiring_at_the_ends_of_the_calendar_is_400_and_not_kept(
    api: Client, business: Business, expires_at: str
) -> None:
    before = database_fingerprint()
    response = api.post(
        "/api/v1/payment-links",
        json.dumps({"title": "x", "amount": 100, "expires_at": expires_at}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Give a time between 1970 and 2099.",
        "errors": {"expires_at": ["Give a time between 1970 and 2099."]},
    }
    assert database_fingerprint() == before
