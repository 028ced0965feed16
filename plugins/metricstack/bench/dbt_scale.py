"""`make bench-dbt`: the dbt project at scale: full build, one more day, dashboard latency.

The sample company (default 10 million orders over three years) is generated, written
as one CSV file per table and loaded by metricstack's loader into the raw tables of an
embedded PostgreSQL this command starts in its own state folder (never the demo's).
The history's last day is held back. Then, each phase timed:

1. ``dbt run`` of the project, then ``dbt test`` (the full build), then the first
   publication (every mart copied into ``marts``);
2. the held-back day loaded (the loader's merge path, as a daily ingestion does);
3. ``dbt run`` of the project again (the incremental day; target < 60 s): what the
   transform DAG runs for a day. Facts re-read their late-arrival window, rollups and
   the customer analytics rebuild the periods it touches; RFM and lifetime value,
   which rank every customer, cost what the customers cost. The slowest models are
   printed and every model's time kept in results.json. Then ``dbt test`` and the
   day's publication (the largest facts swapped in, the rest copied);
4. dashboard questions asked of the marts and of the raw facts (staging views over
   the raw tables), each repeated; p50 and p95 latency (target: p95 < 100 ms on the
   marts).

With ``--select``, that selection is run in both dbt phases instead of the project.

The history is loaded as if it had been ingested day by day until yesterday: for its
load, the raw tables' ``_loaded_at`` default counts through the history's span, row by
row in file (time) order. The incremental models' look-back window (three days before
their newest ``_loaded_at``) then re-reads the last three days of history and the new
day, as in production, rather than every row loaded by the bench in one go.
The company is generated without planted dirt (duplicate keys would make every first
load go the staged way) and with ``--sessions-per-order`` web sessions per online order
(default 2: funnel events are the largest table; CompanyConfig's default of 4 makes
about 1.6 times as many, 9.3 per order instead of 5.9).

Room: at 10 million orders the CSV files take 11 GB and the warehouse 63 GB at its
peak (raw tables 17 GB; the build and the published marts 22 GB each, since the
publication keeps two versions) plus 4 GB of WAL. The history's files are deleted once
loaded unless --reuse keeps them for the next run, and the run stops at once when
--workdir has less than ROOM_PER_MILLION_ORDERS free for its size. The server is
stopped at the end (--keep leaves it running to look into; the next run stops and
wipes it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from metricstack.config import Settings, load_settings
from metricstack.loading.declarations import Source, load_systems

# How a row of a monthly table is told to belong to the held-back day: by a day or
# timestamp column of its own, or by its parent's key (lines of the day's orders).
OWN_DAY = {
    "customers": "signup_date",
    "marketing_spend": "spend_date",
    "orders": "ordered_at",
    "returns": "returned_on",
    "web_sessions": "started_at",
    "nps_responses": "responded_at",
    "support_tickets": "opened_at",
}
PARENT = {
    "order_lines": ("orders", "order_id"),
    "payments": ("orders", "order_id"),
    "funnel_events": ("web_sessions", "session_id"),
}
# shop and CRM rows carry the system's own change time (the extractors read by it)
WITH_UPDATED_AT = ("shop", "crm")
HISTORY_UPDATED_AT = "2024-01-01T00:00:00Z"


@dataclass
class Phase:
    name: str
    seconds: float
    detail: str = ""


@dataclass
class Latency:
    question: str
    marts_ms: list[float]
    raw_ms: list[float]


@dataclass
class Written:
    history: dict[str, Path] = field(default_factory=dict)  # table -> CSV file
    day: dict[str, Path] = field(default_factory=dict)
    history_rows: dict[str, int] = field(default_factory=dict)
    day_rows: dict[str, int] = field(default_factory=dict)


# --- the company, written as CSV with its last day apart


def _day_of(values: pd.Series) -> np.ndarray:
    """The UTC calendar day of each value (dates, timestamps or ISO text)."""
    stamps = pd.to_datetime(values, utc=True).dt.tz_convert(None).dt.normalize()
    return stamps.to_numpy(dtype="datetime64[D]")


def split_day(
    table: str, frame: pd.DataFrame, day: date, parents: dict[str, set[int]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(history, the day's rows) of one chunk; records the day's parent keys in ``parents``."""
    if table in OWN_DAY:
        mask = _day_of(frame[OWN_DAY[table]]) == np.datetime64(day, "D")
    elif table in PARENT:
        parent, key = PARENT[table]
        mask = frame[key].isin(parents.get(parent, set())).to_numpy()
    else:
        return frame, frame.iloc[:0]
    for child_parent, key in PARENT.values():
        if child_parent == table:
            parents[table] = set(frame.loc[mask, key].tolist())
    return frame[~mask], frame[mask]


