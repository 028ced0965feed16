"""Operating costs by cost centre and month, and the general ledger.

Posting rules (what ties the ledger to the other tables):
- sales, daily on the order date (UTC) of every order not cancelled:
  debit 1100 receivables = total; credit 4000 sales = subtotal - discount;
  credit 4100 shipping income = shipping_fee. So 4000's credits on day d equal
  sum(subtotal - discount) of that day's non-cancelled orders, to the cent.
- cost of goods, same days: debit 5000 = sum(quantity * unit_cost) of those orders'
  lines; credit 1300 inventory.
- returns, daily on returned_on: debit 4900 sales returns = refund_amount; credit 1100.
  Resellable returns go back to stock: debit 1300, credit 5000 at the line's unit cost.
- purchases, daily on delivered_on: debit 1300, credit 2000 payables = accepted units
  (inspection passed) * the purchase order line's unit_cost.
- operating costs, on each month's last day: debit the cost type's 6xxx account with
  the cost centre, credit 2000. Salaries = timesheet hours * hourly rate * 1.25
  (employer charges) by the month of week_start; marketing = that month's
  marketing_spend.
Each posting is one journal (journal_id) whose debits equal its credits.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd

from metricstack.sample_company.randomness import stream
from metricstack.sample_company.timeline import Timeline
from metricstack.sample_company.workforce import Workforce

EMPLOYER_CHARGES = 1.25
ACCOUNTS = {
    "1100": "Receivables and cash",
    "1300": "Inventory",
    "2000": "Accounts payable",
    "4000": "Sales revenue",
    "4100": "Shipping income",
    "4900": "Sales returns",
    "5000": "Cost of goods sold",
    "6100": "Salaries",
    "6200": "Rent",
    "6300": "Utilities",
    "6400": "Marketing",
    "6500": "Software",
    "6600": "Carriers and packaging",
}
COST_ACCOUNT = {
    "salaries": "6100",
    "rent": "6200",
    "utilities": "6300",
    "marketing": "6400",
    "software": "6500",
    "shipping": "6600",
}


def operating_costs(
    seed: int,
    timeline: Timeline,
    workforce: Workforce,
    timesheets: pd.DataFrame,
    marketing_cents_per_month: np.ndarray,
    orders_per_warehouse_month: np.ndarray,  # (n_months, 3)
    units_per_warehouse_month: np.ndarray,
    scale: float,
) -> pd.DataFrame:
    rng = stream(seed, "opex")
    n_months = timeline.n_months
    month_first = timeline.start64.astype("datetime64[M]") + np.arange(n_months)
    rows: list[tuple[int, str, str, int]] = []
    # salaries from the timesheets
    rate = pd.Series(workforce.employees["hourly_rate"].to_numpy(), index=workforce.employee_ids)
    cc = pd.Series(workforce.cost_centre, index=workforce.employee_ids)
    ws = timesheets["week_start"].to_numpy().astype("datetime64[M]")
    m_idx = np.clip((ws - month_first[0]).astype(np.int64), 0, n_months - 1)
    cost = (
        timesheets["hours"].to_numpy()
        * rate.loc[timesheets["employee_id"]].to_numpy()
        * EMPLOYER_CHARGES
    )
    sal = pd.DataFrame({"m": m_idx, "cc": cc.loc[timesheets["employee_id"]].to_numpy(), "c": cost})
    for key, v in sal.groupby(["m", "cc"], sort=True)["c"].sum().items():
        # pandas-stubs types every index label as Hashable; grouping by two keys gives
        # a MultiIndex, whose labels are (m, cc) tuples.
        month, centre = cast(tuple[int, str], key)
        rows.append((int(month), str(centre), "salaries", round(v * 100)))
    for m in range(n_months):
        winter = 1.0 + 0.6 * np.cos(2 * np.pi * (int(str(month_first[m])[5:7]) - 1) / 12)
        for w in range(3):
            cc_id = f"WH-{w + 1}"
            rows.append((m, cc_id, "rent", round(1_800_000 * scale)))
            rows.append(
                (
                    m,
                    cc_id,
                    "utilities",
                    round(250_000 * scale * winter * rng.uniform(0.9, 1.1)),
                )
            )
            ship = orders_per_warehouse_month[m, w] * 420 + units_per_warehouse_month[m, w] * 35
            rows.append((m, cc_id, "shipping", int(ship)))
        rows.append((m, "ADMIN", "rent", round(900_000 * max(scale, 0.3))))
        rows.append(
            (m, "IT", "software", round(200_000 * max(scale, 0.3) * rng.uniform(0.95, 1.05)))
        )
        rows.append((m, "MARKETING", "marketing", int(marketing_cents_per_month[m])))
    row_month, row_centre, row_type, row_cents = zip(*rows, strict=True)
    frame = pd.DataFrame(
        {
            "cost_month": month_first[list(row_month)]
            .astype("datetime64[D]")
            .astype("datetime64[s]"),
            "cost_centre_id": np.array(row_centre, dtype=object),
            "cost_type": np.array(row_type, dtype=object),
            "amount": np.array(row_cents, dtype=np.int64) / 100,
        }
    )
    return (
        frame[frame["amount"] > 0]
        .sort_values(["cost_month", "cost_centre_id", "cost_type"])
        .reset_index(drop=True)
    )


def general_ledger(
    timeline: Timeline,
    daily: dict[str, np.ndarray],
    purchases_cents: np.ndarray,
    opex: pd.DataFrame,
) -> pd.DataFrame:
    """``daily``: cents per day for revenue, shipping, total, cogs, refunds, restock."""
    postings: list[tuple[int, str, str | None, int, int, str]] = []  # day, acct, cc, dr, cr, src
    journals: list[int] = []
    days = np.arange(timeline.n_days)

    def journal(day: int, legs: list[tuple[str, str | None, int, int]], source: str) -> None:
        legs = [leg for leg in legs if leg[2] or leg[3]]
        if not legs:
            return
        jid = journals[-1] + 1 if journals else 1
        for acct, cc, dr, cr in legs:
            postings.append((day, acct, cc, dr, cr, source))
            journals.append(jid)

    for d in days:
        journal(
            int(d),
            [
                ("1100", None, int(daily["total"][d]), 0),
                ("4000", None, 0, int(daily["revenue"][d])),
                ("4100", None, 0, int(daily["shipping"][d])),
            ],
            "sales",
        )
        journal(
            int(d),
            [("5000", None, int(daily["cogs"][d]), 0), ("1300", None, 0, int(daily["cogs"][d]))],
            "cogs",
        )
        journal(
            int(d),
            [
                ("4900", None, int(daily["refunds"][d]), 0),
                ("1100", None, 0, int(daily["refunds"][d])),
            ],
            "returns",
        )
        journal(
            int(d),
            [
                ("1300", None, int(daily["restock"][d]), 0),
                ("5000", None, 0, int(daily["restock"][d])),
            ],
            "returns",
        )
        journal(
            int(d),
            [
                ("1300", None, int(purchases_cents[d]), 0),
                ("2000", None, 0, int(purchases_cents[d])),
            ],
            "purchasing",
        )
    month_end = (opex["cost_month"].to_numpy().astype("datetime64[M]") + 1).astype(
        "datetime64[D]"
    ) - 1
    opex_day = np.minimum((month_end - timeline.start64).astype(np.int64), timeline.n_days - 1)
    for day, amount, cost_type, cost_centre in zip(
        opex_day,
        opex["amount"].tolist(),
        opex["cost_type"].tolist(),
        opex["cost_centre_id"].tolist(),
        strict=True,
    ):
        cents = round(amount * 100)
        journal(
            int(day),
            [(COST_ACCOUNT[cost_type], cost_centre, cents, 0), ("2000", None, 0, cents)],
            "opex",
        )

    day, acct, cc, dr, cr, src = zip(*postings, strict=True)
    order = np.argsort(np.array(day), kind="stable")
    acct_arr = np.array(acct, dtype=object)[order]
    return pd.DataFrame(
        {
            "entry_id": np.arange(1, len(order) + 1, dtype=np.int64),
            "journal_id": np.array(journals, dtype=np.int64)[order],
            "posted_on": (timeline.start64 + np.array(day)[order]).astype("datetime64[s]"),
            "account_code": acct_arr,
            "account_name": np.array([ACCOUNTS[a] for a in acct_arr], dtype=object),
            "cost_centre_id": np.array(cc, dtype=object)[order],
            "debit": np.array(dr, dtype=np.int64)[order] / 100,
            "credit": np.array(cr, dtype=np.int64)[order] / 100,
            "source": np.array(src, dtype=object)[order],
        }
    )
