"""The sample company's CRM: a small REST API over funnel events, NPS and support tickets.

    counts = prepare_crm_data(company, data_dir)        # once: Parquet per resource and month
    app = create_app(data_dir, token)                   # ASGI (Starlette), served by uvicorn
    crm_service_command(host, port, data_dir)           # the same as a background process

``GET /v1/{resource}?updated_since=&updated_until=&cursor=&limit=`` answers
``{"data": [...], "next_cursor": "..." | null}``. Records are the generator's rows as
JSON (timestamps as UTC ISO 8601 text, missing values as null) plus ``updated_at``: when
the record last changed (a ticket changes when it closes), the field incremental
extraction filters on. ``updated_since`` is exclusive, ``updated_until`` inclusive. Rows
come in (updated_at, id, copy) order, where copy numbers the planted duplicates, so a
cursor (the last row's key, opaque to clients) is stable and pages never overlap.

Like a hosted CRM it wants ``Authorization: Bearer <token>`` (401 otherwise), allows
``rate_limit_per_second`` requests (a token bucket; 429 with ``Retry-After`` beyond it)
and caps ``limit`` at ``page_size_max``. ``fail_first_n_requests`` makes the first data
requests answer 503, for tests of the clients' retries. ``GET /health`` needs no token.

The data is read from disk per page: one Parquet file per resource and month of
``updated_at``, sorted, in row groups small enough that a page reads one or two of them.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import hmac
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from metricstack.sample_company.dirt import as_text
from metricstack.sample_company.generator import Company
from metricstack.sample_company.schema import SCHEMAS

TOKEN_ENV = "METRICSTACK_CRM_TOKEN"  # noqa: S105 - the variable's name, not a token
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ROW_GROUP_ROWS = 10_000
DEFAULT_LIMIT = 100
# hidden columns of the prepared files: the sort key and the month of updated_at
_TS, _ID, _COPY, _MONTH = "_ts", "_id", "_copy", "_month"
_HIDDEN = (_TS, _ID, _COPY, _MONTH)


@dataclass(frozen=True)
class Resource:
    name: str
    id_column: str
    updated_from: tuple[str, ...]  # updated_at = the latest of these timestamps


RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in (
        Resource("funnel_events", "event_id", ("occurred_at",)),
        Resource("nps_responses", "response_id", ("responded_at",)),
        Resource("support_tickets", "ticket_id", ("opened_at", "closed_at")),
    )
}


# -- preparing the data ---------------------------------------------------------------


def _served_table(resource: Resource, frame: pd.DataFrame) -> pa.Table:
    """The chunk as the API serves it, plus the hidden sort-key columns."""
    arrays: dict[str, pa.Array] = {}
    for col in SCHEMAS[resource.name].columns:
        values = frame[col.name]
        if col.type in ("timestamptz", "date"):
            arrays[col.name] = pa.array(as_text(values, col.type == "timestamptz"), pa.string())
        elif col.type in ("bigint", "integer"):
            arrays[col.name] = pa.Array.from_pandas(values.astype("Int64"))
        else:
            arrays[col.name] = pa.array(values.astype(object).where(values.notna(), None))
    updated = frame[list(resource.updated_from)].max(axis=1)
    stamps = pd.DatetimeIndex(updated)
    if stamps.tz is not None:
        stamps = stamps.tz_convert(None)
    raw = stamps.to_numpy().astype("datetime64[us]")
    arrays["updated_at"] = pa.array(as_text(updated, True), pa.string())
    arrays[_TS] = pa.array(raw.astype(np.int64))
    arrays[_ID] = pa.array(frame[resource.id_column].to_numpy(dtype=np.int64))
    # planted duplicates repeat a row; their copy number keeps the order total
    arrays[_COPY] = pa.array(
        frame.groupby(resource.id_column, sort=False).cumcount().to_numpy(dtype=np.int64)
    )
    arrays[_MONTH] = pa.array(np.datetime_as_string(raw, unit="M").astype(object), pa.string())
    return pa.table(arrays)


def _config_key(company: Company) -> dict[str, Any]:
    return {
        "version": FORMAT_VERSION,
        "config": json.loads(json.dumps(dataclasses.asdict(company.config), default=str)),
    }


def prepare_crm_data(company: Company, data_dir: Path) -> dict[str, int]:
    """Write the CRM's resources under ``data_dir``; returns the rows per resource.

    Deterministic, and quick when ``data_dir`` already holds this company's data (its
    manifest records the generator's config). The folder is replaced whole, so a
    reader sees the old data or the new, never a mix.
    """
    manifest = data_dir / MANIFEST
    key = _config_key(company)
    if manifest.exists():
        stored = json.loads(manifest.read_text())
        if stored.get("key") == key:
            return {str(k): int(v) for k, v in stored["rows"].items()}
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{data_dir.name}-", dir=data_dir.parent))
    try:
        staging = work / "staging"
        for chunk in company.chunks():
            resource = RESOURCES.get(chunk.table)
            if resource is None or chunk.frame.empty:
                continue
            folder = staging / resource.name
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(
                _served_table(resource, chunk.frame), folder / f"part-{chunk.period}.parquet"
            )
        target = work / "data"
        rows = {name: _sort_by_month(staging / name, target / name) for name in RESOURCES}
        shutil.rmtree(staging)
        (target / MANIFEST).write_text(json.dumps({"key": key, "rows": rows}, indent=1) + "\n")
        old = work / "old"
        if data_dir.exists():
            data_dir.rename(old)
        target.rename(data_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def _sort_by_month(staging: Path, target: Path) -> int:
    """Regroup the generator's chunks by month of updated_at, each sorted by the key."""
    target.mkdir(parents=True, exist_ok=True)
    if not staging.exists():
        return 0
    parts = ds.dataset(staging, format="parquet")
    months = sorted(set(parts.to_table(columns=[_MONTH]).column(_MONTH).to_pylist()))
    total = 0
    for month in months:
        table = parts.to_table(filter=pc.field(_MONTH) == month)
        table = table.sort_by([(_TS, "ascending"), (_ID, "ascending"), (_COPY, "ascending")])
        table = table.drop_columns([_MONTH])
        pq.write_table(table, target / f"{month}.parquet", row_group_size=ROW_GROUP_ROWS)
        total += table.num_rows
    return total


