"""The smoothed trend of daily revenue and its period-over-period comparisons.

Table ``marts_build.analytics_revenue_trend``, one row per day of history (days
without orders included, at 0):

- ``revenue_date`` (date): the day.
- ``revenue`` (numeric(18,2)): revenue that day, EUR (fct_daily_revenue).
- ``order_count`` (bigint): orders that day.
- ``trend_28d`` (numeric(18,2)): the centered 28-day moving average of revenue: the
  mean of the 28 days from 14 days before to 13 days after; null within 14 days of
  either end of the history.
- ``stl_trend`` (numeric(18,2)): the trend component of a robust STL decomposition
  (statsmodels; weekly period, 29-day trend window), defined on every day, the last
  days included; the robust fit keeps single outlier days out of it.
- ``revenue_last_week`` (numeric(18,2)): revenue on the same weekday one week earlier.
- ``change_vs_last_week`` (double precision): ``revenue / revenue_last_week - 1``.
- ``revenue_28d`` (numeric(18,2)): revenue of the 28 days ending that day.
- ``revenue_prev_28d`` (numeric(18,2)): revenue of the 28 days before those.
- ``change_28d`` (double precision): ``revenue_28d / revenue_prev_28d - 1``.
- ``revenue_last_year`` (numeric(18,2)): revenue on the same day last year, taken as
  364 days earlier (52 weeks) so that the weekday matches.
- ``change_vs_last_year`` (double precision): ``revenue / revenue_last_year - 1``.

Values that need days before the history starts are null, as are changes against 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.tsa.seasonal import STL  # type: ignore[import-untyped]  # no type hints

from metricstack.analytics.warehouse import Table

TABLE = Table(
    "analytics_revenue_trend",
    "Daily revenue with its 28-day and STL trends and period-over-period changes",
    (
        ("revenue_date", "date"),
        ("revenue", "numeric(18,2)"),
        ("order_count", "bigint"),
        ("trend_28d", "numeric(18,2)"),
        ("stl_trend", "numeric(18,2)"),
        ("revenue_last_week", "numeric(18,2)"),
        ("change_vs_last_week", "double precision"),
        ("revenue_28d", "numeric(18,2)"),
        ("revenue_prev_28d", "numeric(18,2)"),
        ("change_28d", "double precision"),
        ("revenue_last_year", "numeric(18,2)"),
        ("change_vs_last_year", "double precision"),
    ),
)


def _change(now: pd.Series, before: pd.Series) -> pd.Series:
    return (now / before.where(before > 0)) - 1.0


def revenue_trend(daily: pd.DataFrame) -> pd.DataFrame:
    """The rows of analytics_revenue_trend from the daily KPI frame (series.daily_kpis)."""
    revenue = daily["revenue"].astype("float64").reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "revenue_date": daily["kpi_date"].to_numpy(),
            "revenue": revenue,
            "order_count": daily["order_count"].to_numpy(),
        }
    )
    # the mean of days d-14 .. d+13: a window of 28 ending 13 days ahead
    frame["trend_28d"] = revenue.rolling(28, min_periods=28).mean().shift(-13)
    if len(revenue) >= 30:
        stl = STL(revenue.to_numpy(), period=7, trend=29, robust=True).fit()
        frame["stl_trend"] = np.asarray(stl.trend, dtype="float64")
    else:
        frame["stl_trend"] = np.nan
    frame["revenue_last_week"] = revenue.shift(7)
    frame["change_vs_last_week"] = _change(revenue, frame["revenue_last_week"])
    frame["revenue_28d"] = revenue.rolling(28, min_periods=28).sum()
    frame["revenue_prev_28d"] = frame["revenue_28d"].shift(28)
    frame["change_28d"] = _change(frame["revenue_28d"], frame["revenue_prev_28d"])
    frame["revenue_last_year"] = revenue.shift(364)
    frame["change_vs_last_year"] = _change(revenue, frame["revenue_last_year"])
    return frame
