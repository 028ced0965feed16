"""The sample company's S3 drops and the S3 extractor against moto's S3 server, run by
the same command the stack uses (``moto_service_command``) on a free port."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from support import free_port

from metricstack.sample_company.config import CompanyConfig
from metricstack.sample_company.generator import generate
from metricstack.sample_company.systems.s3_drops import moto_service_command, publish_daily_drops
from metricstack.sources.errors import SourceDataError, TransientSourceError
from metricstack.sources.s3 import day_of, download, keys_between, list_new_objects, s3_client

BUCKET = "metricstack-drops"
CONFIG = CompanyConfig(orders=300, years=1)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        moto_service_command("127.0.0.1", port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, "moto_server exited"
            assert time.monotonic() < deadline, "moto_server did not listen in 30 s"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def client(endpoint: str) -> Any:
    return s3_client(endpoint, "eu-west-1", "testing", "testing")


@pytest.fixture(scope="module")
def published(client: Any) -> tuple[list[str], dict[str, pd.DataFrame]]:
    company = generate(CONFIG)
    keys = publish_daily_drops(company, client, BUCKET)
    frames = {
        t: f for t, f in company.collect().items() if t in ("marketing_spend", "web_sessions")
    }
    return keys, frames


def _etags(client: Any) -> dict[str, tuple[str, Any]]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return {o["Key"]: (o["ETag"], o["LastModified"]) for p in pages for o in p.get("Contents", [])}


def test_one_object_per_table_and_day(published: tuple[list[str], dict[str, pd.DataFrame]]) -> None:
    keys, frames = published
    spend = [k for k in keys if k.startswith("marketing_spend/")]
    sessions = [k for k in keys if k.startswith("web_sessions/")]
    assert len(spend) + len(sessions) == len(keys)
    assert len(spend) == frames["marketing_spend"]["spend_date"].nunique() == 365
    assert spend[0] == "marketing_spend/dt=2023-01-01/marketing_spend.csv"
    assert spend[-1] == "marketing_spend/dt=2023-12-31/marketing_spend.csv"
    session_days = (frames["web_sessions"]["session_id"] // 1_000_000).nunique()
    assert len(sessions) == session_days
    assert all(k.endswith("/web_sessions.jsonl") for k in sessions)


def test_listing_after_a_mark_gives_only_later_days(
    client: Any, published: tuple[list[str], dict[str, pd.DataFrame]]
) -> None:
    spend = [k for k in published[0] if k.startswith("marketing_spend/")]
    assert list_new_objects(client, BUCKET, "marketing_spend", after=None) == spend
    mark = "marketing_spend/dt=2023-06-30/marketing_spend.csv"
    later = list_new_objects(client, BUCKET, "marketing_spend/", after=mark)
    assert later == spend[spend.index(mark) + 1 :]
    assert [day_of(k) for k in later[:2]] == [date(2023, 7, 1), date(2023, 7, 2)]
    assert list_new_objects(client, BUCKET, "marketing_spend/", after=spend[-1]) == []


def test_keys_between_gives_the_days_of_a_backfill(
    client: Any, published: tuple[list[str], dict[str, pd.DataFrame]]
) -> None:
    keys = keys_between(client, BUCKET, "web_sessions/", date(2023, 3, 1), date(2023, 3, 31))
    days = [d for d in map(day_of, keys) if d is not None]
    assert len(days) == len(keys) and days == sorted(days)
    assert date(2023, 3, 1) <= days[0] and days[-1] <= date(2023, 3, 31)
    march = [k for k in published[0] if k.startswith("web_sessions/dt=2023-03-")]
    assert keys == march and len(keys) > 20
    one = keys_between(client, BUCKET, "marketing_spend", date(2023, 2, 28), date(2023, 2, 28))
    assert one == ["marketing_spend/dt=2023-02-28/marketing_spend.csv"]
    with pytest.raises(ValueError, match="before start"):
        keys_between(client, BUCKET, "marketing_spend", date(2023, 3, 2), date(2023, 3, 1))


def test_publishing_again_changes_nothing(
    client: Any, published: tuple[list[str], dict[str, pd.DataFrame]]
) -> None:
    before = _etags(client)
    keys = publish_daily_drops(generate(CONFIG), client, BUCKET)
    assert keys == published[0]
    assert _etags(client) == before  # same ETags, and not even re-uploaded (LastModified)


def test_download_gives_the_objects_bytes_and_rows(
    client: Any, published: tuple[list[str], dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    keys, frames = published
    key = "marketing_spend/dt=2023-05-17/marketing_spend.csv"
    extract = download(client, BUCKET, key, tmp_path / key)
    body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert extract.path.read_bytes() == body and extract.bytes == len(body)
    spend = frames["marketing_spend"]
    day = spend[spend["spend_date"] == pd.Timestamp("2023-05-17")]
    assert extract.rows == len(day) > 0 and extract.max_key == key
    loaded = pd.read_csv(io.BytesIO(body))
    assert list(loaded.columns) == list(spend.columns)
    assert loaded["spend"].sum() == pytest.approx(day["spend"].sum(), abs=0.01)

    key = next(k for k in keys if k.startswith("web_sessions/dt=2023-05-"))
    extract = download(client, BUCKET, key, tmp_path / "sessions.jsonl")
    records = [json.loads(line) for line in extract.path.read_text().splitlines()]
    assert extract.rows == len(records) > 0
    ids = frames["web_sessions"]["session_id"]
    assert sorted(r["session_id"] for r in records) == sorted(
        ids[ids // 1_000_000 == int(key.split("dt=")[1][:10].replace("-", ""))]
    )
    assert not list(tmp_path.rglob("*.part"))


def test_a_missing_key_is_a_data_error_naming_it(client: Any, tmp_path: Path) -> None:
    key = "marketing_spend/dt=1999-01-01/marketing_spend.csv"
    with pytest.raises(SourceDataError, match=f"s3://{BUCKET}/{key}"):
        download(client, BUCKET, key, tmp_path / "x.csv")
    with pytest.raises(SourceDataError, match="s3://no-such-bucket/"):
        list_new_objects(client, "no-such-bucket", "marketing_spend/", after=None)
    assert not list(tmp_path.iterdir())


def test_an_unreachable_endpoint_is_a_transient_failure() -> None:
    down = s3_client(f"http://127.0.0.1:{free_port()}", "eu-west-1", "k", "s", max_attempts=1)
    with pytest.raises(TransientSourceError, match=f"listing s3://{BUCKET}/marketing_spend/"):
        list_new_objects(down, BUCKET, "marketing_spend/", after=None)
