"""The auditors' portal (the Airflow plugin's FastAPI app) and audit.lineage_edges.

The app runs under FastAPI's TestClient, without an Airflow server, on files generated
here: a real ``dbt docs generate --static`` of the project over a warehouse holding the
sample company's raw tables and one staging model, a lineage events file, Data Docs.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from raw_sample import load_raw_sample

from metricstack.config import Settings
from metricstack.lineage.docs import dbt_docs_file, generate_dbt_docs
from metricstack.lineage.portal import airflow_user, create_app
from metricstack.lineage.store import store_lineage
from metricstack.services.dbt import dbt

RUN = "scheduled__2026-11-24T00:00:00+00:00"
NS = "postgres://127.0.0.1:5432"


def _events() -> list[dict[str, object]]:
    source = {"uri": "metricstack-source://shop/orders", "extra": {"kind": "database"}}
    raw = {"uri": "metricstack://warehouse/raw/shop_orders", "extra": {}}
    ingest = {
        "eventType": "COMPLETE",
        "eventTime": "2026-11-24T00:05:00+00:00",
        "job": {"namespace": "metricstack", "name": "ingest_shop.orders"},
        "run": {
            "runId": "ol-1",
            "facets": {
                "airflow": {
                    "dagRun": {"run_id": RUN},
                    "task": {"inlets": str([source]), "outlets": str([raw])},
                }
            },
        },
    }
    models = [
        ("raw.orders", "staging.stg_shop__orders"),
        ("staging.stg_shop__orders", "marts_build.fct_daily_revenue"),
    ]
    dbt_events = [
        {
            "eventType": "COMPLETE",
            "eventTime": "2026-11-24T01:00:00+00:00",
            "job": {
                "namespace": "metricstack",
                "name": f"transform.dbt.{target}_model_build",
                # Cosmos' events name the dbt node; the manifest maps its source names
                "facets": {"dbt_node": {"unique_id": f"model.metricstack.{target.split('.')[1]}"}},
            },
            "run": {"runId": "ol-2", "facets": {"airflow": {"dagRun": {"run_id": "t1"}}}},
            "inputs": [{"namespace": NS, "name": f"metricstack.{source}"}],
            "outputs": [{"namespace": NS, "name": f"metricstack.{target}"}],
        }
        for source, target in models
    ]
    return [ingest, *dbt_events]


@pytest.fixture
def portal(warehouse: Settings, tmp_path: Path) -> Iterator[tuple[Settings, TestClient]]:
    settings = warehouse
    started = time.monotonic()
    load_raw_sample(settings, tmp_path / "company")
    dbt(settings, "run", "--select", "stg_shop__orders")
    loaded = time.monotonic()
    generate_dbt_docs(settings)
    print(  # the times, with -s
        f"\nraw sample + dbt run: {loaded - started:.1f} s, "
        f"dbt docs generate --static: {time.monotonic() - loaded:.1f} s"
    )
    settings.lineage_file.parent.mkdir(parents=True, exist_ok=True)
    settings.lineage_file.write_text("".join(json.dumps(e) + "\n" for e in _events()))
    (settings.data_docs_dir / "validations").mkdir(parents=True)
    (settings.data_docs_dir / "index.html").write_text("<html>GX Data Docs index</html>")
    (settings.data_docs_dir / "validations" / "run.html").write_text("<html>a run</html>")
    with psycopg.connect(settings.role_url("transformer")) as conn:
        conn.execute(
            "insert into audit.publications (table_name, row_count, run_id) values (%s, 1, %s)",
            ("marts.fct_daily_revenue", "t1"),
        )
    app = create_app(lambda: settings)
    app.dependency_overrides[airflow_user] = lambda: "auditor"
    with TestClient(app) as client:
        yield settings, client


def test_the_portal_serves_lineage_dbt_docs_and_data_docs(
    portal: tuple[Settings, TestClient],
) -> None:
    settings, client = portal
    index = client.get("/")
    assert index.status_code == 200 and 'href="lineage"' in index.text

    page = client.get("/lineage")
    assert page.status_code == 200, page.text
    assert "dashboard:Revenue" in page.text and "chart:Total revenue" in page.text
    assert RUN in page.text and "ingest_shop.orders" in page.text

    data = client.get("/lineage.json", params={"node": "Total revenue"}).json()
    (path,) = data["lineage"]["chart:Total revenue"]
    assert [(s["from"], s["run_id"]) for s in path[:4]] == [
        ("source:shop.orders", RUN),
        ("raw.shop_orders", "t1"),  # dbt's source name mapped to its table by the manifest
        ("staging.stg_shop__orders", "t1"),
        ("marts_build.fct_daily_revenue", "t1"),  # published by run t1 (audit.publications)
    ]
    assert client.get("/lineage", params={"node": "nothing"}).status_code == 404

    docs = client.get("/dbt-docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    assert "stg_shop__orders" in docs.text and docs.text == dbt_docs_file(settings).read_text()

    root = client.get("/data-docs", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "data-docs/"
    assert "GX Data Docs index" in client.get("/data-docs/").text
    assert client.get("/data-docs/validations/run.html").text == "<html>a run</html>"
    (settings.state_dir / "secret.txt").write_text("not for auditors")
    for outside in ("/data-docs/..%2Fsecret.txt", "/data-docs/%2E%2E/secret.txt"):
        assert client.get(outside).status_code == 404

    # one warehouse for both (a dbt docs run takes tens of seconds): audit.lineage_edges
    _the_lineage_edges_are_stored_in_the_warehouse_idempotently(settings)


def _the_lineage_edges_are_stored_in_the_warehouse_idempotently(settings: Settings) -> None:
    stored = store_lineage(settings)  # into audit.lineage_edges, which setup creates
    assert store_lineage(settings) == stored  # run again: the same rows, not twice as many
    with psycopg.connect(settings.role_url("transformer")) as conn:
        rows = conn.execute(
            "select from_dataset, to_dataset, job, run_id, state from audit.lineage_edges "
            "order by event_time nulls last, from_dataset"
        ).fetchall()
    assert rows[0] == (
        "source:shop.orders",
        "raw.shop_orders",
        "ingest_shop.orders",
        RUN,
        "COMPLETE",
    )
    assert (
        "marts_build.fct_daily_revenue",
        "marts.fct_daily_revenue",
        "transform.publish",
        "t1",
        "PUBLISHED",
    ) in rows
    assert len(rows) == stored
    # the charts of superset_config/assets, which other work extends: at least the revenue one
    assert (
        "dataset:marts.fct_daily_revenue",
        "chart:Total revenue",
        "superset",
        None,
        "DEFINED",
    ) in rows


def test_the_airflow_plugin_mounts_the_portal_and_requires_a_login(tmp_path: Path) -> None:
    plugins = Path(__file__).resolve().parents[2] / "plugins"
    spec = importlib.util.spec_from_file_location(
        "metricstack_portal", plugins / "metricstack_portal.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "fastapi" in sys.modules  # (the test imported it; the plugin file does not)
    plugin = module.MetricstackPortalPlugin
    (app,) = plugin.fastapi_apps
    assert app["url_prefix"] == "/metricstack"
    assert {v["href"] for v in plugin.external_views} == {
        "/metricstack/lineage",
        "/metricstack/dbt-docs",
        "/metricstack/data-docs/",
    }
    with TestClient(app["app"]) as client:
        for path in ("/", "/lineage", "/lineage.json", "/dbt-docs", "/data-docs/index.html"):
            answer = client.get(path)
            assert answer.status_code == 401, (path, answer.status_code)


_WITH_AIRFLOW_AUTH = """
from fastapi import FastAPI
from fastapi.testclient import TestClient
from airflow.api_fastapi.app import init_auth_manager, init_plugins
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

