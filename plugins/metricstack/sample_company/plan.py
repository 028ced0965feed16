"""The plan: everything decided before the first order is generated.

Demand curve, planted anomalies, marketing spend and the customers it acquires, staff,
and each month's order count. Months are then generated independently from the plan,
which is small (arrays per day and per customer) even at tens of millions of orders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from metricstack.sample_company.config import CompanyConfig
from metricstack.sample_company.customers import (
    BUSINESS_CHANNEL,
    BUSINESS_WEIGHT,
    CHANNELS,
    CustomerBase,
    CustomerBlock,
    make_block,
)
from metricstack.sample_company.randomness import stream
from metricstack.sample_company.reference import Catalogue, build_catalogue
from metricstack.sample_company.timeline import Timeline, build_timeline, seasonal_shape
from metricstack.sample_company.workforce import Workforce, build_workforce

FIRST_ORDER_SHARE = 0.30  # of all orders; the rest are repeat orders
PRESTART_BASE = 0.30  # customers from before the start, relative to new ones
DIP_FACTOR = 0.25  # demand on the revenue dip day, relative to normal
LATE_DELAY_DAYS = 9.0  # mean extra delay of the supplier that turns late
DECAY_DAYS = 200.0  # a cohort's purchase rate halves in about 140 days...
DECAY_FLOOR = 0.30  # ...down to this share of its first months' rate

# start share, end share, cost per acquired customer at the start (EUR), yearly CAC change
CHANNEL_PLAN = {
    "organic_search": (0.27, 0.22, 0.0, 1.0),
    "paid_search": (0.24, 0.22, 32.0, 1.05),
    "paid_social": (0.13, 0.24, 38.0, 1.18),  # grows, and gets dearer every year
    "display": (0.08, 0.04, 75.0, 1.0),
    "affiliate": (0.10, 0.10, 28.0, 1.03),
    "email": (0.05, 0.05, 9.0, 1.0),
    "referral": (0.07, 0.07, 0.0, 1.0),
    "sales_outreach": (0.06, 0.06, 0.0, 1.0),
}


@dataclass(frozen=True)
class Anomalies:
    dip_day: date | None
    dip_factor: float
    late_supplier_id: int | None
    late_from: date | None
    late_mean_extra_days: float


@dataclass
class Plan:
    config: CompanyConfig
    timeline: Timeline
    shape: np.ndarray  # relative demand per day, anomalies excluded
    demand: np.ndarray  # relative demand per day, with the dip
    demand_cum: np.ndarray  # cumulative demand, len n_days + 1
    anomalies: Anomalies
    catalogue: Catalogue
    workforce: Workforce
    customers: CustomerBase
    spend_cents: np.ndarray  # (n_days, n_channels)
    repeat_rate: float
    month_orders: np.ndarray  # orders per month
    order_offsets: np.ndarray  # first order id - 1 of each month
    expected_online_per_day: np.ndarray  # without the dip: web traffic does not dip


def _choose_anomalies(config: CompanyConfig, timeline: Timeline, catalogue: Catalogue) -> Anomalies:
    if not config.anomalies:
        return Anomalies(None, 1.0, None, None, 0.0)
    rng = stream(config.seed, "anomalies")
    dates = timeline.dates()
    days = np.arange(timeline.n_days)
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    weekday = (dates.astype(np.int64) + 3) % 7
    # A Tuesday-Thursday in the second half, away from the year-end peak and the edges
    # (so that same-weekday neighbours exist on both sides).
    ok = (
        (weekday >= 1)
        & (weekday <= 3)
        & (month >= 2)
        & (month <= 10)
        & (days >= timeline.n_days // 2)
        & (days < timeline.n_days - 28)
    )
    candidates = np.flatnonzero(ok)
    if len(candidates) == 0:
        candidates = np.flatnonzero((days > 14) & (days < timeline.n_days - 14))
    dip = int(rng.choice(candidates))
    # The supplier with the most products turns late about 60% into the history.
    counts = np.bincount(catalogue.product_supplier)
    late_supplier = int(np.argmax(counts)) + 1
    late_from = int(timeline.n_days * rng.uniform(0.55, 0.65))
    return Anomalies(
        dip_day=timeline.day(dip),
        dip_factor=DIP_FACTOR,
        late_supplier_id=late_supplier,
        late_from=timeline.day(late_from),
        late_mean_extra_days=LATE_DELAY_DAYS,
    )


def _channel_curves(timeline: Timeline) -> tuple[np.ndarray, np.ndarray]:
    """Share of acquisitions and CAC (EUR) per day and channel."""
    t = (np.arange(timeline.n_days) / max(timeline.n_days - 1, 1))[:, None]
    start = np.array([CHANNEL_PLAN[c][0] for c in CHANNELS])
    end = np.array([CHANNEL_PLAN[c][1] for c in CHANNELS])
    share = start + (end - start) * t
    share /= share.sum(axis=1, keepdims=True)
    years = np.arange(timeline.n_days)[:, None] / 365.25
    cac = (
        np.array([CHANNEL_PLAN[c][2] for c in CHANNELS])
        * np.array([CHANNEL_PLAN[c][3] for c in CHANNELS]) ** years
    )
    return share, cac


def _acquisitions(
    config: CompanyConfig, timeline: Timeline, shape: np.ndarray, dip: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Marketing spend (cents) and new customers per day and channel.

    Spend is set from a budget that follows demand; customers then arrive as a Poisson
    draw of spend / CAC, so more spend means more customers and CAC = spend / customers
    holds on average. On the dip day the ads run but checkouts fail: spend stays,
    acquisitions fall.
    """
    share, cac = _channel_curves(timeline)
    expected = config.orders * FIRST_ORDER_SHARE * (shape / shape.sum())
    per_channel = expected[:, None] * share
    spend = np.zeros_like(per_channel, dtype=np.int64)
    counts = np.zeros_like(per_channel, dtype=np.int64)
    paid = cac[0] > 0
    for m in range(timeline.n_months):
        lo, hi = timeline.month_range(m)
        rng = stream(config.seed, "acquisition", m)
        budget = (
            per_channel[lo:hi] * cac[lo:hi] * rng.lognormal(0.0, 0.12, (hi - lo, len(CHANNELS)))
        )
        spend[lo:hi] = np.rint(budget * 100).astype(np.int64) * paid
        rate = np.where(
            paid, spend[lo:hi] / 100 / np.where(paid, cac[lo:hi], 1.0), per_channel[lo:hi]
        )
        counts[lo:hi] = rng.poisson(rate * dip[lo:hi, None])
    return spend, counts


