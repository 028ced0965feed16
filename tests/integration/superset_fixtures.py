"""What the Superset integration tests share: scratch databases, settings, a server.

Plain helpers rather than fixtures (see tests/support.py for why): each test module
wraps them in fixtures of the scope it needs.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from metricstack.config import PROJECT_DIR, Settings, load_settings, with_database
from metricstack.services import processes
from metricstack.services.stack import superset_healthy, superset_service

needs_superset = pytest.mark.skipif(
    not (PROJECT_DIR / ".venvs" / "superset" / "bin" / "superset").exists(),
    reason="the Superset virtualenv (.venvs/superset) is missing",
)

ROWS = [  # marts.fct_daily_revenue: order_date, order_count, revenue, average_order_value
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

    def grant_reporting(self, schema: str) -> None:
        """Let the reporting role (Superset's connection) read every table of ``schema``."""
        role = sql.Identifier(self.reporting_role)
        with psycopg.connect(self.warehouse_url, autocommit=True) as wh:
            wh.execute(
                sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(schema), role)
            )
            wh.execute(
                sql.SQL("grant select on all tables in schema {} to {}").format(
                    sql.Identifier(schema), role
                )
            )


@contextmanager
def superset_databases(pg_server: str, reporting_password: str) -> Iterator[Databases]:
    """A metadata and a warehouse database (marts.fct_daily_revenue holding ROWS) and a
    reporting role, on the test server; all dropped afterwards."""
    name = f"ms_superset_t{secrets.token_hex(4)}"
    dbs = Databases(
        admin_url=pg_server,
        meta_url=with_database(pg_server, f"{name}_meta"),
        warehouse_url=with_database(pg_server, f"{name}_wh"),
        role_prefix=name,
    )
    with psycopg.connect(pg_server, autocommit=True) as admin:
        for db in (f"{name}_meta", f"{name}_wh"):
            admin.execute(sql.SQL("create database {}").format(sql.Identifier(db)))
        admin.execute(
            sql.SQL("create role {} login password {}").format(
                sql.Identifier(dbs.reporting_role), sql.Literal(reporting_password)
            )
        )
    with psycopg.connect(dbs.warehouse_url, autocommit=True) as wh:
        # the mart as dbt builds it
        wh.execute(
            "create schema marts; create table marts.fct_daily_revenue ("
            " order_date date primary key, order_count bigint,"
            " revenue numeric(18,2), average_order_value numeric(18,2))"
        )
        with wh.cursor() as cur:
            cur.executemany("insert into marts.fct_daily_revenue values (%s, %s, %s, %s)", ROWS)
    dbs.grant_reporting("marts")
    try:
        yield dbs
    finally:
        with psycopg.connect(pg_server, autocommit=True) as admin:
            for db in (f"{name}_meta", f"{name}_wh"):
                admin.execute(
                    sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db))
                )
            admin.execute(
                sql.SQL("drop role if exists {}").format(sql.Identifier(dbs.reporting_role))
            )


def superset_settings(
    state_dir: Path,
    dbs: Databases,
    port: int,
    admin_pw: str,
    reporting_pw: str,
    **extra: str,
) -> Settings:
    return load_settings(
        {
            "METRICSTACK_STATE_DIR": str(state_dir),
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
            "METRICSTACK_DEMO_PASSWORD": "demo-users-pw",
            **extra,
        }
    )


@contextmanager
def running_superset(settings: Settings) -> Iterator[None]:
    """Superset's gunicorn on settings.superset_port until the block ends."""
    processes.start(settings, superset_service(settings))
    try:
        processes.wait_until(
            lambda: superset_healthy(settings), "a healthy Superset", 180, settings, "superset"
        )
        yield
    finally:
        processes.stop(settings, "superset")
