"""What the three ad-platform readers share: date windows and rows that are not campaigns."""

from __future__ import annotations

import re
from datetime import date

from tillbook.imports.base import ReadContext
from tillbook.imports.cells import CellError

_RANGE = re.compile(r"^\s*(.+?)\s+[-–—]\s+(.+?)\s*$")


def window(text: str, context: ReadContext, line: int = 0) -> tuple[date, date] | None:
    """ "1 September 2026 - 30 September 2026" → (first, last); None when it is no range."""
    match = _RANGE.match(text)
    if match is None:
        return None
    try:
        first = context.dates.parse(match[1], line)
        last = context.dates.parse(match[2], line)
    except CellError:
        return None
    first, last = context.dates.span(match[1], match[2], first, last, line)
    if last < first:
        raise CellError(f"the date range “{text}” ends before it starts", line=line)
    return first, last


_TOTAL = re.compile(r"^(total|totals|gesamt|gesamtsumme|summe)\s*(:.*)?$")


def is_total(*values: str) -> bool:
    """A platform's total row ("Total: Account", "Gesamt: Konto", a bare "Total"), not a
    campaign whose name begins with the word ("Total Wellness Promo", "Totally Fit")."""
    return any(_TOTAL.match(value.strip().lower()) for value in values)
