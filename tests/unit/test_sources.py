"""The bundled source declarations, and how a bad declaration is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from metricstack.config import PROJECT_DIR
from metricstack.loading.declarations import (
    DeclarationError,
    find_source,
    load_system,
    load_systems,
)
from metricstack.sample_company.schema import SCHEMAS

SOURCES = PROJECT_DIR / "dags" / "sources"


def test_every_sample_company_table_is_declared_as_the_generator_makes_it() -> None:
    """A declaration that drifted from the sample company would quarantine good rows."""
    declared = {s.object: s for system in load_systems(SOURCES) for s in system.objects}
    assert set(declared) == set(SCHEMAS)
    for name, schema in SCHEMAS.items():
        source = declared[name]
        extra = ("updated_at",) if source.kind in {"database", "http"} else ()
        assert source.column_names == schema.column_names + extra, name
        for column in schema.columns:
            got = next(c for c in source.columns if c.name == column.name)
            assert (got.type, got.nullable) == (column.type, column.nullable), (name, got)
        assert source.primary_key == schema.primary_key, name
        assert (source.schema, source.table) == ("raw", f"{source.system}_{name}")


def test_kinds_locations_and_lookup() -> None:
    systems = {s.name: s for s in load_systems(SOURCES)}
    assert {n: s.kind for n, s in systems.items()} == {
        "shop": "database",
        "crm": "http",
        "marketing": "s3",
        "supply": "files",
        "backoffice": "files",
    }
    orders = find_source(SOURCES, "shop.orders")
    assert (orders.location, orders.incremental_key, orders.format) == (
        "orders",
        "updated_at",
        "csv",
    )
    assert find_source(SOURCES, "marketing_web_sessions").location == "web_sessions/"
    assert find_source(SOURCES, "crm_nps_responses").format == "jsonl"
    assert find_source(SOURCES, "supply_deliveries").location == "deliveries/*.xlsx"
    with pytest.raises(DeclarationError, match="no declared object 'shop_nothing'"):
        find_source(SOURCES, "shop_nothing")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "name: x\nkind: files\nobjects:\n  a:\n    pattern: '*.csv'\n"
            "    primary_key: [id]\n    columns: {id: {type: money}}\n",
            r"bad.yml: object 'a': column 'id': unsupported type 'money'",
        ),
        (
            "name: x\nkind: database\nconnection: c\nobjects:\n  a:\n"
            "    primary_key: [id]\n    columns: {id: bigint}\n",
            r"bad.yml: object 'a': a database object needs an incremental_key",
        ),
        ("name: x\nkind: ftp\nobjects: {}\n", r"bad.yml: kind 'ftp' is not one of"),
        ("name: x\nkind: s3\nconnection: c\nobjects: {}\n", r"bad.yml: an s3 source needs"),
        (
            "name: x\nkind: files\nobjects:\n  a:\n    primary_key: [id]\n"
            "    columns: {id: bigint}\n",
            r"bad.yml: object 'a': missing field 'pattern'",
        ),
    ],
)
def test_declaration_errors_name_file_and_field(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(body)
    with pytest.raises(DeclarationError, match=message):
        load_system(path)


def test_two_objects_into_one_raw_table_is_an_error(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.yml").write_text(
            f"name: {name}\nkind: files\nobjects:\n  t:\n    pattern: '*.csv'\n"
            "    into: raw.same\n    primary_key: [id]\n    columns: {id: bigint}\n"
        )
    with pytest.raises(DeclarationError, match=r"raw.same is also the raw table of"):
        load_systems(tmp_path)
