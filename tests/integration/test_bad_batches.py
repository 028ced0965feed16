"""Issue 5's "Done when": bad batches stop at a gate, dashboards keep their numbers.

One warehouse for the module: the small sample company is loaded by the real loader
(raw_sample.py) and published as the transform DAG publishes it, task by task with
the functions its tasks call (the raw gate and the extract gate, dbt, the mart gate,
the analytics, publish) and the callbacks that keep the audit trail. Then each bad
batch arrives at raw as it would (through the loader, the landing folder's file load,
the ingestion's volume check), runs the pipeline, and must stop at a gate that names
what failed, with the published marts unchanged and one consistent record of the run
in the audit tables. Each case undoes its batch afterwards (as an operator would
after reading the gate's message), so the cases do not depend on their order. Last, a
good batch (a normal new day, with a byte-identical file sent again) publishes.

Kinds of bad batch, and the design each one tests:

- null keys: the loader quarantines a record without its key (audit.rejected_rows);
  a raw table written by another writer without the loader's constraints is stopped
  by the raw gate's not-null expectation on the key.
- a duplicated file: a byte-identical file sent again is skipped by content (sha256;
  audit.loads keeps the one load of that content) and is harmless. The harmful
  duplicate is the same records exported again under new technical ids (the ledger
  numbers its entries per export): merged as new rows, it would double the income
  statement; the raw gate's expectation on the ledger's business key (a journal posts
  to an account once) stops it.
- a revenue spike: one day's orders in cents (x100); the mart gate's spike rule (a
  day above 5x the best day of the 8 weeks before it, REVENUE_SPIKE in
  expectations/define_gx.py) stops it; the sample company's own days pass it.
- an empty extract: the object's same-weekday history says rows are expected; the
  ingestion's volume check marks the alert as holding the batch, and the raw gate's
  extract_volume_gate blocks, naming the object, until a load of it brings rows. A
  quiet object (often empty, or too short a history) only alerts, or says nothing.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from airflow.sdk.exceptions import AirflowFailException
from psycopg import sql
from raw_sample import load_raw_sample

from metricstack.analytics import run_analytics
from metricstack.config import Settings
from metricstack.loading.copy_loader import LoadResult, file_sha256, load_file
from metricstack.loading.declarations import Source, load_systems
from metricstack.loading.files import load_landed_files
from metricstack.pipeline.defaults import log_failure, record_run_failure, record_run_success
from metricstack.pipeline.transform import GATES, RAW_GATES
from metricstack.quality import GateFailed, run_gate, run_gate_task
from metricstack.quality.raw_suites import EXTRACT_GATE, MART_GATE, RAW_GATE
from metricstack.quality.volume import check_ingest_volume
from metricstack.services.dbt import dbt
from metricstack.warehouse.publish import publish_marts

DAG_ID = "transform"
# What dbt builds here: staging (views, what the analytics read) and the marts the
# dashboards below read, with everything upstream and their tests.
DBT_SELECT = (
    "path:models/staging",
    "+fct_daily_revenue",
    "+fct_sales_revenue_monthly",
    "+fct_income_statement_monthly",
)
# The numbers the dashboards read (Revenue, Sales, Finance, Executive overview).
DASHBOARD_MARTS = {
    "fct_daily_revenue": "order_date",
    "fct_sales_revenue_monthly": "period_start",
    "fct_income_statement_monthly": "income_month",
}
SPIKE_FACTOR = 100  # a unit error: the day's order amounts in cents, read as euros


# -- the warehouse and the pipeline, as the transform DAG runs it -----------------------


@dataclass
class Run:
    """What one transform run did: the task that stopped it, or the publication."""

    run_id: str
    failed_task: str | None = None
    failure: GateFailed | None = None
    published: dict[str, int] | None = None
    seconds: float = 0.0


@dataclass
class Warehouse:
    settings: Settings
    work: Path
    sources: dict[str, Source]
    company: Path  # the sample company's CSV files
    first_run: Run
    published: dict[str, list[tuple[Any, ...]]]  # the dashboards' numbers after it

    def rows(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.settings.warehouse_url) as conn:
            return [tuple(r) for r in conn.execute(query, args or None)]

    def execute(self, *statements: str) -> None:
        with psycopg.connect(self.settings.warehouse_url, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def dashboards(self) -> dict[str, list[tuple[Any, ...]]]:
        return {
            table: self.rows(
                sql.SQL("select * from {} order by {}")
                .format(sql.Identifier("marts", table), sql.Identifier(key))
                .as_string()
            )
            for table, key in DASHBOARD_MARTS.items()
        }

    def extract(self, query: str, path: Path) -> Path:
        """Rows as a source system's CSV extract would carry them (UTC timestamps)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with psycopg.connect(self.settings.warehouse_url) as conn, conn.cursor() as cur:
            cur.execute("set timezone = 'UTC'")
            with (
                path.open("wb") as out,
                cur.copy(f"copy ({query}) to stdout with (format csv, header)") as copy,
            ):
                for data in copy:
                    out.write(data)
        return path

    def load(self, name: str, path: Path, run_id: str, origin: str) -> LoadResult:
        """One extract through the loader, as an ingestion task loads it."""
        source = dataclasses.replace(self.sources[name], format="csv")
        with psycopg.connect(self.settings.role_url("loader"), autocommit=True) as conn:
            return load_file(conn, source, path, run_id, origin=origin)

    def transform(self, run_id: str) -> Run:
        return run_transform(self.settings, run_id)


