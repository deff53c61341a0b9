"""The thread that reads a file while the import lands it (imports/streamed.py, BatchReader)."""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from tillbook.imports import streamed
from tillbook.imports.reading import file_pass
from tillbook.imports.source import ImportSource
from tillbook.imports.streamed import QUEUED_BATCHES, BatchReader

BARRIER = 30.0  # seconds a stuck thread is given before the test fails instead of hanging


class _Pass:
    """What BatchReader reads of the reading pass: its problems so far."""

    problem_total = 0


def _reader(records: Iterator[Any], size: int = 3) -> tuple[BatchReader, _Pass]:
    current = _Pass()
    return BatchReader(current, records, size), current  # type: ignore[arg-type]


def _settle(reader: BatchReader) -> int:
    """The reader's count once it has stopped moving (blocked on a full queue, or done)."""
    seen = -1
    while seen != reader.records:
        seen = reader.records
        time.sleep(0.05)
    return seen


def test_batches_come_in_order_with_the_last_one_short() -> None:
    reader, _ = _reader(iter(range(8)))
    assert list(reader.batches()) == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert reader.records == 8


def test_the_reader_keeps_only_a_few_batches_ahead_and_stops_when_landing_gives_up() -> None:
    produced = itertools.count()  # a file without end
    reader, _ = _reader(produced, size=10)
    batches = reader.batches()
    assert next(batches) == list(range(10))
    ahead = _settle(reader)
    # The batch handed over, the full queue, the one waiting to go in, and the row after it.
    assert ahead <= (QUEUED_BATCHES + 2) * 10 + 1
    batches.close()  # landing failed: the reader stops, it does not read the rest
    assert not reader._thread.is_alive()
    assert next(produced) <= ahead + 1


def test_after_a_problem_nothing_more_is_handed_over_but_the_file_is_read_to_its_end() -> None:
    current = _Pass()

    def records() -> Iterator[int]:
        yield from range(4)
        current.problem_total = 1  # line 5 is damaged: a problem, and no record
        yield from range(4, 20)

    reader = BatchReader(current, records(), 3)  # type: ignore[arg-type]
    handed = list(reader.batches())
    # The batch made before the problem went (landing checks for problems before each batch);
    # none after it, not even the short one at the end.
    assert handed == [[0, 1, 2]]
    assert reader.records == 20  # every row read, for the report of every problem


def test_an_error_while_reading_is_raised_in_the_landing_thread_after_the_batches_before_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(streamed, "QUEUED_BATCHES", 1)

    def records() -> Iterator[int]:
        yield from range(7)
        raise OSError(5, "Input/output error")

    reader, _ = _reader(records())
    batches = reader.batches()
    landed = [next(batches), next(batches)]
    with pytest.raises(OSError, match="Input/output error"):
        next(batches)  # the 7th record never made a whole batch
    assert landed == [[0, 1, 2], [3, 4, 5]]
    assert not reader._thread.is_alive()


class _DamagedFromRowFour:
    """A Stripe balance history whose rows after the third are all damaged (each a problem,
    none a record), and that goes on until `ended` is set: a very large file."""

    HEADER = b"id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Transfer\n"
    GOOD = b"txn_%d,charge,ch_%d,12.00,0.65,11.35,usd,2026-09-01 10:00,po_1\n"
    DAMAGED = b"txn_x,charge,ch_x,twelve,0.65,11.35,usd,2026-09-01 10:00,po_1\n"

    def __init__(self) -> None:
        self.ended = threading.Event()
        self.pending = self.HEADER + b"".join(self.GOOD % (n, n) for n in range(3))

    def read(self, size: int = -1) -> bytes:
        if self.ended.is_set():
            return b""
        while len(self.pending) < size:
            self.pending += self.DAMAGED * 100
        data, self.pending = self.pending[:size], self.pending[size:]
        return data

    def close(self) -> None:
        pass


@contextmanager
def _damaged_reading(
    tick: float | None = None,
) -> Iterator[tuple[_DamagedFromRowFour, Any, Generator[list[Any], None, None]]]:
    """A file damaged from its fourth row read in batches of three, the first batch taken."""
    damaged = _DamagedFromRowFour()
    source = ImportSource("balance.csv", lambda: damaged)  # type: ignore[arg-type, return-value]
    with file_pass(source, kind=None, date_order=None, zone=UTC, currency="USD") as (
        current,
        records,
    ):
        batches = BatchReader(current, records, 3).batches(tick=tick)
        assert len(next(batches)) == 3
        yield damaged, current, batches


