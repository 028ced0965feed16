"""The small sample company both shop-database test modules use, and its updated_at rule."""

from __future__ import annotations

from datetime import date

import pandas as pd

from metricstack.sample_company.config import CompanyConfig
from metricstack.sample_company.generator import Company

CONFIG = CompanyConfig(orders=1000, years=1)
CUTOFF = date(2023, 7, 1)


def updated_at(company: Company, tables: dict[str, pd.DataFrame], table: str) -> pd.Series:
    """The documented updated_at rule, recomputed from the collected tables."""

    def utc(values: pd.Series) -> pd.Series:
        stamps = pd.to_datetime(values)
        return stamps.dt.tz_localize("UTC") if stamps.dt.tz is None else stamps

    frame = tables[table]
    own = {
        "customers": "signup_date",
        "orders": "ordered_at",
        "payments": "paid_at",
        "returns": "returned_on",
        "purchase_orders": "ordered_on",
    }
    if table in own:
        return utc(frame[own[table]])
    parents = {
        "order_lines": ("orders", "order_id", "ordered_at"),
        "purchase_order_lines": ("purchase_orders", "purchase_order_id", "ordered_on"),
    }
    if table in parents:
        parent, key, column = parents[table]
        times = tables[parent].drop_duplicates(key).set_index(key)[column]
        return utc(frame[key].map(times))
    return pd.Series(pd.Timestamp(company.config.start, tz="UTC"), index=frame.index)
