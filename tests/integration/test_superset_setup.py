"""Superset end to end on a real PostgreSQL: setup (twice), a secret rotation, gunicorn,
the Revenue dashboard's data through the REST API.

Needs the Superset virtualenv (.venvs/superset); runs on the test PostgreSQL of
conftest.py, where it creates and drops its own databases and role. About 60 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from superset_fixtures import (
    ROWS,
    TOTAL,
    Databases,
    needs_superset,
    running_superset,
    superset_databases,
    superset_settings,
)
from support import free_port

from metricstack.config import Settings
from metricstack.superset import SupersetClient, setup_superset
from metricstack.superset.assets import DASHBOARD_SLUG, DASHBOARD_UUID

pytestmark = needs_superset


@pytest.fixture
def databases(pg_server: str) -> Iterator[Databases]:
    with superset_databases(pg_server, "first-reporting-pw") as dbs:
        yield dbs


def _settings(
    tmp_path: Path, dbs: Databases, port: int, admin_pw: str, reporting_pw: str
) -> Settings:
    return superset_settings(tmp_path, dbs, port, admin_pw, reporting_pw)


def _timed_setup(settings: Settings) -> float:
    started = time.monotonic()
    setup_superset(settings)
    return time.monotonic() - started


def _steps_logged(settings: Settings) -> list[str]:
    log = settings.logs_dir / "superset-setup.log"
    return [line for line in log.read_text().splitlines() if ": exit " in line]


def _count_dashboards(meta_url: str) -> int:
    with psycopg.connect(meta_url) as conn:
        row = conn.execute(
            "select count(*) from dashboards where uuid = %s", (DASHBOARD_UUID,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_setup_serve_and_read_revenue_dashboard(tmp_path: Path, databases: Databases) -> None:
    port = free_port()
    settings = _settings(tmp_path, databases, port, "first-admin-pw", "first-reporting-pw")

    first = _timed_setup(settings)
    steps = _steps_logged(settings)
    assert len(steps) == 5, steps  # db upgrade, create admin, init, import, access
    second = _timed_setup(settings)
    print(f"\nsetup_superset: first run {first:.1f} s, second run {second:.1f} s")
    assert _steps_logged(settings) == steps, "unchanged inputs: no step may run again"
    assert _count_dashboards(databases.meta_url) == 1

    # Rotate both secrets: setup must reset the admin password and re-import the bundle
    # with the new reporting URI (a re-import that overwrites, not duplicates).
    with psycopg.connect(databases.admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("alter role {} password {}").format(
                sql.Identifier(databases.reporting_role), sql.Literal("second-reporting-pw")
            )
        )
    settings = _settings(tmp_path, databases, port, "second-admin-pw", "second-reporting-pw")
    rotated = _timed_setup(settings)
    print(f"setup_superset after rotating both secrets: {rotated:.1f} s")
    assert _count_dashboards(databases.meta_url) == 1

    with (
        running_superset(settings),
        SupersetClient(settings.superset_url, settings.admin_user, "second-admin-pw") as client,
    ):
        client.login()
        revenue = [d for d in client.dashboards() if d["slug"] == DASHBOARD_SLUG]
        assert len(revenue) == 1
        assert revenue[0]["dashboard_title"] == "Revenue"

        charts = {c["slice_name"]: c for c in client.dashboard_charts(DASHBOARD_SLUG)}
        assert set(charts) == {"Total revenue", "Revenue per day"}

        total = client.chart_data(charts["Total revenue"]["id"])
        assert len(total) == 1
        assert Decimal(str(total[0]["total_revenue"])) == TOTAL

        per_day = client.chart_data(charts["Revenue per day"]["id"])
        assert len(per_day) == len(ROWS)
        assert sum(Decimal(str(row["total_revenue"])) for row in per_day) == TOTAL
