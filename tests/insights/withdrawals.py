"""A PayPal withdrawal known without its lines, and the line a later file links to it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tillbook.core.models import Business
from tillbook.payments.models import BalanceKind, BalanceTransaction, Payout, PayoutState


def paypal_withdrawal(business: Business) -> Payout:
    """$100.00 that arrived on 20 September 2026."""
    return Payout.objects.create(
        business=business,
        provider="paypal",
        provider_reference="WD-1",
        state=PayoutState.PAID,
        currency="USD",
        amount=10000,
        arrival_date=date(2026, 9, 20),
    )


def paypal_sale_line(business: Business, payout: Payout) -> BalanceTransaction:
    """A sale of $103.00 (a $3.00 fee) that the withdrawal carried."""
    return BalanceTransaction.objects.create(
        business=business,
        provider="paypal",
        provider_reference="TX-1",
        kind=BalanceKind.CHARGE,
        currency="USD",
        gross=10300,
        fee=300,
        net=10000,
        occurred_at=datetime(2026, 9, 18, 12, tzinfo=UTC),
        payout=payout,
    )
