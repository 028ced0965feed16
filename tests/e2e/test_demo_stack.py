"""The demo, end to end: `metricstack demo` on a fresh state folder, then what it shows.

The stack (embedded and external PostgreSQL) is conftest.py's session-scoped ``stack``
fixture. This module runs after the others of its folder (conftest.py sees to it): its
last tests make a failing pipeline run and stop the stack.

The expected numbers come from the sample company's generator (its data and its
truth), not from the pipeline's code.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from browser import ARTIFACTS, superset_session

from metricstack.lineage.graph import build_graph, trace_graph
from metricstack.loading.declarations import load_sources, load_systems
from metricstack.pipeline.ids import TRANSFORM_DAG_ID, ingest_dag_id
from metricstack.pipeline.run import client_for
from metricstack.sample_company.generator import Company, generate
from metricstack.services import processes
from metricstack.superset.client import SupersetClient

if TYPE_CHECKING:
    from conftest import Stack  # tests/e2e/conftest.py (not importable by name at run time)

pytestmark = pytest.mark.e2e

METRICSTACK = str(Path(sys.executable).parent / "metricstack")


def test_demo_prints_where_everything_is(stack: Stack) -> None:
    out = stack.demo_output
    assert stack.settings.airflow_url in out
    assert f"{stack.settings.superset_url}/superset/dashboard/revenue/" in out
    assert f"password {stack.settings.admin_password}" in out


@pytest.fixture(scope="module")
def company(stack: Stack) -> Company:
    """The sample company the demo served, generated again from the same settings."""
    company = generate(stack.settings.sample_company)
    company.collect()  # its truth is filled in as the generator runs through the tables
    return company


def test_mart_revenue_equals_the_generators_truth(stack: Stack, company: Company) -> None:
    expected = {
        date.fromisoformat(day): Decimal(cents) / 100
        for day, cents in company.truth.daily_revenue_cents.items()
        if cents  # days without orders have no row
    }
    assert stack.marts() == expected
    assert len(expected) > 1000  # three years of days


def test_every_source_object_is_in_its_raw_table_and_recorded(
    stack: Stack, company: Company
) -> None:
    """Each raw table holds the generator's rows once each, minus the malformed ones,
    which are quarantined with their reasons."""
    frames = company.collect()
    with psycopg.connect(stack.settings.role_url("transformer")) as conn:
        for source in load_sources(stack.settings.project_dir / "dags" / "sources"):
            frame = frames[source.object]
            keys = set(map(tuple, frame[list(source.primary_key)].itertuples(index=False)))
            bad = {
                tuple(k)
                for kind in ("malformed_date", "wrong_encoding")
                for k in company.truth.keys(source.object, kind)
            }
            raw = conn.execute(f"select count(*) from {source.schema}.{source.table}").fetchone()
            assert (raw or [0])[0] == len(keys - bad), source.name
            recorded = conn.execute(
                "select count(*), coalesce(sum(rows_rejected), 0) from audit.loads "
                "where source = %s",
                (source.name,),
            ).fetchone()
            assert recorded is not None and recorded[0] > 0, source.name
            assert (recorded[1] > 0) == bool(bad), source.name


def test_airflow_ran_every_task(stack: Stack) -> None:
    client = client_for(stack.settings)
    for system in load_systems(stack.settings.project_dir / "dags" / "sources"):
        dag_id = ingest_dag_id(system)
        run = next(r for r in client.runs(dag_id) if r["state"] == "success")
        states = client.task_states(dag_id, run["dag_run_id"])
        assert set(states) == {s.object for s in system.objects}, dag_id
        assert set(states.values()) == {"success"}, dag_id
    run = next(r for r in client.runs(TRANSFORM_DAG_ID) if r["state"] == "success")
    states = client.task_states(TRANSFORM_DAG_ID, run["dag_run_id"])
    assert {"dbt.stg_shop__orders_run", "dbt.dbt_project_test", "quality_gate", "publish"} <= set(
        states
    )
    assert set(states.values()) == {"success"}


def test_a_dashboard_chart_is_traced_back_to_its_source_objects(stack: Stack) -> None:
    """From the stored OpenLineage events, the publications and the Superset export:
    chart -> published mart -> dbt models -> raw table -> the shop's orders table, each
    step with the run that made it; the same edges are in audit.lineage_edges."""
    graph = build_graph(stack.settings)
    via_revenue = [
        path
        for chart in graph.charts()
        for path in trace_graph(graph, chart)
        if any(edge.target == "marts.fct_daily_revenue" for edge in path)
    ]
    assert via_revenue, f"no chart reads marts.fct_daily_revenue: {graph.charts()}"
    # the mart reads fct_orders, which has several sources (orders, lines, customers...)
    from_orders = [path for path in via_revenue if path[0].source == "source:shop.orders"]
    assert from_orders, sorted({path[0].source for path in via_revenue})
    steps = [(edge.source, edge.target) for edge in from_orders[0]]
    nodes = [steps[0][0], *(target for _, target in steps)]
    for table in (
        "raw.shop_orders",
        "staging.stg_shop__orders",
        "marts_build.fct_orders",
        "marts_build.fct_daily_revenue",
        "marts.fct_daily_revenue",
    ):
        assert table in nodes, (table, nodes)
    # every step before Superset was made by a run the audit trail knows
    ran = [edge.run.run_id for edge in from_orders[0] if edge.kind != "superset"]
    assert ran and all(ran), from_orders[0]
    with psycopg.connect(stack.settings.role_url("transformer")) as conn:
        stored = conn.execute(
            "select count(*) from audit.lineage_edges where from_dataset = 'raw.shop_orders'"
        ).fetchone()
    assert stored is not None and stored[0] > 0


def test_superset_serves_the_revenue_dashboard_with_the_marts_numbers(stack: Stack) -> None:
    expected_total = sum(stack.marts().values())
    with SupersetClient(
        stack.settings.superset_url, stack.settings.admin_user, stack.settings.admin_password
    ) as superset:
        titles = [d["dashboard_title"] for d in superset.dashboards()]
        assert titles.count("Revenue") == 1
        charts = superset.dashboard_charts("revenue")
        totals = []
        for chart in charts:
            rows = superset.chart_data(chart["id"])
            assert rows, f"chart {chart['slice_name']} returned no rows"
            revenue = [
                Decimal(str(v)) for row in rows for k, v in row.items() if "revenue" in k.lower()
            ]
            totals.append(sum(revenue))
    assert totals and all(t == expected_total for t in totals), (totals, expected_total)


def test_the_revenue_dashboard_renders_the_marts_numbers_in_a_browser(stack: Stack) -> None:
    total = sum(stack.marts().values())
    settings = stack.settings
    with superset_session(
        settings.superset_url, settings.admin_user, settings.admin_password
    ) as page:
        page.goto(f"{settings.superset_url}/superset/dashboard/revenue/")
        charts = page.locator('[data-test="chart-container"]')
        charts.nth(1).wait_for()
        page.locator('[data-test="loading-indicator"]').first.wait_for(state="detached")
        page.locator(".header-line").wait_for()
        ARTIFACTS.mkdir(exist_ok=True)
        kind = "embedded" if settings.embedded_pg else "external"
        page.screenshot(path=ARTIFACTS / f"revenue-dashboard-{kind}.png")
        assert charts.count() == 2
        assert page.locator('[role="alert"]').count() == 0
        assert page.locator(".header-line").inner_text() == f"{total:,.2f}"
        assert page.locator("canvas").count() >= 1  # the time series is drawn


def test_rerunning_the_demo_is_quick_and_harmless(stack: Stack) -> None:
    before = stack.marts()
    again = stack.cli("demo", timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "already ran successfully" in again.stdout
    assert stack.marts() == before


def test_a_port_in_use_is_named_not_a_traceback(stack: Stack, tmp_path: Path) -> None:
    other = {**stack.env, "METRICSTACK_STATE_DIR": str(tmp_path / "other")}
    # the running stack holds the ports this second one is told to use
    busy = (
        ("METRICSTACK_PG_PORT", stack.settings.pg_port)
        if stack.settings.embedded_pg
        else ("METRICSTACK_AIRFLOW_PORT", stack.settings.airflow_port)
    )
    result = subprocess.run(
        [METRICSTACK, "up"], env=other, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 2
    assert f"port {busy[1]}" in result.stderr and busy[0] in result.stderr
    assert "Traceback" not in result.stderr


def test_a_failing_gate_stops_the_pipeline_and_dashboards_keep_the_last_good_numbers(
    stack: Stack,
) -> None:
    before = stack.marts()
    # a refund booked in the shop as a delivered order: the day's revenue turns negative
    bad_day = date(2026, 1, 5)
    with psycopg.connect(stack.settings.shop_db_url) as conn:
        conn.execute(
            "insert into orders (order_id, customer_id, warehouse_id, ordered_at, status, "
            "subtotal, discount, shipping_fee, total, updated_at) values (900000001, 17, 1, "
            "%(at)s, 'delivered', -1000000, 0, 0, -1000000, %(at)s)",
            {"at": f"{bad_day}T10:00:00+00:00"},
        )
    result = stack.cli("run")
    assert result.returncode == 1, result.stdout[-3000:]
    assert "quality_gate" in result.stdout
    client = client_for(stack.settings)
    latest = client.runs("transform")[0]
    states = client.task_states("transform", latest["dag_run_id"])
    assert states["quality_gate"] == "failed"
    assert states["publish"] in {"upstream_failed", None}
    # the candidate mart holds the bad day, the published one does not
    with psycopg.connect(stack.settings.role_url("transformer")) as conn:
        candidate = conn.execute(
            "select revenue from marts_build.fct_daily_revenue where order_date = %s", (bad_day,)
        ).fetchone()
    assert candidate is not None and candidate[0] < 0
    assert stack.marts() == before
    assert bad_day not in before


def test_stop_ends_every_process(stack: Stack) -> None:
    stopped = stack.cli("stop", timeout=300)
    assert stopped.returncode == 0
    for name in (
        "superset",
        "superset-worker",
        "airflow-api-server",
        "airflow-scheduler",
        "crm-api",
        "s3",
    ):
        assert processes.running_pid(stack.settings, name) is None
    assert not processes.port_open(stack.settings.host, stack.settings.airflow_port)
    assert not processes.port_open(stack.settings.host, stack.settings.superset_port)
    status = stack.cli("status")
    assert "running" not in status.stdout
