"""One ingestion DAG per source declaration."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, dag, get_current_context, task

from metricstack.config import load_settings
from metricstack.loading.declarations import Source, load_sources
from metricstack.pipeline.assets import raw_table
from metricstack.pipeline.defaults import DEFAULT_ARGS, START_DATE
from metricstack.pipeline.ids import ingest_dag_id


def build_ingest_dag(source: Source) -> DAG:
    @dag(
        dag_id=ingest_dag_id(source),
        description=source.description,
        schedule="@daily",
        start_date=START_DATE,
        catchup=False,
        # a backfill and a scheduled run of the same source never race
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["ingest", source.kind, source.name],
        doc_md=f"Loads `{source.pattern}` into `{source.schema}.{source.table}` "
        f"as declared in `{source.path.name}`.",
    )
    def ingest() -> None:
        @task(outlets=[raw_table(source)])
        def load_new_files() -> list[dict[str, Any]]:
            from metricstack.loading.files import load_landed_files

            run_id = get_current_context()["run_id"]
            return load_landed_files(load_settings(), source, run_id)

        load_new_files()

    return ingest()


def build_ingest_dags() -> list[DAG]:
    settings = load_settings()
    return [build_ingest_dag(s) for s in load_sources(settings.project_dir / "dags" / "sources")]
