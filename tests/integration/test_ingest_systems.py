"""Every kind of declared source ingested by the tasks' own code, against real systems.

The shop database (PostgreSQL, and MariaDB when it answers), the CRM API and moto's S3
run as the stack runs them; the landing folder holds the generator's files. Expected
rows come from the generator's frames (distinct keys, minus the rows its truth says
are malformed), not from the loader.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
from shop_sample import CUTOFF, updated_at
from source_services import serve_crm, serve_s3
from support import new_database

from metricstack.config import PROJECT_DIR, Settings
from metricstack.loading.declarations import Source, SourceSystem, load_systems
from metricstack.loading.files import RejectedFiles
from metricstack.loading.systems import Endpoint, Window, ingest_object
from metricstack.sample_company.generator import Company
from metricstack.sample_company.systems.crm_api import prepare_crm_data
from metricstack.sample_company.systems.landing import write_landing_files
from metricstack.sample_company.systems.s3_drops import publish_daily_drops
from metricstack.sample_company.systems.shop_db import seed_shop_database
from metricstack.sources.s3 import s3_client

SYSTEMS = {s.name: s for s in load_systems(PROJECT_DIR / "dags" / "sources")}
TOKEN = "ingest-test-token"


def _object(system: str, name: str) -> tuple[SourceSystem, Source]:
    found = SYSTEMS[system]
    return found, next(s for s in found.objects if s.object == name)


def _ingest(
    settings: Settings, system: str, name: str, endpoint: Endpoint, window: Window | None = None
) -> list[dict[str, Any]]:
    found, source = _object(system, name)
    return ingest_object(settings, found, source, endpoint, window or Window(), "test-run")


def _fingerprint(settings: Settings, source: Source) -> tuple[int, str]:
    """Rows and a checksum of the raw table's business columns (not the load columns)."""
    columns = ", ".join(source.column_names)
    keys = ", ".join(source.primary_key)
    query = (
        f"select count(*), coalesce(md5(string_agg(t::text, '|' order by {keys})), '') "
        f"from (select {columns} from {source.schema}.{source.table}) t"
    )
    with psycopg.connect(settings.role_url("transformer")) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def _mark(settings: Settings, source: Source) -> str | None:
    with psycopg.connect(settings.role_url("transformer")) as conn:
        row = conn.execute(
            "select mark from audit.watermarks where source = %s", (source.name,)
        ).fetchone()
    return None if row is None else str(row[0])


def _distinct(
    frame: pd.DataFrame, source: Source, drop: list[tuple[int | str, ...]] | None = None
) -> int:
    keys = set(map(tuple, frame[list(source.primary_key)].itertuples(index=False)))
    return len(keys - set(drop or []))


@pytest.fixture
def shop_url(pg_server: str) -> Iterator[str]:
    with new_database(pg_server) as url:
        yield url


def test_database_tables_incrementally_then_rerun_and_backfill(
    warehouse: Settings, shop_url: str, company: Company, tables: dict[str, pd.DataFrame]
) -> None:
    endpoint = Endpoint(url=shop_url)
    _, orders = _object("shop", "orders")
    stamps = updated_at(company, tables, "orders")
    cutoff = pd.Timestamp(CUTOFF, tz="UTC")

    seed_shop_database(shop_url, company, until=CUTOFF)
    _ingest(warehouse, "shop", "orders", endpoint)
    before = tables["orders"][(stamps < cutoff).to_numpy()]
    assert _fingerprint(warehouse, orders)[0] == _distinct(before, orders)
    assert datetime.fromisoformat(_mark(warehouse, orders) or "") == stamps[stamps < cutoff].max()

    # the shop goes on: the next run reads what came after the mark, and the declared
    # lookback before it again (merged on the key: read twice, loaded once)
    seed_shop_database(shop_url, company)
    [second] = _ingest(warehouse, "shop", "orders", endpoint)
    mark = stamps[stamps < cutoff].max()
    lookback = pd.Timedelta(minutes=SYSTEMS["shop"].lookback_minutes)
    again = int(((stamps > mark - lookback) & (stamps <= mark)).sum())
    assert second["rows_read"] == len(tables["orders"]) - len(before) + again
    rows, checksum = _fingerprint(warehouse, orders)
    assert rows == _distinct(tables["orders"], orders)
    mark = _mark(warehouse, orders)
    assert datetime.fromisoformat(mark or "") == stamps.max()

    # a re-run and a backfill of a month already loaded change nothing, mark included
    _ingest(warehouse, "shop", "orders", endpoint)
    [backfill] = _ingest(
        warehouse, "shop", "orders", endpoint, Window.backfill(date(2023, 3, 1), date(2023, 3, 31))
    )
    march = stamps[(stamps >= "2023-03-01") & (stamps < "2023-04-01")]
    assert backfill["rows_read"] == len(march)
    assert _fingerprint(warehouse, orders) == (rows, checksum)
    assert _mark(warehouse, orders) == mark

    # every other table of the shop lands whole, each key once
    for source in SYSTEMS["shop"].objects:
        if source.object != "orders":
            ingest_object(warehouse, SYSTEMS["shop"], source, endpoint, Window(), "test-run")
        assert _fingerprint(warehouse, source)[0] == _distinct(tables[source.object], source)


