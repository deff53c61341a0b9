"""Reading a whole file: find its kind and header, then stream its rows as records.

`file_check` is the first pass: it reads every row, collects every problem with its line
number and learns the date order; nothing is written to the database. Given a RecordSpool it
keeps the records it made, and landing reads them from there. `file_pass` reads the file
again, for a file whose ambiguous dates were read before their order was known.
"""

from __future__ import annotations

import csv
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, tzinfo

from tillbook.imports.base import ColumnError, HeaderMap, ReadContext, Reader, Row, readers
from tillbook.imports.cells import CellError
from tillbook.imports.dates import DateOrder, DateReader
from tillbook.imports.problems import MAX_REPORTED_PROBLEMS, FileProblem, ImportFileInvalid
from tillbook.imports.records import AdRecord, Record, Skipped
from tillbook.imports.source import ImportSource, text_lines
from tillbook.imports.spool import RecordSpool

HEADER_SEARCH_LINES = 40
SEPARATORS = (",", ";", "\t")
PROGRESS_EVERY = 20000


def _dialect(separator: str) -> type[csv.Dialect]:
    class Dialect(csv.excel):
        delimiter = separator
        strict = True  # an unclosed quote is an error, not a field that swallows the file

    return Dialect


@dataclass
class Table:
    reader: Reader
    header: HeaderMap
    header_line: int
    separator: str
    preamble: list[list[str]]


def _rows_until_damage(lines: list[str], separator: str) -> list[list[str]]:
    # A damaged row in the first lines (a truncated file) is reported by the reading pass;
    # the header above it can still be found.
    rows: list[list[str]] = []
    reader = csv.reader(lines, _dialect(separator))
    while True:
        try:
            rows.append(next(reader))
        except (StopIteration, csv.Error):
            return rows


def _find_header(lines: list[str], kind: str | None) -> Table:
    candidates = readers()
    if kind is not None and kind not in candidates:
        known = ", ".join(sorted(candidates))
        raise ImportFileInvalid([FileProblem(0, f"there is no “{kind}” kind; use {known}")])
    best: Table | None = None
    first_rows: list[str] = []
    for separator in SEPARATORS:
        rows = _rows_until_damage(lines, separator)
        for position, cells in enumerate(rows):
            if len(cells) < 2:
                continue
            if not first_rows or len(cells) > len(first_rows):
                first_rows = cells
            for name, reader_class in candidates.items():
                header = reader_class().match(cells)
                if header is None:
                    continue
                found = Table(reader_class(), header, position + 1, separator, rows[:position])
                wins = best is None or header.score > best.header.score
                if kind is not None and name == kind:
                    wins = best is None or best.reader.kind != kind or wins
                elif kind is not None and best is not None and best.reader.kind == kind:
                    wins = False
                if wins:
                    best = found
    if best is not None and (kind is None or best.reader.kind == kind):
        return best
    if best is not None and kind is not None:
        wanted = candidates[kind]
        raise ImportFileInvalid(
            [
                FileProblem(
                    best.header_line,
                    f"this is not a {wanted.label} file: its columns are those of a "
                    f"{best.reader.label} file. Import it as “{best.reader.kind}”, or choose "
                    "the right file",
                )
            ]
        )
    seen = _cells_seen(first_rows)
    if kind is not None:
        missing = ", ".join(candidates[kind]().missing_columns(first_rows))
        message = (
            f"the columns are not those of a {candidates[kind].label} file "
            f"(missing: {missing}; found: {seen})"
        )
    else:
        labels = "; ".join(reader.label for reader in candidates.values())
        message = f"Tillbook does not know this set of columns (found: {seen}). It reads: {labels}"
    raise ImportFileInvalid([FileProblem(0, message)])


SEEN_CELLS = 60  # cells of an unknown header quoted in its message
SEEN_CELL_CHARACTERS = 80


def _cells_seen(cells: list[str]) -> str:
    """The first cells of a header no reader knows, for its message: a file that is no export
    may have thousands of columns, or a cell of 100,000 characters."""
    named = [cell.strip() for cell in cells if cell.strip()]
    if not named:
        return "nothing"
    shown = [
        cell if len(cell) <= SEEN_CELL_CHARACTERS else cell[:SEEN_CELL_CHARACTERS] + "…"
        for cell in named[:SEEN_CELLS]
    ]
    if len(named) > SEEN_CELLS:
        shown.append(f"…and {len(named) - SEEN_CELLS:,} more")
    return ", ".join(shown)


