"""Reminders before a booking, at the offsets the business chose (e.g. 24 h and 2 h).

Lessons from other schedulers (Cal.com PR #10890, #7739, PR #3376): a reminder whose offset is
longer than the time between booking and start is skipped (no "in 72 hours" for tomorrow's
booking, no reminder the moment one books); rescheduling starts the count again from the
reschedule; each reminder is sent once, even when the sweep runs twice or late.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from tillbook.scheduling.models import Booking, BookingState
from tillbook.scheduling.notifications import send_reminder
from tillbook.scheduling.services import locked_booking

# Offsets beyond this are not looked for (the settings page offers up to a week).
LONGEST_OFFSET = timedelta(days=14)


def reminder_due(booking: Booking, now: datetime) -> int | None:
    """The one offset (minutes) to remind about now, or None.

    Due offsets are those whose moment has come, after the booking was (re)scheduled, before
    the start. When several are due (a sweep that did not run for a while), only the latest
    is sent: a "24 hours before" email two hours before the start would be wrong.
    """
    if booking.state != BookingState.CONFIRMED or booking.scheduled_at is None:
        return None
    due = [
        offset
        for offset in booking.reminder_offsets
        if booking.scheduled_at <= booking.start - timedelta(minutes=offset) <= now < booking.start
    ]
    return min(due) if due else None


def reminders_send_due(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    bookings = Booking.objects.filter(
        state=BookingState.CONFIRMED, start__gt=now, start__lte=now + LONGEST_OFFSET
    ).select_related("business", "service", "staff", "customer")
    sent = 0
    for booking in bookings.iterator(chunk_size=500):
        if reminder_due(booking, now) is None:
            continue
        # Asked again of the booking as it is now, under its lock: one cancelled or moved
        # since the batch was read gets no reminder of the time it no longer has.
        with transaction.atomic():
            locked = locked_booking(booking)
            offset = reminder_due(locked, now)
            if offset is not None:
                message = send_reminder(locked, offset_minutes=offset)
                sent += message is not None
    return sent
