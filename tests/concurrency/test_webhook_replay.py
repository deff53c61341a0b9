"""Stripe delivers the same checkout.session.completed ten times at once (a retry storm), as
real HTTP requests to the webhook endpoint, each on its own database connection: one payment
confirmation, one purpose on_paid, one receipt email.

Two things stop the duplicates: the payment request's row lock in payment_confirm, and the
unique processor event id. The negative control switches both off and holds every delivery
right after its (now absent) lock: the purpose is fulfilled again and again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from tillbook.core.hooks import installed_pause
from tillbook.core.models import Business
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope, unscoped
from tillbook.messaging.models import OutboxMessage
from tillbook.payments.models import Payment, PaymentState, ProcessorEvent
from tillbook.payments.purposes import PaymentLinkPurpose, _purposes, register_purpose
from tillbook.payments.services import payment_request_create, payment_start

from ..fakes.stripe_server import FakeStripe
from ..payments.fixtures import deliver
from .race import BARRIER_TIMEOUT, constraint_dropped, postgresql_only, race

pytestmark = [postgresql_only, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DELIVERIES = 10


class CountingLinkPurpose(PaymentLinkPurpose):
    """The real payment-link purpose (it sends the receipt), counting its on_paid calls."""

    def __init__(self) -> None:
        self.paid: list[int] = []
        self.lock = threading.Lock()

    def on_paid(self, **kwargs: Any) -> None:
        with self.lock:
            self.paid.append(kwargs["payment"].pk)
        super().on_paid(**kwargs)


@pytest.fixture
def link_purpose() -> Iterator[CountingLinkPurpose]:
    original = _purposes["link"]
    counting = CountingLinkPurpose()
    register_purpose(counting)
    try:
        yield counting
    finally:
        register_purpose(original)


@pytest.fixture
def paid_at_stripe(stripe_business: Business, fake_stripe: FakeStripe) -> dict[str, Any]:
    """A payment link paid on Stripe's page; its webhook not delivered yet."""
    with business_scope(stripe_business):
        request = payment_request_create(
            business=stripe_business,
            purpose="link",
            title="Coaching session",
            amount=Money(12000, "USD"),
        )
        payment = payment_start(
            request=request,
            provider="stripe",
            return_url="https://shop.example.test/done/",
            customer_email="ann@example.com",
        ).payment
    events = fake_stripe.pay(payment.checkout_reference)
    return {"payment": payment, "event": events["checkout.session.completed"]}


def _delivery(business: Business, event: dict[str, Any]) -> Callable[[], tuple[int, str]]:
    def post() -> tuple[int, str]:
        response = deliver(Client(), business, event)
        return response.status_code, response.json()["detail"]

    return post


def _counts(business: Business) -> tuple[str, int, int]:
    with unscoped():
        payment = Payment.objects.get(business=business)
        events = ProcessorEvent.objects.filter(business=business).count()
        receipts = OutboxMessage.objects.filter(
            business=business, template="payment_receipt"
        ).count()
    return payment.state, events, receipts


def test_ten_concurrent_deliveries_of_one_event_confirm_once_and_email_once(
    stripe_business: Business, paid_at_stripe: dict[str, Any], link_purpose: CountingLinkPurpose
) -> None:
    racers = [_delivery(stripe_business, paid_at_stripe["event"]) for _ in range(DELIVERIES)]
    outcomes = race(*racers)
    assert all(outcome.error is None for outcome in outcomes), [o.error for o in outcomes]
    statuses = [outcome.result[0] for outcome in outcomes]
    details = [outcome.result[1] for outcome in outcomes]
    assert statuses == [200] * DELIVERIES
    assert details.count("confirmed") == 1
    assert set(details) <= {"confirmed", "duplicate", "already confirmed"}
    assert _counts(stripe_business) == (PaymentState.SUCCEEDED, 1, 1)
    assert link_purpose.paid == [paid_at_stripe["payment"].pk]


def test_negative_control_without_lock_or_unique_event_fulfils_more_than_once(
    stripe_business: Business,
    paid_at_stripe: dict[str, Any],
    link_purpose: CountingLinkPurpose,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db.models import QuerySet

    monkeypatch.setattr(QuerySet, "select_for_update", lambda self, **kwargs: self)
    barrier = threading.Barrier(DELIVERIES, timeout=BARRIER_TIMEOUT)
    racers = [_delivery(stripe_business, paid_at_stripe["event"]) for _ in range(DELIVERIES)]
    with (
        constraint_dropped(ProcessorEvent, "processor_event_unique"),
        installed_pause("payment_confirm.locked", barrier.wait),
    ):
        outcomes = race(*racers)
        with unscoped():
            duplicates = ProcessorEvent.objects.filter(business=stripe_business).count()
            ProcessorEvent.objects.filter(business=stripe_business).delete()
    assert [outcome.result[1] for outcome in outcomes].count("confirmed") > 1
    assert duplicates > 1
    assert len(link_purpose.paid) > 1
