"""Sales, refunds, fees and payouts from the payments ledger, per currency.

Definitions (the dashboard's help text says the same):
- gross sales: what customers paid for succeeded payments (amount + tip), by when they paid;
- refunds: succeeded refunds by when they were made, plus refund lines whose payment is not
  known (Stripe's balance history does not name it), plus what chargebacks and other
  processor adjustments took back (less what won disputes gave back);
- fees: the processors' fees on those payments, plus fee lines (Stripe's Radar or account
  fees) and disputes' fees, less fees returned with refunds;
- net revenue = gross sales − refunds − fees.
Each currency is kept apart: a EUR sale is never added into a USD total. Sales figures are
read from the DailyLedger rollup (insights.rollups), refreshed before the dashboard is drawn.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import F, Q, Sum
from django.utils import timezone

from tillbook.core.models import Business
from tillbook.core.money import per_each
from tillbook.insights.models import DailyLedger, PayoutContents
from tillbook.insights.periods import Period
from tillbook.insights.rollups import payout_contents_summed
from tillbook.payments.models import (
    Payout,
    PayoutState,
)


@dataclass
class SalesTotals:
    currency: str
    gross: int = 0
    tips: int = 0
    tax: int = 0
    fees: int = 0
    refunds: int = 0
    orders: int = 0

    @property
    def net(self) -> int:
        return self.gross - self.refunds - self.fees

    @property
    def average_order(self) -> int:
        return per_each(self.gross, self.orders) if self.orders else 0


def _daily(business: Business, period: Period) -> Any:
    return DailyLedger.objects.filter(
        business=business, day__gte=period.first, day__lte=period.last
    )


_SUMS = {
    "gross": Sum("gross"),
    "tips": Sum("tips"),
    "tax": Sum("tax"),
    "fees": Sum(F("fees") + F("fee_lines") + F("returned_fees")),
    "refunds": Sum(F("refunds") + F("unlinked_refunds") + F("adjustments")),
    "orders": Sum("orders"),
}


def sales_totals(*, business: Business, period: Period) -> dict[str, SalesTotals]:
    """Totals per currency for the period, from the daily rollup (one grouped query)."""
    return {
        row["currency"]: SalesTotals(**row)
        for row in _daily(business, period).values("currency").annotate(**_SUMS).order_by()
    }


@dataclass
class DayPoint:
    day: date
    gross: int = 0
    refunds: int = 0
    fees: int = 0

    @property
    def net(self) -> int:
        return self.gross - self.refunds - self.fees


def revenue_by_day(*, business: Business, period: Period) -> list[DayPoint]:
    """Every day of the period in the business's currency; the days add up to sales_totals."""
    days = {day: DayPoint(day) for day in period.each_day()}
    for row in (
        _daily(business, period)
        .filter(currency=business.currency)
        .values("day")
        .annotate(gross=_SUMS["gross"], refunds=_SUMS["refunds"], fees=_SUMS["fees"])
        .order_by()
    ):
        point = days[row["day"]]
        point.gross, point.refunds, point.fees = row["gross"], row["refunds"], row["fees"]
    return list(days.values())


PROCESSOR_NAMES = {"paypal": "PayPal", "stripe": "Stripe", "square": "Square"}


@dataclass
class PayoutSummary:
    provider: str
    currency: str
    amount: int = 0
    count: int = 0
    payouts: list[dict[str, object]] = field(default_factory=list)

    @property
    def processor(self) -> str:
        """The processor's name as its users write it ("PayPal")."""
        return PROCESSOR_NAMES.get(self.provider, self.provider.title())


def payouts_by_processor(*, business: Business, period: Period) -> list[PayoutSummary]:
    """Payouts that arrived in the period, per processor and currency, each with what it
    carried from its balance lines: amount = sales − refunds − fees + other. A payout that
    failed or was cancelled never arrived (its money went back to the processor's balance),
    nor has one still on its way and due after today (in "this month", the payout of the 28th
    on the 15th)."""
    today = timezone.localdate(timezone=business.zone)
    found = list(
        Payout.objects.filter(
            Q(state=PayoutState.PAID) | Q(arrival_date__lte=today),
            business=business,
            arrival_date__gte=period.first,
            arrival_date__lte=period.last,
        )
        .exclude(state__in=[PayoutState.FAILED, PayoutState.CANCELLED])
        .select_related("insights_contents")
        .order_by("provider", "currency", "arrival_date", "pk")
    )
    missing = [p.pk for p in found if not hasattr(p, "insights_contents")]
    if missing:
        # Lines linked after they were rolled up, or none (PayPal's withdrawals): summed for
        # this view, not stored. A view writing them raced the import that links the lines:
        # it waited on the contents' unique index for the import's commit, then failed, or
        # replaced the import's contents with what it had summed before.
        contents = payout_contents_summed(business=business, payout_ids=missing)
        for payout in found:
            if payout.pk in contents:
                payout.insights_contents = contents[payout.pk]
    summaries: dict[tuple[str, str], PayoutSummary] = defaultdict(lambda: PayoutSummary("", ""))
    for payout in found:
        carried = getattr(payout, "insights_contents", None) or PayoutContents()
        key = (payout.provider, payout.currency)
        summary = summaries[key]
        summary.provider, summary.currency = key
        summary.amount += payout.amount
        summary.count += 1
        summary.payouts.append(
            {
                "reference": payout.provider_reference,
                "arrival_date": payout.arrival_date,
                "amount": payout.amount,
                "sales": carried.sales,
                "refunds": carried.refunds,
                "fees": carried.fees,
                "other": carried.other,
                "lines": carried.lines,
            }
        )
    return list(summaries.values())
