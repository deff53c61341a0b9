from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

from django.db.models import Q, QuerySet

from tillbook.core.models import Business
from tillbook.orders.models import Order, Ticket


def orders_search(
    *,
    business: Business,
    query: str = "",
    state: str = "",
    kind: str = "",
    since: date | None = None,
    until: date | None = None,
    shortfall: bool = False,
) -> QuerySet[Order]:
    orders = Order.objects.filter(business=business)
    query = query.replace("\x00", "").strip()
    if query:
        match = Q(email__icontains=query) | Q(name__icontains=query)
        digits = query.lstrip("#")
        # isdecimal, not isdigit: isdigit also accepts "²", which int() refuses.
        if digits.isdecimal() and len(digits) < 10:
            match |= Q(number=int(digits))
        orders = orders.filter(match)
    if state:
        orders = orders.filter(state=state)
    if kind:
        orders = orders.filter(lines__kind=kind).distinct()
    if since:
        orders = orders.filter(created_at__date__gte=since)
    if until:
        orders = orders.filter(created_at__date__lte=until)
    if shortfall:
        orders = orders.filter(capacity_shortfall=True)
    return orders.order_by("-created_at", "-id")


ORDER_COLUMNS = (
    "number",
    "created_at",
    "state",
    "email",
    "name",
    "items",
    "currency",
    "subtotal",
    "discount",
    "shipping",
    "tax",
    "total",
    "refunded",
    "paid_at",
    "utm_source",
    "utm_medium",
    "utm_campaign",
)


def orders_csv_rows(orders: Iterable[Order]) -> Iterator[list[object]]:
    from tillbook.core.money import Money

    def major(amount: int, currency: str) -> str:
        return Money(amount, currency).major_string()

    yield list(ORDER_COLUMNS)
    for order in orders:
        items = "; ".join(f"{line.quantity} x {line.label}" for line in order.lines.all())
        yield [
            order.number,
            order.created_at.isoformat(),
            order.state,
            order.email,
            order.name,
            items,
            order.currency,
            major(order.subtotal, order.currency),
            major(order.discount_total, order.currency),
            major(order.shipping_total, order.currency),
            major(order.tax_total, order.currency),
            major(order.total, order.currency),
            major(order.refunded_total, order.currency),
            order.paid_at.isoformat() if order.paid_at else "",
            order.utm_source,
            order.utm_medium,
            order.utm_campaign,
        ]


def attendees_search(*, business: Business, event_id: int, query: str = "") -> QuerySet[Ticket]:
    tickets = Ticket.objects.filter(business=business, event_id=event_id, is_valid=True)
    query = query.replace("\x00", "").strip()
    if query:
        match = Q(attendee_name__icontains=query) | Q(attendee_email__icontains=query)
        if query.isdecimal() and len(query) < 10:
            match |= Q(pk=int(query)) | Q(order__number=int(query))
        tickets = tickets.filter(match)
    return tickets.select_related("order").order_by("attendee_name", "pk")
