"""Reading fixtures the way the importer does: a checking pass, then a reading pass."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from tillbook.imports.dates import DateOrder
from tillbook.imports.reading import FileCheck, file_check, file_pass
from tillbook.imports.records import Record
from tillbook.imports.source import ImportSource

FIXTURES = Path(__file__).parent / "fixtures"
CHICAGO = ZoneInfo("America/Chicago")


def fixture(name: str) -> ImportSource:
    return ImportSource.from_path(FIXTURES / name)


def read_all(
    source: ImportSource | str,
    *,
    kind: str | None = None,
    date_order: DateOrder | None = None,
    currency: str = "USD",
) -> tuple[FileCheck, list[Record]]:
    if isinstance(source, str):
        source = fixture(source)
    check = file_check(source, kind=kind, date_order=date_order, zone=CHICAGO, currency=currency)
    with file_pass(
        source, kind=check.kind, date_order=check.date_order, zone=CHICAGO, currency=currency
    ) as (current, records):
        found = list(records)
    assert current.problem_total == 0
    return check, found
