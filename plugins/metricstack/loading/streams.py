"""Files as COPY streams: bytes in bounded chunks, whatever the file's size or format.

A CSV file is streamed as it is (the server parses it: the fastest path); JSON lines,
Parquet and Excel are converted record by record into COPY's text format, where a
record is always one line. Lines that cannot be sent (bytes that are not UTF-8,
lines that are not JSON) are kept aside with a reason, and the stream remembers
them so that a line number COPY reports maps back to the line of the file.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

CHUNK = 128 << 10  # psycopg sends at most 128 KiB per message: larger reads are sliced


class FileFormatError(ValueError):
    """The file as a whole cannot be loaded; nothing of it is loaded."""


@dataclass(frozen=True)
class Dropped:
    """A line of the file that was not sent to COPY, and why."""

    line: int
    record: dict[str, Any]
    column: str | None
    value: str | None
    reason: str


class RecordStream(ABC):
    """One file as a COPY stream; ``chunks`` may be iterated more than once."""

    copy_format: str  # the COPY options that read what ``chunks`` yields
    first_line: int  # the file's line (or row) number of the first record
    # whether ``chunks`` reads every byte of the file, so that ``sha256`` is the file's
    hashes_file = False

    def __init__(self, path: Path) -> None:
        self.path = path
        self.header: tuple[str, ...] = ()
        self.dropped: list[Dropped] = []
        self._skipped: list[int] = []  # file lines not sent, sorted: dropped or blank
        self.sha256 = hashlib.sha256()

    @abstractmethod
    def chunks(self) -> Iterator[bytes]: ...

    @abstractmethod
    def records_at(self, lines: Iterable[int]) -> dict[int, dict[str, Any]]:
        """The records on these file lines, read again from the file."""

    def _restart(self) -> None:
        self.dropped, self._skipped = [], []
        self.sha256 = hashlib.sha256()

    def _skip(self, dropped: Dropped | None, line: int) -> None:
        if dropped:
            self.dropped.append(dropped)
        self._skipped.append(line)

    def file_line(self, stream_line: int) -> int:
        """The file line of COPY's ``stream_line`` (1 = the first line sent)."""
        line = self.first_line + stream_line - 1
        while True:  # move past every skipped line at or before it
            moved = self.first_line + stream_line - 1 + bisect.bisect_right(self._skipped, line)
            if moved == line:
                return line
            line = moved


def _csv_fields(text: str) -> list[str]:
    return next(csv.reader([text]), [])


class CsvFile(RecordStream):
    """CSV with a header line, UTF-8; sent to the server unparsed."""

    copy_format = "format csv"
    first_line = 2
    hashes_file = True

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        with path.open("rb") as handle:
            first = handle.readline()
        if not first.strip():
            raise FileFormatError(f"{path}: the file is empty; expected a header row")
        try:
            text = first.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FileFormatError(
                f"{path}: the header line is not valid UTF-8 (another encoding, or not a CSV file?)"
            ) from None
        self.header = tuple(h.strip() for h in _csv_fields(text.rstrip("\r\n")))
        self._header = first
        # (file line, byte offset) at the start of each chunk: rejects are read again
        # from there instead of from the file's start.
        self._index: list[tuple[int, int]] = []

    def chunks(self) -> Iterator[bytes]:
        self._restart()
        self._index = []
        line, offset, sent, carry = self.first_line, len(self._header), 0, b""
        self.sha256.update(self._header)
        with self.path.open("rb") as handle:
            handle.seek(offset)
            while block := handle.read(CHUNK):
                # the checksum comes with the read: a big file is not read twice
                self.sha256.update(block)
                block = carry + block
                cut = block.rfind(b"\n") + 1
                if cut == 0:  # no line end yet: a line longer than a chunk
                    carry = block
                    continue
                piece, carry = block[:cut], block[cut:]
                good = self._checked(piece, line, offset)
                sent += len(good)
                yield good
                line += piece.count(b"\n")
                offset += len(piece)
            if carry:  # a last line without a line end
                good = self._checked(carry, line, offset)
                sent += len(good)
                yield good
        if self.dropped and not sent:
            raise FileFormatError(
                f"{self.path}: no line is valid UTF-8 (first: line {self.dropped[0].line}); "
                "is the file in another encoding?"
            )

    def _checked(self, piece: bytes, line: int, offset: int) -> bytes:
        """``piece`` less its lines that are not UTF-8 (decoding a whole chunk is fast)."""
        self._index.append((line, offset))
        try:
            piece.decode("utf-8")
            return piece
        except UnicodeDecodeError:
            pass
        kept = []
        for number, raw in enumerate(piece.splitlines(keepends=True), start=line):
            try:
                raw.decode("utf-8")
                kept.append(raw)
            except UnicodeDecodeError as error:
                self._skip(self._not_utf8(number, raw, error), number)
        return b"".join(kept)

    def _not_utf8(self, line: int, raw: bytes, error: UnicodeDecodeError) -> Dropped:
        # latin-1 maps every byte to one character, so the fields split exactly.
        fields = _csv_fields(raw.decode("latin-1").rstrip("\r\n"))
        record = self._record(raw)
        for name, field in zip(self.header, fields, strict=False):
            try:
                field.encode("latin-1").decode("utf-8")
            except UnicodeDecodeError:
                value = field.encode("latin-1").decode("utf-8", "backslashreplace")
                return Dropped(line, record, name, value, f"{name}: {value!r} is not UTF-8")
        return Dropped(line, record, None, None, f"not valid UTF-8 ({error.reason})")

    def _record(self, raw: bytes) -> dict[str, Any]:
        fields = _csv_fields(raw.decode("utf-8", "backslashreplace").rstrip("\r\n"))
        if len(fields) != len(self.header):
            return {"_line": raw.decode("utf-8", "backslashreplace").rstrip("\r\n")}
        return dict(zip(self.header, fields, strict=True))

    def records_at(self, lines: Iterable[int]) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        starts = [start for start, _ in self._index]
        with self.path.open("rb") as handle:
            for line in sorted(set(lines)):
                at = bisect.bisect_right(starts, line) - 1
                start, offset = self._index[at]
                handle.seek(offset)
                for _ in range(line - start):
                    handle.readline()
                found[line] = self._record(handle.readline())
        return found