def test_landing_that_gives_up_stops_the_reader_even_among_rows_that_make_no_record() -> None:
    # A Ctrl-C (or a worker told to stop) after the file's first problem: every row after it is
    # a problem, so no record comes, and the reader must still stop at its next row rather than
    # read the rest of a file of millions of rows before the import can end.
    with _damaged_reading() as (damaged, current, batches):
        closing = threading.Thread(target=batches.close, daemon=True)
        closing.start()
        closing.join(5)
        stopped = not closing.is_alive()
        damaged.ended.set()  # a reader that did not stop reaches the end of the file now
        closing.join(BARRIER)
    assert stopped, "the reader went on reading the file after the landing gave up"
    assert current.problem_total > 0


def test_past_the_first_problem_the_landing_hears_of_the_reading_at_each_tick() -> None:
    # Nothing more is handed over once the file has a problem, and a very large file can take
    # minutes to read to its end: the landing thread gets an empty batch at each tick, to
    # write how far the reading got (its bar would stand still, and look stopped, otherwise).
    with _damaged_reading(tick=0.05) as (damaged, current, batches):
        read = []
        for _ in range(3):
            assert next(batches) == []
            read.append(current.rows_read)
        damaged.ended.set()
        assert all(batch == [] for batch in batches)  # and the file's end ends them
    assert current.problem_total > 0
    assert read[0] < read[1] < read[2]  # the reading went on between the ticks


def test_without_a_tick_no_empty_batch_is_handed_over() -> None:
    def slow() -> Iterator[int]:
        yield from range(3)
        time.sleep(0.3)
        yield 3

    reader, _ = _reader(slow())
    assert list(reader.batches()) == [[0, 1, 2], [3]]
    reader, _ = _reader(slow())
    ticked = list(reader.batches(tick=0.05))
    assert ticked[0] == [0, 1, 2]
    assert ticked[-1] == [3]
    assert set(map(tuple, ticked[1:-1])) == {()}
    assert len(ticked) >= 4


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_the_progress_of_a_file_read_in_one_pass_reaches_the_end_of_the_file(
    encoding: str, tmp_path: Path
) -> None:
    # The bar of an import landed in one pass is the characters read against the source's
    # size: a UTF-16 file (Excel's "Unicode text") has two bytes a character, and its bar
    # must not stop half-way.
    text = _DamagedFromRowFour.HEADER + b"".join(
        _DamagedFromRowFour.GOOD % (n, n) for n in range(50)
    )
    path = tmp_path / "balance.csv"
    path.write_bytes(text.decode().encode(encoding))
    for source in (ImportSource.from_path(path), ImportSource.from_bytes(path.read_bytes())):
        with file_pass(source, kind=None, date_order=None, zone=UTC, currency="USD") as (
            current,
            records,
        ):
            assert len(list(records)) == 50
        assert 0.99 <= current.characters_read / source.size <= 1


def test_turns_at_the_lock_are_short_while_a_file_is_read_and_as_before_after() -> None:
    # The landing thread waits for the reading thread to give the lock up after each answer
    # from the database: the turns are short while a reader runs, and Python's own after.
    before = sys.getswitchinterval()
    assert before > streamed.SWITCH_INTERVAL  # else the test could not tell
    reader, _ = _reader(iter(range(7)))
    assert [sys.getswitchinterval() for _ in reader.batches()] == [streamed.SWITCH_INTERVAL] * 3
    assert sys.getswitchinterval() == before


def test_the_turns_are_given_back_when_the_last_of_two_readers_ends_even_one_given_up() -> None:
    before = sys.getswitchinterval()
    first, _ = _reader(iter(range(30)))
    second, _ = _reader(iter(range(4)))
    given_up = first.batches()
    next(given_up)
    landed = second.batches()
    next(landed)
    given_up.close()  # the first landing gave up; the second reader still runs
    assert sys.getswitchinterval() == streamed.SWITCH_INTERVAL
    assert [len(batch) for batch in landed] == [1]
    assert sys.getswitchinterval() == before
