"""Offerings ranked by the net revenue they brought in a period: catalog offerings from the
lines of paid orders, bookable services from their bookings.

Definitions (the dashboard's help text says the same):
- a catalog offering earns what buyers paid for its order lines (after discounts, without
  tax) in orders paid in the period, less refunds: each line keeps the share of its order
  that was not refunded, rounded down to the minor unit;
- a service earns the price of its bookings in the period (by start) that were kept
  (confirmed, completed or missed), plus the late-cancellation fees of cancelled ones, less
  what was refunded of them (insights.bookings._refunded).
Only the business's currency counts; processor fees are not shared out per offering.
Lines of a deleted offering are listed under the title they were sold with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Case, F, Sum, Value, When

from tillbook.catalog.models import Offering
from tillbook.core.models import Business
from tillbook.insights.bookings import ServiceSales, service_sales
from tillbook.insights.periods import Period
from tillbook.orders.models import PAID_STATES, OrderLine

SERVICE = "service"


@dataclass
class OfferingResult:
    kind: str
    title: str
    sold: int  # units in orders, or bookings kept
    net_revenue: int


def top_offerings(
    *,
    business: Business,
    period: Period,
    limit: int | None = 10,
    services: Sequence[ServiceSales] | None = None,
) -> list[OfferingResult]:
    """Offerings by net revenue in the period, highest first (ties by title). `services`:
    the period's BookingMetrics.by_service when the caller has them (the dashboard does), so
    the bookings are not read twice."""
    if services is None:
        services = service_sales(business=business, period=period)
    found = _catalog_offerings(business, period) + _services(services)
    found.sort(key=lambda r: (-r.net_revenue, r.title, r.kind))
    return found if limit is None else found[:limit]


def _catalog_offerings(business: Business, period: Period) -> list[OfferingResult]:
    kept_share = Case(
        When(order__total=0, then=Value(0)),
        default=(F("total") - F("tax_amount"))
        * (F("order__total") - F("order__refunded_total"))
        / F("order__total"),
    )
    rows = (
        OrderLine.objects.filter(
            business=business,
            order__state__in=PAID_STATES,
            order__currency=business.currency,
            order__paid_at__gte=period.start,
            order__paid_at__lt=period.end,
        )
        .values("offering_id", "kind", "title")
        .annotate(sold=Sum("quantity"), net=Sum(kept_share))
        .order_by()
    )
    by_offering: dict[tuple[int | None, str, str], OfferingResult] = {}
    for row in rows:
        # An offering still in the catalog is one row, whatever titles its lines carry.
        key = (row["offering_id"], row["kind"], "" if row["offering_id"] else row["title"])
        result = by_offering.setdefault(key, OfferingResult(row["kind"], row["title"], 0, 0))
        result.sold += row["sold"]
        result.net_revenue += row["net"]
    titles = dict(
        Offering.objects.filter(
            business=business, pk__in={key[0] for key in by_offering if key[0]}
        ).values_list("pk", "title")
    )
    for (offering_id, _, _), result in by_offering.items():
        if offering_id is not None:
            result.title = titles.get(offering_id, result.title)
    return list(by_offering.values())


def _services(sales: Sequence[ServiceSales]) -> list[OfferingResult]:
    return [OfferingResult(SERVICE, sale.name, sale.bookings, sale.revenue) for sale in sales]
