"""Incremental extraction from an S3 bucket of daily drops (``<table>/dt=YYYY-MM-DD/<file>``).

    client = s3_client(endpoint_url, region, access_key, secret_key)
    for key in list_new_objects(client, bucket, "marketing_spend/", after=mark):
        extract = download(client, bucket, key, landing / key)   # extract.max_key == key

With the ``dt=YYYY-MM-DD`` layout the order of keys is the order of days, so the mark is
simply the last key loaded, and S3's own ``StartAfter`` lists what came after it.
``keys_between`` lists a backfill's days. The client is plain boto3: without an
``endpoint_url`` it talks to AWS with the usual credential chain (environment, profile,
instance role) unless keys are given; with one it talks to a local S3 such as moto's.

botocore retries throttling, 5xx and connection errors itself (standard mode, with
exponential backoff); what is left is raised as ``TransientSourceError`` (the endpoint is
down) or ``SourceDataError`` (no such bucket or key, access denied, a corrupt download),
each naming the ``s3://bucket/key``.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from metricstack.sources.errors import ExtractError, SourceDataError, TransientSourceError
from metricstack.sources.http_api import Extract

_DAY = re.compile(r"(?:^|/)dt=(\d{4}-\d{2}-\d{2})/")
_PERMANENT_CODES = {
    "NoSuchBucket",
    "NoSuchKey",
    "404",
    "AccessDenied",
    "403",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AllAccessDisabled",
    "InvalidBucketName",
}


class S3Client(Protocol):
    """The part of a boto3 S3 client this module uses."""

    def get_paginator(self, operation_name: str) -> Any: ...
    def download_file(self, Bucket: str, Key: str, Filename: str) -> None: ...
    def head_object(self, **kwargs: Any) -> dict[str, Any]: ...


def s3_client(
    endpoint_url: str | None,
    region: str,
    access_key: str | None,
    secret_key: str | None,
    *,
    max_attempts: int = 5,
) -> Any:
    """A boto3 S3 client: AWS when ``endpoint_url`` is None, else that endpoint.

    Keys left None use boto3's credential chain. A custom endpoint gets path-style
    addressing (``http://host:port/bucket/key``), which local S3 servers need.
    """
    import boto3  # type: ignore[import-untyped,unused-ignore]  # boto3 ships no type hints
    from botocore.config import Config  # type: ignore[import-untyped,unused-ignore]

    config = Config(
        region_name=region,
        retries={"max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
        s3={"addressing_style": "path"} if endpoint_url else {},
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=config,
    )


def _folder(prefix: str) -> str:
    return prefix if not prefix or prefix.endswith("/") else f"{prefix}/"


def _failure(exc: Exception, what: str) -> ExtractError:
    """The error to raise for a boto3/botocore exception about ``what``."""
    from botocore.exceptions import (  # type: ignore[import-untyped,unused-ignore]
        BotoCoreError,
        ClientError,
    )

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = f"{what}: {code or status} {error.get('Message', '')}".rstrip()
        if code in _PERMANENT_CODES or (isinstance(status, int) and 400 <= status < 500):
            return SourceDataError(message)
        return TransientSourceError(message)
    if isinstance(exc, BotoCoreError):  # connection refused, timeouts, after retries
        return TransientSourceError(f"{what}: {type(exc).__name__}: {exc}")
    return ExtractError(f"{what}: {type(exc).__name__}: {exc}")


def _keys(client: S3Client, bucket: str, prefix: str, start_after: str | None) -> Iterator[str]:
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if start_after:
        kwargs["StartAfter"] = start_after
    where = f"listing s3://{bucket}/{prefix}" + (f" after {start_after}" if start_after else "")
    try:
        for page in client.get_paginator("list_objects_v2").paginate(**kwargs):
            for item in page.get("Contents", []):
                key = str(item["Key"])
                if not key.endswith("/"):  # folder markers some tools create
                    yield key
    except ExtractError:
        raise
    except Exception as exc:
        raise _failure(exc, where) from exc


def list_new_objects(client: S3Client, bucket: str, prefix: str, *, after: str | None) -> list[str]:
    """Keys under the folder ``prefix`` that sort after ``after`` (the last key loaded)."""
    return sorted(_keys(client, bucket, _folder(prefix), after))


def keys_between(client: S3Client, bucket: str, prefix: str, start: date, end: date) -> list[str]:
    """Keys under ``prefix`` whose ``dt=`` day is in [start, end], both included."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    folder = _folder(prefix)
    keys: list[str] = []
    # keys of `start` sort after "<folder>dt=<the day before>/~": "~" sorts after ASCII names
    previous = f"{folder}dt={(start - timedelta(days=1)).isoformat()}/~"
    for key in _keys(client, bucket, folder, previous):
        match = _DAY.search(key[len(folder) :])
        if match is None:
            continue
        day = date.fromisoformat(match.group(1))
        if day > end:
            break
        if day >= start:
            keys.append(key)
    return sorted(keys)


def day_of(key: str) -> date | None:
    """The ``dt=`` day of a key, if it has one."""
    match = _DAY.search(key)
    return date.fromisoformat(match.group(1)) if match else None


def _count_rows(path: Path, suffix: str) -> int:
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8", errors="replace") as handle:
            return max(0, sum(1 for _ in csv.reader(handle)) - 1)  # minus the header
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(client: S3Client, bucket: str, key: str, destination: Path) -> Extract:
    """The object as a file (written whole or not at all); ``max_key`` is the key.

    Rows are CSV records after the header for a ``.csv`` key, non-empty lines otherwise. A
    single-part upload's ETag is its MD5, and the download is checked against it.
    """
    where = f"s3://{bucket}/{key}"
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f"{destination.name}.part")
    try:
        try:
            head = client.head_object(Bucket=bucket, Key=key)
            client.download_file(Bucket=bucket, Key=key, Filename=str(partial))
        except Exception as exc:
            raise _failure(exc, f"downloading {where}") from exc
        etag = str(head.get("ETag", "")).strip('"')
        if etag and "-" not in etag and _md5(partial) != etag:
            raise TransientSourceError(f"downloading {where}: the file's MD5 is not its ETag")
        rows = _count_rows(partial, PurePosixPath(key).suffix or destination.suffix)
        partial.replace(destination)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    return Extract(
        path=destination,
        rows=rows,
        bytes=destination.stat().st_size,
        pages=1,
        max_key=key,
    )
