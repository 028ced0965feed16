"""`metricstack load`: ad-hoc (all text) and declared loads from the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import psycopg
import pytest
from support import ORDERS_DECLARATION

from metricstack.config import Settings
from metricstack.loading import command


def _run(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return command.run(settings, parser.parse_args(argv))


def test_adhoc_and_declared_loads(
    warehouse: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "people.jsonl"
    path.write_text('{"id": "1", "name": "Ada"}\n{"id": "2", "name": "Grace"}\n')
    assert _run(warehouse, str(path), "--table", "raw.people", "--key", "id") == 0
    assert json.loads(capsys.readouterr().out)["rows_loaded"] == 2
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,customer_id,ordered_at,status,amount\n1,2,2024-01-01,completed,n/a\n"
    )
    declaration = ORDERS_DECLARATION
    assert _run(warehouse, str(orders), "--declaration", str(declaration)) == 0
    assert json.loads(capsys.readouterr().out)["rows_rejected"] == 1
    with psycopg.connect(warehouse.role_url("transformer")) as conn:
        assert conn.execute("select name from raw.people order by id").fetchall() == [
            ("Ada",),
            ("Grace",),
        ]
    assert _run(warehouse, str(orders), "--table", "raw.x") == 2  # no key, no declaration
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1\n")
    assert _run(warehouse, str(bad), "--table", "raw.bad", "--key", "a") == 1
    assert "bad.csv: line 2: missing data" in capsys.readouterr().err
