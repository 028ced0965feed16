"""Airflow DAG: dbt models (through Cosmos), quality gates, publication of the marts."""

from metricstack.pipeline.transform import build_transform_dag

transform = build_transform_dag()
