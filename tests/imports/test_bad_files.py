"""Files that cannot be imported get one clear message each; none is loaded whole."""

from __future__ import annotations

import io
import itertools
import tracemalloc
import zipfile
from collections.abc import Iterator

import pytest

from tillbook.imports.problems import ImportFileInvalid
from tillbook.imports.reading import file_pass
from tillbook.imports.source import DAMAGED_ZIP, ImportSource

from .helpers import CHICAGO, FIXTURES, read_all


def problems_of(source: ImportSource, **options: object) -> list[str]:
    with pytest.raises(ImportFileInvalid) as caught:
        read_all(source, **options)  # type: ignore[arg-type]
    return [str(problem) for problem in caught.value.problems]


def test_an_empty_file() -> None:
    assert problems_of(ImportSource.from_bytes(b"")) == ["the file is empty"]
    assert problems_of(ImportSource.from_bytes(b"\xef\xbb\xbf\r\n\r\n")) == ["the file is empty"]


def test_a_header_without_rows() -> None:
    header = (FIXTURES / "paypal_subset.csv").read_bytes().splitlines()[0]
    assert problems_of(ImportSource.from_bytes(header + b"\n")) == [
        "Line 1: the file has a header but no rows"
    ]


def test_a_file_of_another_kind_than_the_one_asked_for() -> None:
    source = ImportSource.from_path(FIXTURES / "paypal_activity.csv")
    assert problems_of(source, kind="stripe_balance") == [
        "Line 1: this is not a Stripe balance history export file: its columns are those of a "
        "PayPal activity download file. Import it as “paypal_activity”, or choose the right file"
    ]


def test_an_unknown_set_of_columns_lists_what_was_found() -> None:
    source = ImportSource.from_bytes(b"Name,Email,Favourite colour\nAnn,ann@example.com,blue\n")
    [message] = problems_of(source)
    assert message.startswith(
        "Tillbook does not know this set of columns (found: Name, Email, Favourite colour). "
        "It reads: Google Ads campaign report; Meta Ads Manager export;"
    )


def test_an_unknown_set_of_columns_names_only_the_first_few() -> None:
    """A file that is no export at all (a data dump of 50,000 columns, one of them a long
    text) got a message quoting every cell: megabytes in the import's history and page."""
    cells = [f"col{n}" for n in range(50_000)]
    cells[1] = "x" * 100_000
    source = ImportSource.from_bytes((",".join(cells) + "\n" + ",".join(cells) + "\n").encode())
    [message] = problems_of(source)
    assert message.startswith(
        f"Tillbook does not know this set of columns (found: col0, {'x' * 80}…, col2, col3, "
    )
    assert "col59, …and 49,940 more). It reads: Google Ads campaign report;" in message
    [asked] = problems_of(source, kind="square_transactions")
    assert asked.startswith(
        "the columns are not those of a Square transactions CSV file (missing: date, "
    )
    assert asked.endswith("col59, …and 49,940 more)")
    assert len(message) < 1500 and len(asked) < 1000


def test_an_unknown_kind_name() -> None:
    source = ImportSource.from_path(FIXTURES / "paypal_activity.csv")
    [message] = problems_of(source, kind="quickbooks")
    assert message.startswith("there is no “quickbooks” kind; use google_ads, meta_ads,")


