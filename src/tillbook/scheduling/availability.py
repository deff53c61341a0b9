"""The availability engine: working rules and busy time in, bookable slots out.

Pure functions, no database: the selectors load rules and busy intervals from local tables
(never from an external calendar at page load: Cal.com #5277) and hand them here.

The time model (DESIGN.md): a schedule is local wall-clock ranges plus an IANA zone. Each range
is turned into UTC instants *per date*, at its own wall-clock time, with zoneinfo; everything
after that is arithmetic on UTC instants. Converting with the offset of midnight, or of the
first range of the day, is the bug that moved afternoon slots by an hour on DST transition
dates (Cal.com #30021, #4702; Easy!Appointments #962) and by 30 minutes on Lord Howe Island.

Conventions:
- A slot's `duration` is elapsed time, so a 60-minute session across a DST jump still lasts
  60 minutes; slots start every `interval` of elapsed time from the start of a working range.
- A wall-clock time that does not exist (the hour skipped in spring) is read with the offset
  before the jump (PEP 495 fold=0), i.e. it lands just after the gap; an ambiguous one (the
  hour repeated in autumn) means its first occurrence.
- A booking *blocks* [start - buffer_before - travel, end + buffer_after). Two bookings of one
  staff member may not have overlapping blocking ranges: this is exactly what the PostgreSQL
  exclusion constraint checks, so the engine never offers what the database would refuse.
  Back-to-back blocking ranges ([a, b) and [b, c)) do not overlap.
- Limits per day and per week count distinct booked start times in the staff member's zone
  (weeks start on Monday); joining an existing group session adds no new start.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, slots=True)
class Interval:
    """A half-open span [start, end) of aware instants."""

    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class WorkingRange:
    """Local wall-clock minutes from midnight: 540–720 is 09:00–12:00; 1440 is midnight."""

    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_minute < self.end_minute <= MINUTES_PER_DAY:
            raise ValueError(
                f"A working range runs forward within one day; got minutes "
                f"{self.start_minute}–{self.end_minute}."
            )


@dataclass(frozen=True)
class Schedule:
    """A staff member's hours: ranges per weekday (0 = Monday) and per-date overrides.

    A date in `overrides` replaces its weekday's ranges; an empty tuple is a day off.
    """

    zone: str
    weekly: Mapping[int, Sequence[WorkingRange]]
    overrides: Mapping[date, Sequence[WorkingRange]] = field(default_factory=dict)

    def ranges_on(self, day: date) -> Sequence[WorkingRange]:
        if day in self.overrides:
            return self.overrides[day]
        return self.weekly.get(day.weekday(), ())


@dataclass(frozen=True)
class SlotRules:
    """What one service asks of a slot (all spans are elapsed time)."""

    duration: timedelta
    interval: timedelta
    min_notice: timedelta = timedelta(0)
    horizon: timedelta = timedelta(days=60)
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    travel: timedelta = timedelta(0)
    max_per_day: int | None = None
    max_per_week: int | None = None
    capacity: int = 1

    def __post_init__(self) -> None:
        if self.duration <= timedelta(0) or self.interval <= timedelta(0):
            raise ValueError("Duration and slot interval must be positive.")
        if self.capacity < 1:
            raise ValueError("Capacity is at least 1.")

    def blocking(self, start: datetime) -> Interval:
        """The time a booking starting at `start` keeps from other bookings."""
        return Interval(
            start - self.buffer_before - self.travel,
            start + self.duration + self.buffer_after,
        )


@dataclass(frozen=True)
class StaffCalendar:
    """One staff member's side of the question.

    `busy`: blocking ranges of their other bookings, blocked time and imported busy times.
    `booked_starts`: starts of bookings that count towards the per-day and per-week limits.
    `sessions`: for a group service, seats already taken per session start; those bookings
    are left out of `busy` because a new seat shares their time instead of competing for it.
    """

    staff_id: int
    schedule: Schedule
    busy: Sequence[Interval] = ()
    booked_starts: Sequence[datetime] = ()
    sessions: Mapping[datetime, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    start: datetime
    end: datetime
    staff_id: int
    seats_left: int = 1


def local_instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock `minute` on `day` in `zone` (1440 = next midnight)."""
    extra_day, minute = divmod(minute, MINUTES_PER_DAY)
    wall = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)
    if extra_day:
        following = day + timedelta(days=extra_day)
        wall = datetime(following.year, following.month, following.day, tzinfo=zone)
    return wall.astimezone(UTC)


def working_intervals(schedule: Schedule, window: Interval) -> list[Interval]:
    """The schedule's working time that meets `window`, as UTC intervals in time order."""
    zone = ZoneInfo(schedule.zone)
    # One local day either side: a zone's date can differ from the UTC date by up to 14 hours.
    day = window.start.astimezone(zone).date() - timedelta(days=1)
    last = window.end.astimezone(zone).date() + timedelta(days=1)
    found: list[Interval] = []
    while day <= last:
        for item in schedule.ranges_on(day):
            start = local_instant(day, item.start_minute, zone)
            end = local_instant(day, item.end_minute, zone)
            if start < end and start < window.end and window.start < end:
                found.append(Interval(start, end))
        day += timedelta(days=1)
    found.sort(key=lambda interval: interval.start)
    return found


def _merged(intervals: Iterable[Interval]) -> tuple[list[datetime], list[datetime]]:
    """Sorted, non-overlapping starts and ends, for a binary-search overlap test."""
    starts: list[datetime] = []
    ends: list[datetime] = []
    for interval in sorted(intervals, key=lambda item: item.start):
        if interval.end <= interval.start:
            continue
        if ends and interval.start < ends[-1]:
            ends[-1] = max(ends[-1], interval.end)
        else:
            starts.append(interval.start)
            ends.append(interval.end)
    return starts, ends


