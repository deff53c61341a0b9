"""The dashboard's top offerings: paid order lines net of tax and refunds, and services by
their kept bookings and late-cancellation fees less their refunds; the card and its CSV
download."""

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
        "Bookable service,Coaching call,USD,3,370.00",
        "Event tickets,Pricing Workshop,USD,3,98.75",
        'Digital download,"Pricing Workbook, 2nd edition",USD,3,33.25',
    ]


def test_an_empty_range_says_so(owner_client: Client, make_service: Callable[..., Service]) -> None:  # noqa: F811
    page = owner_client.get("/manage/acme/?from=2020-01-01&to=2020-01-31").content.decode()
    assert "No offering or service sold in this range." in page


def _paid(booking: Booking, amount: int, *refunds: int, purpose: str = "booking") -> None:
    """A succeeded payment towards the booking, and succeeded refunds of it."""
    from tillbook.payments.models import Payment, PaymentRequest, Refund

    request = PaymentRequest.objects.create(
        business=booking.business,
        token=f"t{booking.pk}-{purpose}",
        purpose=purpose,
        purpose_id=str(booking.pk),
        title="Coaching call",
        currency="USD",
        amount=amount,
    )
    payment = Payment.objects.create(
        business=booking.business,
        request=request,
        provider="manual",
        state="succeeded",
        currency="USD",
        amount=amount,
        fee_amount=0,
        succeeded_at=booking.created_at,
    )
    for n, refunded in enumerate(refunds):
        Refund.objects.create(
            business=booking.business,
            payment=payment,
            state="succeeded",
            currency="USD",
            amount=refunded,
            idempotency_key=f"r{payment.pk}-{n}",
            succeeded_at=booking.created_at,
        )


def test_services_earn_their_bookings_net_of_refunds_as_products_do(
    owner_client: Client,
    scoped: Business,
    coach: StaffMember,  # noqa: F811
    service: Service,  # noqa: F811
) -> None:
    """A kept booking earns its price less what was refunded of it; a cancelled one its late
    fee, less what was refunded of the fee after the cancellation gave the rest back."""
    monday = monday_in(2)
    week = Period(monday, monday + timedelta(days=6), scoped.zone)
    day = lambda n, hour=10: berlin(monday + timedelta(days=n), hour)  # noqa: E731
    # Completed, paid 120.00, 30.00 given back as a goodwill gesture: 90.00.
    goodwill = book(service, coach, day(1), 60, BookingState.COMPLETED)
    _paid(goodwill, 12000, 3000)
    # Confirmed, a 50.00 deposit and the 70.00 balance, the balance refunded: 50.00.
    balance = book(service, coach, day(2), 60, BookingState.CONFIRMED)
    _paid(balance, 5000)
    _paid(balance, 7000, 7000, purpose="booking_charge")
    # Cancelled late, paid 120.00: the cancellation kept 60.00 and refunded 60.00; later 20.00
    # of the fee was given back too: 40.00.
    late = book(service, coach, day(3), 60, BookingState.CANCELLED)
    Booking.objects.filter(pk=late.pk).update(cancellation_fee=6000)
    _paid(late, 12000, 6000, 2000)
    # Cancelled late, its 60.00 fee kept and the other 60.00 not yet refunded: 60.00.
    pending = book(service, coach, day(4), 60, BookingState.CANCELLED)
    Booking.objects.filter(pk=pending.pk).update(cancellation_fee=6000)
    _paid(pending, 12000)
    # Completed and paid on site (no payment in Tillbook): its price, 120.00.
    book(service, coach, day(1, 14), 60, BookingState.COMPLETED)
    assert top_offerings(business=scoped, period=week) == [
        OfferingResult("service", "Coaching call", 3, 9000 + 5000 + 4000 + 6000 + 12000),
    ]
    query = f"from={week.first}&to={week.last}"
    response = owner_client.get(f"/manage/acme/insights/export/offerings.csv?{query}")
    lines = b"".join(response.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert lines[1:] == ["Bookable service,Coaching call,USD,3,360.00"]
    report = owner_client.get(f"/manage/acme/insights/bookings/?{query}").content.decode()
    assert '<td class="num">2</td><td class="num">$360.00</td></tr>' in report
    response = owner_client.get(f"/manage/acme/insights/export/bookings.csv?{query}")
    lines = b"".join(response.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert lines[1] == "Coaching call,3,2,0,0.0,2,USD,360.00"
