"""Records of a checked file, kept on disk between the check and the landing.

The checking pass has to read every cell of every row anyway (a file with any problem writes
nothing), so it keeps the records it made instead of throwing them away: landing then reads
them back rather than parsing the file a second time, which used to cost as much as the check
itself. They go to an anonymous temporary file in chunks, never into memory as a whole, so a
2 GB export still streams. Each record is stored as the tuple of its fields (pickling the
dataclasses themselves measured about twice as slow).
"""

from __future__ import annotations

import operator
import pickle
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from tillbook.imports.records import AdRecord, LedgerRecord, Record

CHUNK = 5000
_KINDS: tuple[type[LedgerRecord] | type[AdRecord], ...] = (LedgerRecord, AdRecord)
_FIELDS: dict[type[Any], Callable[[Any], tuple[Any, ...]]] = {
    kind: operator.attrgetter(*kind.__slots__) for kind in _KINDS
}


class RecordSpool:
    """Write records with `add`, then read them back, in order, with `records`."""

    def __init__(self, folder: Path | None = None) -> None:
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        # Unnamed (unlinked at once on POSIX): nothing is left behind if the worker dies.
        self._file: IO[bytes] = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 - closed in close()
        self._chunk: list[tuple[Any, ...]] = []
        self._kind: type[LedgerRecord] | type[AdRecord] | None = None
        self.count = 0

    def add(self, record: Record) -> None:
        kind = type(record)
        if kind is not self._kind:
            self._flush()
            self._kind = kind
        self._chunk.append(_FIELDS[kind](record))
        self.count += 1
        if len(self._chunk) >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._chunk:
            pickle.dump((_KINDS.index(self._kind), self._chunk), self._file, protocol=5)
            self._chunk = []

    def records(self) -> Iterator[Record]:
        self._flush()
        self._file.seek(0)
        while True:
            try:
                position, rows = pickle.load(self._file)  # noqa: S301 - our own file, see above
            except EOFError:
                return
            kind = _KINDS[position]
            for values in rows:
                yield kind(*values)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RecordSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
