"""The COPY loader against a real PostgreSQL: counts, quarantine, idempotence, atomicity.

Every behaviour is checked on both typing paths: the server's (COPY ... ON_ERROR,
PostgreSQL 17+) and the SQL checks older servers get, forced here with ``typing``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from order_files import write_orders
from support import orders_source
from truth import invalid_row_count, valid_orders

from metricstack.config import Settings
from metricstack.loading.copy_loader import FileFormatError, LoadResult, load_file
from metricstack.loading.declarations import Source
from metricstack.loading.files import RejectedFiles, load_landed_files

ORDERS = orders_source()
HEADER = "order_id,customer_id,ordered_at,status,amount\n"


@pytest.fixture(params=["server", "sql"])
def typing(request: pytest.FixtureRequest, warehouse: Settings) -> str:
    with psycopg.connect(warehouse.warehouse_url) as conn:
        if request.param == "server" and conn.info.server_version < 170000:
            pytest.skip("COPY ... ON_ERROR needs PostgreSQL 17+")
    return str(request.param)


def _rows(settings: Settings, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(settings.role_url("transformer")) as conn:
        return [tuple(r) for r in conn.execute(query)]


def _count(settings: Settings, query: str) -> int:
    return int(_rows(settings, query)[0][0])


def _load(settings: Settings, source: Source, path: Path, typing: str = "auto") -> LoadResult:
    with psycopg.connect(settings.role_url("loader")) as conn:
        return load_file(conn, source, path, typing=typing)


def _quarantine(settings: Settings) -> list[tuple[Any, ...]]:
    return _rows(
        settings,
        "select line_number, column_name, value, reason, record from audit.rejected_rows "
        "order by line_number",
    )


def test_loads_valid_rows_and_keeps_rejects_with_reasons(
    warehouse: Settings, tmp_path: Path, typing: str
) -> None:
    path = write_orders(tmp_path / "orders.csv", days=120)
    result = _load(warehouse, ORDERS, path, typing)
    expected = valid_orders(path)
    assert result.rows_loaded == result.rows_inserted == len(expected)
    assert result.rows_rejected == invalid_row_count(path) > 0
    assert result.rows_read == len(path.read_text().splitlines()) - 1
    assert _count(warehouse, "select count(*) from raw.shop_orders") == len(expected)
    # the last record of a key wins: the table holds exactly the independent reading
    loaded = _rows(warehouse, "select order_id, amount::text, status from raw.shop_orders")
    assert {(k, v["amount"], v["status"]) for k, v in expected.items()} == {
        (int(k), a, s) for k, a, s in loaded
    }
    rejects = _quarantine(warehouse)
    assert len(rejects) == result.rows_rejected
    lines = path.read_text().splitlines()
    for line, column, value, reason, record in rejects:
        assert reason.startswith(f"{column}:") and column in ORDERS.column_names
        # the rejected record is kept whole, as it stood on its line of the file
        assert set(record) == set(ORDERS.column_names)
        assert next(csv.reader([lines[line - 1]])) == [record[c] for c in ORDERS.column_names]
        assert value == (record[column] or None)
    assert any("is not a number" in r[3] for r in rejects)
    assert any("empty, but the column is required" in r[3] for r in rejects)
    assert any("is not a timestamp" in r[3] for r in rejects)


def test_both_typing_paths_give_the_same_warehouse(warehouse: Settings, tmp_path: Path) -> None:
    with psycopg.connect(warehouse.warehouse_url) as conn:
        if conn.info.server_version < 170000:
            pytest.skip("COPY ... ON_ERROR needs PostgreSQL 17+")
    path = write_orders(tmp_path / "orders.csv", days=60)
    bad = path.read_bytes() + b'1,2,2024-01-01,"caf\xe9",3\r\n' + b'2,,2024-01-01,x,"1e30"\r\n'
    path.write_bytes(bad)
    seen = []
    for typing in ("server", "sql"):
        _load(warehouse, ORDERS, path, typing)
        seen.append(
            (
                _rows(warehouse, "select * from raw.shop_orders order by order_id"),
                [r[:4] for r in _quarantine(warehouse)],
            )
        )
        with psycopg.connect(warehouse.warehouse_url) as conn:
            conn.execute("delete from audit.rejected_rows; delete from audit.loads")
            conn.execute("delete from raw.shop_orders")
    (server_rows, server_rejects), (sql_rows, sql_rejects) = seen
    assert [r[:5] for r in server_rows] == [r[:5] for r in sql_rows]
    assert server_rejects == sql_rejects


def test_a_clean_first_load_is_written_once_and_later_loads_merge(
    warehouse: Settings, tmp_path: Path
) -> None:
    clean = tmp_path / "clean.csv"
    clean.write_text(HEADER + "1,10,2024-01-01T10:00:00,completed,1.50\n2,11,2024-01-02,x,n/a\n")
    first = _load(warehouse, ORDERS, clean)
    with psycopg.connect(warehouse.warehouse_url) as conn:
        direct = conn.info.server_version >= 170000
    assert first.publish == ("direct" if direct else "merge")
    assert (first.rows_read, first.rows_loaded, first.rows_rejected) == (2, 1, 1)
    # a key repeated within a first load: the direct COPY gives way to the merge
    twice = tmp_path / "twice.csv"
    twice.write_text(HEADER + "5,1,2024-01-01,completed,1\n5,1,2024-01-01,completed,2\n")
    with psycopg.connect(warehouse.role_url("loader")) as conn:
        conn.execute("delete from raw.shop_orders")
    result = _load(warehouse, ORDERS, twice)
    assert (result.publish, result.rows_read, result.rows_loaded) == ("merge", 2, 1)
    assert _rows(warehouse, "select amount::text from raw.shop_orders") == [("2.00",)]


def test_the_raw_table_indexes_its_load_time_for_incremental_reads(
    warehouse: Settings, tmp_path: Path
) -> None:
    """dbt's incremental models read `_loaded_at >= <their last run>`: a BRIN index on the
    load time serves that read instead of a scan of the table's history."""
    _load(warehouse, ORDERS, write_orders(tmp_path / "orders.csv", days=20))
    assert _rows(
        warehouse,
        "select indexname, indexdef like '%USING brin (_loaded_at)%' from pg_indexes "
        "where schemaname = 'raw' and tablename = 'shop_orders' and indexdef like '%brin%'",
    ) == [("shop_orders__loaded_at", True)]
    with psycopg.connect(warehouse.role_url("transformer")) as conn:
        conn.execute("set enable_seqscan = off")  # a 20-day table is small enough to scan
        plan = conn.execute(
            "explain select * from raw.shop_orders where _loaded_at >= now() - interval '1 day'"
        ).fetchall()
    assert any("shop_orders__loaded_at" in line for (line,) in plan), plan


