"""Stripe tells of a refund that came back twice, at once: charge.refund.updated (here without
the id of its balance line) and refund.failed (with it), each a real HTTP request on its own
database connection. One line of money coming back, one audit entry.

The refund's row lock in _refund_came_back (its payment's, for a refund made in Stripe's
dashboard that Tillbook knows only within the charge's refunded total) orders them: the
second finds the first's line. The
negative control switches the lock off and holds both deliveries after it: each writes a line
under its own key, and the refund is taken off the refunds twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tillbook.core.hooks import installed_pause
from tillbook.core.models import AuditEntry, Business, User
from tillbook.core.scoping import unscoped
from tillbook.payments.models import BalanceKind, BalanceTransaction

from ..fakes.stripe_server import FakeStripe
from ..payments.fixtures import RecordingPurpose, deliver
from ..payments.test_stripe_refunds import _refunded, refunded_in_dashboard
from .race import BARRIER_TIMEOUT, postgresql_only, race

pytestmark = [postgresql_only, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _events(
    client: Client, business: Business, fake: FakeStripe, owner: User, made: str
) -> list[dict[str, Any]]:
    """charge.refund.updated (not naming its line) and refund.failed of one $20.00 refund,
    made through Tillbook or in Stripe's dashboard (known only within the charge's total)."""
    if made == "through Tillbook":
        _, refund = _refunded(client, business, fake, owner)
        refund_id = refund.provider_reference
    else:
        refunded_in_dashboard(client, business, fake, 2000)
        (refund_id,) = fake.refunds
    updated = fake.refund_settles(refund_id, "failed", "unknown")
    failed = fake.event("refund.failed", updated["data"]["object"])
    del updated["data"]["object"]["failure_balance_transaction"]
    return [updated, failed]


def _delivery(business: Business, event: dict[str, Any]) -> Callable[[], str]:
    def post() -> str:
        return str(deliver(Client(), business, event).json()["detail"])

    return post


def _written(business: Business) -> tuple[list[int], int]:
    with unscoped():
        lines = BalanceTransaction.objects.filter(business=business, kind=BalanceKind.ADJUSTMENT)
        audit = AuditEntry.objects.filter(business=business, action="refund.failed").count()
        return sorted(lines.values_list("gross", flat=True)), audit


MADE = ["through Tillbook", "in Stripe's dashboard"]


@pytest.mark.parametrize("made", MADE)
def test_two_events_of_a_refund_coming_back_at_once_write_one_line(
    made: str,
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
) -> None:
    events = _events(client, stripe_business, fake_stripe, owner, made)
    # Each holds the lock a moment: the other, not ordered by it, would write meanwhile.
    with installed_pause("refund_came_back.locked", lambda: time.sleep(0.3)):
        outcomes = race(*(_delivery(stripe_business, event) for event in events))
    assert [outcome.error for outcome in outcomes] == [None, None]
    assert [outcome.result for outcome in outcomes] == ["refund failed", "refund failed"]
    assert _written(stripe_business) == ([2000], 1)


@pytest.mark.parametrize("made", MADE)
def test_negative_control_without_the_lock_both_write_a_line(
    made: str,
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db.models import QuerySet

    events = _events(client, stripe_business, fake_stripe, owner, made)
    monkeypatch.setattr(QuerySet, "select_for_update", lambda self, **kwargs: self)
    barrier = threading.Barrier(2, timeout=BARRIER_TIMEOUT)
    with installed_pause("refund_came_back.locked", barrier.wait):
        outcomes = race(*(_delivery(stripe_business, event) for event in events))
    assert [outcome.error for outcome in outcomes] == [None, None]
    assert _written(stripe_business) == ([2000, 2000], 2)
