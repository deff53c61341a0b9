"""Money rules of a booking, as pure functions: what is due when booking, and what a
cancellation costs. The booking carries a copy of the policy it was made under."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tillbook.core.money import Money

PERCENT = Decimal(100)


def amount_due_now(
    *, mode: str, total: Money, deposit_fixed: Money, deposit_percent: int, seats: int
) -> Money:
    """What the customer pays to confirm: all, a deposit (never more than the total), nothing."""
    if mode == "full":
        return total
    if mode == "deposit_fixed":
        return min(deposit_fixed * seats, total)
    if mode == "deposit_percent":
        return min(total.scale(Decimal(deposit_percent) / PERCENT), total)
    return Money.zero(total.currency)


@dataclass(frozen=True)
class CancellationTerms:
    is_late: bool
    fee: Money  # what the business keeps
    refund: Money  # what goes back to the customer


def cancellation_terms(
    *,
    start: datetime,
    now: datetime,
    window_hours: int,
    fee_percent: int,
    total: Money,
    paid: Money,
    by_business: bool,
) -> CancellationTerms:
    """A cancellation inside the window keeps the fee (a share of the total, never more than
    was paid); the business cancelling, or the customer in good time, refunds everything."""
    is_late = not by_business and start - now < timedelta(hours=window_hours)
    if not is_late:
        return CancellationTerms(False, Money.zero(paid.currency), paid)
    fee = min(total.scale(Decimal(fee_percent) / PERCENT), paid)
    return CancellationTerms(True, fee, paid - fee)


def late_fee(*, total: Money, fee_percent: int) -> Money:
    return total.scale(Decimal(fee_percent) / PERCENT)
