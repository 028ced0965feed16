"""What every DAG of the platform shares: owner, retries, failure reporting.

Callbacks keep the audit trail (quality/audit.py): ``log_failure`` (every task's
``on_failure_callback``) records a task that failed for good in audit.task_failures with
what to do about it; ``DAG_CALLBACKS`` (each DAG's success and failure callbacks) record
the run's outcome in audit.pipeline_runs. A callback never raises: an audit database
that is down is logged, and Airflow's own run and task states stay as they are.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

START_DATE = datetime(2024, 1, 1, tzinfo=UTC)

# error class name -> what to do (the first match along the exception's class hierarchy)
_HINTS = {
    "GateFailed": (
        "The data broke a blocking quality expectation: the run stopped and dashboards "
        "keep the last good data. Read the failed expectations above and the Data Docs "
        "(<state>/data_docs/index.html), fix the data at its source (or the expectation in "
        "expectations/, if it is wrong), then clear this task."
    ),
    "AirflowFailException": (
        "A data problem that retrying cannot fix: the message names the file, row, field or "
        "expectation. Fix it at the source (or the declaration in dags/sources/), then clear "
        "this task."
    ),
    "TransientSourceError": (
        "The source system stayed unreachable through every retry: check that it is up and "
        "that the Airflow connection is right, then clear this task."
    ),
    "OperationalError": (
        "The warehouse (or a source database) could not be reached or refused the query: "
        "check that PostgreSQL is up and the role's password is current, then clear this task."
    ),
    "CosmosDbtRunError": (
        "A dbt model or test failed: the task log names it. Fix the model or the data "
        "(dbt build --select <model> reproduces it), then clear this task."
    ),
    "AirflowTaskTimeout": (
        "The task ran past its timeout: look for a slow query or a hung source in its log, "
        "then clear it."
    ),
}
_DEFAULT_HINT = (
    "An unexpected error: read the task's log in Airflow for the traceback, fix its cause, "
    "then clear this task."
)


def failure_hint(error: BaseException | None) -> str:
    if error is None:
        return _DEFAULT_HINT
    for cls in type(error).__mro__:
        if cls.__name__ in _HINTS:
            hint = _HINTS[cls.__name__]
            if cls.__name__ == "AirflowFailException" and "quality gate" in str(error):
                return _HINTS["GateFailed"]
            return hint
    return _DEFAULT_HINT


def _settings() -> Any:
    from metricstack.config import load_settings

    return load_settings()


def log_failure(context: dict[str, Any]) -> None:
    """Say what failed and what to do, in the log and in audit.task_failures."""
    try:
        ti = context.get("task_instance") or context.get("ti")
        dag_id = str(getattr(ti, "dag_id", None) or "?")
        task_id = str(getattr(ti, "task_id", None) or "?")
        run_id = context.get("run_id") or getattr(ti, "run_id", None)
        try_number = getattr(ti, "try_number", None)
        map_index = getattr(ti, "map_index", None)
        error = context.get("exception")
        error_class = type(error).__name__ if isinstance(error, BaseException) else None
        hint = failure_hint(error if isinstance(error, BaseException) else None)
        text = str(error) if error is not None else "no exception in the callback's context"
        message = (
            f"task {task_id} of {dag_id} (run {run_id}, try {try_number}) failed: "
            f"{error_class or 'error'}: {text}"
        )
        log.error("%s\nWhat to do: %s", message, hint)
    except Exception as failure:  # a callback must never raise
        log.error("failure callback could not read its context: %s", failure)
        return
    try:
        from metricstack.quality.audit import record_task_failure

        record_task_failure(
            _settings(),
            dag_id=dag_id,
            task_id=task_id,
            run_id=str(run_id) if run_id is not None else None,
            map_index=int(map_index) if isinstance(map_index, int) else None,
            try_number=int(try_number) if isinstance(try_number, int) else None,
            error_class=error_class,
            message=message,
            hint=hint,
        )
    except Exception as failure:
        log.error(
            "could not record the failure of %s.%s in the audit: %s", dag_id, task_id, failure
        )


def _record_run(context: dict[str, Any], state: str) -> None:
    try:
        from metricstack.quality.audit import record_pipeline_run

        dag_run = context.get("dag_run")
        dag = context.get("dag")
        dag_id = getattr(dag_run, "dag_id", None) or getattr(dag, "dag_id", None) or "?"
        run_id = context.get("run_id") or getattr(dag_run, "run_id", None) or "?"
        run_type = getattr(dag_run, "run_type", None)
        reason = context.get("reason")
        log.info("DAG %s run %s: %s%s", dag_id, run_id, state, f" ({reason})" if reason else "")
        record_pipeline_run(
            _settings(),
            dag_id=str(dag_id),
            run_id=str(run_id),
            state=state,
            run_type=str(getattr(run_type, "value", run_type)) if run_type else None,
            started_at=getattr(dag_run, "start_date", None),
            ended_at=getattr(dag_run, "end_date", None),
            reason=str(reason) if reason else None,
        )
    except Exception as failure:  # a callback must never raise
        log.error("could not record the DAG run in the audit (%s): %s", state, failure)


def record_run_success(context: dict[str, Any]) -> None:
    _record_run(context, "success")


def record_run_failure(context: dict[str, Any]) -> None:
    _record_run(context, "failed")


DEFAULT_ARGS: dict[str, Any] = {
    "owner": "data-engineering",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "on_failure_callback": log_failure,
}

# The DAG-level callbacks: @dag(..., **DAG_CALLBACKS)
DAG_CALLBACKS: dict[str, Any] = {
    "on_success_callback": record_run_success,
    "on_failure_callback": record_run_failure,
}
