"""Web sessions and funnel events of one month.

Every web order gets a purchase session (visit -> product view -> cart -> checkout ->
purchase, the purchase at the order's timestamp); other sessions stop earlier. Traffic
follows the demand curve without the dip: on the dip day visitors come, reach checkout
and fail there, which is what the funnel shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from metricstack.sample_company.customers import CHANNELS
from metricstack.sample_company.plan import Plan
from metricstack.sample_company.randomness import pick, stream
from metricstack.sample_company.sales import WEB_HOURS, MonthSales

STAGES = ("visit", "product_view", "cart", "checkout", "purchase")
# deepest stage of sessions that do not buy: visit, product view, cart, checkout
NON_BUYER_DEPTH = np.array([0.40, 0.33, 0.15, 0.12])
LOGGED_IN = 0.35
SOURCES = ("direct", *CHANNELS[:-1])
SOURCE_SHARE = np.array([0.22, 0.22, 0.18, 0.13, 0.05, 0.07, 0.07, 0.06])
DEVICES = np.array(["mobile", "desktop", "tablet"], dtype=object)


@dataclass
class MonthWeb:
    sessions: pd.DataFrame
    events: pd.DataFrame


def generate_web(plan: Plan, month: int, sales: MonthSales) -> MonthWeb:
    cfg = plan.config
    rng = stream(cfg.seed, "web", month)
    d0, d1 = plan.timeline.month_range(month)
    cust = plan.customers
    cat = plan.catalogue

    buyers = np.flatnonzero(~sales.business)
    n_buy = len(buyers)
    expected = plan.expected_online_per_day[d0:d1] * (cfg.sessions_per_order - 1)
    other_per_day = rng.poisson(expected)
    abandoned_per_day = np.zeros(d1 - d0, dtype=np.int64)
    dip = plan.anomalies.dip_day
    if dip is not None and d0 <= (dip - cfg.start).days < d1:
        i = (dip - cfg.start).days - d0
        lost = plan.expected_online_per_day[d0 + i] * (1 - plan.anomalies.dip_factor)
        abandoned_per_day[i] = rng.poisson(lost)
    other_day = np.repeat(np.arange(d0, d1), other_per_day)
    ab_day = np.repeat(np.arange(d0, d1), abandoned_per_day)
    n_other, n_ab = len(other_day), len(ab_day)

    # -- stage timings: seconds between consecutive stages -----------------------------
    n = n_buy + n_other + n_ab
    depth = np.concatenate(
        [np.full(n_buy, 4), pick(rng, NON_BUYER_DEPTH, n_other), np.full(n_ab, 3)]
    ).astype(np.int64)
    gaps = rng.lognormal(4.0, 0.8, (n, 4)).astype(np.int64) + 5  # ~1 min per step
    gaps[np.arange(4)[None, :] >= depth[:, None]] = 0
    span = gaps.sum(axis=1)
    day = np.concatenate([sales.order_day[buyers], other_day, ab_day])
    day_start = day * 86400
    n_free = n_other + n_ab
    tod = np.concatenate(
        [
            np.zeros(n_buy, np.int64),
            pick(rng, WEB_HOURS, n_free) * 3600 + rng.integers(0, 3600, n_free),
        ]
    )
    # a buyer's session ends at the order; others start at a random time of day
    session_order = np.full(n, -1, dtype=np.int64)  # the order a buyer's session ends in
    session_order[:n_buy] = buyers
    buyer_end = np.zeros(n, dtype=np.int64)
    buyer_end[:n_buy] = sales.ordered_at[buyers]
    started = np.where(
        session_order >= 0,
        np.maximum(buyer_end - span, day_start),
        day_start + np.minimum(tod, 86399 - span.clip(max=86399)),
    )

    # -- who: buyers are the ordering customer; some other visitors are logged in ------
    customer = np.full(n, -1, dtype=np.int64)
    customer[:n_buy] = sales.customer_index[buyers]
    logged = np.flatnonzero((np.arange(n) >= n_buy) & (rng.random(n) < LOGGED_IN))
    existing = cust.existing_by(day[logged])
    has = existing > 0
    customer[logged[has]] = (rng.random(int(has.sum())) * existing[has]).astype(np.int64)
    source = pick(rng, SOURCE_SHARE, n)
    own_channel = customer >= 0
    follow = own_channel & (rng.random(n) < 0.5)  # known visitors often return the way they came
    source = np.where(follow, cust.channel[np.maximum(customer, 0)].astype(np.int64) + 1, source)
    source = np.where(source == len(SOURCES), 0, source)  # sales_outreach -> direct
    country = np.where(
        own_channel, cust.country[np.maximum(customer, 0)], pick(rng, cat.country_share, n)
    )
    device = DEVICES[pick(rng, np.array([0.58, 0.34, 0.08]), n)]
    pages = 1 + 2 * depth + rng.poisson(1.5, n)
    duration = span + rng.integers(5, 90, n)

    # -- ids: yyyymmdd * 1e6 + rank within the day --------------------------------------
    order = np.lexsort((np.arange(n), started))
    inv = np.empty(n, dtype=np.int64)
    inv[order] = np.arange(n)
    day_sorted = day[order]
    first_of_day = np.searchsorted(day_sorted, day_sorted, side="left")
    seq_sorted = np.arange(n) - first_of_day + 1
    dates = plan.timeline.dates()[day]
    ymd = (
        (dates.astype("datetime64[Y]").astype(np.int64) + 1970) * 10000
        + (dates.astype("datetime64[M]").astype(np.int64) % 12 + 1) * 100
        + (dates - dates.astype("datetime64[M]")).astype(np.int64)
        + 1
    )
    session_id = ymd * 1_000_000 + seq_sorted[inv]

    start = plan.timeline.start64.astype("datetime64[s]")
    customer_col = pd.array(customer + 1, dtype="Int64")
    customer_col[customer < 0] = pd.NA
    sessions = (
        pd.DataFrame(
            {
                "session_id": session_id,
                "started_at": pd.DatetimeIndex(start + started).tz_localize("UTC"),
                "customer_id": customer_col,
                "traffic_source": np.array(SOURCES, dtype=object)[source],
                "device": device,
                "country_code": cat.country_codes.astype(object)[country],
                "pages_viewed": pages.astype(np.int32),
                "duration_seconds": duration.astype(np.int32),
            }
        )
        .iloc[order]
        .reset_index(drop=True)
    )

    # -- funnel events: one per stage reached ----------------------------------------
    ev_session = np.repeat(np.arange(n), depth + 1)
    first_ev = np.concatenate([[0], np.cumsum(depth + 1)[:-1]])
    stage = np.arange(len(ev_session)) - first_ev[ev_session]
    offsets = np.concatenate([np.zeros((n, 1), np.int64), np.cumsum(gaps, axis=1)], axis=1)
    occurred = started[ev_session] + offsets[ev_session, stage]
    ev_order_idx = session_order[ev_session]
    purchase = (ev_order_idx >= 0) & (stage == 4)
    occurred[purchase] = sales.ordered_at[ev_order_idx[purchase]]
    viewed = pick(rng, plan.catalogue.product_popularity, n)
    viewed[:n_buy] = sales.first_product[buyers]
    product = pd.array(cat.product_ids[viewed[ev_session]], dtype="Int64")
    product[(stage == 0) | (stage >= 3)] = pd.NA
    order_ids = sales.orders["order_id"].to_numpy()
    order_col = pd.array(
        np.where(purchase, order_ids[np.maximum(ev_order_idx, 0)], 0), dtype="Int64"
    )
    order_col[~purchase] = pd.NA
    ev_customer = pd.array(customer[ev_session] + 1, dtype="Int64")
    ev_customer[customer[ev_session] < 0] = pd.NA
    events = pd.DataFrame(
        {
            "event_id": session_id[ev_session] * 10 + stage,
            "session_id": session_id[ev_session],
            "customer_id": ev_customer,
            "event_type": np.array(STAGES, dtype=object)[stage],
            "occurred_at": pd.DatetimeIndex(start + occurred).tz_localize("UTC"),
            "product_id": product,
            "order_id": order_col,
        }
    )
    ev_order = np.lexsort((stage, inv[ev_session]))
    events = events.iloc[ev_order].reset_index(drop=True)
    return MonthWeb(sessions=sessions, events=events)