def _context(run_id: str, task_id: str | None = None, error: BaseException | None = None) -> Any:
    """A context shaped like the one Airflow hands the callbacks (see test_quality_audit)."""
    ti = SimpleNamespace(dag_id=DAG_ID, task_id=task_id, run_id=run_id, try_number=1)
    ti.map_index = -1
    dag_run = SimpleNamespace(
        dag_id=DAG_ID, run_id=run_id, run_type="scheduled", start_date=None, end_date=None
    )
    return {
        "task_instance": ti,
        "ti": ti,
        "run_id": run_id,
        "exception": error,
        "dag_run": dag_run,
        "reason": "task_failure" if error else "success",
    }


def run_transform(settings: Settings, run_id: str) -> Run:
    """The transform DAG's tasks in order, with the functions they call.

    raw_gate (RAW_GATES: the raw suites and the extract gate) >> dbt >> quality_gate
    (GATES) >> analytics >> publish. A gate that blocks fails its task as _enforce does
    (AirflowFailException with the gate's message), the task's failure callback and the
    DAG's failure callback record it; a run that publishes records its success.
    """
    started = time.monotonic()
    run = Run(run_id)
    task = "raw_gate"
    try:
        run_gate_task(settings, RAW_GATES, run_id)
        task = "dbt"
        dbt(settings, "build", "--select", *DBT_SELECT, "--indirect-selection", "cautious")
        task = "quality_gate"
        run_gate_task(settings, GATES, run_id)
        task = "analytics"
        run_analytics(settings, run_id)
        task = "publish"
        run.published = publish_marts(settings, run_id)
    except GateFailed as failure:
        run.failed_task, run.failure = task, failure
        log_failure(_context(run_id, task, AirflowFailException(str(failure))))
        record_run_failure(_context(run_id, task, failure))
    else:
        record_run_success(_context(run_id))
    run.seconds = round(time.monotonic() - started, 1)
    print(f"transform {run_id}: {run.failed_task or 'published'} in {run.seconds} s")
    return run


@pytest.fixture(scope="module")
def warehouse(
    module_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Warehouse]:
    settings = module_warehouse
    work = tmp_path_factory.mktemp("bad_batches")
    with pytest.MonkeyPatch.context() as patch:
        # the callbacks find the warehouse as in Airflow: load_settings() and the environment
        for name, value in settings.environ.items():
            patch.setenv(name, value)
        sample = load_raw_sample(settings, work / "company")
        sources = {
            s.name: s
            for system in load_systems(settings.project_dir / "dags" / "sources")
            for s in system.objects
        }
        first = run_transform(settings, "good_batch__1")
        built = Warehouse(settings, work, sources, sample.folder, first, {})
        built.published = built.dashboards()
        yield built


def test_the_sample_company_publishes_through_every_gate(warehouse: Warehouse) -> None:
    run = warehouse.first_run
    assert run.failed_task is None, run.failure
    assert run.published and all(run.published[t] > 0 for t in DASHBOARD_MARTS)
    decisions = dict(
        warehouse.rows(
            "select gate, decision from audit.gate_decisions where run_id = %s", run.run_id
        )
    )
    # the planted negative quantities are warnings; the planted revenue dip is no spike
    assert decisions == {
        RAW_GATE: "passed_with_warnings",
        EXTRACT_GATE: "passed",
        MART_GATE: "passed",
    }
    [(spike_rule_met,)] = warehouse.rows(
        "select success from audit.validations where run_id = %s and checkpoint = %s "
        "and expected like %s",
        run.run_id,
        MART_GATE,
        "%No revenue spike%",
    )
    assert spike_rule_met  # the sample company's days, its planted dip included
    assert warehouse.rows(
        "select state from audit.pipeline_runs where run_id = %s", run.run_id
    ) == [("success",)]
    published = warehouse.rows(
        "select table_name from audit.publications where run_id = %s", run.run_id
    )
    assert {f"marts.{t}" for t in DASHBOARD_MARTS} <= {t for (t,) in published}
    print(f"first good batch: {run.seconds} s")


