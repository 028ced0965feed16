"""Weekly revenue against its candidate drivers: correlations and an OLS regression.

Weeks run Monday to Sunday; only whole weeks of the revenue history count. Per week
(aggregated in SQL): revenue (fct_daily_revenue), marketing spend per channel
(``spend_<channel>``, EUR; channels that never spend, such as organic search, are
left out), web sessions (``web_sessions``), the week's NPS (``nps``: % promoters
(9-10) - % detractors (0-6) of the week's survey answers) and support tickets opened
(``support_tickets``). A week without NPS answers takes the mean NPS of all weeks.

Table ``marts_build.analytics_revenue_drivers``, long format:

- ``driver`` (text): the driver the row is about: a column above, ``(intercept)``, or
  ``(model)`` for statistics of the whole regression.
- ``statistic`` (text):

  - ``pearson_r:<other>``: Pearson correlation of ``driver`` with ``<other>``, for
    every pair of the columns above and ``revenue`` (the full matrix, both halves,
    the diagonal included); ``pearson_p:revenue``: the p-value of the correlation
    with revenue;
  - ``coef``, ``std_err``, ``t_value``, ``p_value``, ``ci_low_95``, ``ci_high_95``:
    the OLS estimate of weekly revenue on all drivers at once (EUR of weekly revenue
    per unit of the driver), with heteroskedasticity- and autocorrelation-robust
    (Newey-West, 4 weeks) standard errors, since weekly series are autocorrelated;
  - ``standardised_coef``: ``coef`` x sd(driver) / sd(revenue), to compare drivers
    measured in different units;
  - for ``(model)``: ``r_squared``, ``adj_r_squared``, ``f_p_value``, ``n_weeks``,
    ``n_drivers``, ``condition_number`` (large: drivers move together and single
    coefficients are unstable, though R² is not affected), ``durbin_watson``.
- ``value`` (double precision): the statistic's value.

Drivers that move with demand (every channel's budget follows the season in the sample
company) are strongly correlated with each other: read the correlations and R² as the
robust part, the single coefficients as indicative.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import psycopg
import statsmodels.api as sm  # type: ignore[import-untyped]  # statsmodels ships no type hints
from scipy import stats  # type: ignore[import-untyped]  # scipy-stubs not installed

from metricstack.analytics.warehouse import Table, read_frame

HAC_LAGS = 4

TABLE = Table(
    "analytics_revenue_drivers",
    "Weekly revenue vs marketing spend, web sessions, NPS and support tickets: "
    "correlations and OLS",
    (("driver", "text"), ("statistic", "text"), ("value", "double precision")),
)

WEEKLY = """
with bounds as (
    select min(order_date) as first_day, max(order_date) as last_day
    from marts_build.fct_daily_revenue
),
weeks as (
    -- whole weeks only: Monday on or after the first day, Sunday on or before the last
    select cast(week as date) as week_start
    from bounds, generate_series(
        date_trunc('week', first_day + 6), date_trunc('week', last_day + 1) - interval '7 days',
        interval '7 days'
    ) as week
),
revenue as (
    select cast(date_trunc('week', order_date) as date) as week_start, sum(revenue) as revenue
    from marts_build.fct_daily_revenue group by 1
),
spend as (
    select cast(date_trunc('week', spend_date) as date) as week_start,
        marketing_channel, sum(spend_amount) as spend
    from staging.stg_marketing__marketing_spend group by 1, 2
),
spend_json as (
    select week_start, jsonb_object_agg(marketing_channel, spend) as spend
    from spend group by 1
),
sessions as (
    select cast(date_trunc('week', started_at at time zone 'UTC') as date) as week_start,
        count(*) as web_sessions
    from staging.stg_marketing__web_sessions group by 1
),
nps as (
    select cast(date_trunc('week', responded_at at time zone 'UTC') as date) as week_start,
        100.0 * (count(*) filter (where nps_score >= 9) - count(*) filter (where nps_score <= 6))
            / count(*) as nps
    from staging.stg_crm__nps_responses group by 1
),
tickets as (
    select cast(date_trunc('week', opened_at at time zone 'UTC') as date) as week_start,
        count(*) as support_tickets
    from staging.stg_crm__support_tickets group by 1
)
select
    weeks.week_start,
    coalesce(revenue.revenue, 0) as revenue,
    coalesce(spend_json.spend, '{}'::jsonb) as spend,
    coalesce(sessions.web_sessions, 0) as web_sessions,
    nps.nps,
    coalesce(tickets.support_tickets, 0) as support_tickets
