"""One confirmed booking with its staff member, for tests outside this folder (the access
matrices) that need something of every kind to point a URL at."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from tillbook.core.models import Business, User
from tillbook.core.money import Money
from tillbook.scheduling.services import CustomerDetails, booking_hold, booking_submit_details
from tillbook.scheduling.setup import service_create, staff_hours_set, staff_member_create


def scheduling_world(business: Business, owner: User | None) -> dict[str, Any]:
    """Call inside business_scope(business)."""
    coach = staff_member_create(
        business=business, name="Carla Coach", timezone_name="UTC", actor=owner
    )
    staff_hours_set(staff=coach, weekly={day: [(0, 1440)] for day in range(7)})
    service = service_create(
        business=business,
        name="Coaching call",
        durations=[(60, Money(12000, business.currency))],
        staff=[coach],
        payment_mode="later",
        min_notice_minutes=0,
    )
    day = (timezone.now() + timedelta(days=10)).date()
    start = datetime(day.year, day.month, day.day, 10, tzinfo=ZoneInfo("UTC"))
    held = booking_hold(service=service, duration_minutes=60, start=start, staff=coach)
    booking = booking_submit_details(
        booking=held.booking, details=CustomerDetails(name="Ann", email="ann.booked@example.com")
    )
    return {
        "booking_id": booking.pk,
        "staff_id": coach.pk,
        "service_id": service.pk,
        "service_slug": service.slug,
        "booking_secret": held.secret,
    }
