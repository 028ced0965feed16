"""The fct_daily_revenue quality gate against a real PostgreSQL warehouse.

The warehouse is bootstrapped like the demo's (schemas, roles, grants; see conftest),
the mart and the staged orders it reconciles with are created by the transformer role
as dbt would, and the gate runs exactly as in production: through the transformer role.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from metricstack.config import Settings
from metricstack.quality import GateFailed, enforce_gate, run_gate

CHECKPOINT = "fct_daily_revenue_gate"

GOOD_ROWS = [
    ("2026-01-01", 3, "30.00", "10.00"),
    ("2026-01-02", 2, "50.00", "25.00"),
    ("2026-01-03", 1, "0.00", "0.00"),
]
# The staged orders behind GOOD_ROWS (the cancelled one counts for nothing):
# (order_id, order_date, subtotal, discount, is_cancelled)
STAGED_ORDERS = [
    (1, "2026-01-01", "12.00", "2.00", False),
    (2, "2026-01-01", "10.00", "0.00", False),
    (3, "2026-01-01", "10.00", "0.00", False),
    (4, "2026-01-02", "30.00", "0.00", False),
    (5, "2026-01-02", "25.00", "5.00", False),
    (6, "2026-01-02", "99.00", "0.00", True),
    (7, "2026-01-03", "5.00", "5.00", False),
]
EXPECTATIONS = 14  # in the suite (define_gx.fct_daily_revenue_expectations)


@dataclass(frozen=True)
class Mart:
    settings: Settings
    owner_url: str
    state_dir: Path

    def load(self, rows: list[tuple[str, int, str, str]]) -> None:
        with psycopg.connect(self.owner_url, autocommit=True) as conn:
            conn.execute("truncate marts_build.fct_daily_revenue")
            with conn.cursor() as cur:
                cur.executemany(
                    "insert into marts_build.fct_daily_revenue values (%s, %s, %s, %s)", rows
                )


@pytest.fixture
def mart(warehouse: Settings) -> Iterator[Mart]:
    owner_url = warehouse.role_url("transformer")
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(
            "create table marts_build.fct_daily_revenue ("
            " order_date date, order_count bigint,"
            " revenue numeric(18,2), average_order_value numeric(18,2))"
        )
        conn.execute(
            "create table staging.stg_shop__orders (order_id bigint, order_date date,"
            " subtotal numeric(18,2), discount numeric(18,2), is_cancelled boolean)"
        )
        with conn.cursor() as cur:
            cur.executemany(
                "insert into staging.stg_shop__orders values (%s, %s, %s, %s, %s)", STAGED_ORDERS
            )
    yield Mart(settings=warehouse, owner_url=owner_url, state_dir=warehouse.state_dir)


def test_gate_passes_on_good_rows(mart: Mart) -> None:
    mart.load(GOOD_ROWS)

    result = enforce_gate(mart.settings, CHECKPOINT)

    assert result.success
    assert result.failures == ()
    assert result.evaluated == result.successful == EXPECTATIONS
    assert result.decision == "passed"
    index = mart.state_dir / "data_docs" / "index.html"
    assert index.is_file()
    assert index == mart.settings.data_docs_dir / "index.html"
    assert result.data_docs_index == index.as_uri()
    # the run's validation result is kept in the state folder, not in the repository
    assert list((mart.state_dir / "gx" / "validations").rglob("*.json"))


def test_gate_fails_on_negative_revenue_and_duplicate_date(mart: Mart) -> None:
    mart.load([*GOOD_ROWS, ("2026-01-02", 1, "-5.00", "5.00")])

    with pytest.raises(GateFailed) as raised:
        enforce_gate(mart.settings, CHECKPOINT)

    result = raised.value.result
    assert not result.success
    assert {(f.expectation_type, f.column) for f in result.failures} == {
        ("expect_column_values_to_be_between", "revenue"),
        ("expect_column_values_to_be_unique", "order_date"),
        # the extra row is in the mart, not in the staged orders
        ("unexpected_rows_expectation", None),
    }
    assert not any(f.error for f in result.failures)
    message = str(raised.value)
    assert CHECKPOINT in message
    assert "expect_column_values_to_be_between(min_value=0.0) on column revenue" in message
    assert "-5.00" in message
    assert "expect_column_values_to_be_unique() on column order_date" in message
    assert "2026-01-02 (x2)" in message
    assert str(mart.state_dir / "data_docs") in message
    assert (mart.state_dir / "data_docs" / "index.html").is_file()


def test_gate_fails_when_the_column_set_breaks_the_contract(mart: Mart) -> None:
    mart.load(GOOD_ROWS)
    with psycopg.connect(mart.owner_url, autocommit=True) as conn:
        conn.execute("alter table marts_build.fct_daily_revenue add column note text")
    try:
        result = run_gate(mart.settings, CHECKPOINT)
    finally:
        with psycopg.connect(mart.owner_url, autocommit=True) as conn:
            conn.execute("alter table marts_build.fct_daily_revenue drop column note")

    assert not result.success
    [failure] = result.failures
    assert failure.expectation_type == "expect_table_columns_to_match_set"
    assert failure.column is None
    assert "note" in failure.observed_value


def test_gate_reconciles_the_mart_with_the_staged_orders(mart: Mart) -> None:
    # a day whose revenue lost a cent, and a day missing altogether
    mart.load([("2026-01-01", 3, "29.99", "10.00"), ("2026-01-02", 2, "50.00", "25.00")])

    result = run_gate(mart.settings, CHECKPOINT)

    assert result.decision == "blocked"
    [failure] = result.failures
    assert failure.expectation_type == "unexpected_rows_expectation"
    assert failure.severity == "critical" and not failure.error
    assert failure.unexpected_count == 2
    assert "Reconciles with staging" in failure.expected


def test_implausible_values_are_warnings_that_let_the_mart_through(mart: Mart) -> None:
    with psycopg.connect(mart.owner_url, autocommit=True) as conn:
        conn.execute("update staging.stg_shop__orders set subtotal = 60000 where order_id = 7")
    mart.load([*GOOD_ROWS[:2], ("2026-01-03", 1, "59995.00", "59995.00")])

    result = enforce_gate(mart.settings, CHECKPOINT)  # does not raise

    assert result.success and result.decision == "passed_with_warnings"
    [warning] = result.warnings
    assert (warning.column, warning.severity) == ("average_order_value", "warning")


def _steady_days(
    days: int, revenue: int = 100
) -> tuple[list[tuple[str, int, str, str]], list[tuple[int, str, str, str, bool]]]:
    """``days`` days from 2026-01-01 of one order each, and the staged orders behind them."""
    from datetime import date, timedelta

    first = date(2026, 1, 1)
    rows = [
        ((first + timedelta(d)).isoformat(), 1, f"{revenue}.00", f"{revenue}.00")
        for d in range(days)
    ]
    staged = [(d + 1, row[0], row[2], "0.00", False) for d, row in enumerate(rows)]
    return rows, staged


@pytest.mark.parametrize(("factor", "blocks"), [(100, True), (3, False)])
def test_a_day_far_above_the_best_of_its_last_weeks_is_a_spike_that_blocks(
    mart: Mart, factor: int, blocks: bool
) -> None:
    rows, staged = _steady_days(30)
    last = rows[-1][0]
    rows[-1] = (last, 1, f"{100 * factor}.00", f"{100 * factor}.00")
    staged[-1] = (30, last, f"{100 * factor}.00", "0.00", False)
    with psycopg.connect(mart.owner_url, autocommit=True) as conn:
        conn.execute("truncate staging.stg_shop__orders")
        with conn.cursor() as cur:
            cur.executemany(
                "insert into staging.stg_shop__orders values (%s, %s, %s, %s, %s)", staged
            )
    mart.load(rows)

    result = run_gate(mart.settings, CHECKPOINT)

    spikes = [f for f in result.failures if "No revenue spike" in f.expected]
    assert result.success is not blocks
    assert [(f.unexpected_count, f.severity) for f in spikes] == (
        [(1, "critical")] if blocks else []
    )


def test_the_demo_company_s_three_years_pass_the_spike_rule(mart: Mart) -> None:
    """The demo's own company (default size and seed, its planted dip included): every
    day's orders and revenue as the mart has them, and staged orders that add up to them."""
    import pandas as pd

    from metricstack.config import load_settings
    from metricstack.sample_company.generator import generate

    company = generate(load_settings({}).sample_company)
    orders = pd.concat(c.frame for c in company.chunks() if c.table == "orders")
    orders = orders.drop_duplicates("order_id", keep="last")  # the planted duplicates
    sold = orders[orders["status"] != "cancelled"]
    day = pd.to_datetime(sold["ordered_at"], utc=True).dt.strftime("%Y-%m-%d")
    daily = (sold["subtotal"] - sold["discount"]).groupby(day).agg(["sum", "count"])
    rows, staged = [], []
    for d, (revenue, count) in daily.iterrows():
        cents = round(revenue * 100)
        rows.append((d, int(count), f"{cents / 100:.2f}", f"{cents / 100 / count:.2f}"))
        # the day's revenue on its first order, the others at zero: same count and sum
        staged += [
            (len(staged) + i, d, f"{cents / 100 if i == 0 else 0:.2f}", "0.00", False)
            for i in range(int(count))
        ]
    with psycopg.connect(mart.owner_url, autocommit=True) as conn:
        conn.execute("truncate staging.stg_shop__orders")
        with conn.cursor() as cur:
            cur.executemany(
                "insert into staging.stg_shop__orders values (%s, %s, %s, %s, %s)", staged
            )
    mart.load(rows)

    result = run_gate(mart.settings, CHECKPOINT)

    assert company.truth.anomalies.dip_day is not None
    assert len(rows) > 1000
    assert result.decision == "passed", [f.describe() for f in result.failures]
