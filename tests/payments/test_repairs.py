"""Ledger rows written wrong by an earlier Tillbook, mended by a data migration from the
processor's data they kept (payments/repairs.py, migration payments/0004)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from tillbook.core.models import Business
from tillbook.insights.models import PayoutContents
from tillbook.payments.models import BalanceTransaction, Payout
from tillbook.payments.repairs import manual_payment_emails_mend, stripe_payout_reversals_mend

pytestmark = pytest.mark.django_db

WHEN = datetime(2026, 9, 12, 9, tzinfo=UTC)


def _payout(business: Business, reference: str, amount: int, state: str = "paid") -> Payout:
    return Payout.objects.create(
        business=business,
        provider="stripe",
        provider_reference=reference,
        state=state,
        currency="USD",
        amount=amount,
    )


def _line(
    business: Business, reference: str, kind: str, net: int, payout: Payout | None, raw: dict
) -> BalanceTransaction:
    return BalanceTransaction.objects.create(
        business=business,
        provider="stripe",
        provider_reference=reference,
        kind=kind,
        currency="USD",
        gross=net,
        fee=0,
        net=net,
        occurred_at=WHEN,
        payout=payout,
        raw=raw,
    )


@pytest.fixture(params=["current", "migration"])
def registry(request: pytest.FixtureRequest) -> Any:
    """The app registry the mending runs with: today's models, or the historical ones its
    migration passes."""
    if request.param == "current":
        return apps
    loader = MigrationLoader(connection)
    return loader.project_state(("payments", "0005_mend_manual_payment_emails")).apps


def test_payout_failures_landed_as_payout_lines_are_mended(scoped: Business, registry: Any) -> None:
    # As a balance-history import left them: po_1's failure line linked to po_1 (which stayed
    # paid, with the failure's amount negated), not to po_2 which carried the money out again.
    po_1, po_2 = _payout(scoped, "po_1", -11146), _payout(scoped, "po_2", 0)
    _line(scoped, "txn_5", "charge", 11146, po_1, {"Type": "charge"})
    _line(scoped, "txn_6", "payout", -11146, po_1, {"Type": "payout", "Source": "po_1"})
    failure = _line(
        scoped,
        "txn_7",
        "payout",
        11146,
        po_1,
        {"id": "txn_7", "Type": "payout_failure", "Source": "po_1", "Transfer": "po_2"},
    )
    _line(scoped, "txn_8", "charge", 3854, po_2, {"Type": "charge", "Transfer": "po_2"})
    # As Stripe's API gave them: a cancellation read with the payout that carried it (po_4),
    # naming po_3, which Tillbook had recorded as paid.
    _payout(scoped, "po_3", 5000)
    po_4 = _payout(scoped, "po_4", 9000)
    cancel = _line(
        scoped,
        "txn_9",
        "payout",
        5000,
        po_4,
        {"object": "balance_transaction", "type": "payout_cancel", "source": "po_3"},
    )
    _line(
        scoped,
        "txn_10",
        "payout",
        -9000,
        po_4,
        {"object": "balance_transaction", "type": "payout", "source": "po_4"},
    )
    PayoutContents.objects.create(
        business=scoped, payout=po_2, sales=0, refunds=0, fees=0, other=3854, lines=1
    )

    assert stripe_payout_reversals_mend(registry) == 2

    failure.refresh_from_db()
    cancel.refresh_from_db()
    assert (failure.kind, failure.payout_id) == ("reversal", po_2.pk)
    assert (cancel.kind, cancel.payout_id) == ("reversal", po_4.pk)
    assert sorted(Payout.objects.values_list("provider_reference", "state", "amount")) == [
        ("po_1", "failed", 11146),  # the amount its own line sent out
        ("po_2", "paid", 11146 + 3854),  # known from its lines: their sum
        ("po_3", "cancelled", 5000),
        ("po_4", "paid", 9000),  # its own line's amount stands
    ]
    # Summed again when the dashboard next shows them.
    assert PayoutContents.objects.filter(payout=po_2).count() == 0
    # Mended once: a second run finds nothing.
    assert stripe_payout_reversals_mend(registry) == 0


def test_cash_payments_recorded_without_their_customers_email_are_given_it(
    scoped: Business, registry: Any
) -> None:
    from tillbook.customers.models import Customer
    from tillbook.insights.models import RollupReread
    from tillbook.payments.models import Payment

    ann = Customer.objects.create(business=scoped, email="Ann@Example.com", name="Ann")

    def payment(provider: str, customer: Customer | None, email: str) -> Payment:
        return Payment.objects.create(
            business=scoped,
            provider=provider,
            state="succeeded",
            currency="USD",
            amount=5000,
            customer=customer,
            customer_email=email,
            created_at=WHEN,
            succeeded_at=WHEN,
        )

    cash = payment("manual", ann, "")  # as manual_payment_record wrote them
    card = payment("stripe", ann, "ann@example.com")
    walk_in = payment("manual", None, "")  # no customer: nothing to give it

    assert manual_payment_emails_mend(registry) == 1

    assert sorted(Payment.objects.values_list("pk", "customer_email")) == [
        (cash.pk, "Ann@Example.com"),
        (card.pk, "ann@example.com"),
        (walk_in.pk, ""),
    ]
    assert sorted(RollupReread.objects.values_list("name", "payment_id")) == [
        ("customer_first_payment", cash.pk),
        ("customer_values", cash.pk),
        ("daily_ledger", cash.pk),
    ]
    assert manual_payment_emails_mend(registry) == 0


@pytest.fixture(params=["current", "migration"])
def registry_0008(request: pytest.FixtureRequest) -> Any:
    if request.param == "current":
        return apps
    loader = MigrationLoader(connection)
    return loader.project_state(("payments", "0008_mend_stripe_other_lines")).apps


def test_stripe_refund_failures_and_conversion_fees_landed_without_a_kind_are_given_it(
    scoped: Business, registry_0008: Any
) -> None:
    from tillbook.insights.models import RollupWatermark
    from tillbook.payments.repairs import stripe_other_lines_mend

    po_1 = _payout(scoped, "po_1", 3850)
    _line(scoped, "txn_1", "charge", 4000, po_1, {"Type": "charge"})
    failed = _line(scoped, "txn_2", "other", 2500, None, {"Type": "refund_failure"})
    fx = _line(scoped, "txn_3", "other", -150, po_1, {"type": "stripe_fx_fee"})  # from the API
    climate = _line(scoped, "txn_4", "other", -100, None, {"Type": "contribution"})
    paypal = BalanceTransaction.objects.create(
        business=scoped,
        provider="paypal",
        provider_reference="8AB",
        kind="other",
        currency="USD",
        gross=100,
        fee=0,
        net=100,
        occurred_at=WHEN,
        raw={"Type": "refund_failure"},  # not Stripe's: left alone
    )
    PayoutContents.objects.create(
        business=scoped, payout=po_1, sales=4000, refunds=0, fees=0, other=-150, lines=2
    )
    RollupWatermark.objects.create(
        business=scoped, name="daily_ledger", last_line_id=paypal.pk, zone=scoped.timezone
    )

    assert stripe_other_lines_mend(registry_0008) == 2

    assert sorted(BalanceTransaction.objects.values_list("provider_reference", "kind")) == [
        ("8AB", "other"),
        ("txn_1", "charge"),
        ("txn_2", "adjustment"),
        ("txn_3", "fee"),
        ("txn_4", "other"),
    ]
    assert (failed.pk < fx.pk < climate.pk) is True
    # The next refresh reads the lines again from the first one mended, and sums po_1 again.
    mark = RollupWatermark.objects.get(business=scoped, name="daily_ledger")
    assert mark.last_line_id == failed.pk - 1
    assert PayoutContents.objects.filter(payout=po_1).count() == 0
    assert stripe_other_lines_mend(registry_0008) == 0
