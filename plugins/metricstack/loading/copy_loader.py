"""Load one file into its raw table in one transaction; the server parses and types.

The file is streamed in bounded chunks into COPY (never held whole, never typed
row by row in Python). Rows that do not fit are quarantined in audit.rejected_rows
with line, column, value, reason and the whole record; the rest is published in the
same transaction, so readers see all of a load or none of it:

- ``direct`` (the target is empty, the server types): COPY straight into the raw
  table; a first load is written once. A missing required value or a key repeated
  in the file makes COPY fail whole; the load then goes the staged way instead.
- ``merge``: COPY into a temporary staging table, then an upsert on the primary key
  (the last record of a key wins, unchanged rows are untouched).

Typing is the server's (COPY ... ON_ERROR ignore, PostgreSQL 17+) or, on older servers,
SQL checks on an all-text staging table; both give the same quarantine (staging.py).
A file whose exact content was loaded before is skipped: re-running changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors, sql
from psycopg.types.json import Jsonb

from metricstack.loading import staging
from metricstack.loading.declarations import Source
from metricstack.loading.quarantine import Rejected, parse_notice, quarantine
from metricstack.loading.raw_tables import (
    Drift,
    compare_columns,
    ensure_raw_table,
    is_empty,
    target,
)
from metricstack.loading.streams import FileFormatError, RecordStream, open_stream

__all__ = ["FileFormatError", "LoadResult", "file_sha256", "load_file"]

log = logging.getLogger(__name__)

_HASH_CHUNK = 1 << 20
_CONTEXT_LINE = re.compile(r"\bline (\d+)")
# A column rejected in more than this share of the rows read has most likely changed
# type at the source (reported as drift; its rows are quarantined all the same).
_RETYPED_SHARE = 0.5


@dataclass(frozen=True)
class LoadResult:
    source: str
    file: str
    skipped: bool
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    load_id: int | None = None
    bytes: int = 0
    typing: str = ""
    publish: str = ""
    drift: dict[str, Any] | None = field(default=None)


@dataclass
class _Copied:
    """What one COPY did: rows it wrote, rows it skipped (server typing)."""

    rows: int
    rejected: list[Rejected]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def server_types(conn: psycopg.Connection) -> bool:
    """COPY ... ON_ERROR needs 17+, and its NOTICEs are read in English."""
    row = conn.execute("select current_setting('lc_messages')").fetchone()
    messages = str(row[0] if row else "")
    english = messages == "" or messages.split(".")[0] in {"C", "POSIX"} or messages[:2] == "en"
    return conn.info.server_version >= 170000 and english


def load_file(
    conn: psycopg.Connection,
    source: Source,
    path: Path,
    run_id: str | None = None,
    *,
    typing: str = "auto",
    origin: str | None = None,
) -> LoadResult:
    """Load one file in one transaction; see the module's docstring.

    ``typing``: ``auto`` (the server's where it can), ``server`` or ``sql``.
    ``origin``: what audit.loads records as the file (default: its path), such as the
    ``s3://`` key or the table and window an extract was read from.
    """
    size = path.stat().st_size
    started = datetime.now(UTC)
    stream = open_stream(path, source.format, source.column_names)
    drift = compare_columns(path, stream.header, source)
    with conn.transaction():
        # Dates are read year first: 03/04/2024 is rejected, not guessed. A timestamp
        # without an offset is UTC, the exports' documented zone.
        conn.execute("set local datestyle = 'ISO, YMD'")
        conn.execute("set local timezone = 'UTC'")
        ensure_raw_table(conn, source, drift.new)
        # Content loaded before has the same size: only then is the file hashed before
        # the load (to skip it); otherwise the checksum is taken as the file streams.
        sha = None
        if not stream.hashes_file or _size_seen(conn, source, size):
            sha = file_sha256(path)
            if _already_loaded(conn, source, sha):
                log.info("%s: already loaded (sha256 %s), skipped", path.name, sha[:12])
                return LoadResult(source.name, path.name, skipped=True)
        load_id = _start_load(
            conn, source, origin or str(path), sha or f"pending {started}", run_id, started, size
        )
        by_server = server_types(conn) if typing == "auto" else typing == "server"
        copied, publish = None, "merge"
        if by_server and is_empty(conn, source):
            copied = _copy_direct(conn, source, stream, load_id)
            publish = "direct" if copied else "merge"
        if copied:
            merged = staging.Merged(copied.rows, copied.rows, 0)
            rows_read = copied.rows + len(copied.rejected) + len(stream.dropped)
        else:
            copied, merged = _copy_staged(conn, source, stream, load_id, typed=by_server)
            rows_read = copied.rows if not by_server else copied.rows + len(copied.rejected)
            rows_read += len(stream.dropped)
        columns = {c.name: c for c in source.columns}
        required = {c.name for c in source.columns if not c.nullable} | set(source.primary_key)
        per_column = quarantine(conn, load_id, stream, columns, required, copied.rejected)
        rejected = sum(per_column.values())
        drift = Drift(
            drift.new,
            drift.missing,
            {c: n for c, n in per_column.items() if n > _RETYPED_SHARE * rows_read},
        )
        drift_json = drift.as_json()
        conn.execute(
            "update audit.loads set file_sha256 = %s, finished_at = clock_timestamp(), "
            "rows_read = %s, "
            "rows_loaded = %s, rows_rejected = %s, rows_inserted = %s, rows_updated = %s, "
            "typing = %s, publish = %s, drift = %s where load_id = %s",
            (
                sha or stream.sha256.hexdigest(),
                rows_read,
                merged.loaded,
                rejected,
                merged.inserted,
                merged.updated,
                "server" if by_server else "sql",
                publish,
                Jsonb(drift_json) if drift_json else None,
                load_id,
            ),
        )
    result = LoadResult(
        source.name,
        path.name,
        False,
        rows_read,
        merged.loaded,
        rejected,
        merged.inserted,
        merged.updated,
        load_id,
        size,
        "server" if by_server else "sql",
        publish,
        drift_json,
    )
    if drift_json:
        log.warning("%s: schema drift against %s: %s", path.name, source.path.name, drift_json)
    log.info("%s", result)
    return result


def _copy(
    conn: psycopg.Connection,
    stream: RecordStream,
    into: sql.Composable,
    *,
    on_error: bool,
) -> _Copied:
    """Stream the file into ``into``; a file COPY cannot parse fails naming its line."""
    rejected: list[Rejected] = []

    def on_notice(diag: psycopg.errors.Diagnostic) -> None:
        if diag.message_primary and (row := parse_notice(diag.message_primary)):
            rejected.append(row)

    options = stream.copy_format + (", on_error ignore, log_verbosity verbose" if on_error else "")
    query = sql.SQL("copy {} ({}) from stdin ({})").format(
        into, sql.SQL(", ").join(map(sql.Identifier, stream.header)), sql.SQL(options)
    )
    conn.add_notice_handler(on_notice)
    try:
        with conn.cursor() as cursor:
            with cursor.copy(query) as copy:
                for chunk in stream.chunks():
                    copy.write(chunk)
            return _Copied(cursor.rowcount, rejected)
    except errors.DataError as error:
        # a wrong number of fields, an unterminated quote, a NUL byte: not a row's
        # typing but the file's structure, which ON_ERROR does not cover
        raise FileFormatError(f"{stream.path}: {_located(stream, error)}") from None
    finally:
        conn.remove_notice_handler(on_notice)


def _located(stream: RecordStream, error: psycopg.Error) -> str:
    message = error.diag.message_primary or str(error)
    found = _CONTEXT_LINE.search(error.diag.context or "")
    if not found:
        return message
    return f"line {stream.file_line(int(found.group(1)))}: {message}"


def _copy_direct(
    conn: psycopg.Connection, source: Source, stream: RecordStream, load_id: int
) -> _Copied | None:
    """COPY into the empty raw table itself; None when the file needs the staged way.

    The primary key is dropped for the COPY and added back after it: one sorted index
    build costs a fraction of maintaining the index row by row. A key repeated in the
    file then fails the ADD, and the load goes the staged way, which merges repeats.
    """
    table = target(source)
    try:
        with conn.transaction():  # a savepoint: a failure leaves the load's transaction
            conn.execute("select set_config('metricstack.load_id', %s, true)", (str(load_id),))
            key = _primary_key_constraint(conn, source)
            if key:
                conn.execute(
                    sql.SQL("alter table {} drop constraint {}").format(table, sql.Identifier(key))
                )
            copied = _copy(conn, stream, table, on_error=True)
            if key:
                conn.execute("set local maintenance_work_mem = '256MB'")
                conn.execute(
                    sql.SQL("alter table {} add constraint {} primary key ({})").format(
                        table,
                        sql.Identifier(key),
                        sql.SQL(", ").join(map(sql.Identifier, source.primary_key)),
                    )
                )
            return copied
    except (errors.NotNullViolation, errors.UniqueViolation) as error:
        log.info(
            "%s: %s; loading through staging instead",
            stream.path.name,
            error.diag.message_primary,
        )
        return None


def _primary_key_constraint(conn: psycopg.Connection, source: Source) -> str | None:
    row = conn.execute(
        "select conname from pg_constraint where conrelid = %s::regclass and contype = 'p'",
        (f"{source.schema}.{source.table}",),
    ).fetchone()
    return None if row is None else str(row[0])


def _copy_staged(
    conn: psycopg.Connection, source: Source, stream: RecordStream, load_id: int, *, typed: bool
) -> tuple[_Copied, staging.Merged]:
    staging.create_staging(conn, source, stream.header, typed=typed)
    copied = _copy(conn, stream, staging.STAGING, on_error=typed)
    if not typed:
        copied.rejected = staging.reject_in_sql(conn, source, stream.header)
    merged = staging.merge(conn, source, stream.header, load_id, typed=typed)
    staging.drop_staging(conn, stream.header)
    return copied, merged


def _size_seen(conn: psycopg.Connection, source: Source, size: int) -> bool:
    row = conn.execute(
        "select 1 from audit.loads where source = %s and (bytes = %s or bytes is null) limit 1",
        (source.name, size),
    ).fetchone()
    return row is not None


def _already_loaded(conn: psycopg.Connection, source: Source, sha: str) -> bool:
    row = conn.execute(
        "select 1 from audit.loads where source = %s and file_sha256 = %s", (source.name, sha)
    ).fetchone()
    return row is not None


def _start_load(
    conn: psycopg.Connection,
    source: Source,
    origin: str,
    sha: str,
    run_id: str | None,
    started: datetime,
    size: int,
) -> int:
    row = conn.execute(
        "insert into audit.loads (source, file_name, file_sha256, run_id, started_at, bytes) "
        "values (%s, %s, %s, %s, %s, %s) returning load_id",
        (source.name, origin, sha, run_id, started, size),
    ).fetchone()
    if row is None:
        raise RuntimeError("audit.loads returned no load_id")
    return int(row[0])
