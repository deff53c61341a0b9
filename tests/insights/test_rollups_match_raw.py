"""The rollups give exactly what the raw payments give, for ranges that cut months and
daylight-saving changes (Chicago: 8 March and 1 November 2026) anywhere."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tillbook.core.models import Business
from tillbook.insights import rollups
from tillbook.insights.customers import (
    CustomerCounts,
    customers_new_and_returning,
    lifetime_value_by_cohort,
)
from tillbook.insights.ledger import revenue_by_day, sales_totals
from tillbook.insights.periods import Period
from tillbook.insights.rollups import rollups_refresh
from tillbook.payments.models import Payment, PaymentState, Refund, RefundState

CHICAGO = ZoneInfo("America/Chicago")
EMAILS = [f"Customer{n}@Example.com" for n in range(12)]


def history(business: Business, *, seed: int, first: date, days: int, count: int) -> None:
    """Payments at random instants, many near local midnight (where zones and DST bite)."""
    picker = random.Random(seed)
    for _ in range(count):
        day = first + timedelta(days=picker.randrange(days))
        minute = picker.choice((0, 1, 59, 60, 23 * 60 + 59, 22 * 60, picker.randrange(1440)))
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=minute)
        email = picker.choice(EMAILS)
        payment = Payment.objects.create(
            business=business,
            provider="sandbox",
            state=PaymentState.SUCCEEDED,
            currency="USD",
            amount=picker.randrange(100, 9000),
            tip_amount=picker.choice((0, 0, 150)),
            fee_amount=picker.randrange(0, 90),
            customer_email=email.upper() if picker.random() < 0.3 else email,
            succeeded_at=moment,
        )
        if picker.random() < 0.2:
            Refund.objects.create(
                business=business,
                payment=payment,
                state=RefundState.SUCCEEDED,
                currency="USD",
                amount=payment.amount // 2,
                idempotency_key=f"test:{payment.pk}",
                succeeded_at=moment + timedelta(hours=picker.randrange(1, 200)),
            )


def raw_customers(business: Business, period: Period) -> CustomerCounts:
    paid = Payment.objects.filter(business=business, state=PaymentState.SUCCEEDED)
    firsts: dict[str, datetime] = {}
    paying: set[str] = set()
    for email, moment in paid.values_list("customer_email", "succeeded_at"):
        key = email.lower()
        firsts[key] = min(firsts.get(key, moment), moment)
        if period.start <= moment < period.end:
            paying.add(key)
    new = {key for key, moment in firsts.items() if period.start <= moment < period.end}
    return CustomerCounts(new=len(new), returning=len(paying - new))


def raw_days(business: Business, period: Period) -> dict[date, tuple[int, int, int]]:
    """(gross, refunds, fees) per local day of the period, from the payment rows."""
    days = dict.fromkeys(period.each_day(), (0, 0, 0))
    for payment in Payment.objects.filter(
        business=business, succeeded_at__gte=period.start, succeeded_at__lt=period.end
    ):
        day = payment.succeeded_at.astimezone(period.zone).date()
        gross, refunds, fees = days[day]
        paid = payment.amount + payment.tip_amount
        days[day] = (gross + paid, refunds, fees + payment.fee_amount)
    for refund in Refund.objects.filter(
        business=business, succeeded_at__gte=period.start, succeeded_at__lt=period.end
    ):
        day = refund.succeeded_at.astimezone(period.zone).date()
        gross, refunds, fees = days[day]
        days[day] = (gross, refunds + refund.amount, fees)
    return days


def raw_cohorts(business: Business) -> list[tuple[date, int, int, int]]:
    """(month, customers, orders, revenue less refunds) per month of first payment."""
    firsts: dict[str, datetime] = {}
    orders: dict[str, int] = {}
    revenue: dict[str, int] = {}
    for payment in Payment.objects.filter(business=business, state=PaymentState.SUCCEEDED):
        key = payment.customer_email.lower()
        firsts[key] = min(firsts.get(key, payment.succeeded_at), payment.succeeded_at)
        orders[key] = orders.get(key, 0) + 1
        refunded = sum(r.amount for r in payment.refunds.all() if r.state == RefundState.SUCCEEDED)
        paid = payment.amount + payment.tip_amount - refunded
        revenue[key] = revenue.get(key, 0) + paid
    months: dict[date, tuple[int, int, int]] = {}
    for key, first in firsts.items():
        month = first.astimezone(CHICAGO).date().replace(day=1)
        customers, count, total = months.get(month, (0, 0, 0))
        months[month] = (customers + 1, count + orders[key], total + revenue[key])
    return sorted((month, *figures) for month, figures in months.items())


def served_cohorts(business: Business) -> list[tuple[date, int, int, int]]:
    return [
        (c.month, c.customers, c.orders, c.revenue)
        for c in lifetime_value_by_cohort(business=business)
    ]


RANGES = [
    (date(2026, 2, 27), date(2026, 3, 9)),  # a month edge and the spring-forward day
    (date(2026, 3, 8), date(2026, 3, 8)),  # the 23-hour day alone
    (date(2026, 2, 1), date(2026, 11, 30)),  # whole months, both DST changes
    (date(2026, 1, 15), date(2026, 12, 14)),  # partial months at both ends
    (date(2026, 10, 31), date(2026, 11, 2)),  # a month edge and the 25-hour day
    (date(2026, 11, 1), date(2026, 11, 1)),
    (date(2026, 6, 30), date(2026, 7, 1)),
]


@pytest.mark.parametrize("relink_all_above", [1000, 0])  # the chosen customers' days, or all
def test_rollups_match_the_raw_payments_across_month_edges_and_dst(
    scoped: Business, monkeypatch: pytest.MonkeyPatch, relink_all_above: int
) -> None:
    monkeypatch.setattr(rollups, "RELINK_ALL_ABOVE", relink_all_above)
    monkeypatch.setattr(rollups, "VALUES_BY_CUSTOMER_UP_TO", relink_all_above)
    scoped.timezone = "America/Chicago"
    scoped.save()
    # Sales arrive in three batches, the last one imported history older than the others, so
    # the rollups are refreshed incrementally and have to relink customers' earlier days (and
    # move customers to an earlier cohort).
    history(scoped, seed=1, first=date(2026, 2, 20), days=120, count=120)
    rollups_refresh(business=scoped)
    assert served_cohorts(scoped) == raw_cohorts(scoped)
    history(scoped, seed=2, first=date(2026, 6, 1), days=200, count=120)
    history(scoped, seed=4, first=date(2026, 10, 31), days=3, count=15)  # fall back
    rollups_refresh(business=scoped)
    assert served_cohorts(scoped) == raw_cohorts(scoped)
    history(scoped, seed=3, first=date(2026, 1, 1), days=365, count=160)
    rollups_refresh(business=scoped)
    assert served_cohorts(scoped) == raw_cohorts(scoped)
    seen: list[CustomerCounts] = []
    for first, last in RANGES:
        for period in (Period(first, last, CHICAGO), Period(first, last, CHICAGO).previous()):
            raw = raw_days(scoped, period)
            served = {
                point.day: (point.gross, point.refunds, point.fees)
                for point in revenue_by_day(business=scoped, period=period)
            }
            assert served == raw, period
            totals = sales_totals(business=scoped, period=period).get("USD")
            summed = tuple(sum(values) for values in zip(*raw.values(), strict=True))
            got = (totals.gross, totals.refunds, totals.fees) if totals else (0, 0, 0)
            assert got == summed, period
            counted = customers_new_and_returning(business=scoped, period=period)
            assert counted == raw_customers(scoped, period), period
            seen.append(counted)
    # The data really holds what the ranges are meant to test: sales on both DST days and
    # customers who come back within a range.
    dst_days = Period(date(2026, 3, 8), date(2026, 11, 1), CHICAGO)
    raw = raw_days(scoped, dst_days)
    assert raw[date(2026, 3, 8)][0] > 0 and raw[date(2026, 11, 1)][0] > 0
    assert any(counts.new > 0 and counts.returning > 0 for counts in seen)
