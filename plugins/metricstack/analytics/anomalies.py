"""Anomaly flags on the daily KPIs: revenue, order count and average order value.

Table ``marts_build.analytics_kpi_anomalies``, one row per day and KPI (days whose KPI
is undefined, such as the average order value of a day without orders, or that have
fewer than three same-weekday neighbours, have no row):

- ``kpi_date`` (date): the day.
- ``kpi`` (text): ``revenue`` (EUR), ``order_count`` or ``average_order_value`` (EUR).
- ``observed`` (double precision): the KPI's value that day.
- ``expected`` (double precision): the median of the same weekday's values in the six
  weeks before and the six weeks after (up to 12 days; the day itself excluded), so
  the weekly pattern, trend and slow seasons are part of what is expected.
- ``lower`` / ``upper`` (double precision): the band outside which a day is flagged,
  ``expected`` scaled down and up by ``THRESHOLD`` robust standard deviations.
- ``score`` (double precision): the robust z-score: the log-ratio of observed to
  expected, divided by the local robust scale (1.4826 x the median absolute log-ratio
  of the days within six weeks either side). Negative below expectation.
- ``is_anomaly`` (boolean): ``abs(score) > THRESHOLD``; for revenue also when the order
  count is anomalous that day and revenue is on the same side of its expectation.
  Daily revenue carries the noise of a few large orders (its log-ratio varies about
  twice as much as the order count's), which can hide a drop in the number of orders,
  such as checkouts failing for a day, that the order count shows clearly: a day that
  lost two thirds of its orders but had one large basket is still a revenue incident.
- ``flagged_by`` (text): why the day is an anomaly: ``self`` (its own score) or, for
  revenue, ``order_count`` (the corroborated rule above); null when it is not one.

Log-ratios make a drop to a quarter of normal as visible on a busy day as on a quiet
one, and the revenue distribution's long upper tail does not hide drops. An offset of
one typical order (one order for the count, the median order value for revenue) keeps
days without orders finite.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from metricstack.analytics.warehouse import Table

THRESHOLD = 3.5  # robust z beyond which a day is an anomaly
WEEKS = 6  # same-weekday neighbours on each side
MIN_NEIGHBOURS = 3
MAD_TO_SD = 1.4826
KPIS = ("revenue", "order_count", "average_order_value")

TABLE = Table(
    "analytics_kpi_anomalies",
    "Daily KPIs against their same-weekday expectation, robust z-score and anomaly flag",
    (
        ("kpi_date", "date"),
        ("kpi", "text"),
        ("observed", "double precision"),
        ("expected", "double precision"),
        ("lower", "double precision"),
        ("upper", "double precision"),
        ("score", "double precision"),
        ("is_anomaly", "boolean"),
        ("flagged_by", "text"),
    ),
)


def _same_weekday_median(values: NDArray[np.float64]) -> NDArray[np.float64]:
    n = len(values)
    lags = [7 * k for k in range(1, WEEKS + 1)]
    neighbours = np.full((n, 2 * WEEKS), np.nan)
    for j, lag in enumerate(lags):
        neighbours[lag:, 2 * j] = values[: n - lag]  # the same weekday `lag` days before
        neighbours[: n - lag, 2 * j + 1] = values[lag:]  # ... and after
    enough = np.sum(~np.isnan(neighbours), axis=1) >= MIN_NEIGHBOURS
    medians = np.full(n, np.nan)
    medians[enough] = np.nanmedian(neighbours[enough], axis=1)
    return medians


def score_kpi(values: NDArray[np.float64], offset: float) -> pd.DataFrame:
    """expected, lower, upper, score and is_anomaly of one daily series (NaN = undefined)."""
    expected = _same_weekday_median(values)
    log_ratio = np.log(values + offset) - np.log(expected + offset)
    window = 2 * 7 * WEEKS + 1
    scale = (
        pd.Series(np.abs(log_ratio))
        .rolling(window, center=True, min_periods=7 * WEEKS)
        .median()
        .to_numpy()
        * MAD_TO_SD
    )
    # a floor, so that a stretch of identical days cannot make every change infinite
    scale = np.maximum(scale, 0.01)
    score = log_ratio / scale
    lower = np.maximum((expected + offset) * np.exp(-THRESHOLD * scale) - offset, 0.0)
    upper = (expected + offset) * np.exp(THRESHOLD * scale) - offset
    return pd.DataFrame(
        {
            "observed": values,
            "expected": expected,
            "lower": lower,
            "upper": upper,
            "score": score,
            "is_anomaly": np.abs(score) > THRESHOLD,
        }
    )


def kpi_anomalies(daily: pd.DataFrame) -> pd.DataFrame:
    """The rows of analytics_kpi_anomalies from the daily KPI frame (series.daily_kpis)."""
    typical_order = float(np.nanmedian(daily["average_order_value"].to_numpy()))
    offsets = {
        "revenue": typical_order if np.isfinite(typical_order) else 1.0,
        "order_count": 1.0,
        "average_order_value": 0.0,
    }
    scored = {kpi: score_kpi(daily[kpi].to_numpy(dtype="float64"), offsets[kpi]) for kpi in KPIS}
    revenue, orders = scored["revenue"], scored["order_count"]
    for frame in scored.values():
        frame["flagged_by"] = frame["is_anomaly"].map({True: "self", False: None})
    corroborated = (
        ~revenue["is_anomaly"]
        & orders["is_anomaly"]
        & (np.sign(revenue["score"]) == np.sign(orders["score"]))
    )
    revenue.loc[corroborated, "is_anomaly"] = True
    revenue.loc[corroborated, "flagged_by"] = "order_count"
    frames = []
    for kpi in KPIS:
        frame = scored[kpi]
        frame.insert(0, "kpi", kpi)
        frame.insert(0, "kpi_date", daily["kpi_date"].to_numpy())
        frames.append(frame[frame["observed"].notna() & frame["score"].notna()])
    return pd.concat(frames, ignore_index=True)
