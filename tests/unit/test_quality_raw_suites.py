"""The raw suites: generated from the declarations, committed in expectations/gx, in sync.

No Great Expectations import and no database: the committed JSON is read as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from metricstack.config import PROJECT_DIR
from metricstack.loading.declarations import DeclarationError, load_sources, load_system
from metricstack.quality.raw_suites import (
    CHECKS_FILE,
    RAW_GATE,
    ExpectationSpec,
    declared_expectations,
    load_checks,
    raw_suites,
    suite_name,
)

GX = PROJECT_DIR / "expectations" / "gx"
SOURCES = load_sources(PROJECT_DIR / "dags" / "sources")
CHECKS = load_checks(PROJECT_DIR / "expectations" / CHECKS_FILE)
REGENERATE = "run PYTHONPATH=plugins .venvs/platform/bin/python expectations/define_gx.py"


def committed(name: str) -> list[ExpectationSpec]:
    data = json.loads((GX / "expectations" / f"{name.replace('.', '/')}.json").read_text())
    return [
        ExpectationSpec(e["type"], e["kwargs"], e["severity"], e.get("notes"))
        for e in data["expectations"]
    ]


def test_every_declared_source_has_its_committed_suite_asset_and_place_in_the_raw_gate() -> None:
    suites = raw_suites(SOURCES, CHECKS)
    assert len(suites) == len(SOURCES) == 28
    for name, specs in suites.items():
        assert [s.signature() for s in committed(name)] == [s.signature() for s in specs], (
            f"expectations/gx suite {name} is out of date: {REGENERATE}"
        )
    checkpoint = json.loads((GX / "checkpoints" / f"{RAW_GATE}.json").read_text())
    assert [v["name"] for v in checkpoint["validation_definitions"]] == list(suites)
    config = yaml.safe_load((GX / "great_expectations.yml").read_text())
    assets = config["fluent_datasources"]["warehouse"]["assets"]
    for source in SOURCES:
        asset = assets[suite_name(source)]
        assert (asset["schema_name"], asset["table_name"]) == (source.schema, source.table)
        definition = json.loads(
            (GX / "validation_definitions" / f"{suite_name(source)}.json").read_text()
        )
        assert definition["data"]["asset"]["id"] == asset["id"]
        assert definition["suite"]["name"] == suite_name(source)


def test_a_compound_key_is_unique_as_a_whole_and_required_columns_are_not_null() -> None:
    [order_lines] = [s for s in SOURCES if s.name == "shop_order_lines"]

    specs = declared_expectations(order_lines)

    assert specs[0] == ExpectationSpec(
        "expect_table_columns_to_match_set",
        {"column_set": list(order_lines.column_names), "exact_match": False},
    )
    kinds = [(s.type, s.kwargs.get("column") or s.kwargs.get("column_list")) for s in specs[1:]]
    assert kinds[:3] == [
        ("expect_column_values_to_not_be_null", "order_id"),
        ("expect_column_values_to_not_be_null", "line_number"),
        ("expect_compound_columns_to_be_unique", ["order_id", "line_number"]),
    ]
    not_null = {c for t, c in kinds[3:] if t == "expect_column_values_to_not_be_null"}
    assert not_null == {c.name for c in order_lines.columns if not c.nullable} - {
        "order_id",
        "line_number",
    }
    assert {s.severity for s in specs} == {"critical"}


def test_a_newly_declared_object_gets_a_suite_without_code(tmp_path: Path) -> None:
    declaration = tmp_path / "billing.yml"
    declaration.write_text(
        "name: billing\nkind: files\nobjects:\n  invoices:\n    pattern: 'inv/*.csv'\n"
        "    primary_key: [invoice_id]\n    columns:\n"
        "      invoice_id: {type: bigint, nullable: false}\n"
        "      note: {type: text}\n"
    )
    sources = list(load_system(declaration).objects)

    suites = raw_suites(sources, {})

    assert list(suites) == ["raw.billing_invoices"]
    assert [s.type for s in suites["raw.billing_invoices"]] == [
        "expect_table_columns_to_match_set",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_unique",
    ]


def test_the_planted_dirt_is_a_warning_and_the_allowed_values_are_critical() -> None:
    suites = raw_suites(SOURCES, CHECKS)
    quantity = [s for s in suites["raw.shop_order_lines"] if s.kwargs.get("column") == "quantity"]
    assert {(s.type, s.severity) for s in quantity} == {
        ("expect_column_values_to_not_be_null", "critical"),
        ("expect_column_values_to_be_between", "warning"),
    }
    status = [s for s in suites["raw.shop_orders"] if s.kwargs.get("column") == "status"]
    assert (
        ExpectationSpec(
            "expect_column_values_to_be_in_set",
            {"column": "status", "value_set": ["delivered", "shipped", "cancelled"]},
        )
        in status
    )
    [score] = [s for s in suites["raw.crm_nps_responses"] if s.kwargs.get("column") == "score"][1:]
    assert (score.kwargs["min_value"], score.kwargs["max_value"], score.severity) == (
        0,
        10,
        "critical",
    )


@pytest.mark.parametrize(
    ("checks", "error"),
    [
        ("nowhere_orders: []\n", "no declared source ['nowhere_orders']"),
        (
            "shop_orders:\n  - {expect: expect_column_values_to_be_between, column: nope}\n",
            "names column 'nope'",
        ),
        (
            "shop_orders:\n  - {expect: expect_column_values_to_be_unique, column: status,"
            " severity: fatal}\n",
            "severity 'fatal'",
        ),
        ("shop_orders:\n  - {column: status}\n", "each check has 'expect: expect_...'"),
    ],
)
def test_a_wrong_check_is_named(tmp_path: Path, checks: str, error: str) -> None:
    path = tmp_path / CHECKS_FILE
    path.write_text(checks)
    with pytest.raises(DeclarationError) as raised:
        raw_suites(SOURCES, load_checks(path))
    assert error in str(raised.value)
