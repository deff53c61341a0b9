"""The dashboard's top offerings: paid order lines net of tax and refunds, and services by
their kept bookings and late-cancellation fees; the card and its CSV download."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.test import Client

from tillbook.catalog.models import Offering
from tillbook.core.models import Business
from tillbook.insights.offerings import OfferingResult, top_offerings
from tillbook.insights.periods import Period
from tillbook.orders.models import Order, OrderState
from tillbook.orders.services import order_place
from tillbook.scheduling.models import Booking, BookingState, Service, StaffMember

from ..orders.shop import Shop, build_shop
from ..scheduling.conftest import berlin, coach, make_service, monday_in, service  # noqa: F401
from .test_bookings import book


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def sold(shop: Shop, items: list[Any], *, paid_at: datetime | None, refunded: int = 0) -> Order:
    order = order_place(business=shop.business, items=items, email="ann@example.com", name="Ann")
    if paid_at is not None:  # what payment_confirm and order_refund leave on the order
        Order.objects.filter(pk=order.pk).update(
            state=OrderState.PAID, paid_at=paid_at, refunded_total=refunded
        )
    return order


@pytest.fixture
def week(
    scoped: Business,
    coach: StaffMember,  # noqa: F811
    service: Service,  # noqa: F811
) -> Period:
    monday = monday_in(2)
    period = Period(monday, monday + timedelta(days=6), scoped.zone)
    tuesday_noon = datetime.combine(monday + timedelta(days=1), time(12), tzinfo=scoped.zone)
    shop = build_shop(scoped)
    sold(shop, [shop.ticket(2), shop.book()], paid_at=tuesday_noon)  # 8,000 + 1,900
    sold(shop, [shop.book(), shop.ticket(student=True)], paid_at=tuesday_noon, refunded=1100)
    sold(shop, [shop.book()], paid_at=period.end)  # the first instant after the week
    sold(shop, [shop.ticket()], paid_at=None)  # never paid
    sold(shop, [shop.book()], paid_at=tuesday_noon, refunded=1900)  # refunded in full
    Offering.objects.filter(pk=shop.ebook.pk).update(title="Pricing Workbook, 2nd edition")
    for day, minutes, state in (
        (1, 60, BookingState.COMPLETED),
        (2, 30, BookingState.NO_SHOW),
        (3, 60, BookingState.CONFIRMED),
        (4, 60, BookingState.CANCELLED),
    ):
        booking = book(service, coach, berlin(monday + timedelta(days=day), 10), minutes, state)
    Booking.objects.filter(pk=booking.pk).update(cancellation_fee=6000)
    book(service, coach, berlin(monday + timedelta(days=8), 10), 60, BookingState.COMPLETED)
    return period


def test_offerings_ranked_by_net_revenue(scoped: Business, week: Period) -> None:
    # The second order kept 3,300 of 4,400: the workbook 1,900 × 3/4, the student seat
    # 2,500 × 3/4. The fully refunded workbook still counts as sold, for nothing.
    assert top_offerings(business=scoped, period=week) == [
        OfferingResult("service", "Coaching call", 3, 12000 + 7000 + 12000 + 6000),
        OfferingResult("ticket", "Pricing Workshop", 3, 8000 + 1875),
        OfferingResult("download", "Pricing Workbook, 2nd edition", 3, 1900 + 1425 + 0),
    ]
    assert top_offerings(business=scoped, period=week, limit=1)[0].title == "Coaching call"
    assert top_offerings(business=scoped, period=week.previous()) == []


def test_the_card_and_its_download(owner_client: Client, week: Period) -> None:
    query = f"from={week.first}&to={week.last}"
    page = owner_client.get(f"/manage/acme/?{query}").content.decode()
    assert (
        '<tr><td>Pricing Workshop <span class="muted">Event tickets</span></td>'
        '<td class="num">3</td><td class="num">$98.75</td></tr>'
    ) in page
    assert (
        f'href="/manage/acme/insights/export/offerings.csv?{query.replace("&", "&amp;")}"' in page
    )
    response = owner_client.get(f"/manage/acme/insights/export/offerings.csv?{query}")
    lines = b"".join(response.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert lines == [
        "kind,offering,currency,sold,net_revenue",
        "service,Coaching call,USD,3,370.00",
        "ticket,Pricing Workshop,USD,3,98.75",
        'download,"Pricing Workbook, 2nd edition",USD,3,33.25',
    ]


def test_an_empty_range_says_so(owner_client: Client, make_service: Callable[..., Service]) -> None:  # noqa: F811
    page = owner_client.get("/manage/acme/?from=2020-01-01&to=2020-01-31").content.decode()
    assert "No offering or service sold in this range." in page