def test_a_truncated_file_is_reported_on_its_last_line() -> None:
    data = (FIXTURES / "paypal_activity.csv").read_bytes()
    cut = data[: data.index(b"Website Payment") + 40]  # ends inside a quoted value
    assert problems_of(ImportSource.from_bytes(cut)) == [
        "Line 3: the file ends inside a quoted value: it looks truncated or damaged; "
        "download it again"
    ]
    lines = (FIXTURES / "stripe_balance.csv").read_bytes().splitlines()
    short = b"\n".join([*lines[:3], b"txn_1003,refund,re_3001,-80.00,0.00"])
    assert problems_of(ImportSource.from_bytes(short)) == [
        "Line 4: the row has 5 values where the header has 17 columns; the file may be truncated"
    ]
    # Cut right after a row's first value: the rest of the row is empty, not a total row.
    text = (FIXTURES / "meta_ads_campaign.csv").read_text()
    cut = text[: text.index('"2026-09-01","2026-09-30","Workshop') + len('"2026-09-01",')]
    assert problems_of(ImportSource.from_bytes(cut.encode())) == [
        "Line 4: the row has 2 values where the header has 13 columns; the file may be truncated"
    ]
    # Cut inside or right after the first value, with or without a line break: no campaign
    # and no amount is no total row either.
    start = text.index('"2026-09-01","2026-09-30","Workshop')
    for end in ('"2026-09-01"', '"2026-09-01"\n', "2026-09", '"2026-09-01",\n'):
        damaged = text[:start] + end
        assert problems_of(ImportSource.from_bytes(damaged.encode())) == [
            "Line 4: Campaign name: is empty, and so is the amount spent: the file may be truncated"
        ]


def test_a_value_too_long_for_any_export_is_not_called_truncation() -> None:
    lines = (FIXTURES / "stripe_balance.csv").read_text().splitlines()
    huge = lines[2].replace("usd", "usd" + "x" * 200_000, 1)
    data = "\n".join([*lines[:2], huge, *lines[3:]]) + "\n"
    assert problems_of(ImportSource.from_bytes(data.encode())) == [
        "Line 3: a value is longer than 131,072 characters, which no export Tillbook reads has; "
        "the file is damaged or is not an export"
    ]


def test_every_bad_row_is_listed_with_its_line() -> None:
    text = (FIXTURES / "stripe_balance.csv").read_text()
    text = text.replace("120.00,3.78", "12O.00,3.78").replace(",usd,2026-09-06", ",xyz,2026-09-06")
    text = text.replace("2026-09-08 18:00", "2026-13-08 18:00")
    assert problems_of(ImportSource.from_bytes(text.encode())) == [
        "Line 2: Amount: “12O.00” is not a number",
        "Line 5: Currency: “XYZ” is not a currency code",
        "Line 7: Created (UTC): “2026-13-08” is not a date",
    ]


def test_amounts_and_counts_larger_than_any_are_refused_on_their_line() -> None:
    """Read whole, they would pass the check and fail on the database's overflow after it."""
    text = (FIXTURES / "stripe_balance.csv").read_text()
    text = text.replace("120.00,3.78,116.22", "12345678901234567890.00,3.78,116.22")
    assert problems_of(ImportSource.from_bytes(text.encode())) == [
        "Line 2: Amount: “12345678901234567890.00” is too large to be an amount or a count"
    ]


def test_bytes_that_are_not_utf8_are_reported_on_their_line() -> None:
    data = (FIXTURES / "paypal_subset.csv").read_bytes().replace(b"Subscription", b"Abonnement\xe9")
    assert problems_of(ImportSource.from_bytes(data)) == [
        "Line 3: the file is not UTF-8 text. In Excel, save it as “CSV UTF-8”."
    ]
    with pytest.raises(ImportFileInvalid) as refused:
        read_all(ImportSource.from_bytes(data))
    # One full stop: the problem's own sentence ends the way it was written.
    assert refused.value.message == (
        "Line 3: the file is not UTF-8 text. In Excel, save it as “CSV UTF-8”. "
        "Nothing was imported."
    )


