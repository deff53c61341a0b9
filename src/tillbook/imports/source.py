"""Opening an export file as numbered text lines, without ever holding it whole in memory.

A source can be opened more than once: the importer reads a file twice (first to check every
row and learn its date order, then to write), so a 2 GB file costs two streaming passes and a
few kilobytes of memory rather than 2 GB. Microsoft Advertising downloads arrive zipped;
Excel's "Unicode text" saves UTF-16 with a byte-order mark; everything else is UTF-8, with or
without a BOM.
"""

from __future__ import annotations

import codecs
import io
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tillbook.imports.problems import FileProblem, ImportFileInvalid

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # Excel 97–2003 (.xls)
EXCEL_WORKBOOK = (
    "this is an Excel workbook, not a CSV file; open it in Excel, choose File › Save As › "
    "“CSV UTF-8 (Comma delimited)” and import the .csv file"
)


@dataclass(frozen=True)
class ImportSource:
    """A named file that can be opened again: a path, bytes in memory, or a generator."""

    name: str
    opener: Callable[[], IO[bytes]]
    # The characters of its text, for a progress bar that counts the characters read (see
    # _text_size); 0 when not known (a generator, a zip file).
    size: int = 0

    @classmethod
    def from_path(cls, path: str | Path) -> ImportSource:
        location = Path(path)
        try:
            with location.open("rb") as stream:
                size = _text_size(stream.read(4), location.stat().st_size)
        except OSError:  # said when the import opens it
            size = 0
        return cls(location.name, lambda: location.open("rb"), size)

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "upload.csv") -> ImportSource:
        return cls(name, lambda: io.BytesIO(data), _text_size(data[:4], len(data)))


def _text_size(head: bytes, size: int) -> int:
    """About how many characters a file of `size` bytes starting with `head` holds: its bytes,
    half of them in UTF-16 (Excel's "Unicode text"); 0 for a zip file, whose text is larger."""
    if head == _ZIP_MAGIC:
        return 0
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return size // 2
    return size


DAMAGED_ZIP = (
    "the zip file is damaged or incomplete (perhaps the download was interrupted); "
    "download it again"
)


@contextmanager
def _binary(source: ImportSource) -> Iterator[IO[bytes]]:
    stream = source.opener()
    try:
        head = stream.read(4)
        if head == _ZIP_MAGIC:
            stream.close()
            try:
                with zipfile.ZipFile(source.opener()) as archive:
                    members = [i for i in archive.infolist() if not i.is_dir()]
                    if any(i.filename == "xl/workbook.xml" for i in members):  # .xlsx is a zip
                        raise ImportFileInvalid([FileProblem(0, EXCEL_WORKBOOK)])
                    csvs = [i for i in members if i.filename.lower().endswith((".csv", ".tsv"))]
                    if len(csvs) != 1:
                        raise ImportFileInvalid(
                            [FileProblem(0, "the zip file must hold exactly one .csv file")]
                        )
                    with archive.open(csvs[0]) as member:
                        yield member  # a damaged member fails while it is being read
            except (zipfile.BadZipFile, zlib.error, EOFError):
                raise ImportFileInvalid([FileProblem(0, DAMAGED_ZIP)]) from None
            return
        if head == _OLE_MAGIC:
            raise ImportFileInvalid([FileProblem(0, EXCEL_WORKBOOK)])
        yield io.BufferedReader(_Rewound(head, stream), 1 << 16)
    finally:
        stream.close()


class _Rewound(io.RawIOBase):
    """The stream with its first bytes put back, for sources that cannot seek (generators)."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        # The head and what follows it in one read, so a peek sees a whole first block.
        size = min(len(buffer), len(self._head))
        buffer[:size] = self._head[:size]
        self._head = self._head[size:]
        data = self._rest.read(len(buffer) - size) if size < len(buffer) else b""
        buffer[size : size + len(data)] = data
        return size + len(data)


@contextmanager
def text_lines(source: ImportSource) -> Iterator[Iterator[str]]:
    """The file's lines as text (line endings kept, for the csv module), BOM removed."""
    with _binary(source) as raw:
        buffered = (
            raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw, 1 << 16)  # type: ignore[type-var]
        )
        head = buffered.peek(4)[:4]
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            yield _utf16_lines(buffered)
            return
        sample = buffered.peek(1 << 16)
        # Excel for Mac's "CSV (Macintosh)" ends rows with CR alone (a cell may still hold LF).
        if b"\r\n" not in sample and sample.count(b"\r") > sample.count(b"\n"):
            yield _utf8_lines(_cr_lines(buffered))
        else:
            yield _utf8_lines(buffered)


NUL_CHARACTER = (
    "the file holds a NUL character, which no export has: it is damaged or saved in another "
    "encoding. In Excel, save it as “CSV UTF-8”."
)
# No cell of an export holds one, and PostgreSQL keeps none in text: refused with its line
# while the file is read, rather than by the database while its rows land.


def _utf16_lines(stream: IO[bytes]) -> Iterator[str]:
    text = io.TextIOWrapper(stream, encoding="utf-16", newline="")
    try:
        for number, line in enumerate(text, start=1):
            if "\x00" in line:
                raise ImportFileInvalid([FileProblem(number, NUL_CHARACTER)])
            yield line
    except UnicodeDecodeError:
        raise ImportFileInvalid(
            [FileProblem(0, "the file is not readable UTF-16 text; save it as CSV UTF-8")]
        ) from None


def _cr_lines(stream: IO[bytes]) -> Iterator[bytes]:
    """Lines ended by a carriage return alone, each with its ending."""
    pending = b""
    while chunk := stream.read(1 << 16):
        *lines, pending = (pending + chunk).split(b"\r")
        for line in lines:
            yield line + b"\r"
    if pending:
        yield pending


def _utf8_lines(lines: Iterable[bytes]) -> Iterator[str]:
    # Decoding line by line puts a byte that is not UTF-8 on its line in the error report.
    for number, line in enumerate(lines, start=1):
        if b"\x00" in line:
            raise ImportFileInvalid([FileProblem(number, NUL_CHARACTER)])
        try:
            yield line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise ImportFileInvalid(
                [
                    FileProblem(
                        number,
                        "the file is not UTF-8 text. In Excel, save it as “CSV UTF-8”.",
                    )
                ]
            ) from None
