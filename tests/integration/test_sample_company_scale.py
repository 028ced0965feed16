"""The sample company at 100,000 orders: the same guarantees as the small unit tests,
where the planted signals must stand out clearly (no database needed)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from metricstack.sample_company.config import CompanyConfig
from metricstack.sample_company.generator import Company, generate


@pytest.fixture(scope="module")
def large() -> tuple[Company, dict[str, pd.DataFrame]]:
    company = generate(CompanyConfig(orders=100_000))
    return company, company.collect()


def test_size_and_ratios(large: tuple[Company, dict[str, pd.DataFrame]]) -> None:
    _, t = large
    orders = len(t["orders"])
    assert 95_000 < orders < 105_000
    assert 2.8 < len(t["order_lines"]) / orders < 3.6
    assert 2.5 < len(t["web_sessions"]) / orders < 4.5
    assert 0.3 < len(t["customers"]) / orders < 0.5


def test_dip_and_late_supplier_stand_out(large: tuple[Company, dict[str, pd.DataFrame]]) -> None:
    company, t = large
    truth = company.truth.anomalies
    revenue = pd.Series(company.truth.daily_revenue_cents)
    revenue.index = pd.to_datetime(revenue.index).date
    dip = truth.dip_day
    same_weekday = [revenue[dip + timedelta(weeks=k)] for k in (-3, -2, -1, 1, 2, 3)]
    assert revenue[dip] < 0.4 * np.mean(same_weekday)
    # the funnel explains it: checkouts that day do not turn into purchases
    events = t["funnel_events"]
    day = events["occurred_at"].dt.date
    on_dip = events[day == dip]["event_type"].value_counts()
    normal = events[day == dip - timedelta(weeks=1)]["event_type"].value_counts()
    assert on_dip["purchase"] / on_dip["checkout"] < 0.6 * normal["purchase"] / normal["checkout"]
    # the late supplier's products run short after it turns
    products = t["products"].set_index("product_id")["supplier_id"]
    inv = t["inventory_snapshots"]
    late = inv["product_id"].map(products) == truth.late_supplier_id
    after = inv["snapshot_date"] >= pd.Timestamp(truth.late_from) + pd.Timedelta(weeks=4)
    short = inv["units_short"] > 0  # weeks in which a product ran out somewhere

    def share(mask: pd.Series) -> float:
        return float(short[mask].mean())

    assert share(late & after) > 1.8 * share(late & ~after)
    assert share(late & after) > 1.2 * share(~late & after)


def test_dirt_counts_scale_with_rows(large: tuple[Company, dict[str, pd.DataFrame]]) -> None:
    company, t = large
    rate = company.config.dirt_rate
    for table, kind in (("order_lines", "negative_quantity"), ("web_sessions", "duplicate")):
        n = company.truth.rows[table]
        assert 0.5 * rate * n < company.truth.count(table, kind) < 1.5 * rate * n
    assert (t["order_lines"]["quantity"] < 0).sum() == company.truth.count(
        "order_lines", "negative_quantity"
    )
