"""Read one declared object from its system and load it: the body of an ingestion task.

    window = Window.scheduled(until=data_interval_end)         # or Window.backfill(d1, d2)
    results = ingest_object(settings, system, source, endpoint, window, run_id)

- ``database`` and ``http`` objects are read incrementally: rows whose incremental key is
  past the object's high-water mark (audit.watermarks) up to the end of the run's data
  interval. The extract is loaded, and the mark moved to the largest key read, in one
  transaction: a crash leaves both as they were, and the re-run reads the same rows.
- ``s3`` objects are daily drops: the keys after the mark (the last key loaded), each
  loaded and marked in its own transaction, in key order (the order of days).
- ``files`` objects are the landing folder's files matching the pattern, each loaded
  once by content (see files.py).

A backfill reads the window it is given (days, both ends included) and leaves the mark
alone: it repairs history without making the next scheduled run skip or repeat rows.
Whatever is read twice is merged on the primary key, so every re-run and every
backfill leaves the same warehouse.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import psycopg

from metricstack.config import Settings
from metricstack.loading.copy_loader import FileFormatError, load_file
from metricstack.loading.declarations import DeclarationError, Source, SourceSystem
from metricstack.loading.files import RejectedFiles, load_landed_files
from metricstack.loading.watermarks import advance_mark, read_mark, timestamp_order
from metricstack.sources import database, http_api, s3
from metricstack.sources.database import mask_url

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.=-]+")


@dataclass(frozen=True)
class Window:
    """What one run reads: up to ``until`` from the mark, or a backfill's days."""

    until: datetime | None = None
    first_day: date | None = None  # a backfill: these days, both included
    last_day: date | None = None

    @classmethod
    def scheduled(cls, until: datetime | None) -> Window:
        return cls(until=until)

    @classmethod
    def backfill(cls, first_day: date, last_day: date) -> Window:
        if last_day < first_day:
            raise ValueError(f"backfill: the last day {last_day} is before the first {first_day}")
        return cls(first_day=first_day, last_day=last_day)

    @property
    def is_backfill(self) -> bool:
        return self.first_day is not None

    def days(self) -> tuple[date, date]:
        """A backfill's first and last day."""
        if self.first_day is None or self.last_day is None:
            raise ValueError("a scheduled window has no days; only a backfill has")
        return self.first_day, self.last_day

    def bounds(self) -> tuple[datetime, datetime]:
        """A backfill's days as (since, until] timestamps."""
        first, last = self.days()
        start = datetime.combine(first, time(), UTC)
        end = datetime.combine(last + timedelta(days=1), time(), UTC)
        # since is exclusive: a microsecond earlier takes in a row at midnight sharp
        return start - timedelta(microseconds=1), end - timedelta(microseconds=1)


@dataclass(frozen=True)
class Endpoint:
    """How to reach a system, resolved from its connection (never from the declaration)."""

    url: str = ""  # the database URL, or the API's base URL
    token: str = ""  # the API's bearer token
    s3: Any = None  # a boto3 S3 client


def ingest_object(
    settings: Settings,
    system: SourceSystem,
    source: Source,
    endpoint: Endpoint,
    window: Window,
    run_id: str | None,
) -> list[dict[str, Any]]:
    """Read ``source`` as ``window`` says and load it; one load result per file loaded."""
    if source.kind == "files":
        return load_landed_files(settings, source, run_id)
    folder = settings.state_dir / "extracts" / source.system / source.object
    if source.kind == "s3":
        return _ingest_drops(settings, system, source, endpoint, window, run_id, folder)
    return [_ingest_incremental(settings, system, source, endpoint, window, run_id, folder)]


