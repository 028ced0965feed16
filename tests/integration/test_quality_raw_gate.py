"""The raw gate (one GX suite per declared raw table) over the loaded sample company.

The small sample company is loaded by the real loader (raw_sample.py), then the gate
runs as the transform DAG's raw_gate task runs it: through the transformer role, with
every evaluated expectation and the decision written to the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from raw_sample import load_raw_sample

from metricstack.config import Settings
from metricstack.quality import GateFailed, run_gate_task
from metricstack.quality.raw_suites import RAW_GATE

# What the sample company plants on purpose and the raw suites take as warnings.
PLANTED = {
    ("raw.shop_order_lines", "quantity"),
    ("raw.supply_deliveries", "quantity_received"),
}


@dataclass(frozen=True)
class Raw:
    settings: Settings

    def rows(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.settings.warehouse_url) as conn:
            return [tuple(r) for r in conn.execute(query, args)]

    def execute(self, *statements: str) -> None:
        with psycopg.connect(self.settings.warehouse_url, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)


@pytest.fixture
def raw(warehouse: Settings, tmp_path: Path) -> Raw:
    load_raw_sample(warehouse, tmp_path / "company")
    return Raw(warehouse)


def test_raw_gate_passes_the_sample_company_and_records_the_planted_dirt_as_warnings(
    raw: Raw,
) -> None:
    decisions = run_gate_task(raw.settings, (RAW_GATE,), "run-clean")

    assert decisions == {RAW_GATE: "passed_with_warnings"}
    # every declared table was validated, each expectation recorded once
    assets = raw.rows(
        "select count(distinct asset), count(*), count(*) filter (where not success) "
        "from audit.validations where run_id = 'run-clean'"
    )[0]
    assert assets[0] == 28
    assert assets[1] > 28 * 3
    failed = raw.rows(
        "select asset, column_name, severity, unexpected_count, observed_value "
        "from audit.validations where run_id = 'run-clean' and not success"
    )
    assert {(a, c) for a, c, *_ in failed} == PLANTED
    assert {s for _, _, s, *_ in failed} == {"warning"}
    assert all(count and count > 0 for *_, count, _ in failed)
    [(decision, blocking, warnings, reasons)] = raw.rows(
        "select decision, blocking, warnings, reasons from audit.gate_decisions "
        "where run_id = 'run-clean' and gate = %s",
        RAW_GATE,
    )
    assert (decision, blocking, warnings) == ("passed_with_warnings", 0, 2)
    assert {(r["asset"], r["column"]) for r in reasons} == PLANTED
    # warnings are heard: an alert, and the Data Docs hold this run's pages
    [(kind, subject)] = raw.rows(
        "select kind, subject from audit.alerts where run_id = 'run-clean'"
    )
    assert (kind, subject) == ("quality_warning", RAW_GATE)
    docs = raw.settings.data_docs_dir
    assert (docs / "index.html").is_file()
    assert (docs / "expectations" / "raw" / "shop_order_lines.html").is_file()
    assert len(list((docs / "validations").rglob("*.html"))) == 28


def test_a_null_or_duplicated_key_blocks_the_build_and_says_why(raw: Raw) -> None:
    # The loader's raw tables enforce their keys; a table written by something else
    # (or altered) may not: the gate must catch what the constraints would have.
    raw.execute(
        "alter table raw.shop_order_lines drop constraint shop_order_lines_pkey",
        "alter table raw.shop_order_lines alter column order_id drop not null",
        "insert into raw.shop_order_lines select * from raw.shop_order_lines limit 2",
        "insert into raw.shop_order_lines (order_id, line_number, product_id, quantity, "
        "unit_price, unit_cost, line_discount, amount, updated_at, _load_id) "
        "values (null, 1, 1, 1, 1, 1, 0, 1, now(), 0)",
        "alter table raw.crm_nps_responses drop constraint crm_nps_responses_pkey",
        "insert into raw.crm_nps_responses select * from raw.crm_nps_responses limit 1",
        "update raw.crm_nps_responses set score = 11 where response_id = "
        "(select min(response_id) from raw.crm_nps_responses)",
    )

    with pytest.raises(GateFailed) as raised:
        run_gate_task(raw.settings, (RAW_GATE,), "run-dirty")

    message = str(raised.value)
    assert "quality gate 'raw_gate' failed: 4 of" in message
    assert "expect_compound_columns_to_be_unique() on column order_id, line_number" in message
    assert "not blocking" in message  # the planted warnings are still reported

    blocking = raw.rows(
        "select asset, expectation_type, column_name from audit.validations "
        "where run_id = 'run-dirty' and not success and severity = 'critical'"
    )
    assert set(blocking) == {
        ("raw.shop_order_lines", "expect_column_values_to_not_be_null", "order_id"),
        ("raw.shop_order_lines", "expect_compound_columns_to_be_unique", "order_id, line_number"),
        ("raw.crm_nps_responses", "expect_column_values_to_be_unique", "response_id"),
        ("raw.crm_nps_responses", "expect_column_values_to_be_between", "score"),
    }
    [(decision, count, reasons)] = raw.rows(
        "select decision, blocking, reasons from audit.gate_decisions where run_id = 'run-dirty'"
    )
    assert (decision, count) == ("blocked", 4)
    described = " | ".join(r["describe"] for r in reasons if r["severity"] == "critical")
    assert "1 unexpected of" in described  # the null key
    assert "11" in described  # the score out of range
