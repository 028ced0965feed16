"""The Sales and Customers marts and their MetricFlow metrics over the small sample company.

The small sample company is loaded into real raw tables (raw_sample.py); one
`dbt build` of the marts and everything upstream is shared by the module's tests.
KPI values are checked against figures computed with pandas from the generator's own
CSV files, not through dbt; `mf` validates the semantic layer and its revenue metric
equals the monthly mart.
"""

from __future__ import annotations

import json
import re
import time
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

from metricstack.config import Settings
from metricstack.services.dbt import dbt

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
def built(module_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Built:
    work = tmp_path_factory.mktemp("sales_customers")
    sample = load_raw_sample(module_warehouse, work / "company")
    started = time.monotonic()
    dbt(
        module_warehouse,
        "build",
        "--select",
        "+path:models/marts/sales",
        "+path:models/marts/customers",
        "--indirect-selection",
        "cautious",
    )
    seconds = time.monotonic() - started
    run_results = json.loads((module_warehouse.dbt_target_dir / "run_results.json").read_text())
    return Built(module_warehouse, sample.folder, run_results["results"], seconds, work)


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
        "fct_sales_geography_daily",
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


def test_the_regional_sales_marts_add_up_to_the_company(built: Built) -> None:
    """The marts a regional manager's Sales dashboard reads (one row per region, or per
    country or team with its region): their regions add up to the company's figures."""
    weekly = built.frame(
        "select period_start, order_count, revenue, same_period_last_year_revenue"
        " from marts_build.fct_sales_revenue_weekly order by 1"
    )
    regional_weeks = built.frame(
        "select cast(date_trunc('week', order_date) as date) as period_start,"
        " sum(order_count) as order_count, sum(revenue) as revenue,"
        " sum(same_period_last_year_revenue) as same_period_last_year_revenue"
        " from marts_build.fct_sales_geography_daily group by 1 order by 1"
    )
    assert len(regional_weeks) == len(weekly)
    for column in ("period_start", "order_count", "revenue"):
        assert list(regional_weeks[column]) == list(weekly[column]), column
    # the same week 52 weeks earlier: the dense day x country x channel grid keeps it
    # where a cell sold nothing this year (null before the data starts)
    last_year = weekly["same_period_last_year_revenue"]
    regional_last_year = regional_weeks["same_period_last_year_revenue"]
    assert [v for v in regional_last_year[last_year.notna()]] == list(last_year.dropna())

    by_region = {
        mart: dict(
            built.frame(
                f"select region_name, sum(revenue) from marts_build.{mart} group by 1"
            ).itertuples(index=False)
        )
        for mart in (
            "fct_sales_geography_monthly",
            "fct_sales_geography_daily",
            "fct_product_performance_monthly",
            "fct_category_performance_monthly",
        )
    }
    monthly = by_region["fct_sales_geography_monthly"]
    assert len(monthly) > 1 and by_region["fct_sales_geography_daily"] == monthly
    for mart in ("fct_product_performance_monthly", "fct_category_performance_monthly"):
        # the lines' revenue (their share of the order discount, rounded to the cent per
        # product, month and region): the orders' revenue, to rounding
        assert by_region[mart].keys() == monthly.keys(), mart
        for region, revenue in monthly.items():
            assert abs(by_region[mart][region] - revenue) <= revenue / 100, (mart, region)

    reps = built.frame(
        "select count(*) from marts_build.fct_sales_rep_performance_monthly as reps"
        " inner join marts_build.dim_sales_reps as dim on reps.sales_rep_id = dim.sales_rep_id"
        " where reps.region_name is distinct from dim.region_name"
    )
    assert reps.iloc[0, 0] == 0
    funnel = built.frame(
        "select region_name, sum(sessions) from marts_build.fct_funnel_conversion_weekly"
        " where funnel_stage = 'visit' group by 1"
    )
    assert len(funnel) > 1


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
    # the segments' rollup the dashboard reads: every customer once, all their revenue
    segments = built.frame(
        "select sum(customer_count), sum(monetary), count(*)"
        " from marts_build.fct_customer_rfm_segments"
    ).iloc[0]
    assert segments.iloc[0] == len(per)
    assert float(segments.iloc[1]) == pytest.approx(per["monetary"].sum(), abs=0.01 * len(per))
    assert 1 < segments.iloc[2] <= 7

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
    # one row per region: the week's sessions are their sum, its rates ratios of sums
    mart = built.frame(
        "select funnel_stage, sum(sessions) as sessions,"
        " sum(previous_stage_sessions) as previous_stage_sessions"
        f" from marts_build.fct_funnel_conversion_weekly where week_start = '{week}'"
        " group by 1"
    ).set_index("funnel_stage")
    assert int(mart.loc["purchase", "sessions"]) == reached["purchase"]
    assert int(mart.loc["purchase", "previous_stage_sessions"]) == reached["checkout"]


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


# The incremental models' outputs compared with a full refresh (loaded_at aside: it
# records when a row was written, which a full refresh reads anew).
INCREMENTAL = {
    "fct_order_lines": "order_line_id",
    "fct_orders": "order_id",
    "fct_sales_revenue_daily": "period_start",
    "fct_sales_revenue_weekly": "period_start",
    "fct_sales_revenue_monthly": "period_start",
    "fct_sales_geography_monthly": "order_month, country_code",
    "fct_sales_geography_daily": "order_date, country_code, sales_channel",
    "fct_sales_rep_performance_monthly": "order_month, sales_rep_id",
    "fct_sales_team_performance_monthly": "order_month, team_id",
    "int_product_sales_daily": "order_date, product_id, region_name",
    "fct_product_performance_monthly": "order_month, product_id, region_name",
    "fct_funnel_conversion_weekly": "week_start, stage_number, region_name",
    "fct_daily_revenue": "order_date",
    "dim_customers": "customer_id",
    "int_customer_orders_summarised": "customer_id",
    "fct_customer_churn_monthly": "month_start",
    "fct_cohort_retention": "cohort_month, months_since_signup",
    "fct_customer_acquisition_monthly": "signup_month, acquisition_channel",
}


def _snapshot(built: Built) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with psycopg.connect(built.settings.role_url("transformer")) as conn:
        for table, key in INCREMENTAL.items():
            cur = conn.execute(
                sql.SQL("select * from {} order by {}").format(
                    sql.Identifier(
                        "intermediate" if table.startswith("int_") else "marts_build", table
                    ),
                    sql.SQL(key),
                )
            )
            names = [c.name for c in cur.description or []]
            keep = [i for i, n in enumerate(names) if n != "loaded_at"]
            out[table] = [tuple(row[i] for i in keep) for row in cur.fetchall()]
    return out


def _copy_order(conn: psycopg.Connection, order_id: int, new_id: int, shift: str) -> None:
    """A copy of an order and its lines under ``new_id``, placed ``shift`` later."""
    for table, moved in (("shop_orders", "ordered_at"), ("shop_order_lines", None)):
        columns = [
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = 'raw'"
                " and table_name = %s and column_name <> '_loaded_at' order by ordinal_position",
                (table,),
            )
        ]
        values = [
            sql.SQL("%(new_id)s")
            if c == "order_id"
            else sql.SQL("{} + %(shift)s::interval").format(sql.Identifier(c))
            if c == moved
            else sql.Identifier(c)
            for c in columns
        ]
        conn.execute(
            sql.SQL(
                "insert into raw.{} ({}) select {} from raw.{} where order_id = %(old)s"
            ).format(
                sql.Identifier(table),
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(values),
                sql.Identifier(table),
            ),
            {"new_id": new_id, "shift": shift, "old": order_id},
        )