def _append_csv(path: Path, table: str, frame: pd.DataFrame, system: str) -> None:
    from metricstack.sample_company.writers import text_frame

    text = text_frame(table, frame)
    if system in WITH_UPDATED_AT:
        text["updated_at"] = HISTORY_UPDATED_AT
    first = not path.exists()
    text.to_csv(path, mode="w" if first else "a", header=first, index=False, lineterminator="\n")


def write_company(
    orders: int, years: int, sessions_per_order: float, folder: Path, sources: dict[str, Source]
) -> Written:
    """Generate and write every declared table: history/<table>.csv and day/<table>.csv."""
    from metricstack.sample_company.config import CompanyConfig
    from metricstack.sample_company.generator import generate

    config = CompanyConfig(
        orders=orders, years=years, sessions_per_order=sessions_per_order, dirt=False
    )
    last_day = config.end - timedelta(days=1)
    last_month = f"{last_day:%Y-%m}"
    company = generate(config)
    written = Written()
    for part in ("history", "day"):
        (folder / part).mkdir(parents=True, exist_ok=True)
        for old in (folder / part).glob("*.csv"):
            old.unlink()
    parents: dict[str, set[int]] = {}
    for chunk in company.chunks():
        source = sources.get(chunk.table)
        if source is None:
            continue
        if chunk.period == last_month:
            history, new = split_day(chunk.table, chunk.frame, last_day, parents)
        else:
            history, new = chunk.frame, chunk.frame.iloc[:0]
        for part, rows, files, counts in (
            ("history", history, written.history, written.history_rows),
            ("day", new, written.day, written.day_rows),
        ):
            if len(rows) or chunk.table not in files:
                path = folder / part / f"{chunk.table}.csv"
                _append_csv(path, chunk.table, rows, source.system)
                files[chunk.table] = path
                counts[chunk.table] = counts.get(chunk.table, 0) + len(rows)
    return written


def _remember(folder: Path, key: tuple[int, int, float], written: Written) -> None:
    state = {
        "key": list(key),
        **{k: {t: str(v) for t, v in getattr(written, k).items()} for k in ("history", "day")},
        "history_rows": written.history_rows,
        "day_rows": written.day_rows,
    }
    (folder / "written.json").write_text(json.dumps(state))


def _written_before(folder: Path, key: tuple[int, int, float]) -> Written | None:
    """The files a run with the same ``key`` (orders, years, sessions) wrote, if any
    and if they are all still there."""
    try:
        state = json.loads((folder / "written.json").read_text())
    except (OSError, ValueError):
        return None
    if state.get("key") != list(key):
        return None
    written = Written(
        {t: Path(v) for t, v in state["history"].items()},
        {t: Path(v) for t, v in state["day"].items()},
        state["history_rows"],
        state["day_rows"],
    )
    files = [*written.history.values(), *written.day.values()]
    return written if all(path.exists() for path in files) else None


