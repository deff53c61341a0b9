"""Calendar files (RFC 5545) with the icalendar library: invitations for customers, a feed for
each staff member, and reading busy times from a staff member's own calendar.

Every time is written in UTC (the Z form), so no client has to know our zone database. The UID
stays the same for the life of a booking; SEQUENCE goes up with every reschedule and with the
cancellation, so calendar clients replace the event instead of adding a second one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dateutil.rrule import rrulestr  # type: ignore[import-untyped]
from django.utils import timezone
from icalendar import Calendar, Event, vCalAddress

from tillbook.core.links import absolute_url
from tillbook.messaging.services import sender_address
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
    # An invitation names who invites and who is invited (RFC 5546 3.2.2); the business
    # without an address of its own invites from Tillbook's.
    organizer = vCalAddress(f"mailto:{booking.business.contact_email or sender_address()}")
    organizer.params["cn"] = " ".join(booking.business.name.split())
    event.add("organizer", organizer)
    if not for_staff and booking.customer is not None and booking.customer.email:
        attendee = vCalAddress(f"mailto:{booking.customer.email}")
        attendee.params.update(
            {"cn": booking.customer.display_name, "partstat": "ACCEPTED", "rsvp": "FALSE"}
        )
        event.add("attendee", attendee)
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
    their whole days in UTC. Repeating events (RRULE, RDATE, EXDATE) are expanded in their own
    time zone, so a weekly 9:00 meeting stays at 9:00 across a DST change; an occurrence moved
    or cancelled by its own event (RECURRENCE-ID) is taken from that event instead.
    """
    try:
        calendar = Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError) as error:
        raise CalendarFileInvalid(f"This is not a calendar file: {error}") from None
    events = list(calendar.walk("VEVENT"))
    # Occurrences that their own event replaces: (UID, start in UTC).
    replaced = {
        (str(event.get("uid", "")), _as_utc(event.get("recurrence-id").dt))
        for event in events
        if event.get("recurrence-id") is not None
    }
    found: list[BusyTime] = []
    for component in events:
        if str(component.get("transp", "")).upper() == "TRANSPARENT":
            continue
        if str(component.get("status", "")).upper() == "CANCELLED":
            continue
        start_prop = component.get("dtstart")
        if start_prop is None:
            continue
        first = start_prop.dt
        end_prop = component.get("dtend")
        if end_prop is not None:
            length = _as_utc(end_prop.dt) - _as_utc(first)
        elif component.get("duration") is not None:
            length = component.get("duration").dt
        else:
            length = timedelta(0) if isinstance(first, datetime) else timedelta(days=1)
        if length <= timedelta(0):
            continue
        summary = str(component.get("summary", ""))[:200]
        uid = str(component.get("uid", ""))
        starts = (
            _occurrences(component, first, window_start - length, window_end)
            if component.get("rrule") is not None or component.get("rdate") is not None
            else [_as_utc(first)]
        )
        for start in starts:
            end = start + length
            if end <= window_start or start >= window_end:
                continue
            if component.get("recurrence-id") is None and (uid, start) in replaced:
                continue
            found.append(BusyTime(start, end, summary))
    return found


# A repeating event may not ask for more steps than this (a daily event from 250 years ago):
# a rule like FREQ=SECONDLY must not keep a worker busy.
MAX_RULE_STEPS = 100_000


def _occurrences(
    event: Any, first: date | datetime, after: datetime, before: datetime
) -> list[datetime]:
    """Starts (UTC) of a repeating event from `after` to before `before`."""
    # Rules run on the event's own clock: aware in its zone, naive for dates and floating times.
    aware = isinstance(first, datetime) and first.tzinfo is not None
    local = (
        first if isinstance(first, datetime) else datetime(first.year, first.month, first.day)  # noqa: DTZ001 - a date has no zone
    )
    rules = event.get("rrule")
    text = "\n".join(
        f"RRULE:{rule.to_ical().decode()}"
        for rule in (rules if isinstance(rules, list) else [rules] if rules is not None else [])
    )
    rule_set: Iterable[datetime] = ()
    # A rule Tillbook cannot read leaves the event at its first date (and its RDATEs).
    with contextlib.suppress(ValueError, TypeError):
        if text:
            rule_set = rrulestr(text, dtstart=local, forceset=True, ignoretz=not aware)
    extra = [_as_utc(moment) for moment in _dates(event, "rdate")]
    skipped = {_as_utc(moment) for moment in _dates(event, "exdate")}
    found = {_as_utc(first)} | set(extra)
    for step, moment in enumerate(rule_set):
        start = _as_utc(moment)
        if start >= before or step >= MAX_RULE_STEPS:
            break
        found.add(start)
    return sorted(start for start in found - skipped if after <= start < before)


def _dates(event: Any, name: str) -> list[date | datetime]:
    values = event.get(name)
    if values is None:
        return []
    listed = values if isinstance(values, list) else [values]
    return [item.dt for value in listed for item in value.dts]


def _as_utc(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            # A "floating" time belongs to no zone; UTC is the least surprising reading.
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)
