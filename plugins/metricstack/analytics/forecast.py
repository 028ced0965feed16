"""A 90-day forecast of daily revenue with 80% and 95% prediction intervals.

The model is a Poisson GLM (log link, statsmodels) of daily revenue on a linear trend
(so growth compounds), the weekday, yearly Fourier terms (their number grows with the
history: none under 400 days, up to ``MAX_FOURIER`` pairs from two years) and the
fixed-date holidays on which shops sell less (25 December, 1 January). Days flagged as
revenue anomalies (anomalies.py) are left out of the fit. A quasi-Poisson fit is the
mean-unbiased choice for a positive amount whose variance grows with its level.

The intervals come from the empirical distribution of the ratio observed / fitted over
the last year of fitted days: ``lower_95 = predicted x q(0.025)``, ``upper_80 =
predicted x q(0.90)`` and so on, which keeps the long upper tail of daily revenue
(a few large orders) and can never go below zero. They describe day-to-day noise
around the model, not the uncertainty of the trend itself.

The model is first fitted without the last ``BACKTEST_DAYS`` days and scored on them
(MAPE, and how many of those days fell inside the intervals), then refitted on
everything for the forecast. Same data, same numbers: the fit has no randomness.

Table ``marts_build.analytics_revenue_forecast``, one row per future day:

- ``forecast_date`` (date): the day forecast, from the day after ``trained_through``.
- ``predicted_revenue`` (numeric(18,2)): the expected revenue that day, EUR.
- ``lower_80`` / ``upper_80`` (numeric(18,2)): the 80% prediction interval, EUR.
- ``lower_95`` / ``upper_95`` (numeric(18,2)): the 95% prediction interval, EUR;
  ``lower_95 <= lower_80 <= predicted_revenue <= upper_80 <= upper_95``.
- ``model`` (text): the model, e.g. ``glm_poisson_trend_weekday_fourier10``.
- ``trained_through`` (date): the last day of history the model saw.
- ``run_id`` (text): the pipeline run that wrote the row.

Its backtest lands in ``analytics_model_runs`` (run.py) as ``mape_holdout_28d``,
``coverage_80_holdout_28d``, ``coverage_95_holdout_28d`` and, as the baseline to beat,
``mape_naive_last_week_28d`` (each day forecast by the same weekday of the last
week before the holdout).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm  # type: ignore[import-untyped]  # statsmodels ships no type hints
from numpy.typing import NDArray

from metricstack.analytics.warehouse import Table

HORIZON_DAYS = 90
BACKTEST_DAYS = 28
MAX_FOURIER = 10
INTERVAL_QUANTILES = {"lower_95": 0.025, "lower_80": 0.10, "upper_80": 0.90, "upper_95": 0.975}
RESIDUAL_DAYS = 365  # the fitted days whose ratios set the intervals
HOLIDAYS = ((12, 25), (1, 1))  # (month, day)

TABLE = Table(
    "analytics_revenue_forecast",
    "Daily revenue forecast for the next 90 days with 80% and 95% prediction intervals",
    (
        ("forecast_date", "date"),
        ("predicted_revenue", "numeric(18,2)"),
        ("lower_80", "numeric(18,2)"),
        ("upper_80", "numeric(18,2)"),
        ("lower_95", "numeric(18,2)"),
        ("upper_95", "numeric(18,2)"),
        ("model", "text"),
        ("trained_through", "date"),
        ("run_id", "text"),
    ),
)


def fourier_pairs(history_days: int) -> int:
    """Yearly Fourier pairs the history can carry: a year's shape needs more than a year."""
    if history_days < 400:
        return 0
    return min(MAX_FOURIER, max(2, (history_days - 365) // 36))


def design(days: pd.DatetimeIndex, origin: pd.Timestamp, pairs: int) -> pd.DataFrame:
    """The regressors of the model for ``days``; ``origin`` is day 0 of the trend."""
    years = (days - origin).days.to_numpy(dtype="float64") / 365.25
    columns: dict[str, NDArray[np.float64]] = {
        "const": np.ones(len(days)),
        "trend_years": years,
    }
    weekday = days.day_of_week.to_numpy()
    for d in range(1, 7):  # Monday is the reference
        columns[f"weekday_{d}"] = (weekday == d).astype("float64")
    day_of_year = days.day_of_year.to_numpy(dtype="float64")
    for k in range(1, pairs + 1):
        angle = 2 * np.pi * k * day_of_year / 365.25
        columns[f"sin_{k}"] = np.sin(angle)
        columns[f"cos_{k}"] = np.cos(angle)
    holiday = np.zeros(len(days), dtype=bool)
    for month, day in HOLIDAYS:
        holiday |= (days.month.to_numpy() == month) & (days.day.to_numpy() == day)
    columns["holiday"] = holiday.astype("float64")
    return pd.DataFrame(columns, index=days)


@dataclass(frozen=True)
class Forecast:
    model: str
    trained_through: pd.Timestamp
    frame: pd.DataFrame  # forecast_date, predicted_revenue, lower_80 ... upper_95


def fit_forecast(
    dates: pd.DatetimeIndex, revenue: NDArray[np.float64], exclude: NDArray[np.bool_], horizon: int
) -> Forecast:
    """Fit on the days not excluded and forecast ``horizon`` days after the last date."""
    origin = dates[0]
    pairs = fourier_pairs(len(dates))
    x = design(dates, origin, pairs)
    keep = ~exclude
    scale = float(np.mean(revenue[keep])) or 1.0
    with warnings.catch_warnings():
        # a quasi-Poisson fit of a continuous amount: statsmodels warns about non-integers
        warnings.simplefilter("ignore")
        fit = sm.GLM(revenue[keep] / scale, x[keep], family=sm.families.Poisson()).fit()
    fitted = np.asarray(fit.predict(x[keep]), dtype="float64") * scale
    ratios = revenue[keep][-RESIDUAL_DAYS:] / fitted[-RESIDUAL_DAYS:]
    quantiles = {name: float(np.quantile(ratios, q)) for name, q in INTERVAL_QUANTILES.items()}
    future = pd.date_range(dates[-1] + pd.Timedelta(days=1), periods=horizon, freq="D")
    predicted = np.asarray(fit.predict(design(future, origin, pairs)), dtype="float64") * scale
    frame = pd.DataFrame({"forecast_date": future, "predicted_revenue": predicted})
    for name, q in quantiles.items():
        frame[name] = predicted * q
    # nested whatever the ratios: 95% outside 80%, 80% around the prediction
    frame["lower_80"] = np.minimum(frame["lower_80"], frame["predicted_revenue"])
    frame["upper_80"] = np.maximum(frame["upper_80"], frame["predicted_revenue"])
    frame["lower_95"] = np.minimum(frame["lower_95"], frame["lower_80"])
    frame["upper_95"] = np.maximum(frame["upper_95"], frame["upper_80"])
    model = f"glm_poisson_trend_weekday_fourier{pairs}"
    return Forecast(model, dates[-1], frame)


def mape(actual: NDArray[np.float64], predicted: NDArray[np.float64]) -> float:
    """Mean absolute percentage error over the days with revenue (a 0 day has no %)."""
    has = actual > 0
    if not has.any():
        return float("nan")
    return float(np.mean(np.abs(actual[has] - predicted[has]) / actual[has]))


def backtest(
    dates: pd.DatetimeIndex, revenue: NDArray[np.float64], exclude: NDArray[np.bool_]
) -> dict[str, float]:
    """Fit without the last BACKTEST_DAYS days, then score the forecast of those days."""
    cut = len(dates) - BACKTEST_DAYS
    held = fit_forecast(dates[:cut], revenue[:cut], exclude[:cut], BACKTEST_DAYS).frame
    actual = revenue[cut:]
    inside_80 = (actual >= held["lower_80"]) & (actual <= held["upper_80"])
    inside_95 = (actual >= held["lower_95"]) & (actual <= held["upper_95"])
    # the naive baseline: each held-out day gets the same weekday of the last week seen
    last_week = revenue[cut - 7 : cut]
    naive = np.array([last_week[i % 7] for i in range(BACKTEST_DAYS)])
    return {
        "mape_holdout_28d": mape(actual, held["predicted_revenue"].to_numpy()),
        "coverage_80_holdout_28d": float(np.mean(inside_80)),
        "coverage_95_holdout_28d": float(np.mean(inside_95)),
        "mape_naive_last_week_28d": mape(actual, naive),
    }


def revenue_forecast(
    daily: pd.DataFrame, anomalous_days: set[pd.Timestamp], run_id: str
) -> tuple[pd.DataFrame, Forecast, dict[str, float]]:
    """The rows of analytics_revenue_forecast, the final fit and its backtest metrics."""
    dates = pd.DatetimeIndex(daily["kpi_date"])
    revenue = daily["revenue"].to_numpy(dtype="float64")
    exclude = np.array([d in anomalous_days for d in dates], dtype=bool)
    metrics = backtest(dates, revenue, exclude) if len(dates) > 2 * BACKTEST_DAYS + 28 else {}
    result = fit_forecast(dates, revenue, exclude, HORIZON_DAYS)
    frame = result.frame.copy()
    frame["model"] = result.model
    frame["trained_through"] = result.trained_through
    frame["run_id"] = run_id
    return frame, result, metrics
