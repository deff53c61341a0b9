"""The availability engine on hand-made cases: each rule of a service, one at a time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tillbook.scheduling.availability import (
    Interval,
    Schedule,
    Slot,
    SlotRules,
    StaffCalendar,
    WorkingRange,
    available_slots,
    days_with_slots,
    slot_is_offered,
    slots_for_anyone,
    staff_slots,
    working_intervals,
)

UTC_MONDAY = date(2026, 6, 1)
NOW = datetime(2026, 5, 31, 12, 0, tzinfo=UTC)
NINE_TO_NOON = Schedule(zone="UTC", weekly={0: [WorkingRange(9 * 60, 12 * 60)]})
HOUR = SlotRules(duration=timedelta(hours=1), interval=timedelta(hours=1))
MONDAY = Interval(datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 2, tzinfo=UTC))


def at(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=UTC)


def starts(slots: list[Slot]) -> list[str]:
    return [slot.start.strftime("%d %H:%M") for slot in slots]


def test_slots_fill_the_working_range_at_the_interval() -> None:
    rules = SlotRules(duration=timedelta(minutes=60), interval=timedelta(minutes=30))
    slots = staff_slots(StaffCalendar(1, NINE_TO_NOON), rules, window=MONDAY, now=NOW)
    assert starts(slots) == ["01 09:00", "01 09:30", "01 10:00", "01 10:30", "01 11:00"]
    assert slots[0] == Slot(at(9), at(10), 1, 1)


def test_a_booking_takes_its_time_and_back_to_back_slots_stay() -> None:
    calendar = StaffCalendar(1, NINE_TO_NOON, busy=[Interval(at(10), at(11))])
    slots = staff_slots(calendar, HOUR, window=MONDAY, now=NOW)
    assert starts(slots) == ["01 09:00", "01 11:00"]


def test_a_booking_of_another_length_blocks_every_overlapping_start() -> None:
    calendar = StaffCalendar(1, NINE_TO_NOON, busy=[Interval(at(10, 15), at(10, 30))])
    rules = SlotRules(duration=timedelta(minutes=60), interval=timedelta(minutes=15))
    slots = staff_slots(calendar, rules, window=MONDAY, now=NOW)
    assert starts(slots) == ["01 09:00", "01 09:15", "01 10:30", "01 10:45", "01 11:00"]


def test_buffers_and_travel_keep_time_free_around_the_session() -> None:
    calendar = StaffCalendar(1, NINE_TO_NOON, busy=[Interval(at(11), at(11, 30))])
    rules = SlotRules(
        duration=timedelta(minutes=30),
        interval=timedelta(minutes=30),
        buffer_before=timedelta(minutes=10),
        buffer_after=timedelta(minutes=15),
        travel=timedelta(minutes=20),
    )
    # 10:30 would end at 11:00 and its 15-minute buffer runs into the 11:00 booking; 11:30
    # needs 30 minutes of buffer and travel before it, which the booking still occupies.
    slots = staff_slots(calendar, rules, window=MONDAY, now=NOW)
    assert starts(slots) == ["01 09:00", "01 09:30", "01 10:00"]
    assert rules.blocking(at(9)) == Interval(at(8, 30), at(9, 45))


def test_minimum_notice_and_horizon_bound_the_offer() -> None:
    now = at(8, 30)
    rules = SlotRules(
        duration=timedelta(hours=1),
        interval=timedelta(hours=1),
        min_notice=timedelta(hours=1, minutes=30),
        horizon=timedelta(hours=2, minutes=15),
    )
    # 09:00 is only 30 minutes away; 11:00 is more than two and a quarter hours away.
    assert starts(staff_slots(StaffCalendar(1, NINE_TO_NOON), rules, window=MONDAY, now=now)) == [
        "01 10:00"
    ]


def test_the_horizon_itself_is_still_bookable() -> None:
    rules = SlotRules(
        duration=timedelta(hours=1), interval=timedelta(hours=1), horizon=timedelta(hours=2)
    )
    slots = staff_slots(StaffCalendar(1, NINE_TO_NOON), rules, window=MONDAY, now=at(8))
    assert starts(slots) == ["01 09:00", "01 10:00"]


def test_the_daily_limit_closes_the_day_and_leaves_the_next_open() -> None:
    schedule = Schedule(
        zone="UTC", weekly={0: [WorkingRange(540, 720)], 1: [WorkingRange(540, 600)]}
    )
    rules = SlotRules(duration=timedelta(hours=1), interval=timedelta(hours=1), max_per_day=1)
    calendar = StaffCalendar(1, schedule, busy=[Interval(at(9), at(10))], booked_starts=[at(9)])
    window = Interval(at(0), at(0, day=3))
    assert starts(staff_slots(calendar, rules, window=window, now=NOW)) == ["02 09:00"]


def test_the_weekly_limit_counts_monday_to_sunday_in_the_staff_zone() -> None:
    schedule = Schedule(zone="UTC", weekly={day: [WorkingRange(540, 600)] for day in range(7)})
    rules = SlotRules(duration=timedelta(hours=1), interval=timedelta(hours=1), max_per_week=2)
    booked = [at(9, day=1), at(9, day=3)]
    calendar = StaffCalendar(
        1,
        schedule,
        busy=[Interval(s, s + timedelta(hours=1)) for s in booked],
        booked_starts=booked,
    )
    window = Interval(at(0, day=1), at(0, day=10))
    # The week of 1–7 June is full; 8 June starts a new week.
    assert starts(staff_slots(calendar, rules, window=window, now=NOW)) == ["08 09:00", "09 09:00"]


def test_a_group_session_stays_open_until_its_seats_are_taken() -> None:
    rules = SlotRules(duration=timedelta(hours=1), interval=timedelta(hours=1), capacity=8)
    calendar = StaffCalendar(1, NINE_TO_NOON, sessions={at(10): 6, at(11): 8})
    slots = staff_slots(calendar, rules, window=MONDAY, now=NOW, seats=2)
    assert [(s.start.hour, s.seats_left) for s in slots] == [(9, 8), (10, 2)]
    assert staff_slots(calendar, rules, window=MONDAY, now=NOW, seats=3)[1:] == []
    assert staff_slots(calendar, rules, window=MONDAY, now=NOW, seats=9) == []


def test_joining_a_group_session_is_not_limited_by_the_daily_limit() -> None:
    rules = SlotRules(
        duration=timedelta(hours=1), interval=timedelta(hours=1), capacity=4, max_per_day=1
    )
    calendar = StaffCalendar(1, NINE_TO_NOON, booked_starts=[at(10)], sessions={at(10): 1})
    assert starts(staff_slots(calendar, rules, window=MONDAY, now=NOW)) == ["01 10:00"]


def test_a_needed_room_that_is_taken_blocks_the_slot() -> None:
    slots = staff_slots(
        StaffCalendar(1, NINE_TO_NOON),
        HOUR,
        window=MONDAY,
        now=NOW,
        shared_busy=[Interval(at(9, 30), at(10, 30))],
    )
    assert starts(slots) == ["01 11:00"]


def test_date_overrides_replace_the_weekday_and_an_empty_one_is_a_day_off() -> None:
    schedule = Schedule(
        zone="UTC",
        weekly={0: [WorkingRange(540, 720)], 1: [WorkingRange(540, 720)]},
        overrides={date(2026, 6, 1): [WorkingRange(13 * 60, 14 * 60)], date(2026, 6, 2): []},
    )
    window = Interval(at(0), at(0, day=3))
    assert starts(staff_slots(StaffCalendar(1, schedule), HOUR, window=window, now=NOW)) == [
        "01 13:00"
    ]


def test_several_ranges_a_day_each_give_slots() -> None:
    schedule = Schedule(zone="UTC", weekly={0: [WorkingRange(540, 600), WorkingRange(780, 900)]})
    assert starts(staff_slots(StaffCalendar(1, schedule), HOUR, window=MONDAY, now=NOW)) == [
        "01 09:00",
        "01 13:00",
        "01 14:00",
    ]


def test_a_range_until_midnight_ends_at_the_next_day() -> None:
    schedule = Schedule(zone="UTC", weekly={0: [WorkingRange(22 * 60, 24 * 60)]})
    assert working_intervals(schedule, MONDAY) == [Interval(at(22), at(0, day=2))]


def test_anyone_gets_the_least_booked_free_person_per_start() -> None:
    busy_ann = StaffCalendar(1, NINE_TO_NOON, busy=[Interval(at(9), at(10))])
    free_bob = StaffCalendar(2, NINE_TO_NOON)
    slots = available_slots([busy_ann, free_bob], HOUR, window=MONDAY, now=NOW)
    chosen = slots_for_anyone(slots, load={1: 1, 2: 5})
    assert [(s.start.hour, s.staff_id) for s in chosen] == [(9, 2), (10, 1), (11, 1)]
    tie = slots_for_anyone(slots, load={})
    assert [(s.start.hour, s.staff_id) for s in tie] == [(9, 2), (10, 1), (11, 1)]


def test_days_with_slots_are_counted_in_the_visitors_zone() -> None:
    from zoneinfo import ZoneInfo

    slots = [Slot(at(23), at(0, day=2), 1), Slot(at(9, day=2), at(10, day=2), 1)]
    assert days_with_slots(slots, ZoneInfo("UTC")) == [date(2026, 6, 1), date(2026, 6, 2)]
    assert days_with_slots(slots, ZoneInfo("Asia/Tokyo")) == [date(2026, 6, 2)]


def test_slot_is_offered_matches_start_and_person() -> None:
    slots = available_slots(
        [StaffCalendar(1, NINE_TO_NOON), StaffCalendar(2, NINE_TO_NOON)],
        HOUR,
        window=MONDAY,
        now=NOW,
    )
    assert slot_is_offered(slots, at(10), 2)
    assert not slot_is_offered(slots, at(10, 30), 2)
    assert not slot_is_offered(slots, at(10), 3)


@pytest.mark.parametrize(("start", "end"), [(600, 600), (700, 600), (-1, 60), (0, 1441)])
def test_a_working_range_must_run_forward_within_one_day(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="A working range runs forward within one day"):
        WorkingRange(start, end)
