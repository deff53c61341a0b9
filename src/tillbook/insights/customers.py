"""Customers seen through their payments: new versus returning, and value by monthly cohort.

A customer is known by the email on the payment (lower-cased), which both live checkouts and
every processor import carry. Bookings join the same cohorts once the scheduling app records
paid bookings as payments (they are paid through PaymentRequests, so they already count).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Count,
    F,
    Min,
    Q,
    Sum,
)
from django.utils import timezone

from tillbook.core.models import Business
from tillbook.core.money import per_each
from tillbook.insights.models import CustomerDay, CustomerFirstPayment, CustomerValue
from tillbook.insights.periods import Period
from tillbook.insights.rollups import customer_values_refresh
from tillbook.payments.models import (
    PaymentRequest,
    RequestState,
)


@dataclass(frozen=True)
class CustomerCounts:
    new: int
    returning: int


def customers_new_and_returning(*, business: Business, period: Period) -> CustomerCounts:
    """Customers who paid in the period: new ones paid for the first time in it, returning
    ones had paid before it. Both are counts over rollups (CustomerFirstPayment, CustomerDay),
    so no query scans the business's whole history or counts distinct emails."""
    new = CustomerFirstPayment.objects.filter(
        business=business, first_at__gte=period.start, first_at__lt=period.end
    ).count()
    # A returning customer has exactly one day in the period whose previous paying day lies
    # before it: the first time they came back in the period. Counting those days counts them.
    returning = CustomerDay.objects.filter(
        business=business,
        day__gte=period.first,
        day__lte=period.last,
        previous_day__lt=period.first,
    ).count()
    return CustomerCounts(new=new, returning=returning)


@dataclass(frozen=True)
class Cohort:
    month: date
    currency: str
    customers: int  # of the month's new customers, those who paid in this currency
    orders: int
    revenue: int

    @property
    def lifetime_value(self) -> int:
        return per_each(self.revenue, self.customers) if self.customers else 0

    @property
    def orders_per_customer(self) -> float:
        return round(self.orders / self.customers, 2) if self.customers else 0.0


def lifetime_value_by_cohort(*, business: Business, until: date | None = None) -> list[Cohort]:
    """Per month (business zone) of each customer's first payment, in whatever currency, which
    is when "new customers" counts them: per currency, the customers who paid in it, their
    orders and their revenue to date, less what was refunded to them (processor fees are a
    cost of the business, not less value from the customer). Repeat purchases count, whatever
    was bought. Currencies are never added together: the business's own comes first.

    Sums the CustomerValue rollup, brought up to date first."""
    customer_values_refresh(business=business)
    values = connection.ops.quote_name(CustomerValue._meta.db_table)
    operations: Any = connection.ops  # the stubs still give the pre-4.2 signature
    month, month_params = operations.datetime_trunc_sql("month", "first_at", (), business.timezone)
    sql = (
        f"SELECT {month}, currency, COUNT(*), SUM(orders), SUM(revenue) "  # noqa: S608
        f"FROM {values} WHERE business_id = %s GROUP BY 1, 2"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, (*month_params, business.pk))
        rows = cursor.fetchall()
    cohorts = []
    for month_start, currency, customers, orders, revenue in rows:
        day = _month_day(month_start, business)
        if until is not None and day > until:
            continue
        cohorts.append(Cohort(day, currency, int(customers), int(orders), int(revenue)))
    cohorts.sort(key=lambda c: (c.currency != business.currency, c.currency, c.month))
    return cohorts


def _month_day(value: date | datetime | str, business: Business) -> date:
    if isinstance(value, str):  # SQLite returns text
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            return timezone.localtime(value, business.zone).date()
        return value.date()
    return value


@dataclass(frozen=True)
class OpenRequests:
    count: int
    amount: int
    oldest_days: int | None
    older_than_week: int


def open_payment_requests(*, business: Business) -> OpenRequests:
    """Requests still waiting to be paid (not those past their expiry, as a lapsed checkout),
    and how much of them is still due (a request paid in part waits for the rest)."""
    now = timezone.now()
    found = (
        PaymentRequest.objects.filter(
            business=business, state=RequestState.OPEN, currency=business.currency
        )
        .exclude(expires_at__lte=now)
        .aggregate(
            count=Count("id"),
            amount=Sum(F("amount") - F("amount_paid")),
            oldest=Min("created_at"),
            stale=Count("id", filter=Q(created_at__lt=now - timedelta(days=7))),
        )
    )
    oldest = found["oldest"]
    return OpenRequests(
        count=found["count"],
        amount=found["amount"] or 0,
        oldest_days=(now - oldest).days if oldest else None,
        older_than_week=found["stale"],
    )
