"""The demo's sample sources: seeded once per config, served, and read through the
connections Airflow gets.

The shop database is the default one (``shop`` next to the warehouse, read by the
read-only role) on the tests' PostgreSQL server; the CRM API and moto run as the stack
runs them, started by another process as ``metricstack up`` does, and stopped by
``stack.stop``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import errors, sql
from support import free_port, new_database, private_dir

from metricstack.config import SAMPLE_BUCKET, Settings, load_settings, with_database
from metricstack.sample_company.generator import generate
from metricstack.services import processes, sample_sources, stack
from metricstack.services.environment import airflow_env, source_connections
from metricstack.sources.s3 import s3_client

SMALL = {"METRICSTACK_SAMPLE_ORDERS": "1000", "METRICSTACK_SAMPLE_YEARS": "1"}


def say(message: str) -> None:
    print(message)


def sample_env(pg_server: str, state: Path, **extra: str) -> dict[str, str]:
    """Settings' environment: every database on the tests' server, so no embedded one."""
    return {
        "METRICSTACK_STATE_DIR": str(state),
        "WAREHOUSE_URL": pg_server,
        "AIRFLOW_DATABASE_URL": pg_server,
        "SUPERSET_DATABASE_URL": pg_server,
        "METRICSTACK_ROLE_PREFIX": f"ms_{uuid.uuid4().hex[:8]}",
        "METRICSTACK_CRM_PORT": str(free_port()),
        "METRICSTACK_S3_PORT": str(free_port()),
        **SMALL,
        **extra,
    }


def expected_orders(settings: Settings) -> int:
    """The generator's orders, planted duplicates included (the shop holds them)."""
    company = generate(settings.sample_company)
    return sum(len(chunk.frame) for chunk in company.chunks() if chunk.table == "orders")


@pytest.fixture(scope="module")
def demo(pg_server: str) -> Iterator[tuple[Settings, dict[str, bool]]]:
    """The demo's sample sources, seeded once: the settings and what the seed wrote."""
    with private_dir("sample-sources") as state:
        env = sample_env(pg_server, state)
        settings = load_settings(env)
        settings.ensure_secrets()
        assert settings.shop_db_url == with_database(pg_server, "shop")
        try:
            written = sample_sources.seed_sample_sources(settings, say)
            yield settings, written
        finally:
            stack.stop(settings, say)
            with psycopg.connect(pg_server, autocommit=True) as conn:
                conn.execute("drop database if exists shop with (force)")
                role = sql.Identifier(settings.role_name("shop_reader"))
                conn.execute(sql.SQL("drop role if exists {}").format(role))


def test_setup_fills_each_source_once(demo: tuple[Settings, dict[str, bool]]) -> None:
    settings, written = demo
    assert written == {"shop_db": True, "landing": True, "crm": True}
    assert (settings.landing_dir / "employees" / "employees.csv").exists()
    assert len(list((settings.landing_dir / "deliveries").glob("deliveries_2023-*.xlsx"))) == 12
    assert (settings.crm_data_dir / "manifest.json").exists()
    started = time.monotonic()
    again = sample_sources.seed_sample_sources(settings, say)
    assert again == {"shop_db": False, "landing": False, "crm": False}
    assert time.monotonic() - started < 2


def test_another_config_seeds_again(pg_server: str) -> None:
    """With SHOP_DATABASE_URL (used as given: no reader role) and its own state folder."""
    with private_dir("sample-config") as state, new_database(pg_server) as shop:
        env = sample_env(pg_server, state, SHOP_DATABASE_URL=shop)
        env["METRICSTACK_SAMPLE_ORDERS"] = "300"
        first = load_settings(env)
        assert sample_sources.seed_sample_sources(first, say) == dict.fromkeys(
            ("shop_db", "landing", "crm"), True
        )
        assert not any(sample_sources.seed_sample_sources(first, say).values())
        other = load_settings({**env, "METRICSTACK_SAMPLE_SEED": "8"})
        assert all(sample_sources.seed_sample_sources(other, say).values())
        assert not any(sample_sources.seed_sample_sources(other, say).values())
        with psycopg.connect(shop) as conn:
            count = conn.execute("select count(*) from orders").fetchone()
        assert count is not None and count[0] == expected_orders(other) != expected_orders(first)


