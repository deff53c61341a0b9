"""Date-range presets and the period each range is compared with."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from tillbook.insights.periods import Period, period_preset

ZONE = ZoneInfo("America/Chicago")


def span(period: Period) -> tuple[date, date]:
    return period.first, period.last


@pytest.mark.parametrize(
    ("name", "today", "first", "last"),
    [
        ("7d", date(2024, 3, 15), date(2024, 3, 9), date(2024, 3, 15)),
        ("mtd", date(2024, 3, 15), date(2024, 3, 1), date(2024, 3, 15)),
        ("last_month", date(2024, 3, 15), date(2024, 2, 1), date(2024, 2, 29)),
        ("ytd", date(2024, 3, 15), date(2024, 1, 1), date(2024, 3, 15)),
        ("365d", date(2024, 3, 15), date(2023, 3, 16), date(2024, 3, 15)),
        ("365d", date(2024, 2, 29), date(2023, 3, 1), date(2024, 2, 29)),
        ("365d", date(2025, 2, 28), date(2024, 3, 1), date(2025, 2, 28)),
        ("365d", date(2024, 2, 28), date(2023, 3, 1), date(2024, 2, 28)),
    ],
)
def test_presets(name: str, today: date, first: date, last: date) -> None:
    assert span(period_preset(name, today=today, zone=ZONE)) == (first, last)


@pytest.mark.parametrize(
    ("first", "last", "before"),
    [
        # Whole months compare with whole months, however long each is.
        (date(2026, 9, 1), date(2026, 9, 30), (date(2026, 8, 1), date(2026, 8, 31))),
        (date(2024, 3, 1), date(2024, 3, 31), (date(2024, 2, 1), date(2024, 2, 29))),
        (date(2026, 1, 1), date(2026, 1, 31), (date(2025, 12, 1), date(2025, 12, 31))),
        (date(2026, 7, 1), date(2026, 9, 30), (date(2026, 4, 1), date(2026, 6, 30))),
        # Anything else: as many days just before.
        (date(2026, 9, 8), date(2026, 9, 14), (date(2026, 9, 1), date(2026, 9, 7))),
        (date(2024, 3, 1), date(2024, 3, 15), (date(2024, 2, 15), date(2024, 2, 29))),
        (date(2026, 9, 2), date(2026, 9, 30), (date(2026, 8, 4), date(2026, 9, 1))),
    ],
)
def test_the_previous_period(first: date, last: date, before: tuple[date, date]) -> None:
    assert span(Period(first, last, ZONE).previous()) == before
