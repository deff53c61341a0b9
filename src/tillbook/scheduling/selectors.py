"""Reads for scheduling: load rules and busy time from local tables, ask the pure engine.

Busy time comes only from this database (bookings, blocked time, imported busy times that a
background task fetched earlier), never from an outside calendar at page load: that is what
made other schedulers' booking pages take 10–60 seconds (Cal.com #5277, #21103).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from tillbook.core.models import Business
from tillbook.scheduling.availability import (
    Interval,
    Schedule,
    Slot,
    StaffCalendar,
    WorkingRange,
    available_slots,
    slots_for_anyone,
)
from tillbook.scheduling.models import (
    BLOCKING_STATES,
    ONE_TO_ONE_KEY,
    Booking,
    BookingState,
    DateOverride,
    Service,
    StaffMember,
    TimeBlock,
    WeeklyHours,
)

# Limits per week need the bookings of whole weeks around the window.
LIMIT_MARGIN = timedelta(days=8)


def one_to_one_session_key() -> str:
    return f"{ONE_TO_ONE_KEY}{uuid.uuid4()}"


def group_session_key(service: Service, staff_id: int, start: datetime) -> str:
    """One key per class, however its start was written: in UTC (the booking page posts the
    start in UTC, staff type it in their own zone, API clients in any offset)."""
    return f"s{service.pk}:{staff_id}:{start.astimezone(UTC).isoformat()}"


def blocking_bookings(*, business: Business, now: datetime | None = None) -> QuerySet[Booking]:
    """Bookings that hold their time now: blocking states, minus holds already run out (the
    sweep marks those expired a little later; until then they must not hide free time)."""
    now = now or timezone.now()
    return Booking.objects.filter(business=business, state__in=BLOCKING_STATES).exclude(
        state__in=(BookingState.HELD, BookingState.AWAITING_PAYMENT), hold_expires_at__lte=now
    )


def schedules_for(staff: Sequence[StaffMember]) -> dict[int, Schedule]:
    weekly: dict[int, dict[int, list[WorkingRange]]] = defaultdict(lambda: defaultdict(list))
    overrides: dict[int, dict[date, list[WorkingRange]]] = defaultdict(lambda: defaultdict(list))
    ids = [member.pk for member in staff]
    for hours in WeeklyHours.objects.filter(staff_id__in=ids):
        weekly[hours.staff_id][hours.weekday].append(
            WorkingRange(hours.start_minute, hours.end_minute)
        )
    for override in DateOverride.objects.filter(staff_id__in=ids):
        ranges = overrides[override.staff_id][override.date]
        if override.start_minute is not None and override.end_minute is not None:
            ranges.append(WorkingRange(override.start_minute, override.end_minute))
    return {
        member.pk: Schedule(
            zone=member.timezone,
            weekly=dict(weekly[member.pk]),
            overrides=dict(overrides[member.pk]),
        )
        for member in staff
    }


def staff_calendars(
    *,
    service: Service,
    staff: Sequence[StaffMember],
    window: Interval,
    now: datetime,
    ignore_booking_id: int | None = None,
) -> tuple[list[StaffCalendar], list[Interval]]:
    """Each staff member's calendar for `service`, and the busy time of its resource."""
    reach = Interval(window.start - LIMIT_MARGIN, window.end + LIMIT_MARGIN)
    schedules = schedules_for(staff)
    ids = [member.pk for member in staff]
    busy: dict[int, list[Interval]] = defaultdict(list)
    booked: dict[int, list[datetime]] = defaultdict(list)
    sessions: dict[int, dict[datetime, int]] = defaultdict(dict)
    session_prefix = f"s{service.pk}:"
    rows = (
        blocking_bookings(business=service.business, now=now)
        .filter(staff_id__in=ids, blocking_start__lt=reach.end, blocking_end__gt=reach.start)
        .exclude(pk=ignore_booking_id or 0)
        .values_list(
            "staff_id",
            "service_id",
            "session_key",
            "start",
            "blocking_start",
            "blocking_end",
            "seats",
        )
    )
    for staff_id, service_id, key, start, block_start, block_end, seats in rows:
        if service_id == service.pk:
            booked[staff_id].append(start)
        if key.startswith(session_prefix):
            # A seat in one of this service's group sessions: it shares, not takes, the time.
            sessions[staff_id][start] = sessions[staff_id].get(start, 0) + seats
        else:
            busy[staff_id].append(Interval(block_start, block_end))
    for staff_id, start, end in TimeBlock.objects.filter(
        business=service.business, staff_id__in=ids, start__lt=reach.end, end__gt=reach.start
    ).values_list("staff_id", "start", "end"):
        busy[staff_id].append(Interval(start, end))
    calendars = [
        StaffCalendar(
            staff_id=member.pk,
            schedule=schedules[member.pk],
            busy=busy[member.pk],
            booked_starts=booked[member.pk],
            sessions=sessions[member.pk],
        )
        for member in staff
    ]
    return calendars, resource_busy(
        service=service, window=reach, now=now, ignore_booking_id=ignore_booking_id
    )


