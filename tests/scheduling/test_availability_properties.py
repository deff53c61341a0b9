"""Properties of the availability engine, for any schedule, bookings and rules Hypothesis finds:
no slot overlaps busy time (with buffers and travel), every slot is inside working hours and
respects notice, horizon and limits; and the engine offers exactly what a naive per-minute scan
offers, around the DST transitions of four zones."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from tillbook.scheduling.availability import (
    Interval,
    Schedule,
    SlotRules,
    StaffCalendar,
    WorkingRange,
    staff_slots,
    working_intervals,
)

from .naive import naive_staff_slots

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC"]
# Days around the 2026 transitions of those zones, so most examples cross one.
DAYS = [
    date(2026, 3, 7),
    date(2026, 3, 28),
    date(2026, 4, 4),
    date(2026, 10, 3),
    date(2026, 10, 24),
    date(2026, 10, 31),
]
MINUTES = st.integers(min_value=0, max_value=24 * 12).map(lambda n: n * 5)


@st.composite
def working_ranges(draw: st.DrawFn) -> list[WorkingRange]:
    ranges = []
    for _ in range(draw(st.integers(0, 3))):
        start, end = sorted(draw(st.lists(MINUTES, min_size=2, max_size=2, unique=True)))
        ranges.append(WorkingRange(start, end))
    return ranges


@st.composite
def scenarios(draw: st.DrawFn) -> dict:
    zone = draw(st.sampled_from(ZONES))
    first_day = draw(st.sampled_from(DAYS))
    weekly = {weekday: draw(working_ranges()) for weekday in range(7)}
    overrides = {}
    if draw(st.booleans()):
        overrides[first_day + timedelta(days=draw(st.integers(0, 2)))] = draw(working_ranges())
    base = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
    busy = []
    for _ in range(draw(st.integers(0, 8))):
        start = base + timedelta(minutes=5 * draw(st.integers(-288, 4 * 288)))
        busy.append(Interval(start, start + timedelta(minutes=5 * draw(st.integers(1, 36)))))
    booked_starts = [item.start for item in busy if draw(st.booleans())]
    minutes = st.sampled_from([0, 5, 10, 15, 30])
    rules = SlotRules(
        duration=timedelta(minutes=draw(st.sampled_from([15, 30, 45, 60, 90]))),
        interval=timedelta(minutes=draw(st.sampled_from([10, 15, 30, 60]))),
        min_notice=timedelta(minutes=draw(st.sampled_from([0, 60, 600, 2000]))),
        horizon=timedelta(minutes=draw(st.sampled_from([600, 2880, 100_000]))),
        buffer_before=timedelta(minutes=draw(minutes)),
        buffer_after=timedelta(minutes=draw(minutes)),
        travel=timedelta(minutes=draw(minutes)),
        max_per_day=draw(st.none() | st.integers(0, 3)),
        max_per_week=draw(st.none() | st.integers(0, 5)),
    )
    now = base + timedelta(minutes=5 * draw(st.integers(-288, 288)))
    window_start = base + timedelta(minutes=5 * draw(st.integers(-100, 288)))
    window = Interval(window_start, window_start + timedelta(hours=draw(st.integers(1, 72))))
    calendar = StaffCalendar(
        7,
        Schedule(zone=zone, weekly=weekly, overrides=overrides),
        busy=busy,
        booked_starts=booked_starts,
    )
    return {"calendar": calendar, "rules": rules, "window": window, "now": now}


@given(scenarios())
def test_no_slot_overlaps_busy_time_with_its_buffers_and_travel(scenario: dict) -> None:
    rules: SlotRules = scenario["rules"]
    for slot in staff_slots(**scenario):
        blocking = rules.blocking(slot.start)
        assert not any(blocking.overlaps(busy) for busy in scenario["calendar"].busy)


@given(scenarios())
def test_every_slot_is_inside_working_hours_notice_horizon_and_window(scenario: dict) -> None:
    rules: SlotRules = scenario["rules"]
    now, window = scenario["now"], scenario["window"]
    working = working_intervals(
        scenario["calendar"].schedule,
        Interval(window.start - timedelta(days=1), window.end + timedelta(days=1)),
    )
    for slot in staff_slots(**scenario):
        assert slot.start.utcoffset() == timedelta(0)
        assert slot.end - slot.start == rules.duration
        assert window.start <= slot.start < window.end
        assert now + rules.min_notice <= slot.start <= now + rules.horizon
        assert any(w.start <= slot.start and slot.end <= w.end for w in working)


@given(scenarios())
def test_no_slot_falls_on_a_day_or_week_that_reached_its_limit(scenario: dict) -> None:
    rules: SlotRules = scenario["rules"]
    calendar: StaffCalendar = scenario["calendar"]
    zone = ZoneInfo(calendar.schedule.zone)
    per_day = Counter(start.astimezone(zone).date() for start in set(calendar.booked_starts))
    for slot in staff_slots(**scenario):
        day = slot.start.astimezone(zone).date()
        monday = day - timedelta(days=day.weekday())
        week = sum(n for d, n in per_day.items() if monday <= d < monday + timedelta(days=7))
        if rules.max_per_day is not None:
            assert per_day[day] < rules.max_per_day
        if rules.max_per_week is not None:
            assert week < rules.max_per_week


@given(scenarios())
def test_the_engine_offers_exactly_what_a_per_minute_scan_offers(scenario: dict) -> None:
    assert staff_slots(**scenario) == naive_staff_slots(**scenario)


@given(scenarios(), st.integers(1, 4), st.integers(0, 5))
def test_group_sessions_never_offer_more_seats_than_remain(
    scenario: dict, seats: int, taken: int
) -> None:
    rules = SlotRules(
        duration=scenario["rules"].duration,
        interval=scenario["rules"].interval,
        capacity=4,
        horizon=scenario["rules"].horizon,
    )
    open_slots = staff_slots(**{**scenario, "rules": rules})
    if not open_slots:
        return
    session_start = open_slots[0].start
    calendar = scenario["calendar"]
    with_session = StaffCalendar(
        calendar.staff_id,
        calendar.schedule,
        busy=calendar.busy,
        booked_starts=[*calendar.booked_starts, session_start],
        sessions={session_start: taken},
    )
    offered = staff_slots(**{**scenario, "rules": rules, "calendar": with_session}, seats=seats)
    matching = [slot for slot in offered if slot.start == session_start]
    if taken + seats <= 4:
        assert [slot.seats_left for slot in matching] == [4 - taken]
    else:
        assert matching == []
