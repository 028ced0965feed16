"""The audit trail: gate results, pipeline runs, task failures, and its retention.

Tables (warehouse/audit.sql): audit.validations (every expectation a gate evaluated),
audit.gate_decisions (each gate's decision and why), audit.pipeline_runs (each DAG run's
outcome, from the DAG callbacks), audit.task_failures (each task that failed for good,
with what to do), audit.alerts (quality/alerts.py). All are written as the transformer
role, except the loader's volume alerts.

Retention: ``METRICSTACK_AUDIT_RETENTION_DAYS`` (default 400: a year and a month, so
that a year-on-year comparison still finds its evidence). The transform DAG's
``purge_audit`` task deletes older rows of the tables in ``PURGED``, and older GX
validation results and Data Docs validation pages from the state folder.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from metricstack.config import Settings

if TYPE_CHECKING:
    from metricstack.quality.gate import GateResult

log = logging.getLogger(__name__)

RETENTION_VAR = "METRICSTACK_AUDIT_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 400
# table -> its time column. Not purged: audit.loads (a purged load's file would be loaded
# again), its rejected_rows and the watermarks: they are the loader's state.
PURGED = {
    "validations": "validated_at",
    "gate_decisions": "decided_at",
    "pipeline_runs": "recorded_at",
    "task_failures": "failed_at",
    "alerts": "raised_at",
    "publications": "published_at",
}
_MAX_TEXT = 4000  # a message or observed value longer than this is cut (tracebacks, SQL)


def _connect(settings: Settings) -> psycopg.Connection:
    return psycopg.connect(settings.role_url("transformer"), connect_timeout=10)


def _cut(text: str | None) -> str | None:
    if text is None or len(text) <= _MAX_TEXT:
        return text
    return text[: _MAX_TEXT - 1] + "…"


# -- quality gates ------------------------------------------------------------------------


def record_gate(settings: Settings, result: GateResult, run_id: str | None) -> None:
    """Every evaluated expectation and the decision, in one transaction."""
    rows = [
        (
            run_id,
            result.checkpoint,
            o.suite,
            o.asset,
            o.expectation_type,
            o.column,
            _cut(o.expected),
            o.success,
            o.severity,
            _cut(o.observed_value),
            o.unexpected_count,
            o.element_count,
            o.error,
        )
        for o in result.outcomes
    ]
    with _connect(settings) as conn, conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                "insert into audit.validations (run_id, checkpoint, suite, asset, "
                "expectation_type, column_name, expected, success, severity, observed_value, "
                "unexpected_count, element_count, evaluation_error) "
                "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
        _insert_decision(
            conn,
            run_id,
            result.checkpoint,
            result.decision,
            evaluated=result.evaluated,
            blocking=len(result.blocking),
            warnings=len(result.warnings),
            reasons=[
                {
                    "severity": "error" if f.error else f.severity,
                    "asset": f.asset,
                    "expectation": f.expectation_type,
                    "column": f.column,
                    "observed": _cut(f.observed_value),
                    "describe": _cut(f.describe()),
                }
                for f in result.failures
            ],
            data_docs=(result.data_docs_pages or (result.data_docs_index,))[0],
        )


def record_gate_error(
    settings: Settings, checkpoint: str, run_id: str | None, error: BaseException
) -> None:
    """A gate that could not run blocks: record why. Never raises (the error will)."""
    try:
        with _connect(settings) as conn:
            _insert_decision(
                conn,
                run_id,
                checkpoint,
                "blocked",
                reasons=[{"severity": "error", "describe": f"{type(error).__name__}: {error}"}],
            )
    except Exception as failure:
        log.error("could not record the error of gate %s: %s", checkpoint, failure)


def _insert_decision(
    conn: psycopg.Connection,
    run_id: str | None,
    gate: str,
    decision: str,
    *,
    evaluated: int = 0,
    blocking: int = 0,
    warnings: int = 0,
    reasons: list[dict[str, Any]],
    data_docs: str | None = None,
) -> None:
    conn.execute(
        "insert into audit.gate_decisions (run_id, gate, decision, evaluated, blocking, "
        "warnings, reasons, data_docs) values (%s, %s, %s, %s, %s, %s, %s, %s)",
        (run_id, gate, decision, evaluated, blocking, warnings, Jsonb(reasons), data_docs),
    )


# -- runs and failures (the DAG and task callbacks of pipeline/defaults.py) -----------------


def record_pipeline_run(
    settings: Settings,
    *,
    dag_id: str,
    run_id: str,
    state: str,
    run_type: str | None,
    started_at: datetime | None,
    ended_at: datetime | None,
    reason: str | None,
) -> None:
    with _connect(settings) as conn:
        conn.execute(
            "insert into audit.pipeline_runs (dag_id, run_id, run_type, state, started_at, "
            "ended_at, reason) values (%s, %s, %s, %s, %s, coalesce(%s, now()), %s) "
            "on conflict (dag_id, run_id) do update set state = excluded.state, "
            "run_type = excluded.run_type, started_at = excluded.started_at, "
            "ended_at = excluded.ended_at, reason = excluded.reason, recorded_at = now()",
            (dag_id, run_id, run_type, state, started_at, ended_at, _cut(reason)),
        )


def record_task_failure(
    settings: Settings,
    *,
    dag_id: str,
    task_id: str,
    run_id: str | None,
    map_index: int | None,
    try_number: int | None,
    error_class: str | None,
    message: str,
    hint: str,
) -> None:
    with _connect(settings) as conn:
        conn.execute(
            "insert into audit.task_failures (dag_id, task_id, run_id, map_index, try_number, "
            "error_class, message, hint) values (%s, %s, %s, %s, %s, %s, %s, %s)",
            (dag_id, task_id, run_id, map_index, try_number, error_class, _cut(message), hint),
        )


# -- retention ----------------------------------------------------------------------------


def retention_days(settings: Settings) -> int:
    raw = settings.environ.get(RETENTION_VAR, "").strip()
    if not raw:
        return DEFAULT_RETENTION_DAYS
    try:
        days = int(raw)
    except ValueError:
        days = 0
    if days < 1:
        raise ValueError(f"{RETENTION_VAR} must be a whole number of days >= 1, not {raw!r}")
    return days


def purge_audit(settings: Settings, days: int | None = None) -> dict[str, int]:
    """Delete audit rows older than the retention; table -> rows deleted."""
    keep = retention_days(settings) if days is None else days
    deleted: dict[str, int] = {}
    with _connect(settings) as conn, conn.transaction():
        for table, column in PURGED.items():
            cursor = conn.execute(
                sql.SQL("delete from {} where {} < now() - make_interval(days => %s)").format(
                    sql.Identifier("audit", table), sql.Identifier(column)
                ),
                (keep,),
            )
            deleted[table] = cursor.rowcount
    deleted["gx_files"] = purge_gx_files(settings, keep)
    log.info("audit rows older than %d days purged: %s", keep, deleted)
    return deleted


def purge_gx_files(settings: Settings, days: int) -> int:
    """GX validation results and their Data Docs pages older than ``days``; files deleted.

    The Data Docs index lists the latest results only (expectations/define_gx.py), so a
    page deleted here has long left the index.
    """
    cutoff = time.time() - days * 86400
    folders = (settings.state_dir / "gx" / "validations", settings.data_docs_dir / "validations")
    count = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*"), reverse=True):  # files before their folders
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                count += 1
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    return count