def _conflict_end(starts: list[datetime], ends: list[datetime], span: Interval) -> datetime | None:
    """The end of the busy stretch `span` overlaps, or None when `span` is free."""
    # Only the last merged interval starting before span.end can overlap it.
    index = bisect_left(starts, span.end) - 1
    if index >= 0 and ends[index] > span.start:
        return ends[index]
    return None


def _steps_to(distance: timedelta, interval: timedelta) -> int:
    """How many intervals reach at least `distance` (a ceiling division)."""
    return max(1, -(-distance // interval))


def _local_day(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def _week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def staff_slots(
    calendar: StaffCalendar,
    rules: SlotRules,
    *,
    window: Interval,
    now: datetime,
    seats: int = 1,
    shared_busy: Sequence[Interval] = (),
) -> list[Slot]:
    """Bookable slots of one staff member whose start lies in `window`.

    `seats`: how many places the customer wants (group sessions). `shared_busy`: busy time of
    something the service needs besides the person, e.g. the room it is held in.
    """
    zone = ZoneInfo(calendar.schedule.zone)
    earliest = max(window.start, now + rules.min_notice)
    latest = min(window.end, now + rules.horizon + timedelta(microseconds=1))
    if earliest >= latest or seats > rules.capacity:
        return []
    busy_starts, busy_ends = _merged([*calendar.busy, *shared_busy])
    slots: dict[datetime, Slot] = {}  # overlapping working ranges may offer a start twice
    limits = _Limits(rules, zone, calendar.booked_starts)
    lead = rules.buffer_before + rules.travel
    # Widen by the duration so a range that began before the window still yields its slots.
    search = Interval(earliest - rules.duration, latest + rules.duration)
    for working in working_intervals(calendar.schedule, search):
        start = working.start
        if start < earliest:
            start += _steps_to(earliest - start, rules.interval) * rules.interval
        while start < latest and start + rules.duration <= working.end:
            conflict = _conflict_end(busy_starts, busy_ends, rules.blocking(start))
            if conflict is not None:
                # Every start before conflict + lead overlaps the same busy stretch: skip them.
                start += _steps_to(conflict + lead - start, rules.interval) * rules.interval
                continue
            taken = calendar.sessions.get(start)
            if taken is not None:
                # An existing group session: open while enough seats remain.
                if rules.capacity - taken >= seats:
                    slots[start] = Slot(
                        start, start + rules.duration, calendar.staff_id, rules.capacity - taken
                    )
            elif limits.allow(start):
                slots[start] = Slot(
                    start, start + rules.duration, calendar.staff_id, rules.capacity
                )
            start += rules.interval
    return [slots[start] for start in sorted(slots)]


class _Limits:
    """The per-day and per-week limits, counted in the staff member's zone."""

    def __init__(self, rules: SlotRules, zone: ZoneInfo, booked: Sequence[datetime]) -> None:
        self.rules = rules
        self.zone = zone
        self.per_day = Counter(_local_day(start, zone) for start in set(booked))
        self.per_week: Counter[date] = Counter()
        for day, count in self.per_day.items():
            self.per_week[_week_of(day)] += count

    def allow(self, start: datetime) -> bool:
        if self.rules.max_per_day is None and self.rules.max_per_week is None:
            return True
        day = _local_day(start, self.zone)
        if self.rules.max_per_day is not None and self.per_day[day] >= self.rules.max_per_day:
            return False
        week = self.per_week[_week_of(day)]
        return self.rules.max_per_week is None or week < self.rules.max_per_week


def within_limits(
    rules: SlotRules, zone: str, booked_starts: Sequence[datetime], start: datetime
) -> bool:
    """Whether one more booking at `start` keeps a staff member inside the per-day and
    per-week limits, counted in their zone as `staff_slots` counts them (`booked_starts`: the
    starts of their other bookings of the service)."""
    return _Limits(rules, ZoneInfo(zone), booked_starts).allow(start)


def available_slots(
    calendars: Sequence[StaffCalendar],
    rules: SlotRules,
    *,
    window: Interval,
    now: datetime,
    seats: int = 1,
    shared_busy: Sequence[Interval] = (),
) -> list[Slot]:
    """Every bookable (start, staff) pair in `window`, in time order, then staff order."""
    slots: list[Slot] = []
    for calendar in calendars:
        slots.extend(
            staff_slots(
                calendar, rules, window=window, now=now, seats=seats, shared_busy=shared_busy
            )
        )
    slots.sort()
    return slots


def slots_for_anyone(slots: Sequence[Slot], load: Mapping[int, int]) -> list[Slot]:
    """One slot per start time, given to the least-booked free person (ties: lowest id).

    `load`: how many bookings each staff member already has, as the caller counts them.
    """
    chosen: dict[datetime, Slot] = {}
    for slot in slots:
        current = chosen.get(slot.start)
        if current is None or (load.get(slot.staff_id, 0), slot.staff_id) < (
            load.get(current.staff_id, 0),
            current.staff_id,
        ):
            chosen[slot.start] = slot
    return [chosen[start] for start in sorted(chosen)]


def days_with_slots(slots: Iterable[Slot], zone: ZoneInfo) -> list[date]:
    """The dates, in the visitor's zone, on which at least one slot starts."""
    return sorted({slot.start.astimezone(zone).date() for slot in slots})


def slot_is_offered(slots: Sequence[Slot], start: datetime, staff_id: int) -> bool:
    """Whether exactly this start with this person is among `slots` (sorted by start)."""
    low = bisect_left(slots, start, key=lambda slot: slot.start)
    high = bisect_right(slots, start, key=lambda slot: slot.start)
    return any(slot.staff_id == staff_id for slot in slots[low:high])