def test_an_incremental_day_equals_a_full_refresh(built: Built) -> None:
    """Runs last: it adds orders to the module's raw tables.

    The history is made to look loaded a month ago; then a new day's order, a late order
    for a day 100 days back and a cancellation of an old order arrive. The incremental
    run of the day's build must give the facts and rollups a full refresh gives.
    """
    with psycopg.connect(built.settings.role_url("loader")) as conn:
        for table in (
            "shop_orders",
            "shop_order_lines",
            "shop_customers",
            "crm_funnel_events",
            "marketing_marketing_spend",
        ):
            conn.execute(
                sql.SQL("update raw.{} set _loaded_at = _loaded_at - interval '30 days'").format(
                    sql.Identifier(table)
                )
            )
    # the facts as if built then: their rows' loaded_at a month back too
    with psycopg.connect(built.settings.role_url("transformer")) as conn:
        for table in ("fct_order_lines", "fct_orders", "fct_funnel_events"):
            conn.execute(
                sql.SQL(
                    "update marts_build.{} set loaded_at = loaded_at - interval '30 days'"
                ).format(sql.Identifier(table))
            )
    with psycopg.connect(built.settings.role_url("loader")) as conn:
        last_id, last_order, last_day = conn.execute(
            "select (select max(order_id) from raw.shop_orders),"
            " (array_agg(order_id order by ordered_at desc))[1],"
            " max(ordered_at)::date from raw.shop_orders where status <> 'cancelled'"
        ).fetchone()
        early_order, early_day = conn.execute(
            "select order_id, ordered_at::date from raw.shop_orders where status <> 'cancelled'"
            " and ordered_at < %s::date - 100 order by ordered_at desc limit 1",
            (last_day,),
        ).fetchone()
        cancelled = conn.execute(
            "select order_id from raw.shop_orders where status = 'delivered'"
            " and ordered_at < %s::date - 200 order by order_id limit 1",
            (last_day,),
        ).fetchone()[0]
        _copy_order(conn, last_order, last_id + 1, "1 day")  # the new day
        _copy_order(conn, early_order, last_id + 2, "0 days")  # late, for an earlier day
        conn.execute(
            "update raw.shop_orders set status = 'cancelled', _loaded_at = now()"
            " where order_id = %s",
            (cancelled,),
        )
    revenue_of_day = (
        "select revenue from marts_build.fct_sales_revenue_daily"
        f" where period_start = '{early_day}'"
    )
    before = built.frame(revenue_of_day).iloc[0, 0]

    # the sales marts and the intermediates they read, the customer summary
    # dim_customers reads, and the customer marts that are incremental by month
    select = (
        "--select",
        "path:models/marts/sales",
        "path:models/intermediate/sales",
        "path:models/intermediate/customers",
        "fct_customer_churn_monthly",
        "fct_cohort_retention",
        "fct_customer_acquisition_monthly",
    )
    dbt(built.settings, "run", *select)
    incremental = _snapshot(built)
    run = json.loads((built.settings.dbt_target_dir / "run_results.json").read_text())
    assert {r["status"] for r in run["results"]} == {"success"}
    # and it was incremental: the facts read the changed orders, the rollups their periods
    compiled = {r["unique_id"].split(".")[-1]: r["compiled_code"] for r in run["results"]}
    assert "changed_orders" in compiled["fct_orders"]
    assert "changed_orders" in compiled["fct_order_lines"]
    for rollup in (
        "fct_sales_revenue_monthly",
        "fct_product_performance_monthly",
        "fct_customer_churn_monthly",
    ):
        # the first period to rebuild, read at compile time: a constant the index serves
        assert re.search(r"order_date\s*>= cast\('\d{4}-\d\d-01' as date\)", compiled[rollup])
    # by day: the first day to rebuild
    assert re.search(
        r"order_date\s*>= cast\('\d{4}-\d\d-\d\d' as date\)",
        compiled["fct_sales_geography_daily"],
    )
    dbt(built.settings, "run", *select, "--full-refresh")
    full = _snapshot(built)

    for table in INCREMENTAL:
        assert incremental[table] == full[table], table
    # the run saw the new day, the late order and the cancellation
    daily = built.frame(
        "select period_start, revenue from marts_build.fct_sales_revenue_daily"
        " order by period_start desc limit 1"
    )
    assert str(daily.iloc[0, 0]) == str(last_day + pd.Timedelta(days=1).to_pytimedelta())
    assert built.frame(revenue_of_day).iloc[0, 0] > before
