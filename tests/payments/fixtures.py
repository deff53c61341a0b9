from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client

from tillbook.core.models import Business
from tillbook.core.scoping import business_scope
from tillbook.payments.models import Payment, PaymentRequest, Refund
from tillbook.payments.provider_accounts import provider_account_save
from tillbook.payments.purposes import PaymentPurpose, _purposes, register_purpose

from ..fakes.stripe_server import FakeStripe, running_fake_stripe, sign, webhook_body


@dataclass
class RecordingPurpose(PaymentPurpose):
    """A purpose that remembers what it was told, to prove each call happens once."""

    name: str = "test"
    label: str = "Test"
    paid: list[tuple[int, int]] = field(default_factory=list)
    payments: list[int] = field(default_factory=list)
    refunded: list[int] = field(default_factory=list)

    def on_paid(self, *, request: PaymentRequest, payment: Payment) -> None:
        self.paid.append((request.pk, payment.pk))

    def on_payment(self, *, request: PaymentRequest, payment: Payment) -> None:
        self.payments.append(payment.pk)

    def on_refunded(self, *, refund: Refund) -> None:
        self.refunded.append(refund.pk)


@pytest.fixture
def purpose() -> Iterator[RecordingPurpose]:
    recording = RecordingPurpose()
    register_purpose(recording)
    try:
        yield recording
    finally:
        _purposes.pop("test", None)


# Stripe against the local fake server ------------------------------------------------------

STRIPE_SECRET_KEY = "sk_test_tillbook"
WEBHOOK_SECRET = "whsec_tillbook_test_secret"


@pytest.fixture
def fake_stripe(settings: Any) -> Iterator[FakeStripe]:
    with running_fake_stripe() as fake:
        settings.TILLBOOK_STRIPE_API_BASE = fake.base_url
        yield fake


@pytest.fixture
def stripe_business(business: Business, fake_stripe: FakeStripe) -> Business:
    """The business with Stripe switched on, pointing at the fake server."""
    return stripe_switched_on(business)


def stripe_switched_on(business: Business) -> Business:
    with business_scope(business):
        provider_account_save(
            business=business,
            provider="stripe",
            actor=None,
            is_enabled=True,
            credentials={"secret_key": STRIPE_SECRET_KEY, "webhook_secret": WEBHOOK_SECRET},
        )
    return business


def deliver(
    client: Client,
    business: Business,
    event: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    header: str | None = None,
) -> Any:
    """POST an event to the business's Stripe webhook endpoint, signed as Stripe signs."""
    body = webhook_body(event)
    return client.post(
        f"/hooks/stripe/{business.slug}/",
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header if header is not None else sign(body, secret, timestamp),
    )
