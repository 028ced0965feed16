"""The entry point the transform DAG calls between dbt and the quality gates.

``run_analytics(settings, run_id)`` connects as the transformer role (owner of
``marts_build``), reads its inputs, fits every model and replaces each output table in
its own transaction. It returns the rows written per table.

Table ``marts_build.analytics_model_runs``, one row per model metric of this run:

- ``model_name`` (text): ``revenue_forecast``, ``revenue_drivers_ols`` or
  ``churn_model``.
- ``run_id`` (text): the pipeline run.
- ``trained_at`` (timestamptz): when this run fitted the model.
- ``trained_through`` (date): the last day of data the model learned from.
- ``rows`` (bigint): the rows it learned from (days, weeks, customer-cutoffs).
- ``metric_name`` (text) / ``metric_value`` (double precision): forecast.py, drivers.py
  and churn.py list their metrics.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import psycopg

from metricstack.analytics import anomalies, churn, drivers, forecast, trend
from metricstack.analytics.series import daily_kpis
from metricstack.analytics.warehouse import Table, replace_table
from metricstack.config import Settings

log = logging.getLogger(__name__)

MODEL_RUNS = Table(
    "analytics_model_runs",
    "Quality metrics of this run's analytics models (backtests, holdouts, fit)",
    (
        ("model_name", "text"),
        ("run_id", "text"),
        ("trained_at", "timestamptz"),
        ("trained_through", "date"),
        ("rows", "bigint"),
        ("metric_name", "text"),
        ("metric_value", "double precision"),
    ),
)


def run_analytics(settings: Settings, run_id: str) -> dict[str, int]:
    """Fit the models and replace their tables in marts_build; rows written per table."""
    trained_at = datetime.now(UTC)
    written: dict[str, int] = {}
    runs: list[dict[str, Any]] = []

    def model_run(name: str, through: date, rows: int, metrics: dict[str, float]) -> None:
        runs.extend(
            {
                "model_name": name,
                "run_id": run_id,
                "trained_at": trained_at,
                "trained_through": through,
                "rows": rows,
                "metric_name": metric,
                "metric_value": value,
            }
            for metric, value in metrics.items()
        )

    with psycopg.connect(settings.role_url("transformer"), autocommit=True) as conn:

        def write(table: Table, frame: pd.DataFrame) -> None:
            started = time.monotonic()
            written[table.name] = replace_table(conn, table, frame)
            log.info(
                "%s: %d rows (%.1f s)", table.name, written[table.name], time.monotonic() - started
            )

        daily = daily_kpis(conn)
        if daily.empty:
            raise RuntimeError("marts_build.fct_daily_revenue is empty: nothing to analyse")
        first_day = daily["kpi_date"].iloc[0].date()
        last_day = daily["kpi_date"].iloc[-1].date()

        flags = anomalies.kpi_anomalies(daily)
        write(anomalies.TABLE, flags)
        anomalous = set(flags.loc[(flags["kpi"] == "revenue") & flags["is_anomaly"], "kpi_date"])

        forecast_rows, _, backtest = forecast.revenue_forecast(daily, anomalous, run_id)
        write(forecast.TABLE, forecast_rows)
        model_run("revenue_forecast", last_day, len(daily) - len(anomalous), backtest)

        write(trend.TABLE, trend.revenue_trend(daily))

        weekly = drivers.weekly_drivers(conn)
        driver_rows, summary = drivers.revenue_drivers(weekly)
        write(drivers.TABLE, driver_rows)
        model_run(
            "revenue_drivers_ols",
            last_day,
            len(weekly),
            {k: v for k, v in summary.items() if k in {"r_squared", "adj_r_squared"}},
        )

        scored = churn.churn_scores(conn, first_day, last_day)
        write(churn.TABLE, scored.scores)
        if scored.metrics:
            model_run("churn_model", last_day, int(scored.metrics["train_rows"]), scored.metrics)
        else:
            log.warning("churn model: under ~540 days of history, no holdout and no scores")

        write(MODEL_RUNS, pd.DataFrame(runs, columns=MODEL_RUNS.column_names))
    return written
