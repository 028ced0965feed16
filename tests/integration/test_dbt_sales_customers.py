"""The Sales and Customers marts and their MetricFlow metrics over the small sample company.

The small sample company is loaded into real raw tables (raw_sample.py); one
`dbt build` of the marts and everything upstream is shared by the module's tests.
KPI values are checked against figures computed with pandas from the generator's own
CSV files, not through dbt; `mf` validates the semantic layer and its revenue metric
equals the monthly mart.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
from psycopg import sql
from raw_sample import load_raw_sample
from semantic_layer import mf
from support import new_database

from metricstack.config import ROLES, Settings, load_settings
from metricstack.services.dbt import dbt
from metricstack.warehouse.bootstrap import ensure_warehouse

PAID = ("affiliate", "display", "email", "paid_search", "paid_social")


@dataclass(frozen=True)
class Built:
    settings: Settings
    folder: Path  # the company's CSV files
    results: list[dict[str, Any]]
    seconds: float
    work: Path

    def frame(self, query: str) -> pd.DataFrame:
        with psycopg.connect(self.settings.role_url("transformer")) as conn:
            cur = conn.execute(query)
            columns = [c.name for c in cur.description or []]
            return pd.DataFrame(cur.fetchall(), columns=columns)

    def csv(self, name: str, key: list[str]) -> pd.DataFrame:
        return pd.read_csv(self.folder / f"{name}.csv").drop_duplicates(key, keep="last")


@pytest.fixture(scope="module")
def built(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    work = tmp_path_factory.mktemp("sales_customers")
    with new_database(pg_server) as url:
        settings = load_settings(
            {
                "METRICSTACK_STATE_DIR": str(work / "state"),
                "WAREHOUSE_URL": url,
                "METRICSTACK_LANDING_DIR": str(work / "landing"),
                "METRICSTACK_ROLE_PREFIX": f"ms_{uuid.uuid4().hex[:8]}",
            }
        )
        settings.ensure_secrets()
        ensure_warehouse(settings)
        try:
            sample = load_raw_sample(settings, work / "company")
            started = time.monotonic()
            dbt(
                settings,
                "build",
                "--select",
                "+path:models/marts/sales",
                "+path:models/marts/customers",
                "--indirect-selection",
                "cautious",
            )
            seconds = time.monotonic() - started
            run_results = json.loads((settings.dbt_target_dir / "run_results.json").read_text())
            yield Built(settings, sample.folder, run_results["results"], seconds, work)
        finally:
            roles = [sql.Identifier(settings.role_name(r)) for r in ROLES]
            with psycopg.connect(url, autocommit=True) as conn:
                for role in roles:
                    conn.execute(sql.SQL("drop owned by {} cascade").format(role))
                for role in roles:
                    conn.execute(sql.SQL("drop role {}").format(role))


def _orders(built: Built) -> pd.DataFrame:
    orders = built.csv("orders", ["order_id"])
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"], utc=True)
    orders["order_date"] = orders["ordered_at"].dt.tz_convert(None).dt.normalize()
    orders["revenue"] = (orders["subtotal"] - orders["discount"]).where(
        orders["status"] != "cancelled", 0.0
    )
    return orders


def test_every_model_built_and_every_test_passed(built: Built) -> None:
    print(f"dbt build of the sales and customer marts: {built.seconds:.1f} s")
    statuses = {r["unique_id"]: r["status"] for r in built.results}
    assert not {u: s for u, s in statuses.items() if s not in {"success", "pass", "warn"}}
    models = {u.split(".")[-1] for u in statuses if u.startswith("model.")}
    for expected in (
        "fct_orders",
        "fct_order_lines",
        "fct_funnel_events",
        "dim_customers",
        "dim_products",
        "dim_geography",
        "dim_sales_reps",
        "fct_daily_revenue",
        "fct_sales_revenue_daily",
        "fct_sales_revenue_weekly",
        "fct_sales_revenue_monthly",
        "fct_product_performance_monthly",
        "fct_category_performance_monthly",
        "fct_funnel_conversion_weekly",
        "fct_sales_geography_monthly",
        "fct_sales_rep_performance_monthly",
        "fct_sales_team_performance_monthly",
        "fct_customer_rfm",
        "fct_customer_lifetime_value",
        "fct_customer_churn_monthly",
        "fct_customer_acquisition_monthly",
        "fct_marketing_spend",
        "fct_nps_responses",
        "fct_customer_satisfaction_monthly",
        "fct_cohort_retention",
    ):
        assert expected in models, expected
    assert any(u.startswith("unit_test.metricstack.fct_customer_churn") for u in statuses)


def test_monthly_revenue_equals_the_generator(built: Built) -> None:
    orders = _orders(built)
    expected = orders.groupby(orders["order_date"].dt.to_period("M"))["revenue"].sum()
    mart = built.frame("select period_start, revenue from marts_build.fct_sales_revenue_monthly")
    got = {pd.Period(d, "M"): Decimal(r) for d, r in mart.itertuples(index=False)}
    assert got == {p: Decimal(str(round(v, 2))) for p, v in expected.items()}
    # weekly and daily add up to the same total
    for grain in ("daily", "weekly"):
        total = built.frame(f"select sum(revenue) from marts_build.fct_sales_revenue_{grain}")
        assert total.iloc[0, 0] == sum(got.values())


def test_customer_rfm_and_clv_of_one_customer(built: Built) -> None:
    orders = _orders(built)
    known = set(built.csv("customers", ["customer_id"])["customer_id"])
    sold = orders[(orders["status"] != "cancelled") & orders["customer_id"].isin(known)]
    as_of = orders["order_date"].max()
    per = sold.groupby("customer_id").agg(
        last=("order_date", "max"),
        first=("order_date", "min"),
        frequency=("order_id", "count"),
        monetary=("revenue", "sum"),
    )
    per["recency"] = (as_of - per["last"]).dt.days
    per = per.reset_index()

    def ntile(frame: pd.DataFrame, by: list[str], ascending: list[bool]) -> pd.Series:
        ordered = frame.sort_values(by, ascending=ascending)
        n = len(ordered)
        size, extra = divmod(n, 5)
        tiles = [t + 1 for t in range(5) for _ in range(size + (1 if t < extra else 0))]
        return pd.Series(tiles, index=ordered.index)

    per["r"] = ntile(per, ["recency", "customer_id"], [False, True])
    per["f"] = ntile(per, ["frequency", "customer_id"], [True, True])
    per["m"] = ntile(per, ["monetary", "customer_id"], [True, True])
    top = per.sort_values(["frequency", "monetary"], ascending=False).iloc[0]
    customer = int(top["customer_id"])
    rfm = built.frame(
        "select recency_days, frequency, monetary, recency_score, frequency_score,"
        f" monetary_score from marts_build.fct_customer_rfm where customer_id = {customer}"
    ).iloc[0]
    assert int(rfm["recency_days"]) == top["recency"]
    assert int(rfm["frequency"]) == top["frequency"]
    assert rfm["monetary"] == Decimal(str(round(top["monetary"], 2)))
    assert (rfm["recency_score"], rfm["frequency_score"], rfm["monetary_score"]) == (
        top["r"],
        top["f"],
        top["m"],
    )
    assert built.frame("select count(*) from marts_build.fct_customer_rfm").iloc[0, 0] == len(per)

    clv = built.frame(
        "select historic_revenue, average_order_value, monthly_purchase_frequency,"
        " expected_lifetime_months, predicted_clv, is_churned"
        f" from marts_build.fct_customer_lifetime_value where customer_id = {customer}"
    ).iloc[0]
    assert clv["historic_revenue"] == Decimal(str(round(top["monetary"], 2)))
    aov = top["monetary"] / top["frequency"]
    months = max(((as_of - top["first"]).days + 1) / 30.4375, 1)
    frequency = top["frequency"] / months
    assert float(clv["monthly_purchase_frequency"]) == pytest.approx(frequency, abs=1e-4)
    assert bool(clv["is_churned"]) == (top["recency"] >= 180)
    if clv["expected_lifetime_months"] is not None:
        lifetime = float(clv["expected_lifetime_months"])
        assert float(clv["predicted_clv"]) == pytest.approx(aov * frequency * lifetime, rel=1e-3)


def test_funnel_conversion_of_one_week(built: Built) -> None:
    events = built.csv("funnel_events", ["event_id"])
    events["occurred_at"] = pd.to_datetime(events["occurred_at"], utc=True)
    sessions = events.groupby("session_id").agg(
        first=("occurred_at", "min"), types=("event_type", lambda s: set(s))
    )
    sessions["week"] = (
        sessions["first"].dt.tz_convert(None).dt.to_period("W-SUN").dt.start_time.dt.date
    )
    week = sorted(sessions["week"].unique())[len(sessions["week"].unique()) // 2]
    of_week = sessions[sessions["week"] == week]
    reached = {
        s: int(of_week["types"].map(lambda t, s=s: s in t).sum())
        for s in ("cart", "checkout", "purchase")
    }
    mart = built.frame(
        "select funnel_stage, sessions, step_conversion_rate"
        f" from marts_build.fct_funnel_conversion_weekly where week_start = '{week}'"
    ).set_index("funnel_stage")
    assert int(mart.loc["purchase", "sessions"]) == reached["purchase"]
    assert float(mart.loc["purchase", "step_conversion_rate"]) == pytest.approx(
        reached["purchase"] / reached["checkout"], abs=1e-4
    )


def test_cac_nps_and_cohort_cell(built: Built) -> None:
    customers = built.csv("customers", ["customer_id"])
    customers["signup_month"] = pd.to_datetime(customers["signup_date"]).dt.to_period("M")
    spend = built.csv("marketing_spend", ["spend_date", "channel"])
    spend["month"] = pd.to_datetime(spend["spend_date"]).dt.to_period("M")
    month = sorted(spend["month"].unique())[len(spend["month"].unique()) // 2]
    channel = "paid_search"
    cost = spend[(spend["month"] == month) & (spend["channel"] == channel)]["spend"].sum()
    new = int(
        ((customers["signup_month"] == month) & (customers["acquisition_channel"] == channel)).sum()
    )
    cac = built.frame(
        "select cac, new_customers from marts_build.fct_customer_acquisition_monthly"
        f" where signup_month = '{month.start_time.date()}' and acquisition_channel = '{channel}'"
    ).iloc[0]
    assert int(cac["new_customers"]) == new
    assert float(cac["cac"]) == pytest.approx(cost / new, abs=0.006)

    nps = built.csv("nps_responses", ["response_id"])
    nps["month"] = (
        pd.to_datetime(nps["responded_at"], utc=True).dt.tz_convert(None).dt.to_period("M")
    )
    score = "score"
    of_month = nps[nps["month"] == month]
    expected = 100 * ((of_month[score] >= 9).sum() - (of_month[score] <= 6).sum()) / len(of_month)
    got = built.frame(
        "select nps from marts_build.fct_customer_satisfaction_monthly"
        f" where month_start = '{month.start_time.date()}'"
    ).iloc[0, 0]
    assert float(got) == pytest.approx(expected, abs=0.05)

    orders = _orders(built)
    sold = orders[orders["status"] != "cancelled"]
    cohort = customers[customers["signup_month"] == month]
    next_month = month + 1
    ordering = sold[
        sold["customer_id"].isin(cohort["customer_id"])
        & (sold["order_date"].dt.to_period("M") == next_month)
    ]["customer_id"].nunique()
    cell = built.frame(
        "select cohort_size, ordering_customers from marts_build.fct_cohort_retention"
        f" where cohort_month = '{month.start_time.date()}' and months_since_signup = 1"
    ).iloc[0]
    assert (int(cell["cohort_size"]), int(cell["ordering_customers"])) == (len(cohort), ordering)


def test_metricflow_validates_and_revenue_equals_the_monthly_mart(built: Built) -> None:
    shim = built.work / "mf_project"
    mf(built.settings, shim, "validate-configs", "--skip-dw")
    out = built.work / "revenue.csv"
    mf(
        built.settings,
        shim,
        "query",
        "--metrics",
        "revenue",
        "--group-by",
        "metric_time__month",
        "--csv",
        str(out),
    )
    queried = pd.read_csv(out)
    got = {
        str(pd.Timestamp(m).date()): round(float(r), 2)
        for m, r in zip(queried["metric_time__month"], queried["revenue"], strict=True)
    }
    mart = built.frame("select period_start, revenue from marts_build.fct_sales_revenue_monthly")
    expected = {str(d): float(r) for d, r in mart.itertuples(index=False) if r}
    assert got == expected