def test_same_file_twice_changes_nothing(warehouse: Settings, tmp_path: Path, typing: str) -> None:
    path = write_orders(tmp_path / "orders.csv", days=20)
    first = _load(warehouse, ORDERS, path, typing)
    copy = tmp_path / "orders_again.csv"
    copy.write_bytes(path.read_bytes())
    second = _load(warehouse, ORDERS, copy, typing)
    assert not first.skipped and second.skipped
    assert _count(warehouse, "select count(*) from raw.shop_orders") == first.rows_loaded
    assert _count(warehouse, "select count(*) from audit.loads") == 1


def test_a_correction_updates_only_its_row(
    warehouse: Settings, tmp_path: Path, typing: str
) -> None:
    path = write_orders(tmp_path / "orders.csv", days=10)
    first = _load(warehouse, ORDERS, path, typing)
    lines = path.read_text().splitlines()
    fields = lines[1].split(",")
    fields[4] = "999.99"
    correction = tmp_path / "correction.csv"
    correction.write_text("\n".join([lines[0], ",".join(fields), lines[2]]) + "\n")
    result = _load(warehouse, ORDERS, correction, typing)
    assert (result.rows_inserted, result.rows_updated) == (0, 1)
    assert (
        _count(warehouse, f"select amount * 100 from raw.shop_orders where order_id = {fields[0]}")
        == 99999
    )
    # the untouched row still names the load that brought it
    assert _rows(
        warehouse, f"select _load_id from raw.shop_orders where order_id = {lines[2].split(',')[0]}"
    ) == [(first.load_id,)]


def test_a_file_that_breaks_midway_loads_nothing(
    warehouse: Settings, tmp_path: Path, typing: str
) -> None:
    first = _load(warehouse, ORDERS, write_orders(tmp_path / "first.csv", days=5), typing)
    path = write_orders(tmp_path / "orders.csv", days=10, seed=99)
    broken = tmp_path / "broken.csv"
    broken.write_bytes(path.read_bytes() + b"1,2,2024-01-01T00:00:00\r\n")
    last = len(broken.read_bytes().splitlines())
    with pytest.raises(FileFormatError, match=rf"broken.csv: line {last}: missing data"):
        _load(warehouse, ORDERS, broken, typing)
    assert _count(warehouse, "select count(*) from raw.shop_orders") == first.rows_loaded
    assert _count(warehouse, "select count(*) from audit.loads") == 1