def _airflow_connections(settings: Settings) -> dict[str, dict[str, Any]]:
    """The connections as Airflow's BaseHook reads them from the stack's Airflow env."""
    code = """
import json
from airflow.sdk.bases.hook import BaseHook
out = {}
for conn_id in ("metricstack_shop_db", "metricstack_crm", "metricstack_s3"):
    c = BaseHook.get_connection(conn_id)
    out[conn_id] = dict(conn_type=c.conn_type, host=c.host, port=c.port, login=c.login,
                        password=c.password, schema=c.schema, extra=c.extra_dejson)
print(json.dumps(out))
"""
    env = airflow_env(settings)
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    parsed: dict[str, dict[str, Any]] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def test_airflow_reads_the_shop_through_its_connection(
    demo: tuple[Settings, dict[str, bool]],
) -> None:
    settings, _ = demo
    seen = _airflow_connections(settings)
    for conn_id, connection in source_connections(settings).items():
        for field in ("conn_type", "host", "port", "login", "password", "schema"):
            assert seen[conn_id][field] == connection.get(field), (conn_id, field)
        assert seen[conn_id]["extra"] == connection.get("extra", {}), conn_id
    shop = seen["metricstack_shop_db"]
    assert shop["login"] == settings.role_name("shop_reader")
    with psycopg.connect(
        host=shop["host"],
        port=shop["port"],
        user=shop["login"],
        password=shop["password"],
        dbname=shop["schema"],
    ) as conn:
        count = conn.execute("select count(*) from orders").fetchone()
        assert count is not None and count[0] == expected_orders(settings)
        # read-only: the role may not change the shop
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("delete from orders")
        conn.rollback()
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("create table public.scratch (x int)")


def _start_as_another_process(settings: Settings) -> None:
    """``sample_sources.start`` and ``wait`` in a child process, as ``metricstack up`` runs
    them: the services outlive it and ``stack.stop`` (here) ends them by their pids."""
    code = (
        "from metricstack.config import load_settings\n"
        "from metricstack.services import sample_sources\n"
        "settings = load_settings()\n"
        "sample_sources.start(settings)\n"
        "sample_sources.wait(settings)\n"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **settings.environ},
        check=True,
        timeout=90,
    )


def test_services_start_answer_and_stop(demo: tuple[Settings, dict[str, bool]]) -> None:
    settings, _ = demo
    stack.check_ports(settings)  # nothing holds the sample sources' ports yet
    _start_as_another_process(settings)
    rows = {row.name: row for row in stack.status(settings)}
    assert rows["crm-api"].pid and rows["crm-api"].where == settings.crm_url
    assert rows["s3"].pid and rows["s3"].where == settings.s3_url
    stack.check_ports(settings)  # the stack's own processes hold them: no complaint

    crm = source_connections(settings)["metricstack_crm"]
    url = f"{crm['host']}/v1/funnel_events"
    assert httpx.get(url, timeout=10).status_code == 401
    answer = httpx.get(url, headers={"Authorization": f"Bearer {crm['password']}"}, timeout=10)
    assert answer.status_code == 200 and answer.json()["data"]

    published = sample_sources.publish_drops(settings, say)
    assert published is not None and published > 365  # a year of two daily drops
    assert sample_sources.publish_drops(settings, say) is None  # same moto process: skipped
    s3 = source_connections(settings)["metricstack_s3"]
    client = s3_client(
        s3["extra"]["endpoint_url"], s3["extra"]["region_name"], s3["login"], s3["password"]
    )
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=SAMPLE_BUCKET)
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    assert len(keys) == published
    assert "marketing_spend/dt=2023-01-01/marketing_spend.csv" in keys

    said: list[str] = []
    stack.stop(settings, said.append)
    assert {"stopped crm-api", "stopped s3"} <= set(said)
    assert processes.running_pid(settings, "crm-api") is None
    assert processes.running_pid(settings, "s3") is None
    assert not processes.port_open(settings.host, settings.crm_port)
    assert not processes.port_open(settings.host, settings.s3_port)
