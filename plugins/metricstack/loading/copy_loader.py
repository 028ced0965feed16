"""Load a declared file into its raw table: COPY into a staging table, then publish.

One load is one transaction: the typed rows are streamed with COPY into a temporary
table, merged into the raw table on the primary key, and recorded with their
rejected rows in the audit schema; readers see all of it or none of it. A file whose
exact content was loaded before is skipped, so re-running a load changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from metricstack.loading.conversion import FieldError, parser_for
from metricstack.loading.declarations import Source

log = logging.getLogger(__name__)

_HASH_CHUNK = 1 << 20


class FileFormatError(ValueError):
    """The file as a whole does not match its declaration (nothing of it is loaded)."""


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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_raw_table(conn: psycopg.Connection, source: Source) -> None:
    columns = [
        sql.SQL("{} {}{}").format(
            sql.Identifier(c.name),
            sql.SQL(c.type),
            sql.SQL(" not null" if not c.nullable else ""),
        )
        for c in source.columns
    ]
    columns += [
        sql.SQL("_load_id bigint not null"),
        sql.SQL("_loaded_at timestamptz not null"),
        sql.SQL("primary key ({})").format(
            sql.SQL(", ").join(map(sql.Identifier, source.primary_key))
        ),
    ]
    conn.execute(
        sql.SQL("create table if not exists {}.{} ({})").format(
            sql.Identifier(source.schema), sql.Identifier(source.table), sql.SQL(", ").join(columns)
        )
    )


def _already_loaded(conn: psycopg.Connection, source: Source, sha: str) -> bool:
    row = conn.execute(
        "select 1 from audit.loads where source = %s and file_sha256 = %s", (source.name, sha)
    ).fetchone()
    return row is not None


def _check_header(path: Path, header: list[str] | None, source: Source) -> list[str]:
    """The header's column names; raises when they are not the declared ones."""
    if header is None:
        raise FileFormatError(f"{path}: the file is empty; expected a header row")
    got = [h.strip() for h in header]
    missing = [c for c in source.column_names if c not in got]
    extra = [c for c in got if c not in source.column_names]
    if missing or extra:
        raise FileFormatError(
            f"{path}: header does not match the declaration {source.path.name}: "
            f"missing {missing or 'none'}, unexpected {extra or 'none'}"
        )
    return got


def load_file(
    conn: psycopg.Connection, source: Source, path: Path, run_id: str | None = None
) -> LoadResult:
    """Load one file in one transaction; see the module's docstring."""
    sha = file_sha256(path)
    started = datetime.now(UTC)
    with conn.transaction():
        ensure_raw_table(conn, source)
        if _already_loaded(conn, source, sha):
            log.info("%s: already loaded (sha256 %s), skipped", path.name, sha[:12])
            return LoadResult(source.name, path.name, skipped=True)

        load_id = _start_load(conn, source, path, sha, run_id, started)
        staging = sql.Identifier(f"_incoming_{source.table}")
        target = sql.SQL("{}.{}").format(
            sql.Identifier(source.schema), sql.Identifier(source.table)
        )
        typed = [
            sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type)) for c in source.columns
        ]
        conn.execute(
            sql.SQL("create temporary table {} ({}, _line bigint) on commit drop").format(
                staging, sql.SQL(", ").join(typed)
            )
        )
        names = source.column_names
        parsers = [parser_for(c) for c in source.columns]
        read = 0
        # Rejected rows wait in a spooled file (memory-bounded) until the COPY ends.
        with tempfile.SpooledTemporaryFile(max_size=8 << 20, mode="w+", newline="") as rejects_buf:
            rejects = csv.writer(rejects_buf)
            with path.open(newline="", encoding="utf-8", errors="strict") as handle:
                reader = csv.reader(handle)
                header = _check_header(path, next(reader, None), source)
                order = [header.index(n) for n in names]
                copy_cols = sql.SQL(", ").join(map(sql.Identifier, (*names, "_line")))
                with conn.cursor().copy(
                    sql.SQL("copy {} ({}) from stdin").format(staging, copy_cols)
                ) as copy:
                    try:
                        for line_number, fields in enumerate(reader, start=2):
                            read += 1
                            if len(fields) != len(header):
                                reason = f"expected {len(header)} fields, found {len(fields)}"
                                rejects.writerow([line_number, json.dumps(fields), reason])
                                continue
                            try:
                                values = [p(fields[i]) for p, i in zip(parsers, order, strict=True)]
                            except FieldError as error:
                                record = json.dumps(dict(zip(header, fields, strict=True)))
                                rejects.writerow([line_number, record, str(error)])
                                continue
                            copy.write_row([*values, line_number])
                    except UnicodeDecodeError as error:
                        raise FileFormatError(
                            f"{path}: not valid UTF-8 after line {read + 1} ({error.reason})"
                        ) from None
            rejected = _count_lines(rejects_buf)
            loaded, inserted, updated = _merge(conn, source, staging, target, load_id)
            _store_rejects(conn, load_id, rejects_buf)
            conn.execute(
                "update audit.loads set finished_at = now(), rows_read = %s, rows_loaded = %s, "
                "rows_rejected = %s, rows_inserted = %s, rows_updated = %s where load_id = %s",
                (read, loaded, rejected, inserted, updated, load_id),
            )
    result = LoadResult(
        source.name, path.name, False, read, loaded, rejected, inserted, updated, load_id
    )
    log.info("%s", result)
    return result


