"""A deliberately naive availability reference: a per-minute occupancy scan.

It marks every busy minute in a set, walks every working minute of every day, and checks each
candidate start minute by minute. It shares no code with the engine, so the property tests
can demand that both agree, and the benchmark uses it as its baseline (the way a simple
scheduler without interval arithmetic works). Times must fall on whole minutes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from tillbook.scheduling.availability import Interval, Slot, SlotRules, StaffCalendar

MINUTE = timedelta(minutes=1)


def _minutes(interval: Interval) -> range:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return range((interval.start - epoch) // MINUTE, (interval.end - epoch) // MINUTE)


def naive_staff_slots(
    calendar: StaffCalendar,
    rules: SlotRules,
    *,
    window: Interval,
    now: datetime,
    seats: int = 1,
    shared_busy: Sequence[Interval] = (),
) -> list[Slot]:
    zone = ZoneInfo(calendar.schedule.zone)
    busy_minutes: set[int] = set()
    for interval in [*calendar.busy, *shared_busy]:
        busy_minutes.update(_minutes(interval))
    per_day: Counter[date] = Counter()
    for start in set(calendar.booked_starts):
        per_day[start.astimezone(zone).date()] += 1
    slots = []
    day = window.start.astimezone(zone).date() - timedelta(days=2)
    while day <= window.end.astimezone(zone).date() + timedelta(days=1):
        for item in calendar.schedule.ranges_on(day):
            # Wall-clock arithmetic on purpose: the zone is attached after adding minutes.
            midnight = datetime(day.year, day.month, day.day)  # noqa: DTZ001
            range_start = (midnight + timedelta(minutes=item.start_minute)).replace(tzinfo=zone)
            range_end = (midnight + timedelta(minutes=item.end_minute)).replace(tzinfo=zone)
            start = range_start.astimezone(UTC)
            end = range_end.astimezone(UTC)
            minute = start
            while minute < end:
                offered = _offered(
                    calendar,
                    rules,
                    minute,
                    (start, end),
                    window,
                    now,
                    seats,
                    zone,
                    busy_minutes,
                    per_day,
                )
                if offered is not None:
                    slots.append(offered)
                minute += MINUTE
        day += timedelta(days=1)
    return sorted(set(slots))


def _offered(
    calendar: StaffCalendar,
    rules: SlotRules,
    minute: datetime,
    working: tuple[datetime, datetime],
    window: Interval,
    now: datetime,
    seats: int,
    zone: ZoneInfo,
    busy_minutes: set[int],
    per_day: Counter[date],
) -> Slot | None:
    range_start, range_end = working
    if (minute - range_start) % rules.interval != timedelta(0):
        return None
    if minute + rules.duration > range_end:
        return None
    if not (window.start <= minute < window.end):
        return None
    if minute < now + rules.min_notice or minute > now + rules.horizon:
        return None
    if seats > rules.capacity:
        return None
    day = minute.astimezone(zone).date()
    taken = calendar.sessions.get(minute)
    if taken is not None:
        if rules.capacity - taken < seats:
            return None
        seats_left = rules.capacity - taken
    else:
        if rules.max_per_day is not None and per_day[day] >= rules.max_per_day:
            return None
        monday = day - timedelta(days=day.weekday())
        week = sum(count for d, count in per_day.items() if monday <= d < monday + timedelta(7))
        if rules.max_per_week is not None and week >= rules.max_per_week:
            return None
        seats_left = rules.capacity
    blocking = Interval(
        minute - rules.buffer_before - rules.travel, minute + rules.duration + rules.buffer_after
    )
    if any(m in busy_minutes for m in _minutes(blocking)):
        return None
    return Slot(minute, minute + rules.duration, calendar.staff_id, seats_left)
