"""Date ranges as the owner means them: inclusive days in the business's time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tillbook.core.errors import InvalidInput

MAX_DAYS = 366 * 5
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# The dates an owner may ask for: wide enough for any business's history, narrow enough that
# a period, the one before it and their days stay well inside what dates can hold.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2099, 12, 31)


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise InvalidInput(
                f"The range ends ({self.last}) before it starts ({self.first}).",
                field_errors={"to": ["Pick an end date on or after the start date."]},
            )
        if self.days > MAX_DAYS:
            raise InvalidInput(f"Pick a range of at most {MAX_DAYS} days.")

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        """The first instant of the first day, in the business's zone."""
        return datetime.combine(self.first, time(0), tzinfo=self.zone)

    @property
    def end(self) -> datetime:
        """The first instant after the last day (exclusive bound; DST-safe)."""
        return datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=self.zone)

    def previous(self) -> Period:
        """The period to compare with. Whole calendar months compare with as many whole months
        just before (September → August, March 2024 → February 2024 with its 29 days, a
        quarter → the quarter before); any other range with the same number of days just
        before it (8–14 September → 1–7 September)."""
        months = self._whole_months()
        if months:
            last = self.first - timedelta(days=1)
            year, month = divmod(self.first.year * 12 + self.first.month - 1 - months, 12)
            return Period(date(year, month + 1, 1), last, self.zone)
        return Period(
            self.first - timedelta(days=self.days), self.first - timedelta(days=1), self.zone
        )

    def _whole_months(self) -> int:
        """How many calendar months the period is, when it is whole months; else 0."""
        if self.first.day != 1 or (self.last + timedelta(days=1)).day != 1:
            return 0
        return (self.last.year - self.first.year) * 12 + self.last.month - self.first.month + 1

    def each_day(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.days)]


def iso_day(text: str) -> date:
    """YYYY-MM-DD and nothing else (Python also reads 20260901 and 2026-W35-2 as dates)."""
    if not _ISO_DAY.fullmatch(text):
        raise ValueError(f"{text!r} is not a YYYY-MM-DD date")
    return date.fromisoformat(text)


def within_years(moment: date) -> bool:
    """Whether a day (or a datetime, by its own calendar day) lies in the years Tillbook deals
    with. Year 1 or 9999 parses, but a day, a week or a zone added to it overflows."""
    day = moment.date() if isinstance(moment, datetime) else moment
    return FIRST_DAY <= day <= LAST_DAY


def period_between(first: date, last: date, zone: ZoneInfo) -> Period:
    """A period asked for by a person (the range picker, `tillbook metrics`)."""
    for day, name in ((first, "from"), (last, "to")):
        if not within_years(day):
            raise InvalidInput(
                f"Pick dates from {FIRST_DAY.year} to {LAST_DAY.year}; {day} is outside.",
                field_errors={name: [f"Between {FIRST_DAY.year} and {LAST_DAY.year}."]},
            )
    return Period(first, last, zone)


PRESETS = {
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "mtd": "This month",
    "last_month": "Last month",
    "ytd": "This year",
    "365d": "Last 12 months",
}


def period_preset(name: str, *, today: date, zone: ZoneInfo) -> Period:
    if name in ("7d", "30d", "90d"):
        days = int(name[:-1])
        return Period(today - timedelta(days=days - 1), today, zone)
    if name == "365d":  # from tomorrow's date a year back: 16 March 2023 to 15 March 2024
        tomorrow = today + timedelta(days=1)
        try:
            first = tomorrow.replace(year=tomorrow.year - 1)
        except ValueError:  # 29 February has no date a year back: start on 1 March
            first = date(tomorrow.year - 1, 3, 1)
        return Period(first, today, zone)
    if name == "mtd":
        return Period(today.replace(day=1), today, zone)
    if name == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return Period(last.replace(day=1), last, zone)
    if name == "ytd":
        return Period(today.replace(month=1, day=1), today, zone)
    raise InvalidInput(f"“{name}” is not a range; use one of {', '.join(PRESETS)}.")