def _count_lines(buf: tempfile.SpooledTemporaryFile[str]) -> int:
    buf.seek(0)
    return sum(1 for _ in csv.reader(buf))


def _merge(
    conn: psycopg.Connection,
    source: Source,
    staging: sql.Identifier,
    target: sql.Composable,
    load_id: int,
) -> tuple[int, int, int]:
    """Upsert the staged rows; within the file, the last row of a key wins."""
    cols = sql.SQL(", ").join(map(sql.Identifier, source.column_names))
    key = sql.SQL(", ").join(map(sql.Identifier, source.primary_key))
    non_key = [c for c in source.column_names if c not in source.primary_key]
    updates = sql.SQL(", ").join(
        sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c))
        for c in (*non_key, "_load_id", "_loaded_at")
    )
    changed = (
        sql.SQL(" or ").join(
            sql.SQL("{0}.{1} is distinct from excluded.{1}").format(
                sql.Identifier(source.table), sql.Identifier(c)
            )
            for c in non_key
        )
        if non_key
        else sql.SQL("false")
    )
    # Unchanged rows are left alone, so their _load_id still names the load that
    # brought them; xmax = 0 tells an inserted row from an updated one.
    query = sql.SQL(
        "with latest as "
        "(select distinct on ({key}) {cols} from {staging} order by {key}, _line desc), "
        "merged as (insert into {target} as {alias} ({cols}, _load_id, _loaded_at) "
        "select {cols}, {load_id}, now() from latest "
        "on conflict ({key}) do update set {updates} where {changed} "
        "returning (xmax = 0) as inserted) "
        "select (select count(*) from latest), "
        "count(*) filter (where inserted), count(*) filter (where not inserted) from merged"
    ).format(
        key=key,
        cols=cols,
        staging=staging,
        target=target,
        alias=sql.Identifier(source.table),
        updates=updates,
        changed=changed,
        load_id=sql.Literal(load_id),
    )
    read, inserted, updated = _one(conn.execute(query))
    return int(read), int(inserted), int(updated)


def _one(cursor: psycopg.Cursor[Any]) -> tuple[Any, ...]:
    """The single row a statement returns (an insert ... returning, an aggregate)."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError("the statement returned no row")
    return tuple(row)


def _start_load(
    conn: psycopg.Connection,
    source: Source,
    path: Path,
    sha: str,
    run_id: str | None,
    started: datetime,
) -> int:
    row = conn.execute(
        "insert into audit.loads (source, file_name, file_sha256, run_id, started_at) "
        "values (%s, %s, %s, %s, %s) returning load_id",
        (source.name, str(path), sha, run_id, started),
    )
    return int(_one(row)[0])


def _store_rejects(
    conn: psycopg.Connection, load_id: int, buf: tempfile.SpooledTemporaryFile[str]
) -> None:
    buf.seek(0)
    with conn.cursor().copy(
        "copy audit.rejected_rows (load_id, line_number, record, reason) from stdin"
    ) as copy:
        for line_number, record, reason in csv.reader(buf):
            copy.write_row([load_id, int(line_number), record, reason])
