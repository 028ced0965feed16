"""Incremental extraction from a paginated JSON REST API, such as the CRM's, to JSON lines.

    extract = extract_endpoint(base_url, "funnel_events", token, path, since=mark)
    extract.rows, extract.max_key  # the next mark: the largest updated_at extracted

The endpoint is ``GET {base_url}/v1/{resource}?updated_since=&updated_until=&cursor=&
limit=`` answering ``{"data": [...], "next_cursor": ...}`` with Bearer token auth.
``since`` is exclusive and ``until`` inclusive, so consecutive windows (mark, now] never
read a row twice; with both given, a re-run reads the same rows again (a backfill).

Failures are sorted as the pipeline needs them: ``TransientSourceError`` (connection
errors, timeouts, 5xx: retried here with exponential backoff, and then worth a task
retry) and ``SourceDataError`` (4xx, bad JSON, a broken cursor: retrying cannot help).
429 is neither: the extractor waits ``Retry-After`` and goes on. Every message names the
request (URL, resource, page), never the token. Pages are written to the file as they
arrive, so memory holds one page; the file appears only when the extraction succeeded.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from metricstack.sources.errors import SourceDataError, TransientSourceError

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


@dataclass(frozen=True)
class Extract:
    """A file written by an extractor, and what it holds."""

    path: Path
    rows: int
    bytes: int
    pages: int
    max_key: str | None  # the new high-water mark (None when nothing new)
    retries: int = 0  # transient failures retried
    throttled: int = 0  # 429 answers waited out


def _redact(url: str) -> str:
    """The URL without user info (credentials never go into messages)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def iso_utc(value: datetime) -> str:
    """``2024-03-05T14:03:11Z`` (microseconds when there are any)."""
    if value.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone; marks must be timezone-aware")
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
    return f"{text}Z"


def _describe(response: httpx.Response) -> str:
    """The error the API gave, or the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return repr(response.text[:200])
    if isinstance(body, Mapping) and "error" in body:
        message = body.get("message")
        return f"{body['error']}: {message}" if message else str(body["error"])
    return repr(response.text[:200])


def _retry_after(response: httpx.Response, default: float) -> float:
    raw = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(raw))
    except ValueError:
        return default  # an HTTP date or nothing: wait as for a transient error


def extract_endpoint(
    base_url: str,
    resource: str,
    token: str,
    destination: Path,
    *,
    since: datetime | None,
    until: datetime | None = None,
    page_size: int = 500,
    client: httpx.Client | None = None,
    key_field: str = "updated_at",
    max_retries: int = 5,
    backoff_seconds: float = 0.5,
    max_backoff_seconds: float = 30.0,
    max_retry_after_seconds: float = 120.0,
    max_throttled_in_a_row: int = 50,
    sleep: Callable[[float], None] = time.sleep,
) -> Extract:
    """Every record of ``resource`` with since < key_field <= until, as JSON lines.

    Follows ``next_cursor`` to the end. A 429 waits ``Retry-After`` (at most
    ``max_retry_after_seconds``) and asks again, up to ``max_throttled_in_a_row`` times
    for one page; 5xx, timeouts and connection errors are retried ``max_retries`` times
    after ``backoff_seconds`` doubling up to ``max_backoff_seconds``. ``max_key`` is the
    largest ``key_field`` read (as the API wrote it), the next ``since``.
    """
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, not {page_size}")
    url = f"{base_url.rstrip('/')}/v1/{resource}"
    shown = _redact(url)
    params: dict[str, str] = {"limit": str(page_size)}
    if since is not None:
        params["updated_since"] = iso_utc(since)
    if until is not None:
        params["updated_until"] = iso_utc(until)
    window = ", ".join(f"{k}={v}" for k, v in params.items() if k != "limit") or "everything"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    own_client = client is None
    http = client if client is not None else httpx.Client(timeout=DEFAULT_TIMEOUT)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f"{destination.name}.part")
    rows = pages = retries = throttled = 0
    max_key: str | None = None
    max_stamp: datetime | None = None
    cursor: str | None = None
    seen_cursors: set[str] = set()

    def fetch(page: int) -> dict[str, Any]:
        """One page, after whatever waiting and retrying it takes."""
        nonlocal retries, throttled
        query = dict(params, cursor=cursor) if cursor else params
        where = f"GET {shown} ({window}), page {page}"
        attempt = in_a_row = 0
        while True:
            failure: str
            try:
                response = http.get(url, params=query, headers=headers)
            except httpx.TransportError as exc:  # connect, read, timeouts, protocol
                failure = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status == 429:
                    throttled += 1
                    in_a_row += 1
                    if in_a_row > max_throttled_in_a_row:
                        raise TransientSourceError(
                            f"{where}: still rate limited (429) after {in_a_row - 1} waits"
                        )
                    wait = _retry_after(response, backoff_seconds)
                    sleep(min(wait, max_retry_after_seconds))
                    continue
                if status >= 500:
                    failure = f"HTTP {status} {_describe(response)}"
                elif status >= 400:
                    raise SourceDataError(f"{where}: HTTP {status} {_describe(response)}")
                elif status != 200:
                    raise SourceDataError(f"{where}: unexpected HTTP {status}")
                else:
                    return _parse_page(response, where)
            if attempt >= max_retries:
                raise TransientSourceError(f"{where}: failed {attempt + 1} times, last: {failure}")
            retries += 1
            sleep(min(backoff_seconds * 2**attempt, max_backoff_seconds))
            attempt += 1

    try:
        with partial.open("w", encoding="utf-8", newline="\n") as out:
            while True:
                body = fetch(pages + 1)
                pages += 1
                where = f"GET {shown} ({window}), page {pages}"
                for record in body["data"]:
                    if not isinstance(record, dict):
                        raise SourceDataError(f"{where}: a record is not a JSON object")
                    value = record.get(key_field)
                    if not isinstance(value, str):
                        raise SourceDataError(
                            f"{where}: record without text field {key_field!r}: "
                            f"{json.dumps(record)[:200]}"
                        )
                    try:
                        stamp = datetime.fromisoformat(value)
                    except ValueError:
                        raise SourceDataError(
                            f"{where}: {key_field}={value!r} is not an ISO 8601 timestamp"
                        ) from None
                    if max_stamp is None or stamp > max_stamp:
                        max_stamp, max_key = stamp, value
                    out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
                    out.write("\n")
                rows += len(body["data"])
                cursor = body["next_cursor"]
                if cursor is None:
                    break
                if cursor in seen_cursors:
                    raise SourceDataError(f"{where}: the API repeated cursor {cursor!r}")
                seen_cursors.add(cursor)
        partial.replace(destination)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    finally:
        if own_client:
            http.close()
    return Extract(
        path=destination,
        rows=rows,
        bytes=destination.stat().st_size,
        pages=pages,
        max_key=max_key,
        retries=retries,
        throttled=throttled,
    )


def _parse_page(response: httpx.Response, where: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        kind = response.headers.get("content-type", "no content type")
        raise SourceDataError(
            f"{where}: the answer is not JSON ({kind}): {response.text[:200]!r}"
        ) from None
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise SourceDataError(
            f'{where}: expected {{"data": [...], "next_cursor": ...}}, got {response.text[:200]!r}'
        )
    cursor = body.get("next_cursor")
    if cursor is not None and (not isinstance(cursor, str) or not cursor):
        raise SourceDataError(f"{where}: next_cursor is {cursor!r}, not text or null")
    return {"data": body["data"], "next_cursor": cursor}
