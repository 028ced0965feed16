"""The lineage graph from a small synthetic OpenLineage events file, and its trace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from metricstack.config import Settings, load_settings
from metricstack.lineage.graph import (
    LineageGraph,
    asset_node,
    build_graph,
    dataset_node,
    trace,
    trace_graph,
)
from metricstack.lineage.portal import lineage_html, lineage_json

NS = "postgres://127.0.0.1:56432"
INGEST_RUN = "scheduled__2026-11-24T00:00:00+00:00"
TRANSFORM_RUN = "asset_triggered__2026-11-24T21:30:00+00:00"


def _airflow_facet(run_id: str, inlets: list[dict[str, Any]], outlets: list[dict[str, Any]]) -> Any:
    # the provider writes the task's inlets and outlets as the str() of a list of dicts
    return {"dagRun": {"run_id": run_id}, "task": {"inlets": str(inlets), "outlets": str(outlets)}}


def _ingest_event(kind: str, when: str, run_id: str) -> dict[str, Any]:
    source = {
        "uri": "metricstack-source://shop/orders",
        "extra": {"kind": "database", "location": "orders", "connection": "metricstack_shop_db"},
        "type": "asset",
    }
    raw = {"uri": "metricstack://warehouse/raw/shop_orders", "extra": {}, "type": "asset"}
    return {
        "eventType": kind,
        "eventTime": when,
        "job": {"namespace": "metricstack", "name": "ingest_shop.orders"},
        "run": {
            "runId": f"ol-{when}",
            "facets": {"airflow": _airflow_facet(run_id, [source], [raw])},
        },
        "inputs": [],
        "outputs": [],
    }


def _dbt_event(model: str, inputs: list[str], output: str, when: str) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": when,
        "job": {
            "namespace": "metricstack",
            "name": f"transform.dbt.{model}_model_build",
            "facets": {"dbt_node": {"unique_id": f"model.metricstack.{model}"}},
        },
        "run": {
            "runId": f"ol-{model}",
            "facets": {"airflow": {"dagRun": {"run_id": TRANSFORM_RUN}, "task": {}}},
        },
        # the model itself is an input too (its test results); a self edge is dropped
        "inputs": [{"namespace": NS, "name": f"metricstack.{n}"} for n in [*inputs, output]],
        "outputs": [{"namespace": NS, "name": f"metricstack.{output}"}],
    }


EVENTS = [
    {"eventType": "START", "eventTime": "2026-11-24T21:22:00+00:00", "job": {"name": "x"}},
    _ingest_event("COMPLETE", "2026-11-23T00:05:00+00:00", "scheduled__2026-11-23T00:00:00+00:00"),
    _ingest_event("COMPLETE", "2026-11-24T00:05:00+00:00", INGEST_RUN),
    # a later failed run does not replace the run that produced the data
    _ingest_event("FAIL", "2026-11-24T06:00:00+00:00", "manual__2026-11-24T06:00:00+00:00"),
    # dbt names a source by its name (orders), not its identifier (shop_orders)
    _dbt_event("stg_shop__orders", ["raw.orders"], "staging.stg_shop__orders", "2026-11-24T21:29Z"),
    _dbt_event(
        "fct_daily_revenue",
        ["staging.stg_shop__orders"],
        "marts_build.fct_daily_revenue",
        "2026-11-24T21:30:00+00:00",
    ),
]
MANIFEST = {
    "sources": {
        "source.metricstack.shop.orders": {
            "schema": "raw",
            "name": "orders",
            "identifier": "shop_orders",
        },
        "source.metricstack.crm.orders": {
            "schema": "raw",
            "name": "orders",
            "identifier": "crm_orders",
        },
    },
    "nodes": {
        "model.metricstack.stg_shop__orders": {
            "depends_on": {"nodes": ["source.metricstack.shop.orders"]}
        },
    },
}
PUBLICATIONS = [("marts.fct_daily_revenue", TRANSFORM_RUN, "2026-11-24T21:31:00+00:00")]


def _write_superset(folder: Path) -> Path:
    (folder / "datasets" / "warehouse").mkdir(parents=True)
    (folder / "charts").mkdir()
    (folder / "dashboards").mkdir()
    dataset = {"table_name": "fct_daily_revenue", "schema": "marts", "sql": None, "uuid": "d-1"}
    chart = {"slice_name": "Total revenue", "uuid": "c-1", "dataset_uuid": "d-1"}
    orphan = {"slice_name": "Lost <chart>", "uuid": "c-2", "dataset_uuid": "d-404"}
    dashboard = {
        "dashboard_title": "Revenue",
        "slug": "revenue",
        "uuid": "b-1",
        "position": {"CHART-1": {"type": "CHART", "meta": {"uuid": "c-1"}}},
    }
    files = {
        "datasets/warehouse/fct_daily_revenue.yaml": dataset,
        "charts/Total_revenue.yaml": chart,
        "charts/Lost.yaml": orphan,
        "dashboards/Revenue.yaml": dashboard,
    }
    for name, data in files.items():
        (folder / name).write_text(yaml.safe_dump(data))
    return folder


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = load_settings({"METRICSTACK_STATE_DIR": str(tmp_path / "state")})
    settings.lineage_file.parent.mkdir(parents=True)
    lines = [json.dumps(e) for e in EVENTS]
    lines.insert(2, '{"eventType": "COMPLETE", "truncated')  # a torn line is counted, skipped
    settings.lineage_file.write_text("\n".join(lines) + "\n")
    settings.dbt_manifest.parent.mkdir(parents=True)
    settings.dbt_manifest.write_text(json.dumps(MANIFEST))
    return settings


@pytest.fixture
def graph(settings: Settings, tmp_path: Path) -> LineageGraph:
    return build_graph(
        settings, publications=PUBLICATIONS, assets_dir=_write_superset(tmp_path / "assets")
    )


def test_the_graph_holds_each_edge_with_the_run_that_produced_it(graph: LineageGraph) -> None:
    edges = {(e.source, e.target): e for e in graph.edges()}
    assert set(edges) == {
        ("source:shop.orders", "raw.shop_orders"),
        ("raw.shop_orders", "staging.stg_shop__orders"),
        ("staging.stg_shop__orders", "marts_build.fct_daily_revenue"),
        ("marts_build.fct_daily_revenue", "marts.fct_daily_revenue"),
        ("marts.fct_daily_revenue", "dataset:marts.fct_daily_revenue"),
        ("dataset:marts.fct_daily_revenue", "chart:Total revenue"),
        ("chart:Total revenue", "dashboard:Revenue"),
    }
    load = edges[("source:shop.orders", "raw.shop_orders")]
    assert (load.kind, load.run.job, load.run.run_id, load.run.state) == (
        "airflow_assets",
        "ingest_shop.orders",
        INGEST_RUN,  # the latest success, not the later failure nor the day before
        "COMPLETE",
    )
    assert graph.nodes["source:shop.orders"]["connection"] == "metricstack_shop_db"
    publish = edges[("marts_build.fct_daily_revenue", "marts.fct_daily_revenue")]
    assert (publish.run.job, publish.run.run_id, publish.run.state) == (
        "transform.publish",
        TRANSFORM_RUN,
        "PUBLISHED",
    )
    assert graph.events_read == 5 and graph.bad_lines == 1
    assert any("Lost <chart>" in w for w in graph.warnings)


def test_a_chart_is_traced_back_to_its_source_object_with_each_run(
    settings: Settings, graph: LineageGraph
) -> None:
    paths = trace(settings, "Total revenue", graph)
    assert len(paths) == 1
    steps = [(e.source, e.run.job, e.run.run_id) for e in paths[0]]
    assert steps == [
        ("source:shop.orders", "ingest_shop.orders", INGEST_RUN),
        ("raw.shop_orders", "transform.dbt.stg_shop__orders_model_build", TRANSFORM_RUN),
        (
            "staging.stg_shop__orders",
            "transform.dbt.fct_daily_revenue_model_build",
            TRANSFORM_RUN,
        ),
        ("marts_build.fct_daily_revenue", "transform.publish", TRANSFORM_RUN),
        ("marts.fct_daily_revenue", "superset", None),
        ("dataset:marts.fct_daily_revenue", "superset", None),
    ]
    assert paths[0][-1].target == "chart:Total revenue"
    # by uuid, by dashboard slug, by table: the same origin
    assert trace(settings, "c-1", graph) == paths
    assert [p[0].source for p in trace(settings, "revenue", graph)] == ["source:shop.orders"]
    assert [p[0].source for p in trace(settings, "fct_daily_revenue", graph)] == [
        "source:shop.orders"
    ]
    with pytest.raises(LookupError):
        trace(settings, "no such chart", graph)


def test_trace_stops_on_cycles_and_at_max_paths() -> None:
    from metricstack.lineage.graph import Edge, Run

    graph = LineageGraph()
    run = Run("j", "r", "t", "COMPLETE")
    graph.add(Edge("a", "b", run, "openlineage"))
    graph.add(Edge("b", "a", run, "openlineage"))
    graph.add(Edge("b", "c", run, "openlineage"))
    assert [[e.source for e in p] for p in trace_graph(graph, "c")] == [["a", "b"]]
    for i in range(20):
        graph.add(Edge(f"s{i}", "c", run, "openlineage"))
    assert len(trace_graph(graph, "c", max_paths=5)) == 5


@pytest.mark.parametrize(
    ("namespace", "name", "node"),
    [
        (NS, "metricstack.staging.stg_shop__orders", "staging.stg_shop__orders"),
        (NS, "marts_build.fct_daily_revenue", "marts_build.fct_daily_revenue"),
        (
            "s3://metricstack-marketing",
            "marketing_spend/",
            "s3://metricstack-marketing/marketing_spend/",
        ),
        ("metricstack-source://shop", "orders", "source:shop.orders"),
    ],
)
def test_dataset_names_are_normalized(namespace: str, name: str, node: str) -> None:
    assert dataset_node(namespace, name) == node


def test_asset_uris_are_normalized() -> None:
    assert asset_node("metricstack://warehouse/raw/shop_orders") == "raw.shop_orders"
    assert (
        asset_node("metricstack-source://marketing/web_sessions") == "source:marketing.web_sessions"
    )
    assert asset_node("metricstack://warehouse/marts") is None  # all the marts: no table
    assert asset_node("postgres://h:5432/db/raw/x") == "raw.x"


def test_the_page_and_the_json_show_each_chart(graph: LineageGraph) -> None:
    page = lineage_html(graph)
    assert "dashboard:Revenue" in page and "chart:Total revenue" in page
    assert INGEST_RUN in page and "metricstack_shop_db" in page
    assert "Lost &lt;chart&gt;" in page and "<chart>" not in page  # escaped
    assert 'href="dbt-docs#!/model/model.metricstack.stg_shop__orders"' in page
    data = lineage_json(graph, ["chart:Total revenue"])
    (path,) = data["lineage"]["chart:Total revenue"]
    assert path[0] == {
        "from": "source:shop.orders",
        "to": "raw.shop_orders",
        "kind": "airflow_assets",
        "job": "ingest_shop.orders",
        "run_id": INGEST_RUN,
        "event_time": "2026-11-24T00:05:00+00:00",
        "state": "COMPLETE",
    }


def test_the_project_superset_export_links_its_charts_to_marts(tmp_path: Path) -> None:
    settings = load_settings({"METRICSTACK_STATE_DIR": str(tmp_path)})
    graph = build_graph(settings, publications=[])
    assert graph.charts(), "no chart in superset_config/assets"
    for chart in graph.charts():
        sources = {p[0].source for p in trace_graph(graph, chart)}
        # every chart reaches warehouse tables (marts; audit for the auditors' own charts)
        assert sources and all(s.split(".")[0] in {"marts", "audit"} for s in sources), (
            chart,
            sources,
        )


def test_each_ingestion_task_names_its_source_object_as_inlet() -> None:
    from metricstack.lineage.assets import source_asset
    from metricstack.loading.declarations import load_systems
    from metricstack.pipeline.ingest import build_ingest_dag

    settings = load_settings()
    systems = load_systems(settings.project_dir / "dags" / "sources")
    for system in systems:
        dag = build_ingest_dag(system)
        for source in system.objects:
            task = dag.get_task(source.object)
            assert task.inlets == [source_asset(system, source)]
            (inlet,) = task.inlets
            assert asset_node(inlet.uri) == f"source:{system.name}.{source.object}"
            (outlet,) = task.outlets
            assert asset_node(outlet.uri) == f"{source.schema}.{source.table}"


def test_the_extractor_turns_ingest_assets_into_openlineage_datasets() -> None:
    """With AIRFLOW__OPENLINEAGE__EXTRACTORS naming it, as the provider's manager runs it."""
    from types import SimpleNamespace

    from airflow.providers.openlineage.extractors.base import OperatorLineage
    from airflow.providers.openlineage.extractors.manager import ExtractorManager
    from airflow.sdk import DAG, task
    from airflow.utils.state import TaskInstanceState

    from metricstack.lineage.extractor import MetricstackAssetsExtractor, warehouse_location
    from metricstack.loading.declarations import load_systems
    from metricstack.pipeline.ingest import build_ingest_dag

    settings = load_settings()
    shop = next(
        s for s in load_systems(settings.project_dir / "dags" / "sources") if s.name == "shop"
    )
    manager = ExtractorManager()
    manager.add_extractor("_PythonDecoratedOperator", MetricstackAssetsExtractor)
    ingest = build_ingest_dag(shop).get_task("orders")
    lineage = manager.extract_metadata(
        SimpleNamespace(run_id="r"), ingest, TaskInstanceState.SUCCESS, None
    )
    pg = urlsplit(warehouse_location(settings))
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("metricstack-source://shop", "orders")
    ]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        (f"postgres://{pg.hostname}:{pg.port}", f"{pg.path.strip('/')}.raw.shop_orders")
    ]
    nodes = [dataset_node(d.namespace, d.name) for d in [*lineage.inputs, *lineage.outputs]]
    assert nodes == ["source:shop.orders", "raw.shop_orders"]

    @task
    def other() -> None:  # no metricstack asset: left to the provider's usual path
        pass

    with DAG("plain", schedule=None):
        plain = other().operator
    assert MetricstackAssetsExtractor(plain).extract() == OperatorLineage()
