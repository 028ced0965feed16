"""A load killed in the middle of its COPY, then run again: nothing lost, nothing doubled."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from order_files import write_orders
from support import ORDERS_DECLARATION, orders_source
from truth import valid_orders

from metricstack.config import Settings
from metricstack.loading.copy_loader import load_file

METRICSTACK = str(Path(sys.executable).parent / "metricstack")


def _counts(settings: Settings) -> tuple[int, int]:
    with psycopg.connect(settings.warehouse_url) as conn:
        raw = conn.execute("select count(*) from raw.shop_orders").fetchone()
        loads = conn.execute("select count(*) from audit.loads").fetchone()
    assert raw is not None and loads is not None
    return int(raw[0]), int(loads[0])


def _loader_copying(settings: Settings) -> bool:
    with psycopg.connect(settings.warehouse_url) as conn:
        row = conn.execute(
            "select count(*) from pg_stat_activity "
            "where usename = %s and state = 'active' and query ilike 'copy%%'",
            (settings.role_name("loader"),),
        ).fetchone()
    return bool(row and row[0])


def _loader_gone(settings: Settings, timeout: float = 30) -> None:
    """The killed client's server backend notices the closed socket and rolls back."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(settings.warehouse_url) as conn:
            row = conn.execute(
                "select count(*) from pg_stat_activity where usename = %s",
                (settings.role_name("loader"),),
            ).fetchone()
        if row and row[0] == 0:
            return
        time.sleep(0.1)
    raise AssertionError("the killed load's backend is still there")


def test_a_load_killed_mid_copy_then_rerun_loses_and_doubles_nothing(
    warehouse: Settings, tmp_path: Path
) -> None:
    source = orders_source()
    first = write_orders(tmp_path / "first.csv", days=20)
    with psycopg.connect(warehouse.role_url("loader")) as conn:
        loaded_first = load_file(conn, source, first)
    # big enough that its COPY runs for a second or more
    big = write_orders(tmp_path / "big.csv", days=730, orders_per_day=400, seed=11)

    env = {**os.environ, **warehouse.environ}
    load = subprocess.Popen(
        [METRICSTACK, "load", str(big), "--declaration", str(ORDERS_DECLARATION)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not _loader_copying(warehouse):
        assert load.poll() is None, "the load ended before it could be killed mid-COPY"
        assert time.monotonic() < deadline, "the load never reached its COPY"
        time.sleep(0.02)
    load.kill()
    load.wait()
    _loader_gone(warehouse)

    # nothing of the killed load is visible: not a row, not a load record
    assert _counts(warehouse) == (loaded_first.rows_loaded, 1)

    with psycopg.connect(warehouse.role_url("loader")) as conn:
        rerun = load_file(conn, source, big)
        again = load_file(conn, source, big)
    assert not rerun.skipped and again.skipped
    assert _counts(warehouse) == (len(valid_orders(first, big)), 2)