def _label(value: datetime | None) -> str:
    return "start" if value is None else value.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _ingest_incremental(
    settings: Settings,
    system: SourceSystem,
    source: Source,
    endpoint: Endpoint,
    window: Window,
    run_id: str | None,
    folder: Path,
) -> dict[str, Any]:
    key = source.incremental_key
    if key is None:
        raise DeclarationError(f"{source.path}: {source.object} has no incremental_key")
    since: datetime | None
    until: datetime | None
    # autocommit: the load and its mark are one transaction of their own (below)
    with psycopg.connect(settings.role_url("loader"), autocommit=True) as conn:
        if window.is_backfill:
            since, until = window.bounds()
        else:
            mark = read_mark(conn, source.name)
            since = timestamp_order(mark) if mark else None
            until = window.until
        name = f"{source.object}_{_label(since)}_{_label(until)}"
        path = folder / _UNSAFE.sub("_", name)
        try:
            if source.kind == "database":
                path = path.with_suffix(".csv")
                extract = database.extract_table(
                    endpoint.url,
                    source.location,
                    source.column_names,
                    path,
                    incremental_key=key,
                    since=since,
                    until=until,
                    # only scheduled runs look back: a backfill's window is what was asked
                    lookback=timedelta(
                        minutes=0 if window.is_backfill else system.lookback_minutes
                    ),
                )
                origin = f"{mask_url(endpoint.url)}#{source.location}"
                reached = extract.max_key.isoformat() if extract.max_key else None
            else:
                path = path.with_suffix(".jsonl")
                pages = http_api.extract_endpoint(
                    endpoint.url,
                    source.location,
                    endpoint.token,
                    path,
                    since=since,
                    until=until,
                    key_field=key,
                )
                origin = f"{endpoint.url.rstrip('/')}/v1/{source.location}"
                reached = pages.max_key
            origin += f" ({since.isoformat() if since else 'start'}, "
            origin += f"{until.isoformat() if until else 'now'}]"
            with conn.transaction():
                result = load_file(conn, source, path, run_id, origin=origin)
                if reached and not window.is_backfill:
                    advance_mark(
                        conn,
                        source.name,
                        reached,
                        load_id=result.load_id,
                        run_id=run_id,
                        order=timestamp_order,
                    )
        finally:
            # the rows are in the raw table and the audit trail has the file's checksum
            path.unlink(missing_ok=True)
    log.info("%s: %s (mark %s)", source.name, result, reached)
    return asdict(result)


def _ingest_drops(
    settings: Settings,
    system: SourceSystem,
    source: Source,
    endpoint: Endpoint,
    window: Window,
    run_id: str | None,
    folder: Path,
) -> list[dict[str, Any]]:
    bucket = system.bucket
    if bucket is None:
        raise DeclarationError(f"{system.path}: an s3 source needs a 'bucket'")
    results: list[dict[str, Any]] = []
    unreadable: list[str] = []
    # autocommit: each load commits on its own (a transaction per file, not one for all)
    with psycopg.connect(settings.role_url("loader"), autocommit=True) as conn:
        if window.is_backfill:
            keys = s3.keys_between(endpoint.s3, bucket, source.location, *window.days())
        else:
            keys = s3.list_new_objects(
                endpoint.s3, bucket, source.location, after=read_mark(conn, source.name)
            )
        log.info("%s: %d objects to load from s3://%s/", source.name, len(keys), bucket)
        for key in keys:
            path = folder / _UNSAFE.sub("_", key)
            try:
                s3.download(endpoint.s3, bucket, key, path)
                with conn.transaction():
                    result = load_file(conn, source, path, run_id, origin=f"s3://{bucket}/{key}")
                    if not window.is_backfill:
                        advance_mark(conn, source.name, key, load_id=result.load_id, run_id=run_id)
            except FileFormatError as error:
                # The other days still load; this one is named at the end, and the mark
                # passes it, so a backfill of its day is how the fixed file gets in.
                log.error("%s", error)
                unreadable.append(f"s3://{bucket}/{key}: {error}")
                if not window.is_backfill:
                    with conn.transaction():
                        advance_mark(conn, source.name, key, load_id=None, run_id=run_id)
                continue
            finally:
                path.unlink(missing_ok=True)
            results.append(asdict(result))
    if unreadable:
        raise RejectedFiles(
            f"{len(unreadable)} of {len(keys)} drops of {source.name} were not loaded; "
            "fix them and run a backfill of their days:\n" + "\n".join(unreadable)
        )
    return results
