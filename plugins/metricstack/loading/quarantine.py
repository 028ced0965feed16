"""Rows that do not load: why, in words a data owner can act on, and where they are kept.

The reasons are written here, not taken from the server's messages, so that both
typing paths (the server's COPY ... ON_ERROR, and SQL checks on older servers) give the
same quarantine for the same file.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import psycopg

from metricstack.loading.declarations import Column
from metricstack.loading.streams import Dropped, RecordStream

_EXPECTED = {
    "bigint": "a whole number",
    "integer": "a whole number",
    "smallint": "a whole number",
    "numeric": "a number",
    "boolean": "true or false",
    "date": "a date (YYYY-MM-DD)",
    "timestamptz": "a timestamp (YYYY-MM-DD HH:MM:SS, ISO 8601)",
}

# PostgreSQL 17+ with LOG_VERBOSITY verbose, one NOTICE per skipped row. The server's
# messages must be in English (lc_messages): the loader checks before using this path.
_SKIPPED = re.compile(
    r'^skipping row due to data type incompatibility at line (\d+) for column "(.+?)": '
    r'(?:"(.*)"|null input)$',
    re.DOTALL,
)


def base_type(declared: str) -> str:
    return declared.split("(", 1)[0]


def reason(column: Column, value: str | None) -> str:
    if value is None:
        return f"{column.name}: empty, but the column is required"
    expected = _EXPECTED.get(base_type(column.type), column.type)
    return f"{column.name}: {value!r} is not {expected}"


@dataclass(frozen=True)
class Rejected:
    """A row COPY skipped (or the SQL checks found), by the line of the stream sent."""

    stream_line: int
    column: str
    value: str | None


def parse_notice(message: str) -> Rejected | None:
    match = _SKIPPED.match(message)
    if match is None:
        return None
    line, column, value = match.groups()
    return Rejected(int(line), column, value)


def _first_failure(
    row: Rejected, record: dict[str, Any], header: tuple[str, ...], required: set[str]
) -> Rejected:
    """The first failing column in the file's order, as staging's checks report it.

    A COPY straight into the raw table converts every field before it checks NOT NULL,
    so it names a later column that does not convert rather than an earlier required
    one that is empty; the record tells which came first.
    """
    for name in header:
        if name == row.column:
            return row
        if name in required and record.get(name) in ("", None):
            return Rejected(row.stream_line, name, None)
    return row


def quarantine(
    conn: psycopg.Connection,
    load_id: int,
    stream: RecordStream,
    columns: dict[str, Column],
    required: set[str],
    rejected: list[Rejected],
) -> Counter[str]:
    """Store every rejected and dropped line with its whole record; counts per column."""
    lines = {stream.file_line(r.stream_line): r for r in rejected}
    records = stream.records_at(lines) if lines else {}
    lines = {
        line: _first_failure(row, records.get(line, {}), stream.header, required)
        for line, row in lines.items()
    }
    per_column: Counter[str] = Counter()
    with conn.cursor().copy(
        "copy audit.rejected_rows "
        "(load_id, line_number, record, reason, column_name, value) from stdin"
    ) as copy:
        for line, row in sorted(lines.items()):
            per_column[row.column] += 1
            column = columns.get(row.column, Column(row.column, "text"))
            record = records.get(line, {})
            copy.write_row(
                [
                    load_id,
                    line,
                    json.dumps(record),
                    reason(column, row.value),
                    row.column,
                    row.value,
                ]
            )
        for dropped in stream.dropped:
            per_column[dropped.column or "(line)"] += 1
            copy.write_row(_dropped_row(load_id, dropped))
    return per_column


def _dropped_row(load_id: int, dropped: Dropped) -> list[Any]:
    return [
        load_id,
        dropped.line,
        json.dumps(dropped.record),
        dropped.reason,
        dropped.column,
        dropped.value,
    ]
