"""Churn prediction: which active customers will not order in the next 180 days.

A customer is *active* as of a day when they have placed an order (not cancelled) in
the 365 days up to it. For an active customer, *churn* is having no such order in the
``HORIZON_DAYS`` days after it. Features are taken as of a cutoff day, from SQL, one
row per customer:

- recency_days (since the last order), frequency (orders ever), orders_90d,
  orders_365d, monetary (revenue ever, EUR), monetary_365d, average_order_value,
  tenure_days (since signup), days_per_order (tenure / frequency), cancelled_365d;
- is_business (segment), one column per acquisition channel;
- tickets_365d (support tickets opened), nps_last and nps_mean (survey answers; NaN
  for customers who never answered, which the model handles natively), nps_answers.

The model is scikit-learn's HistGradientBoostingClassifier with fixed settings and
``random_state=0`` and no early stopping, so the same data gives the same scores.

Time-based holdout: the model is trained on cutoffs ``as_of - 360``, ``as_of - 450``,
... (every 90 days back while a cutoff has 180 days of history before it; each
cutoff's 180-day label window ends by ``as_of - 180``), and evaluated on the customers
active at ``as_of - 180``, whose 180 days end on ``as_of``, the last day of data. The
model that scores is then retrained on all those cutoffs, the holdout one included,
and applied to the customers active at ``as_of``. Its quality lands in
``analytics_model_runs`` (run.py): ``roc_auc``, ``precision_at_0_5``,
``recall_at_0_5``, ``base_rate`` (share of holdout customers who churned),
``holdout_customers`` and ``train_rows``. With less than about 540 days of history
there is no holdout and no scores: the table is written empty.

Table ``marts_build.analytics_churn_scores``, one row per customer active on the
last day of data:

- ``customer_id`` (bigint): the customer.
- ``churn_probability`` (double precision): the predicted probability of no order in
  the 180 days after ``scored_at``.
- ``risk_band`` (text): ``high`` (probability >= 0.6), ``medium`` (>= 0.3) or ``low``.
- ``scored_at`` (date): the day the features were taken as of (the last day of data).
- ``model_version`` (text): the model and the last day it learned from, e.g.
  ``hgb_v1:2025-12-31``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from sklearn.ensemble import (  # type: ignore[import-untyped]  # scikit-learn ships no type hints
    HistGradientBoostingClassifier,
)
from sklearn.metrics import (  # type: ignore[import-untyped]  # scikit-learn ships no type hints
    precision_score,
    recall_score,
    roc_auc_score,
)
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # no py.typed

from metricstack.analytics.warehouse import Table, read_frame

HORIZON_DAYS = 180
ACTIVE_DAYS = 365
CUTOFF_STEP_DAYS = 90
MIN_HISTORY_DAYS = 180  # history a cutoff needs before it
MAX_TRAIN_CUTOFFS = 8
THRESHOLD = 0.5
BANDS = ((0.6, "high"), (0.3, "medium"), (0.0, "low"))
MODEL = "hgb_v1"

TABLE = Table(
    "analytics_churn_scores",
    "Churn probability (no order in the next 180 days) of every active customer",
    (
        ("customer_id", "bigint"),
        ("churn_probability", "double precision"),
        ("risk_band", "text"),
        ("scored_at", "date"),
        ("model_version", "text"),
    ),
)

FEATURES = """
with orders as (
    select customer_id, order_date, is_cancelled, subtotal - discount as amount
    from staging.stg_shop__orders
),
history as (
    select
        customer_id,
        count(*) filter (where not is_cancelled) as frequency,
        count(*) filter (where not is_cancelled and order_date > %(cutoff)s - 90) as orders_90d,
        count(*) filter (where not is_cancelled and order_date > %(cutoff)s - 365)
            as orders_365d,
        coalesce(sum(amount) filter (where not is_cancelled), 0) as monetary,
        coalesce(sum(amount) filter (where not is_cancelled and order_date > %(cutoff)s - 365), 0)
            as monetary_365d,
        count(*) filter (where is_cancelled and order_date > %(cutoff)s - 365)
            as cancelled_365d,
        max(order_date) filter (where not is_cancelled) as last_order_date
    from orders
    where order_date <= %(cutoff)s
    group by customer_id
),
active as (
    select * from history where last_order_date > %(cutoff)s - %(active_days)s
),
future as (
    select distinct customer_id from orders
    where not is_cancelled
        and order_date > %(cutoff)s and order_date <= %(cutoff)s + %(horizon)s
),
tickets as (
    select customer_id, count(*) as tickets_365d
    from staging.stg_crm__support_tickets
    where cast(opened_at at time zone 'UTC' as date) <= %(cutoff)s
        and cast(opened_at at time zone 'UTC' as date) > %(cutoff)s - 365
    group by customer_id
),
nps as (
    select
        customer_id,
        (array_agg(nps_score order by responded_at desc, response_id desc))[1] as nps_last,
        avg(nps_score) as nps_mean,
        count(*) as nps_answers
    from staging.stg_crm__nps_responses
    where cast(responded_at at time zone 'UTC' as date) <= %(cutoff)s
    group by customer_id
)
select
    active.customer_id,
    %(cutoff)s - active.last_order_date as recency_days,
    active.frequency,
    active.orders_90d,
    active.orders_365d,
    active.monetary,
    active.monetary_365d,
    active.monetary / active.frequency as average_order_value,
    greatest(%(cutoff)s - customers.signup_date, 0) as tenure_days,
    greatest(%(cutoff)s - customers.signup_date, 0) / active.frequency as days_per_order,
    active.cancelled_365d,
    customers.is_business,
    customers.acquisition_channel,
    coalesce(tickets.tickets_365d, 0) as tickets_365d,
    nps.nps_last,
    nps.nps_mean,
    coalesce(nps.nps_answers, 0) as nps_answers,
    future.customer_id is null as churned
