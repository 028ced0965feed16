"""The analytics models over a real warehouse: the sample company, staging, run_analytics.

A two-year company of 18,000 orders (about 25 a day: enough for the planted one-day
dip to stand out of Poisson noise, and two years for the yearly forecast terms and
the churn model's time-based holdout) is loaded by the real loader; dbt builds staging
and fct_daily_revenue; then ``run_analytics`` runs twice, with two run ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from raw_sample import load_raw_sample
from support import new_database

from metricstack.analytics import anomalies, churn, drivers, forecast, run_analytics, trend
from metricstack.analytics.run import MODEL_RUNS
from metricstack.config import ROLES, Settings, load_settings
from metricstack.sample_company.config import CompanyConfig
from metricstack.sample_company.truth import GroundTruth
from metricstack.services.dbt import dbt

CONFIG = CompanyConfig(orders=18_000, years=2)
TABLES = (anomalies.TABLE, forecast.TABLE, trend.TABLE, drivers.TABLE, churn.TABLE, MODEL_RUNS)


@dataclass(frozen=True)
class Analysed:
    settings: Settings
    truth: GroundTruth
    written: dict[str, int]
    first_run: dict[str, list[tuple[Any, ...]]]  # deterministic tables after run one

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.settings.role_url("transformer")) as conn:
            return [tuple(r) for r in conn.execute(query)]


def _snapshot(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """The tables whose content must not depend on the run (run ids and times aside)."""
    queries = {
        "scores": "select * from marts_build.analytics_churn_scores order by customer_id",
        "forecast": "select forecast_date, predicted_revenue, lower_80, upper_80, lower_95, "
        "upper_95, model, trained_through from marts_build.analytics_revenue_forecast "
        "order by forecast_date",
        "anomalies": "select * from marts_build.analytics_kpi_anomalies order by kpi_date, kpi",
        "drivers": "select * from marts_build.analytics_revenue_drivers order by driver, statistic",
        "metrics": "select model_name, trained_through, rows, metric_name, metric_value "
        "from marts_build.analytics_model_runs order by model_name, metric_name",
    }
    with psycopg.connect(settings.role_url("transformer")) as conn:
        return {name: [tuple(r) for r in conn.execute(q)] for name, q in queries.items()}


@pytest.fixture(scope="module")
def analysed(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Analysed]:
    from metricstack.warehouse.bootstrap import ensure_warehouse

    tmp = tmp_path_factory.mktemp("analytics")
    with new_database(pg_server) as url:
        settings = load_settings(
            {
                "METRICSTACK_STATE_DIR": str(tmp / "state"),
                "WAREHOUSE_URL": url,
                "METRICSTACK_LANDING_DIR": str(tmp / "landing"),
                "METRICSTACK_ROLE_PREFIX": f"ms_{uuid.uuid4().hex[:8]}",
            }
        )
        settings.ensure_secrets()
        ensure_warehouse(settings)
        try:
            sample = load_raw_sample(settings, Path(tmp / "company"), CONFIG)
            # models only: staging's own tests are test_dbt_staging.py's job
            dbt(settings, "run", "--select", "path:models/staging", "+fct_daily_revenue")
            run_analytics(settings, "analytics_test__1")
            first = _snapshot(settings)
            written = run_analytics(settings, "analytics_test__2")
            yield Analysed(settings, sample.truth, written, first)
        finally:
            with psycopg.connect(url, autocommit=True) as conn:
                for role in ROLES:
                    name = sql.Identifier(settings.role_name(role))
                    conn.execute(sql.SQL("drop owned by {} cascade").format(name))
                for role in ROLES:
                    name = sql.Identifier(settings.role_name(role))
                    conn.execute(sql.SQL("drop role {}").format(name))


def _last_day(analysed: Analysed) -> date:
    [(last,)] = analysed.rows("select max(order_date) from marts_build.fct_daily_revenue")
    assert isinstance(last, date)
    return last


def test_every_table_is_filled_with_its_columns(analysed: Analysed) -> None:
    for table in TABLES:
        assert analysed.written[table.name] > 0, table.name
        columns = analysed.rows(
            "select column_name from information_schema.columns where table_schema = "
            f"'marts_build' and table_name = '{table.name}' order by ordinal_position"
        )
        assert [c for (c,) in columns] == table.column_names
        [(count,)] = analysed.rows(f"select count(*) from marts_build.{table.name}")
        assert count == analysed.written[table.name]


def test_runs_are_deterministic_and_replace_their_tables(analysed: Analysed) -> None:
    assert _snapshot(analysed.settings) == analysed.first_run
    # replaced, not appended: one run's rows only
    assert analysed.rows("select distinct run_id from marts_build.analytics_model_runs") == [
        ("analytics_test__2",)
    ]
    assert analysed.rows("select distinct run_id from marts_build.analytics_revenue_forecast") == [
        ("analytics_test__2",)
    ]


def test_forecast_has_nested_intervals_and_a_plausible_backtest(analysed: Analysed) -> None:
    last = _last_day(analysed)
    rows = analysed.rows(
        "select forecast_date, lower_95, lower_80, predicted_revenue, upper_80, upper_95, "
        "trained_through from marts_build.analytics_revenue_forecast order by forecast_date"
    )
    assert [r[0] for r in rows] == [last + timedelta(days=i) for i in range(1, 91)]
    for _, lower_95, lower_80, predicted, upper_80, upper_95, through in rows:
        assert Decimal(0) <= lower_95 <= lower_80 <= predicted <= upper_80 <= upper_95
        assert lower_95 < upper_95
        assert through == last
    metrics = dict(
        analysed.rows(
            "select metric_name, metric_value from marts_build.analytics_model_runs "
            "where model_name = 'revenue_forecast'"
        )
    )
    # about 25 orders a day of very unequal size: daily revenue varies by ~40% around
    # its expectation, so a 28-day MAPE of 0.1-0.5 is what a sound model achieves
    assert 0.05 < metrics["mape_holdout_28d"] < 0.6
    assert metrics["mape_holdout_28d"] < metrics["mape_naive_last_week_28d"]
    assert metrics["coverage_95_holdout_28d"] >= 0.75


def test_the_planted_dip_is_flagged_and_normal_days_mostly_not(analysed: Analysed) -> None:
    dip = analysed.truth.anomalies.dip_day
    assert dip is not None
    flagged = {
        (day, kpi)
        for day, kpi in analysed.rows(
            "select kpi_date, kpi from marts_build.analytics_kpi_anomalies where is_anomaly"
        )
    }
    assert (dip, "revenue") in flagged
    assert (dip, "order_count") in flagged
    for kpi in anomalies.KPIS:
        [(days,)] = analysed.rows(
            "select count(*) from marts_build.analytics_kpi_anomalies "
            f"where kpi = '{kpi}' and kpi_date <> '{dip.isoformat()}'"
        )
        false_positives = len({d for d, k in flagged if k == kpi and d != dip})
        assert days > 700
        assert false_positives / days < 0.02, (kpi, false_positives)


def test_trend_and_period_over_period(analysed: Analysed) -> None:
    rows = analysed.rows(
        "select revenue_date, revenue, trend_28d, stl_trend, revenue_last_week, "
        "change_vs_last_week, revenue_28d, revenue_prev_28d, revenue_last_year "
        "from marts_build.analytics_revenue_trend order by revenue_date"
    )
    [(days,)] = analysed.rows(
        "select max(order_date) - min(order_date) + 1 from marts_build.fct_daily_revenue"
    )
    assert len(rows) == days
    by_day = {r[0]: r for r in rows}
    day = rows[400]
    assert day[4] == by_day[day[0] - timedelta(days=7)][1]
    assert day[8] == by_day[day[0] - timedelta(days=364)][1]
    assert day[6] == sum(by_day[day[0] - timedelta(days=i)][1] for i in range(28))
    assert day[5] == pytest.approx(float(day[1] / day[4]) - 1)
    assert all(r[3] is not None for r in rows)  # STL: every day
    assert rows[0][2] is None and rows[14][2] is not None and rows[-1][2] is None


def test_revenue_drivers(analysed: Analysed) -> None:
    stats = {
        (driver, statistic): value
        for driver, statistic, value in analysed.rows(
            "select driver, statistic, value from marts_build.analytics_revenue_drivers"
        )
    }
    r_squared = stats[("(model)", "r_squared")]
    assert 0.3 < r_squared <= 1
    for driver in ("web_sessions", "nps", "support_tickets", "spend_paid_search"):
        assert stats[(driver, "pearson_r:revenue")] == pytest.approx(
            stats[("revenue", f"pearson_r:{driver}")]
        )
        assert stats[(driver, f"pearson_r:{driver}")] == pytest.approx(1.0)
        for statistic in ("coef", "std_err", "p_value"):
            assert (driver, statistic) in stats
    # spend follows demand in the sample company: strongly correlated with revenue
    assert stats[("web_sessions", "pearson_r:revenue")] > 0.5
    [(stored,)] = analysed.rows(
        "select metric_value from marts_build.analytics_model_runs "
        "where model_name = 'revenue_drivers_ols' and metric_name = 'r_squared'"
    )
    assert stored == pytest.approx(r_squared)


def test_churn_model_beats_chance_on_the_time_based_holdout(analysed: Analysed) -> None:
    last = _last_day(analysed)
    metrics = dict(
        analysed.rows(
            "select metric_name, metric_value from marts_build.analytics_model_runs "
            "where model_name = 'churn_model'"
        )
    )
    assert metrics["roc_auc"] > 0.6
    assert 0 < metrics["base_rate"] < 1
    assert 0 < metrics["precision_at_0_5"] <= 1 and 0 < metrics["recall_at_0_5"] <= 1
    scores = analysed.rows(
        "select customer_id, churn_probability, risk_band, scored_at, model_version "
        "from marts_build.analytics_churn_scores"
    )
    # every customer with an order in the last 365 days, and only them
    [(active,)] = analysed.rows(
        "select count(distinct o.customer_id) from staging.stg_shop__orders as o "
        "join staging.stg_shop__customers as c using (customer_id) "
        f"where not o.is_cancelled and o.order_date > date '{last.isoformat()}' - 365"
    )
    assert len(scores) == active
    for _, probability, band, scored_at, version in scores:
        assert 0 <= probability <= 1
        assert band == churn.risk_band(probability)
        assert scored_at == last
        assert version == f"hgb_v1:{last.isoformat()}"
    assert {band for _, _, band, _, _ in scores} == {"low", "medium", "high"}