# -- the bad batches -------------------------------------------------------------------


@dataclass(frozen=True)
class Blocked:
    """What a bad batch must be stopped by."""

    task: str  # raw_gate or quality_gate
    gate: str  # the checkpoint that blocks
    asset: str  # schema.table it names
    expectation: str
    column: str | None
    message: tuple[str, ...]  # what the failure message must say


def null_keys(w: Warehouse, run_id: str) -> Callable[[], None]:
    """Order lines without their order_id: quarantined by the loader; written by another
    writer (no NOT NULL on the key), stopped by the raw gate."""
    path = w.extract(
        "select null::bigint as order_id, line_number, product_id, quantity, unit_price, "
        "unit_cost, line_discount, amount, updated_at + interval '1 day' as updated_at "
        "from raw.shop_order_lines order by order_id, line_number limit 3",
        w.work / run_id / "order_lines.csv",
    )
    loaded = w.load("shop_order_lines", path, run_id, "shop extract with null keys")
    assert (loaded.rows_loaded, loaded.rows_rejected) == (0, 3)
    reasons = w.rows(
        "select column_name, reason from audit.rejected_rows where load_id = %s", loaded.load_id
    )
    assert len(reasons) == 3 and all(c == "order_id" for c, _ in reasons), reasons
    # the same rows from a writer that does not enforce the key
    w.execute(
        "alter table raw.shop_order_lines drop constraint shop_order_lines_pkey",
        "alter table raw.shop_order_lines alter column order_id drop not null",
        "insert into raw.shop_order_lines (order_id, line_number, product_id, quantity, "
        "unit_price, unit_cost, line_discount, amount, updated_at, _load_id) "
        "select null, line_number, product_id, quantity, unit_price, unit_cost, "
        "line_discount, amount, updated_at, 0 from raw.shop_order_lines "
        "order by order_id, line_number limit 3",
    )

    def undo() -> None:
        w.execute(
            "delete from raw.shop_order_lines where order_id is null",
            "alter table raw.shop_order_lines alter column order_id set not null",
            "alter table raw.shop_order_lines add primary key (order_id, line_number)",
        )

    return undo


def duplicated_export(w: Warehouse, run_id: str) -> Callable[[], None]:
    """December's ledger exported again under new entry ids, dropped in the landing folder
    under another name: loaded by the landing files' path, it would double December."""
    [(last_id,)] = w.rows("select max(entry_id) from raw.backoffice_general_ledger")
    landed = w.settings.landing_dir / "general_ledger" / "general_ledger_2023-12_export2.csv"
    w.extract(
        f"select entry_id + {last_id} as entry_id, journal_id, posted_on, account_code, "
        "account_name, cost_centre_id, debit, credit, source from raw.backoffice_general_ledger "
        "where posted_on >= date '2023-12-01' order by entry_id",
        landed,
    )
    results = load_landed_files(w.settings, w.sources["backoffice_general_ledger"], run_id)
    [loaded] = [r for r in results if r["file"] == landed.name]
    assert not loaded["skipped"] and loaded["rows_inserted"] == loaded["rows_read"] > 0

    def undo() -> None:
        landed.unlink()
        w.execute(f"delete from raw.backoffice_general_ledger where _load_id = {loaded['load_id']}")

    return undo


def revenue_spike(w: Warehouse, run_id: str) -> Callable[[], None]:
    """A new day's orders whose amounts arrive in cents (x100), through the shop's extract."""
    new_day = _new_day(w)
    load = _deliver_day(w, run_id, new_day, factor=SPIKE_FACTOR)

    def undo() -> None:
        for table, load_id in load.items():
            w.execute(f"delete from raw.{table} where _load_id = {load_id}")

    return undo


