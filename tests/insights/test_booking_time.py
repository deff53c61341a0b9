"""Booked and offered staff time when a team shares one rota and a class sells several seats."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from tillbook.core.models import Business
from tillbook.core.money import Money
from tillbook.insights.bookings import booking_metrics
from tillbook.insights.periods import Period
from tillbook.scheduling.models import Service, StaffMember
from tillbook.scheduling.setup import staff_hours_set, staff_member_create

from ..scheduling.conftest import (  # noqa: F401
    WEEKDAYS_NINE_TO_FIVE,
    berlin,
    coach,
    make_service,
    monday_in,
)
from .test_bookings import book


def test_a_shared_rota_counts_each_person_and_a_class_counts_its_time_once(
    scoped: Business,
    coach: StaffMember,  # noqa: F811
    make_service: Callable[..., Service],  # noqa: F811
) -> None:
    twin = staff_member_create(business=scoped, name="Tess Twin", timezone_name="Europe/Berlin")
    staff_hours_set(staff=twin, weekly=WEEKDAYS_NINE_TO_FIVE)  # the same rota as the coach
    early = staff_member_create(business=scoped, name="Eli Early", timezone_name="Europe/Berlin")
    staff_hours_set(staff=early, weekly={0: [(7 * 60, 9 * 60)]})  # Mondays 7 to 9 only
    call = make_service(staff=[coach, twin])
    group = make_service(
        "Group class", durations=[(90, Money(2000, "USD"))], capacity=5, staff=[coach]
    )
    monday = monday_in(2)
    tuesday, wednesday = monday + timedelta(days=1), monday + timedelta(days=2)
    for _ in range(3):  # three seats of one 90-minute class
        book(group, coach, berlin(tuesday, 10), 90, "completed")
    book(call, coach, berlin(wednesday, 10), 60, "completed")
    book(call, twin, berlin(wednesday, 10), 30, "no_show")
    book(call, twin, berlin(wednesday, 14), 60, "cancelled")
    found = booking_metrics(
        business=scoped, period=Period(monday, monday + timedelta(days=6), scoped.zone)
    )
    assert (found.bookings, found.completed, found.no_shows, found.cancelled) == (5, 4, 1, 1)
    assert found.booked_minutes == 90 + 60 + 30
    assert found.offered_minutes == 2 * 5 * 8 * 60 + 2 * 60
