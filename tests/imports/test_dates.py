"""Dates: unambiguous formats are read, ambiguous day/month order is learned or refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tillbook.imports.cells import CellError
from tillbook.imports.dates import DateOrder, DateReader, parse_datetime, zone_named


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-09-01", date(2026, 9, 1)),
        ("01.09.2026", date(2026, 9, 1)),  # German: always day first
        ("1 September 2026", date(2026, 9, 1)),  # Google Ads date range
        ("September 30, 2026", date(2026, 9, 30)),
        ("Sep 1, 2026", date(2026, 9, 1)),
        ("1. März 2026", date(2026, 3, 1)),
        ("13/04/2026", date(2026, 4, 13)),
        ("04/13/2026", date(2026, 4, 13)),
    ],
)
def test_unambiguous_dates_are_read(text: str, expected: date) -> None:
    assert DateReader().parse(text, 1) == expected


def test_one_day_above_twelve_settles_the_order_for_the_whole_file() -> None:
    dates = DateReader()
    dates.parse("03/04/2026", 2)
    dates.parse("13/04/2026", 3)
    assert dates.resolved_order() is DateOrder.DAY_FIRST
    assert DateReader(order=DateOrder.DAY_FIRST).parse("03/04/2026", 2) == date(2026, 4, 3)
    assert DateReader(order=DateOrder.MONTH_FIRST).parse("03/04/2026", 2) == date(2026, 3, 4)


def test_a_file_whose_dates_all_fit_both_orders_is_refused_with_a_question() -> None:
    dates = DateReader()
    dates.parse("03/04/2026", 2)
    dates.parse("05/05/2026", 3)  # the same either way: proves nothing, confuses nothing
    with pytest.raises(CellError, match=r"ambiguous \(line 2 .*mdy \(month first.*dmy \(day"):
        dates.resolved_order()


def test_a_file_that_mixes_both_orders_is_refused() -> None:
    dates = DateReader()
    dates.parse("13/04/2026", 2)
    dates.parse("04/14/2026", 7)
    with pytest.raises(CellError, match=r"mix day-first \(line 2\) and month-first \(line 7\)"):
        dates.resolved_order()


def test_impossible_dates_are_refused() -> None:
    with pytest.raises(CellError, match="“2026-02-30” is not a date"):
        DateReader().parse("2026-02-30", 1)
    with pytest.raises(CellError, match="“yesterday” is not a date"):
        DateReader().parse("yesterday", 1)


def test_the_day_of_a_timestamp_is_read_once_per_day_and_a_bad_one_quoted_whole() -> None:
    dates = DateReader()
    assert dates.parse("2026-11-29 08:15:00", 2) == date(2026, 11, 29)
    assert dates.parse("2026-11-29T23:59:59", 3) == date(2026, 11, 29)
    assert dates.parse("2026-11-30 00:00:01", 4) == date(2026, 11, 30)
    assert dates._cache == {"2026-11-29": date(2026, 11, 29), "2026-11-30": date(2026, 11, 30)}
    with pytest.raises(CellError, match="“2026-02-30 10:00:00” is not a date"):
        dates.parse("2026-02-30 10:00:00", 5)
    # Only a year-month-day part is a day's key: 29.11.2026 is not read from it.
    dates.parse("29.11.2026", 6)
    with pytest.raises(CellError, match=r"“29\.11\.2026 10:00” is not a date"):
        dates.parse("29.11.2026 10:00", 7)


def test_times_carry_the_zone_the_file_names() -> None:
    dates = DateReader()
    assert parse_datetime("2026-09-01 14:03", 1, dates, UTC) == datetime(
        2026, 9, 1, 14, 3, tzinfo=UTC
    )
    pdt = parse_datetime("9/14/2026 10:12:45", 1, dates, zone_named("PDT"))
    assert pdt.astimezone(UTC) == datetime(2026, 9, 14, 17, 12, 45, tzinfo=UTC)
    mesz = zone_named("MESZ")
    assert mesz.utcoffset(None) == timedelta(hours=2)
    assert zone_named("Pacific Time (US & Canada)") == ZoneInfo("America/Los_Angeles")
    assert zone_named("Europe/Berlin") == ZoneInfo("Europe/Berlin")
    assert zone_named("+05:30") == timezone(timedelta(hours=5, minutes=30))
    with pytest.raises(CellError, match="“Mars Standard” is not a time zone"):
        zone_named("Mars Standard")


@pytest.mark.parametrize(
    "name",
    ["GMT+24", "+25:00", "-12:75", "America", "Europe/", "A" * 300, "Etc/../../x", "nul\x00zone"],
)
def test_a_zone_that_cannot_be_is_a_problem_on_its_row_not_a_crash(name: str) -> None:
    with pytest.raises(CellError, match="is not a time zone Tillbook knows"):
        zone_named(name)


def test_a_time_that_names_utc_in_words_is_utc_and_a_bad_one_is_quoted_as_written() -> None:
    chicago = ZoneInfo("America/Chicago")
    for text in ("2026-09-01 14:03:22 UTC", "9/1/2026 14:03:22 GMT", "2026-09-01T14:03:22 utc"):
        assert parse_datetime(text, 1, DateReader(), chicago) == datetime(
            2026, 9, 1, 14, 3, 22, tzinfo=UTC
        )
    with pytest.raises(CellError, match="“14:03:22 TST”"):  # its T was taken for ISO's
        parse_datetime("2026-09-01 14:03:22 TST", 1, DateReader(), chicago)


def test_an_offset_beyond_any_zone_in_a_time_is_a_problem_on_its_row() -> None:
    with pytest.raises(CellError, match="“\\+24:00” is not a time zone"):
        parse_datetime("2026-09-01 15:04:05+24:00", 2, DateReader(), UTC)
    assert zone_named("+14:00") == timezone(timedelta(hours=14))


@pytest.mark.parametrize(
    ("name", "zone"),
    [
        ("Adelaide", "Australia/Adelaide"),
        ("Canberra", "Australia/Melbourne"),
        ("Hobart", "Australia/Hobart"),
        ("Darwin", "Australia/Darwin"),
        ("Saskatchewan", "America/Regina"),
        ("Newfoundland", "America/St_Johns"),
        ("Indiana (East)", "America/Indiana/Indianapolis"),
        ("Mexico City", "America/Mexico_City"),
        ("Osaka", "Asia/Tokyo"),
        ("Wellington", "Pacific/Auckland"),
        ("Nuku'alofa", "Pacific/Tongatapu"),
    ],
)
def test_squares_zone_names_are_the_zones_rails_means(name: str, zone: str) -> None:
    assert zone_named(name) == ZoneInfo(zone)


def test_every_named_zone_is_in_the_zone_database() -> None:
    from tillbook.imports.dates import NAMED_ZONES

    assert len(NAMED_ZONES) == 152
    assert all(ZoneInfo(zone) for zone in NAMED_ZONES.values())
