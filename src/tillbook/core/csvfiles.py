"""Writing CSV for downloads: safe in spreadsheets, streamed line by line."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator

_FORMULA_START = re.compile(r"^[=+\-@\t\r]")
_PLAIN_NUMBER = re.compile(r"^[+-]?[\d\s().,-]+$")


def escape_cell(value: str) -> str:
    """Stop spreadsheet programs from running a cell as a formula (CSV injection).

    Phone numbers and amounts that start with + or - stay as they are.
    """
    if value and _FORMULA_START.match(value) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def unescape_cell(value: str) -> str:
    """Undo escape_cell when a file we exported comes back as an import."""
    if len(value) > 1 and value[0] == "'" and value[1] in "=+-@":
        return value[1:]
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable[object]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([escape_cell(str(cell)) for cell in row])