from weeks
left join revenue using (week_start)
left join spend_json using (week_start)
left join sessions using (week_start)
left join nps using (week_start)
left join tickets using (week_start)
order by weeks.week_start
"""


def weekly_drivers(conn: psycopg.Connection[Any]) -> pd.DataFrame:
    """week_start, revenue and one column per driver, one row per whole week."""
    raw = read_frame(conn, WEEKLY)
    spend = pd.DataFrame(
        [{k: float(v) for k, v in row.items()} for row in raw["spend"]], index=raw.index
    )
    spend = spend.reindex(sorted(spend.columns), axis=1).fillna(0.0)
    spend = spend.loc[:, spend.sum() > 0].add_prefix("spend_")
    frame = pd.concat([raw[["week_start"]], raw[["revenue"]].astype("float64"), spend], axis=1)
    frame["web_sessions"] = raw["web_sessions"].astype("float64")
    nps = raw["nps"].astype("float64")
    frame["nps"] = nps.fillna(nps.mean() if nps.notna().any() else 0.0)
    frame["support_tickets"] = raw["support_tickets"].astype("float64")
    return frame


def revenue_drivers(weekly: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, float]]:
    """The rows of analytics_revenue_drivers, and the regression's summary metrics."""
    columns = [c for c in weekly.columns if c not in {"week_start", "revenue"}]
    # a driver that never varies has no correlation and no coefficient
    drivers = [c for c in columns if weekly[c].std() > 0]
    rows: list[dict[str, Any]] = []

    def add(driver: str, statistic: str, value: float) -> None:
        rows.append({"driver": driver, "statistic": statistic, "value": float(value)})

    matrix = weekly[["revenue", *drivers]].corr(method="pearson")
    for a in matrix.index:
        for b in matrix.columns:
            add(str(a), f"pearson_r:{b}", float(matrix.loc[a, b]))
    for driver in drivers:
        _, p = stats.pearsonr(weekly[driver], weekly["revenue"])
        add(driver, "pearson_p:revenue", float(p))

    n = len(weekly)
    summary: dict[str, float] = {"n_weeks": float(n)}
    if n > len(drivers) + 2:
        x = sm.add_constant(weekly[drivers], has_constant="add")
        fit = sm.OLS(weekly["revenue"], x).fit(cov_type="HAC", cov_kwds={"maxlags": HAC_LAGS})
        ci = fit.conf_int(alpha=0.05)
        sd_revenue = float(weekly["revenue"].std())
        for name in x.columns:
            driver = "(intercept)" if name == "const" else str(name)
            add(driver, "coef", fit.params[name])
            add(driver, "std_err", fit.bse[name])
            add(driver, "t_value", fit.tvalues[name])
            add(driver, "p_value", fit.pvalues[name])
            add(driver, "ci_low_95", ci.loc[name, 0])
            add(driver, "ci_high_95", ci.loc[name, 1])
            if name != "const" and sd_revenue > 0:
                add(driver, "standardised_coef", fit.params[name] * weekly[name].std() / sd_revenue)
        summary |= {
            "r_squared": float(fit.rsquared),
            "adj_r_squared": float(fit.rsquared_adj),
            "f_p_value": float(fit.f_pvalue),
            "n_drivers": float(len(drivers)),
            "condition_number": float(np.linalg.cond(x.to_numpy(dtype="float64"))),
            "durbin_watson": float(sm.stats.stattools.durbin_watson(fit.resid)),
        }
    for statistic, value in summary.items():
        add("(model)", statistic, value)
    return pd.DataFrame(rows, columns=TABLE.column_names), summary
