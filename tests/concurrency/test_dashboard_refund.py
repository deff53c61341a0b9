"""A refund made in Stripe's dashboard told twice at once: charge.refunded without its list
of refunds (which records what Stripe refunded beyond what Tillbook knows, as a refund of the
charge's total) and refund.created (which records the refund by its own id, taking its money
out of such a total), each a real HTTP request on its own database connection.

The payment's row lock orders them: the second counts what the first recorded, and the
$15.00 is refunded once. The negative control switches the locks off and holds both after
them: each finds nothing recorded, and the refund is counted twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from django.test import Client

from tillbook.core.hooks import installed_pause
from tillbook.core.models import Business
from tillbook.core.scoping import unscoped
from tillbook.payments.models import Refund

from ..fakes.stripe_server import FakeStripe
from ..payments.fixtures import RecordingPurpose, deliver
from ..payments.test_stripe_refunds import paid_stripe_payment
from .race import BARRIER_TIMEOUT, postgresql_only, race

pytestmark = [postgresql_only, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LOCKED = ("charge_refunded.locked", "refund_made_elsewhere.locked")


def _events(client: Client, business: Business, fake: FakeStripe) -> list[dict[str, Any]]:
    payment = paid_stripe_payment(client, business, fake)
    refunded = fake.refund_in_dashboard(payment.provider_reference, 1500)
    (item,) = fake.refunds.values()
    return [refunded, fake.event("refund.created", item)]


def _delivery(business: Business, event: dict[str, Any]) -> Callable[[], str]:
    def post() -> str:
        return str(deliver(Client(), business, event).json()["detail"])

    return post


@contextmanager
def _paused(callback: Callable[[], Any]) -> Iterator[None]:
    with ExitStack() as stack:
        for name in LOCKED:
            stack.enter_context(installed_pause(name, callback))
        yield


def _refunded(business: Business) -> list[int]:
    with unscoped():
        return sorted(Refund.objects.filter(business=business).values_list("amount", flat=True))


def test_a_dashboard_refund_told_twice_at_once_is_counted_once(
    client: Client, stripe_business: Business, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    events = _events(client, stripe_business, fake_stripe)
    # Each holds the lock a moment: the other, not ordered by it, would record meanwhile.
    with _paused(lambda: time.sleep(0.3)):
        outcomes = race(*(_delivery(stripe_business, event) for event in events))
    assert [outcome.error for outcome in outcomes] == [None, None]
    assert [outcome.result for outcome in outcomes] == ["refunds recorded", "refund succeeded"]
    assert _refunded(stripe_business) == [1500]


def test_negative_control_without_the_lock_the_refund_is_counted_twice(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db.models import QuerySet

    events = _events(client, stripe_business, fake_stripe)
    monkeypatch.setattr(QuerySet, "select_for_update", lambda self, **kwargs: self)
    barrier = threading.Barrier(2, timeout=BARRIER_TIMEOUT)
    with _paused(barrier.wait):
        outcomes = race(*(_delivery(stripe_business, event) for event in events))
    assert [outcome.error for outcome in outcomes] == [None, None]
    assert _refunded(stripe_business) == [1500, 1500]
