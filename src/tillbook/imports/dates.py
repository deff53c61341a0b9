"""Dates and times as export files write them, and refusing the ones that cannot be known.

`03/04/2026` is the 4th of March in a US file and the 3rd of April in a UK one, and nothing in
a PayPal or Square file says which. The reader therefore looks at every row before deciding:
one `13/04/2026` proves day-first, one `04/13/2026` proves month-first, and a file where every
date fits both is refused with a question (the owner answers with --date-format / the upload
form). ISO dates, dotted dates (`01.09.2026`, always day-first) and month names are never
ambiguous.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from enum import StrEnum

from tillbook.imports.cells import CellError


class DateOrder(StrEnum):
    MONTH_FIRST = "mdy"
    DAY_FIRST = "dmy"


_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_SLASHED = re.compile(r"^(\d{1,2})[/-](\d{1,2})[/-](\d{4}|\d{2})$")
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*([AaPp][Mm])?$")
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2}):?(\d{2})?$")

MONTHS = {
    # English, German, French and Spanish names and abbreviations, as report headers use them.
    **dict.fromkeys(("january", "jan", "januar", "janvier", "janv", "enero", "ene", "jän"), 1),
    **dict.fromkeys(("february", "feb", "februar", "février", "fevrier", "febrero", "févr"), 2),
    **dict.fromkeys(("march", "mar", "märz", "maerz", "mär", "mars", "marzo"), 3),
    **dict.fromkeys(("april", "apr", "avril", "avr", "abril", "abr"), 4),
    **dict.fromkeys(("may", "mai", "mayo"), 5),
    **dict.fromkeys(("june", "jun", "juni", "juin", "junio"), 6),
    **dict.fromkeys(("july", "jul", "juli", "juillet", "juil", "julio"), 7),
    **dict.fromkeys(("august", "aug", "août", "aout", "agosto", "ago"), 8),
    **dict.fromkeys(("september", "sep", "sept", "septembre", "septiembre"), 9),
    **dict.fromkeys(("october", "oct", "oktober", "okt", "octobre", "octubre"), 10),
    **dict.fromkeys(("november", "nov", "novembre", "noviembre"), 11),
    **dict.fromkeys(
        ("december", "dec", "dezember", "dez", "décembre", "decembre", "déc", "diciembre", "dic"),
        12,
    ),
}
_NAMED_DAY_FIRST = re.compile(r"^(\d{1,2})\.?\s+([^\W\d_]+)\.?,?\s+(\d{4})$")  # 1 September 2026
_NAMED_MONTH_FIRST = re.compile(r"^([^\W\d_]+)\.?\s+(\d{1,2}),?\s+(\d{4})$")  # Sep 1, 2026

# Zone abbreviations PayPal writes in its TimeZone column (German files say MEZ/MESZ). They are
# fixed offsets by definition: PDT is always UTC−7, whatever the date.
ZONE_ABBREVIATIONS = {
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "WET": 0,
    "BST": 1,
    "IST": 1,
    "WEST": 1,
    "CET": 1,
    "MEZ": 1,
    "CEST": 2,
    "MESZ": 2,
    "EET": 2,
    "EEST": 3,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
    "AKST": -9,
    "AKDT": -8,
    "HST": -10,
    "AST": -4,
    "ADT": -3,
    "NST": -3.5,
    "NDT": -2.5,
    "AEST": 10,
    "AEDT": 11,
    "ACST": 9.5,
    "ACDT": 10.5,
    "AWST": 8,
    "NZST": 12,
    "NZDT": 13,
    "JST": 9,
    "KST": 9,
    "SGT": 8,
    "HKT": 8,
}
# The zone names Square writes ("Pacific Time (US & Canada)": Ruby on Rails' friendly names),
# each with the IANA zone Rails reads it as (so "Astana" keeps Rails' UTC+6).
NAMED_ZONES = {
    "international date line west": "Pacific/Midway",
    "midway island": "Pacific/Midway",
    "american samoa": "Pacific/Pago_Pago",
    "hawaii": "Pacific/Honolulu",
    "alaska": "America/Anchorage",
    "pacific time (us & canada)": "America/Los_Angeles",
    "tijuana": "America/Tijuana",
    "mountain time (us & canada)": "America/Denver",
    "arizona": "America/Phoenix",
    "chihuahua": "America/Chihuahua",
    "mazatlan": "America/Mazatlan",
    "central time (us & canada)": "America/Chicago",
    "saskatchewan": "America/Regina",
    "guadalajara": "America/Mexico_City",
    "mexico city": "America/Mexico_City",
    "monterrey": "America/Monterrey",
    "central america": "America/Guatemala",
    "eastern time (us & canada)": "America/New_York",
    "indiana (east)": "America/Indiana/Indianapolis",
    "bogota": "America/Bogota",
    "lima": "America/Lima",
    "quito": "America/Lima",
    "atlantic time (canada)": "America/Halifax",
    "caracas": "America/Caracas",
    "la paz": "America/La_Paz",
    "santiago": "America/Santiago",
    "newfoundland": "America/St_Johns",
    "brasilia": "America/Sao_Paulo",
    "buenos aires": "America/Argentina/Buenos_Aires",
    "montevideo": "America/Montevideo",
    "georgetown": "America/Guyana",
    "puerto rico": "America/Puerto_Rico",
    "greenland": "America/Nuuk",
    "mid-atlantic": "Atlantic/South_Georgia",
    "azores": "Atlantic/Azores",
    "cape verde is.": "Atlantic/Cape_Verde",
    "dublin": "Europe/Dublin",
    "edinburgh": "Europe/London",
    "lisbon": "Europe/Lisbon",
    "london": "Europe/London",
    "casablanca": "Africa/Casablanca",
    "monrovia": "Africa/Monrovia",
    "utc": "UTC",
    "belgrade": "Europe/Belgrade",
    "bratislava": "Europe/Bratislava",
    "budapest": "Europe/Budapest",
    "ljubljana": "Europe/Ljubljana",
    "prague": "Europe/Prague",
    "sarajevo": "Europe/Sarajevo",
    "skopje": "Europe/Skopje",
    "warsaw": "Europe/Warsaw",
    "zagreb": "Europe/Zagreb",
    "brussels": "Europe/Brussels",
    "copenhagen": "Europe/Copenhagen",
    "madrid": "Europe/Madrid",
    "paris": "Europe/Paris",
    "amsterdam": "Europe/Amsterdam",
    "berlin": "Europe/Berlin",
    "bern": "Europe/Zurich",
    "zurich": "Europe/Zurich",
    "rome": "Europe/Rome",
    "stockholm": "Europe/Stockholm",
    "vienna": "Europe/Vienna",
    "west central africa": "Africa/Algiers",
    "bucharest": "Europe/Bucharest",
    "cairo": "Africa/Cairo",
    "helsinki": "Europe/Helsinki",
    "kyiv": "Europe/Kyiv",
    "kyev": "Europe/Kyiv",
    "riga": "Europe/Riga",
    "sofia": "Europe/Sofia",
    "tallinn": "Europe/Tallinn",
    "vilnius": "Europe/Vilnius",
    "athens": "Europe/Athens",
    "istanbul": "Europe/Istanbul",
    "minsk": "Europe/Minsk",
    "jerusalem": "Asia/Jerusalem",
    "harare": "Africa/Harare",
    "pretoria": "Africa/Johannesburg",
    "kaliningrad": "Europe/Kaliningrad",
    "moscow": "Europe/Moscow",
    "st. petersburg": "Europe/Moscow",
    "volgograd": "Europe/Volgograd",
    "samara": "Europe/Samara",
    "kuwait": "Asia/Kuwait",
    "riyadh": "Asia/Riyadh",
    "nairobi": "Africa/Nairobi",
    "baghdad": "Asia/Baghdad",
    "tehran": "Asia/Tehran",
    "abu dhabi": "Asia/Muscat",
    "muscat": "Asia/Muscat",
    "baku": "Asia/Baku",
    "tbilisi": "Asia/Tbilisi",
    "yerevan": "Asia/Yerevan",
    "kabul": "Asia/Kabul",
    "ekaterinburg": "Asia/Yekaterinburg",
    "islamabad": "Asia/Karachi",
    "karachi": "Asia/Karachi",
    "tashkent": "Asia/Tashkent",
    "chennai": "Asia/Kolkata",
    "kolkata": "Asia/Kolkata",
    "mumbai": "Asia/Kolkata",
    "new delhi": "Asia/Kolkata",
    "kathmandu": "Asia/Kathmandu",
    "astana": "Asia/Dhaka",
    "dhaka": "Asia/Dhaka",
    "sri jayawardenepura": "Asia/Colombo",
    "almaty": "Asia/Almaty",
    "novosibirsk": "Asia/Novosibirsk",
    "rangoon": "Asia/Yangon",
    "bangkok": "Asia/Bangkok",
    "hanoi": "Asia/Bangkok",
    "jakarta": "Asia/Jakarta",
    "krasnoyarsk": "Asia/Krasnoyarsk",
    "beijing": "Asia/Shanghai",
    "chongqing": "Asia/Shanghai",
    "hong kong": "Asia/Hong_Kong",
    "urumqi": "Asia/Urumqi",
    "kuala lumpur": "Asia/Kuala_Lumpur",
    "singapore": "Asia/Singapore",
    "taipei": "Asia/Taipei",
    "perth": "Australia/Perth",
    "irkutsk": "Asia/Irkutsk",
    "ulaanbaatar": "Asia/Ulaanbaatar",
    "seoul": "Asia/Seoul",
    "osaka": "Asia/Tokyo",
    "sapporo": "Asia/Tokyo",
    "tokyo": "Asia/Tokyo",
    "yakutsk": "Asia/Yakutsk",
    "darwin": "Australia/Darwin",
    "adelaide": "Australia/Adelaide",
    "canberra": "Australia/Melbourne",
    "melbourne": "Australia/Melbourne",
    "sydney": "Australia/Sydney",
    "brisbane": "Australia/Brisbane",
    "hobart": "Australia/Hobart",
    "vladivostok": "Asia/Vladivostok",
    "guam": "Pacific/Guam",
    "port moresby": "Pacific/Port_Moresby",
    "magadan": "Asia/Magadan",
    "srednekolymsk": "Asia/Srednekolymsk",
    "solomon is.": "Pacific/Guadalcanal",
    "new caledonia": "Pacific/Noumea",
    "fiji": "Pacific/Fiji",
    "kamchatka": "Asia/Kamchatka",
    "marshall is.": "Pacific/Majuro",
    "auckland": "Pacific/Auckland",
    "wellington": "Pacific/Auckland",
    "nuku'alofa": "Pacific/Tongatapu",
    "tokelau is.": "Pacific/Fakaofo",
    "chatham is.": "Pacific/Chatham",
    "samoa": "Pacific/Apia",
}


def zone_named(name: str) -> tzinfo:
    """The zone a file names: an IANA name, a Rails name, an abbreviation or an offset."""
    text = name.strip()
    if not text:
        raise CellError("the time zone is empty")
    key = text.lower()
    if key in NAMED_ZONES:
        return zoneinfo.ZoneInfo(NAMED_ZONES[key])
    hours = ZONE_ABBREVIATIONS.get(text.upper())
    if hours is not None:
        return timezone(timedelta(hours=hours), text.upper())
    unknown = CellError(f"“{text[:40]}” is not a time zone Tillbook knows")
    offset = _OFFSET.match(text.upper())
    if offset:
        sign = -1 if offset[1] == "-" else 1
        hours, minutes = int(offset[2]), int(offset[3] or 0)
        if hours > 14 or minutes > 59:  # no place on Earth is further from UTC
            raise unknown
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a folder of the zone database ("America") or a name too long for a file.
        raise unknown from None


def _year(text: str) -> int:
    year = int(text)
    return year + 2000 if len(text) == 2 else year


# Years a file's dates may name: beyond them a date is a typing slip (12/31/9999), and the
# calendar's very ends cannot be moved between zones.
YEARS = range(1900, 2201)


def _make(year: int, month: int, day: int, text: str) -> date:
    if year not in YEARS:
        raise CellError(f"“{text}” is not a date between {YEARS[0]} and {YEARS[-1]}")
    try:
        return date(year, month, day)
    except ValueError:
        raise CellError(f"“{text}” is not a date") from None


@dataclass
class DateReader:
    """Reads the dates of one file and collects what they prove about day/month order.

    With `order` unknown, ambiguous dates are read month-first for the time being; the caller
    asks `resolved_order()` once every row has been seen and reads the file again with it.
    """

    order: DateOrder | None = None
    proves_day_first: int = 0  # first line that proves it, 0 when none
    proves_month_first: int = 0
    ambiguous: int = 0  # first line with a date that fits both orders
    _cache: dict[str, date] = field(default_factory=dict, repr=False)

    def parse(self, text: str, line: int) -> date:
        value = text.strip()
        cached = self._cache.get(value)
        if cached is not None:
            return cached
        key = value
        if len(value) > 10 and value[10] in " T" and _ISO.match(value[:10]):
            # A timestamp read for its day: the rows of a day share the date, not the time.
            key = value[:10]
            cached = self._cache.get(key)
            if cached is not None:
                return cached
        parsed = self._parse(value, line)
        if len(self._cache) < 4096:  # ten years of days; keeps a 2 GB file's memory flat
            self._cache[key] = parsed
        return parsed

    def _parse(self, value: str, line: int) -> date:
        head = value.split("T")[0].split(" ")[0] if _ISO.match(value[:10]) else value
        if match := _ISO.match(head):
            return _make(int(match[1]), int(match[2]), int(match[3]), value)
        if match := _DOTTED.match(value):
            return _make(_year(match[3]), int(match[2]), int(match[1]), value)
        if match := _SLASHED.match(value):
            first, second, year = int(match[1]), int(match[2]), _year(match[3])
            if first > 12 and second <= 12:
                self.proves_day_first = self.proves_day_first or line
            elif second > 12 and first <= 12:
                self.proves_month_first = self.proves_month_first or line
            elif first != second:
                # 05/05/2026 is the same date either way; only unequal parts are ambiguous.
                self.ambiguous = self.ambiguous or line
            if self.order is DateOrder.DAY_FIRST or (self.order is None and first > 12):
                return _make(year, second, first, value)
            return _make(year, first, second, value)
        if match := _NAMED_DAY_FIRST.match(value):
            return self._named(match[3], match[2], match[1], value)
        if match := _NAMED_MONTH_FIRST.match(value):
            return self._named(match[3], match[1], match[2], value)
        raise CellError(f"“{value}” is not a date")

    def span(self, start: str, end: str, first: date, last: date, line: int) -> tuple[date, date]:
        """The dates of a range ("Reporting starts" to "Reporting ends"), given `first` and
        `last` as `parse` read them.

        While the file's order is not known, `parse` reads a date that fits both orders
        month-first: "10/09/2026 - 20/09/2026" would end before it starts. A range that runs
        forward in one order only is read in that order, and proves it for the file.
        """
        if self.order is not None:
            return first, last
        readings: dict[DateOrder, tuple[date, date]] = {}
        for order in (DateOrder.MONTH_FIRST, DateOrder.DAY_FIRST):
            reader = DateReader(order=order)
            try:
                readings[order] = (reader.parse(start, line), reader.parse(end, line))
            except CellError:
                continue  # a date that does not fit this order
        forward = {order: pair for order, pair in readings.items() if pair[0] <= pair[1]}
        if not forward:  # backwards whichever way it is read: the caller says so now
            return next(iter(readings.values()), (first, last))
        if len(forward) == 2:
            return first, last
        ((order, pair),) = forward.items()
        if order is DateOrder.DAY_FIRST:
            self.proves_day_first = self.proves_day_first or line
        else:
            self.proves_month_first = self.proves_month_first or line
        return pair

    def _named(self, year: str, month_name: str, day: str, text: str) -> date:
        month = MONTHS.get(month_name.lower())
        if month is None:
            raise CellError(f"“{text}” is not a date")
        return _make(int(year), month, int(day), text)

    def resolved_order(self) -> DateOrder | None:
        """The order every date of the file fits; raises when it cannot be known."""
        if self.order is not None:
            return self.order
        if self.proves_day_first and self.proves_month_first:
            raise CellError(
                f"the dates mix day-first (line {self.proves_day_first}) and month-first "
                f"(line {self.proves_month_first}) order; export the file again in one format"
            )
        if self.proves_day_first:
            return DateOrder.DAY_FIRST
        if self.proves_month_first:
            return DateOrder.MONTH_FIRST
        if self.ambiguous:
            raise CellError(
                f"the dates are ambiguous (line {self.ambiguous} and others fit both day/month "
                "and month/day); say which format the file uses: mdy (month first: "
                "03/04/2026 is 4 March) or dmy (day first: 03/04/2026 is 3 April)"
            )
        return None


def parse_time(text: str) -> time:
    match = _TIME.match(text.strip())
    if match is None:
        raise CellError(f"“{text}” is not a time of day")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if match[4]:
        if hour > 12:
            raise CellError(f"“{text}” is not a time of day")
        hour = hour % 12 + (12 if match[4].lower() == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise CellError(f"“{text}” is not a time of day")
    return time(hour, minute, second)


def parse_datetime(text: str, line: int, dates: DateReader, zone: tzinfo) -> datetime:
    """ "2026-09-01 14:03", "2026-09-01 14:03:22", "2026-09-01T14:03:22Z" or "9/1/2026 2:03 PM"
    in `zone` unless the text carries its own offset."""
    value = text.strip()
    if not value:
        raise CellError("the date is empty")
    if len(value) >= 16 and value[4] == "-" and value[10] in " T":
        # ISO timestamps (Stripe, itemized reports) are unambiguous; the standard library
        # reads them several times faster than the general path below.
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.year in YEARS:  # else the path below says why not
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
    iso = re.sub(r"(?<=\d)T(?=\d)", " ", value).rstrip("Z")  # the T of ISO, not of "UTC"
    own_zone: tzinfo | None = UTC if value.endswith("Z") else None
    if named := re.search(r"\s+(?:UTC|GMT)$", iso, re.IGNORECASE):  # "… 14:03:22 UTC"
        own_zone, iso = UTC, iso[: named.start()]
    offset = re.search(r"\s*([+-]\d{2}:?\d{2})$", iso)
    if offset and ":" in iso[: offset.start()]:
        own_zone = zone_named(offset[1])
        iso = iso[: offset.start()]
    day_text, _, time_text = iso.partition(" ")
    day = dates.parse(day_text, line)
    moment = parse_time(time_text) if time_text.strip() else time(0, 0)
    return datetime.combine(day, moment).replace(tzinfo=own_zone or zone)