def _text_field(value: Any) -> str:
    """One value in COPY's text format (\\N is null; backslash escapes keep one line)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, int | float | Decimal):
        text = str(value)
    elif isinstance(value, datetime | date | time):
        text = value.isoformat()
    else:
        text = json.dumps(value, default=str)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _shown(value: Any) -> Any:
    """A value as it goes into a quarantined record (jsonb)."""
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    return value.isoformat() if isinstance(value, datetime | date | time) else str(value)


class ConvertedFile(RecordStream):
    """A format the server cannot read, converted to COPY text one record per line."""

    copy_format = "format text"

    @abstractmethod
    def _records(self) -> Iterator[tuple[int, tuple[Any, ...] | None]]:
        """(file line, values in header order), or (line, None) for a line skipped."""

    def chunks(self) -> Iterator[bytes]:
        self._restart()
        buffer: list[str] = []
        size = 0
        for _, values in self._records():
            if values is None:
                continue
            row = "\t".join(_text_field(v) for v in values) + "\n"
            buffer.append(row)
            size += len(row)
            if size >= CHUNK:
                yield "".join(buffer).encode()
                buffer, size = [], 0
        if buffer:
            yield "".join(buffer).encode()

    def records_at(self, lines: Iterable[int]) -> dict[int, dict[str, Any]]:
        wanted = set(lines)
        found: dict[int, dict[str, Any]] = {}
        for line, values in self._records():
            if line in wanted and values is not None:
                found[line] = {k: _shown(v) for k, v in zip(self.header, values, strict=True)}
                if len(found) == len(wanted):
                    break
        return found


class JsonLinesFile(ConvertedFile):
    """One JSON object per line; its columns: the declared ones, then new keys of line 1."""

    first_line = 1

    def __init__(self, path: Path, declared: tuple[str, ...]) -> None:
        super().__init__(path)
        first: dict[str, Any] | None = {}  # an empty file: no rows, the declared columns
        with path.open("rb") as handle:
            for raw in handle:
                if raw.strip():
                    first = self._object(raw)
                    break
        if first is None:
            raise FileFormatError(f"{path}: no JSON object on its first non-blank line")
        self.header = (*declared, *(k for k in first if k not in declared))

    @staticmethod
    def _object(raw: bytes) -> dict[str, Any] | None:
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def _records(self) -> Iterator[tuple[int, tuple[Any, ...] | None]]:
        with self.path.open("rb") as handle:
            for line, raw in enumerate(handle, start=1):
                if not raw.strip():
                    self._skip(None, line)
                    yield line, None
                    continue
                obj = self._object(raw)
                if obj is None:
                    text = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")
                    reason = "not a JSON object"
                    self._skip(Dropped(line, {"_line": text}, None, None, reason), line)
                    yield line, None
                    continue
                yield line, tuple(obj.get(k) for k in self.header)


class ParquetFile(ConvertedFile):
    """Parquet read in record batches (bounded memory); line = row number from 1."""

    first_line = 1
    _BATCH = 10_000

    def __init__(self, path: Path) -> None:
        import pyarrow.parquet as pq

        super().__init__(path)
        try:
            self._file = pq.ParquetFile(path)
        except Exception as error:  # pyarrow raises its own error types for a bad file
            raise FileFormatError(f"{path}: not a readable Parquet file ({error})") from None
        self.header = tuple(self._file.schema_arrow.names)

    def _records(self) -> Iterator[tuple[int, tuple[Any, ...] | None]]:
        line = 0
        for batch in self._file.iter_batches(batch_size=self._BATCH):
            columns = batch.to_pydict()
            for values in zip(*(columns[name] for name in self.header), strict=True):
                line += 1
                yield line, values


class ExcelFile(ConvertedFile):
    """The first sheet of an .xlsx workbook, read-only (streamed); line = sheet row."""

    first_line = 2

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        header = next(self._rows(), None)
        if header is None:
            raise FileFormatError(f"{path}: the first sheet is empty; expected a header row")
        self.header = tuple(str(h).strip() for h in header if h is not None)

    def _rows(self) -> Iterator[tuple[Any, ...]]:
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(self.path, read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises zipfile's and its own errors
            raise FileFormatError(f"{self.path}: not a readable .xlsx file ({error})") from None
        try:
            yield from workbook.worksheets[0].iter_rows(values_only=True)
        finally:
            workbook.close()

    def _records(self) -> Iterator[tuple[int, tuple[Any, ...] | None]]:
        width = len(self.header)
        rows = self._rows()
        next(rows, None)
        for line, row in enumerate(rows, start=2):
            values = tuple(row[:width]) + (None,) * (width - len(row))
            if all(v is None for v in values):  # openpyxl reports formatted empty rows
                self._skip(None, line)
                yield line, None
                continue
            yield line, values


def open_stream(path: Path, fmt: str, declared: tuple[str, ...]) -> RecordStream:
    if fmt == "csv":
        return CsvFile(path)
    if fmt == "jsonl":
        return JsonLinesFile(path, declared)
    if fmt == "parquet":
        return ParquetFile(path)
    if fmt == "xlsx":
        return ExcelFile(path)
    raise FileFormatError(f"{path}: unknown format {fmt!r} (csv, jsonl, parquet, xlsx)")
