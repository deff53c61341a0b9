"""Repeating events in an imported calendar block every occurrence, on their own clock."""

from __future__ import annotations

from datetime import UTC, datetime

from tillbook.scheduling.calendar_files import BusyTime, busy_times

AUTUMN = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC))


def calendar(*events: str) -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\n{event.strip()}\r\nEND:VEVENT\r\n" for event in events)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n" + body + "END:VCALENDAR\r\n"
    ).encode()


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


WEEKLY_STANDUP = """
UID:standup@example.test
SUMMARY:Standup
DTSTART;TZID=Europe/Berlin:20261019T090000
DTEND;TZID=Europe/Berlin:20261019T100000
RRULE:FREQ=WEEKLY;COUNT=4
"""


def test_a_weekly_meeting_keeps_its_local_time_across_the_dst_change() -> None:
    # Berlin leaves summer time on 25 October: 09:00 is 07:00 UTC before, 08:00 after.
    assert busy_times(calendar(WEEKLY_STANDUP), window_start=AUTUMN[0], window_end=AUTUMN[1]) == [
        BusyTime(utc(2026, 10, 19, 7), utc(2026, 10, 19, 8), "Standup"),
        BusyTime(utc(2026, 10, 26, 8), utc(2026, 10, 26, 9), "Standup"),
        BusyTime(utc(2026, 11, 2, 8), utc(2026, 11, 2, 9), "Standup"),
        BusyTime(utc(2026, 11, 9, 8), utc(2026, 11, 9, 9), "Standup"),
    ]


def test_excluded_moved_and_cancelled_occurrences() -> None:
    found = busy_times(
        calendar(
            WEEKLY_STANDUP + "EXDATE;TZID=Europe/Berlin:20261026T090000\r\n"
            "RDATE;TZID=Europe/Berlin:20261021T160000",
            # 2 November moved to the afternoon; 9 November cancelled.
            """
UID:standup@example.test
RECURRENCE-ID;TZID=Europe/Berlin:20261102T090000
SUMMARY:Standup (moved)
DTSTART;TZID=Europe/Berlin:20261102T140000
DTEND;TZID=Europe/Berlin:20261102T150000
""",
            """
UID:standup@example.test
RECURRENCE-ID;TZID=Europe/Berlin:20261109T090000
STATUS:CANCELLED
DTSTART;TZID=Europe/Berlin:20261109T090000
DTEND;TZID=Europe/Berlin:20261109T100000
""",
        ),
        window_start=AUTUMN[0],
        window_end=AUTUMN[1],
    )
    assert sorted(found, key=lambda busy: busy.start) == [
        BusyTime(utc(2026, 10, 19, 7), utc(2026, 10, 19, 8), "Standup"),
        BusyTime(utc(2026, 10, 21, 14), utc(2026, 10, 21, 15), "Standup"),
        BusyTime(utc(2026, 11, 2, 13), utc(2026, 11, 2, 14), "Standup (moved)"),
    ]


def test_a_daily_rule_from_years_ago_yields_only_the_window() -> None:
    found = busy_times(
        calendar("""
UID:gym@example.test
SUMMARY:Gym
DTSTART:20200106T060000Z
DURATION:PT1H
RRULE:FREQ=DAILY;UNTIL=20261004T060000Z
"""),
        window_start=utc(2026, 10, 2, 12),
        window_end=AUTUMN[1],
    )
    assert [busy.start for busy in found] == [utc(2026, 10, 3, 6), utc(2026, 10, 4, 6)]


def test_repeating_all_day_events_block_whole_days() -> None:
    found = busy_times(
        calendar("""
UID:weekend@example.test
SUMMARY:Family
DTSTART;VALUE=DATE:20261003
RRULE:FREQ=WEEKLY;BYDAY=SA,SU;COUNT=4
"""),
        window_start=AUTUMN[0],
        window_end=AUTUMN[1],
    )
    assert [(busy.start, busy.end) for busy in found] == [
        (utc(2026, 10, 3), utc(2026, 10, 4)),
        (utc(2026, 10, 4), utc(2026, 10, 5)),
        (utc(2026, 10, 10), utc(2026, 10, 11)),
        (utc(2026, 10, 11), utc(2026, 10, 12)),
    ]


def test_a_runaway_rule_stops_after_a_bounded_number_of_steps() -> None:
    # Every second since 2000: far more than MAX_RULE_STEPS before the window is reached.
    found = busy_times(
        calendar("""
UID:noise@example.test
DTSTART:20000101T000000Z
DURATION:PT1S
RRULE:FREQ=SECONDLY
"""),
        window_start=AUTUMN[0],
        window_end=AUTUMN[1],
    )
    assert found == []
