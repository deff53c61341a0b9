"""Two workers read the same Stripe payout's lines at once (payout.paid delivered twice, or
payout.paid and payout.reconciliation_completed close together), each on its own database
connection: the payout's row lock (and the rollups' hold, taken first) makes the second find
every line known and add nothing.

The negative control leaves the payout's row alone (no lock, no update), takes the rollups'
hold away and holds both after they looked up which lines are known: both write the same
lines and the second fails on the unique index.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError
from django.test import Client
from psycopg.errors import UniqueViolation

from tillbook.core.hooks import installed_pause
from tillbook.core.models import Business
from tillbook.core.scoping import business_scope, unscoped
from tillbook.payments.models import BalanceTransaction, Payout
from tillbook.payments.payouts import stripe_payout_lines_fetch

from ..fakes.stripe_server import FakeStripe
from ..payments.fixtures import deliver
from .race import BARRIER_TIMEOUT, postgresql_only, race

pytestmark = [postgresql_only, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def paid_payout(stripe_business: Business, fake_stripe: FakeStripe) -> str:
    """A paid payout of three charges and a fee, recorded from its webhook; lines not read."""
    charges = [fake_stripe.charge_elsewhere(amount) for amount in (2000, 3000, 4000)]
    fee = fake_stripe.fee_line(200, "Radar fee")
    payout = fake_stripe.pay_out([*(c["balance_transaction"] for c in charges), fee["id"]])
    response = deliver(Client(), stripe_business, fake_stripe.event("payout.paid", payout))
    assert response.json()["detail"] == "payout paid; its lines are being read"
    return str(payout["id"])


def _reader(business: Business, payout_id: str) -> Callable[[], str]:
    def read() -> str:
        with business_scope(business):
            return stripe_payout_lines_fetch(business=business, payout_id=payout_id)

    return read


def _lines(business: Business) -> list[tuple[str, int]]:
    with unscoped():
        return sorted(
            BalanceTransaction.objects.filter(business=business).values_list("kind", "net")
        )


def test_two_workers_reading_one_payout_land_its_lines_once(
    stripe_business: Business, paid_payout: str
) -> None:
    outcomes = race(_reader(stripe_business, paid_payout), _reader(stripe_business, paid_payout))
    assert [outcome.error for outcome in outcomes] == [None, None]
    assert sorted(outcome.result for outcome in outcomes) == [
        "0 lines, 5 known",
        "5 lines, 0 known",
    ]
    # 2000, 3000, 4000 less 2.9 % + 0.30 each; the Radar fee; the payout's own line.
    assert _lines(stripe_business) == [
        ("charge", 1912),
        ("charge", 2883),
        ("charge", 3854),
        ("fee", -200),
        ("payout", -8449),
    ]
    with unscoped():
        assert Payout.objects.get(business=stripe_business).amount == 8449


def test_the_payout_lock_alone_lands_the_lines_once(
    stripe_business: Business, paid_payout: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the rollups' hold in front of it, the payout's row lock still serialises the
    two: both are held until each is about to lock the payout, then let go together."""
    from tillbook.payments import payouts

    monkeypatch.setattr(payouts, "rollups_hold", lambda *, business: None)
    locked = payouts.stripe_payout_record
    gate = threading.Barrier(2, timeout=BARRIER_TIMEOUT)
    passed = threading.local()

    def gated(*, business: Business, payout: dict[str, Any]) -> Payout:
        if not getattr(passed, "gate", False):  # only before the first of its two calls
            passed.gate = True
            gate.wait()
        return locked(business=business, payout=payout)

    monkeypatch.setattr(payouts, "stripe_payout_record", gated)
    outcomes = race(_reader(stripe_business, paid_payout), _reader(stripe_business, paid_payout))
    assert [outcome.error for outcome in outcomes] == [None, None]
    assert sorted(outcome.result for outcome in outcomes) == [
        "0 lines, 5 known",
        "5 lines, 0 known",
    ]
    assert len(_lines(stripe_business)) == 5


def test_negative_control_without_the_payout_lock_the_second_worker_fails(
    stripe_business: Business, paid_payout: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tillbook.payments import payouts

    def unlocked(*, business: Business, payout: dict[str, Any]) -> Payout:
        # Neither SELECT … FOR UPDATE nor the UPDATE of the payout (which locks its row too).
        return Payout.objects.get(business=business, provider_reference=payout["id"])

    monkeypatch.setattr(payouts, "stripe_payout_record", unlocked)
    # The rollups' hold serialises the two as well (see rollups_hold): take it away too.
    monkeypatch.setattr(payouts, "rollups_hold", lambda *, business: None)
    barrier = threading.Barrier(2, timeout=BARRIER_TIMEOUT)
    with installed_pause("ledger_land.checked", barrier.wait):
        outcomes = race(
            _reader(stripe_business, paid_payout), _reader(stripe_business, paid_payout)
        )
    errors: list[Any] = [outcome.error for outcome in outcomes if outcome.error is not None]
    assert len(errors) == 1
    # Rows go in through COPY (core.bulk), so PostgreSQL's error arrives unwrapped by Django.
    assert isinstance(errors[0], IntegrityError | UniqueViolation)
    assert "duplicate key value violates unique constraint" in str(errors[0])
    assert len(_lines(stripe_business)) == 5
