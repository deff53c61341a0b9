"""A month of bookings for the availability benchmarks: staff, schedules and busy time.

Deterministic for a seed. Bookings never overlap one another (as the database guarantees),
fall inside working hours, start on quarter hours and last 30 to 60 minutes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tillbook.scheduling.availability import (
    Interval,
    Schedule,
    StaffCalendar,
    WorkingRange,
    working_intervals,
)

STAFF_ZONES = ("America/Chicago", "Europe/Berlin", "Australia/Lord_Howe")
# 07:00–12:00 and 13:00–21:00 every day: thirteen working hours around a lunch break, so
# 1,000 bookings of 30–60 minutes fill about 60% of three people's month.
DAY_RANGES = (WorkingRange(7 * 60, 12 * 60), WorkingRange(13 * 60, 21 * 60))
QUARTER = timedelta(minutes=15)


@dataclass(frozen=True)
class Month:
    calendars: list[StaffCalendar]
    window: Interval
    now: datetime


def booked_month(*, bookings: int, seed: int, start: datetime) -> Month:
    rng = random.Random(seed)
    window = Interval(start, start + timedelta(days=31))
    calendars = []
    for staff_id, zone in enumerate(STAFF_ZONES, start=1):
        schedule = Schedule(zone=zone, weekly=dict.fromkeys(range(7), DAY_RANGES))
        calendars.append(StaffCalendar(staff_id, schedule))
    busy: dict[int, list[Interval]] = {calendar.staff_id: [] for calendar in calendars}
    placed = 0
    while placed < bookings:
        calendar = rng.choice(calendars)
        working = rng.choice(working_intervals(calendar.schedule, window))
        quarters = (working.end - working.start) // QUARTER
        begin = working.start + QUARTER * rng.randrange(quarters)
        candidate = Interval(begin, begin + QUARTER * rng.choice((2, 3, 4)))
        taken = busy[calendar.staff_id]
        if candidate.end > working.end or any(candidate.overlaps(other) for other in taken):
            continue
        taken.append(candidate)
        placed += 1
    filled = [
        StaffCalendar(
            calendar.staff_id,
            calendar.schedule,
            busy=busy[calendar.staff_id],
            booked_starts=[interval.start for interval in busy[calendar.staff_id]],
        )
        for calendar in calendars
    ]
    return Month(filled, window, now=start - timedelta(hours=1))


def month_start() -> datetime:
    return datetime(2026, 3, 1, tzinfo=UTC)  # includes Europe's and America's DST changes
