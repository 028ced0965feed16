"""Shared fixtures: a real PostgreSQL for every test that needs one.

By default an embedded PostgreSQL (the same one the demo runs) is started once per
test session in a temporary folder, on a free port. ``METRICSTACK_TEST_PG_URL``
points the tests at another server instead (a superuser URL).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    bootstrapped_warehouse,
    free_port,
    new_database,
    new_mysql_database,
    private_dir,
)

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
    """Settings of a bootstrapped warehouse (schemas, roles, audit tables) in a fresh database,
    with role names of its own (support.bootstrapped_warehouse)."""
    with bootstrapped_warehouse(fresh_database, tmp_path) as settings:
        yield settings


@pytest.fixture
def mysql_database() -> Iterator[str]:
    with new_mysql_database() as url:
        yield url
