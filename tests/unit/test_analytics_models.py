"""The analytics models on synthetic series: no database."""

from __future__ import annotations

import numpy as np
import pandas as pd

from metricstack.analytics import anomalies, churn, forecast


def _daily(days: int = 730, dip: int = 500, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2024-01-01", periods=days, freq="D")
    weekday = np.array([1.06, 1.0, 0.98, 0.98, 0.93, 0.88, 1.12])[dates.day_of_week]
    level = 30 * 1.3 ** (np.arange(days) / 365.25) * weekday
    level[dip] *= 0.25
    orders = rng.poisson(level).astype("float64")
    revenue = np.array([rng.lognormal(5.0, 0.8, int(n)).sum() for n in orders])
    return pd.DataFrame(
        {
            "kpi_date": dates,
            "revenue": revenue,
            "order_count": orders,
            "average_order_value": np.where(orders > 0, revenue / np.maximum(orders, 1), np.nan),
        }
    )


def test_a_one_day_dip_is_flagged_and_little_else() -> None:
    daily = _daily()
    flags = anomalies.kpi_anomalies(daily)
    dip_day = daily["kpi_date"].iloc[500]
    flagged = flags[flags["is_anomaly"]]
    assert {"revenue", "order_count"} <= set(flagged.loc[flagged["kpi_date"] == dip_day, "kpi"])
    others = flags[flags["kpi_date"] != dip_day]
    assert others["is_anomaly"].mean() < 0.01
    assert (flags["lower"] <= flags["expected"]).all() and (
        flags["expected"] <= flags["upper"]
    ).all()


def test_forecast_intervals_are_nested_and_the_backtest_beats_naive() -> None:
    daily = _daily()
    rows, fit, metrics = forecast.revenue_forecast(daily, set(), "run")
    assert len(rows) == forecast.HORIZON_DAYS
    assert (rows["lower_95"] <= rows["lower_80"]).all()
    assert (rows["lower_80"] <= rows["predicted_revenue"]).all()
    assert (rows["predicted_revenue"] <= rows["upper_80"]).all()
    assert (rows["upper_80"] <= rows["upper_95"]).all()
    assert (rows["lower_95"] >= 0).all()
    assert fit.trained_through == daily["kpi_date"].iloc[-1]
    assert metrics["mape_holdout_28d"] < metrics["mape_naive_last_week_28d"]
    # same data, same forecast
    again, _, _ = forecast.revenue_forecast(daily, set(), "run")
    pd.testing.assert_frame_equal(rows, again)


def test_fourier_terms_grow_with_the_history() -> None:
    assert forecast.fourier_pairs(365) == 0
    assert 2 <= forecast.fourier_pairs(500) < forecast.fourier_pairs(1000)
    assert forecast.fourier_pairs(5000) == forecast.MAX_FOURIER


def test_risk_bands() -> None:
    assert [churn.risk_band(p) for p in (0.0, 0.29, 0.3, 0.59, 0.6, 1.0)] == [
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
    ]
