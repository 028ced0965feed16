"""The demo stack the end-to-end modules share: `metricstack demo` on a fresh state folder.

Runs twice: on the embedded PostgreSQL (the default a user gets), and against an
existing PostgreSQL given by URL (``METRICSTACK_TEST_EXTERNAL_PG_URL``, a superuser
URL; `.ci/run` sets it to the machine's PostgreSQL 15). The external run is skipped
when that server does not answer, unless ``METRICSTACK_REQUIRE_EXTERNAL_PG=1``.

The ``stack`` fixture is session-scoped so that each demo runs once for every module
of this folder: pytest groups the tests of a session-scoped param together (all
``[embedded]`` tests, then all ``[external]`` ones) and keeps the modules in file
order within a group. That order matters: every other module must run before
test_demo_stack.py, whose last tests make a failing pipeline run (a bad batch stopped
at the gate) and then stop the stack; pytest_collection_modifyitems below moves its
tests to the end of their group, whatever the modules' names.

Test modules cannot import from this file by name (``from conftest import …`` finds
whichever of the suite's conftest files Python imported first); they import ``Stack``
for their annotations under ``TYPE_CHECKING`` only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from support import free_port, private_dir

from metricstack.config import ROLES, Settings, load_settings, with_database

METRICSTACK = str(Path(sys.executable).parent / "metricstack")


@dataclass
class Stack:
    env: dict[str, str]
    settings: Settings
    demo_output: str

    def cli(self, *args: str, timeout: float = 1500) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [METRICSTACK, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def marts(self) -> dict[date, Decimal]:
        """What dashboards read, as the reporting role reads it."""
        with psycopg.connect(self.settings.role_url("reporting")) as conn:
            rows = conn.execute("select order_date, revenue from marts.fct_daily_revenue")
            return dict(rows.fetchall())


LAST_MODULE = "test_demo_stack.py"


@pytest.hookimpl(trylast=True)  # after pytest has grouped the items by the stack's param
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Within each demo's tests, test_demo_stack.py's come last; nothing else moves."""

    def demo(item: pytest.Item) -> object:
        callspec = getattr(item, "callspec", None)
        return None if callspec is None else callspec.params.get("stack")

    places = [i for i, item in enumerate(items) if demo(item) is not None]
    chosen = [items[i] for i in places]
    groups = list(dict.fromkeys(demo(item) for item in chosen))
    chosen.sort(key=lambda item: (groups.index(demo(item)), item.path.name == LAST_MODULE))
    for place, item in zip(places, chosen, strict=True):
        items[place] = item


def _external_url() -> str | None:
    url = os.environ.get("METRICSTACK_TEST_EXTERNAL_PG_URL")
    required = os.environ.get("METRICSTACK_REQUIRE_EXTERNAL_PG") == "1"
    if not url:
        if required:
            pytest.fail(
                "METRICSTACK_REQUIRE_EXTERNAL_PG=1 but METRICSTACK_TEST_EXTERNAL_PG_URL unset"
            )
        pytest.skip("METRICSTACK_TEST_EXTERNAL_PG_URL is not set")
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as error:
        if required:
            pytest.fail(f"the external PostgreSQL does not answer: {error}")
        pytest.skip(f"the external PostgreSQL does not answer: {error}")
    return url


@pytest.fixture(scope="session", params=["embedded", "external"])
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    with private_dir(f"e2e-{request.param}") as state:
        yield from _run_demo(request.param, state)


def _run_demo(kind: str, state: Path) -> Iterator[Stack]:
    env = {
        **os.environ,
        "METRICSTACK_STATE_DIR": str(state),
        "METRICSTACK_PG_PORT": str(free_port()),
        "METRICSTACK_AIRFLOW_PORT": str(free_port()),
        "METRICSTACK_SUPERSET_PORT": str(free_port()),
        # the sample CRM and S3 too: another demo on this machine may hold 8091/8092
        "METRICSTACK_CRM_PORT": str(free_port()),
        "METRICSTACK_S3_PORT": str(free_port()),
    }
    databases: list[str] = []
    admin_url = None
    if kind == "external":
        admin_url = _external_url()
        assert admin_url is not None
        prefix = f"ms_e2e_{uuid.uuid4().hex[:8]}"
        databases = [f"{prefix}_{db}" for db in ("warehouse", "airflow", "superset", "shop")]
        env.update(
            WAREHOUSE_URL=with_database(admin_url, databases[0]),
            AIRFLOW_DATABASE_URL=with_database(admin_url, databases[1]),
            SUPERSET_DATABASE_URL=with_database(admin_url, databases[2]),
            # the sample shop too, so that runs never share (or leave) a database
            SHOP_DATABASE_URL=with_database(admin_url, databases[3]),
            METRICSTACK_ROLE_PREFIX=prefix,
        )
    settings = load_settings(env)
    demo = subprocess.run(
        [METRICSTACK, "demo"], env=env, capture_output=True, text=True, timeout=1500, check=False
    )
    running = Stack(env, settings, demo.stdout + demo.stderr)
    try:
        assert demo.returncode == 0, running.demo_output[-6000:]
        yield running
    finally:
        stopped = running.cli("stop", timeout=300)
        print(stopped.stdout, stopped.stderr)
        if admin_url:
            _drop(admin_url, databases, [settings.role_name(r) for r in ROLES])


def _drop(admin_url: str, databases: list[str], roles: list[str]) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in databases:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )
        for role in roles:
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))
