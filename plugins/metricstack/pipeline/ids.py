"""The DAG ids, apart from the DAG builders so that reading them imports no Airflow."""

from __future__ import annotations

from metricstack.loading.declarations import SourceSystem

TRANSFORM_DAG_ID = "transform"


def ingest_dag_id(system: SourceSystem) -> str:
    return f"ingest_{system.name}"
