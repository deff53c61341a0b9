from __future__ import annotations

import html
from typing import Any

import pytest
from django.test import Client

from tillbook.core.models import Business
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope
from tillbook.payments.models import AmountType, Payment, PaymentState, RequestState
from tillbook.payments.services import payment_request_create

from ..access import database_fingerprint
from .fixtures import RecordingPurpose


def link(business: Business, **extra: Any) -> Any:
    arguments = {"title": "Coaching session", "amount": Money(12000, "USD"), **extra}
    with business_scope(business):
        return payment_request_create(business=business, purpose="test", **arguments)


def test_pay_with_the_sandbox_from_a_payment_link(
    client: Client, business: Business, purpose: RecordingPurpose
) -> None:
    request = link(business)
    page = client.get(f"/pay/{request.token}/")
    assert page.status_code == 200
    assert "120.00 USD" in page.content.decode()
    started = client.post(
        f"/pay/{request.token}/", {"provider": "sandbox", "email": "ann@example.com"}
    )
    assert started.status_code == 302
    sandbox_url = started["Location"].removeprefix("https://shop.example.test")
    sandbox = client.get(sandbox_url)
    assert "Test mode." in sandbox.content.decode()
    back = client.post(sandbox_url, {"outcome": "succeed"})
    assert back["Location"] == f"https://shop.example.test/pay/{request.token}/done/"
    done = client.get(f"/pay/{request.token}/done/")
    assert "Thank you — paid" in done.content.decode()
    with business_scope(business):
        request.refresh_from_db()
        payment = Payment.objects.get()
    assert (request.state, payment.state, payment.customer_email) == (
        RequestState.PAID,
        PaymentState.SUCCEEDED,
        "ann@example.com",
    )
    assert client.get(f"/pay/{request.token}/").status_code == 410


def test_declined_test_card_lets_the_payer_try_again(
    client: Client, business: Business, purpose: RecordingPurpose
) -> None:
    request = link(business)
    started = client.post(f"/pay/{request.token}/", {"provider": "sandbox"})
    client.post(
        started["Location"].removeprefix("https://shop.example.test"), {"outcome": "decline"}
    )
    done = client.get(f"/pay/{request.token}/done/").content.decode()
    assert "The payment did not go through" in done
    assert "The sandbox declined this test payment" in done
    assert purpose.paid == []


def test_delayed_confirmation_arrives_by_task(
    client: Client,
    business: Business,
    purpose: RecordingPurpose,
    run_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    request = link(business)
    started = client.post(f"/pay/{request.token}/", {"provider": "sandbox"})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            started["Location"].removeprefix("https://shop.example.test"),
            {"outcome": "succeed_later"},
        )
    waiting = client.get(f"/pay/{request.token}/done/").content.decode()
    assert "Waiting for confirmation" in waiting
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.update(run_after=timezone.now())  # the webhook's few seconds pass
    assert run_tasks() == 1
    assert "Thank you — paid" in client.get(f"/pay/{request.token}/done/").content.decode()
    assert len(purpose.paid) == 1


def test_bad_input_on_the_pay_page_changes_nothing(
    client: Client, business: Business, purpose: RecordingPurpose
) -> None:
    open_link = link(business, amount_type=AmountType.OPEN, amount=None)
    assert (
        client.post(
            f"/pay/{open_link.token}/", {"provider": "sandbox", "amount": "ten"}
        ).status_code
        == 400
    )
    response = client.post(f"/pay/{open_link.token}/", {"provider": "sandbox", "amount": "10.001"})
    assert response.status_code == 400
    assert "more decimals than USD allows" in response.content.decode()
    assert (
        client.post(f"/pay/{open_link.token}/", {"provider": "nope", "amount": "10"}).status_code
        == 400
    )
    assert client.get("/pay/not-a-token/").status_code == 404
    assert client.get("/sandbox-pay/1/forged/").status_code == 404
    with business_scope(business):
        assert Payment.objects.count() == 0


