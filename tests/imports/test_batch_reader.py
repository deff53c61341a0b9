"""The thread that reads a file while the import lands it (imports/streamed.py, BatchReader)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tillbook.imports import streamed
from tillbook.imports.streamed import QUEUED_BATCHES, BatchReader


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
