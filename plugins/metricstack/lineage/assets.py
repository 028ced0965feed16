"""The Airflow Asset of each declared source object: the ingestion task's inlet.

``metricstack-source://<system>/<object>`` names the object the way the declaration
does, whatever the system is (a database table, an API resource, an S3 prefix, a
landing-folder pattern); the Asset's ``extra`` says where it is read from. Nothing is
resolved here (no Airflow connection, no network): DAG files call this at parse time.

Airflow's OpenLineage provider records a task's inlets and outlets in the ``airflow``
run facet of every task event (``run.facets.airflow.task.inlets``/``outlets``); it
turns them into OpenLineage input/output datasets only for URI schemes a provider
registered a converter for (postgres, s3, file...), which ``metricstack`` and
``metricstack-source`` are not. graph.py reads both places, so the stored events give
the source -> raw edges either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Asset

    from metricstack.loading.declarations import Source, SourceSystem

SOURCE_SCHEME = "metricstack-source"
SOURCE_GROUP = "source"


def source_uri(system: str, obj: str) -> str:
    return f"{SOURCE_SCHEME}://{system}/{obj}"


def source_asset(system: SourceSystem, source: Source) -> Asset:
    """The declared object ``source`` of ``system``, as an Asset (an inlet of its task)."""
    from airflow.sdk import Asset  # here: graph.py imports this module without Airflow

    where: dict[str, Any] = {
        "kind": system.kind,
        "location": source.location,
        "format": source.format,
    }
    if system.connection:
        where["connection"] = system.connection  # an Airflow connection id, not resolved
    if system.bucket:
        where["bucket"] = system.bucket
    return Asset(
        name=f"source.{system.name}.{source.object}",
        uri=source_uri(system.name, source.object),
        group=SOURCE_GROUP,
        extra=where,
    )
