"""One ingestion DAG per source declaration (a system), with a task per declared object."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, dag, get_current_context, task

from metricstack.config import load_settings
from metricstack.loading.declarations import Source, SourceSystem, load_systems
from metricstack.pipeline.assets import raw_table
from metricstack.pipeline.defaults import DEFAULT_ARGS, START_DATE
from metricstack.pipeline.ids import ingest_dag_id

_DOC = """Loads the objects declared in `dags/sources/{file}` into the raw schema.

Scheduled runs read what is new since each object's high-water mark (audit.watermarks).
**Backfill**: trigger with `backfill_first_day` and `backfill_last_day` (YYYY-MM-DD) to
read those days again; the marks are left alone. Source errors that can pass (the
system is down, a timeout) are retried with backoff; data errors fail the task at once
with a message that names the file, row or field.
"""


def _ingest_task(system: SourceSystem, source: Source) -> Any:
    @task(task_id=source.object, outlets=[raw_table(source)], doc_md=source.description)
    def ingest_object() -> list[dict[str, Any]]:
        from metricstack.pipeline.ingest_task import run_ingest_task

        return run_ingest_task(load_settings(), system, source, get_current_context())

    return ingest_object()


def build_ingest_dag(system: SourceSystem) -> DAG:
    backfill = system.kind != "files"

    @dag(
        dag_id=ingest_dag_id(system),
        description=system.description,
        schedule="@daily",
        start_date=START_DATE,
        catchup=False,
        # a backfill and a scheduled run of the same system never race for the marks
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["ingest", system.kind, system.name],
        doc_md=_DOC.format(file=system.path.name),
        params={
            "backfill_first_day": Param(None, type=["null", "string"], format="date"),
            "backfill_last_day": Param(None, type=["null", "string"], format="date"),
        }
        if backfill
        else {},
    )
    def ingest() -> None:
        for source in system.objects:
            _ingest_task(system, source)

    return ingest()


def build_ingest_dags() -> list[DAG]:
    settings = load_settings()
    return [build_ingest_dag(s) for s in load_systems(settings.project_dir / "dags" / "sources")]
