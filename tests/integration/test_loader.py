"""The COPY loader against a real PostgreSQL: counts, quarantine, idempotence, atomicity."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from truth import invalid_row_count, valid_orders

from metricstack.config import PROJECT_DIR, Settings
from metricstack.loading.copy_loader import FileFormatError, load_file
from metricstack.loading.declarations import Source, load_source
from metricstack.loading.files import RejectedFiles, load_landed_files
from metricstack.sample_company.orders import write_orders

ORDERS = load_source(PROJECT_DIR / "dags" / "sources" / "shop_orders.yml")


def _count(settings: Settings, query: str) -> int:
    with psycopg.connect(settings.role_url("transformer")) as conn:
        row = conn.execute(query).fetchone()
        assert row is not None
        return int(row[0])


def _load(settings: Settings, source: Source, path: Path):  # type: ignore[no-untyped-def]
    with psycopg.connect(settings.role_url("loader")) as conn:
        return load_file(conn, source, path)


def test_loads_valid_rows_and_keeps_rejects_with_reasons(
    warehouse: Settings, tmp_path: Path
) -> None:
    path = write_orders(tmp_path / "orders.csv", days=120)
    result = _load(warehouse, ORDERS, path)
    expected = valid_orders(path)
    assert result.rows_loaded == result.rows_inserted == len(expected)
    assert result.rows_rejected == invalid_row_count(path) > 0
    assert _count(warehouse, "select count(*) from raw.shop_orders") == len(expected)
    assert _count(warehouse, "select count(*) from audit.rejected_rows") == result.rows_rejected
    with psycopg.connect(warehouse.role_url("transformer")) as conn:
        reasons = [r[0] for r in conn.execute("select reason from audit.rejected_rows")]
        line, record = conn.execute(
            "select line_number, record from audit.rejected_rows order by line_number limit 1"
        ).fetchone() or (0, {})
    assert all(r.split(":")[0] in ORDERS.column_names for r in reasons)
    # the rejected record is kept whole, as it stood on its line of the file
    assert set(record) == set(ORDERS.column_names)
    assert path.read_text().splitlines()[line - 1].split(",")[0] == record["order_id"]


def test_same_file_twice_changes_nothing(warehouse: Settings, tmp_path: Path) -> None:
    path = write_orders(tmp_path / "orders.csv", days=20)
    first = _load(warehouse, ORDERS, path)
    copy = tmp_path / "orders_again.csv"
    copy.write_bytes(path.read_bytes())
    second = _load(warehouse, ORDERS, copy)
    assert not first.skipped and second.skipped
    assert _count(warehouse, "select count(*) from raw.shop_orders") == first.rows_loaded
    assert _count(warehouse, "select count(*) from audit.loads") == 1


def test_a_correction_updates_only_its_row(warehouse: Settings, tmp_path: Path) -> None:
    path = write_orders(tmp_path / "orders.csv", days=10)
    _load(warehouse, ORDERS, path)
    lines = path.read_text().splitlines()
    fields = lines[1].split(",")
    fields[4] = "999.99"
    correction = tmp_path / "correction.csv"
    correction.write_text("\n".join([lines[0], ",".join(fields), lines[2]]) + "\n")
    result = _load(warehouse, ORDERS, correction)
    assert (result.rows_inserted, result.rows_updated) == (0, 1)
    assert (
        _count(warehouse, f"select amount * 100 from raw.shop_orders where order_id = {fields[0]}")
        == 99999
    )


def test_a_file_that_breaks_midway_loads_nothing(warehouse: Settings, tmp_path: Path) -> None:
    first = _load(warehouse, ORDERS, write_orders(tmp_path / "first.csv", days=5))
    path = write_orders(tmp_path / "orders.csv", days=10, seed=99)
    broken = tmp_path / "broken.csv"
    broken.write_bytes(path.read_bytes() + b"1,2,2024-01-01T00:00:00,completed,\xff\xfe\n")
    with pytest.raises(FileFormatError, match=r"broken.csv: not valid UTF-8"):
        _load(warehouse, ORDERS, broken)
    assert _count(warehouse, "select count(*) from raw.shop_orders") == first.rows_loaded
    assert _count(warehouse, "select count(*) from audit.loads") == 1


def test_a_wrong_header_names_the_columns_and_good_files_still_load(warehouse: Settings) -> None:
    landing = warehouse.landing_dir / "orders"
    write_orders(landing / "a_good.csv", days=5)
    (landing / "b_bad.csv").write_text(
        "order_id,customer,ordered_at,status,amount\n1,2,2024-01-01,completed,3\n"
    )
    with pytest.raises(
        RejectedFiles,
        match=r"b_bad.csv: header does not match .*"
        r"missing \['customer_id'\], unexpected \['customer'\]",
    ):
        load_landed_files(warehouse, ORDERS)
    assert _count(warehouse, "select count(*) from raw.shop_orders") == len(
        valid_orders(landing / "a_good.csv")
    )
