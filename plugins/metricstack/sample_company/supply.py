"""Purchasing, deliveries, quality inspections and weekly inventory, after the sales.

A weekly (s, S) replenishment per product and warehouse, run over the actual sales:
when stock plus what is on order falls under the lead-time demand, a purchase order
tops it up. Deliveries arrive on the promised date give or take a few days, except
from the planted late supplier, which from its turning date arrives about nine days
later; its products then run short, as they would. A delivery that fails its
inspection is rejected whole and never reaches stock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from metricstack.sample_company.plan import LATE_DELAY_DAYS, Plan
from metricstack.sample_company.randomness import stream
from metricstack.sample_company.sales import COST_RISE

N_WAREHOUSES = 3
PACK = 6  # suppliers ship in cartons
SAFETY_WEEKS = 2.0
NORMAL_DELAYS = np.array([-2, -1, 0, 0, 0, 0, 1, 1, 2, 3])
DEFECT_TYPES = np.array(
    ["scratch", "stitching", "packaging", "electrical", "wrong_item"], dtype=object
)
MAX_DEFECT_SHARE = 0.08  # an inspection fails above this share of defective samples


@dataclass
class Supply:
    purchase_orders: pd.DataFrame
    purchase_order_lines: pd.DataFrame
    deliveries: pd.DataFrame
    inspections: pd.DataFrame
    inventory: pd.DataFrame
    received_cost_per_day: np.ndarray  # cents of accepted goods, by delivery day


def simulate_supply(plan: Plan, sold: np.ndarray, restocked: np.ndarray) -> Supply:
    """``sold`` and ``restocked``: units per (week, product, warehouse)."""
    rng = stream(plan.config.seed, "supply")
    tl = plan.timeline
    cat = plan.catalogue
    n_weeks, n_prod, _ = sold.shape
    n_days = tl.n_days
    n_flat = n_prod * N_WAREHOUSES
    supplier = np.repeat(cat.product_supplier, N_WAREHOUSES)  # per flat (product, warehouse)
    product = np.repeat(np.arange(n_prod), N_WAREHOUSES)
    warehouse = np.tile(np.arange(N_WAREHOUSES), n_prod)
    lead_weeks = np.ceil(cat.supplier_lead_days[supplier] / 7)
    defect_rate = stream(plan.config.seed, "defects").uniform(
        0.002, 0.02, len(cat.supplier_lead_days)
    )
    late = plan.anomalies.late_supplier_id
    late_on = plan.anomalies.late_from  # None exactly when late is (no anomalies)
    late_from = (late_on - plan.config.start).days if late and late_on is not None else n_days

    flat_sold = sold.reshape(n_weeks, -1)
    flat_restock = restocked.reshape(n_weeks, -1)
    forecast = np.maximum(flat_sold[:4].mean(axis=0), 0.0)
    on_hand = np.ceil(forecast * (lead_weeks + 1 + SAFETY_WEEKS)).astype(np.int64)
    arriving = np.zeros((n_weeks + 1, n_flat), dtype=np.int64)  # accepted units
    due = np.zeros((n_weeks + 1, n_flat), dtype=np.int64)  # all ordered units
    on_order = np.zeros(n_flat, dtype=np.int64)
    week_start = np.arange(n_weeks) * 7 - tl.first_weekday
    launched = cat.product_launch_day[product]
    ended = cat.product_end_day[product]

    pos: list[tuple[np.ndarray, ...]] = []
    lines: list[tuple[np.ndarray, ...]] = []
    snaps: list[tuple[np.ndarray, ...]] = []
    next_po = 500_001
    for t in range(n_weeks):
        on_hand += arriving[t] + flat_restock[t]
        on_order -= due[t]
        demand = flat_sold[t]
        short = np.maximum(demand - on_hand, 0)
        on_hand = np.maximum(on_hand - demand, 0)
        forecast = 0.8 * forecast + 0.2 * demand
        week_end = min(int(week_start[t]) + 6, n_days - 1)
        listed = np.flatnonzero((launched <= week_end) & ((ended > week_start[t]) | (on_hand > 0)))
        snaps.append(
            (
                np.full(len(listed), week_end),
                listed,
                on_hand[listed],
                on_order[listed],
                short[listed],
            )
        )

        order_day = week_end + 1  # reorder after the week's count
        if order_day >= n_days:
            continue
        sellable = (launched <= order_day + 28) & (ended > order_day + 28)
        position = on_hand + on_order
        need = sellable & (forecast > 0.05) & (position < forecast * (lead_weeks + 1))
        who = np.flatnonzero(need)
        if len(who) == 0:
            continue
        target = forecast[who] * (lead_weeks[who] + 1 + SAFETY_WEEKS)
        qty = (np.ceil(np.maximum(target - position[who], 1) / PACK) * PACK).astype(np.int64)
        # one purchase order per supplier and warehouse
        keys, po_of = np.unique(supplier[who] * N_WAREHOUSES + warehouse[who], return_inverse=True)
        po_ids = next_po + np.arange(len(keys), dtype=np.int64)
        next_po += len(keys)
        po_sup = keys // N_WAREHOUSES
        promised = order_day + cat.supplier_lead_days[po_sup]
        delay = rng.choice(NORMAL_DELAYS, len(keys))
        turned = (po_sup + 1 == late) & (promised >= late_from)
        delay = delay + turned * (rng.poisson(LATE_DELAY_DAYS - 3, len(keys)) + 3)
        arrive = promised + delay
        pos.append((po_ids, po_sup, keys % N_WAREHOUSES, np.full(len(keys), order_day), promised))

        # what arrives, and whether it passes inspection, is settled now: simpler to
        # follow than a second pass, and the stock below depends on it
        l_arr = arrive[po_of]
        short_ship = rng.random(len(who)) < 0.03
        received = np.where(
            short_ship, np.floor(qty * rng.uniform(0.8, 0.97, len(who))), qty
        ).astype(np.int64)
        sample = np.minimum(received, 20 + rng.integers(0, 31, len(who)))
        rate = defect_rate[supplier[who]]
        rate = np.where(rng.random(len(who)) < 0.02, rate * 8, rate)  # a bad batch now and then
        defects = rng.binomial(sample, np.minimum(rate, 0.9))
        passed = defects <= np.floor(sample * MAX_DEFECT_SHARE)
        inspect_lag = rng.integers(0, 2, len(who))
        defect_type = rng.integers(0, len(DEFECT_TYPES), len(who))
        lines.append(
            (
                po_ids[po_of],
                who,
                qty,
                promised[po_of],
                l_arr,
                received,
                sample,
                defects,
                passed,
                inspect_lag,
                defect_type,
                np.full(len(who), order_day),
            )
        )
        on_order[who] += qty
        w_arr = np.where(l_arr < n_days, tl.week_of(np.minimum(l_arr, n_days - 1)), n_weeks)
        np.add.at(due, (w_arr, who), qty)
        np.add.at(arriving, (w_arr, who), np.where(passed, received, 0))

    start = tl.start64
    po_id, po_sup, po_wh, po_day, po_prom = (np.concatenate(c) for c in zip(*pos, strict=True))
    (
        l_po,
        l_flat,
        l_qty,
        l_prom,
        l_arr,
        l_recv,
        l_sample,
        l_defects,
        l_passed,
        l_lag,
        l_dtype,
        l_day,
    ) = (np.concatenate(c) for c in zip(*lines, strict=True))
    l_prod = product[l_flat]
    years = (start + l_day).astype("datetime64[Y]").astype(np.int64) + 1970 - plan.config.start.year
    l_cost = np.rint(cat.product_cost_cents[l_prod] * COST_RISE**years).astype(np.int64)
    purchase_orders = pd.DataFrame(
        {
            "purchase_order_id": po_id,
            "supplier_id": (po_sup + 1).astype(np.int32),
            "warehouse_id": (po_wh + 1).astype(np.int32),
            "ordered_on": (start + po_day).astype("datetime64[s]"),
            "promised_on": (start + po_prom).astype("datetime64[s]"),
        }
    )
    po_lines = pd.DataFrame(
        {
            "purchase_order_id": l_po,
            "product_id": cat.product_ids[l_prod],
            "quantity": l_qty.astype(np.int32),
            "unit_cost": l_cost / 100,
        }
    )
    got = np.flatnonzero(l_arr < n_days)
    delivery_id = 700_001 + np.arange(len(got), dtype=np.int64)
    deliveries = pd.DataFrame(
        {
            "delivery_id": delivery_id,
            "purchase_order_id": l_po[got],
            "product_id": cat.product_ids[l_prod[got]],
            "promised_on": (start + l_prom[got]).astype("datetime64[s]"),
            "delivered_on": (start + l_arr[got]).astype("datetime64[s]"),
            "quantity_received": l_recv[got].astype(np.int32),
        }
    )
    inspections = pd.DataFrame(
        {
            "inspection_id": 800_001 + np.arange(len(got), dtype=np.int64),
            "delivery_id": delivery_id,
            "inspected_on": (start + np.minimum(l_arr[got] + l_lag[got], n_days - 1)).astype(
                "datetime64[s]"
            ),
            "sample_size": l_sample[got].astype(np.int32),
            "defects": l_defects[got].astype(np.int32),
            "defect_type": np.where(l_defects[got] > 0, DEFECT_TYPES[l_dtype[got]], None),
            "passed": l_passed[got],
        }
    )
    s_day, s_flat, s_hand, s_order, s_short = (np.concatenate(c) for c in zip(*snaps, strict=True))
    inventory = pd.DataFrame(
        {
            "snapshot_date": (start + s_day).astype("datetime64[s]"),
            "product_id": cat.product_ids[product[s_flat]],
            "warehouse_id": (warehouse[s_flat] + 1).astype(np.int32),
            "on_hand": s_hand.astype(np.int64),
            "on_order": s_order.astype(np.int64),
            "units_short": s_short.astype(np.int64),
        }
    )
    accepted_cost = np.where(l_passed[got], l_recv[got], 0) * l_cost[got]
    received_cost = np.bincount(l_arr[got], weights=accepted_cost, minlength=n_days)
    return Supply(
        purchase_orders,
        po_lines,
        deliveries,
        inspections,
        inventory,
        np.rint(received_cost).astype(np.int64),
    )
