"""A coaching business with one coach in Berlin and a one-hour paid session."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tillbook.core.models import Business
from tillbook.core.money import Money
from tillbook.scheduling.models import Service, StaffMember
from tillbook.scheduling.services import CustomerDetails
from tillbook.scheduling.setup import service_create, staff_hours_set, staff_member_create

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS_NINE_TO_FIVE = {day: [(9 * 60, 17 * 60)] for day in range(5)}


def monday_in(weeks: int) -> date:
    today = timezone.now().astimezone(BERLIN).date()
    return today - timedelta(days=today.weekday()) + timedelta(weeks=weeks)


def berlin(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


ANN = CustomerDetails(name="Ann Example", email="ann@example.com")


@pytest.fixture
def coach(scoped: Business) -> StaffMember:
    member = staff_member_create(business=scoped, name="Carla Coach", timezone_name="Europe/Berlin")
    staff_hours_set(staff=member, weekly=WEEKDAYS_NINE_TO_FIVE)
    return member


@pytest.fixture
def make_service(scoped: Business, coach: StaffMember) -> Callable[..., Service]:
    def make(name: str = "Coaching call", **options: Any) -> Service:
        durations = options.pop("durations", [(60, Money(12000, "USD")), (30, Money(7000, "USD"))])
        staff = options.pop("staff", [coach])
        options.setdefault("min_notice_minutes", 0)
        return service_create(
            business=scoped, name=name, durations=durations, staff=staff, **options
        )

    return make


@pytest.fixture
def service(make_service: Callable[..., Service]) -> Service:
    return make_service(payment_mode="full", reminder_offsets=[1440, 120])


@pytest.fixture
def next_week() -> date:
    return monday_in(2)