root = FastAPI()  # as Airflow's API server: its auth manager, then the plugins' apps
manager = init_auth_manager(root)
init_plugins(root)
token = manager.generate_jwt(SimpleAuthManagerUser(username="auditor", role="viewer"))
client = TestClient(root)
print("none", client.get("/metricstack/lineage").status_code)
print("bad", client.get("/metricstack/", headers={"Authorization": "Bearer x.y.z"}).status_code)
bearer = {"Authorization": f"Bearer {token}"}
print("bearer", client.get("/metricstack/", headers=bearer).status_code)
client.cookies.set("_token", token)  # what the UI's login sets
print("cookie", client.get("/metricstack/lineage").status_code)
"""


def test_airflow_logins_open_the_portal_and_nothing_else_does(tmp_path: Path) -> None:
    """Airflow's own auth manager (simple) and plugin loading, as in its API server."""
    import os
    import subprocess

    project = Path(__file__).resolve().parents[2]
    python = Path(sys.executable)
    env = {
        **os.environ,
        "PYTHONPATH": str(project / "plugins"),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(project / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": "a-test-secret-of-enough-length-0123456789",
        "METRICSTACK_STATE_DIR": str(tmp_path / "state"),
    }
    # a token is checked against the metadata database's revoked tokens
    migrate = [str(python.parent / "airflow"), "db", "migrate"]
    subprocess.run(migrate, env=env, check=True, capture_output=True, timeout=300)
    run = subprocess.run(
        [str(python), "-c", _WITH_AIRFLOW_AUTH],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    answers = dict(line.split() for line in run.stdout.splitlines() if line.count(" ") == 1)
    assert answers == {"none": "401", "bad": "403", "bearer": "200", "cookie": "200"}, run.stdout
