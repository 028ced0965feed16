"""NPS survey responses and support tickets of one month's orders.

Both react to what happened to the order: slow deliveries and returns lower the score
and raise the ticket rate, so the service metrics move with operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from metricstack.sample_company.plan import Plan
from metricstack.sample_company.randomness import pick, stream
from metricstack.sample_company.sales import MonthSales
from metricstack.sample_company.workforce import SUPPORT_CC, pick_active

NPS_RESPONSE_RATE = 0.06
TOPICS = ("delivery", "return", "payment", "product", "account")
CHANNELS = np.array(["email", "chat", "phone"], dtype=object)
PRIORITIES = np.array(["low", "normal", "high"], dtype=object)


@dataclass
class MonthService:
    nps: pd.DataFrame
    tickets: pd.DataFrame
    closed_agent: np.ndarray  # employee index of each closed ticket
    closed_day: np.ndarray


def _ids(plan: Plan, month: int, n: int) -> np.ndarray:
    return plan.timeline.month_label(month) * 1_000_000 + np.arange(1, n + 1, dtype=np.int64)


def generate_service(plan: Plan, month: int, sales: MonthSales) -> MonthService:
    cfg = plan.config
    rng = stream(cfg.seed, "service", month)
    n_days = plan.timeline.n_days
    start = plan.timeline.start64.astype("datetime64[s]")
    order_ids = sales.orders["order_id"].to_numpy()
    transit = np.where(sales.delivered_day >= 0, sales.delivered_day - sales.order_day, 0)
    slow = transit >= 4

    # -- NPS: asked after delivery, answered by a few ---------------------------------
    asked = np.flatnonzero((sales.delivered_day >= 0) & ~sales.business)
    answers = asked[rng.random(len(asked)) < NPS_RESPONSE_RATE]
    at = (sales.delivered_day[answers] + 1 + rng.poisson(2.0, len(answers))) * 86400 + rng.integers(
        6 * 3600, 23 * 3600, len(answers)
    )
    keep = at < n_days * 86400
    answers, at = answers[keep], at[keep]
    mean = 8.4 - 1.3 * slow[answers] - 2.6 * sales.returned[answers]
    score = np.clip(np.rint(rng.normal(mean, 1.7)), 0, 10).astype(np.int32)
    sort = np.lexsort((answers, at))
    answers, at, score = answers[sort], at[sort], score[sort]
    nps = pd.DataFrame(
        {
            "response_id": _ids(plan, month, len(answers)),
            "customer_id": sales.customer_index[answers] + 1,
            "order_id": order_ids[answers],
            "responded_at": pd.DatetimeIndex(start + at).tz_localize("UTC"),
            "score": score,
        }
    )

    # -- tickets about orders, and some about accounts ------------------------------
    p = 0.03 + 0.25 * sales.returned + 0.08 * slow + 0.30 * sales.cancelled
    about = np.flatnonzero(rng.random(len(p)) < p)
    topic = np.where(
        sales.returned[about],
        1,
        np.where(
            slow[about],
            0,
            np.where(
                sales.cancelled[about], 2, pick(rng, np.array([0.4, 0, 0.2, 0.4, 0]), len(about))
            ),
        ),
    )
    n_general = rng.poisson(len(about) * 0.25)
    d0, d1 = plan.timeline.month_range(month)
    g_day = rng.integers(d0, d1, n_general)
    existing = plan.customers.existing_by(g_day)
    g_customer = (rng.random(n_general) * existing).astype(np.int64)
    opened_day = np.concatenate([sales.order_day[about] + rng.integers(0, 14, len(about)), g_day])
    opened = opened_day * 86400 + rng.integers(7 * 3600, 21 * 3600, len(opened_day))
    customer = np.concatenate([sales.customer_index[about], g_customer])
    order_ix = np.concatenate([about, np.full(n_general, -1)])
    topic = np.concatenate([topic, np.full(n_general, 4)])
    keep = opened < n_days * 86400
    opened, opened_day, customer, order_ix, topic = (
        opened[keep],
        opened_day[keep],
        customer[keep],
        order_ix[keep],
        topic[keep],
    )
    n = len(opened)
    members = np.flatnonzero(plan.workforce.cost_centre == SUPPORT_CC)
    agent = pick_active(rng, plan.workforce, members, opened_day)
    resolve = (rng.lognormal(2.8, 1.0, n) * 3600).astype(np.int64)
    closed = opened + resolve
    is_closed = closed < n_days * 86400
    sat = rng.integers(1, 6, n) + (resolve < 24 * 3600)  # quick answers please
    has_sat = is_closed & (rng.random(n) < 0.55)
    sort = np.lexsort((customer, opened))
    opened, opened_day, customer, order_ix, topic, agent, closed, is_closed, sat, has_sat = (
        opened[sort],
        opened_day[sort],
        customer[sort],
        order_ix[sort],
        topic[sort],
        agent[sort],
        closed[sort],
        is_closed[sort],
        sat[sort],
        has_sat[sort],
    )
    order_col = pd.array(
        np.where(order_ix >= 0, order_ids[np.maximum(order_ix, 0)] if len(order_ids) else 0, 0),
        dtype="Int64",
    )
    order_col[order_ix < 0] = pd.NA
    closed_col = pd.Series(pd.DatetimeIndex(start + closed).tz_localize("UTC")).where(is_closed)
    sat_col = pd.array(np.minimum(sat, 5), dtype="Int64")
    sat_col[~has_sat] = pd.NA
    tickets = pd.DataFrame(
        {
            "ticket_id": _ids(plan, month, n),
            "customer_id": customer + 1,
            "order_id": order_col,
            "agent_id": plan.workforce.employee_ids[agent],
            "opened_at": pd.DatetimeIndex(start + opened).tz_localize("UTC"),
            "closed_at": closed_col,
            "channel": CHANNELS[pick(rng, np.array([0.5, 0.3, 0.2]), n)],
            "topic": np.array(TOPICS, dtype=object)[topic],
            "priority": PRIORITIES[pick(rng, np.array([0.3, 0.55, 0.15]), n)],
            "status": np.where(is_closed, "closed", "open").astype(object),
            "satisfaction": sat_col,
        }
    )
    return MonthService(
        nps=nps,
        tickets=tickets,
        closed_agent=agent[is_closed],
        closed_day=closed[is_closed] // 86400,
    )
