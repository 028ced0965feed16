from pathlib import Path

import pytest

from metricstack.config import PROJECT_DIR
from metricstack.loading.declarations import DeclarationError, load_source, load_sources
from metricstack.sample_company.orders import write_orders


def test_bundled_declarations_load() -> None:
    sources = load_sources(PROJECT_DIR / "dags" / "sources")
    orders = next(s for s in sources if s.name == "shop_orders")
    assert orders.primary_key == ("order_id",)
    assert (orders.schema, orders.table) == ("raw", "shop_orders")
    assert orders.column_names == ("order_id", "customer_id", "ordered_at", "status", "amount")


def test_declaration_errors_name_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(
        "name: x\nkind: files\nfiles: {pattern: '*.csv'}\ntable: raw.x\n"
        "primary_key: [id]\ncolumns: {id: {type: money}}\n"
    )
    with pytest.raises(DeclarationError, match=r"bad.yml: column 'id': unsupported type 'money'"):
        load_source(path)


def test_sample_orders_are_deterministic(tmp_path: Path) -> None:
    a = write_orders(tmp_path / "a.csv", days=30, seed=3).read_bytes()
    b = write_orders(tmp_path / "b.csv", days=30, seed=3).read_bytes()
    c = write_orders(tmp_path / "c.csv", days=30, seed=4).read_bytes()
    assert a == b
    assert a != c
    assert a.splitlines()[0] == b"order_id,customer_id,ordered_at,status,amount"
