"""The reader framework: find the header row, map columns by name, read rows one at a time.

A reader declares its columns with every alias the platform has used over the years (and the
translated headers of localised exports); nothing is read by position. The header row is
searched for among the first lines, because Google Ads puts a title and a date range above it
and Microsoft Advertising a whole metadata block.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import ClassVar

from tillbook.imports.cells import CellError
from tillbook.imports.dates import DateReader
from tillbook.imports.records import Record, Skipped

_INVISIBLE = str.maketrans("", "", "\ufeff\u200b\u200e\u200f")


def normalise_header(text: str) -> str:
    cleaned = text.translate(_INVISIBLE).strip().strip('"').replace("_", " ")
    return " ".join(cleaned.lower().split())


@dataclass(frozen=True)
class Column:
    name: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    # A header that carries a value, e.g. "amount spent (eur)": named groups are captured.
    pattern: str | None = None


@dataclass
class HeaderMap:
    headers: list[str]
    index: dict[str, int]
    captured: dict[str, dict[str, str]] = field(default_factory=dict)
    # Columns a reader collects by pattern beyond the named ones (Stripe's "<key> (metadata)").
    extra: dict[str, int] = field(default_factory=dict)
    languages: frozenset[str] = frozenset()

    @property
    def score(self) -> int:
        return len(self.index)


@dataclass
class ReadContext:
    """What a reader knows about the file besides the current row."""

    dates: DateReader
    zone: tzinfo  # the business's zone, for files that do not say theirs
    currency: str  # the business's currency, for files that do not say theirs (Square)
    header: HeaderMap
    preamble: list[list[str]]  # rows above the header (titles, metadata blocks)
    decimal_mark: str = "."
    warnings: list[str] = field(default_factory=list)


class Row:
    """One data row: cells by column name, and the raw row as the file had it."""

    __slots__ = ("header", "keep_raw", "line", "texts", "values")

    def __init__(
        self, header: HeaderMap, values: list[str], line: int, *, keep_raw: bool = True
    ) -> None:
        self.header = header
        self.values = values
        self.line = line
        # A check that throws its records away does not need the raw rows.
        self.keep_raw = keep_raw
        # Readers ask for a dozen cells per row; one dict built at once costs half as much
        # as looking each one up (a million-row file makes that a few seconds).
        width = len(values)
        self.texts = {name: values[i].strip() for name, i in header.index.items() if i < width}

    def get(self, name: str) -> str:
        return self.texts.get(name, "")

    def has(self, name: str) -> bool:
        return name in self.header.index

    def raw(self) -> dict[str, str]:
        if not self.keep_raw:
            return {}
        return dict(zip(self.header.headers, self.values, strict=False))


class ColumnError(CellError):
    """A cell problem that names its column."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"{column}: {message}")


class Reader:
    """Base class of every export reader; subclasses register themselves by `kind`."""

    kind: ClassVar[str]
    label: ClassVar[str]
    family: ClassVar[str]  # "ledger" or "ads"
    columns: ClassVar[tuple[Column, ...]]
    # Languages whose headers mean numbers are written with decimal commas.
    comma_languages: ClassVar[frozenset[str]] = frozenset()
    # Aliases per language, to recognise localised files: {"de": ("datum", …)}.
    localised: ClassVar[dict[str, tuple[str, ...]]] = {}

    registry: ClassVar[dict[str, type[Reader]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            Reader.registry[cls.kind] = cls

    # Header ------------------------------------------------------------------------------

    def match(self, cells: list[str]) -> HeaderMap | None:
        """Map the cells of a candidate header row; None unless every required column is there."""
        normalised = [normalise_header(cell) for cell in cells]
        index: dict[str, int] = {}
        captured: dict[str, dict[str, str]] = {}
        first_at: dict[str, int] = {}
        for position, text in enumerate(normalised):
            first_at.setdefault(text, position)
        for column in self.columns:
            # The first alias the file has wins, wherever it stands: a report with both
            # "created" (local time) and "created_utc" is read by the one listed first.
            alias = next((alias for alias in column.aliases if alias in first_at), None)
            if alias is not None:
                index[column.name] = first_at[alias]
                continue
            for position, text in enumerate(normalised):
                if column.pattern and (found := re.fullmatch(column.pattern, text)):
                    index[column.name] = position
                    captured[column.name] = found.groupdict()
                    break
        if any(column.required and column.name not in index for column in self.columns):
            return None
        languages = frozenset(
            language
            for language, words in self.localised.items()
            if any(text in words for text in normalised)
        )
        header = HeaderMap(
            headers=[cell.translate(_INVISIBLE).strip() for cell in cells],
            index=index,
            captured=captured,
            languages=languages,
        )
        header.extra = self.extra_columns(normalised, cells)
        return header

    def missing_columns(self, cells: list[str]) -> list[str]:
        normalised = {normalise_header(cell) for cell in cells}
        return [
            column.aliases[0] if column.aliases else column.name
            for column in self.columns
            if column.required
            and not normalised & set(column.aliases)
            and not (column.pattern and any(re.fullmatch(column.pattern, h) for h in normalised))
        ]

    def extra_columns(self, normalised: list[str], cells: list[str]) -> dict[str, int]:
        return {}

    # Rows --------------------------------------------------------------------------------

    def start(self, context: ReadContext) -> None:
        """Read what the file says above its header (date ranges, flags). May raise CellError."""

    def read(self, row: Row, context: ReadContext) -> Record | Skipped:
        raise NotImplementedError

    def finish(self, context: ReadContext) -> Iterator[Record]:
        """Records that only exist once every row is read (none for most readers)."""
        return iter(())


def readers() -> dict[str, type[Reader]]:
    from tillbook.imports import readers as _readers  # noqa: F401 - registers the readers

    return dict(Reader.registry)
