"""The sample company's S3 drops: marketing spend and web sessions, one object per day.

    client = s3_client(endpoint_url, region, key, secret)     # metricstack.sources.s3
    keys = publish_daily_drops(company, client, bucket)

    marketing_spend/dt=2024-03-05/marketing_spend.csv      CSV with a header
    web_sessions/dt=2024-03-05/web_sessions.jsonl          JSON lines

Values are written as ``writers.py`` writes text files (ISO 8601 dates and UTC
timestamps, money with two decimals, empty or null when missing), planted dirt
included: duplicated sessions and ``started_at`` in a local format. Publishing is
idempotent: the same company gives the same bytes under the same keys, and an object
whose ETag already is the MD5 of its bytes is not uploaded again.

Locally the bucket lives in moto's S3 server (``moto_service_command``), which keeps
everything in memory: publish again after it restarts.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metricstack.sample_company.generator import Company
from metricstack.sample_company.writers import text_frame

DROP_TABLES = ("marketing_spend", "web_sessions")
UPLOAD_THREADS = 8
UPLOAD_WINDOW = 64


def _csv(table: str, frame: pd.DataFrame) -> bytes:
    text = text_frame(table, frame)
    return str(text.to_csv(index=False, lineterminator="\n")).encode("utf-8")


def _jsonl(table: str, frame: pd.DataFrame) -> bytes:
    text = text_frame(table, frame)
    for column in text.columns:  # numbers stay numbers in JSON, as writers.py does
        if pd.api.types.is_float_dtype(frame[column]):
            text[column] = frame[column].to_numpy(dtype=float)
    body = str(text.to_json(orient="records", lines=True, force_ascii=False, double_precision=2))
    return (body.rstrip("\n") + "\n").encode("utf-8") if len(text) else b""


# table -> (file name, content type, serialiser, the day of each row as yyyy-mm-dd)
_LAYOUT: dict[
    str,
    tuple[str, str, Callable[[str, pd.DataFrame], bytes], Callable[[pd.DataFrame], np.ndarray]],
] = {
    "marketing_spend": (
        "marketing_spend.csv",
        "text/csv",
        _csv,
        lambda f: np.datetime_as_string(f["spend_date"].to_numpy().astype("datetime64[D]")),
    ),
    "web_sessions": (
        "web_sessions.jsonl",
        "application/x-ndjson",
        _jsonl,
        # session_id = yyyymmdd * 1e6 + n (started_at may be malformed on purpose)
        lambda f: np.array(
            [
                f"{d // 10000:04d}-{d // 100 % 100:02d}-{d % 100:02d}"
                for d in f["session_id"] // 1_000_000
            ]
        ),
    ),
}


def drop_key(table: str, day: str, prefix: str = "") -> str:
    """``<prefix>/<table>/dt=<day>/<file>``."""
    folder = prefix if not prefix or prefix.endswith("/") else f"{prefix}/"
    return f"{folder}{table}/dt={day}/{_LAYOUT[table][0]}"


def daily_drops(company: Company) -> Iterator[tuple[str, str, bytes]]:
    """(table, day, file bytes) of every day that has rows, day by day per table."""
    for chunk in company.chunks():
        if chunk.table not in _LAYOUT or chunk.frame.empty:
            continue
        _, _, serialise, days_of = _LAYOUT[chunk.table]
        days = days_of(chunk.frame)
        for day in np.unique(days):
            rows = chunk.frame[days == day]
            yield chunk.table, str(day), serialise(chunk.table, rows)


def _ensure_bucket(s3: Any, bucket: str) -> None:
    from botocore.exceptions import ClientError  # type: ignore[import-untyped,unused-ignore]

    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status != 404:
            raise
    region = s3.meta.region_name
    if region and region != "us-east-1":
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    else:
        s3.create_bucket(Bucket=bucket)


def _etags(s3: Any, bucket: str, prefix: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found[str(item["Key"])] = str(item["ETag"]).strip('"')
    return found


def publish_daily_drops(
    company: Company, s3_client: Any, bucket: str, prefix: str = ""
) -> list[str]:
    """Put one object per table and day into ``bucket`` (created if missing); the keys.

    Objects already holding the same bytes are left alone, so publishing twice uploads
    nothing the second time.
    """
    _ensure_bucket(s3_client, bucket)
    folder = prefix if not prefix or prefix.endswith("/") else f"{prefix}/"
    existing: dict[str, str] = {}
    for table in DROP_TABLES:
        existing.update(_etags(s3_client, bucket, f"{folder}{table}/"))
    keys: list[str] = []
    pending: list[Future[Any]] = []
    # uploads overlap (boto3 clients are thread-safe); at most UPLOAD_WINDOW bodies in memory
    with ThreadPoolExecutor(max_workers=UPLOAD_THREADS) as pool:
        for table, day, body in daily_drops(company):
            key = drop_key(table, day, prefix)
            keys.append(key)
            if existing.get(key) == hashlib.md5(body, usedforsecurity=False).hexdigest():
                continue
            pending.append(
                pool.submit(
                    s3_client.put_object,
                    Bucket=bucket,
                    Key=key,
                    Body=body,
                    ContentType=_LAYOUT[table][1],
                )
            )
            if len(pending) >= UPLOAD_WINDOW:
                pending.pop(0).result()
        for upload in pending:
            upload.result()
    return sorted(keys)


def moto_service_command(host: str, port: int) -> list[str]:
    """moto's S3 server (the ``moto_server`` script of this environment) on host:port."""
    script = Path(sys.executable).parent / "moto_server"
    found = str(script) if script.exists() else shutil.which("moto_server")
    if not found:
        raise RuntimeError(f"moto_server is not installed next to {sys.executable}")
    return [found, "-H", host, "-p", str(port)]
