"""The sample company as a stream of table chunks.

    company = generate(CompanyConfig(orders=1_000_000))
    for chunk in company.chunks():      # reference tables, then month by month, then
        ...chunk.table, chunk.frame     # the tables that need the whole history
    company.truth                       # what was planted (complete after the stream)

Memory stays bounded by one month of the big tables plus small per-day and per-week
accumulators (and per-customer arrays of a few numbers each). Every month draws from
its own random streams, so ``company.month(m)`` equals month m of the full stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metricstack.sample_company.config import CompanyConfig
from metricstack.sample_company.customers import customers_frame
from metricstack.sample_company.dirt import DirtRecord, plant
from metricstack.sample_company.finance import general_ledger, operating_costs
from metricstack.sample_company.plan import Plan, build_plan, marketing_frame
from metricstack.sample_company.sales import MonthSales, generate_sales
from metricstack.sample_company.schema import SCHEMAS, TableSchema
from metricstack.sample_company.service import MonthService, generate_service
from metricstack.sample_company.supply import N_WAREHOUSES, simulate_supply
from metricstack.sample_company.truth import GroundTruth
from metricstack.sample_company.web import generate_web
from metricstack.sample_company.workforce import timesheets

REFERENCE_TABLES = (
    "regions",
    "countries",
    "warehouses",
    "categories",
    "suppliers",
    "products",
    "cost_centres",
    "employees",
    "sales_teams",
    "sales_reps",
)
MONTHLY_TABLES = (
    "customers",
    "marketing_spend",
    "orders",
    "order_lines",
    "payments",
    "returns",
    "web_sessions",
    "funnel_events",
    "nps_responses",
    "support_tickets",
)
FINAL_TABLES = (
    "purchase_orders",
    "purchase_order_lines",
    "deliveries",
    "quality_inspections",
    "inventory_snapshots",
    "timesheets",
    "operating_costs",
    "general_ledger",
)


@dataclass(frozen=True)
class Chunk:
    table: str
    period: str  # "2024-03" for monthly chunks, "all" for the others
    frame: pd.DataFrame


class _Totals:
    """What later tables need from the months: small arrays, summed month by month."""

    def __init__(self, plan: Plan) -> None:
        tl = plan.timeline
        n_prod = len(plan.catalogue.product_ids)
        n_emp = len(plan.workforce.employee_ids)
        self.daily = {
            k: np.zeros(tl.n_days, np.int64)
            for k in ("revenue", "shipping", "total", "cogs", "refunds", "restock")
        }
        self.sold = np.zeros((tl.n_weeks, n_prod, N_WAREHOUSES), np.int64)
        self.restocked = np.zeros_like(self.sold)
        self.tickets = np.zeros((n_emp, tl.n_weeks), np.int64)
        self.rep_orders = np.zeros((n_emp, tl.n_weeks), np.int64)
        self.wh_orders = np.zeros((tl.n_months, N_WAREHOUSES), np.int64)
        self.wh_units = np.zeros((tl.n_months, N_WAREHOUSES), np.int64)


class Company:
    def __init__(self, config: CompanyConfig) -> None:
        self.config = config
        self.plan = build_plan(config)
        self.schemas: dict[str, TableSchema] = SCHEMAS
        self.truth = GroundTruth(config, self.plan.anomalies)
        self._rep_index = {int(r): i for i, r in enumerate(self.plan.workforce.rep_ids) if r}

    # -- dirt ------------------------------------------------------------------------
    def _dirty(
        self, table: str, frame: pd.DataFrame, chunk: int, designated: bool
    ) -> tuple[pd.DataFrame, list[DirtRecord]]:
        cfg = self.config
        rate = cfg.dirt_rate if cfg.dirt else 0.0
        frame, records = plant(table, frame, cfg.seed, chunk, rate, designated and cfg.dirt)
        return frame, records

    # -- the three phases ------------------------------------------------------------
    def reference(self) -> dict[str, pd.DataFrame]:
        wf = self.plan.workforce
        frames = dict(self.plan.catalogue.frames)
        frames.update(
            cost_centres=wf.cost_centres,
            employees=wf.employees,
            sales_teams=wf.sales_teams,
            sales_reps=wf.sales_reps,
        )
        return frames

    def month(self, month: int, totals: _Totals | None = None) -> dict[str, pd.DataFrame]:
        """The monthly tables of ``month`` (dirt included), adding to ``totals`` if given."""
        tables, _ = self._month(month, totals)
        return tables

    def _month(
        self, month: int, totals: _Totals | None
    ) -> tuple[dict[str, pd.DataFrame], list[DirtRecord]]:
        plan = self.plan
        sales = generate_sales(plan, month)
        web = generate_web(plan, month, sales)
        service = generate_service(plan, month, sales)
        cust = plan.customers
        lo, hi = int(cust.block_starts[month + 1]), int(cust.block_starts[month + 2])
        if month == 0:
            lo = 0  # the customers from before the start come with the first month
        clean = {
            "customers": customers_frame(cust, lo, hi, plan.timeline),
            "marketing_spend": marketing_frame(plan, month),
            "orders": sales.orders,
            "order_lines": sales.lines,
            "payments": sales.payments,
            "returns": sales.returns,
            "web_sessions": web.sessions,
            "funnel_events": web.events,
            "nps_responses": service.nps,
            "support_tickets": service.tickets,
        }
        if totals is not None:
            self._add(totals, month, sales, service)
        designated = month == plan.timeline.n_months // 2
        tables: dict[str, pd.DataFrame] = {}
        records: list[DirtRecord] = []
        for name, frame in clean.items():
            tables[name], planted = self._dirty(name, frame, month, designated)
            records.extend(planted)
        return tables, records

    def _add(self, t: _Totals, month: int, sales: MonthSales, service: MonthService) -> None:
        tl = self.plan.timeline
        n_days = tl.n_days
        live = ~sales.cancelled
        o = sales.orders
        cents = {
            c: np.rint(o[c].to_numpy() * 100).astype(np.int64)
            for c in ("subtotal", "discount", "shipping_fee", "total")
        }
        day = sales.order_day
        t.daily["revenue"] += np.bincount(
            day[live], weights=(cents["subtotal"] - cents["discount"])[live], minlength=n_days
        ).astype(np.int64)
        t.daily["shipping"] += np.bincount(
            day[live], weights=cents["shipping_fee"][live], minlength=n_days
        ).astype(np.int64)
        t.daily["total"] += np.bincount(
            day[live], weights=cents["total"][live], minlength=n_days
        ).astype(np.int64)
        line_live = live[sales.line_order]
        line_day = day[sales.line_order]
        t.daily["cogs"] += np.bincount(
            line_day[line_live], weights=sales.line_cost_cents[line_live], minlength=n_days
        ).astype(np.int64)
        t.daily["refunds"] += np.bincount(
            sales.return_day, weights=sales.return_refund_cents, minlength=n_days
        ).astype(np.int64)
        t.daily["restock"] += np.bincount(
            sales.return_day, weights=sales.return_restock_cost_cents, minlength=n_days
        ).astype(np.int64)
        wh = sales.warehouse[sales.line_order] - 1
        np.add.at(
            t.sold,
            (tl.week_of(line_day[line_live]), sales.line_product[line_live], wh[line_live]),
            sales.line_qty[line_live],
        )
        np.add.at(
            t.restocked,
            (tl.week_of(sales.return_day), sales.return_product, sales.return_warehouse - 1),
            sales.return_restock_units,
        )
        np.add.at(t.tickets, (service.closed_agent, tl.week_of(service.closed_day)), 1)
        rep = sales.orders["sales_rep_id"].to_numpy(dtype=np.int64, na_value=0)
        booked = np.flatnonzero((rep > 0) & live)
        if len(booked):
            emp = np.array([self._rep_index[int(r)] for r in np.unique(rep[booked])])
            emp_of = emp[np.searchsorted(np.unique(rep[booked]), rep[booked])]
            np.add.at(t.rep_orders, (emp_of, tl.week_of(day[booked])), 1)
        np.add.at(t.wh_orders[month], sales.warehouse[live] - 1, 1)
        np.add.at(t.wh_units[month], wh[line_live], sales.line_qty[line_live])

    def final(self, totals: _Totals) -> dict[str, pd.DataFrame]:
        plan = self.plan
        tl = plan.timeline
        supply = simulate_supply(plan, totals.sold, totals.restocked)
        units_week = totals.sold.sum(axis=1)  # (weeks, warehouses)
        sheets = timesheets(
            self.config.seed,
            tl,
            plan.workforce,
            {w + 1: units_week[:, w].astype(float) for w in range(N_WAREHOUSES)},
            totals.tickets,
            totals.rep_orders,
        )
        marketing = np.add.reduceat(plan.spend_cents.sum(axis=1), tl.month_starts[:-1])
        scale = float(np.sqrt(self.config.orders / 30_000))
        opex = operating_costs(
            self.config.seed,
            tl,
            plan.workforce,
            sheets,
            marketing,
            totals.wh_orders,
            totals.wh_units,
            scale,
        )
        ledger = general_ledger(tl, totals.daily, supply.received_cost_per_day, opex)
        return {
            "purchase_orders": supply.purchase_orders,
            "purchase_order_lines": supply.purchase_order_lines,
            "deliveries": supply.deliveries,
            "quality_inspections": supply.inspections,
            "inventory_snapshots": supply.inventory,
            "timesheets": sheets,
            "operating_costs": opex,
            "general_ledger": ledger,
        }

    # -- the stream --------------------------------------------------------------------
    def chunks(self) -> Iterator[Chunk]:
        """Every table's rows, in chunks; regenerates from scratch on every call."""
        truth = self.truth  # reset in place: callers may hold it already
        truth.dirt.clear()
        truth.rows.clear()
        truth.daily_revenue_cents.clear()
        for name, frame in self.reference().items():
            frame, records = self._dirty(name, frame, 0, True)
            truth.add(records)
            yield self._emit(Chunk(name, "all", frame))
        totals = _Totals(self.plan)
        tl = self.plan.timeline
        for m in range(tl.n_months):
            tables, records = self._month(m, totals)
            truth.add(records)
            label = f"{tl.month_label(m) // 100:04d}-{tl.month_label(m) % 100:02d}"
            for name, frame in tables.items():
                yield self._emit(Chunk(name, label, frame))
        for name, frame in self.final(totals).items():
            frame, records = self._dirty(name, frame, 0, True)
            truth.add(records)
            yield self._emit(Chunk(name, "all", frame))
        truth.daily_revenue_cents = {
            str(d): int(v) for d, v in zip(tl.dates(), totals.daily["revenue"], strict=True)
        }

    def _emit(self, chunk: Chunk) -> Chunk:
        self.truth.rows[chunk.table] = self.truth.rows.get(chunk.table, 0) + len(chunk.frame)
        return chunk

    def collect(self) -> dict[str, pd.DataFrame]:
        """All tables in memory: for small companies (tests, the demo)."""
        parts: dict[str, list[pd.DataFrame]] = {}
        for chunk in self.chunks():
            parts.setdefault(chunk.table, []).append(chunk.frame)
        return {
            t: pd.concat(p, ignore_index=True) if len(p) > 1 else p[0] for t, p in parts.items()
        }


def generate(config: CompanyConfig | None = None) -> Company:
    """Plan the company (cheap); iterate ``chunks()`` or call ``collect()`` for rows."""
    return Company(config or CompanyConfig())
