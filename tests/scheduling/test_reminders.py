"""Reminders at the business's offsets: skipped when longer than the lead time, recomputed on
reschedule, each sent once (Cal.com PR #10890, #7739, PR #3376)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from tillbook.messaging.models import OutboxMessage
from tillbook.scheduling.changes import booking_reschedule
from tillbook.scheduling.models import Booking, Service, StaffMember
from tillbook.scheduling.reminders import reminders_send_due
from tillbook.scheduling.services import booking_hold, booking_submit_details
from tillbook.scheduling.setup import staff_hours_set

from .conftest import ANN

pytestmark = pytest.mark.django_db


@pytest.fixture
def always_open(coach: StaffMember) -> StaffMember:
    staff_hours_set(staff=coach, weekly={day: [(0, 1440)] for day in range(7)})
    return coach


def booked(service: Service, coach: StaffMember, hours_ahead: int) -> Booking:
    start = (timezone.now() + timedelta(hours=hours_ahead)).replace(
        minute=0, second=0, microsecond=0
    )
    held = booking_hold(
        service=service,
        duration_minutes=30,
        start=start,
        staff=coach,
        customer_timezone="Asia/Kathmandu",
    )
    return booking_submit_details(booking=held.booking, details=ANN)


def reminders() -> list[str]:
    return list(
        OutboxMessage.objects.filter(template="booking_reminder")
        .order_by("pk")
        .values_list("dedupe_key", flat=True)
    )


def test_each_offset_is_sent_once_when_its_time_comes(
    make_service: Callable[..., Service], always_open: StaffMember
) -> None:
    service = make_service(payment_mode="later", reminder_offsets=[1440, 120])
    booking = booked(service, always_open, hours_ahead=72)
    start = booking.start
    assert reminders_send_due(now=start - timedelta(hours=25)) == 0
    assert reminders_send_due(now=start - timedelta(hours=23)) == 1
    assert reminders_send_due(now=start - timedelta(hours=22)) == 1  # asked again: still one
    assert reminders() == [f"booking:{booking.pk}:reminder:0:1440"]
    reminders_send_due(now=start - timedelta(minutes=119))
    reminders_send_due(now=start - timedelta(minutes=100))
    assert reminders() == [
        f"booking:{booking.pk}:reminder:0:1440",
        f"booking:{booking.pk}:reminder:0:120",
    ]
    message = OutboxMessage.objects.filter(template="booking_reminder").first()
    local = start.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Kathmandu"))
    assert message.subject == (
        f"Reminder: Coaching call on {local:%A %-d %B %Y, %H:%M} (Asia/Kathmandu)"
    )
    # Not sent once the session has started, however its sending went.
    reminded = OutboxMessage.objects.filter(template="booking_reminder")
    assert set(reminded.values_list("send_before", flat=True)) == {start}


def test_an_offset_longer_than_the_lead_time_is_skipped(
    make_service: Callable[..., Service], always_open: StaffMember
) -> None:
    service = make_service(payment_mode="later", reminder_offsets=[4320, 1440, 120])
    booking = booked(service, always_open, hours_ahead=10)
    for minutes_before in (4000, 1400, 600, 300, 119):
        reminders_send_due(now=booking.start - timedelta(minutes=minutes_before))
    assert reminders() == [f"booking:{booking.pk}:reminder:0:120"]


def test_a_late_sweep_sends_only_the_latest_due_reminder(
    make_service: Callable[..., Service], always_open: StaffMember
) -> None:
    service = make_service(payment_mode="later", reminder_offsets=[1440, 120])
    booking = booked(service, always_open, hours_ahead=72)
    reminders_send_due(now=booking.start - timedelta(minutes=60))
    assert reminders() == [f"booking:{booking.pk}:reminder:0:120"]


def test_rescheduling_recomputes_the_reminders(
    make_service: Callable[..., Service], always_open: StaffMember
) -> None:
    service = make_service(payment_mode="later", reminder_offsets=[1440], cancel_window_hours=12)
    booking = booked(service, always_open, hours_ahead=72)
    reminders_send_due(now=booking.start - timedelta(hours=23))
    new_start = booking.start + timedelta(days=3)
    moved = booking_reschedule(
        booking=booking, start=new_start, now=booking.start - timedelta(hours=22)
    ).booking
    assert moved.sequence == 1
    reminders_send_due(now=new_start - timedelta(hours=25))
    reminders_send_due(now=new_start - timedelta(hours=23))
    assert reminders() == [
        f"booking:{booking.pk}:reminder:0:1440",
        f"booking:{booking.pk}:reminder:1:1440",
    ]


def test_cancelled_bookings_get_no_reminders(
    make_service: Callable[..., Service], always_open: StaffMember
) -> None:
    from tillbook.scheduling.changes import booking_cancel

    service = make_service(payment_mode="later", reminder_offsets=[120])
    booking = booked(service, always_open, hours_ahead=72)
    booking_cancel(booking=booking)
    assert reminders_send_due(now=booking.start - timedelta(minutes=60)) == 0
    assert reminders() == []


@pytest.mark.parametrize("change", ["cancel", "reschedule"])
def test_a_booking_changed_while_the_sweep_runs_gets_no_stale_reminder(
    make_service: Callable[..., Service],
    always_open: StaffMember,
    change: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sweep read a batch of bookings, then sent their reminders from what it had read: a
    booking cancelled (or moved) in between still got "see you soon" for the old time."""
    from tillbook.scheduling import reminders as module
    from tillbook.scheduling.changes import booking_cancel

    service = make_service(payment_mode="later", reminder_offsets=[120])
    booking = booked(service, always_open, hours_ahead=72)
    now = booking.start - timedelta(minutes=60)
    real_reminder_due = module.reminder_due
    changed: list[str] = []

    def due_then_changed(seen: Booking, at: datetime) -> int | None:
        offset = real_reminder_due(seen, at)
        if not changed:  # the customer acts right after the sweep looked
            changed.append(change)
            if change == "cancel":
                booking_cancel(booking=booking, now=now)
            else:
                moved = booking.start + timedelta(days=1)
                booking_reschedule(booking=booking, start=moved, as_business=True, now=now)
        return offset

    monkeypatch.setattr(module, "reminder_due", due_then_changed)
    assert reminders_send_due(now=now) == 0
    assert changed == [change]
    assert reminders() == []
