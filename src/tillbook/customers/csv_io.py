"""Customer CSV files: read and check every row before anything is written; write exports.

Headers are matched by name with common aliases (exports from Mailchimp, Square, Shopify and
spreadsheets name the same thing differently), a UTF-8 byte-order mark is dropped, and commas,
semicolons and tabs are all accepted as separators.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from tillbook.core.csvfiles import unescape_cell
from tillbook.core.errors import InvalidInput, as_typed
from tillbook.customers.models import Customer
from tillbook.customers.services import ImportRow
from tillbook.customers.validation import (
    FieldProblem,
    normalize_email,
    normalize_phone,
    normalize_tags,
)

HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "email": ("email", "e-mail", "email address", "e-mail address", "mail", "customer email"),
    "name": ("name", "full name", "customer name", "contact name", "customer"),
    "first_name": ("first name", "firstname", "given name", "first"),
    "last_name": ("last name", "lastname", "surname", "family name", "last"),
    "phone": ("phone", "phone number", "mobile", "mobile phone", "telephone", "tel", "cell"),
    "tags": ("tags", "tag", "labels", "groups", "segments"),
    "notes": ("notes", "note", "comments", "comment"),
    "marketing_consent": (
        "marketing consent",
        "accepts marketing",
        "accepts email marketing",
        "consent",
        "email marketing",
        "newsletter",
        "subscribed",
        "email subscription status",
    ),
    "consent_at": ("consent at", "consent date", "consented at", "opt in time", "optin time"),
}
_ALIAS_TO_FIELD = {alias: name for name, aliases in HEADER_ALIASES.items() for alias in aliases}

_TRUE = {"yes", "y", "true", "1", "subscribed", "opted in", "opt-in", "x"}
_FALSE = {"no", "n", "false", "0", "unsubscribed", "not subscribed", "opted out", "opt-out"}

EXPORT_COLUMNS = (
    "email",
    "name",
    "phone",
    "tags",
    "notes",
    "marketing_consent",
    "consent_at",
    "consent_source",
    "created_at",
)
MAX_REPORTED_PROBLEMS = 100


@dataclass
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"Line {self.line}: {self.message}" if self.line else self.message


@dataclass
class ParsedFile:
    rows: list[ImportRow] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


class CustomerFileInvalid(InvalidInput):
    def __init__(self, problems: list[Problem], total: int) -> None:
        count = f"{total} problem{'s' if total != 1 else ''}"
        super().__init__(
            f"The file has {count}; nothing was imported. Fix them and upload it again."
        )
        self.problems = problems
        self.total = total


def _normalize_header(header: str) -> str:
    return " ".join(header.replace("_", " ").strip().lower().split())


def _parse_bool(value: str) -> bool | None:
    text = value.strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise FieldProblem("marketing_consent", f"“{as_typed(value)}” is not yes or no.")


def _parse_when(value: str) -> datetime | None:
    text = value.strip()
    if not text:
        return None
    parsed = parse_datetime(text)
    if parsed is None:
        day = parse_date(text)
        if day is not None:
            parsed = datetime(day.year, day.month, day.day)  # noqa: DTZ001 - made aware below
    if parsed is None:
        raise FieldProblem(
            "consent_at", f"“{as_typed(value)}” is not a date; use YYYY-MM-DD or YYYY-MM-DD HH:MM."
        )
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_current_timezone())
    return parsed


def _raw_lines(stream: IO[bytes]) -> Iterator[bytes]:
    # Excel for Mac's "CSV (Macintosh)" ends lines with a carriage return alone: the stream
    # splits on "\n" only, so each piece is split again on "\r" ("\r\n" stays one line end).
    for raw in stream:
        yield from raw.splitlines(keepends=True)


def _lines(stream: IO[bytes]) -> Iterator[str]:
    """Decode the upload line by line, so a byte that is not UTF-8 is reported on its line."""
    for number, raw in enumerate(_raw_lines(stream), start=1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise CustomerFileInvalid(
                [Problem(number, "the file is not UTF-8 text. In Excel, save it as “CSV UTF-8”.")],
                1,
            ) from None
        yield line


def _sniff_dialect(first_line: str) -> type[csv.Dialect]:
    counts = {sep: first_line.count(sep) for sep in (",", ";", "\t")}
    separator = max(counts, key=lambda sep: counts[sep])

    class Dialect(csv.excel):
        delimiter = separator
        strict = True  # an unclosed quote is an error, not a field that swallows the file

    return Dialect


def customers_read_csv(stream: IO[bytes], *, region: str = "") -> ParsedFile:
    """Read and check a customer file. Raises CustomerFileInvalid listing every problem."""
    lines = _lines(stream)
    first = next(lines, None)
    if first is None or not first.strip():
        raise CustomerFileInvalid([Problem(0, "The file is empty.")], 1)
    dialect = _sniff_dialect(first)

    def all_lines() -> Iterator[str]:
        yield first
        yield from lines

    reader = csv.reader(all_lines(), dialect)
    try:
        headers = next(reader)
    except csv.Error as error:
        # The header row starts on line 1, however far an unclosed quote carried the reader.
        problem = Problem(1, f"the file is not valid CSV ({error}).")
        raise CustomerFileInvalid([problem], 1) from None
    columns: dict[str, int] = {}
    ignored: list[str] = []
    for index, header in enumerate(headers):
        name = _ALIAS_TO_FIELD.get(_normalize_header(header))
        if name is None or name in columns:
            if header.strip():
                ignored.append(header.strip())
            continue
        columns[name] = index
    if "email" not in columns:
        found = ", ".join(h.strip() for h in headers if h.strip()) or "no headers"
        raise CustomerFileInvalid(
            [
                Problem(
                    1,
                    f"No email column was found (the first row has: {found}). "
                    "Add a header row with a column named “email”.",
                )
            ],
            1,
        )

    parsed = ParsedFile(ignored_columns=ignored)
    problems: list[Problem] = []
    total_problems = 0
    seen: dict[str, int] = {}

    def cell(values: list[str], name: str) -> str:
        index = columns.get(name)
        if index is None or index >= len(values):
            return ""
        value = values[index]
        if "\x00" in value:  # PostgreSQL refuses NUL in text, as customer_create does
            label = name.replace("_", " ")
            raise FieldProblem(
                name, f"There is a null character in the {label}; remove it and try again."
            )
        return unescape_cell(value.strip())

    # A row is reported on the line it starts: a quoted note can run over several lines, and
    # reader.line_num is the line a row ends.
    ended = reader.line_num
    try:
        for values in reader:
            line, ended = ended + 1, reader.line_num
            if not any(value.strip() for value in values):
                continue
            try:
                email = normalize_email(cell(values, "email"))
                first_seen = seen.get(email.lower())
                if first_seen is not None:
                    raise FieldProblem("email", f"{email} is also on line {first_seen}.")
                seen[email.lower()] = line
                name = cell(values, "name") or " ".join(
                    part for part in (cell(values, "first_name"), cell(values, "last_name")) if part
                )
                row = ImportRow(
                    line=line,
                    email=email,
                    name=" ".join(name.split())[:200] or None,
                    phone=normalize_phone(cell(values, "phone"), region=region) or None,
                    notes=cell(values, "notes") or None,
                    tags=normalize_tags(cell(values, "tags")),
                    marketing_consent=_parse_bool(cell(values, "marketing_consent")),
                    consent_at=_parse_when(cell(values, "consent_at")),
                )
            except FieldProblem as problem:
                total_problems += 1
                if len(problems) < MAX_REPORTED_PROBLEMS:
                    problems.append(Problem(line, problem.message))
                continue
            parsed.rows.append(row)
    except csv.Error as error:
        total_problems += 1
        problems.append(Problem(ended + 1, f"the file is not valid CSV ({error})."))
    if total_problems:
        raise CustomerFileInvalid(problems, total_problems)
    if not parsed.rows:
        raise CustomerFileInvalid([Problem(0, "The file has a header row but no customers.")], 1)
    return parsed


def customers_csv_rows(customers: Iterable[Customer]) -> Iterator[list[str]]:
    yield list(EXPORT_COLUMNS)
    for customer in customers:
        tags = "; ".join(sorted(tag.name for tag in customer.tags.all()))
        yield [
            customer.email,
            customer.name,
            customer.phone,
            tags,
            customer.notes,
            "yes" if customer.marketing_consent else "no",
            customer.consent_at.isoformat() if customer.consent_at else "",
            customer.consent_source,
            customer.created_at.isoformat(),
        ]
