"""Daylight-saving transitions: the lesson of Cal.com #30021/#4702 and Easy!Appointments
#962/#1314, where afternoon schedules moved by an hour on transition dates and a test at 9 AM
missed it. Each zone is checked on its transition dates (and the day before, as a control) with
morning and afternoon starts; Lord Howe moves by 30 minutes, Kathmandu sits at +05:45."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tillbook.scheduling.availability import (
    Interval,
    Schedule,
    SlotRules,
    StaffCalendar,
    WorkingRange,
    staff_slots,
)

HOUR = SlotRules(duration=timedelta(hours=1), interval=timedelta(hours=1))
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
NO_HORIZON = SlotRules(
    duration=timedelta(hours=1), interval=timedelta(hours=1), horizon=timedelta(days=5000)
)

# zone, a transition date, and the UTC offset (minutes) in the afternoon before and on it.
TRANSITIONS = [
    ("Europe/Berlin", date(2026, 3, 29), 60, 120),
    ("Europe/Berlin", date(2026, 10, 25), 120, 60),
    ("America/New_York", date(2026, 3, 8), -300, -240),
    ("America/New_York", date(2026, 11, 1), -240, -300),
    ("Australia/Lord_Howe", date(2026, 4, 5), 660, 630),
    ("Australia/Lord_Howe", date(2026, 10, 4), 630, 660),
    ("Asia/Kathmandu", date(2026, 3, 29), 345, 345),
]


def slots_on(zone: str, day: date, ranges: list[WorkingRange], rules: SlotRules = NO_HORIZON):
    schedule = Schedule(zone=zone, weekly={day.weekday(): ranges})
    local_midnight = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone))
    window = Interval(
        local_midnight.astimezone(UTC), (local_midnight + timedelta(days=1)).astimezone(UTC)
    )
    return staff_slots(StaffCalendar(1, schedule), rules, window=window, now=LONG_AGO)


def wall(slots, zone: str) -> list[str]:
    return [slot.start.astimezone(ZoneInfo(zone)).strftime("%H:%M") for slot in slots]


@pytest.mark.parametrize(("zone", "day", "offset_before", "offset_on"), TRANSITIONS)
@pytest.mark.parametrize("start_hour", [9, 14, 17])
def test_slots_start_at_the_same_wall_clock_time_on_a_transition_date(
    zone: str, day: date, offset_before: int, offset_on: int, start_hour: int
) -> None:
    ranges = [WorkingRange(start_hour * 60, (start_hour + 3) * 60)]
    expected = [f"{start_hour + n:02d}:00" for n in range(3)]
    on_the_day = slots_on(zone, day, ranges)
    day_before = slots_on(zone, day - timedelta(days=7), ranges)
    assert wall(on_the_day, zone) == expected
    assert wall(day_before, zone) == expected
    # Every transition here happens before 09:00, so the whole range has the day's new offset.
    first = datetime(day.year, day.month, day.day, start_hour, tzinfo=UTC)
    assert on_the_day[0].start == first - timedelta(minutes=offset_on)
    week_before = first - timedelta(days=7)
    assert day_before[0].start == week_before - timedelta(minutes=offset_before)


def test_kathmandu_afternoon_start_is_a_quarter_to_in_utc() -> None:
    slots = slots_on("Asia/Kathmandu", date(2026, 6, 1), [WorkingRange(14 * 60, 16 * 60)])
    assert [slot.start for slot in slots] == [
        datetime(2026, 6, 1, 8, 15, tzinfo=UTC),
        datetime(2026, 6, 1, 9, 15, tzinfo=UTC),
    ]


def test_a_range_across_the_spring_gap_offers_only_real_time() -> None:
    # 01:00–04:00 on the night Berlin skips 02:00–03:00 is two real hours.
    rules = SlotRules(
        duration=timedelta(hours=1), interval=timedelta(minutes=30), horizon=timedelta(days=5000)
    )
    slots = slots_on("Europe/Berlin", date(2026, 3, 29), [WorkingRange(60, 240)], rules)
    assert wall(slots, "Europe/Berlin") == ["01:00", "01:30", "03:00"]
    assert all(slot.end - slot.start == timedelta(hours=1) for slot in slots)


def test_a_range_across_the_autumn_repeat_offers_the_extra_hour() -> None:
    # 01:00–04:00 on the night Berlin repeats 02:00–03:00 is four real hours.
    slots = slots_on("Europe/Berlin", date(2026, 10, 25), [WorkingRange(60, 240)])
    assert wall(slots, "Europe/Berlin") == ["01:00", "02:00", "02:00", "03:00"]
    assert [slot.start.hour for slot in slots] == [23, 0, 1, 2]


def test_lord_howe_half_hour_jump_inside_a_range() -> None:
    # On 4 October 2026 Lord Howe goes from 02:00 (+10:30) straight to 02:30 (+11:00).
    slots = slots_on("Australia/Lord_Howe", date(2026, 10, 4), [WorkingRange(60, 240)])
    assert wall(slots, "Australia/Lord_Howe") == ["01:00", "02:30"]


def test_a_range_starting_inside_the_gap_starts_just_after_it() -> None:
    slots = slots_on("America/New_York", date(2026, 3, 8), [WorkingRange(150, 330)])
    assert wall(slots, "America/New_York") == ["03:30", "04:30"]
    assert slots[0].start == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_a_visitor_in_another_zone_sees_the_same_instants() -> None:
    slots = slots_on("Europe/Berlin", date(2026, 3, 29), [WorkingRange(14 * 60, 16 * 60)])
    assert wall(slots, "America/New_York") == ["08:00", "09:00"]
    assert wall(slots, "Asia/Kathmandu") == ["17:45", "18:45"]
