"""Bookings metrics: count, utilisation of offered hours, no-show rate, upcoming."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from django.core.management import call_command
from django.test import Client

from tillbook.core.models import Business
from tillbook.core.money import Money
from tillbook.insights.bookings import booking_metrics, bookings_by_service, upcoming_bookings
from tillbook.insights.periods import Period
from tillbook.scheduling.models import Booking, BookingState, Service, StaffMember
from tillbook.scheduling.services import booking_hold

from ..scheduling.conftest import berlin, coach, make_service, monday_in, service  # noqa: F401


def book(service: Service, staff: StaffMember, start: object, minutes: int, state: str) -> Booking:  # noqa: F811
    held = booking_hold(service=service, duration_minutes=minutes, start=start, staff=staff)
    Booking.objects.filter(pk=held.booking.pk).update(state=state)
    return held.booking


def test_a_week_of_bookings_against_the_coachs_hours(
    owner_client: Client,
    scoped: Business,
    coach: StaffMember,  # noqa: F811
    service: Service,  # noqa: F811
) -> None:
    monday = monday_in(2)
    book(service, coach, berlin(monday + timedelta(days=1), 10), 60, BookingState.COMPLETED)
    book(service, coach, berlin(monday + timedelta(days=2), 10), 60, BookingState.NO_SHOW)
    book(service, coach, berlin(monday + timedelta(days=3), 10), 30, BookingState.CONFIRMED)
    book(service, coach, berlin(monday + timedelta(days=4), 10), 60, BookingState.CANCELLED)
    week = Period(monday, monday + timedelta(days=6), scoped.zone)
    found = booking_metrics(business=scoped, period=week)
    # Monday to Friday, 9 to 5 in Berlin, all inside the Chicago week: 40 offered hours.
    assert (found.bookings, found.completed, found.no_shows, found.cancelled) == (3, 1, 1, 1)
    assert (found.booked_minutes, found.offered_minutes) == (150, 2400)
    assert (str(found.utilisation), str(found.no_show_rate)) == ("6.2", "50.0")
    assert [b.state for b in upcoming_bookings(business=scoped)] == ["confirmed"]

    out = io.StringIO()
    first, last = week.first.isoformat(), week.last.isoformat()
    call_command(
        "metrics", "--business", "acme", "--from", first, "--to", last, "--json", stdout=out
    )
    assert json.loads(out.getvalue())["bookings"] == {
        "count": 3,
        "completed": 1,
        "no_shows": 1,
        "cancelled": 1,
        "booked_hours": "2.5",
        "offered_hours": "40.0",
        "utilisation_percent": "6.2",
        "no_show_rate_percent": "50.0",
    }

    page = owner_client.get(f"/manage/acme/?from={first}&to={last}").content.decode()
    assert '<div class="label">Bookings</div><div class="value">3</div>' in page
    assert "6.2% of offered hours" in page
    assert "Coaching call with Carla Coach" in page
    report = owner_client.get(f"/manage/acme/insights/bookings/?from={first}&to={last}")
    assert "1 of 2 past bookings" in report.content.decode()


def test_the_bookings_report_lists_each_service_and_downloads_as_csv(
    owner_client: Client,
    scoped: Business,
    coach: StaffMember,  # noqa: F811
    service: Service,  # noqa: F811
    make_service: Callable[..., Service],  # noqa: F811
) -> None:
    strategy = make_service("Strategy session", durations=[(90, Money(20000, "USD"))])
    intro = make_service("Intro chat", durations=[(15, Money(0, "USD"))])
    monday = monday_in(2)
    book(service, coach, berlin(monday + timedelta(days=1), 10), 60, BookingState.COMPLETED)
    book(service, coach, berlin(monday + timedelta(days=2), 10), 60, BookingState.NO_SHOW)
    book(service, coach, berlin(monday + timedelta(days=3), 10), 30, BookingState.CONFIRMED)
    late = book(service, coach, berlin(monday + timedelta(days=4), 10), 60, BookingState.CANCELLED)
    Booking.objects.filter(pk=late.pk).update(cancellation_fee=3000)
    book(strategy, coach, berlin(monday + timedelta(days=1), 14), 90, BookingState.COMPLETED)
    book(intro, coach, berlin(monday + timedelta(days=2), 14), 15, BookingState.HELD)  # not kept
    week = Period(monday, monday + timedelta(days=6), scoped.zone)
    found = bookings_by_service(business=scoped, period=week)
    assert [
        (s.name, s.bookings, s.completed, s.no_shows, s.no_show_rate, s.cancelled, s.revenue)
        for s in found
    ] == [
        # 120.00 + 120.00 + 70.00 kept, and the 30.00 late-cancellation fee.
        ("Coaching call", 3, 1, 1, Decimal("50.0"), 1, 34000),
        ("Strategy session", 1, 1, 0, Decimal("0.0"), 0, 20000),
    ]
    query = f"from={week.first.isoformat()}&to={week.last.isoformat()}"
    page = owner_client.get(f"/manage/acme/insights/bookings/?{query}").content.decode()
    assert (
        '<tr><td>Strategy session</td><td class="num">1</td><td class="num">1</td>'
        '<td class="num">0</td><td class="num">0.0%</td><td class="num">0</td>'
        '<td class="num">$200.00</td></tr>'
    ) in page
    assert "Intro chat" not in page
    export = owner_client.get(f"/manage/acme/insights/export/bookings.csv?{query}")
    lines = b"".join(export.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert lines == [
        "service,bookings,completed,no_shows,no_show_rate_percent,cancelled,currency,revenue",
        "Coaching call,3,1,1,50.0,1,USD,340.00",
        "Strategy session,1,1,0,0.0,0,USD,200.00",
    ]
    earlier = f"from={(week.first - timedelta(days=7)).isoformat()}&to={week.first.isoformat()}"
    empty = owner_client.get(f"/manage/acme/insights/bookings/?{earlier}").content.decode()
    assert "No bookings start in this range." in empty


def _week_after_next(business: Business) -> Period:
    monday = monday_in(2)
    return Period(monday, monday + timedelta(days=6), business.zone)


def test_a_staff_member_who_left_keeps_the_hours_they_worked_in_the_period(
    scoped: Business,
    coach: StaffMember,  # noqa: F811
    make_service: Callable[..., Service],  # noqa: F811
) -> None:
    """Tess, on the coach's rota, was fully booked on Tuesday and left afterwards: the week's
    utilisation stays 540 of 4,800 minutes (it became 540 of 2,400, her bookings set against
    no hours). Had she shared Tuesday 9–10 alone with the coach, it read 200%."""
    from tillbook.scheduling.setup import staff_hours_set, staff_member_create

    from ..scheduling.conftest import WEEKDAYS_NINE_TO_FIVE

    tess = staff_member_create(business=scoped, name="Tess Twin", timezone_name="Europe/Berlin")
    staff_hours_set(staff=tess, weekly=WEEKDAYS_NINE_TO_FIVE)
    call = make_service(staff=[coach, tess])
    week = _week_after_next(scoped)
    tuesday = week.first + timedelta(days=1)
    for hour in range(9, 17):
        book(call, tess, berlin(tuesday, hour), 60, BookingState.COMPLETED)
    book(call, coach, berlin(tuesday, 9), 60, BookingState.COMPLETED)
    before = booking_metrics(business=scoped, period=week)
    StaffMember.objects.filter(pk=tess.pk).update(is_active=False)
    after = booking_metrics(business=scoped, period=week)
    assert (before.booked_minutes, before.offered_minutes) == (540, 4800)
    assert (after.booked_minutes, after.offered_minutes, after.utilisation) == (
        540,
        4800,
        Decimal("11.2"),
    )
    # A week in which she had nothing: her hours are no longer offered.
    following = Period(week.first + timedelta(days=7), week.last + timedelta(days=7), scoped.zone)
    assert booking_metrics(business=scoped, period=following).offered_minutes == 2400


def test_overlapping_ranges_of_hours_are_offered_once(
    scoped: Business,
    coach: StaffMember,  # noqa: F811
) -> None:
    from tillbook.insights.bookings import offered_minutes
    from tillbook.scheduling.setup import staff_hours_set

    # Monday 9–12 and 10–17, as staff_hours_set accepts them: 9 to 5, 480 minutes (not 600);
    # Tuesday 9–17 and 10–11 inside it: 480 again.
    staff_hours_set(
        staff=coach,
        weekly={
            0: [(9 * 60, 12 * 60), (10 * 60, 17 * 60)],
            1: [(9 * 60, 17 * 60), (10 * 60, 11 * 60)],
        },
    )
    assert offered_minutes(business=scoped, period=_week_after_next(scoped)) == 960


def test_time_blocked_off_is_not_offered(
    scoped: Business,
    owner,
    coach: StaffMember,  # noqa: F811
) -> None:
    """A holiday from Tuesday (blocked by hand, in two overlapping blocks) leaves Monday's
    eight hours offered, not forty; a busy time imported from the coach's own calendar (maybe
    a Tillbook booking seen again) takes nothing off; another staff member's week is whole."""
    from tillbook.insights.bookings import offered_minutes
    from tillbook.scheduling.models import BusySource, TimeBlock
    from tillbook.scheduling.setup import staff_hours_set, staff_member_create
    from tillbook.scheduling.staff_actions import time_block_create

    from ..scheduling.conftest import WEEKDAYS_NINE_TO_FIVE

    week = _week_after_next(scoped)
    other = staff_member_create(business=scoped, name="Tess Twin", timezone_name="Europe/Berlin")
    staff_hours_set(staff=other, weekly=WEEKDAYS_NINE_TO_FIVE)
    assert offered_minutes(business=scoped, period=week) == 2 * 2400
    for first, last in ((1, 4), (3, 7)):
        time_block_create(
            staff=coach,
            start=berlin(week.first + timedelta(days=first), 0),
            end=berlin(week.first + timedelta(days=last), 0),
            reason="Holiday",
            actor=owner,
        )
    TimeBlock.objects.create(
        business=scoped,
        staff=coach,
        start=berlin(week.first, 9),
        end=berlin(week.first, 10),
        source=BusySource.IMPORT,
    )
    assert offered_minutes(business=scoped, period=week) == 480 + 2400
    # Half of Monday's afternoon blocked too: 13:00–15:00.
    time_block_create(
        staff=coach,
        start=berlin(week.first, 13),
        end=berlin(week.first, 15),
        reason="Dentist",
        actor=owner,
    )
    assert offered_minutes(business=scoped, period=week) == 360 + 2400


def test_a_booking_whose_payment_hold_ran_out_is_not_upcoming(
    scoped: Business,
    coach: StaffMember,  # noqa: F811
    service: Service,  # noqa: F811
) -> None:
    from django.utils import timezone

    monday = monday_in(2)
    waiting = book(service, coach, berlin(monday, 10), 60, BookingState.AWAITING_PAYMENT)
    lapsed = book(service, coach, berlin(monday, 12), 60, BookingState.AWAITING_PAYMENT)
    now = timezone.now()
    Booking.objects.filter(pk=waiting.pk).update(hold_expires_at=now + timedelta(minutes=10))
    Booking.objects.filter(pk=lapsed.pk).update(hold_expires_at=now - timedelta(minutes=1))
    assert [b.pk for b in upcoming_bookings(business=scoped)] == [waiting.pk]
