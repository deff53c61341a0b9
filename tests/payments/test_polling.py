"""Payments stuck in pending are asked about (REFERENCE.md: webhooks get lost): Stripe's
session or PaymentIntent decides; the sandbox confirms only a lost delayed webhook. Running the
sweep again changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from tillbook.core.models import Business
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope, unscoped
from tillbook.payments.models import Payment, PaymentState
from tillbook.payments.polling import pending_payments_poll
from tillbook.payments.sandbox import sandbox_succeed_later
from tillbook.payments.services import payment_request_create, payment_start
from tillbook.payments.sweeps import pending_poll

from ..fakes.stripe_server import FakeStripe
from .fixtures import RecordingPurpose
from .test_stripe_webhooks import state_of, stripe_payment


def age(payment: Payment, minutes: int) -> None:
    with unscoped():
        Payment.objects.filter(pk=payment.pk).update(
            created_at=timezone.now() - timedelta(minutes=minutes)
        )


def test_a_paid_session_whose_webhook_never_came_is_confirmed_once(
    stripe_business: Business, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    paid, unpaid, recent = (stripe_payment(stripe_business) for _ in range(3))
    fake_stripe.pay(paid.checkout_reference)  # its events are never delivered
    fake_stripe.pay(recent.checkout_reference)
    for payment in (paid, unpaid):
        age(payment, 11)
    with unscoped():
        report = pending_poll()
    assert report == {"confirmed": 1, "failed": 0, "pending": 1, "errors": 0}
    assert state_of(paid)[:2] == ("succeeded", 175)
    # Its charge, which Stripe's exports name the sale by, is kept beside the intent.
    assert paid.other_reference == fake_stripe.intents[paid.provider_reference]["latest_charge"]
    assert paid.other_reference.startswith("ch_")
    assert state_of(unpaid)[0] == "pending"
    assert state_of(recent)[0] == "pending"  # younger than 10 minutes: not asked yet
    with unscoped():
        assert pending_payments_poll().as_dict() == {
            "confirmed": 0,
            "failed": 0,
            "pending": 1,
            "errors": 0,
        }
    assert len(purpose.paid) == 1


def test_an_expired_session_fails_and_stripe_down_is_counted_not_raised(
    stripe_business: Business, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    expired, unreachable = stripe_payment(stripe_business), stripe_payment(stripe_business)
    fake_stripe.expire(expired.checkout_reference)
    fake_stripe.unavailable.add(f"/v1/checkout/sessions/{unreachable.checkout_reference}")
    age(expired, 30)
    age(unreachable, 30)
    with unscoped():
        report = pending_payments_poll().as_dict()
    assert report == {"confirmed": 0, "failed": 1, "pending": 0, "errors": 1}
    assert state_of(expired)[0] == "failed"
    assert state_of(unreachable)[0] == "pending"


def test_the_sandbox_confirms_a_lost_delayed_webhook_and_leaves_undecided_payers_alone(
    business: Business, purpose: RecordingPurpose, django_capture_on_commit_callbacks: Any
) -> None:
    with business_scope(business):
        request = payment_request_create(
            business=business, purpose="test", title="Ticket", amount=Money(2500, "USD")
        )
        lost = payment_start(request=request, provider="sandbox", return_url="https://x.test/")
        other = payment_request_create(
            business=business, purpose="test", title="Other", amount=Money(2500, "USD")
        )
        undecided = payment_start(request=other, provider="sandbox", return_url="https://x.test/")
        # The payer chose "confirm a few seconds later"; the task is never run (lost worker).
        sandbox_succeed_later(lost.payment)
    age(lost.payment, 15)
    age(undecided.payment, 15)
    with unscoped():
        assert pending_payments_poll().as_dict()["confirmed"] == 1
    # 2.9 % of 25.00 = 0.725, rounded half to even: 0.72, + 0.30.
    assert state_of(lost.payment)[:3] == ("succeeded", 102, f"sbx_pi_{lost.payment.pk}")
    assert state_of(undecided.payment)[0] == PaymentState.PENDING
    assert len(purpose.paid) == 1


def test_manual_payments_are_never_polled(client: Client, business: Business) -> None:
    with unscoped():
        assert pending_payments_poll().as_dict() == {
            "confirmed": 0,
            "failed": 0,
            "pending": 0,
            "errors": 0,
        }
