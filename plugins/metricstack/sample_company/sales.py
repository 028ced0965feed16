"""Orders, order lines, payments and returns of one month.

Money is computed in integer cents so that totals equal the sum of their lines
exactly; frames carry euros (cents / 100) for the numeric(18,2) columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from metricstack.sample_company.customers import BUSINESS_CHANNEL, CHANNELS
from metricstack.sample_company.plan import Plan, repeat_counts
from metricstack.sample_company.randomness import pick, stream
from metricstack.sample_company.reference import CATEGORIES

PRICE_RISE = 1.03  # list prices rise each January
COST_RISE = 1.025
FREE_SHIPPING_CENTS = 5000
SHIPPING_CENTS = 495
WELCOME_VOUCHER = 0.10
CANCEL_RATE = 0.025
# hour-of-day profiles (UTC) of web and business orders
WEB_HOURS = np.array([2, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7, 7, 8, 7, 6, 6, 6, 7, 8, 9, 10, 10, 8, 5.0])
BUSINESS_HOURS = np.array([0] * 7 + [3, 8, 10, 10, 8, 5, 8, 10, 9, 6, 3] + [0] * 6, dtype=float)
PAYMENT_METHODS = ("card", "paypal", "klarna", "gift_card")
PAYMENT_SHARE = np.array([0.55, 0.25, 0.12, 0.08])
RETURN_REASONS = ("wrong_size", "damaged", "not_as_described", "changed_mind", "late_delivery")
PROMO_CATEGORIES = (0, 3, 4)  # Apparel, Electronics, Toys: 20% off in Black Friday week


@dataclass
class MonthSales:
    orders: pd.DataFrame
    lines: pd.DataFrame
    payments: pd.DataFrame
    returns: pd.DataFrame
    # per order, for the web, service and accounting steps
    order_day: np.ndarray
    ordered_at: np.ndarray  # int64 seconds since the start
    customer_index: np.ndarray
    business: np.ndarray
    cancelled: np.ndarray
    delivered_day: np.ndarray  # -1 if not delivered
    returned: np.ndarray  # any line returned
    first_product: np.ndarray
    warehouse: np.ndarray
    # per line
    line_order: np.ndarray  # index of the line's order
    line_product: np.ndarray  # product index
    line_qty: np.ndarray
    line_cost_cents: np.ndarray
    # per return
    return_day: np.ndarray
    return_refund_cents: np.ndarray
    return_restock_units: np.ndarray
    return_restock_cost_cents: np.ndarray
    return_product: np.ndarray
    return_warehouse: np.ndarray


def _seconds_of_day(rng: np.random.Generator, business: np.ndarray) -> np.ndarray:
    hour = np.where(
        business, pick(rng, BUSINESS_HOURS, len(business)), pick(rng, WEB_HOURS, len(business))
    )
    return hour * 3600 + rng.integers(0, 3600, len(business))


def _price_factors(plan: Plan, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    years = (plan.timeline.dates()[day].astype("datetime64[Y]").astype(np.int64) + 1970) - (
        plan.config.start.year
    )
    return PRICE_RISE**years, COST_RISE**years


def _product_weights(plan: Plan, month: int) -> NDArray[np.float64]:
    cat = plan.catalogue
    lo, hi = plan.timeline.month_range(month)
    mid = (lo + hi) // 2
    month_of_year = plan.timeline.day(lo).month - 1
    season: NDArray[np.float64] = np.array([c[2][month_of_year] for c in CATEGORIES])[
        cat.product_category
    ]
    share = np.array([c[1] for c in CATEGORIES])
    per_cat = np.bincount(
        cat.product_category, weights=cat.product_popularity, minlength=len(share)
    )
    w: NDArray[np.float64] = (
        cat.product_popularity * share[cat.product_category] / per_cat[cat.product_category]
    )
    available = (cat.product_launch_day <= mid) & (mid < cat.product_end_day)
    return w * season * available


def generate_sales(plan: Plan, month: int) -> MonthSales:
    cfg = plan.config
    rng = stream(cfg.seed, "orders", month)
    cust = plan.customers
    cat = plan.catalogue
    n_days = plan.timeline.n_days

    # -- which customers order on which day -------------------------------------------
    b0, b1 = int(cust.block_starts[month + 1]), int(cust.block_starts[month + 2])
    first_idx = np.arange(b0, b1)
    first_day = cust.signup_day[b0:b1]
    idx, lo, hi, k = repeat_counts(plan, month)
    rep_idx = np.repeat(idx, k)
    rep_lo, rep_hi = np.repeat(lo, k), np.repeat(hi, k)
    cum = plan.demand_cum
    target = cum[rep_lo] + rng.random(len(rep_idx)) * (cum[rep_hi] - cum[rep_lo])
    rep_day = np.clip(np.searchsorted(cum, target, side="right") - 1, rep_lo, rep_hi - 1)
    c_idx = np.concatenate([first_idx, rep_idx])
    day = np.concatenate([first_day, rep_day])
    is_first = np.concatenate([np.ones(len(first_idx), bool), np.zeros(len(rep_idx), bool)])
    business = cust.channel[c_idx] == BUSINESS_CHANNEL
    seconds = day * 86400 + _seconds_of_day(rng, business)
    order = np.lexsort((c_idx, seconds))
    c_idx, day, is_first, business, seconds = (
        c_idx[order],
        day[order],
        is_first[order],
        business[order],
        seconds[order],
    )
    n = len(c_idx)
    if n != plan.month_orders[month]:  # ids of later months are numbered from the plan
        raise RuntimeError(f"month {month}: {n} orders, the plan said {plan.month_orders[month]}")
    order_ids = plan.order_offsets[month] + np.arange(n, dtype=np.int64)

    # -- lines ----------------------------------------------------------------------
    n_lines = 1 + np.where(business, rng.poisson(4.0, n), rng.poisson(1.9, n))
    line_order = np.repeat(np.arange(n), n_lines)
    line_start = np.concatenate([[0], np.cumsum(n_lines)[:-1]])
    line_number = np.arange(len(line_order)) - line_start[line_order] + 1
    product = pick(rng, _product_weights(plan, month), len(line_order))
    line_business = business[line_order]
    qty = np.where(
        line_business, rng.geometric(0.2, len(line_order)), rng.geometric(0.75, len(line_order))
    )
    price_f, cost_f = _price_factors(plan, day)
    unit_price = np.rint(cat.product_price_cents[product] * price_f[line_order]).astype(np.int64)
    unit_cost = np.rint(cat.product_cost_cents[product] * cost_f[line_order]).astype(np.int64)
    dates = plan.timeline.dates()[day]
    mo = dates.astype("datetime64[M]")
    dom = (dates - mo).astype(np.int64) + 1
    black_friday = (mo.astype(np.int64) % 12 == 10) & (dom >= 22) & (dom <= 30)
    promo = black_friday[line_order] & np.isin(cat.product_category[product], PROMO_CATEGORIES)
    rate = np.where(promo, 0.20, 0.0) + np.where(line_business, 0.08, 0.0)
    line_discount = np.rint(qty * unit_price * rate).astype(np.int64)
    amount = qty * unit_price - line_discount

    # -- order totals ------------------------------------------------------------------
    subtotal = np.bincount(line_order, weights=amount, minlength=n).astype(np.int64)
    paid_channel = np.isin(
        cust.channel[c_idx], [CHANNELS.index(c) for c in ("paid_social", "affiliate", "email")]
    )
    voucher = is_first & paid_channel & (rng.random(n) < 0.4)
    discount = np.where(voucher, np.rint(subtotal * WELCOME_VOUCHER), 0).astype(np.int64)
    shipping = np.where(business | (subtotal >= FREE_SHIPPING_CENTS), 0, SHIPPING_CENTS)
    total = subtotal - discount + shipping
    cancelled = (~business) & (rng.random(n) < CANCEL_RATE)
    warehouse = cat.country_warehouse[cust.country[c_idx]]
    transit = 1 + rng.poisson(1.5, n) + (warehouse == 3)
    delivered_day = np.where(cancelled, -1, day + transit)
    delivered = delivered_day >= 0
    in_transit = delivered & (delivered_day >= n_days)
    delivered_day = np.where(in_transit, -1, delivered_day)
    delivered = delivered_day >= 0
    status = np.where(cancelled, "cancelled", np.where(in_transit, "shipped", "delivered"))

    start = plan.timeline.start64.astype("datetime64[s]")
    ordered_at = pd.DatetimeIndex(start + seconds).tz_localize("UTC")
    rep = pd.array(cust.manager[c_idx], dtype="Int64")
    rep[~business] = pd.NA
    delivered_on = np.where(
        delivered,
        (plan.timeline.start64 + np.maximum(delivered_day, 0)).astype("datetime64[s]"),
        np.datetime64("NaT", "s"),
    )
    orders = pd.DataFrame(
        {
            "order_id": order_ids,
            "customer_id": c_idx.astype(np.int64) + 1,
            "sales_rep_id": rep,
            "warehouse_id": warehouse.astype(np.int32),
            "ordered_at": ordered_at,
            "status": status.astype(object),
            "delivered_on": delivered_on,
            "subtotal": subtotal / 100,
            "discount": discount / 100,
            "shipping_fee": shipping / 100,
            "total": total / 100,
        }
    )
    lines = pd.DataFrame(
        {
            "order_id": order_ids[line_order],
            "line_number": line_number.astype(np.int32),
            "product_id": cat.product_ids[product],
            "quantity": qty.astype(np.int32),
            "unit_price": unit_price / 100,
            "unit_cost": unit_cost / 100,
            "line_discount": line_discount / 100,
            "amount": amount / 100,
        }
    )

    # -- payments: one per paid order; gift cards cover part, a card the rest ----------
    prng = stream(cfg.seed, "payments", month)
    method = pick(prng, PAYMENT_SHARE, n)
    pay_delay = np.where(
        business, (prng.integers(14, 46, n) + transit) * 86400, prng.integers(5, 120, n)
    )
    pay_at = seconds + pay_delay
    paid = ~cancelled & (pay_at < n_days * 86400)
    gift = paid & ~business & (method == 3)
    gift_part = np.minimum(total, np.where(prng.random(n) < 0.5, 2500, 5000))
    first_amount = np.where(gift, gift_part, total)
    rest = np.where(gift, total - gift_part, 0)
    method_name = np.where(business, "invoice", np.array(PAYMENT_METHODS, dtype=object)[method])
    p1 = np.flatnonzero(paid)
    p2 = np.flatnonzero(paid & (rest > 0))
    pay_order = np.concatenate([p1, p2])
    pay_seq = np.concatenate([np.ones(len(p1), np.int64), np.full(len(p2), 2, np.int64)])
    pay_amount = np.concatenate([first_amount[p1], rest[p2]])
    pay_method = np.concatenate([method_name[p1], np.full(len(p2), "card", dtype=object)])
    sort = np.lexsort((pay_seq, pay_order))
    pay_order, pay_seq, pay_amount, pay_method = (
        pay_order[sort],
        pay_seq[sort],
        pay_amount[sort],
        pay_method[sort],
    )
    payments = pd.DataFrame(
        {
            "payment_id": order_ids[pay_order] * 10 + pay_seq,
            "order_id": order_ids[pay_order],
            "paid_at": pd.DatetimeIndex(start + pay_at[pay_order] + (pay_seq - 1) * 3).tz_localize(
                "UTC"
            ),
            "method": pay_method.astype(object),
            "amount": pay_amount / 100,
        }
    )

    # -- returns: delivered consumer lines, by category return rate ----------------------
    rrng = stream(cfg.seed, "returns", month)
    return_rate = np.array([c[3] for c in CATEGORIES])[cat.product_category[product]]
    return_rate = np.where(line_business, return_rate / 3, return_rate)
    line_delivered = delivered[line_order]
    ret = line_delivered & (rrng.random(len(line_order)) < return_rate)
    r_line = np.flatnonzero(ret)
    r_day = delivered_day[line_order[r_line]] + 2 + rrng.poisson(8.0, len(r_line))
    keep = r_day < n_days
    r_line, r_day = r_line[keep], r_day[keep]
    r_qty = 1 + rrng.binomial(qty[r_line] - 1, 0.3)
    r_refund = np.rint(amount[r_line] * r_qty / qty[r_line]).astype(np.int64)
    resellable = rrng.random(len(r_line)) < 0.8
    r_order = line_order[r_line]
    returns = pd.DataFrame(
        {
            "return_id": order_ids[r_order] * 100 + line_number[r_line],
            "order_id": order_ids[r_order],
            "line_number": line_number[r_line].astype(np.int32),
            "returned_on": (plan.timeline.start64 + r_day).astype("datetime64[s]"),
            "quantity": r_qty.astype(np.int32),
            "refund_amount": r_refund / 100,
            "reason": np.array(RETURN_REASONS, dtype=object)[
                pick(rrng, np.array([0.35, 0.12, 0.2, 0.28, 0.05]), len(r_line))
            ],
            "resellable": resellable,
        }
    )
    returned = np.zeros(n, bool)
    returned[r_order] = True
    first_product = product[line_start]
    return MonthSales(
        orders=orders,
        lines=lines,
        payments=payments,
        returns=returns,
        order_day=day,
        ordered_at=seconds,
        customer_index=c_idx,
        business=business,
        cancelled=cancelled,
        delivered_day=delivered_day,
        returned=returned,
        first_product=first_product,
        warehouse=warehouse,
        line_order=line_order,
        line_product=product,
        line_qty=qty,
        line_cost_cents=qty * unit_cost,
        return_day=r_day,
        return_refund_cents=r_refund,
        return_restock_units=np.where(resellable, r_qty, 0),
        return_restock_cost_cents=np.where(resellable, r_qty * unit_cost[r_line], 0),
        return_product=product[r_line],
        return_warehouse=warehouse[r_order],
    )
