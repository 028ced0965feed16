"""Shared fixtures: a real PostgreSQL for every test that needs one.

By default an embedded PostgreSQL (the same one the demo runs) is started once per
test session in a temporary folder, on a free port. ``METRICSTACK_TEST_PG_URL``
points the tests at another server instead (a superuser URL).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pymysql
import pytest
from psycopg import sql

from metricstack.config import Settings, load_settings, with_database
from metricstack.sources.database import mysql_connect_args


@contextmanager
def private_dir(prefix: str) -> Iterator[Path]:
    """A temporary folder outside pytest's numbered ones.

    pytest prunes all but its three newest basetemp folders when a session starts, so a
    second pytest on the same machine could delete a running server's data folder.
    """
    path = Path(tempfile.mkdtemp(prefix=f"metricstack-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


@contextmanager
def new_database(pg_server: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on ``pg_server``; dropped afterwards."""
    name = f"ms_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        yield with_database(pg_server, name)
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


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


def mysql_server_url() -> str:
    """The MariaDB server's URL, or skip (fail with METRICSTACK_REQUIRE_MYSQL=1)."""
    url = os.environ.get("METRICSTACK_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")
    try:
        pymysql.connect(**mysql_connect_args(url), connect_timeout=3).close()
    except pymysql.err.MySQLError as exc:
        message = f"no MySQL/MariaDB server answers at {url.split('@')[-1]}: {exc}"
        if os.environ.get("METRICSTACK_REQUIRE_MYSQL") == "1":
            pytest.fail(message + " (METRICSTACK_REQUIRE_MYSQL=1)")
        pytest.skip(message + "; set METRICSTACK_REQUIRE_MYSQL=1 to fail instead")
    return url


@contextmanager
def new_mysql_database() -> Iterator[str]:
    """A new, empty MySQL database ms_test_<hex> on the test server; dropped afterwards."""
    server = mysql_server_url()
    name = f"ms_test_{uuid.uuid4().hex[:10]}"
    conn = pymysql.connect(**mysql_connect_args(server), autocommit=True)
    try:
        conn.cursor().execute(f"create database `{name}`")
        yield with_database(server, name)
    finally:
        conn.cursor().execute(f"drop database if exists `{name}`")
        conn.close()


@pytest.fixture
def mysql_database() -> Iterator[str]:
    with new_mysql_database() as url:
        yield url
