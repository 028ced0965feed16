"""How an ingestion task reads its run: the window from the DAG params, the connection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from metricstack.loading.declarations import DeclarationError
from metricstack.loading.systems import Window
from metricstack.pipeline.ingest_task import database_url, window_from
from metricstack.sources.errors import SourceDataError


def test_a_scheduled_run_reads_up_to_its_data_interval_end() -> None:
    end = datetime(2026, 11, 24, tzinfo=UTC)
    window = window_from({"params": {}, "data_interval_end": end})
    assert window == Window.scheduled(end) and not window.is_backfill


def test_a_backfill_reads_its_days_whole() -> None:
    params = {"backfill_first_day": "2024-03-01", "backfill_last_day": "2024-03-31"}
    window = window_from({"params": params, "data_interval_end": None})
    assert window.days() == (date(2024, 3, 1), date(2024, 3, 31))
    since, until = window.bounds()
    # (since, until] covers midnight of the first day to the last microsecond of the last
    assert since < datetime(2024, 3, 1, tzinfo=UTC) < until < datetime(2024, 4, 1, tzinfo=UTC)


def test_a_half_given_or_reversed_backfill_is_refused() -> None:
    with pytest.raises(DeclarationError, match="needs both"):
        window_from({"params": {"backfill_first_day": "2024-03-01"}})
    with pytest.raises(ValueError, match="before the first"):
        window_from(
            {"params": {"backfill_first_day": "2024-03-02", "backfill_last_day": "2024-03-01"}}
        )


@dataclass
class _Conn:
    conn_id: str
    conn_type: str
    host: str
    port: int | None
    login: str | None
    password: str | None
    schema: str | None


def test_database_connections_become_urls_with_their_secrets_quoted() -> None:
    conn = _Conn("shop", "postgres", "db.example", 5432, "reader", "p@ss/w:rd", "shop")
    assert database_url(conn) == "postgresql://reader:p%40ss%2Fw%3Ard@db.example:5432/shop"
    mysql = _Conn("shop", "mysql", "127.0.0.1", None, "root", None, "shop")
    assert database_url(mysql) == "mysql://root@127.0.0.1/shop"
    with pytest.raises(SourceDataError, match="connection shop: type 'http' is not a database"):
        database_url(_Conn("shop", "http", "x", None, None, None, None))
