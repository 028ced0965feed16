"""An ingestion-shaped task run by Airflow writes the source -> raw edge in its events.

``airflow dags test`` runs a one-task DAG whose task has the inlet and outlet of the
shop's orders ingestion task (lineage/assets.py, pipeline/assets.py), with the stack's
OpenLineage settings (file transport) and the metricstack extractor; the graph built from
the written file has the edge, with the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from metricstack.config import load_settings
from metricstack.lineage.graph import build_graph, dataset_node

_DAG = """
from datetime import datetime

from airflow.sdk import DAG, task

from metricstack.config import load_settings
from metricstack.lineage.assets import source_asset
from metricstack.loading.declarations import load_systems
from metricstack.pipeline.assets import raw_table

systems = load_systems(load_settings().project_dir / "dags" / "sources")
shop = next(s for s in systems if s.name == "shop")
orders = next(o for o in shop.objects if o.object == "orders")

with DAG("lineage_probe", schedule=None, start_date=datetime(2024, 1, 1)):

    @task(task_id="orders", inlets=[source_asset(shop, orders)], outlets=[raw_table(orders)])
    def ingest() -> None:
        pass

    ingest()
"""


def test_a_task_run_records_its_source_and_raw_table(tmp_path: Path) -> None:
    project = Path(__file__).resolve().parents[2]
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "probe.py").write_text(_DAG)
    events = tmp_path / "openlineage.ndjson"
    env = {
        **os.environ,
        "PYTHONPATH": str(project / "plugins"),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "METRICSTACK_STATE_DIR": str(tmp_path / "state"),
        # as services/environment.py configures Airflow, plus the extractor
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "metricstack",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__EXTRACTORS": (
            "metricstack.lineage.extractor.MetricstackAssetsExtractor"
        ),
    }
    airflow = str(Path(sys.executable).parent / "airflow")
    for command in (["db", "migrate"], ["dags", "test", "lineage_probe"]):
        run = subprocess.run(
            [airflow, *command], env=env, capture_output=True, text=True, timeout=600, check=False
        )
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    (complete,) = [
        e
        for e in map(json.loads, events.read_text().splitlines())
        if e["eventType"] == "COMPLETE" and e["job"]["name"] == "lineage_probe.orders"
    ]
    # first-class OpenLineage datasets (the extractor), named as Cosmos names the tables
    inputs = [dataset_node(d["namespace"], d["name"]) for d in complete["inputs"]]
    outputs = [dataset_node(d["namespace"], d["name"]) for d in complete["outputs"]]
    assert (inputs, outputs) == (["source:shop.orders"], ["raw.shop_orders"])
    assert complete["outputs"][0]["namespace"].startswith("postgres://")

    settings = load_settings({"METRICSTACK_STATE_DIR": str(tmp_path / "state")})
    graph = build_graph(settings, events=events, publications=[], assets_dir=tmp_path / "none")
    (edge,) = graph.edges()
    assert (edge.source, edge.target, edge.run.job, edge.run.state) == (
        "source:shop.orders",
        "raw.shop_orders",
        "lineage_probe.orders",
        "COMPLETE",
    )
    assert edge.run.run_id and edge.run.run_id.startswith("manual__")
    assert graph.nodes["source:shop.orders"]["connection"] == "metricstack_shop_db"
