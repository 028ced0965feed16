"""Helpers the tests share: free ports, private folders, scratch databases, warehouses.

A plain module rather than conftest.py: test modules import these by name, and
`from support import …` would find whichever of the suite's conftest files Python
imported first.
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

from metricstack.config import ROLES, Settings, load_settings, with_database
from metricstack.loading.declarations import Source, load_system
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


@contextmanager
def bootstrapped_warehouse(database_url: str, folder: Path) -> Iterator[Settings]:
    """Settings of a bootstrapped warehouse (schemas, roles, audit tables) in a database.

    Its state folder is ``folder``/state; roles are server-wide, so each warehouse gets
    its own role names, dropped afterwards with what they own.
    """
    from metricstack.warehouse.bootstrap import ensure_warehouse

    settings = load_settings(
        {
            "METRICSTACK_STATE_DIR": str(folder / "state"),
            "WAREHOUSE_URL": database_url,
            "METRICSTACK_LANDING_DIR": str(folder / "landing"),
            "METRICSTACK_ROLE_PREFIX": f"ms_{uuid.uuid4().hex[:8]}",
        }
    )
    settings.ensure_secrets()
    ensure_warehouse(settings)
    try:
        yield settings
    finally:
        roles = [sql.Identifier(settings.role_name(r)) for r in ROLES]
        with psycopg.connect(database_url, autocommit=True) as conn:
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


ORDERS_DECLARATION = Path(__file__).parent / "fixtures" / "orders.yml"


def orders_source() -> Source:
    """The loader tests' declared source: order_files.py's CSV into raw.shop_orders."""
    (source,) = load_system(ORDERS_DECLARATION).objects
    return source
