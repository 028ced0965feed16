"""The dbt staging layer and fct_daily_revenue over real raw tables of the sample company.

The small sample company is loaded into its raw tables by the real loader (see
raw_sample.py). Then ``dbt build``
runs the staging models, their tests and unit tests, and the revenue mart, through the
transformer role; the outcomes are checked against the generator's ground truth.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from raw_sample import load_raw_sample

from metricstack.config import Settings
from metricstack.loading.copy_loader import LoadResult
from metricstack.loading.declarations import Source
from metricstack.sample_company.truth import GroundTruth
from metricstack.services.dbt import dbt

# relationships that warn, because the sample company plants orphans on purpose or
# because the loader quarantines the parents (see the models' YAML)
ORPHANS = {
    ("stg_shop__orders", "customer_id"),
    ("stg_shop__order_lines", "product_id"),
    ("stg_crm__funnel_events", "session_id"),
    ("stg_crm__support_tickets", "customer_id"),
    ("stg_supply__quality_inspections", "delivery_id"),
    ("stg_shop__sales_reps", "employee_id"),
    ("stg_crm__support_tickets", "agent_id"),
    ("stg_backoffice__timesheets", "employee_id"),
}


@dataclass(frozen=True)
class Built:
    settings: Settings
    truth: GroundTruth
    sources: list[Source]
    loads: dict[str, LoadResult]
    results: list[dict[str, Any]]  # run_results.json of `dbt build`

    def rows(self, query: str | sql.Composable) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.settings.role_url("transformer")) as conn:
            return [tuple(r) for r in conn.execute(query)]

    def count(self, query: str | sql.Composable) -> int:
        return int(self.rows(query)[0][0])


@pytest.fixture
def built(warehouse: Settings, tmp_path: Path) -> Iterator[Built]:
    sample = load_raw_sample(warehouse, tmp_path / "company")
    dbt(
        warehouse,
        "build",
        "--select",
        "source:*",
        "path:models/staging",
        # only tests whose models are all selected: a staging model's relationship
        # with a mart outside the selection would test a table that does not exist
        "--indirect-selection",
        "cautious",
    )
    run_results = json.loads((warehouse.dbt_target_dir / "run_results.json").read_text())
    # fct_daily_revenue reads fct_orders: the marts it needs, built apart (models only)
    dbt(warehouse, "run", "--select", "+fct_daily_revenue", "--exclude", "path:models/staging")
    yield Built(warehouse, sample.truth, sample.sources, sample.loads, run_results["results"])


def _keys(truth: GroundTruth, table: str, kind: str) -> set[tuple[int | str, ...]]:
    return {tuple(k) for k in truth.keys(table, kind)}


def test_staging_over_the_loaded_sample_company(built: Built) -> None:
    truth = built.truth
    assert len(built.sources) == 28

    # -- dbt build: every model built, no test failed; only the orphans warned --------
    statuses = {r["unique_id"]: r["status"] for r in built.results}
    models = {u.split(".")[-1] for u in statuses if u.startswith("model.")}
    assert models == {f"stg_{s.system}__{s.object}" for s in built.sources}
    assert not {u: s for u, s in statuses.items() if s not in {"success", "pass", "warn"}}
    unit_tests = [u for u in statuses if u.startswith("unit_test.")]
    assert len(unit_tests) == 3
    warned = {u for u, s in statuses.items() if s == "warn"}
    assert all(u.startswith("test.metricstack.relationships_stg_") for u in warned), warned
    # the planted orphans: each relationship warns with as many rows as planted
    failures = {r["unique_id"]: r["failures"] for r in built.results if r["status"] == "warn"}

    def orphans(model: str, column: str) -> int:
        [hit] = [n for u, n in failures.items() if f"relationships_{model}_{column}__" in u] or [0]
        return int(hit)

    assert orphans("stg_shop__orders", "customer_id") == truth.count("orders", "unknown_fk")
    assert orphans("stg_shop__order_lines", "product_id") == truth.count(
        "order_lines", "unknown_fk"
    )
    assert orphans("stg_crm__support_tickets", "customer_id") == truth.count(
        "support_tickets", "unknown_fk"
    )
    # events of unknown sessions, and of sessions quarantined for their start time
    lost_sessions = {k[0] for k in _keys(truth, "web_sessions", "malformed_date")}
    lost_events = built.count(
        sql.SQL(
            "select count(*) from staging.stg_crm__funnel_events where session_id = any({})"
        ).format(sql.Literal(sorted(lost_sessions)))
    )
    assert orphans("stg_crm__funnel_events", "session_id") == (
        truth.count("funnel_events", "unknown_fk") + lost_events
    )
    # every warning is one of the relationships documented as warning
    for unique_id in warned:
        assert any(f"relationships_{m}_{c}__" in unique_id for m, c in ORPHANS), unique_id

    # -- one staging row per raw key, and raw is what the loader kept ---------------------
    for source in built.sources:
        model = f"stg_{source.system}__{source.object}"
        key = sql.SQL(", ").join(map(sql.Identifier, source.primary_key))
        raw_keys = built.count(
            sql.SQL("select count(*) from (select distinct {} from {}.{}) as k").format(
                key, sql.Identifier(source.schema), sql.Identifier(source.table)
            )
        )
        staged = built.count(
            sql.SQL("select count(*) from staging.{}").format(sql.Identifier(model))
        )
        raw_rows = built.count(
            sql.SQL("select count(*) from {}.{}").format(
                sql.Identifier(source.schema), sql.Identifier(source.table)
            )
        )
        # one key per row in staging is the models' unique tests' job (they passed)
        assert staged == raw_rows == raw_keys, model
        load = built.loads[source.object]
        planted = truth.dirt.get(source.object, {})
        duplicates = planted["duplicate"].count if "duplicate" in planted else 0
        assert raw_keys == truth.rows[source.object] - duplicates - load.rows_rejected, model

    # -- the rows the loader quarantines are exactly the unreadable ones -------------------
    assert built.loads["web_sessions"].rows_rejected == truth.count(
        "web_sessions", "malformed_date"
    )
    assert built.loads["deliveries"].rows_rejected == truth.count("deliveries", "malformed_date")
    assert built.loads["employees"].rows_rejected == truth.count("employees", "wrong_encoding")

    # -- flipped quantities: flagged, and restored to their absolute value ----------------
    invalid_lines = built.rows(
        "select order_id, line_number, source_quantity, quantity "
        "from staging.stg_shop__order_lines where not is_valid_quantity"
    )
    assert {(o, n) for o, n, _, _ in invalid_lines} == _keys(
        truth, "order_lines", "negative_quantity"
    )
    assert all(s < 0 and q == -s for _, _, s, q in invalid_lines)
    assert (
        built.count(
            "select count(*) from staging.stg_shop__order_lines "
            "where line_amount <> quantity * unit_price - line_discount"
        )
        == 0
    )
    invalid_deliveries = {
        (d,)
        for (d,) in built.rows(
            "select delivery_id from staging.stg_supply__deliveries where not is_valid_quantity"
        )
    }
    # a delivery with both dirts was quarantined for its date
    assert invalid_deliveries == _keys(truth, "deliveries", "negative_quantity") - _keys(
        truth, "deliveries", "malformed_date"
    )

    # -- fct_daily_revenue agrees with the generator's daily revenue, to the cent --------
    mart = {
        day.isoformat(): (count, revenue, average)
        for day, count, revenue, average in built.rows(
            "select order_date, order_count, revenue, average_order_value "
            "from marts_build.fct_daily_revenue"
        )
    }
    expected = {day: cents for day, cents in truth.daily_revenue_cents.items() if cents}
    assert {day: int(revenue * 100) for day, (_, revenue, _) in mart.items()} == expected
    orders = built.count(
        "select count(*) from staging.stg_shop__orders where order_status <> 'cancelled'"
    )
    assert sum(count for count, _, _ in mart.values()) == orders
    assert built.count("select count(*) from staging.stg_shop__orders where is_cancelled") > 0
