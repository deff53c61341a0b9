"""A refund made in Stripe's dashboard told twice at once: charge.refunded without its list
of refunds (which records what Stripe refunded beyond what Tillbook knows, as a refund of the
charge's total) and refund.created (which records the refund by its own id, taking its money
out of such a total), each a real HTTP request on its own database connection.

The payment's row lock orders them: the second counts what the first recorded, and the
$15.00 is refunded once. The negative control switches the locks off and holds both after
them: each finds nothing recorded, and the refund is counted twice.

And a refund of ours settled by both events at once: every writer of a payment's refunds
takes the payment's lock before the refund's; the negative control takes the refund's first
in refund_settle, and PostgreSQL finds the two deadlocked.
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
from tillbook.core.models import AuditEntry, Business, User
from tillbook.core.scoping import business_scope, unscoped
from tillbook.payments import services, webhooks
from tillbook.payments.models import BalanceTransaction, Refund, RefundState
from tillbook.payments.services import refund_create

from ..fakes.stripe_server import FakeStripe
from ..payments.fixtures import RecordingPurpose, deliver
from ..payments.test_stripe_refunds import paid_stripe_payment, usd
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


def _recorded(business: Business) -> list[tuple[str, int, str]]:
    with unscoped():
        refunds = Refund.objects.filter(business=business)
        return sorted(refunds.values_list("provider_reference", "amount", "state"))


def test_a_dashboard_refund_told_twice_at_once_is_counted_once(
    client: Client, stripe_business: Business, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    events = _events(client, stripe_business, fake_stripe)
    # Each holds the lock a moment: the other, not ordered by it, would record meanwhile.
    with _paused(lambda: time.sleep(0.3)):
        outcomes = race(*(_delivery(stripe_business, event) for event in events))
    assert [outcome.error for outcome in outcomes] == [None, None]
    assert [outcome.result for outcome in outcomes] == ["refunds recorded", "refund succeeded"]
    (item,) = fake_stripe.refunds.values()
    assert _recorded(stripe_business) == [(item["id"], 1500, RefundState.SUCCEEDED)]
    with unscoped():
        told = AuditEntry.objects.filter(business=stripe_business, action="refund.external")
        assert told.count() == 1


def _lost_answer_events(
    client: Client, business: Business, fake: FakeStripe, owner: User
) -> list[dict[str, Any]]:
    """A $20.00 refund of ours whose answer from Stripe was lost (pending, no id): its
    charge.refunded (no list of refunds) and its refund.created."""
    payment = paid_stripe_payment(client, business, fake)
    fake.lose_next_response.add("/v1/refunds")
    with business_scope(business):
        refund = refund_create(payment=payment, amount=usd(2000), reason="", actor=owner)
    assert refund.state == RefundState.PENDING
    (item,) = fake.refunds.values()
    charge = fake.charges[item["charge"]]
    return [fake.event("charge.refunded", charge), fake.event("refund.created", item)]


def _second(business: Business, event: dict[str, Any]) -> Callable[[], str]:
    """The delivery of `event` once the first one holds the payment's lock."""
    post = _delivery(business, event)

    def later() -> str:
        time.sleep(0.3)
        return post()

    return later


def test_our_refund_settled_by_both_events_at_once_does_not_deadlock(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
) -> None:
    """charge.refunded holds the payment's lock and settles the refund (the refund's lock);
    refund.created settles it too. Both take the payment's lock first: the second waits, then
    gives the refund its id."""
    refunded, created = _lost_answer_events(client, stripe_business, fake_stripe, owner)
    with installed_pause("charge_refunded.locked", lambda: time.sleep(1.0)):
        outcomes = race(_delivery(stripe_business, refunded), _second(stripe_business, created))
    assert [outcome.error for outcome in outcomes] == [None, None]
    assert [outcome.result for outcome in outcomes] == ["refunds recorded", "refund succeeded"]
    (item,) = fake_stripe.refunds.values()
    assert _recorded(stripe_business) == [(item["id"], 2000, RefundState.SUCCEEDED)]


def test_negative_control_a_refund_locked_before_its_payment_deadlocks(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without the payment's lock first in refund_settle, refund.created locks the refund and
    waits for the payment, which charge.refunded holds while it waits for the refund:
    PostgreSQL breaks the deadlock by failing one, whose handling is left to a retry."""
    refunded, created = _lost_answer_events(client, stripe_business, fake_stripe, owner)
    monkeypatch.setattr(services, "refund_payment_lock", lambda refund: None)
    with installed_pause("charge_refunded.locked", lambda: time.sleep(1.0)):
        outcomes = race(_delivery(stripe_business, refunded), _second(stripe_business, created))
    assert [outcome.error for outcome in outcomes] == [None, None]
    results = sorted(str(outcome.result) for outcome in outcomes)
    assert "accepted; handling will be retried" in results
    errors = [str(record.exc_info[1]) for record in caplog.records if record.exc_info]
    assert any("deadlock detected" in error for error in errors)


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


def _came_back_and_created(
    client: Client, business: Business, fake: FakeStripe, owner: User
) -> list[dict[str, Any]]:
    """Our lost-answer refund, settled (without its id) by charge.refunded; then its coming
    back and its refund.created (made before, as Stripe made it) to be delivered at once."""
    refunded, created = _lost_answer_events(client, business, fake, owner)
    assert deliver(client, business, refunded).json()["detail"] == "refunds recorded"
    (item,) = fake.refunds.values()
    came_back = fake.refund_settles(item["id"], "failed", "unknown")
    return [came_back, created]


def test_our_refund_coming_back_while_it_takes_its_id_does_not_deadlock(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
) -> None:
    came_back, created = _came_back_and_created(client, stripe_business, fake_stripe, owner)
    with installed_pause("refund_came_back.locked", lambda: time.sleep(1.0)):
        outcomes = race(_delivery(stripe_business, came_back), _second(stripe_business, created))
    assert [outcome.error for outcome in outcomes] == [None, None]
    assert [outcome.result for outcome in outcomes] == ["refund failed", "refund succeeded"]
    (item,) = fake_stripe.refunds.values()
    assert _recorded(stripe_business) == [(item["id"], 2000, RefundState.SUCCEEDED)]
    with unscoped():
        lines = BalanceTransaction.objects.filter(business=stripe_business, kind="adjustment")
        assert list(lines.values_list("gross", flat=True)) == [2000]


def test_negative_control_the_coming_back_locking_the_refund_first_deadlocks(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The coming back holds the refund and writes a line that needs its payment's row;
    refund.created holds the payment (refund_settle) and waits for the refund."""
    came_back, created = _came_back_and_created(client, stripe_business, fake_stripe, owner)
    monkeypatch.setattr(webhooks, "refund_payment_lock", lambda refund: None)
    with installed_pause("refund_came_back.locked", lambda: time.sleep(1.0)):
        outcomes = race(_delivery(stripe_business, came_back), _second(stripe_business, created))
    assert [outcome.error for outcome in outcomes] == [None, None]
    assert "accepted; handling will be retried" in [outcome.result for outcome in outcomes]
    errors = [str(record.exc_info[1]) for record in caplog.records if record.exc_info]
    assert any("deadlock detected" in error for error in errors)