# -- reading pages --------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    last_key: tuple[int, int, int] | None  # of the last row, when more rows follow


def _month_of(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, UTC).strftime("%Y-%m")


class Store:
    """Pages of the prepared files, read from disk on demand."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._datasets: dict[tuple[Path, int], ds.Dataset] = {}
        self._lock = threading.Lock()

    def _dataset(self, path: Path) -> ds.Dataset:
        cache_key = (path, path.stat().st_mtime_ns)
        with self._lock:
            dataset = self._datasets.get(cache_key)
            if dataset is None:
                dataset = ds.dataset(path, format="parquet")
                self._datasets[cache_key] = dataset
            return dataset

    def months(self, resource: str) -> list[Path]:
        return sorted((self.data_dir / resource).glob("????-??.parquet"))

    def page(
        self,
        resource: str,
        since: int | None,
        until: int | None,
        after: tuple[int, int, int] | None,
        limit: int,
    ) -> Page:
        """Up to ``limit`` rows with since < updated_at <= until, after the key ``after``."""
        ts = pc.field(_TS)
        condition: Any = None

        def both(a: Any, b: Any) -> Any:
            return b if a is None else a & b

        lower = since
        if since is not None:
            condition = both(condition, ts > since)
        if until is not None:
            condition = both(condition, ts <= until)
        if after is not None:
            a_ts, a_id, a_copy = after
            ident, copy = pc.field(_ID), pc.field(_COPY)
            condition = both(
                condition,
                (ts > a_ts)
                | ((ts == a_ts) & ((ident > a_id) | ((ident == a_id) & (copy > a_copy)))),
            )
            lower = a_ts if lower is None else max(lower, a_ts)
        first_month = _month_of(lower) if lower is not None else ""
        last_month = _month_of(until) if until is not None else "9999-99"
        tables: list[pa.Table] = []
        found = 0
        for path in self.months(resource):
            if path.stem < first_month:
                continue
            if path.stem > last_month or found > limit:
                break
            scanner = self._dataset(path).scanner(
                filter=condition, use_threads=False, batch_size=limit + 1
            )
            table = scanner.head(limit + 1 - found)
            tables.append(table)
            found += table.num_rows
        if not tables:
            return Page([], None)
        result = pa.concat_tables(tables)
        more = result.num_rows > limit
        result = result.slice(0, limit)
        last_key = None
        if more:
            last = result.slice(limit - 1, 1)
            last_key = (
                int(last.column(_TS)[0].as_py()),
                int(last.column(_ID)[0].as_py()),
                int(last.column(_COPY)[0].as_py()),
            )
        visible = [name for name in result.column_names if name not in _HIDDEN]
        return Page(result.select(visible).to_pylist(), last_key)


# -- the web application --------------------------------------------------------------


class TokenBucket:
    """``rate`` requests per second on average, bursts of ``capacity``; rate <= 0: no limit."""

    def __init__(self, rate: float, capacity: float | None = None) -> None:
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """0 if a request may go now, else the seconds until it may."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


@dataclass
class Stats:
    """What the app answered, for tests and the log."""

    requests: int = 0
    served: int = 0
    unauthorized: int = 0
    throttled: int = 0
    injected_failures: int = 0


