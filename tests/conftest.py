"""Shared fixtures: a real PostgreSQL for every test that needs one.

By default an embedded PostgreSQL (the same one the demo runs) is started once per
test session in a temporary folder, on a free port. ``METRICSTACK_TEST_PG_URL``
points the tests at another server instead (a superuser URL).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from support import free_port, new_database, new_mysql_database, private_dir

from metricstack.config import Settings, load_settings, with_database


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A superuser URL of a PostgreSQL server (its ``postgres`` database)."""
    external = os.environ.get("METRICSTACK_TEST_PG_URL")
    if external:
        yield external
        return
    from metricstack.services import postgres

    with private_dir("pg") as state:
        settings = load_settings(
            {"METRICSTACK_STATE_DIR": str(state), "METRICSTACK_PG_PORT": str(free_port())}
        )
        settings.ensure_secrets()
        postgres.initialise(settings)
        postgres.start(settings)
        try:
            yield with_database(settings.warehouse_url, "postgres")
        finally:
            postgres.stop(settings)


@pytest.fixture
def fresh_database(pg_server: str) -> Iterator[str]:
    """A new, empty database on the test server; dropped afterwards."""
    with new_database(pg_server) as url:
        yield url


@pytest.fixture
def warehouse(fresh_database: str, tmp_path: Path) -> Iterator[Settings]:
    """Settings of a bootstrapped warehouse (schemas, roles, audit tables) in a fresh database.

    Roles are server-wide, so each test gets its own role names, dropped afterwards.
    """
    from metricstack.config import ROLES
    from metricstack.warehouse.bootstrap import ensure_warehouse

    settings = load_settings(
        {
            "METRICSTACK_STATE_DIR": str(tmp_path / "state"),
            "WAREHOUSE_URL": fresh_database,
            "METRICSTACK_LANDING_DIR": str(tmp_path / "landing"),
            "METRICSTACK_ROLE_PREFIX": f"ms_{uuid.uuid4().hex[:8]}",
        }
    )
    settings.ensure_secrets()
    ensure_warehouse(settings)
    yield settings
    roles = [sql.Identifier(settings.role_name(r)) for r in ROLES]
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        # one role at a time: dropping several whose default privileges refer to
        # each other in one statement trips "could not find tuple for default ACL"
        for role in roles:
            conn.execute(sql.SQL("drop owned by {} cascade").format(role))
        for role in roles:
            conn.execute(sql.SQL("drop role {}").format(role))


@pytest.fixture
def mysql_database() -> Iterator[str]:
    with new_mysql_database() as url:
        yield url