from active
inner join staging.stg_shop__customers as customers using (customer_id)
left join future using (customer_id)
left join tickets using (customer_id)
left join nps using (customer_id)
order by active.customer_id
"""

NUMERIC = (
    "recency_days",
    "frequency",
    "orders_90d",
    "orders_365d",
    "monetary",
    "monetary_365d",
    "average_order_value",
    "tenure_days",
    "days_per_order",
    "cancelled_365d",
    "tickets_365d",
    "nps_last",
    "nps_mean",
    "nps_answers",
)


def customer_features(conn: psycopg.Connection[Any], cutoff: date) -> pd.DataFrame:
    """One row per customer active at ``cutoff``: features, and the label ``churned``.

    The label is only meaningful when ``cutoff + HORIZON_DAYS`` is within the data.
    """
    params = {"cutoff": cutoff, "active_days": ACTIVE_DAYS, "horizon": HORIZON_DAYS}
    frame = read_frame(conn, FEATURES, params)
    for name in NUMERIC:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    return frame


def _matrix(frame: pd.DataFrame, channels: list[str]) -> pd.DataFrame:
    x = frame[list(NUMERIC)].copy()
    x["is_business"] = frame["is_business"].astype("float64")
    for channel in channels:
        x[f"channel_{channel}"] = (frame["acquisition_channel"] == channel).astype("float64")
    return x


def _model() -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=200,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=0,
    )


def risk_band(probability: float) -> str:
    return next(name for floor, name in BANDS if probability >= floor)


@dataclass
class ChurnResult:
    scores: pd.DataFrame  # the rows of analytics_churn_scores
    metrics: dict[str, float] = field(default_factory=dict)
    as_of: date | None = None


def churn_scores(conn: psycopg.Connection[Any], first_day: date, as_of: date) -> ChurnResult:
    """Train, evaluate on the time-based holdout, retrain and score as of ``as_of``.

    One OpenMP thread: on a busy worker, scikit-learn's threads spin against the other
    tasks (a 600-row fit took 6 s with two threads and 0.15 s with one).
    """
    with threadpool_limits(limits=1):
        return _churn_scores(conn, first_day, as_of)


def _churn_scores(conn: psycopg.Connection[Any], first_day: date, as_of: date) -> ChurnResult:
    empty = pd.DataFrame(columns=TABLE.column_names)
    holdout_cutoff = as_of - timedelta(days=HORIZON_DAYS)
    train_cutoffs = [
        holdout_cutoff - timedelta(days=HORIZON_DAYS + k * CUTOFF_STEP_DAYS)
        for k in range(MAX_TRAIN_CUTOFFS)
    ]
    train_cutoffs = [c for c in train_cutoffs if (c - first_day).days >= MIN_HISTORY_DAYS]
    if not train_cutoffs:
        return ChurnResult(empty, as_of=as_of)
    train = pd.concat([customer_features(conn, c) for c in train_cutoffs], ignore_index=True)
    holdout = customer_features(conn, holdout_cutoff)
    current = customer_features(conn, as_of)
    if train["churned"].nunique() < 2 or holdout.empty or current.empty:
        return ChurnResult(empty, as_of=as_of)
    channels = sorted(
        set(train["acquisition_channel"])
        | set(holdout["acquisition_channel"])
        | set(current["acquisition_channel"])
    )

    model = _model().fit(_matrix(train, channels), train["churned"].astype(int))
    y_true = holdout["churned"].astype(int).to_numpy()
    probability = model.predict_proba(_matrix(holdout, channels))[:, 1]
    predicted = (probability >= THRESHOLD).astype(int)
    metrics = {
        "roc_auc": float(roc_auc_score(y_true, probability))
        if len(np.unique(y_true)) == 2
        else float("nan"),
        "precision_at_0_5": float(precision_score(y_true, predicted, zero_division=0)),
        "recall_at_0_5": float(recall_score(y_true, predicted, zero_division=0)),
        "base_rate": float(np.mean(y_true)),
        "holdout_customers": float(len(holdout)),
        "train_rows": float(len(train)),
    }

    everything = pd.concat([train, holdout], ignore_index=True)
    final = _model().fit(_matrix(everything, channels), everything["churned"].astype(int))
    scores = final.predict_proba(_matrix(current, channels))[:, 1]
    result = pd.DataFrame(
        {
            "customer_id": current["customer_id"].astype("int64"),
            "churn_probability": np.round(scores, 6),
            "risk_band": [risk_band(float(p)) for p in scores],
            "scored_at": as_of,
            "model_version": f"{MODEL}:{as_of.isoformat()}",
        }
    )
    return ChurnResult(result, metrics, as_of)