class BadRequest(ValueError):
    pass


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": code, "message": message}, status, headers=headers)


def _timestamp(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name}={raw!r} is not an ISO 8601 timestamp") from None
    if value.tzinfo is None:
        raise BadRequest(f"{name}={raw!r} needs a time zone, e.g. 2024-03-05T14:03:11Z")
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def encode_cursor(resource: str, key: tuple[int, int, int]) -> str:
    raw = json.dumps([resource, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(resource: str, cursor: str) -> tuple[int, int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        raise BadRequest("cursor is not one this API issued") from None
    if (
        not isinstance(value, list)
        or len(value) != 4
        or not all(isinstance(v, int) for v in value[1:])
    ):
        raise BadRequest("cursor is not one this API issued")
    if value[0] != resource:
        raise BadRequest(f"cursor belongs to {value[0]!r}, not to {resource!r}")
    return int(value[1]), int(value[2]), int(value[3])


def create_app(
    data_dir: Path,
    token: str,
    *,
    rate_limit_per_second: float = 20,
    page_size_max: int = 1000,
    burst: float | None = None,
    fail_first_n_requests: int = 0,
) -> Starlette:
    """The CRM API over ``data_dir`` (written by ``prepare_crm_data``)."""
    if not token:
        raise ValueError("the CRM API needs a token")
    store = Store(data_dir)
    bucket = TokenBucket(rate_limit_per_second, burst)
    stats = Stats()
    expected = f"Bearer {token}".encode()

    async def health(request: Request) -> Response:
        ready = (data_dir / MANIFEST).exists()
        return JSONResponse(
            {"status": "ok" if ready else "no data", "resources": sorted(RESOURCES)},
            200 if ready else 503,
        )

    async def list_resource(request: Request) -> Response:
        stats.requests += 1
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            stats.unauthorized += 1
            return _error(
                401,
                "unauthorized",
                "missing or wrong bearer token",
                {"WWW-Authenticate": 'Bearer realm="crm"'},
            )
        if stats.injected_failures < fail_first_n_requests:
            stats.injected_failures += 1
            return _error(
                503,
                "unavailable",
                f"injected failure {stats.injected_failures} of {fail_first_n_requests}",
            )
        wait = bucket.take()
        if wait > 0:
            stats.throttled += 1
            seconds = max(1, math.ceil(wait))
            return _error(
                429,
                "rate_limited",
                f"more than {rate_limit_per_second:g} requests per second; retry after {seconds} s",
                {"Retry-After": str(seconds)},
            )
        resource = request.path_params["resource"]
        if resource not in RESOURCES:
            return _error(
                404,
                "not_found",
                f"unknown resource {resource!r}; the resources are {', '.join(RESOURCES)}",
            )
        try:
            since = _timestamp(request, "updated_since")
            until = _timestamp(request, "updated_until")
            cursor = request.query_params.get("cursor")
            after = decode_cursor(resource, cursor) if cursor else None
            raw_limit = request.query_params.get("limit", str(DEFAULT_LIMIT))
            try:
                limit = int(raw_limit)
            except ValueError:
                raise BadRequest(f"limit={raw_limit!r} is not a whole number") from None
            if limit < 1:
                raise BadRequest(f"limit must be at least 1, not {limit}")
        except BadRequest as exc:
            return _error(400, "bad_request", str(exc))
        limit = min(limit, page_size_max)
        page = await run_in_threadpool(store.page, resource, since, until, after, limit)
        stats.served += 1
        next_cursor = encode_cursor(resource, page.last_key) if page.last_key else None
        return JSONResponse({"data": page.rows, "next_cursor": next_cursor})

    app = Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/v1/{resource}", list_resource, methods=["GET"]),
        ]
    )
    app.state.stats = stats
    app.state.bucket = bucket
    return app


# -- as a background service ----------------------------------------------------------


def crm_service_command(
    host: str, port: int, data_dir: Path, *, rate_limit_per_second: float = 20
) -> list[str]:
    """The command that serves the CRM API; it reads the token from METRICSTACK_CRM_TOKEN."""
    return [
        sys.executable,
        "-m",
        "metricstack.sample_company.systems.crm_api",
        "--host",
        host,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--rate-limit",
        f"{rate_limit_per_second:g}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(description="Serve the sample company's CRM API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--rate-limit", type=float, default=20.0)
    parser.add_argument("--page-size-max", type=int, default=1000)
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        print(f"set {TOKEN_ENV} to the token clients must send", file=sys.stderr)
        return 2
    app = create_app(
        args.data_dir,
        token,
        rate_limit_per_second=args.rate_limit,
        page_size_max=args.page_size_max,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
