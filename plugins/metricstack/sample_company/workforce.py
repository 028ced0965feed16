"""Employees, cost centres, sales teams and reps, and weekly timesheets.

Headcount follows the planned workload (the trend of orders, not its seasonal peaks:
peaks are covered by overtime, as warehouses do). Employees are therefore known before
any order is generated, so tickets and orders can name their agent or rep.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from metricstack.sample_company.names import FIRST_NAMES, LAST_NAMES
from metricstack.sample_company.randomness import stream
from metricstack.sample_company.reference import REGIONS, WAREHOUSES
from metricstack.sample_company.timeline import Timeline

UNITS_PER_HOUR = 25.0  # warehouse picking and packing
TICKETS_PER_WEEK = 55.0  # one support agent
BUSINESS_ORDERS_PER_WEEK = 12.0  # one sales rep
CONTRACT_HOURS = 38.0

# cost_centre_id, name, department, job title, hourly rate range (EUR)
COST_CENTRES = (
    *(
        (f"WH-{w}", f"Warehouse {name}", "operations", "Warehouse associate", (15.5, 19.5))
        for w, name, _ in WAREHOUSES
    ),
    ("SUPPORT", "Customer support", "customer_service", "Support agent", (17.0, 22.0)),
    ("SALES", "Business sales", "sales", "Account manager", (24.0, 34.0)),
    ("MARKETING", "Marketing", "marketing", "Marketing specialist", (28.0, 40.0)),
    ("IT", "IT and data", "technology", "Engineer", (36.0, 52.0)),
    ("ADMIN", "Finance and administration", "administration", "Administrator", (26.0, 40.0)),
)
SUPPORT_CC = "SUPPORT"
SALES_CC = "SALES"


@dataclass(frozen=True)
class Workforce:
    employees: pd.DataFrame
    cost_centres: pd.DataFrame
    sales_teams: pd.DataFrame
    sales_reps: pd.DataFrame
    # arrays for fast lookups by the generators (0-based employee index)
    employee_ids: np.ndarray
    hired_day: NDArray[np.int64]
    left_day: NDArray[np.int64]  # day index of leaving; a large number if still employed
    cost_centre: np.ndarray  # cost_centre_id per employee
    rep_region: np.ndarray  # region id per employee (0 if not a rep)
    rep_ids: np.ndarray  # sales_rep_id per employee (0 if not a rep)

    def active(self, members: NDArray[np.intp], day: NDArray[np.int64]) -> NDArray[np.bool_]:
        """For each day, whether employee index ``members`` works that day."""
        return (self.hired_day[members] <= day) & (day < self.left_day[members])


def _headcount_series(
    load_per_month: NDArray[np.float64], per_head: float, minimum: int
) -> NDArray[np.int64]:
    return np.maximum(np.ceil(load_per_month / per_head), minimum).astype(np.int64)


def build_workforce(
    seed: int, timeline: Timeline, orders_per_day: np.ndarray, orders: int
) -> Workforce:
    """Staff each cost centre to ``orders_per_day``, the planned trend of orders."""
    rng = stream(seed, "workforce")
    n_months = timeline.n_months
    starts = timeline.month_starts
    month_orders = np.add.reduceat(orders_per_day, starts[:-1])
    weeks_in_month = np.diff(starts) / 7
    weekly_orders = month_orders / weeks_in_month
    region_share = {1: 0.23, 2: 0.35, 3: 0.13, 4: 0.29}  # of customers, from COUNTRIES
    wh_share = {
        w: sum(s for r, s in region_share.items() if dict((x, y) for x, _, y in REGIONS)[r] == w)
        for w, _, _ in WAREHOUSES
    }
    small = max(1, round(np.log10(orders) - 2))  # HQ functions grow slowly with scale
    need: dict[str, np.ndarray] = {}
    for w, _, _ in WAREHOUSES:
        need[f"WH-{w}"] = _headcount_series(
            weekly_orders * wh_share[w] * 4.2, UNITS_PER_HOUR * CONTRACT_HOURS, 2
        )
    need["SUPPORT"] = _headcount_series(weekly_orders * 0.07, TICKETS_PER_WEEK, 2)
    need["MARKETING"] = np.full(n_months, 1 + small)
    need["IT"] = np.full(n_months, 1 + small)
    need["ADMIN"] = np.full(n_months, 2 + small)
    # Sales reps per region: a team per region, at least two reps in each.
    rep_need = {
        r: _headcount_series(weekly_orders * 0.15 * region_share[r], BUSINESS_ORDERS_PER_WEEK, 2)
        for r, _, _ in REGIONS
    }

    rows: list[tuple[str, int, int, int, int]] = []  # cost centre, region, hired, left, idx
    big = np.iinfo(np.int32).max

    def staff(cc: str, region: int, series: np.ndarray) -> None:
        lefts: list[int] = []
        for m in range(n_months):
            day = int(starts[m])
            active = sum(1 for left in lefts if left > day)
            missing = int(series[m]) - active
            if missing <= 0:
                continue
            hired = -rng.integers(30, 2500, missing) if m == 0 else np.full(missing, day)
            tenure = rng.exponential(4.0 * 365, missing).astype(np.int64) + 60
            for h, t in zip(hired, tenure, strict=True):
                left = int(h + t)
                left = left if left < timeline.n_days else big
                # initial staff who would have left already are the survivors' peers
                if left <= 0:
                    left = big
                lefts.append(left)
                rows.append((cc, region, int(h), left, len(rows)))

    for cc in need:
        staff(cc, 0, need[cc])
    for r, _, _ in REGIONS:
        staff(SALES_CC, r, rep_need[r])

    n = len(rows)
    cc_ids = np.array([r[0] for r in rows])
    region = np.array([r[1] for r in rows], dtype=np.int64)
    hired_day = np.array([r[2] for r in rows], dtype=np.int64)
    left_day = np.array([r[3] for r in rows], dtype=np.int64)
    employee_ids = np.arange(1, n + 1, dtype=np.int64) + 100
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    cc_info = {c[0]: c for c in COST_CENTRES}
    low = np.array([cc_info[c][4][0] for c in cc_ids])
    high = np.array([cc_info[c][4][1] for c in cc_ids])
    rate = np.round(rng.uniform(low, high), 2)
    start = timeline.start64
    employees = pd.DataFrame(
        {
            "employee_id": employee_ids,
            "first_name": np.array(FIRST_NAMES, dtype=object)[first],
            "last_name": np.array(LAST_NAMES, dtype=object)[last],
            "cost_centre_id": cc_ids.astype(object),
            "job_title": np.array([cc_info[c][3] for c in cc_ids], dtype=object),
            "hourly_rate": rate,
            "hired_on": (start + hired_day).astype("datetime64[s]"),
            "left_on": np.where(
                left_day < big,
                (start + np.minimum(left_day, 10**6)).astype("datetime64[s]"),
                np.datetime64("NaT", "s"),
            ),
        }
    )
    is_rep = region > 0
    rep_ids = np.where(is_rep, np.cumsum(is_rep) + 9000, 0).astype(np.int64)
    teams = pd.DataFrame(
        {
            "team_id": np.array([r for r, _, _ in REGIONS], dtype=np.int32),
            "name": [f"Team {name}" for _, name, _ in REGIONS],
            "region_id": np.array([r for r, _, _ in REGIONS], dtype=np.int32),
        }
    )
    reps = pd.DataFrame(
        {
            "sales_rep_id": rep_ids[is_rep],
            "employee_id": employee_ids[is_rep],
            "team_id": region[is_rep].astype(np.int32),
            "name": (employees["first_name"] + " " + employees["last_name"])[is_rep].to_numpy(),
        }
    )
    cost_centres = pd.DataFrame(
        [c[:3] for c in COST_CENTRES], columns=["cost_centre_id", "name", "department"]
    )
    return Workforce(
        employees=employees,
        cost_centres=cost_centres,
        sales_teams=teams,
        sales_reps=reps,
        employee_ids=employee_ids,
        hired_day=hired_day,
        left_day=left_day,
        cost_centre=cc_ids,
        rep_region=region,
        rep_ids=rep_ids,
    )


def pick_active(
    rng: np.random.Generator, workforce: Workforce, members: np.ndarray, day: np.ndarray
) -> np.ndarray:
    """For each day, a random member (employee index) at work that day.

    Rejection sampling: draw, keep the draws that are active, redraw the rest. Members
    who were never active on a day fall back to the first member (does not happen
    with the headcount rules above, which keep every team staffed).
    """
    out = np.full(len(day), -1, dtype=np.int64)
    todo = np.arange(len(day))
    for _ in range(64):
        if len(todo) == 0:
            break
        cand = members[rng.integers(0, len(members), len(todo))]
        ok = workforce.active(cand, day[todo])
        out[todo[ok]] = cand[ok]
        todo = todo[~ok]
    out[todo] = members[0]
    return out


def timesheets(
    seed: int,
    timeline: Timeline,
    workforce: Workforce,
    units_per_warehouse_week: dict[int, np.ndarray],
    tickets_per_employee_week: np.ndarray,
    orders_per_employee_week: np.ndarray,
) -> pd.DataFrame:
    """Hours and output per employee and week.

    Warehouse output is the warehouse's shipped units split by hours worked; support
    output the tickets each agent closed; sales output the orders each rep booked.
    Warehouse overtime follows the weekly load, so peak weeks show long hours.
    """
    rng = stream(seed, "timesheets")
    n_emp = len(workforce.employee_ids)
    n_weeks = timeline.n_weeks
    week_start_day = np.arange(n_weeks) * 7 - timeline.first_weekday
    emp_grid, week_grid = np.meshgrid(np.arange(n_emp), np.arange(n_weeks), indexing="ij")
    emp, week = emp_grid.ravel(), week_grid.ravel()
    day = week_start_day[week]
    active = (workforce.hired_day[emp] <= day + 6) & (day < workforce.left_day[emp])
    emp, week, day = emp[active], week[active], day[active]
    cc = workforce.cost_centre[emp]
    part_time = stream(seed, "part_time").random(n_emp) < 0.2
    base = np.where(part_time[emp], 24.0, CONTRACT_HOURS)
    hours = base * rng.normal(1.0, 0.04, len(emp))
    hours = np.where(rng.random(len(emp)) < 0.07, 0.0, hours)  # holidays, sick leave
    output = np.full(len(emp), -1, dtype=np.int64)
    kind = np.full(len(emp), None, dtype=object)
    for w, units in units_per_warehouse_week.items():
        sel = cc == f"WH-{w}"
        if not sel.any():
            continue
        capacity = np.bincount(week[sel], weights=hours[sel], minlength=n_weeks)
        load = units / UNITS_PER_HOUR
        overtime = np.clip(load / np.maximum(capacity, 1.0), 1.0, 1.3)
        hours[sel] = hours[sel] * overtime[week[sel]]
        worked = np.bincount(week[sel], weights=hours[sel], minlength=n_weeks)
        share = hours[sel] / np.maximum(worked[week[sel]], 1e-9)
        output[sel] = np.rint(units[week[sel]] * share).astype(np.int64)
        kind[sel] = "units_shipped"
    sel = cc == SUPPORT_CC
    output[sel] = tickets_per_employee_week[emp[sel], week[sel]]
    kind[sel] = "tickets_closed"
    sel = cc == SALES_CC
    output[sel] = orders_per_employee_week[emp[sel], week[sel]]
    kind[sel] = "orders_booked"
    keep = hours > 0
    output_units = pd.array(np.maximum(output[keep], 0), dtype="Int64")
    output_units[output[keep] < 0] = pd.NA
    return pd.DataFrame(
        {
            "employee_id": workforce.employee_ids[emp[keep]],
            "week_start": (timeline.start64 + day[keep]).astype("datetime64[s]"),
            "hours": np.round(hours[keep], 2),
            "output_units": output_units,
            "output_kind": kind[keep],
        }
    )
