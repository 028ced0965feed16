"""Superset end to end on a real PostgreSQL: setup (twice), a secret rotation, gunicorn,
the Revenue dashboard's data through the REST API.

Needs the Superset virtualenv (.venvs/superset); runs on the test PostgreSQL of
conftest.py, where it creates and drops its own databases and role. About 60 s.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from support import free_port

from metricstack.config import PROJECT_DIR, Settings, load_settings, with_database
from metricstack.services import processes
from metricstack.services.stack import superset_healthy, superset_service
from metricstack.superset import SupersetClient, setup_superset
from metricstack.superset.assets import DASHBOARD_SLUG, DASHBOARD_UUID

pytestmark = pytest.mark.skipif(
    not (PROJECT_DIR / ".venvs" / "superset" / "bin" / "superset").exists(),
    reason="the Superset virtualenv (.venvs/superset) is missing",
)

ROWS = [  # order_date, order_count, revenue, average_order_value
    ("2026-01-01", 3, Decimal("150.00"), Decimal("50.00")),
    ("2026-01-02", 2, Decimal("80.50"), Decimal("40.25")),
    ("2026-01-03", 4, Decimal("220.00"), Decimal("55.00")),
    ("2026-01-04", 1, Decimal("19.99"), Decimal("19.99")),
]
TOTAL = sum(row[2] for row in ROWS)


@dataclass
class Databases:
    admin_url: str
    meta_url: str
    warehouse_url: str
    role_prefix: str

    @property
    def reporting_role(self) -> str:
        return f"{self.role_prefix}_reporting"


@pytest.fixture
def databases(pg_server: str) -> Iterator[Databases]:
    name = f"ms_superset_dev_t{secrets.token_hex(4)}"
    admin_url = pg_server
    dbs = Databases(
        admin_url=pg_server,
        meta_url=with_database(admin_url, f"{name}_meta"),
        warehouse_url=with_database(admin_url, f"{name}_wh"),
        role_prefix=name,
    )
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for db in (f"{name}_meta", f"{name}_wh"):
            admin.execute(sql.SQL("create database {}").format(sql.Identifier(db)))
        admin.execute(
            sql.SQL("create role {} login password {}").format(
                sql.Identifier(dbs.reporting_role), sql.Literal("first-reporting-pw")
            )
        )
    with psycopg.connect(dbs.warehouse_url, autocommit=True) as wh:
        # the mart as dbt builds it, and the reporting role's grants (SELECT on marts)
        wh.execute(
            "create schema marts; create table marts.fct_daily_revenue ("
            " order_date date primary key, order_count bigint,"
            " revenue numeric(18,2), average_order_value numeric(18,2))"
        )
        with wh.cursor() as cur:
            cur.executemany("insert into marts.fct_daily_revenue values (%s, %s, %s, %s)", ROWS)
        role = sql.Identifier(dbs.reporting_role)
        wh.execute(sql.SQL("grant usage on schema marts to {}").format(role))
        wh.execute(sql.SQL("grant select on all tables in schema marts to {}").format(role))
    try:
        yield dbs
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            for db in (f"{name}_meta", f"{name}_wh"):
                admin.execute(
                    sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db))
                )
            admin.execute(
                sql.SQL("drop role if exists {}").format(sql.Identifier(dbs.reporting_role))
            )


def _settings(
    tmp_path: Path, dbs: Databases, port: int, admin_pw: str, reporting_pw: str
) -> Settings:
    return load_settings(
        {
            "METRICSTACK_STATE_DIR": str(tmp_path),
            "METRICSTACK_SUPERSET_PORT": str(port),
            "METRICSTACK_ROLE_PREFIX": dbs.role_prefix,
            "WAREHOUSE_URL": dbs.warehouse_url,
            "AIRFLOW_DATABASE_URL": dbs.meta_url,  # unused here, but makes Settings external
            "SUPERSET_DATABASE_URL": dbs.meta_url,
            "SUPERSET_SECRET_KEY": "test-secret-key-" + "x" * 32,
            "METRICSTACK_ADMIN_PASSWORD": admin_pw,
            "METRICSTACK_REPORTING_PASSWORD": reporting_pw,
            "METRICSTACK_LOADER_PASSWORD": "unused",
            "METRICSTACK_TRANSFORMER_PASSWORD": "unused",
            "METRICSTACK_PG_SUPERUSER_PASSWORD": "unused",
        }
    )


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
    assert len(steps) == 4, steps  # db upgrade, create admin, init, import
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

    processes.start(settings, superset_service(settings))
    try:
        processes.wait_until(
            lambda: superset_healthy(settings), "a healthy Superset", 180, settings, "superset"
        )
        with SupersetClient(
            settings.superset_url, settings.admin_user, "second-admin-pw"
        ) as client:
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
    finally:
        processes.stop(settings, "superset")
