"""The Operations and Finance marts and their MetricFlow metrics over the sample company.

The small sample company is loaded into its raw tables by the real loader (see
raw_sample.py); dbt builds the operations and finance marts with everything upstream,
their tests and unit tests. KPIs of the marts are then recomputed with pandas from the
generator's own files (not through dbt) and compared, the planted late supplier must
show, and MetricFlow (`mf`) validates the semantic layer and answers one query as the
mart does.

`mf` (dbt-metricflow 0.15) reads the semantic manifest from
``<dbt project>/target/semantic_manifest.json``, whatever DBT_TARGET_PATH says; the
stack writes dbt's artifacts to the state folder (``settings.dbt_target_dir``). So `mf`
runs with DBT_PROJECT_DIR set to the folder above that target folder, holding a link
to dbt_project.yml (see ``_mf``).
"""

from __future__ import annotations

import csv
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
from psycopg import sql
from raw_sample import load_raw_sample

from metricstack.config import Settings
from metricstack.sample_company.truth import GroundTruth
from metricstack.services.dbt import dbt
from metricstack.services.environment import base_env, bin_path, dbt_env

SELECT = ("+path:models/marts/operations", "+path:models/marts/finance")
MARTS = {
    "dim_suppliers",
    "dim_employees",
    "dim_cost_centres",
    "fct_deliveries",
    "fct_supplier_performance_monthly",
    "fct_product_quality_monthly",
    "fct_inventory_snapshots",
    "fct_inventory_monthly",
    "fct_employee_productivity_weekly",
    "fct_department_productivity_weekly",
    "fct_operating_costs_monthly",
    "fct_general_ledger",
    "fct_income_statement_monthly",
}
INTERMEDIATE = {
    "int_product_units_sold_monthly",
    "int_timesheets_costed",
    "int_general_ledger_classified",
}
# relationships that warn on purpose: the sample company plants orphans, or the loader
# quarantines the parents (see the models' YAML)
WARNS = (
    "relationships_stg_backoffice__timesheets_employee_id__",
    "relationships_stg_shop__order_lines_product_id__",
    "relationships_stg_supply__quality_inspections_delivery_id__",
    "relationships_fct_employee_productivity_weekly_employee_id__",
    # the shop's planted orphans: inventory's units sold come from the sales facts, so
    # the build holds the shop's orders, customers and sales reps
    "relationships_stg_shop__orders_customer_id__",
    "relationships_stg_shop__sales_reps_employee_id__",
)


@dataclass(frozen=True)
class Built:
    settings: Settings
    truth: GroundTruth
    folder: Path  # the generator's CSV files
    results: list[dict[str, Any]]  # run_results.json of `dbt build`
    seconds: float  # the dbt build's wall time

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.settings.role_url("transformer")) as conn:
            return [tuple(r) for r in conn.execute(query)]

    def csv(self, table: str, **kwargs: Any) -> pd.DataFrame:
        return pd.read_csv(self.folder / f"{table}.csv", **kwargs)


@pytest.fixture
def built(warehouse: Settings, tmp_path: Path) -> Iterator[Built]:
    sample = load_raw_sample(warehouse, tmp_path / "company")
    started = time.monotonic()
    # cautious: the staging tests of models outside the selection (customers, CRM)
    # belong to the staging test
    dbt(warehouse, "build", "--select", *SELECT, "--indirect-selection", "cautious")
    seconds = time.monotonic() - started
    run_results = json.loads((warehouse.dbt_target_dir / "run_results.json").read_text())
    yield Built(warehouse, sample.truth, sample.folder, run_results["results"], seconds)