def resource_busy(
    *, service: Service, window: Interval, now: datetime, ignore_booking_id: int | None
) -> list[Interval]:
    if service.resource_id is None:
        return []
    rows = (
        blocking_bookings(business=service.business, now=now)
        .filter(
            resource_id=service.resource_id,
            blocking_start__lt=window.end,
            blocking_end__gt=window.start,
        )
        .exclude(pk=ignore_booking_id or 0)
        .exclude(session_key__startswith=f"s{service.pk}:")
        .values_list("blocking_start", "blocking_end")
    )
    return [Interval(start, end) for start, end in rows]


def bookable_staff(*, service: Service, staff_id: int | None = None) -> list[StaffMember]:
    staff = service.staff.filter(is_active=True)
    if staff_id is not None:
        staff = staff.filter(pk=staff_id)
    return list(staff.order_by("pk"))


def service_slots(
    *,
    service: Service,
    duration_minutes: int,
    window: Interval,
    staff_id: int | None = None,
    seats: int = 1,
    now: datetime | None = None,
    ignore_booking_id: int | None = None,
    as_staff: bool = False,
) -> list[Slot]:
    """Free (start, staff) pairs for `service` in `window`; `staff_id` None means anyone.

    `as_staff`: a staff member booking for a customer may go inside the notice period and
    past the horizon, but never outside hours or over other bookings.
    """
    now = now or timezone.now()
    staff = bookable_staff(service=service, staff_id=staff_id)
    if not staff:
        return []
    rules = service.rules(duration_minutes)
    if as_staff:
        from dataclasses import replace

        rules = replace(rules, min_notice=timedelta(0), horizon=timedelta(days=3650))
    calendars, shared = staff_calendars(
        service=service, staff=staff, window=window, now=now, ignore_booking_id=ignore_booking_id
    )
    return available_slots(
        calendars, rules, window=window, now=now, seats=seats, shared_busy=shared
    )


def staff_load(*, business: Business, staff_ids: Iterable[int], window: Interval) -> dict[int, int]:
    """How many bookings each person has in `window`: "anyone" goes to the least booked."""
    rows = (
        blocking_bookings(business=business)
        .filter(staff_id__in=list(staff_ids), start__gte=window.start, start__lt=window.end)
        .values("staff_id")
        .annotate(count=Count("id"))
    )
    return {row["staff_id"]: row["count"] for row in rows}


def slots_for_customer(
    *,
    service: Service,
    duration_minutes: int,
    window: Interval,
    staff_id: int | None,
    seats: int = 1,
    now: datetime | None = None,
    ignore_booking_id: int | None = None,
) -> list[Slot]:
    """What the booking page shows: each start once; with "anyone", the least-booked person.

    `ignore_booking_id`: the booking being moved, whose own time is free for its new one.
    """
    slots = service_slots(
        service=service,
        duration_minutes=duration_minutes,
        window=window,
        staff_id=staff_id,
        seats=seats,
        now=now,
        ignore_booking_id=ignore_booking_id,
    )
    if staff_id is not None:
        return slots
    load = staff_load(
        business=service.business, staff_ids={slot.staff_id for slot in slots}, window=window
    )
    return slots_for_anyone(slots, load)


def bookings_between(
    *, business: Business, start: datetime, end: datetime, staff_id: int | None = None
) -> QuerySet[Booking]:
    bookings = Booking.objects.filter(business=business, start__lt=end, end__gt=start).exclude(
        state=BookingState.EXPIRED
    )
    if staff_id is not None:
        bookings = bookings.filter(staff_id=staff_id)
    return bookings.select_related("service", "staff", "customer").order_by("start", "id")


def blocks_between(
    *, business: Business, start: datetime, end: datetime, staff_id: int | None = None
) -> QuerySet[TimeBlock]:
    blocks = TimeBlock.objects.filter(business=business, start__lt=end, end__gt=start)
    if staff_id is not None:
        blocks = blocks.filter(staff_id=staff_id)
    return blocks.select_related("staff").order_by("start")


def active_services(*, business: Business) -> QuerySet[Service]:
    return (
        Service.objects.filter(business=business, is_active=True)
        .prefetch_related("durations", "staff")
        .order_by("name")
    )


def paid_without_time(*, business: Business) -> QuerySet[Booking]:
    """Payments that arrived after their hold ran out and the time was taken: staff must act
    (REFERENCE.md: paid but no space, listed and never silently lost)."""
    return Booking.objects.filter(business=business, paid_without_time=True).filter(
        ~Q(state=BookingState.CONFIRMED)
    )
