"""Airflow ingestion DAGs: one per source declaration in dags/sources/*.yml."""

from metricstack.pipeline.ingest import build_ingest_dags

for _dag in build_ingest_dags():
    globals()[_dag.dag_id] = _dag
