"""The Airflow Assets that connect the DAGs: a raw table per source, and the marts."""

from __future__ import annotations

from airflow.sdk import Asset

from metricstack.loading.declarations import Source


def raw_table(source: Source) -> Asset:
    return Asset(
        name=f"{source.schema}.{source.table}",
        uri=f"metricstack://warehouse/{source.schema}/{source.table}",
        group="raw",
    )


PUBLISHED_MARTS = Asset(name="marts", uri="metricstack://warehouse/marts", group="marts")