def test_the_same_declaration_reads_the_shop_from_mysql(
    warehouse: Settings, mysql_database: str, company: Company, tables: dict[str, pd.DataFrame]
) -> None:
    seed_shop_database(mysql_database, company)
    _ingest(warehouse, "shop", "order_lines", Endpoint(url=mysql_database))
    expected = tables["order_lines"].drop_duplicates(["order_id", "line_number"], keep="last")
    with psycopg.connect(warehouse.role_url("transformer")) as conn:
        got = conn.execute(
            "select order_id, line_number, quantity, amount::text from raw.shop_order_lines "
            "order by 1, 2"
        ).fetchall()
    want = sorted(
        (int(o), int(n), int(q), f"{a:.2f}")
        for o, n, q, a in expected[["order_id", "line_number", "quantity", "amount"]].to_numpy()
    )
    assert got == want


def test_api_resources_incrementally_and_rerun(
    warehouse: Settings, company: Company, tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    prepare_crm_data(company, tmp_path / "crm")
    cutoff = datetime(2023, 7, 1, tzinfo=UTC)
    with serve_crm(tmp_path / "crm", TOKEN, tmp_path / "crm.log") as url:
        endpoint = Endpoint(url=url, token=TOKEN)
        for name in ("nps_responses", "funnel_events", "support_tickets"):
            _, source = _object("crm", name)
            [first] = _ingest(warehouse, "crm", name, endpoint, Window.scheduled(cutoff))
            [second] = _ingest(warehouse, "crm", name, endpoint)
            assert first["rows_read"] > 0 and second["rows_read"] > 0
            assert first["rows_read"] + second["rows_read"] == len(tables[name]), name
            fingerprint = _fingerprint(warehouse, source)
            assert fingerprint[0] == _distinct(tables[name], source)
            assert _mark(warehouse, source) is not None
            [again] = _ingest(warehouse, "crm", name, endpoint)
            assert again["rows_read"] == 0
            assert _fingerprint(warehouse, source) == fingerprint


def test_s3_drops_by_mark_backfill_and_a_broken_drop(
    warehouse: Settings, company: Company, tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    system = SYSTEMS["marketing"]
    with serve_s3(tmp_path / "s3.log") as url:
        client = s3_client(url, "us-east-1", "test", "test")
        assert system.bucket is not None
        keys = publish_daily_drops(company, client, system.bucket)
        endpoint = Endpoint(s3=client)
        _, spend = _object("marketing", "marketing_spend")
        loaded = _ingest(warehouse, "marketing", "marketing_spend", endpoint)
        spend_keys = sorted(k for k in keys if k.startswith("marketing_spend/"))
        assert len(loaded) == len(spend_keys)
        assert _mark(warehouse, spend) == spend_keys[-1]
        fingerprint = _fingerprint(warehouse, spend)
        assert fingerprint[0] == _distinct(tables["marketing_spend"], spend)

        assert _ingest(warehouse, "marketing", "marketing_spend", endpoint) == []
        window = Window.backfill(date(2023, 2, 1), date(2023, 2, 3))
        again = _ingest(warehouse, "marketing", "marketing_spend", endpoint, window)
        assert len(again) == 3 and all(r["skipped"] for r in again)
        assert _fingerprint(warehouse, spend) == fingerprint

        # malformed started_at values are quarantined; every other session is in
        _, sessions = _object("marketing", "web_sessions")
        _ingest(warehouse, "marketing", "web_sessions", endpoint)
        malformed = company.truth.keys("web_sessions", "malformed_date")
        assert malformed
        assert _fingerprint(warehouse, sessions)[0] == _distinct(
            tables["web_sessions"], sessions, malformed
        )

        # an unreadable drop is named; the drops after it still load
        broken, good = "marketing_spend/dt=2030-01-01/x.csv", "marketing_spend/dt=2030-01-02/x.csv"
        client.put_object(Bucket=system.bucket, Key=broken, Body="\xff\xfe".encode("utf-16"))
        client.put_object(
            Bucket=system.bucket,
            Key=good,
            Body=b"spend_date,channel,spend,impressions,clicks\n2030-01-02,email,1.00,10,1\n",
        )
        with pytest.raises(RejectedFiles, match=r"s3://metricstack-marketing/" + broken):
            _ingest(warehouse, "marketing", "marketing_spend", endpoint)
        assert _fingerprint(warehouse, spend)[0] == fingerprint[0] + 1
        assert _mark(warehouse, spend) == good


def test_landing_workbooks_and_csv_files(
    warehouse: Settings, company: Company, tables: dict[str, pd.DataFrame]
) -> None:
    write_landing_files(company, warehouse.landing_dir)
    for system in ("supply", "backoffice"):
        for source in SYSTEMS[system].objects:
            ingest_object(warehouse, SYSTEMS[system], source, Endpoint(), Window(), "test-run")
            rejected = company.truth.keys(source.object, "malformed_date") + company.truth.keys(
                source.object, "wrong_encoding"
            )
            expected = _distinct(tables[source.object], source, rejected)
            assert _fingerprint(warehouse, source)[0] == expected, source.name
            # a second run finds every file loaded already
            again = ingest_object(
                warehouse, SYSTEMS[system], source, Endpoint(), Window(), "test-run"
            )
            assert all(r["skipped"] for r in again)