def test_a_nul_character_is_reported_on_its_line() -> None:
    """PostgreSQL keeps no NUL in text: a damaged file with one in any cell passed the check
    and failed while landing (an unexpected error, after earlier commits)."""
    data = (FIXTURES / "paypal_subset.csv").read_bytes().replace(b"Subscription", b"Sub\x00")
    assert problems_of(ImportSource.from_bytes(data)) == [
        "Line 3: the file holds a NUL character, which no export has: it is damaged or saved "
        "in another encoding. In Excel, save it as “CSV UTF-8”."
    ]
    text = (FIXTURES / "paypal_subset.csv").read_text().replace("Subscription", "Sub\x00")
    assert problems_of(ImportSource.from_bytes(text.encode("utf-16"))) == [
        "Line 3: the file holds a NUL character, which no export has: it is damaged or saved "
        "in another encoding. In Excel, save it as “CSV UTF-8”."
    ]


def test_utf16_files_from_excel_are_read() -> None:
    text = (FIXTURES / "paypal_subset.csv").read_text().replace(",", "\t")
    check, records = read_all(ImportSource.from_bytes(text.encode("utf-16")))
    assert (check.kind, len(records)) == ("paypal_activity", 2)


def test_a_damaged_or_incomplete_zip_is_reported_not_a_crash() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Campaign_Performance.csv", (FIXTURES / "microsoft_ads.csv").read_bytes())
    whole = buffer.getvalue()
    flipped = whole[:60] + bytes(b ^ 0xFF for b in whole[60:120]) + whole[120:]
    for damaged in (whole[: len(whole) // 2], flipped):
        assert problems_of(ImportSource.from_bytes(damaged, "report.zip")) == [DAMAGED_ZIP]


def test_lines_ended_by_a_carriage_return_alone_are_read() -> None:
    # Excel for Mac's "CSV (Macintosh)"; a quoted value may still hold a line break.
    text = (FIXTURES / "paypal_subset.csv").read_text()
    check, records = read_all(ImportSource.from_bytes(text.replace("\n", "\r").encode()))
    expected_check, expected = read_all(ImportSource.from_bytes(text.encode()))
    assert check == expected_check
    assert records == expected
    assert len(records) == 2
    # A line break inside a quoted value, written as LF, stays inside its value.
    inside = text.replace("\n", "\r").replace('"Subscription Payment"', '"Subscription\nPayment"')
    assert inside != text.replace("\n", "\r")
    _, records = read_all(ImportSource.from_bytes(inside.encode()))
    assert len(records) == 2
    assert "Subscription\nPayment" in [r.description for r in records]


class _GeneratedStripeExport(io.RawIOBase):
    """A 2 GB Stripe balance export produced on demand: nothing of it exists anywhere."""

    SIZE = 2 * 1024**3

    def __init__(self) -> None:
        self.produced = 0
        self._pending = b""
        self._rows = self._generate()

    def _generate(self) -> Iterator[bytes]:
        yield b"id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Available On (UTC)\n"
        for number in itertools.count(1):
            yield (
                f"txn_{number:012d},charge,ch_{number:012d},25.00,1.03,23.97,usd,"
                "2026-09-01 12:00,2026-09-03 00:00\n"
            ).encode()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while len(self._pending) < len(buffer) and self.produced < self.SIZE:
            chunk = next(self._rows)
            self._pending += chunk
            self.produced += len(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def test_a_2_gb_file_is_streamed_row_by_row_not_loaded() -> None:
    streams: list[_GeneratedStripeExport] = []

    def opener() -> _GeneratedStripeExport:
        streams.append(_GeneratedStripeExport())
        return streams[-1]

    source = ImportSource("huge.csv", opener)  # type: ignore[arg-type]
    tracemalloc.start()
    try:
        with file_pass(source, kind=None, date_order=None, zone=CHICAGO, currency="USD") as (
            current,
            records,
        ):
            taken = [0, 0]  # rows, total: counted as they stream by, not kept
            for record in itertools.islice(records, 30_000):
                taken[0] += 1
                taken[1] += record.gross
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (current.table.reader.kind, *taken) == ("stripe_balance", 30_000, 75_000_000)
    # ~3 MB of a 2 GB file was read, and memory stayed far below even that.
    assert streams[0].produced < 4 * 1024**2
    assert peak < 4 * 1024**2
