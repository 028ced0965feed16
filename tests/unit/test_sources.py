from decimal import Decimal
from pathlib import Path

import pytest

from metricstack.config import PROJECT_DIR
from metricstack.loading.conversion import FieldError, parser_for
from metricstack.loading.declarations import Column, DeclarationError, load_source, load_sources
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


def test_conversion_types_and_rejects() -> None:
    amount = parser_for(Column("amount", "numeric(18,2)", nullable=False))
    assert amount("12.50") == Decimal("12.50")
    with pytest.raises(FieldError, match="amount: 'n/a' is not a number"):
        amount("n/a")
    with pytest.raises(FieldError, match="amount: empty, but the column is required"):
        amount("")
    when = parser_for(Column("ordered_at", "timestamptz"))
    assert when("2024-01-02T03:04:05").utcoffset() is not None  # naive is read as UTC
    with pytest.raises(FieldError, match="ISO 8601 timestamp"):
        when("02/01/2024 03:04")
    assert parser_for(Column("note", "text"))("") is None


def test_sample_orders_are_deterministic(tmp_path: Path) -> None:
    a = write_orders(tmp_path / "a.csv", days=30, seed=3).read_bytes()
    b = write_orders(tmp_path / "b.csv", days=30, seed=3).read_bytes()
    c = write_orders(tmp_path / "c.csv", days=30, seed=4).read_bytes()
    assert a == b
    assert a != c
    assert a.splitlines()[0] == b"order_id,customer_id,ordered_at,status,amount"
