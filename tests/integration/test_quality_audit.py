"""The audit trail's callbacks and retention against a real warehouse.

The callbacks are called with contexts shaped like the ones Airflow passes (a task
instance with dag_id, task_id, try_number; run_id; the exception; the DAG run), and
find the warehouse the way they do in Airflow: through load_settings() and the
environment.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from airflow.sdk.exceptions import AirflowFailException

from metricstack.config import Settings
from metricstack.pipeline.defaults import (
    DAG_CALLBACKS,
    DEFAULT_ARGS,
    log_failure,
    record_run_failure,
    record_run_success,
)
from metricstack.quality.audit import PURGED, purge_audit
from metricstack.sources.errors import TransientSourceError

STARTED = datetime(2026, 3, 18, 6, 0, tzinfo=UTC)


@pytest.fixture
def audited(warehouse: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Callbacks call load_settings(): give them this warehouse's environment."""
    for name, value in warehouse.environ.items():
        monkeypatch.setenv(name, value)
    return warehouse


def rows(settings: Settings, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(settings.warehouse_url) as conn:
        return [tuple(r) for r in conn.execute(query)]


def task_context(task_id: str, error: BaseException, try_number: int = 3) -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id="transform", task_id=task_id, run_id="scheduled__2026-03-18", try_number=try_number
    )
    ti.map_index = -1
    dag_run = SimpleNamespace(dag_id="transform", run_id="scheduled__2026-03-18")
    return {
        "task_instance": ti,
        "ti": ti,
        "run_id": "scheduled__2026-03-18",
        "exception": error,
        "dag_run": dag_run,
    }


def test_the_dags_use_these_callbacks() -> None:
    assert DEFAULT_ARGS["on_failure_callback"] is log_failure
    assert {
        "on_success_callback": record_run_success,
        "on_failure_callback": record_run_failure,
    } == DAG_CALLBACKS


def test_a_failed_task_is_recorded_with_what_to_do(
    audited: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    gate = AirflowFailException("quality gate 'raw_gate' failed: 1 of 247 expectations not met")
    log_failure(task_context("raw_gate", gate, try_number=1))
    log_failure(task_context("shop_orders", TransientSourceError("connection refused")))

    recorded = rows(
        audited,
        "select dag_id, task_id, run_id, try_number, map_index, error_class, message, hint "
        "from audit.task_failures order by failure_id",
    )
    assert [r[:6] for r in recorded] == [
        ("transform", "raw_gate", "scheduled__2026-03-18", 1, -1, "AirflowFailException"),
        ("transform", "shop_orders", "scheduled__2026-03-18", 3, -1, "TransientSourceError"),
    ]
    gate_message, gate_hint = recorded[0][6:]
    assert "task raw_gate of transform (run scheduled__2026-03-18, try 1) failed" in gate_message
    assert "1 of 247 expectations not met" in gate_message
    assert "Data Docs" in gate_hint and "clear this task" in gate_hint
    assert "unreachable through every retry" in recorded[1][7]
    assert "What to do:" in caplog.text


def test_dag_runs_are_recorded_and_a_rerun_updates_its_row(audited: Settings) -> None:
    run = SimpleNamespace(
        dag_id="transform",
        run_id="scheduled__2026-03-18",
        run_type="scheduled",
        start_date=STARTED,
        end_date=STARTED + timedelta(minutes=4),
        state="failed",
    )
    context = {"dag_run": run, "run_id": run.run_id, "reason": "task_failure"}
    record_run_failure(context)
    first = rows(audited, "select state, reason, started_at, ended_at from audit.pipeline_runs")
    assert first == [("failed", "task_failure", STARTED, STARTED + timedelta(minutes=4))]

    run.end_date = None  # Airflow may call before it sets the end: now() stands in
    record_run_success({"dag_run": run, "run_id": run.run_id, "reason": "success"})
    [(dag_id, run_id, run_type, state, ended)] = rows(
        audited, "select dag_id, run_id, run_type, state, ended_at from audit.pipeline_runs"
    )
    assert (dag_id, run_id, run_type, state) == (
        "transform",
        "scheduled__2026-03-18",
        "scheduled",
        "success",
    )
    assert ended > STARTED + timedelta(minutes=4)


def test_callbacks_never_raise(warehouse: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in warehouse.environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://nobody@127.0.0.1:9/none")  # refused
    log_failure(task_context("publish", RuntimeError("boom")))
    record_run_success({"dag_run": SimpleNamespace(dag_id="transform", run_id="r")})
    log_failure({})  # a context without anything in it
    record_run_failure({})


def test_purge_deletes_rows_past_the_retention_only(
    audited: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, recent = "now() - interval '500 days'", "now() - interval '10 days'"
    with psycopg.connect(audited.warehouse_url, autocommit=True) as conn:
        for at in (old, recent):
            conn.execute(
                "insert into audit.validations (checkpoint, suite, asset, expectation_type, "
                f"success, severity, validated_at) values ('g', 's', 'a', 't', true, "
                f"'critical', {at})"
            )
            conn.execute(
                "insert into audit.gate_decisions (gate, decision, decided_at) "
                f"values ('g', 'passed', {at})"
            )
            conn.execute(
                "insert into audit.task_failures (dag_id, task_id, message, failed_at) "
                f"values ('d', 't', 'm', {at})"
            )
            conn.execute(
                f"insert into audit.alerts (kind, subject, raised_at) values ('k', 's', {at})"
            )
            conn.execute(
                "insert into audit.pipeline_runs (dag_id, run_id, state, recorded_at) "
                f"values ('d', ({at})::text, 'success', {at})"
            )
            conn.execute(
                "insert into audit.publications (table_name, row_count, published_at) "
                f"values ('marts.x', 1, {at})"
            )

    # a GX validation result and its Data Docs page of long ago, and of today
    results = audited.state_dir / "gx" / "validations" / "raw.shop_orders" / "run"
    pages = audited.data_docs_dir / "validations" / "raw" / "shop_orders" / "run"
    for folder in (results, pages):
        folder.mkdir(parents=True)
        (folder / "old.json").write_text("{}")
        os.utime(folder / "old.json", (0, time.time() - 500 * 86400))
        (folder / "new.json").write_text("{}")

    deleted = purge_audit(audited)  # METRICSTACK_AUDIT_RETENTION_DAYS unset: 400 days

    assert deleted == {**dict.fromkeys(PURGED, 1), "gx_files": 2}
    for table in PURGED:
        assert rows(audited, f"select count(*) from audit.{table}") == [(1,)], table
    assert [p.name for p in results.iterdir()] == [p.name for p in pages.iterdir()] == ["new.json"]
    monkeypatch.setenv("METRICSTACK_AUDIT_RETENTION_DAYS", "5")
    from metricstack.config import load_settings

    assert purge_audit(load_settings()) == {**dict.fromkeys(PURGED, 1), "gx_files": 0}
