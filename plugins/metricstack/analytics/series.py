"""The daily KPI series every model of this package starts from.

One row per day from the first to the last day of ``marts_build.fct_daily_revenue``,
days without orders included (revenue and order count 0, average order value
undefined), so that weekday lags and windows count days, not rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import psycopg

from metricstack.analytics.warehouse import read_frame

DAILY_KPIS = """
with bounds as (
    select min(order_date) as first_day, max(order_date) as last_day
    from marts_build.fct_daily_revenue
),
days as (
    select cast(day as date) as kpi_date
    from bounds, generate_series(first_day, last_day, interval '1 day') as day
)
select
    days.kpi_date,
    coalesce(revenue.order_count, 0) as order_count,
    coalesce(revenue.revenue, 0) as revenue
from days
left join marts_build.fct_daily_revenue as revenue on revenue.order_date = days.kpi_date
order by days.kpi_date
"""


def daily_kpis(conn: psycopg.Connection[Any]) -> pd.DataFrame:
    """kpi_date (datetime64), revenue, order_count, average_order_value (NaN without orders)."""
    frame = read_frame(conn, DAILY_KPIS)
    frame["kpi_date"] = pd.to_datetime(frame["kpi_date"])
    frame["revenue"] = frame["revenue"].astype("float64")
    frame["order_count"] = frame["order_count"].astype("float64")
    frame["average_order_value"] = np.where(
        frame["order_count"] > 0,
        frame["revenue"] / frame["order_count"].where(frame["order_count"] > 0, 1.0),
        np.nan,
    )
    return frame
