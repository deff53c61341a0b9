"""A customer books and pays a session in a real browser with the sandbox processor, then moves
it through the link in the confirmation email."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from tests.scheduling.conftest import berlin, monday_in
from tillbook.core.models import Business
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope
from tillbook.messaging.models import OutboxMessage
from tillbook.scheduling.models import Booking, BookingState
from tillbook.scheduling.setup import service_create, staff_hours_set, staff_member_create


@pytest.fixture
def coaching(business: Business, settings: Any, live_server: LiveServer) -> Business:
    # Links in emails and the processor's return address must point at this live server.
    settings.BASE_URL = live_server.url
    with business_scope(business):
        coach = staff_member_create(
            business=business, name="Carla Coach", timezone_name="Europe/Berlin"
        )
        staff_hours_set(staff=coach, weekly={day: [(9 * 60, 17 * 60)] for day in range(5)})
        service_create(
            business=business,
            name="Coaching call",
            durations=[(60, Money(12000, "USD"))],
            staff=[coach],
            payment_mode="full",
            min_notice_minutes=0,
        )
    return business


def test_book_pay_and_reschedule_through_the_emailed_link(page: Page, coaching: Business) -> None:
    monday = monday_in(2)
    page.goto(
        f"/acme/book/coaching-call/?tz=Europe/Berlin&month={monday:%Y-%m}&day={monday.isoformat()}"
    )
    expect(page.get_by_role("heading", name="Coaching call")).to_be_visible()
    page.get_by_role("button", name="10:00", exact=True).click()

    expect(page.get_by_text("Fill in your details to continue.")).to_be_visible()
    page.get_by_label("Your name").fill("Ann Example")
    page.get_by_label("Email").fill("ann@example.com")
    page.get_by_role("button", name="Continue to payment").click()

    page.get_by_role("button", name="Pay with Sandbox (test payments)").click()
    expect(page.get_by_text("Test mode.")).to_be_visible()
    page.get_by_role("button", name="Pay successfully").click()

    expect(page.get_by_role("heading", name="Your booking is confirmed")).to_be_visible()
    with business_scope(coaching):
        booking = Booking.objects.get()
        assert (booking.state, booking.start) == (BookingState.CONFIRMED, berlin(monday, 10))
        confirmation = OutboxMessage.objects.get(template="booking_confirmed")
    link = next(line for line in confirmation.body_text.splitlines() if "/booking/" in line)

    page.goto(link.strip() + "reschedule/")
    tuesday = monday + timedelta(days=1)
    day = page.locator("h2", has_text=f"{tuesday:%A} {tuesday.day} {tuesday:%B}")
    expect(day).to_be_visible()
    day.locator("xpath=following-sibling::p[1]").get_by_role("button", name="14:00").click()

    expect(page.get_by_role("heading", name="Your booking is confirmed")).to_be_visible()
    expect(page.get_by_text(f"{tuesday:%A} {tuesday.day} {tuesday:%B %Y}, 14:00")).to_be_visible()
    with business_scope(coaching):
        booking.refresh_from_db()
        assert (booking.start, booking.sequence) == (berlin(tuesday, 14), 1)
        assert OutboxMessage.objects.filter(template="booking_rescheduled").count() == 1

    page.goto(link.strip() + "reschedule/")
    expect(page.get_by_text("This link was already used to reschedule")).to_be_visible()
