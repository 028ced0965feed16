"""One ingestion DAG per source declaration (a system), with a task per declared object."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, dag, get_current_context, task

from metricstack.config import load_settings
from metricstack.lineage.assets import source_asset
from metricstack.loading.declarations import Source, SourceSystem, load_systems
from metricstack.pipeline.assets import raw_table
from metricstack.pipeline.defaults import DAG_CALLBACKS, DEFAULT_ARGS, START_DATE
from metricstack.pipeline.ids import ingest_dag_id

_DOC = """Loads the objects declared in `dags/sources/{file}` into the raw schema.

Scheduled runs read what is new since each object's high-water mark (audit.watermarks).
**Backfill**: trigger with `backfill_first_day` and `backfill_last_day` (YYYY-MM-DD) to
read those days again; the marks are left alone. Source errors that can pass (the
system is down, a timeout) are retried with backoff; data errors fail the task at once
with a message that names the file, row or field.
"""


def _ingest_task(system: SourceSystem, source: Source) -> Any:
    @task(
        task_id=source.object,
        # the declared object read -> the raw table written: the lineage edge recorded
        # in the task's OpenLineage events (lineage/assets.py)
        inlets=[source_asset(system, source)],
        outlets=[raw_table(source)],
        doc_md=source.description,
    )
    def ingest_object() -> list[dict[str, Any]]:
        from metricstack.pipeline.ingest_task import run_ingest_task
        from metricstack.quality.volume import check_ingest_volume

        context = get_current_context()
        settings = load_settings()
        results = run_ingest_task(settings, system, source, context)
        params = context.get("params") or {}
        if not params.get("backfill_first_day"):  # a backfill's days are not one day's load
            # non-blocking: an unusual volume is an alert (audit.alerts, log, webhook)
            check_ingest_volume(settings, source.name, results, context["run_id"])
        return results

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
        **DAG_CALLBACKS,
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
