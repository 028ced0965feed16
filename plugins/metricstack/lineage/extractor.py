"""OpenLineage datasets for the ``metricstack`` assets of TaskFlow tasks.

Airflow's OpenLineage provider turns a task's inlets and outlets into OpenLineage
input and output datasets only for URI schemes a provider registered a converter for;
``metricstack-source://`` (a declared source object) and ``metricstack://warehouse/``
(a raw table) are not among them, so an ingestion task's events carry them only in the
``airflow`` run facet. This extractor, registered with
``AIRFLOW__OPENLINEAGE__EXTRACTORS=metricstack.lineage.extractor.MetricstackAssetsExtractor``,
makes them first-class datasets, named as Cosmos names the same tables
(``postgres://<host>:<port>`` / ``<db>.raw.shop_orders``), so that any OpenLineage
consumer sees source -> raw -> staging -> marts as one graph. Tasks without such assets
are left to the provider's usual path (hook lineage, then the inlets and outlets).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from airflow.providers.openlineage.extractors.base import BaseExtractor, OperatorLineage
from openlineage.client.event_v2 import Dataset

from metricstack.config import ConnectionParts, Settings, load_settings
from metricstack.lineage.assets import SOURCE_SCHEME


def warehouse_location(settings: Settings) -> str:
    """``postgresql://host:port/db`` of the warehouse, without credentials (no secret read)."""
    if settings.external_warehouse_url:
        return settings.external_warehouse_url
    return f"postgresql://{settings.host}:{settings.pg_port}/metricstack"  # config._embedded_url


def to_openlineage(uri: str, warehouse: str) -> Dataset | None:
    """The OpenLineage dataset of a ``metricstack`` asset URI; None for any other."""
    parts = urlsplit(uri)
    path = [p for p in parts.path.split("/") if p]
    if parts.scheme == SOURCE_SCHEME and path:
        return Dataset(namespace=f"{SOURCE_SCHEME}://{parts.netloc}", name="/".join(path))
    if parts.scheme == "metricstack" and parts.netloc == "warehouse" and len(path) == 2:
        pg = ConnectionParts.from_url(warehouse)
        name = f"{pg.dbname}.{path[0]}.{path[1]}"
        return Dataset(namespace=f"postgres://{pg.host}:{pg.port}", name=name)
    return None


class MetricstackAssetsExtractor(BaseExtractor):
    @classmethod
    def get_operator_classnames(cls) -> list[str]:
        return ["_PythonDecoratedOperator"]  # @task

    def _execute_extraction(self) -> OperatorLineage[Any, Any] | None:
        operator = self.operator
        uris = [str(a.uri) for a in [*operator.inlets, *operator.outlets] if hasattr(a, "uri")]
        if not any(u.startswith(("metricstack://", f"{SOURCE_SCHEME}://")) for u in uris):
            return OperatorLineage()  # not ours: the provider goes on as without an extractor
        warehouse = warehouse_location(load_settings())
        inputs = [
            to_openlineage(str(a.uri), warehouse) for a in operator.inlets if hasattr(a, "uri")
        ]
        outputs = [
            to_openlineage(str(a.uri), warehouse) for a in operator.outlets if hasattr(a, "uri")
        ]
        return OperatorLineage(
            inputs=[d for d in inputs if d is not None],
            outputs=[d for d in outputs if d is not None],
        )
