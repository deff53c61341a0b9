"""Holding a slot: what is refused, with which message, and that nothing is written then."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from django.utils import timezone

from tillbook.core.errors import Conflict, InvalidInput
from tillbook.core.money import Money
from tillbook.messaging.models import OutboxMessage
from tillbook.scheduling.models import Booking, BookingState, Service, StaffMember
from tillbook.scheduling.services import SlotUnavailable, booking_hold
from tillbook.scheduling.setup import staff_hours_set, staff_member_create

from .conftest import berlin

pytestmark = pytest.mark.django_db


def nothing_written() -> None:
    assert Booking.objects.count() == 0
    assert OutboxMessage.objects.count() == 0


def test_a_hold_blocks_the_time_for_ten_minutes_with_the_policy_copied(
    service: Service, coach: StaffMember, next_week: date
) -> None:
    before = timezone.now()
    held = booking_hold(
        service=service,
        duration_minutes=60,
        start=berlin(next_week, 14),
        staff=coach,
        customer_timezone="America/New_York",
    )
    booking = Booking.objects.get()
    assert held.booking == booking
    assert booking.state == BookingState.HELD
    assert (booking.start, booking.end) == (berlin(next_week, 14), berlin(next_week, 15))
    assert booking.price == 12000 and booking.deposit == 12000 and booking.currency == "USD"
    assert booking.cancel_window_hours == 24 and booking.late_cancel_fee_percent == 100
    assert booking.reminder_offsets == [1440, 120]
    assert booking.customer_timezone == "America/New_York"
    assert before + timedelta(minutes=10) <= booking.hold_expires_at
    assert booking.hold_expires_at <= timezone.now() + timedelta(minutes=10)
    assert len(held.secret) >= 32
    assert OutboxMessage.objects.count() == 0


def test_the_second_customer_for_the_same_time_is_told_it_is_taken(
    service: Service, coach: StaffMember, next_week: date
) -> None:
    booking_hold(service=service, duration_minutes=60, start=berlin(next_week, 14), staff=coach)
    with pytest.raises(SlotUnavailable) as refused:
        booking_hold(
            service=service,
            duration_minutes=30,
            start=berlin(next_week, 14, 30),
            staff=coach,
            customer_timezone="Europe/Berlin",
        )
    assert refused.value.message == (
        f"14:30 on {next_week.day} {next_week:%B %Y} is no longer free; please pick another time."
    )
    assert refused.value.status_code == 409
    assert Booking.objects.count() == 1


def test_back_to_back_holds_are_both_allowed(
    service: Service, coach: StaffMember, next_week: date
) -> None:
    booking_hold(service=service, duration_minutes=60, start=berlin(next_week, 14), staff=coach)
    booking_hold(service=service, duration_minutes=60, start=berlin(next_week, 15), staff=coach)
    assert Booking.objects.count() == 2


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (
            lambda d: berlin(d, 8),
            "08:00 on {d} is not a time Coaching call can be booked; pick a listed time.",
        ),
        (
            lambda d: berlin(d + timedelta(days=5), 10),
            "10:00 on {d5} is not a time Coaching call can be booked; pick a listed time.",
        ),
        (
            lambda d: berlin(d, 16, 30),
            "16:30 on {d} is not a time Coaching call can be booked; pick a listed time.",
        ),
        (
            lambda d: berlin(d, 10, 10),
            "10:10 on {d} is not a time Coaching call can be booked; pick a listed time.",
        ),
        (
            lambda d: berlin(d - timedelta(weeks=4), 10),
            "10:00 on {past} has already passed; choose a later time.",
        ),
    ],
    ids=["before-hours", "saturday", "runs-past-closing", "off-the-grid", "in-the-past"],
)
def test_times_outside_the_offer_are_refused_and_nothing_is_written(
    service: Service, coach: StaffMember, next_week: date, when: Callable, message: str
) -> None:
    start = when(next_week)
    with pytest.raises(InvalidInput) as refused:
        booking_hold(
            service=service,
            duration_minutes=60,
            start=start,
            staff=coach,
            customer_timezone="Europe/Berlin",
        )
    fmt = "%-d %B %Y"
    assert refused.value.message == message.format(
        d=next_week.strftime(fmt),
        d5=(next_week + timedelta(days=5)).strftime(fmt),
        past=(next_week - timedelta(weeks=4)).strftime(fmt),
    )
    nothing_written()


def test_notice_and_horizon_are_explained(
    make_service: Callable[..., Service], coach: StaffMember
) -> None:
    service = make_service(min_notice_minutes=48 * 60, horizon_days=30)
    soon = timezone.now() + timedelta(hours=2)
    with pytest.raises(InvalidInput, match="needs 48 hours' notice"):
        booking_hold(service=service, duration_minutes=60, start=soon, staff=coach)
    with pytest.raises(InvalidInput, match="can be booked at most 30 days ahead"):
        booking_hold(
            service=service, duration_minutes=60, start=soon + timedelta(days=40), staff=coach
        )
    nothing_written()


def test_a_tampered_duration_is_refused(
    service: Service, coach: StaffMember, next_week: date
) -> None:
    with pytest.raises(InvalidInput) as refused:
        booking_hold(service=service, duration_minutes=5, start=berlin(next_week, 10), staff=coach)
    assert refused.value.message == (
        "Coaching call cannot be booked for 5 minutes; choose one of: 30, 60 minutes."
    )
    nothing_written()


def test_an_unknown_time_zone_is_refused(
    service: Service, coach: StaffMember, next_week: date
) -> None:
    with pytest.raises(InvalidInput) as refused:
        booking_hold(
            service=service,
            duration_minutes=60,
            start=berlin(next_week, 10),
            staff=coach,
            customer_timezone="Mars/Olympus_Mons",
        )
    assert refused.value.message == (
        "Mars/Olympus_Mons is not a time zone; use an IANA name such as Europe/Berlin or "
        "America/New_York."
    )
    nothing_written()


def test_a_naive_start_is_refused(service: Service, coach: StaffMember, next_week: date) -> None:
    with pytest.raises(InvalidInput, match="needs a time zone"):
        booking_hold(
            service=service,
            duration_minutes=60,
            start=berlin(next_week, 10).replace(tzinfo=None),
            staff=coach,
        )
    nothing_written()


def test_anyone_goes_to_the_least_booked_free_person(
    make_service: Callable[..., Service], coach: StaffMember, next_week: date, scoped
) -> None:
    second = staff_member_create(business=scoped, name="Bea", timezone_name="Europe/Berlin")
    staff_hours_set(staff=second, weekly={day: [(9 * 60, 17 * 60)] for day in range(5)})
    service = make_service(staff=[coach, second])
    first = booking_hold(
        service=service, duration_minutes=60, start=berlin(next_week, 9), staff=None
    )
    assert first.booking.staff == coach  # a tie: the lower id
    other = booking_hold(
        service=service, duration_minutes=60, start=berlin(next_week, 11), staff=None
    )
    assert other.booking.staff == second  # Carla already has one booking this week
    same_time = booking_hold(
        service=service, duration_minutes=60, start=berlin(next_week, 9), staff=None
    )
    assert same_time.booking.staff == second  # Carla is busy at 9
    with pytest.raises(SlotUnavailable):
        booking_hold(service=service, duration_minutes=60, start=berlin(next_week, 9), staff=None)


def test_group_sessions_take_seats_until_full(
    make_service: Callable[..., Service], coach: StaffMember, next_week: date
) -> None:
    workshop = make_service("Workshop", capacity=3, durations=[(120, Money(5000, "USD"))])
    start = berlin(next_week, 10)
    two = booking_hold(service=workshop, duration_minutes=120, start=start, staff=coach, seats=2)
    assert two.booking.price == 10000
    one = booking_hold(service=workshop, duration_minutes=120, start=start, staff=coach, seats=1)
    assert one.booking.session_key == two.booking.session_key
    with pytest.raises(SlotUnavailable):
        booking_hold(service=workshop, duration_minutes=120, start=start, staff=coach, seats=1)
    other = make_service("Call")
    with pytest.raises(Conflict):  # a one-hour call cannot go over the workshop's time
        booking_hold(service=other, duration_minutes=60, start=berlin(next_week, 11), staff=coach)
    assert Booking.objects.count() == 2


def test_a_class_is_one_session_however_its_start_was_written(
    make_service: Callable[..., Service], coach: StaffMember, next_week: date, owner
) -> None:
    """The booking page posts a class's start in UTC; staff type it in their own zone. The two
    seats were two sessions: on SQLite the class took more than its capacity, on PostgreSQL
    staff could not add anyone to a class booked online."""
    from datetime import UTC

    from tillbook.scheduling.services import CustomerDetails
    from tillbook.scheduling.staff_actions import booking_create_for_customer

    workshop = make_service("Workshop", capacity=2, durations=[(90, Money(2000, "USD"))])
    start = berlin(next_week, 10)
    online = booking_hold(
        service=workshop, duration_minutes=90, start=start.astimezone(UTC), staff=coach
    )
    by_staff = booking_create_for_customer(
        service=workshop,
        duration_minutes=90,
        staff=coach,
        start=start,
        details=CustomerDetails(name="Bo Example", email="bo@example.com"),
        actor=owner,
    )
    assert by_staff.session_key == online.booking.session_key
    assert by_staff.session_key == f"s{workshop.pk}:{coach.pk}:{start.astimezone(UTC).isoformat()}"
    with pytest.raises(SlotUnavailable):  # two seats of two: full
        booking_hold(service=workshop, duration_minutes=90, start=start, staff=coach)
    assert Booking.objects.count() == 2


def test_group_session_keys_written_in_another_offset_are_moved_to_utc(
    make_service: Callable[..., Service], coach: StaffMember, next_week: date
) -> None:
    """Migration scheduling/0005: a class whose seats were keyed in Berlin time takes its
    remaining seat from the booking page (keyed in UTC), and no more."""
    import importlib
    from datetime import UTC
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    workshop = make_service("Workshop", capacity=3, durations=[(90, Money(2000, "USD"))])
    start = berlin(next_week, 10)
    booking_hold(service=workshop, duration_minutes=90, start=start, staff=coach, seats=2)
    old_key = f"s{workshop.pk}:{coach.pk}:{start.isoformat()}"  # "…T10:00:00+01:00"
    Booking.objects.update(session_key=old_key)
    one_to_one = booking_hold(
        service=make_service("Call"), duration_minutes=60, start=berlin(next_week, 14), staff=coach
    )
    migration = importlib.import_module(
        "tillbook.scheduling.migrations.0005_group_session_keys_in_utc"
    )
    if connection.vendor == "postgresql":
        # A migration starts with no deferred foreign-key checks waiting; this test's
        # transaction has them, and PostgreSQL alters no table while they wait.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    migration.keys_to_utc(apps, SimpleNamespace(connection=connection))
    new_key = f"s{workshop.pk}:{coach.pk}:{start.astimezone(UTC).isoformat()}"
    assert Booking.objects.get(pk=one_to_one.booking.pk).session_key.startswith("b:")
    assert set(Booking.objects.filter(service=workshop).values_list("session_key", flat=True)) == {
        new_key
    }
    last = booking_hold(
        service=workshop, duration_minutes=90, start=start.astimezone(UTC), staff=coach
    )
    assert last.booking.session_key == new_key
    with pytest.raises(SlotUnavailable):
        booking_hold(service=workshop, duration_minutes=90, start=start, staff=coach)