# Free disk a run needs per million orders. A 10 million run filled 78 GB (11 GB of
# files, 67 GB of server state) in its day's build; the history's files are now
# deleted once loaded, and the rest leaves a few GB for the day's sorts.
ROOM_PER_MILLION_ORDERS = 7 * 1024**3


def check_room(workdir: Path, orders: int, files_kept: bool) -> None:
    """Stop before the hour's work if ``workdir`` cannot hold the run (called once a
    previous run's server state is wiped)."""
    needed = ROOM_PER_MILLION_ORDERS * orders / 1_000_000
    if files_kept:
        needed *= 1.15  # the history's files, written and kept for the next run
    free = shutil.disk_usage(workdir).free
    if free < needed:
        raise SystemExit(
            f"bench-dbt: {orders:,} orders need about {needed / 1024**3:.0f} GB free under "
            f"{workdir}, which has {free / 1024**3:.0f} GB; free some, choose another "
            "--workdir or fewer --orders"
        )


# --- the warehouse


def declared_sources(settings: Settings) -> dict[str, Source]:
    systems = load_systems(settings.project_dir / "dags" / "sources")
    # every object as CSV: the same COPY stream whatever the original format
    return {
        s.object: dataclasses.replace(s, format="csv") for system in systems for s in system.objects
    }


def _raw_tables(sources: dict[str, Source]) -> Iterator[sql.Composed]:
    for source in sources.values():
        yield sql.SQL("{}.{}").format(sql.Identifier(source.schema), sql.Identifier(source.table))


def load(
    settings: Settings,
    sources: dict[str, Source],
    files: dict[str, Path],
    *,
    history_rows: dict[str, int] | None = None,
    history_days: int = 0,
) -> int:
    """Load each file with the real loader, then ANALYZE the tables it wrote.

    With ``history_rows``, a first load as if it had been ingested day by day over the
    ``history_days`` that ended yesterday: the raw table's ``_loaded_at`` default is
    made to count through that span, one step a row, in file order (the files are in
    time order), and is put back to now() afterwards.
    """
    from metricstack.loading.copy_loader import load_file
    from metricstack.loading.raw_tables import ensure_raw_table

    rows = 0
    with psycopg.connect(settings.role_url("loader")) as conn:
        for table, path in files.items():
            source = sources[table]
            name = sql.SQL("{}.{}").format(
                sql.Identifier(source.schema), sql.Identifier(source.table)
            )
            if history_rows is not None:
                step = history_days * 86_400_000_000 // max(history_rows.get(table, 1), 1)
                with conn.transaction():
                    ensure_raw_table(conn, source, ())
                    conn.execute("create sequence if not exists raw.bench_row")
                    conn.execute("alter sequence raw.bench_row restart")
                    conn.execute(
                        sql.SQL(
                            "alter table {} alter _loaded_at set default "
                            "now() - interval '1 day' - {}::interval "
                            "+ nextval('raw.bench_row') * {} * interval '1 microsecond'"
                        ).format(name, sql.Literal(f"{history_days} days"), sql.Literal(step))
                    )
            result = load_file(conn, source, path, "bench_dbt")
            rows += result.rows_loaded
            if history_rows is not None:
                with conn.transaction():
                    conn.execute(
                        sql.SQL("alter table {} alter _loaded_at set default now()").format(name)
                    )
        if history_rows is not None:
            with conn.transaction():
                conn.execute("drop sequence if exists raw.bench_row")
    with psycopg.connect(settings.warehouse_url, autocommit=True) as conn:
        for name in _raw_tables({t: sources[t] for t in files}):
            conn.execute(sql.SQL("analyze {}").format(name))
    return rows


# --- dbt


def run_dbt(settings: Settings, command: str, selection: list[str]) -> tuple[float, list[Any]]:
    """``dbt <command>``: its seconds and run_results' results (slowest first)."""
    from metricstack.services.dbt import dbt

    started = time.perf_counter()
    dbt(settings, command, *selection)
    seconds = time.perf_counter() - started
    results = json.loads((settings.dbt_target_dir / "run_results.json").read_text())["results"]
    results.sort(key=lambda r: -float(r.get("execution_time") or 0))
    return seconds, results


