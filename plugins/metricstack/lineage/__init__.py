"""Lineage for auditors: where a dashboard number came from, run by run.

- ``assets``: the Airflow Assets naming each declared source object (ingestion inlets);
- ``graph``: the lineage graph built from the OpenLineage events file, the Superset
  export and audit.publications, and ``trace`` from a chart back to its sources;
- ``store``: the graph's edges written to ``audit.lineage_edges``;
- ``docs``: the static dbt docs page;
- ``portal``: the FastAPI app the Airflow plugin ``plugins/metricstack_portal.py`` mounts.

Nothing is imported here: DAG files import ``assets`` at parse time and must stay cheap.
"""