def test_lines_that_are_not_utf8_are_quarantined_and_the_rest_loads(
    warehouse: Settings, tmp_path: Path, typing: str
) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(
        HEADER.encode()
        + b"1,10,2024-01-01T10:00:00,completed,1.50\n"
        + "2,11,2024-01-01T10:00:00,café,2.50\n".encode("cp1252")
        + b"3,12,2024-01-01T10:00:00,completed,3.50\n"
    )
    result = _load(warehouse, ORDERS, path, typing)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 2, 1)
    [(line, column, value, reason, record)] = _quarantine(warehouse)
    assert (line, column, value) == (3, "status", "caf\\xe9")
    assert "is not UTF-8" in reason and record["order_id"] == "2"
    assert _rows(warehouse, "select order_id from raw.shop_orders order by 1") == [(1,), (3,)]


def test_a_wholly_unreadable_file_fails_naming_it(warehouse: Settings, tmp_path: Path) -> None:
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes((HEADER + "1,10,2024-01-01,completed,1.50\n").encode("utf-16"))
    with pytest.raises(FileFormatError, match=r"utf16.csv: the header line is not valid UTF-8"):
        _load(warehouse, ORDERS, utf16)
    cp1252 = tmp_path / "cp1252.csv"
    cp1252.write_bytes(HEADER.encode() + "1,10,2024-01-01,café,1.50\n".encode("cp1252") * 3)
    with pytest.raises(FileFormatError, match=r"cp1252.csv: no line is valid UTF-8"):
        _load(warehouse, ORDERS, cp1252)
    assert _count(warehouse, "select count(*) from audit.loads") == 0


def test_schema_drift_is_recorded_and_new_columns_kept(
    warehouse: Settings, tmp_path: Path, typing: str
) -> None:
    path = tmp_path / "drift.csv"
    path.write_text(
        "order_id,customer_id,ordered_at,status,amount,channel\n"
        "1,10,2024-01-01T10:00:00,completed,one,web\n"
        "2,11,2024-01-01T10:00:00,completed,two,shop\n"
        "3,12,2024-01-01T10:00:00,completed,3.00,web\n"
    )
    result = _load(warehouse, ORDERS, path, typing)
    assert result.drift == {"new": ["channel"], "missing": [], "retyped": {"amount": 2}}
    assert _rows(warehouse, "select order_id, channel from raw.shop_orders") == [(3, "web")]
    stored = _rows(warehouse, "select drift from audit.loads")
    assert stored == [(result.drift,)]


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


def _write_formats(folder: Path, rows: list[dict[str, Any]]) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from openpyxl import Workbook

    paths = {f: folder / f"orders.{f}" for f in ("jsonl", "parquet", "xlsx")}
    paths["jsonl"].write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n")
    pq.write_table(pa.Table.from_pylist(rows), paths["parquet"])
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(list(rows[0]))
    for row in rows:
        sheet.append(list(row.values()))
    book.save(paths["xlsx"])
    return paths


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "xlsx"])
def test_other_formats_load_like_csv(
    warehouse: Settings, tmp_path: Path, typing: str, fmt: str
) -> None:
    rows = [
        {
            "order_id": 1,
            "customer_id": 10,
            "ordered_at": "2024-01-01T10:00:00",
            "status": "a\tb",
            "amount": "1.50",
        },
        {
            "order_id": 2,
            "customer_id": 11,
            "ordered_at": "01/02/2024",
            "status": "x",
            "amount": "2.50",
        },
        {
            "order_id": 3,
            "customer_id": 12,
            "ordered_at": "2024-01-03",
            "status": "line\nbreak",
            "amount": "3",
        },
    ]
    path = _write_formats(tmp_path, rows)[fmt]
    source = Source(**{**ORDERS.__dict__, "format": fmt})
    result = _load(warehouse, source, path, typing)
    dropped = 1 if fmt == "jsonl" else 0  # the line that is not JSON
    assert (result.rows_loaded, result.rows_rejected) == (2, 1 + dropped)
    assert _rows(warehouse, "select order_id, status from raw.shop_orders order by 1") == [
        (1, "a\tb"),
        (3, "line\nbreak"),
    ]
    line, column, value, _, record = _quarantine(warehouse)[0]
    assert (line, column, value) == (2 + (fmt == "xlsx"), "ordered_at", "01/02/2024")
    assert record["order_id"] == 2