def _mf(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`mf` against the semantic manifest dbt wrote to the state folder."""
    root = settings.dbt_target_dir.parent
    link = root / "dbt_project.yml"
    if not link.exists():
        link.symlink_to(settings.dbt_project_dir / "dbt_project.yml")
    env = base_env(settings) | dbt_env(settings) | {"DBT_PROJECT_DIR": str(root)}
    return subprocess.run(
        [bin_path("mf"), *args],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )


def _iso_dates(values: pd.Series) -> pd.Series:
    """Dates of ISO text; text in another format (quarantined by the loader) is NaT."""
    return pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")


def _month(values: pd.Series) -> pd.Series:
    return values.dt.to_period("M").dt.start_time.dt.date


def _close(a: Decimal | float | None, b: float, places: int = 4) -> bool:
    return a is not None and abs(float(a) - b) <= 10**-places


def test_operations_and_finance_marts(built: Built) -> None:
    print(f"dbt build of the operations and finance marts: {built.seconds:.1f} s")

    # -- dbt build: every model built, every test passed, only documented warnings ---
    statuses = {r["unique_id"]: r["status"] for r in built.results}
    models = {u.split(".")[-1] for u in statuses if u.startswith("model.")}
    assert models >= MARTS | INTERMEDIATE | {"metricflow_time_spine"}
    assert not {u: s for u, s in statuses.items() if s not in {"success", "pass", "warn"}}
    warned = {u for u, s in statuses.items() if s == "warn"}
    assert all(any(w in u for w in WARNS) for u in warned), warned
    unit_tests = {u.split(".")[-1] for u in statuses if u.startswith("unit_test.")}
    assert {
        "fct_deliveries_on_time_lead_time_and_acceptance",
        "fct_inventory_monthly_turnover_and_days_of_inventory",
        "fct_income_statement_monthly_margins_ratios_and_comparisons",
        "int_general_ledger_classified_signs_amounts_as_accounts_read",
    } <= unit_tests
    data_tests = [u for u in statuses if u.startswith("test.")]
    for mart in MARTS:
        assert any(f"_{mart}_" in u for u in data_tests), f"{mart} has no data test"

    # -- supplier on-time delivery and lead time, from the generator's files ---------
    deliveries = built.csv("deliveries", dtype={"delivered_on": str})
    deliveries["delivered_on"] = _iso_dates(deliveries["delivered_on"])
    deliveries = deliveries.dropna(subset=["delivered_on"])  # quarantined by the loader
    deliveries["promised_on"] = pd.to_datetime(deliveries["promised_on"])
    orders_placed = built.csv("purchase_orders", parse_dates=["ordered_on"])
    deliveries = deliveries.merge(
        orders_placed[["purchase_order_id", "supplier_id", "ordered_on"]], on="purchase_order_id"
    )
    deliveries["month"] = _month(deliveries["delivered_on"])
    deliveries["on_time"] = deliveries["delivered_on"] <= deliveries["promised_on"]
    deliveries["lead_time"] = (deliveries["delivered_on"] - deliveries["ordered_on"]).dt.days
    expected_months = deliveries.groupby(["supplier_id", "month"]).agg(
        deliveries=("delivery_id", "size"),
        on_time=("on_time", "mean"),
        lead_time=("lead_time", "mean"),
    )
    mart_months = {
        (supplier, month): (count, rate, lead)
        for supplier, month, count, rate, lead in built.rows(
            "select supplier_id, delivery_month, delivery_count, on_time_rate, "
            "average_lead_time_days from marts_build.fct_supplier_performance_monthly"
        )
    }
    assert set(mart_months) == set(expected_months.index)
    for key, row in expected_months.iterrows():
        count, rate, lead = mart_months[key]
        assert count == row["deliveries"], key
        assert _close(rate, row["on_time"]), key
        assert _close(lead, row["lead_time"], 2), key

    # -- defect rate per supplier, from the inspections of those deliveries ---------
    inspections = built.csv("quality_inspections").merge(
        deliveries[["delivery_id", "supplier_id"]], on="delivery_id"
    )
    sums = inspections.groupby("supplier_id")[["defects", "sample_size"]].sum()
    expected_defects = (sums["defects"] / sums["sample_size"]).to_dict()
    mart_defects = dict(
        built.rows(
            "select supplier_id, sum(units_defective)::numeric / sum(units_inspected) "
            "from marts_build.fct_product_quality_monthly group by 1"
        )
    )
    assert mart_defects.keys() == expected_defects.keys()
    for supplier, rate in expected_defects.items():
        assert _close(mart_defects[supplier], rate, 8), supplier

    # -- the planted late supplier: the lowest on-time rate after its onset ---------
    late = built.truth.anomalies.late_supplier_id
    late_from = built.truth.anomalies.late_from
    assert late is not None and late_from is not None
    after = built.rows(
        "select supplier_id, sum(on_time_delivery_count)::numeric / sum(delivery_count) "
        "from marts_build.fct_supplier_performance_monthly "
        f"where delivery_month > date '{late_from.isoformat()}' group by 1 order by 2, 1"
    )
    assert after[0][0] == late, after
    assert after[0][1] < after[1][1]
    before = dict(
        built.rows(
            "select supplier_id, sum(on_time_delivery_count)::numeric / sum(delivery_count) "
            "from marts_build.fct_supplier_performance_monthly "
            f"where delivery_month < date '{late_from.replace(day=1).isoformat()}' group by 1"
        )
    )
    assert before[late] > after[0][1] + Decimal("0.3")  # it turned late; it was not always

    # -- inventory turnover per product, warehouse and month -----------------------
    snapshots = built.csv("inventory_snapshots", parse_dates=["snapshot_date"])
    snapshots["month"] = _month(snapshots["snapshot_date"])
    stock = snapshots.groupby(["month", "product_id", "warehouse_id"])["on_hand"].mean()
    orders = built.csv("orders").drop_duplicates()
    orders = orders[orders["status"] != "cancelled"]
    orders["month"] = _month(pd.to_datetime(orders["ordered_at"], utc=True).dt.tz_localize(None))
    lines = built.csv("order_lines").drop_duplicates()
    lines["quantity"] = lines["quantity"].abs()
    sold = (
        lines.merge(orders[["order_id", "warehouse_id", "month"]], on="order_id")
        .groupby(["month", "product_id", "warehouse_id"])["quantity"]
        .sum()
    )
    turnover = (sold.reindex(stock.index, fill_value=0) / stock).where(stock > 0)
    mart_turnover = {
        (month, product, wh): (value, units)
        for month, product, wh, value, units in built.rows(
            "select inventory_month, product_id, warehouse_id, inventory_turnover, units_sold "
            "from marts_build.fct_inventory_monthly"
        )
    }
    assert set(mart_turnover) == set(stock.index)
    for key, value in turnover.items():
        mart_value, units = mart_turnover[key]
        assert units == sold.get(key, 0), key
        if pd.isna(value):
            assert mart_value is None, key
        else:
            assert _close(mart_value, units / stock[key]), key
    assert sold.sum() > 0 and turnover.notna().sum() > 100

    # -- warehouse productivity: units shipped per hour, per week -------------------
    timesheets = built.csv("timesheets")
    shipping = timesheets[timesheets["output_kind"] == "units_shipped"]
    weekly = shipping.groupby("week_start")[["output_units", "hours"]].sum()
    expected_per_hour = (weekly["output_units"] / weekly["hours"]).to_dict()
    mart_per_hour = {
        week.isoformat(): rate
        for week, rate in built.rows(
            "select week_start, output_per_hour "
            "from marts_build.fct_department_productivity_weekly "
            "where output_kind = 'units_shipped'"
        )
    }
    assert mart_per_hour.keys() == expected_per_hour.keys()
    for week, rate in expected_per_hour.items():
        assert _close(mart_per_hour[week], rate), week

    # -- operating costs: the breakdown adds up to the source, month by month -------
    costs = built.csv("operating_costs").groupby("cost_month")["amount"].sum().round(2)
    mart_costs = {
        month.isoformat(): total
        for month, total in built.rows(
            "select cost_month, sum(cost_amount) "
            "from marts_build.fct_operating_costs_monthly group by 1"
        )
    }
    assert {m: float(t) for m, t in mart_costs.items()} == costs.to_dict()

    # -- the income statement, from the ledger frame --------------------------------
    ledger = built.csv("general_ledger", dtype={"account_code": str})
    ledger["month"] = pd.to_datetime(ledger["posted_on"]).dt.to_period("M").dt.start_time.dt.date
    ledger["net_debit"] = ledger["debit"] - ledger["credit"]
    by_account = ledger.pivot_table(
        index="month", columns="account_code", values="net_debit", aggfunc="sum", fill_value=0
    )
    revenue = -by_account["4000"] - by_account["4100"] - by_account["4900"]
    cogs = by_account["5000"]
    opex = by_account[[c for c in by_account.columns if c.startswith("6")]].sum(axis=1)
    statement = {
        month: (net_revenue, gross_margin, operating_income, gross_pct, operating_pct, ytd)
        for month, net_revenue, gross_margin, operating_income, gross_pct, operating_pct, ytd in (
            built.rows(
                "select income_month, net_revenue, gross_margin, operating_income, "
                "gross_margin_pct, operating_margin_pct, net_revenue_year_to_date "
                "from marts_build.fct_income_statement_monthly"
            )
        )
    }
    assert set(statement) == set(revenue.index)
    for month in revenue.index:
        net_revenue, gross_margin, operating_income, gross_pct, operating_pct, ytd = statement[
            month
        ]
        assert _close(net_revenue, revenue[month], 2), month
        assert _close(gross_margin, revenue[month] - cogs[month], 2), month
        assert _close(operating_income, revenue[month] - cogs[month] - opex[month], 2), month
        assert _close(gross_pct, (revenue[month] - cogs[month]) / revenue[month]), month
        assert _close(
            operating_pct, (revenue[month] - cogs[month] - opex[month]) / revenue[month]
        ), month
        same_year = [m for m in revenue.index if m.year == month.year and m <= month]
        assert _close(ytd, revenue[same_year].sum(), 2), month
    # sales revenue in the ledger is the shop's revenue: the generator's ground truth
    sales = dict(
        built.rows(
            "select income_month, sales_revenue from marts_build.fct_income_statement_monthly"
        )
    )
    truth_months: dict[date, int] = {}
    for day, cents in built.truth.daily_revenue_cents.items():
        first = date.fromisoformat(day).replace(day=1)
        truth_months[first] = truth_months.get(first, 0) + cents
    assert {m: round(v * 100) for m, v in sales.items()} == {
        m: truth_months.get(m, 0) for m in sales
    }
    # its order count is the sales rollup's, month by month (zero outside its span)
    orders_by_month = dict(
        built.rows("select period_start, order_count from marts_build.fct_sales_revenue_monthly")
    )
    counted = dict(
        built.rows("select income_month, order_count from marts_build.fct_income_statement_monthly")
    )
    assert sum(counted.values()) > 0
    assert counted == {m: orders_by_month.get(m, 0) for m in counted}

    # -- MetricFlow: the semantic layer validates, and a query equals the mart -------
    # --skip-dw: the warehouse checks query every semantic model of the project, and
    # only these marts are built here; the query below runs ours against the warehouse
    validated = _mf(built.settings, "validate-configs", "--skip-dw")
    assert validated.returncode == 0, validated.stdout[-3000:] + validated.stderr[-2000:]
    answer = built.settings.dbt_target_dir.parent / "ledger_revenue.csv"
    queried = _mf(
        built.settings,
        "query",
        "--metrics",
        "ledger_revenue,ledger_gross_margin_pct,ledger_revenue_year_to_date",
        "--group-by",
        "metric_time__month",
        "--order",
        "metric_time__month",
        "--csv",
        str(answer),
    )
    assert queried.returncode == 0, queried.stdout[-3000:] + queried.stderr[-2000:]
    with answer.open() as file:
        mf_rows = {row["metric_time__month"][:10]: row for row in csv.DictReader(file)}
    assert set(mf_rows) == {m.isoformat() for m in statement}
    for month, (net_revenue, _, _, gross_pct, _, ytd) in statement.items():
        row = mf_rows[month.isoformat()]
        assert _close(net_revenue, float(row["ledger_revenue"]), 2), month
        assert _close(gross_pct, float(row["ledger_gross_margin_pct"])), month
        assert _close(ytd, float(row["ledger_revenue_year_to_date"]), 2), month

    # -- incremental facts: a second run merges changed rows only -------------------
    _incremental_facts_take_changed_rows_only(built)


def _incremental_facts_take_changed_rows_only(built: Built) -> None:
    """A second run merges a restated snapshot and ledger line; nothing doubles."""
    before = built.rows(
        "select (select count(*) from marts_build.fct_inventory_snapshots), "
        "(select count(*) from marts_build.fct_general_ledger)"
    )[0]
    with psycopg.connect(built.settings.role_url("loader")) as conn:
        # the history as if loaded days before the last run (it was loaded in one go,
        # so every row has the same _loaded_at, which the run re-takes)...
        for table in ("supply_inventory_snapshots", "backoffice_general_ledger"):
            conn.execute(
                sql.SQL("update raw.{} set _loaded_at = _loaded_at - interval '10 days'").format(
                    sql.Identifier(table)
                )
            )
        # ...then a restatement, as the loader's merge writes it: new values, a new
        # _loaded_at
        conn.execute(
            "update raw.supply_inventory_snapshots set on_hand = 99999, _loaded_at = now() "
            "where (snapshot_date, product_id, warehouse_id) = "
            "(select snapshot_date, product_id, warehouse_id "
            " from raw.supply_inventory_snapshots order by 1, 2, 3 limit 1)"
        )
        conn.execute(
            "update raw.backoffice_general_ledger set account_name = 'Sales revenue (restated)', "
            "_loaded_at = now() where entry_id = (select min(entry_id) "
            "from raw.backoffice_general_ledger where account_code = '4000')"
        )
    # no late-arrival window: exactly the rows loaded since the last run
    dbt(
        built.settings,
        "run",
        "--select",
        "fct_inventory_snapshots",
        "fct_general_ledger",
        "--vars",
        "{inventory_late_arrival_hours: 0, ledger_late_arrival_hours: 0}",
    )
    after = built.rows(
        "select (select count(*) from marts_build.fct_inventory_snapshots), "
        "(select count(*) from marts_build.fct_general_ledger)"
    )[0]
    assert after == before
    assert built.rows(
        "select count(*) from marts_build.fct_inventory_snapshots where units_on_hand = 99999"
    ) == [(1,)]
    assert built.rows(
        "select count(*) from marts_build.fct_general_ledger "
        "where account_name = 'Sales revenue (restated)'"
    ) == [(1,)]
    # each model merged the one changed row, not the whole history
    run_results = json.loads((built.settings.dbt_target_dir / "run_results.json").read_text())
    affected = {
        r["unique_id"].split(".")[-1]: r["adapter_response"].get("rows_affected")
        for r in run_results["results"]
    }
    assert affected == {"fct_inventory_snapshots": 1, "fct_general_ledger": 1}, affected
