"""The processor's webhook arrives ten times at once (a retry storm) while the buyer's browser
returns: the payment is confirmed once and its purpose fulfilled once.

payment_confirm locks the payment request row before reading the payment's state. The pause
point holds each confirmer right after it took its locks; without the lock (negative control,
the lock replaced by a plain read) several confirmers see "pending" and fulfil the order again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from tillbook.core.hooks import installed_pause
from tillbook.core.models import Business
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope
from tillbook.payments.models import Payment, PaymentState, ProcessorEvent
from tillbook.payments.services import payment_confirm, payment_request_create, payment_start

from ..payments.fixtures import RecordingPurpose
from .race import postgresql_only, race

pytestmark = [postgresql_only, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ARRIVALS = 10


@pytest.fixture
def pending_payment(business: Business, purpose: RecordingPurpose) -> Payment:
    with business_scope(business):
        request = payment_request_create(
            business=business, purpose="test", title="Ticket", amount=Money(2500, "USD")
        )
        return payment_start(
            request=request, provider="sandbox", return_url="https://x.test/"
        ).payment


def _arrival(payment: Payment, index: int) -> Callable[[], bool]:
    def confirm() -> bool:
        with business_scope(payment.business):
            # Half are webhook deliveries of the same event, half are the buyer's return.
            event = {"id": "evt_same", "type": "payment_intent.succeeded"} if index % 2 else None
            return payment_confirm(payment=payment, event=event).newly_succeeded

    return confirm


def test_ten_concurrent_arrivals_confirm_once(
    pending_payment: Payment, purpose: RecordingPurpose
) -> None:
    outcomes = race(*[_arrival(pending_payment, index) for index in range(ARRIVALS)])
    assert all(outcome.error is None for outcome in outcomes), [o.error for o in outcomes]
    assert sorted(outcome.result for outcome in outcomes) == [False] * (ARRIVALS - 1) + [True]
    with business_scope(pending_payment.business):
        assert Payment.objects.get().state == PaymentState.SUCCEEDED
        assert ProcessorEvent.objects.count() <= 1
    assert len(purpose.paid) == 1


def test_negative_control_without_the_lock_fulfils_more_than_once(
    pending_payment: Payment,
    purpose: RecordingPurpose,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db.models import QuerySet

    # Switch row locking off: select_for_update() becomes a plain read.
    monkeypatch.setattr(QuerySet, "select_for_update", lambda self, **kwargs: self)
    barrier = threading.Barrier(ARRIVALS, timeout=30)
    with installed_pause("payment_confirm.locked", barrier.wait):
        outcomes = race(*[_arrival(pending_payment, index) for index in range(ARRIVALS)])
    fulfilled = sum(1 for outcome in outcomes if outcome.result)
    assert fulfilled > 1
    assert len(purpose.paid) > 1
