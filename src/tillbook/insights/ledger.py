"""Sales, refunds, fees and payouts from the payments ledger, per currency.

Definitions (the dashboard's help text says the same):
- gross sales: what customers paid for succeeded payments (amount + tip), by when they paid;
- refunds: succeeded refunds by when they were made, plus refund lines whose payment is not
  known (Stripe's balance history does not name it);
- fees: the processors' fees on those payments, plus fee lines (Stripe's Radar or account
  fees), less fees returned with refunds;
- net revenue = gross sales − refunds − fees.
Each currency is kept apart: a EUR sale is never added into a USD total.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce, TruncDate

from tillbook.core.models import Business
from tillbook.insights.periods import Period
from tillbook.payments.models import (
    BalanceKind,
    BalanceTransaction,
    Payment,
    PaymentState,
    Payout,
    Refund,
    RefundState,
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
        return self.gross // self.orders if self.orders else 0


def _succeeded_payments(business: Business, period: Period) -> object:
    return Payment.objects.filter(
        business=business,
        state=PaymentState.SUCCEEDED,
        succeeded_at__gte=period.start,
        succeeded_at__lt=period.end,
    )


def _refunds(business: Business, period: Period) -> object:
    return Refund.objects.filter(
        business=business,
        state=RefundState.SUCCEEDED,
        succeeded_at__gte=period.start,
        succeeded_at__lt=period.end,
    )


def _lines(business: Business, period: Period) -> object:
    return BalanceTransaction.objects.filter(
        business=business, occurred_at__gte=period.start, occurred_at__lt=period.end
    )


# Lines that change fees or refunds without a Payment or Refund row to carry them.
_EXTRA_REFUNDS = Q(kind=BalanceKind.REFUND, refund__isnull=True)
_FEE_LINES = Q(kind=BalanceKind.FEE)
_RETURNED_FEES = Q(kind=BalanceKind.REFUND)


def sales_totals(*, business: Business, period: Period) -> dict[str, SalesTotals]:
    """Totals per currency for the period: three grouped queries."""
    totals: dict[str, SalesTotals] = {}

    def of(currency: str) -> SalesTotals:
        return totals.setdefault(currency, SalesTotals(currency))

    for row in (
        _succeeded_payments(business, period)  # type: ignore[attr-defined]
        .values("currency")
        .annotate(
            gross=Sum(F("amount") + F("tip_amount")),
            tips=Sum("tip_amount"),
            tax=Sum("tax_amount"),
            fees=Sum(Coalesce("fee_amount", 0)),
            orders=Count("id"),
        )
    ):
        total = of(row["currency"])
        total.gross, total.tips, total.tax = row["gross"], row["tips"], row["tax"]
        total.fees, total.orders = row["fees"], row["orders"]
    for row in _refunds(business, period).values("currency").annotate(total=Sum("amount")):  # type: ignore[attr-defined]
        of(row["currency"]).refunds += row["total"]
    for row in (
        _lines(business, period)  # type: ignore[attr-defined]
        .filter(_EXTRA_REFUNDS | _FEE_LINES | _RETURNED_FEES)
        .values("currency")
        .annotate(
            refunds=Coalesce(Sum("gross", filter=_EXTRA_REFUNDS), 0),
            fee_lines=Coalesce(Sum("net", filter=_FEE_LINES), 0),
            returned=Coalesce(Sum("fee", filter=_RETURNED_FEES), 0),
        )
    ):
        total = of(row["currency"])
        total.refunds -= row["refunds"]  # refund lines are negative
        total.fees += row["returned"] - row["fee_lines"]  # fee lines are negative
    return totals


@dataclass
class DayPoint:
    day: date
    gross: int = 0
    refunds: int = 0
    fees: int = 0

    @property
    def net(self) -> int:
        return self.gross - self.refunds - self.fees


def revenue_by_day(*, business: Business, period: Period, currency: str) -> list[DayPoint]:
    """Every day of the period in one currency; the days add up to sales_totals exactly."""
    days = {day: DayPoint(day) for day in period.each_day()}
    zone = period.zone
    for row in (
        _succeeded_payments(business, period)  # type: ignore[attr-defined]
        .filter(currency=currency)
        .annotate(day=TruncDate("succeeded_at", tzinfo=zone))
        .values("day")
        .annotate(gross=Sum(F("amount") + F("tip_amount")), fees=Sum(Coalesce("fee_amount", 0)))
    ):
        days[row["day"]].gross += row["gross"]
        days[row["day"]].fees += row["fees"]
    for row in (
        _refunds(business, period)  # type: ignore[attr-defined]
        .filter(currency=currency)
        .annotate(day=TruncDate("succeeded_at", tzinfo=zone))
        .values("day")
        .annotate(total=Sum("amount"))
    ):
        days[row["day"]].refunds += row["total"]
    for row in (
        _lines(business, period)  # type: ignore[attr-defined]
        .filter(currency=currency)
        .filter(_EXTRA_REFUNDS | _FEE_LINES | _RETURNED_FEES)
        .annotate(day=TruncDate("occurred_at", tzinfo=zone))
        .values("day")
        .annotate(
            refunds=Coalesce(Sum("gross", filter=_EXTRA_REFUNDS), 0),
            fee_lines=Coalesce(Sum("net", filter=_FEE_LINES), 0),
            returned=Coalesce(Sum("fee", filter=_RETURNED_FEES), 0),
        )
    ):
        point = days[row["day"]]
        point.refunds -= row["refunds"]
        point.fees += row["returned"] - row["fee_lines"]
    return list(days.values())


@dataclass
class PayoutSummary:
    provider: str
    currency: str
    amount: int = 0
    count: int = 0
    payouts: list[dict[str, object]] = field(default_factory=list)


def payouts_by_processor(*, business: Business, period: Period) -> list[PayoutSummary]:
    """Payouts that arrived in the period, per processor and currency, each with what it
    carried from its balance lines: amount = sales − refunds − fees + other."""
    found = (
        Payout.objects.filter(
            business=business, arrival_date__gte=period.first, arrival_date__lte=period.last
        )
        .annotate(
            sales=Coalesce(Sum("lines__gross", filter=Q(lines__kind=BalanceKind.CHARGE)), 0),
            refunds=Coalesce(Sum("lines__gross", filter=Q(lines__kind=BalanceKind.REFUND)), 0),
            fees=Coalesce(
                Sum(
                    "lines__fee",
                    filter=Q(lines__kind__in=[BalanceKind.CHARGE, BalanceKind.REFUND]),
                ),
                0,
            ),
            other=Coalesce(
                Sum(
                    "lines__net",
                    filter=~Q(
                        lines__kind__in=[
                            BalanceKind.CHARGE,
                            BalanceKind.REFUND,
                            BalanceKind.PAYOUT,
                        ]
                    ),
                ),
                0,
            ),
            line_count=Count("lines", filter=~Q(lines__kind=BalanceKind.PAYOUT)),
        )
        .order_by("provider", "currency", "arrival_date", "pk")
    )
    summaries: dict[tuple[str, str], PayoutSummary] = defaultdict(lambda: PayoutSummary("", ""))
    for payout in found:
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
                "sales": payout.sales,
                "refunds": -payout.refunds,
                "fees": payout.fees,
                "other": payout.other,
                "lines": payout.line_count,
            }
        )
    return list(summaries.values())