@pytest.mark.parametrize("field", ["amount", "tip"])
@pytest.mark.parametrize("value", ["1e999999", "Infinity", "1e16"])
def test_a_payer_typing_a_huge_amount_gets_a_message_and_nothing_starts(
    client: Client, business: Business, purpose: RecordingPurpose, field: str, value: str
) -> None:
    request = link(business, amount=Money(1000, "USD"), amount_type=AmountType.MINIMUM)
    before = database_fingerprint()
    response = client.post(
        f"/pay/{request.token}/", {"provider": "sandbox", "amount": "20.00", field: value}
    )
    assert response.status_code == 400
    expected = (
        f"'{value}' is not an amount."
        if value == "Infinity"
        else f"{value} is too large; Tillbook accepts amounts up to 10000000000000.00 USD."
    )
    assert f"The amount is not valid: {expected}" in html.unescape(response.content.decode())
    assert database_fingerprint() == before


def test_a_decimal_comma_is_read_as_the_business_writes_amounts(
    client: Client, business: Business, purpose: RecordingPurpose
) -> None:
    from tillbook.core.scoping import unscoped

    with unscoped():
        Business.objects.filter(pk=business.pk).update(locale="de_DE")
    business.refresh_from_db()
    request = link(business, amount=None, amount_type=AmountType.OPEN, tip_allowed=True)
    started = client.post(
        f"/pay/{request.token}/", {"provider": "sandbox", "amount": "12,50", "tip": "1,5"}
    )
    assert started.status_code == 302
    with business_scope(business):
        payment = Payment.objects.get()
    assert (payment.amount, payment.tip_amount) == (1250, 150)


def test_a_comma_that_is_no_thousands_separator_is_refused_and_nothing_starts(
    client: Client, business: Business, purpose: RecordingPurpose
) -> None:
    request = link(business, amount=None, amount_type=AmountType.OPEN, tip_allowed=True)
    before = database_fingerprint()
    for field, value in (("amount", "12,50"), ("tip", "2,5")):
        response = client.post(
            f"/pay/{request.token}/",
            {"provider": "sandbox", "amount": "10.00", field: value},
        )
        assert response.status_code == 400
        assert (
            f"The amount is not valid: '{value}' is not an amount; write it like 1234.50."
            in html.unescape(response.content.decode())
        )
    assert database_fingerprint() == before
    grouped = client.post(f"/pay/{request.token}/", {"provider": "sandbox", "amount": "1,234.50"})
    assert grouped.status_code == 302
    with business_scope(business):
        assert Payment.objects.get().amount == 123450


@pytest.mark.parametrize("typed", ["ann@example", "ann@example.com, bob@example.com", "ann"])
def test_an_email_for_the_receipt_that_is_no_address_is_refused_before_paying(
    client: Client, business: Business, purpose: RecordingPurpose, typed: str
) -> None:
    """The payer's "email for the receipt" was taken as typed: with a typo the payment went
    through and the receipt could never be sent (the payer was not told)."""
    request = link(business)
    response = client.post(f"/pay/{request.token}/", {"provider": "sandbox", "email": typed})
    assert response.status_code == 400
    assert (
        html.unescape(response.content.decode()).count(f"“{typed}” is not a valid email address.")
        == 1
    )
    with business_scope(business):
        assert Payment.objects.count() == 0


def test_a_sandbox_page_address_with_a_character_beyond_ascii_is_not_found(
    client: Client, business: Business, purpose: RecordingPurpose
) -> None:
    request = link(business)
    started = client.post(f"/pay/{request.token}/", {"provider": "sandbox"})
    sandbox_url = started["Location"].removeprefix("https://shop.example.test")
    with business_scope(business):
        payment = Payment.objects.get()
    forged = f"/sandbox-pay/{payment.pk}/caf%C3%A9/"
    assert client.get(forged).status_code == 404
    assert client.post(forged, {"outcome": "succeed"}).status_code == 404
    with business_scope(business):
        payment.refresh_from_db()
        request.refresh_from_db()
    assert (payment.state, request.state) == (PaymentState.PENDING, RequestState.OPEN)
    assert client.get(sandbox_url).status_code == 200