@dataclass
class Pass:
    """One reading of a file: its records, skipped rows and problems as they come."""

    table: Table
    context: ReadContext
    rows_read: int = 0
    problems: list[FileProblem] = field(default_factory=list)
    problem_total: int = 0
    # Of the rows after the header (about its bytes: the progress of a file read in one pass).
    characters_read: int = 0
    # Set from another thread when its records are no longer wanted (the import gave up):
    # reading stops at the next line, even among rows that make no record.
    given_up: bool = False
    skipped: Counter[str] = field(default_factory=Counter)
    # Per ad campaign of the file (platform, id or name): its currency and where it was first.
    billed: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    # The first and last day of the ad rows, and whether each row is of one day.
    ad_span: tuple[date, date] | None = None
    ad_daily: bool = True

    def problem(self, line: int, message: str) -> None:
        self.problem_total += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(FileProblem(line, message))


@contextmanager
def file_pass(
    source: ImportSource,
    *,
    kind: str | None,
    date_order: DateOrder | None,
    zone: tzinfo,
    currency: str,
    keep_raw: bool = True,
) -> Iterator[tuple[Pass, Iterator[Record]]]:
    with text_lines(source) as lines:
        head = list(itertools.islice(lines, HEADER_SEARCH_LINES))
        if not any(line.strip() for line in head):
            raise ImportFileInvalid([FileProblem(0, "the file is empty")])
        table = _find_header(head, kind)
        context = ReadContext(
            dates=DateReader(order=date_order),
            zone=zone,
            currency=currency,
            header=table.header,
            preamble=table.preamble,
            decimal_mark="," if table.header.languages & table.reader.comma_languages else ".",
        )
        current = Pass(table, context)
        yield current, _records(current, itertools.chain(head, lines), keep_raw=keep_raw)


class _Lines:
    """The file's lines, remembering whether the last one read ended with a line break (only
    the file's final line can lack one: a file cut off in a download ends mid-row)."""

    def __init__(self, lines: Iterator[str], current: Pass) -> None:
        self._lines = lines
        self._last = "\n"
        self._current = current

    def __iter__(self) -> Iterator[str]:
        current = self._current
        for line in self._lines:
            if current.given_up:
                return
            self._last = line
            current.characters_read += len(line)
            yield line

    @property
    def ended(self) -> bool:
        return self._last.endswith(("\n", "\r"))


def _damage(error: csv.Error) -> str:
    """What the csv module's refusal means for the person who exported the file."""
    text = str(error)
    if "field larger than field limit" in text:
        return (
            f"a value is longer than {csv.field_size_limit():,} characters, which no export "
            "Tillbook reads has; the file is damaged or is not an export"
        )
    return "the file ends inside a quoted value: it looks truncated or damaged; download it again"


def _records(current: Pass, lines: Iterator[str], *, keep_raw: bool) -> Iterator[Record]:
    table, context = current.table, current.context
    tracked = _Lines(lines, current)
    reader = csv.reader(tracked, _dialect(table.separator))
    width = len(table.header.headers)
    try:
        table.reader.start(context)
    except CellError as error:
        current.problem(error.line, str(error))
        return  # the rows cannot be understood without what the header block says
    for _ in range(table.header_line):
        next(reader)
    line = reader.line_num
    while True:
        start = line + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            current.problem(start, _damage(error))
            break
        line = reader.line_num
        if not "".join(values).strip():  # a blank row
            continue
        current.rows_read += 1
        # A short row is damage when it has values past its first (a footer or note has one
        # cell), or when it is the file's unfinished last line: "2026-09-01", and no more.
        if len(values) < width and (
            any(value.strip() for value in values[1:]) or (len(values) > 1 and not tracked.ended)
        ):
            current.problem(
                start,
                f"the row has {len(values)} values where the header has {width} columns; "
                "the file may be truncated",
            )
            continue
        try:
            row = Row(table.header, values, start, keep_raw=keep_raw)
            result = table.reader.read(row, context)
        except CellError as error:
            current.problem(start, str(error))
            continue
        if isinstance(result, Skipped):
            current.skipped[result.reason] += 1
            continue
        if too_long := _id_too_long(result):
            current.problem(start, too_long)
            continue
        if isinstance(result, AdRecord):
            if clash := _billed_apart(current, result):
                current.problem(start, clash)
                continue
            _ad_spanned(current, result)
        yield result
    try:
        yield from table.reader.finish(context)
    except CellError as error:
        current.problem(0, str(error))


# What the ledger and the campaigns keep of an id (payments' and payouts' provider_reference,
# AdCampaign.external_id): a longer one is damage, refused while the file is checked rather
# than by the database while it lands.
LEDGER_ID_CHARACTERS = 255
CAMPAIGN_ID_CHARACTERS = 100