def publish(settings: Settings, what: str) -> tuple[str, float, str]:
    """The publication of the marts, timed: the first copies every table, later ones
    swap what is safe to swap (warehouse/publish.py)."""
    from metricstack.warehouse.bootstrap import MARTS
    from metricstack.warehouse.publish import publication_plan, publish_marts

    with psycopg.connect(settings.role_url("transformer")) as conn:
        live = {
            table
            for (table,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = %s",
                (MARTS,),
            )
        }
    started = time.perf_counter()
    published = publish_marts(settings, f"bench: {what}")
    seconds = time.perf_counter() - started
    plan = publication_plan(settings.dbt_manifest)
    swapped = (plan.rebuilt | plan.catching_up) & set(published) & live
    rows = sum(published.values())
    copied = sum(n for table, n in published.items() if table not in swapped)
    return (
        f"publish ({what})",
        seconds,
        f"{len(published)} tables, {rows:,} rows; {len(swapped)} swapped, the others "
        f"copied ({copied:,} rows), then analyzed and vacuumed",
    )


def _slowest(results: list[Any], n: int = 5) -> str:
    # unique ids: model.<project>.<name>, test.<project>.<name>.<hash>
    return ", ".join(
        f"{r['unique_id'].split('.')[2][:45]} {float(r['execution_time']):.1f}s"
        for r in results[:n]
    )


def model_times(results: list[Any]) -> dict[str, float]:
    """Each node's seconds (run_results' execution_time), slowest first."""
    return {
        r["unique_id"].split(".")[2]: round(float(r.get("execution_time") or 0), 2) for r in results
    }


# --- the dashboard questions


