"""Reading a file in a thread of its own while the import lands what it has read.

On PostgreSQL an import checks and lands a ledger file in one pass, inside one transaction
that is rolled back at its first problem (a file with an error still writes nothing). The
thread here reads and parses the file into batches while the import's own thread lands the
batches before them: the parsing is Python's work, and much of the landing is waiting for
PostgreSQL, which psycopg does without holding the interpreter's lock. The reading thread
never touches the database.

The progress of such an import is written through a connection of its own (`SideProgress`):
the import's transaction is open until the end, and the back office's progress bar must
move before that.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.utils import timezone

from tillbook.imports.models import ImportRun
from tillbook.imports.reading import Pass
from tillbook.imports.records import Record

logger = logging.getLogger(__name__)

# Batches read ahead of the landing (memory: a few times BATCH records). The reading thread
# keeps ahead with two: a million-row import's landing waited for it 0.3 s in all.
QUEUED_BATCHES = 2
_PUT_PATIENCE = 0.05  # seconds between looks at whether the landing has given up
# How long a thread holds the interpreter's lock before another may take it while a file is
# read beside its landing (Python's default is 5 ms; see _QuickTurns).
SWITCH_INTERVAL = 0.0005


class _QuickTurns:
    """Shorter turns at the interpreter's lock while any reading thread runs.

    Each time the landing thread has its answer from PostgreSQL it must wait for the reading
    thread, busy parsing, to give the lock up: up to Python's switch interval (5 ms), often
    more than once. A batch makes some fifteen round trips, and a million-row file spent tens
    of seconds so (bench/: trivial queries took 11 ms each; 3 ms with shorter turns). The
    interval is the interpreter's, so it is set while a reader runs and given back after the
    last one ends.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._readers = 0
        self._before = 0.0

    def __enter__(self) -> None:
        with self._lock:
            if not self._readers:
                self._before = sys.getswitchinterval()
                sys.setswitchinterval(min(self._before, SWITCH_INTERVAL))
            self._readers += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._readers -= 1
            if not self._readers:
                sys.setswitchinterval(self._before)


quick_turns = _QuickTurns()


class BatchReader:
    """Batches of `size` records of `records` (read by `current`), made in a thread.

    Once the file shows a problem nothing more is handed over (nothing will be landed), but
    the rest of the file is still read for the report of every problem. Iterate `batches()`
    once; an error of the reading thread is raised there, after the batches before it.
    """

    def __init__(
        self,
        current: Pass,
        records: Iterator[Record],
        size: int,
        prepare: Callable[[list[Record]], None] | None = None,
    ) -> None:
        self.current = current
        self.records = 0  # records made, counted by the reading thread
        self._source = records
        self._size = size
        # Work on a batch that needs no database, done here rather than in the landing
        # thread (see copy_texts_prepare).
        self._prepare = prepare
        self._queue: queue.Queue[list[Record] | None] = queue.Queue(QUEUED_BATCHES)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._read, name="import-reader", daemon=True)

    def _read(self) -> None:
        batch: list[Record] = []
        try:
            for record in self._source:
                self.records += 1
                if self._stop.is_set():
                    return
                if self.current.problem_total:
                    batch = []
                    continue
                batch.append(record)
                if len(batch) >= self._size:
                    self._hand_over(batch)
                    batch = []
            if batch and not self.current.problem_total:
                self._hand_over(batch)
        except BaseException as error:  # handed to the landing thread, which raises it
            self._error = error
        finally:
            self._put(None)

    def _hand_over(self, batch: list[Record]) -> None:
        if self._prepare is not None:
            self._prepare(batch)
        self._put(batch)

    def _put(self, item: list[Record] | None) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_PUT_PATIENCE)
                return
            except queue.Full:
                continue

    def batches(self, tick: float | None = None) -> Generator[list[Record], None, None]:
        """The batches in order. With `tick` (seconds), an empty batch each time that long
        passes without one: the reading goes on with nothing to land (the rest of a file past
        its first problem, read for the report), and the caller can say how far it got."""
        with quick_turns:
            self._thread.start()
            try:
                while (batch := self._next(tick)) is not None:
                    yield batch
            finally:
                # Landing done, or given up (an error, a Ctrl-C): the reader stops at its next
                # line.
                self.current.given_up = True
                self._stop.set()
                self._thread.join()
        if self._error is not None:
            raise self._error

    def _next(self, tick: float | None) -> list[Record] | None:
        try:
            return self._queue.get(timeout=tick)
        except queue.Empty:
            return []


class SideProgress:
    """Writes a run's progress through a database connection of its own, in autocommit, so it
    is seen while the import's transaction is still open. (The import's own connection changes
    the run's row only at its end, after the last write here.)"""

    def __init__(self, run: ImportRun) -> None:
        self._run = run
        self._connection: Any = None
        self._broken = False

    def write(self, *, rows_read: int, rows_done: int, characters: int) -> None:
        """Best effort: if the second connection cannot be had (the server's connection limit
        reached), the bar stops moving and the import goes on."""
        if self._broken:
            return
        try:
            self._write(rows_read=rows_read, rows_done=rows_done, characters=characters)
        except DatabaseError:
            logger.warning("Import run %s: its progress could not be written", self._run.pk)
            self._broken = True
            self.close()

    def waiting(self, message: str) -> None:
        """The run waits for something before it can go on, and says what (its page shows
        it, and a run that says so is not taken for stopped); the next write clears it."""
        run = self._run
        run.message = message
        self.write(rows_read=run.rows_read, rows_done=run.rows_done, characters=run.bytes_read)
        run.message = ""

    def _write(self, *, rows_read: int, rows_done: int, characters: int) -> None:
        if self._connection is None:
            own = connections[DEFAULT_DB_ALIAS]  # the same database, another session
            self._connection = type(own)(dict(own.settings_dict), alias=DEFAULT_DB_ALIAS)
            if self._connection.vendor == "postgresql":
                with self._connection.cursor() as cursor:
                    # A bar's position is not worth waiting for the disk: each write's commit
                    # waited for its flush (3 ms; two hundred of them in a million-row import,
                    # which waits for each). A crash loses at most the last position written.
                    cursor.execute("SET synchronous_commit TO off")
        quote = self._connection.ops.quote_name
        run = self._run
        run.rows_read, run.rows_done, run.bytes_read = rows_read, rows_done, characters
        run.updated_at = timezone.now()
        table = quote(ImportRun._meta.db_table)
        # Never waiting for the row: if the import's caller holds it in a transaction of its
        # own (it changed the run and has not committed), waiting here would wait for ever.
        # The bar then does not move; the import goes on.
        statement = (
            f"UPDATE {table} SET state = %s, rows_read = %s, rows_done = %s, "  # noqa: S608 - names from model metadata
            "bytes_read = %s, bytes_total = %s, message = %s, updated_at = %s "
            f"WHERE id IN (SELECT id FROM {table} WHERE id = %s FOR UPDATE SKIP LOCKED)"
        )
        values = [
            run.state, rows_read, rows_done, characters, run.bytes_total, run.message,
            run.updated_at,
        ]  # fmt: skip
        with self._connection.cursor() as cursor:
            cursor.execute(statement, [*values, run.pk])

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except DatabaseError:
                logger.warning("Import run %s: its progress connection did not close", self._run.pk)
            self._connection = None