def empty_extract(w: Warehouse, run_id: str, days_ahead: int = 1) -> Callable[[], None]:
    """The shop's orders extract is empty on a weekday whose history always had orders;
    in the same batch, two quiet objects: one often empty, one too new to judge."""
    # a later day's run: the volume check counts a day's reads together, and the
    # sample's loads are today's (each call takes a day of its own)
    now = datetime.now(UTC) + timedelta(days=days_ahead)
    history = [
        ("shop_orders", [40, 38, 45, 41, 39, 44, 42, 40]),  # rows every week: holds
        ("crm_support_tickets", [3, 0, 2, 0, 0, 4, 3, 2]),  # quiet on three of eight
        ("marketing_marketing_spend", [8, 8]),  # two weeks: too short to judge
    ]
    with psycopg.connect(w.settings.warehouse_url) as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into audit.loads (source, file_name, file_sha256, run_id, started_at, "
            "finished_at, rows_read, rows_loaded) values (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    name,
                    f"history {name} {weeks}",
                    f"{run_id} {name} {weeks}",
                    "history",
                    at,
                    at,
                    n,
                    n,
                )
                for name, counts in history
                for weeks, n in enumerate(counts, 1)
                for at in [now - timedelta(weeks=weeks)]
            ],
        )
    alerts: dict[str, Any] = {}
    for name, _ in history:
        # what the ingestion task does: load the extract, then judge its volume
        path = w.work / run_id / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(",".join(w.sources[name].column_names) + "\n")  # a header, no rows
        result = w.load(name, path, run_id, f"empty extract of {name}")
        assert result.rows_read == 0
        alerts[name] = check_ingest_volume(
            w.settings, name, [dataclasses.asdict(result)], f"ingest_{run_id}", at=now
        )
    held, quiet, new = (alerts[name] for name, _ in history)
    assert held is not None and held.kind == "empty_extract" and held.details["holds_batch"]
    assert quiet is None or not quiet.details["holds_batch"]
    assert new is None  # fewer than four same weekdays: nothing to judge

    def undo() -> None:
        """What releases the batch: the next extract of the object reads rows (from its
        unmoved high-water mark). The alert stays in the audit trail."""
        w.execute("delete from audit.loads where run_id = 'history'")  # the made-up history
        path = w.extract(
            "select order_id, customer_id, sales_rep_id, warehouse_id, ordered_at, status, "
            "delivered_on, subtotal, discount, shipping_fee, total, "
            "updated_at + interval '1 second' as updated_at "
            "from raw.shop_orders order by order_id desc limit 2",
            w.work / run_id / "next_orders.csv",
        )
        assert w.load("shop_orders", path, f"next_{run_id}", "the next extract").rows_read == 2
        # it comes after the held run, which was judged as tomorrow's (see above)
        w.execute(
            "update audit.loads set started_at = (select max(raised_at) + interval '1 second'"
            f" from audit.alerts where run_id = 'ingest_{run_id}') where run_id = 'next_{run_id}'"
        )

    return undo


def _new_day(w: Warehouse) -> date:
    [(last,)] = w.rows("select max(order_date) from marts.fct_daily_revenue")
    assert isinstance(last, date)
    return last + timedelta(days=1)


def _deliver_day(w: Warehouse, run_id: str, day: date, factor: int = 1) -> dict[str, int]:
    """The shop's extract of a new day: the orders (with their lines and payments) of
    the same weekday a week before, as new orders of ``day``; amounts times ``factor``
    on the orders (a unit error) when it is not 1. Returns raw table -> load id."""
    template = day - timedelta(weeks=1)
    [(offset,)] = w.rows("select max(order_id) from raw.shop_orders")
    [(payment_offset,)] = w.rows("select max(payment_id) from raw.shop_payments")
    orders = (
        "select order_id from raw.shop_orders "
        f"where (ordered_at at time zone 'UTC')::date = date '{template}'"
    )
    queries = {
        "shop_orders": f"select order_id + {offset} as order_id, customer_id, sales_rep_id, "
        "warehouse_id, ordered_at + interval '7 days' as ordered_at, status, "
        "delivered_on + 7 as delivered_on, "
        f"subtotal * {factor} as subtotal, discount * {factor} as discount, "
        f"shipping_fee * {factor} as shipping_fee, total * {factor} as total, "
        "now() as updated_at from raw.shop_orders "
        f"where order_id in ({orders})",
        "shop_order_lines": f"select order_id + {offset} as order_id, line_number, product_id, "
        "quantity, unit_price, unit_cost, line_discount, amount, now() as updated_at "
        f"from raw.shop_order_lines where order_id in ({orders})",
        "shop_payments": f"select payment_id + {payment_offset} as payment_id, "
        f"order_id + {offset} as order_id, paid_at + interval '7 days' as paid_at, method, "
        "amount, now() as updated_at "
        f"from raw.shop_payments where order_id in ({orders})",
    }
    loads: dict[str, int] = {}
    for name, query in queries.items():
        path = w.extract(query, w.work / run_id / f"{name}.csv")
        result = w.load(name, path, run_id, f"shop extract of {day}")
        assert result.rows_inserted == result.rows_read > 0 and result.rows_rejected == 0
        assert result.load_id is not None
        loads[name] = result.load_id
    return loads