def questions(end: date) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(question, on the marts, on the raw facts, parameters) for the history ending at end.

    The marts are read where dbt builds them (marts_build; the quality gate publishes
    copies to marts); the raw facts through the staging views over the raw tables.
    """
    year = end.year - 1
    month = date(end.year, end.month, 1) - timedelta(days=1)
    month = month.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    q_start = date(month.year, (month.month - 1) // 3 * 3 + 1, 1)
    q_end = (q_start + timedelta(days=95)).replace(day=1)
    p = {
        "year_start": date(year, 1, 1),
        "year_end": date(year + 1, 1, 1),
        "month": month,
        "next_month": next_month,
        "q_start": q_start,
        "q_end": q_end,
    }
    return [
        (
            f"revenue per month, {year}",
            "select period_start, revenue from marts_build.fct_sales_revenue_monthly "
            "where period_start >= %(year_start)s and period_start < %(year_end)s order by 1",
            "select cast(date_trunc('month', o.order_date) as date), sum(o.subtotal - o.discount) "
            "from staging.stg_shop__orders as o where not o.is_cancelled "
            "and o.order_date >= %(year_start)s and o.order_date < %(year_end)s "
            "group by 1 order by 1",
            p,
        ),
        (
            f"revenue by region, {month:%Y-%m}",
            "select region_name, sum(revenue) from marts_build.fct_sales_geography_monthly "
            "where order_month = %(month)s group by 1 order by 2 desc",
            "select coalesce(r.region_name, 'Unknown'), sum(o.subtotal - o.discount) "
            "from staging.stg_shop__orders as o "
            "left join staging.stg_shop__customers as c on o.customer_id = c.customer_id "
            "left join staging.stg_shop__countries as k on c.country_code = k.country_code "
            "left join staging.stg_shop__regions as r on k.region_id = r.region_id "
            "where not o.is_cancelled and o.order_date >= %(month)s "
            "and o.order_date < %(next_month)s group by 1 order by 2 desc",
            p,
        ),
        (
            f"top 10 products, {month:%Y-%m}",
            "select product_id, product_name, revenue "
            "from marts_build.fct_product_performance_monthly "
            "where order_month = %(month)s order by revenue desc limit 10",
            "select l.product_id, p.product_name, sum(l.line_amount - "
            "coalesce(o.discount * l.line_amount / nullif(o.subtotal, 0), 0)) "
            "from staging.stg_shop__order_lines as l "
            "inner join staging.stg_shop__orders as o on l.order_id = o.order_id "
            "left join staging.stg_shop__products as p on l.product_id = p.product_id "
            "where not o.is_cancelled and o.order_date >= %(month)s "
            "and o.order_date < %(next_month)s group by 1, 2 order by 3 desc limit 10",
            p,
        ),
        (
            f"funnel conversion, {q_start:%Y-%m}..{q_end - timedelta(days=1):%Y-%m}",
            "select stage_number, funnel_stage, sum(sessions) "
            "from marts_build.fct_funnel_conversion_weekly "
            "where week_start >= %(q_start)s and week_start < %(q_end)s group by 1, 2 order by 1",
            "with s as (select session_id, min(occurred_at) as first_at, "
            "bool_or(event_type = 'visit') as v, bool_or(event_type = 'product_view') as pv, "
            "bool_or(event_type = 'cart') as c, bool_or(event_type = 'checkout') as co, "
            "bool_or(event_type = 'purchase') as pu "
            "from staging.stg_crm__funnel_events "
            "where occurred_at >= %(q_start)s::date - 7 and occurred_at < %(q_end)s::date + 1 "
            "group by 1) "
            "select count(*) filter (where v), count(*) filter (where pv), "
            "count(*) filter (where c), count(*) filter (where co), count(*) filter (where pu) "
            "from s where cast(date_trunc('week', first_at at time zone 'UTC') as date) "
            "between %(q_start)s and %(q_end)s::date - 1",
            p,
        ),
        (
            "RFM segment counts",
            "select rfm_segment, customer_count from marts_build.fct_customer_rfm_segments"
            " order by 1",
            "with c as (select customer_id, max(order_date) as last_order, count(*) as f, "
            "sum(subtotal - discount) as m from staging.stg_shop__orders "
            "where not is_cancelled group by 1), "
            "a as (select max(order_date) as as_of from staging.stg_shop__orders), "
            "s as (select ntile(5) over (order by a.as_of - c.last_order desc, customer_id) as r, "
            "ntile(5) over (order by f, customer_id) as f, "
            "ntile(5) over (order by m, customer_id) as m from c cross join a) "
            "select case when r >= 4 and f >= 4 and m >= 4 then 'champions' "
            "when r >= 3 and f >= 4 then 'loyal' when r >= 4 and f <= 2 then 'new' "
            "when r <= 2 and f >= 3 then 'at_risk' when r = 1 then 'lost' "
            "when r = 2 then 'hibernating' else 'needs_attention' end, count(*) "
            "from s group by 1 order by 1",
            p,
        ),
    ]


def _timed(conn: psycopg.Connection, query: str, params: dict[str, Any], n: int) -> list[float]:
    conn.execute(query, params).fetchall()  # warm: plan and cache, not counted
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        conn.execute(query, params).fetchall()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def measure_queries(settings: Settings, end: date, repeat: int, raw_repeat: int) -> list[Latency]:
    out = []
    with psycopg.connect(settings.role_url("transformer"), autocommit=True) as conn:
        for question, marts, raw, params in questions(end):
            lat = Latency(question, _timed(conn, marts, params, repeat), [])
            if raw_repeat:
                lat.raw_ms = _timed(conn, raw, params, raw_repeat)
            print(
                f"  {question}: p95 {percentile(lat.marts_ms, 95):.1f} ms on the marts", flush=True
            )
            out.append(lat)
    return out


def percentile(samples: list[float], pct: int) -> float:
    if not samples:
        return float("nan")
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[pct - 1]


# --- the report


def report(phases: list[Phase], latencies: list[Latency], header: str) -> str:
    lines = [header, "", f"{'phase':<28} {'seconds':>8}  detail"]
    for ph in phases:
        lines.append(f"{ph.name:<28} {ph.seconds:>8.1f}  {ph.detail}")
    if latencies:
        n_marts = len(latencies[0].marts_ms)
        n_raw = len(latencies[0].raw_ms)
        lines += [
            "",
            f"dashboard question (ms; marts x{n_marts}, raw x{n_raw})"
            f"{'':<4} {'marts p50':>9} {'p95':>7} {'raw p50':>9} {'p95':>8} {'x p50':>7}",
        ]
        for lat in latencies:
            m50, m95 = percentile(lat.marts_ms, 50), percentile(lat.marts_ms, 95)
            r50, r95 = percentile(lat.raw_ms, 50), percentile(lat.raw_ms, 95)
            speedup = f"{r50 / m50:7.0f}" if lat.raw_ms and m50 > 0 else f"{'-':>7}"
            lines.append(
                f"{lat.question:<47} {m50:>9.2f} {m95:>7.2f} {r50:>9.0f} {r95:>8.0f} {speedup}"
            )
    lines.append(
        "(targets: incremental day < 60 s; marts p95 < 100 ms. The day is `dbt run` of "
        "the whole project, as the transform DAG runs it)"
    )
    return "\n".join(lines)


# --- the whole run


def _server(settings: Settings) -> None:
    from metricstack.services import postgres
    from metricstack.warehouse.bootstrap import ensure_warehouse

    settings.ensure_secrets()
    postgres.initialise(settings)
    postgres.start(settings)
    ensure_warehouse(settings)


def _free_port() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def run_bench(
    orders: int,
    workdir: Path,
    *,
    years: int = 3,
    sessions_per_order: float = 2.0,
    selection: tuple[str, ...] = (),
    repeat: int = 30,
    raw_repeat: int = 10,
    tests: bool = True,
    keep: bool = False,
    reuse: bool = False,
    settings: Settings | None = None,
) -> tuple[list[Phase], list[Latency]]:
    """The benchmark; ``settings`` of a bootstrapped warehouse to use instead of a server."""
    from metricstack.sample_company.config import CompanyConfig
    from metricstack.services import postgres

    own_server = settings is None
    if settings is None:
        settings = load_settings(
            {
                "METRICSTACK_STATE_DIR": str(workdir / "state"),
                "METRICSTACK_PG_PORT": _free_port(),
            }
        )
        postgres.stop(settings)  # a server a previous run left (--keep), then a fresh one
        shutil.rmtree(settings.state_dir, ignore_errors=True)
        _server(settings)
    phases: list[Phase] = []

    def phase(name: str, seconds: float, detail: str = "") -> None:
        phases.append(Phase(name, seconds, detail))
        print(f"{name}: {seconds:.1f} s  {detail}", flush=True)

    select = list(selection)
    day_models: dict[str, float] = {}
    end = CompanyConfig(orders=orders, years=years).end
    try:
        sources = declared_sources(settings)
        started = time.perf_counter()
        written = _written_before(workdir / "company", (orders, years, sessions_per_order))
        reused = written is not None and reuse
        check_room(workdir, orders, files_kept=reuse and not reused)
        if written is None or not reuse:
            written = write_company(orders, years, sessions_per_order, workdir / "company", sources)
            _remember(workdir / "company", (orders, years, sessions_per_order), written)
        total = sum(written.history_rows.values())
        big = sorted(written.history_rows.items(), key=lambda kv: -kv[1])[:4]
        phase(
            "CSV files (reused)" if reused else "generate + write CSV",
            time.perf_counter() - started,
            f"{total:,} rows; " + ", ".join(f"{t} {n:,}" for t, n in big),
        )
        started = time.perf_counter()
        rows = load(
            settings,
            sources,
            written.history,
            history_rows=written.history_rows,
            history_days=(end - CompanyConfig(years=years).start).days - 1,
        )
        seconds = time.perf_counter() - started
        phase("load history (loader)", seconds, f"{rows:,} rows, {rows / seconds:,.0f} rows/s")
        if not reuse:  # nothing reads them again, and the build needs the room
            for path in written.history.values():
                path.unlink(missing_ok=True)

        seconds, results = run_dbt(settings, "run", select)
        phase("dbt run (full)", seconds, f"{len(results)} models; slowest: {_slowest(results)}")
        if tests:
            seconds, results = run_dbt(settings, "test", select)
            phase("dbt test (full)", seconds, f"{len(results)} tests; slowest: {_slowest(results)}")
        phase(*publish(settings, "the history"))

        started = time.perf_counter()
        day_rows = sum(written.day_rows.values())
        rows = load(settings, sources, {t: written.day[t] for t in written.day})
        phase(
            "load the new day (loader)",
            time.perf_counter() - started,
            f"{rows:,} rows: orders {written.day_rows.get('orders', 0):,}, "
            f"lines {written.day_rows.get('order_lines', 0):,}, "
            f"events {written.day_rows.get('funnel_events', 0):,} ({day_rows:,} in files)",
        )
        seconds, results = run_dbt(settings, "run", select)
        day_models = model_times(results)
        phase(
            "dbt run (incremental day)",
            seconds,
            f"`dbt run {' '.join(select)}`, {len(results)} models; "
            f"slowest: {_slowest(results, 10)}",
        )
        if tests:
            seconds, results = run_dbt(settings, "test", select)
            phase("dbt test (after the day)", seconds, f"slowest: {_slowest(results, 3)}")
        phase(*publish(settings, "the day"))

        started = time.perf_counter()
        latencies = measure_queries(settings, end, repeat, raw_repeat)
        phase("dashboard queries", time.perf_counter() - started)
    finally:
        if own_server and not keep:
            postgres.stop(settings)
    header = (
        f"dbt at scale: {orders:,} orders over {years} years, "
        f"{sessions_per_order:g} sessions per online order "
        f"({len(phases) and phases[0].detail.split(';')[0]})"
    )
    print(report(phases, latencies, header))
    (workdir / "results.json").write_text(
        json.dumps(
            {
                "orders": orders,
                "phases": [dataclasses.asdict(p) for p in phases],
                "latencies": [dataclasses.asdict(lat) for lat in latencies],
                "history_rows": written.history_rows,
                "day_rows": written.day_rows,
                "incremental_day_models": day_models,
            },
            indent=1,
        )
    )
    if keep and own_server:
        print(f"server left running on port {settings.pg_port} (state {settings.state_dir})")
    return phases, latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="metricstack.bench.dbt_scale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--sessions-per-order", type=float, default=2.0)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "metricstack-bench-dbt",
        help="scratch folder: CSV files, the server's state (default: %(default)s)",
    )
    parser.add_argument("--select", default="", help="dbt selection (default: the project)")
    parser.add_argument("--repeat", type=int, default=30, help="runs of each marts query")
    parser.add_argument("--raw-repeat", type=int, default=10, help="runs of each raw query")
    parser.add_argument("--no-tests", action="store_true", help="skip the dbt test phases")
    parser.add_argument("--keep", action="store_true", help="leave the server running")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="reuse the CSV files of a run of the same size, and keep them for the next "
        "(without it the history's files are deleted once loaded)",
    )
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    selection = ("--select", *args.select.split()) if args.select else ()
    run_bench(
        args.orders,
        args.workdir.resolve(),
        years=args.years,
        sessions_per_order=args.sessions_per_order,
        selection=selection,
        repeat=args.repeat,
        raw_repeat=args.raw_repeat,
        tests=not args.no_tests,
        keep=args.keep,
        reuse=args.reuse,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
