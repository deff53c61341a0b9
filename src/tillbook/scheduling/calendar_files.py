"""Calendar files (RFC 5545) with the icalendar library: invitations for customers, a feed for
each staff member, and reading busy times from a staff member's own calendar.

Every time is written in UTC (the Z form), so no client has to know our zone database. The UID
stays the same for the life of a booking; SEQUENCE goes up with every reschedule and with the
cancellation, so calendar clients replace the event instead of adding a second one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.utils import timezone
from icalendar import Calendar, Event

from tillbook.core.links import absolute_url
from tillbook.scheduling.models import Booking, BookingState

PRODID = "-//Tillbook//Bookings//EN"


def booking_uid(booking: Booking) -> str:
    return f"booking-{booking.uid}@tillbook"


def _calendar(method: str | None) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    if method:
        calendar.add("method", method)
    return calendar


def _event(booking: Booking, *, for_staff: bool, manage_url: str = "") -> Event:
    event = Event()
    event.add("uid", booking_uid(booking))
    event.add("dtstamp", timezone.now().astimezone(UTC))
    event.add("dtstart", booking.start.astimezone(UTC))
    event.add("dtend", booking.end.astimezone(UTC))
    event.add("sequence", booking.sequence)
    who = booking.customer.display_name if booking.customer else "Blocked"
    summary = f"{booking.service.name} – {who}" if for_staff else booking.service.name
    if not for_staff:
        summary = f"{booking.service.name} with {booking.business.name}"
    event.add("summary", summary)
    if booking.location_text or booking.service.location_detail:
        event.add("location", booking.location_text or booking.service.location_detail)
    lines = [booking.service.get_location_kind_display()]
    if manage_url:
        lines.append(f"Reschedule or cancel: {manage_url}")
    event.add("description", "\n".join(lines))
    cancelled = booking.state == BookingState.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if booking.business.contact_email:
        event.add("organizer", f"mailto:{booking.business.contact_email}")
    return event


def booking_invitation(booking: Booking, *, manage_url: str = "") -> bytes:
    """The file attached to confirmation, reschedule and cancellation emails."""
    cancelled = booking.state == BookingState.CANCELLED
    calendar = _calendar("CANCEL" if cancelled else "REQUEST")
    calendar.add_component(_event(booking, for_staff=False, manage_url=manage_url))
    return calendar.to_ical()


def staff_feed(bookings: Iterable[Booking], *, name: str) -> bytes:
    """A subscribable feed of one staff member's bookings (no METHOD: it is published)."""
    calendar = _calendar(None)
    calendar.add("x-wr-calname", name)
    for booking in bookings:
        path = f"/manage/{booking.business.slug}/calendar/bookings/{booking.pk}/"
        calendar.add_component(_event(booking, for_staff=True, manage_url=absolute_url(path)))
    return calendar.to_ical()


@dataclass(frozen=True)
class BusyTime:
    start: datetime
    end: datetime
    summary: str


class CalendarFileInvalid(ValueError):
    pass


def busy_times(data: bytes, *, window_start: datetime, window_end: datetime) -> list[BusyTime]:
    """Busy times from an .ics file, inside the window.

    Transparent events (marked free) and cancelled ones are skipped; all-day events block
    their whole days in UTC. Recurrence rules are not expanded: a recurring event counts
    once, at its first occurrence (a known limit, stated in the user guide).
    """
    try:
        calendar = Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError) as error:
        raise CalendarFileInvalid(f"This is not a calendar file: {error}") from None
    found: list[BusyTime] = []
    for component in calendar.walk("VEVENT"):
        if str(component.get("transp", "")).upper() == "TRANSPARENT":
            continue
        if str(component.get("status", "")).upper() == "CANCELLED":
            continue
        start_prop = component.get("dtstart")
        if start_prop is None:
            continue
        start = _as_utc(start_prop.dt)
        end_prop = component.get("dtend")
        if end_prop is not None:
            end = _as_utc(end_prop.dt)
        elif component.get("duration") is not None:
            end = start + component.get("duration").dt
        else:
            is_all_day = not isinstance(start_prop.dt, datetime)
            end = start + (timedelta(days=1) if is_all_day else timedelta(0))
        if end <= start or end <= window_start or start >= window_end:
            continue
        found.append(BusyTime(start, end, str(component.get("summary", ""))[:200]))
    return found


def _as_utc(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            # A "floating" time belongs to no zone; UTC is the least surprising reading.
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)
