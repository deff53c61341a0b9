"""Every list endpoint answers with the same number of queries for 2 items as for 20: a page
of 200 must not mean 200 extra round trips to the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tillbook.catalog.services import (
    event_save,
    offering_create,
    quota_save,
    ticket_type_save,
    variant_save,
)
from tillbook.core.models import Business
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope
from tillbook.customers.services import customer_create
from tillbook.orders.pricing import CartItem
from tillbook.orders.services import order_place
from tillbook.payments.sandbox import sandbox_succeed
from tillbook.payments.services import payment_link_create, payment_start, refund_create
from tillbook.scheduling.services import CustomerDetails, booking_hold, booking_submit_details
from tillbook.scheduling.setup import service_create, staff_hours_set, staff_member_create

BERLIN = ZoneInfo("Europe/Berlin")
EVERY_DAY = {day: [(0, 24 * 60)] for day in range(7)}
# Far enough ahead that no booking falls before the minimum notice, on a fixed Monday.
MONDAY = (timezone.now() + timedelta(days=14)).astimezone(BERLIN).date()
MONDAY -= timedelta(days=MONDAY.weekday())


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def queries(api: Client, url: str) -> tuple[int, int]:
    """How many queries the list took, and how many items it listed."""
    api.get(url)  # the first request of a token also notes when it was last used
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    assert response.status_code == 200, response.content
    body = response.json()
    return len(captured.captured_queries), len(body["items"] if isinstance(body, dict) else body)


def add_offerings(business: Business, start: int, stop: int) -> None:
    for index in range(start, stop):
        workshop = offering_create(
            business=business, actor=None, kind="ticket", title=f"Workshop {index}", price=4000
        )
        event_save(
            offering=workshop,
            starts_at=timezone.now() + timedelta(days=20),
            ends_at=None,
            timezone_name="America/Chicago",
            venue_name="Studio",
            venue_address="",
        )
        quota = quota_save(offering=workshop, name="Seats", size=10)
        ticket_type_save(offering=workshop, name="Regular", price=None, quota=quota)
        shirt = offering_create(
            business=business, actor=None, kind="physical", title=f"Shirt {index}", price=2500
        )
        variant_save(offering=shirt, variant=shirt.variants.get(), name="M", stock=3, price=None)


def add_paid_orders(business: Business, start: int, stop: int) -> None:
    book = offering_create(
        business=business,
        actor=None,
        kind="course",
        title=f"Course {start}",
        price=1900,
        state="published",
    )
    for index in range(start, stop):
        order = order_place(
            business=business,
            items=[CartItem(book.pk, 1)],
            email=f"buyer{index}@example.com",
            name="Buyer",
        )
        assert order.payment_request is not None
        payment = payment_start(
            request=order.payment_request, provider="sandbox", return_url="https://x.test/"
        ).payment
        sandbox_succeed(payment)
        payment.refresh_from_db()
        refund_create(payment=payment, amount=Money(100, "USD"), reason="", actor=None)


def add_links(business: Business, start: int, stop: int) -> None:
    for index in range(start, stop):
        payment_link_create(
            business=business, actor=None, title=f"Link {index}", amount=Money(500, "USD")
        )


def add_customers(business: Business, start: int, stop: int) -> None:
    for index in range(start, stop):
        customer_create(
            business=business, actor=None, email=f"c{index}@example.com", tags=["vip", "new"]
        )


def add_staff_and_services(business: Business, start: int, stop: int) -> None:
    for index in range(start, stop):
        member = staff_member_create(
            business=business, name=f"Coach {index}", timezone_name="Europe/Berlin"
        )
        staff_hours_set(staff=member, weekly=EVERY_DAY)
        service_create(
            business=business,
            name=f"Call {index}",
            durations=[(60, Money(12000, "USD")), (30, Money(7000, "USD"))],
            staff=[member],
            min_notice_minutes=0,
            payment_mode="later",
        )


def add_bookings(business: Business, start: int, stop: int) -> None:
    add_staff_and_services(business, start, stop)
    from tillbook.scheduling.models import Service

    for index in range(start, stop):
        service = Service.objects.get(business=business, name=f"Call {index}")
        held = booking_hold(
            service=service,
            duration_minutes=60,
            start=datetime(MONDAY.year, MONDAY.month, MONDAY.day, 10, tzinfo=BERLIN),
            staff=None,
        )
        booking_submit_details(
            booking=held.booking,
            details=CustomerDetails(name="Ann", email=f"ann{index}@example.com"),
        )


def _week() -> str:
    begin = datetime(MONDAY.year, MONDAY.month, MONDAY.day, tzinfo=UTC)
    end = begin + timedelta(days=7)
    return f"start={begin.isoformat()}&end={end.isoformat()}".replace("+", "%2B")


LISTS: list[tuple[str, Callable[[Business, int, int], None], str]] = [
    # Two offerings (a workshop and a shirt) per item.
    ("offerings", add_offerings, "/api/v1/offerings?limit=200"),
    ("orders", add_paid_orders, "/api/v1/orders?limit=200"),
    ("payments", add_paid_orders, "/api/v1/payments?limit=200"),
    ("payment-links", add_links, "/api/v1/payment-links?limit=200"),
    ("customers", add_customers, "/api/v1/customers?limit=200"),
    ("services", add_staff_and_services, "/api/v1/services"),
    ("staff", add_staff_and_services, "/api/v1/staff"),
    ("bookings", add_bookings, f"/api/v1/bookings?{_week()}"),
]


@pytest.mark.parametrize(("name", "add", "url"), LISTS, ids=[name for name, _, _ in LISTS])
def test_a_list_costs_the_same_queries_for_2_items_as_for_20(
    api: Client,
    business: Business,
    name: str,
    add: Callable[[Business, int, int], None],
    url: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with business_scope(business), django_capture_on_commit_callbacks(execute=False):
        add(business, 0, 2)
    few, listed_few = queries(api, url)
    with business_scope(business), django_capture_on_commit_callbacks(execute=False):
        add(business, 2, 20)
    many, listed_many = queries(api, url)
    per_item = 2 if name == "offerings" else 1
    assert (listed_few, listed_many) == (2 * per_item, 20 * per_item)
    assert (name, many) == (name, few)