BAD_BATCHES = {
    "null_keys": (
        null_keys,
        Blocked(
            "raw_gate",
            RAW_GATE,
            "raw.shop_order_lines",
            "expect_column_values_to_not_be_null",
            "order_id",
            ("expect_column_values_to_not_be_null() on column order_id", "3 unexpected"),
        ),
    ),
    "duplicated_export": (
        duplicated_export,
        Blocked(
            "raw_gate",
            RAW_GATE,
            "raw.backoffice_general_ledger",
            "expect_compound_columns_to_be_unique",
            "journal_id, account_code",
            ("expect_compound_columns_to_be_unique() on column journal_id, account_code",),
        ),
    ),
    "revenue_spike": (
        revenue_spike,
        Blocked(
            "quality_gate",
            MART_GATE,
            "marts_build.fct_daily_revenue",
            "unexpected_rows_expectation",
            None,
            ("No revenue spike", "observed 1"),
        ),
    ),
    "empty_extract": (
        empty_extract,
        Blocked(
            "raw_gate",
            EXTRACT_GATE,
            "audit.alerts",
            "unexpected_rows_expectation",
            None,
            ("raw.shop_orders: the batch's extract is not empty", "observed 1"),
        ),
    ),
}


def _audit_record(w: Warehouse, run_id: str) -> dict[str, Any]:
    """Everything the audit tables hold about one transform run."""
    return {
        "runs": w.rows(
            "select dag_id, state, reason from audit.pipeline_runs where run_id = %s", run_id
        ),
        "failures": w.rows(
            "select task_id, error_class, message, hint from audit.task_failures where run_id = %s",
            run_id,
        ),
        "decisions": w.rows(
            "select gate, decision, evaluated, blocking, reasons from audit.gate_decisions "
            "where run_id = %s order by decision_id",
            run_id,
        ),
        "validations": w.rows(
            "select checkpoint, asset, expectation_type, column_name, success, severity, "
            "observed_value from audit.validations where run_id = %s",
            run_id,
        ),
        "publications": w.rows(
            "select table_name from audit.publications where run_id = %s", run_id
        ),
    }


@pytest.mark.parametrize("kind", list(BAD_BATCHES))
def test_a_bad_batch_stops_at_a_gate_and_the_dashboards_keep_their_numbers(
    warehouse: Warehouse, kind: str
) -> None:
    arrive, blocked = BAD_BATCHES[kind]
    run_id = f"bad_batch__{kind}"
    publications_before = warehouse.rows("select count(*) from audit.publications")
    undo = arrive(warehouse, run_id)
    try:
        run = warehouse.transform(run_id)
    finally:
        undo()

    # stopped at the gate, with a message naming what failed
    assert run.failed_task == blocked.task and run.failure is not None, run
    message = str(run.failure)
    assert f"quality gate '{blocked.gate}' failed" in message
    for needle in blocked.message:
        assert needle in message, message
    # the dashboards keep the previous numbers
    assert warehouse.dashboards() == warehouse.published

    record = _audit_record(warehouse, run_id)
    # one run, failed; one task failure (the gate's task) saying what to do
    assert record["runs"] == [(DAG_ID, "failed", "task_failure")]
    [(task, error_class, failure_message, hint)] = record["failures"]
    assert (task, error_class) == (blocked.task, "AirflowFailException")
    assert f"quality gate '{blocked.gate}' failed" in failure_message
    assert "dashboards keep the last good data" in hint
    # a decision per checkpoint that ran, the blocking one with the failing expectation
    ran = RAW_GATES if blocked.task == "raw_gate" else RAW_GATES + GATES
    decisions = {gate: rest for gate, *rest in record["decisions"]}
    assert list(decisions) == list(ran)
    assert {g: d[0] for g, d in decisions.items() if g != blocked.gate} == {
        g: "passed_with_warnings" if g == RAW_GATE else "passed" for g in ran if g != blocked.gate
    }
    decision, _evaluated, count, reasons = decisions[blocked.gate]
    assert decision == "blocked" and count == 1
    [reason] = [r for r in reasons if r["severity"] == "critical"]
    assert (reason["asset"], reason["expectation"], reason["column"]) == (
        blocked.asset,
        blocked.expectation,
        blocked.column,
    )
    # every evaluated expectation of those checkpoints, once; the failing one among them
    validations = record["validations"]
    assert len(validations) == sum(d[1] for d in decisions.values())
    failed = [v for v in validations if not v[4] and v[5] == "critical"]
    assert [(v[0], v[1], v[2], v[3]) for v in failed] == [
        (blocked.gate, blocked.asset, blocked.expectation, blocked.column)
    ]
    # no publication
    assert record["publications"] == []
    assert warehouse.rows("select count(*) from audit.publications") == publications_before