def _id_too_long(record: Record) -> str:
    ids: tuple[str, ...]
    if isinstance(record, AdRecord):
        if len(record.campaign_id) <= CAMPAIGN_ID_CHARACTERS:
            return ""
        ids, limit, what = (record.campaign_id,), CAMPAIGN_ID_CHARACTERS, "campaign ids"
    else:
        ids = (
            record.reference,
            record.payment_reference,
            record.refund_reference,
            record.payout_reference,
            record.reversed_payout,
        )
        if max(map(len, ids)) <= LEDGER_ID_CHARACTERS:  # one comparison on the hot path
            return ""
        limit, what = LEDGER_ID_CHARACTERS, "ids"
    value = next(value for value in ids if len(value) > limit)
    return (
        f"the id “{value[:40]}…” has {len(value):,} characters; Tillbook keeps {what} of up "
        f"to {limit} (the file may be damaged)"
    )


def _ad_spanned(current: Pass, record: AdRecord) -> None:
    if record.first_day != record.last_day:
        current.ad_daily = False
    span = current.ad_span
    if span is None:
        current.ad_span = (record.first_day, record.last_day)
    elif record.first_day < span[0] or record.last_day > span[1]:
        current.ad_span = (min(span[0], record.first_day), max(span[1], record.last_day))


def _billed_apart(current: Pass, record: AdRecord) -> str:
    """Why a campaign's row cannot be kept: it is billed in another currency than its earlier
    rows (two accounts' campaigns of one name, in a report without ids). Their days would be
    added up as one currency."""
    key = (record.platform, record.campaign_id or record.campaign_name)
    currency, line = current.billed.setdefault(key, (record.currency, record.line))
    if currency == record.currency:
        return ""
    return (
        f"campaign “{record.campaign_name}” is in {record.currency} here and in {currency} on "
        f"line {line}: campaigns of two accounts with one name? Download the report with the "
        "Campaign ID column, or one account at a time"
    )


@dataclass(frozen=True)
class FileCheck:
    """The first pass's verdict on a file that can be imported."""

    kind: str
    label: str
    family: str
    date_order: DateOrder | None
    rows_read: int
    records: int
    skipped: dict[str, int]
    warnings: list[str]
    # The spool holds the records as they must be landed (else read the file again).
    spooled: bool = False
    # An ad report of one row per campaign and day that does not state its date range (Meta's
    # daily breakdown): the days it speaks for as a whole, its first to its last. It leaves
    # out days without spend, which it still reports as nothing spent.
    ad_covers: tuple[date, date] | None = None
    # Such a report whose first and last day are not known yet: some of its dates were read
    # month-first before the file showed itself day-first. The landing's reading finds them.
    ad_covers_unread: bool = False


def file_check(
    source: ImportSource,
    *,
    kind: str | None = None,
    date_order: DateOrder | None = None,
    zone: tzinfo,
    currency: str,
    progress: Callable[[int], None] | None = None,
    spool: RecordSpool | None = None,
) -> FileCheck:
    """Read every row once; raise ImportFileInvalid listing every problem, else describe it.

    With `spool`, the records are kept there for landing.
    """
    count = 0
    keep = spool.add if spool is not None else None
    with file_pass(
        source,
        kind=kind,
        date_order=date_order,
        zone=zone,
        currency=currency,
        keep_raw=spool is not None,
    ) as (current, records):
        for record in records:
            count += 1
            if keep is not None:
                keep(record)
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(current.rows_read)
    return file_verdict(current, asked=date_order, records=count, kept=spool is not None)


def file_verdict(current: Pass, *, asked: DateOrder | None, records: int, kept: bool) -> FileCheck:
    """The verdict on a file read whole by `current` (`records` made, `kept` for landing):
    raise ImportFileInvalid listing every problem, else describe it."""
    try:
        order = current.context.dates.resolved_order()
    except CellError as error:
        current.problem(0, str(error))
        order = None
    if current.problem_total:
        raise ImportFileInvalid(current.problems, current.problem_total)
    if current.rows_read == 0:
        raise ImportFileInvalid(
            [FileProblem(current.table.header_line, "the file has a header but no rows")]
        )
    reader = current.table.reader
    in_order = _read_in_order(current.context.dates, asked, order)
    daily = current.ad_span is not None and current.ad_daily
    return FileCheck(
        kind=reader.kind,
        label=reader.label,
        family=reader.family,
        date_order=order,
        rows_read=current.rows_read,
        records=records,
        skipped=dict(current.skipped),
        warnings=list(dict.fromkeys(current.context.warnings)),
        spooled=kept and in_order,
        ad_covers=current.ad_span if daily and in_order else None,
        ad_covers_unread=daily and not in_order,
    )


def _read_in_order(dates: DateReader, asked: DateOrder | None, resolved: DateOrder | None) -> bool:
    """Whether every date was read in the file's order while the file was being checked.

    Before the order is known, a date that fits both is read month-first; when the file turns
    out to be day-first, those dates must be read again.
    """
    return asked is not None or resolved is not DateOrder.DAY_FIRST or not dates.ambiguous


__all__ = ["ColumnError", "FileCheck", "Pass", "file_check", "file_pass", "file_verdict"]
