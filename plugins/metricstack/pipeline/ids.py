"""The DAG ids, apart from the DAG builders so that reading them imports no Airflow."""

from __future__ import annotations

from metricstack.loading.declarations import Source

TRANSFORM_DAG_ID = "transform"


def ingest_dag_id(source: Source) -> str:
    return f"ingest_{source.name}"