def test_a_held_extract_is_released_by_a_later_load_with_rows(warehouse: Warehouse) -> None:
    release = empty_extract(warehouse, "held_extract", days_ahead=3)
    held = run_gate(warehouse.settings, EXTRACT_GATE)
    release()
    released = run_gate(warehouse.settings, EXTRACT_GATE)

    assert [f.expected for f in held.blocking] == [
        next(o.expected for o in held.outcomes if "raw.shop_orders:" in o.expected)
    ]
    assert released.success and released.evaluated == len(warehouse.sources)
    # the alert that held the batch is still in the audit trail, marked as such
    [(details,)] = warehouse.rows(
        "select details from audit.alerts where run_id = 'ingest_held_extract' "
        "and subject = 'shop_orders'"
    )
    assert details["holds_batch"] is True and "held at the raw gate" in details["message"]


# -- a good batch -----------------------------------------------------------------------


def test_a_good_batch_publishes_and_the_marts_move(warehouse: Warehouse) -> None:
    w = warehouse
    run_id = "good_batch__2"
    # the finance export sent again byte for byte, under another name: skipped by content
    resent = w.settings.landing_dir / "general_ledger" / "general_ledger (1).csv"
    resent.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(w.company / "general_ledger.csv", resent)
    [skipped] = load_landed_files(w.settings, w.sources["backoffice_general_ledger"], run_id)
    assert skipped["skipped"] and skipped["rows_read"] == 0
    # audit.loads keeps the one load of that content (unique per source and sha256)
    assert w.rows(
        "select file_name from audit.loads where source = 'backoffice_general_ledger' "
        "and file_sha256 = %s",
        file_sha256(resent),
    ) == [(str(w.company / "general_ledger.csv"),)]
    # and one normal new day from the shop
    before_monthly = dict(
        w.rows("select period_start, revenue from marts.fct_sales_revenue_monthly")
    )
    day = _new_day(w)
    _deliver_day(w, run_id, day)

    run = w.transform(run_id)

    assert run.failed_task is None, run.failure
    after = w.dashboards()
    before = w.published
    # one new day of revenue, equal to the day it was modelled on; the others unchanged
    assert after["fct_daily_revenue"][:-1] == before["fct_daily_revenue"]
    [template] = [r for r in before["fct_daily_revenue"] if r[0] == day - timedelta(weeks=1)]
    new = after["fct_daily_revenue"][-1]
    assert new[0] == day and new[1:] == template[1:]
    # the monthly revenue of the new day's month moves by that day, no other month does
    month = day.replace(day=1)
    monthly = dict(w.rows("select period_start, revenue from marts.fct_sales_revenue_monthly"))
    assert monthly.pop(month) == before_monthly.pop(month, Decimal(0)) + new[2]
    assert monthly == before_monthly
    # the ledger was not loaded twice: the income statement is what it was
    assert after["fct_income_statement_monthly"] == before["fct_income_statement_monthly"]
    record = _audit_record(w, run_id)
    assert record["runs"] == [(DAG_ID, "success", "success")]
    assert record["failures"] == []
    assert [(g, d) for g, d, *_ in record["decisions"]] == [
        (RAW_GATE, "passed_with_warnings"),
        (EXTRACT_GATE, "passed"),
        (MART_GATE, "passed"),
    ]
    assert {f"marts.{t}" for t in DASHBOARD_MARTS} <= {t for (t,) in record["publications"]}
