"""Superset end to end on a real PostgreSQL: setup (twice), a secret rotation, gunicorn,
the Revenue dashboard's data through the REST API.

Needs the Superset virtualenv (.venvs/superset) and a PostgreSQL superuser reachable at
METRICSTACK_TEST_PG_URL (default: the local trust-auth server on 127.0.0.1:5432). It
creates and drops its own databases and role. About 90 s.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from metricstack.config import PROJECT_DIR, Settings, load_settings, with_database
from metricstack.superset import SupersetClient, gunicorn_command, setup_superset, superset_env
from metricstack.superset.assets import DASHBOARD_SLUG, DASHBOARD_UUID

pytestmark = pytest.mark.skipif(
    not (PROJECT_DIR / ".venvs" / "superset" / "bin" / "superset").exists(),
    reason="the Superset virtualenv (.venvs/superset) is missing",
)

ADMIN_URL = os.environ.get(
    "METRICSTACK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
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
    meta_url: str
    warehouse_url: str
    role_prefix: str

    @property
    def reporting_role(self) -> str:
        return f"{self.role_prefix}_reporting"


@pytest.fixture
def databases() -> Iterator[Databases]:
    name = f"ms_superset_dev_t{secrets.token_hex(4)}"
    dbs = Databases(
        meta_url=with_database(ADMIN_URL, f"{name}_meta"),
        warehouse_url=with_database(ADMIN_URL, f"{name}_wh"),
        role_prefix=name,
    )
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
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
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            for db in (f"{name}_meta", f"{name}_wh"):
                admin.execute(
                    sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db))
                )
            admin.execute(
                sql.SQL("drop role if exists {}").format(sql.Identifier(dbs.reporting_role))
            )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def _rss_kib(pid: int) -> int:
    """Resident memory of a process and all its children (gunicorn master + workers)."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text()
        except FileNotFoundError:
            continue
        total += next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")
        )
        pids.extend(int(child) for child in children.split())
    return total


def _wait_healthy(
    url: str, server: subprocess.Popen[bytes], log: Path, timeout: float = 180
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=5).text == "OK":
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"Superset did not answer /health in {timeout} s:\n{log.read_text()[-3000:]}")


def _count_dashboards(meta_url: str) -> int:
    with psycopg.connect(meta_url) as conn:
        row = conn.execute(
            "select count(*) from dashboards where uuid = %s", (DASHBOARD_UUID,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_setup_serve_and_read_revenue_dashboard(tmp_path: Path, databases: Databases) -> None:
    port = _free_port()
    settings = _settings(tmp_path, databases, port, "first-admin-pw", "first-reporting-pw")

    first = _timed_setup(settings)
    second = _timed_setup(settings)
    print(f"\nsetup_superset: first run {first:.1f} s, second run {second:.1f} s")
    assert second < 5, "a second setup with unchanged inputs should skip every step"
    assert _count_dashboards(databases.meta_url) == 1

    # Rotate both secrets: setup must reset the admin password and re-import the bundle
    # with the new reporting URI (a re-import that overwrites, not duplicates).
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(
            sql.SQL("alter role {} password {}").format(
                sql.Identifier(databases.reporting_role), sql.Literal("second-reporting-pw")
            )
        )
    settings = _settings(tmp_path, databases, port, "second-admin-pw", "second-reporting-pw")
    rotated = _timed_setup(settings)
    print(f"setup_superset after rotating both secrets: {rotated:.1f} s")
    assert _count_dashboards(databases.meta_url) == 1

    log = settings.logs_dir / "superset-gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            gunicorn_command(settings),
            env=superset_env(settings),
            cwd=settings.superset_home,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop master and workers
        )
    try:
        started = time.monotonic()
        _wait_healthy(settings.superset_url, server, log)
        print(f"gunicorn healthy after {time.monotonic() - started:.1f} s")

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
        print(f"gunicorn RSS (master + 2 workers): {_rss_kib(server.pid) / 1024:.0f} MiB")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