def _prestart_block(
    config: CompanyConfig,
    timeline: Timeline,
    n_new: int,
    catalogue: Catalogue,
    workforce: Workforce,
) -> CustomerBlock:
    """Customers from the two years before the start who are still active at the start."""
    rng = stream(config.seed, "prestart")
    n = round(n_new * PRESTART_BASE * 2.2)  # about half churn before the start
    years_back = rng.random(n) ** 0.8 * 2.0  # fewer signups longer ago: the shop grew
    day = np.sort(-np.ceil(years_back * 365.25).astype(np.int64))
    share, _ = _channel_curves(timeline)
    channel = rng.choice(len(CHANNELS), size=n, p=share[0])
    block = make_block(config.seed, 0, day, channel, catalogue, workforce)
    alive = block.churn_day > 0
    return CustomerBlock(
        **{f: getattr(block, f)[alive] for f in CustomerBlock.__dataclass_fields__}
    )


def repeat_intensity(
    plan_like: Plan, month: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Customers who may buy again in ``month``: index, window [lo, hi), expected orders at rate 1.

    The rate is weight x cohort decay (at the window's middle) x the demand within the
    customer's active window, so orders follow the season and the dip, cohorts decay,
    and churned customers (window empty) stop buying.
    """
    cust = plan_like.customers
    d0, d1 = plan_like.timeline.month_range(month)
    end = int(cust.block_starts[month + 2])  # customers who signed up by this month's end
    idx = np.flatnonzero(cust.churn_day[:end] > d0)
    lo = np.maximum(cust.signup_day[idx] + 1, d0)
    hi = np.minimum(cust.churn_day[idx], d1)
    ok = hi > lo
    idx, lo, hi = idx[ok], lo[ok], hi[ok]
    age = (lo + hi) / 2 - cust.signup_day[idx]
    decay = DECAY_FLOOR + (1 - DECAY_FLOOR) * np.exp(-age / DECAY_DAYS)
    cum = plan_like.demand_cum
    lam = cust.weight[idx] * decay * (cum[hi] - cum[lo])
    return idx, lo, hi, lam


def repeat_counts(plan: Plan, month: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same Poisson draw every time it is asked for: (index, lo, hi, orders)."""
    idx, lo, hi, lam = repeat_intensity(plan, month)
    k = stream(plan.config.seed, "order_counts", month).poisson(lam * plan.repeat_rate)
    keep = k > 0
    return idx[keep], lo[keep], hi[keep], k[keep]


def build_plan(config: CompanyConfig) -> Plan:
    timeline = build_timeline(config)
    catalogue = build_catalogue(config, timeline)
    shape = seasonal_shape(timeline)
    anomalies = _choose_anomalies(config, timeline, catalogue)
    dip = np.ones(timeline.n_days)
    if anomalies.dip_day is not None:
        dip[(anomalies.dip_day - config.start).days] = anomalies.dip_factor
    demand = shape * dip
    orders_per_day = config.orders * shape / shape.sum()
    trend = config.orders * (shape / shape.sum()).mean() * np.ones(timeline.n_days)
    trend *= 1.30 ** (np.arange(timeline.n_days) / 365.25)
    trend *= orders_per_day.sum() / trend.sum()
    workforce = build_workforce(config.seed, timeline, trend, config.orders)
    spend, counts = _acquisitions(config, timeline, shape, dip)

    n_new = int(counts.sum())
    blocks = [_prestart_block(config, timeline, n_new, catalogue, workforce)]
    for m in range(timeline.n_months):
        lo, hi = timeline.month_range(m)
        per_day = counts[lo:hi]
        day = np.repeat(np.arange(lo, hi), per_day.sum(axis=1))
        channel = np.repeat(np.tile(np.arange(len(CHANNELS)), hi - lo), per_day.ravel())
        blocks.append(make_block(config.seed, m + 1, day, channel, catalogue, workforce))
    customers = CustomerBase.concat(blocks)

    plan = Plan(
        config=config,
        timeline=timeline,
        shape=shape,
        demand=demand,
        demand_cum=np.concatenate([[0.0], np.cumsum(demand)]),
        anomalies=anomalies,
        catalogue=catalogue,
        workforce=workforce,
        customers=customers,
        spend_cents=spend,
        repeat_rate=1.0,
        month_orders=np.zeros(0, dtype=np.int64),
        order_offsets=np.zeros(0, dtype=np.int64),
        expected_online_per_day=orders_per_day,
    )
    # Calibrate the repeat rate so that first + repeat orders hit the target on average.
    expected_repeat = sum(
        float(repeat_intensity(plan, m)[3].sum()) for m in range(timeline.n_months)
    )
    plan.repeat_rate = max(config.orders - n_new, 0) / max(expected_repeat, 1e-9)
    firsts = np.diff(customers.block_starts)[1:]
    month_orders = np.array(
        [firsts[m] + int(repeat_counts(plan, m)[3].sum()) for m in range(timeline.n_months)],
        dtype=np.int64,
    )
    plan.month_orders = month_orders
    plan.order_offsets = 1_000_000 + np.concatenate([[0], np.cumsum(month_orders)[:-1]])
    online = (
        1.0
        - np.bincount(customers.channel, minlength=len(CHANNELS))[BUSINESS_CHANNEL]
        / len(customers)
        * BUSINESS_WEIGHT
    )
    plan.expected_online_per_day = orders_per_day * online
    return plan


def marketing_frame(plan: Plan, month: int) -> pd.DataFrame:
    """Spend rows of paid channels for the days of ``month``."""
    lo, hi = plan.timeline.month_range(month)
    paid = np.flatnonzero(plan.spend_cents.sum(axis=0) > 0)
    spend = plan.spend_cents[lo:hi][:, paid]
    rng = stream(plan.config.seed, "marketing_reach", month)
    cpm = np.array([8.0, 6.5, 3.5, 5.0, 1.0, 4.0, 4.0, 4.0])[paid]  # EUR per 1000 impressions
    ctr = np.array([0.03, 0.035, 0.012, 0.004, 0.02, 0.03, 0.01, 0.01])[paid]
    impressions = rng.poisson(spend / 100 / cpm * 1000)
    clicks = rng.binomial(impressions, np.broadcast_to(ctr, impressions.shape))
    days = np.repeat(np.arange(lo, hi), len(paid))
    return pd.DataFrame(
        {
            "spend_date": (plan.timeline.start64 + days).astype("datetime64[s]"),
            "channel": np.tile(np.array(CHANNELS, dtype=object)[paid], hi - lo),
            "spend": spend.ravel() / 100,
            "impressions": impressions.ravel().astype(np.int64),
            "clicks": clicks.ravel().astype(np.int64),
        }
    )
