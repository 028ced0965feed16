"""The dashboards bundle on a real Superset over real marts: every chart answers rows, the
export round-trips, and the dbt sync turns a new MetricFlow metric into a dataset metric.

One module-wide stack: a warehouse holding the small sample company (two years, so the
churn model scores customers) built by dbt, the analytics tables, published to
``marts``; Superset set up with the bundle (superset_config/assets) and served. The
reporting role is also granted the audit tables the auditors' dashboard reads (what
the lead's grants are expected to do). About 2.5 minutes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from psycopg import sql
from raw_sample import load_raw_sample
from superset_fixtures import needs_superset, running_superset
from support import free_port, new_database

from metricstack.analytics.run import run_analytics
from metricstack.config import ROLES, Settings, load_settings
from metricstack.sample_company.config import CompanyConfig
from metricstack.services.dbt import dbt
from metricstack.services.environment import base_env, bin_path, dbt_env
from metricstack.superset import SupersetClient, setup_superset
from metricstack.superset.assets import assets_dir
from metricstack.superset.dbt_sync import sync_dbt_to_superset
from metricstack.superset.export import export_dashboards
from metricstack.warehouse.bootstrap import ensure_warehouse
from metricstack.warehouse.publish import publish_marts

pytestmark = needs_superset

AUDIT_TABLES = ("loads", "publications", "validations", "gate_decisions")
# charts drawn by Superset's legacy API (/superset/explore_json/), not the chart data API
LEGACY_VIZ = {"world_map", "country_map"}
PROBE_METRIC = "superset_sync_probe"


@dataclass(frozen=True)
class Stack:
    settings: Settings
    timings: dict[str, float]


def _grant_audit(settings: Settings, admin_url: str) -> None:
    """What the auditors' dashboard needs: the reporting role reads these audit tables
    (never audit.rejected_rows: whole source records); and one validation and one gate
    decision, as a quality gate run writes them."""
    reporting = sql.Identifier(settings.role_name("reporting"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("grant usage on schema audit to {}").format(reporting))
        for table in AUDIT_TABLES:
            conn.execute(
                sql.SQL("grant select on {} to {}").format(
                    sql.Identifier("audit", table), reporting
                )
            )
        conn.execute(
            "insert into audit.validations"
            " (run_id, checkpoint, suite, asset, expectation_type, success, severity)"
            " values ('test', 'marts', 'fct_orders', 'marts_build.fct_orders',"
            " 'expect_column_values_to_not_be_null', true, 'critical')"
        )
        conn.execute(
            "insert into audit.gate_decisions (run_id, gate, decision, evaluated)"
            " values ('test', 'marts', 'passed', 1)"
        )


@pytest.fixture(scope="module")
def stack(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("superset_dashboards")
    timings: dict[str, float] = {}
    with new_database(pg_server) as warehouse_url, new_database(pg_server) as meta_url:
        settings = load_settings(
            {
                "METRICSTACK_STATE_DIR": str(work / "state"),
                "METRICSTACK_LANDING_DIR": str(work / "landing"),
                "METRICSTACK_ROLE_PREFIX": f"ms_{uuid.uuid4().hex[:8]}",
                "METRICSTACK_SUPERSET_PORT": str(free_port()),
                "WAREHOUSE_URL": warehouse_url,
                "AIRFLOW_DATABASE_URL": meta_url,  # unused; makes the settings external
                "SUPERSET_DATABASE_URL": meta_url,
                "SUPERSET_SECRET_KEY": "test-secret-key-" + "x" * 32,
                "METRICSTACK_SUPERSET_DEMO_USERS": "0",
            }
        )
        settings.ensure_secrets()
        ensure_warehouse(settings)
        try:
            started = time.monotonic()
            load_raw_sample(settings, work / "company", CompanyConfig(orders=1000, years=2))
            dbt(settings, "run", "--select", "+path:models/marts")
            run_analytics(settings, "test")
            publish_marts(settings, "test")
            _grant_audit(settings, warehouse_url)
            timings["warehouse"] = time.monotonic() - started
            started = time.monotonic()
            setup_superset(settings)
            timings["setup"] = time.monotonic() - started
            with running_superset(settings):
                yield Stack(settings, timings)
        finally:
            with psycopg.connect(warehouse_url, autocommit=True) as conn:
                for role in ROLES:
                    name = sql.Identifier(settings.role_name(role))
                    conn.execute(sql.SQL("drop owned by {} cascade").format(name))
                for role in ROLES:
                    conn.execute(
                        sql.SQL("drop role if exists {}").format(
                            sql.Identifier(settings.role_name(role))
                        )
                    )
        print(f"\ntimings: {timings}")


def _client(settings: Settings) -> SupersetClient:
    return SupersetClient(settings.superset_url, settings.admin_user, settings.admin_password)


def _bundle_dashboards(settings: Settings) -> list[dict[str, Any]]:
    return [
        yaml.safe_load(path.read_text())
        for path in sorted((assets_dir(settings) / "dashboards").glob("*.yaml"))
    ]


@contextmanager
def _session(settings: Settings) -> Iterator[httpx.Client]:
    """A browser-like session (login form, cookie): what legacy views such as
    /superset/explore_json/ accept; they refuse a bearer token."""
    with httpx.Client(base_url=settings.superset_url, timeout=120) as http:
        yield _logged_in(http, settings)


def _logged_in(http: httpx.Client, settings: Settings) -> httpx.Client:
    page = http.get("/login/").text
    found = re.search(r'id="csrf_token"[^>]*value="([^"]+)"', page)
    assert found, "no CSRF token on the login page"
    http.post(
        "/login/",
        data={
            "username": settings.admin_user,
            "password": settings.admin_password,
            "csrf_token": found.group(1),
        },
    )
    return http


def _chart_rows(client: SupersetClient, chart_id: int) -> tuple[int, int, str]:
    response = client.chart_data_response(chart_id, force=True)
    if response.is_error:
        return response.status_code, 0, response.text[:300]
    return response.status_code, len(response.json()["result"][0]["data"]), ""


def test_every_chart_of_every_dashboard_answers_rows(stack: Stack) -> None:
    settings = stack.settings
    bundle = _bundle_dashboards(settings)
    assert len(bundle) >= 8, [d["slug"] for d in bundle]
    failures: list[str] = []
    checked = 0
    started = time.monotonic()
    with _client(settings) as client, _session(settings) as session:
        for dashboard in bundle:
            slug = dashboard["slug"]
            live = client.dashboard(slug)
            charts = client.dashboard_charts(slug)
            expected = [
                node["meta"]["uuid"]
                for node in dashboard["position"].values()
                if isinstance(node, dict) and node.get("type") == "CHART"
            ]
            assert len(charts) == len(expected), slug
            # the dashboard's options survived the import
            metadata = json.loads(live["json_metadata"])
            assert metadata.get("refresh_frequency", 0) == dashboard.get("metadata", {}).get(
                "refresh_frequency", 0
            ), slug
            for native in metadata.get("native_filter_configuration", []):
                for target in native["targets"]:
                    if "column" in target:
                        assert isinstance(target.get("datasetId"), int), (slug, native["name"])
            for chart in charts:
                checked += 1
                status, rows, error = _chart_rows(client, chart["id"])
                if status != 200 or rows == 0:
                    failures.append(
                        f"{slug}: {chart['slice_name']}: HTTP {status}, {rows} rows {error}"
                    )
                if chart["form_data"].get("viz_type") in LEGACY_VIZ:
                    response = session.get(
                        "/superset/explore_json/",
                        params={"form_data": json.dumps({"slice_id": chart["id"]})},
                    )
                    if response.is_error or not response.json().get("data"):
                        failures.append(
                            f"{slug}: {chart['slice_name']}: legacy API {response.text[:300]}"
                        )
    print(f"\n{checked} charts of {len(bundle)} dashboards in {time.monotonic() - started:.1f} s")
    assert not failures, "\n".join(failures)


def _normalised(path: Path) -> Any:
    """A bundle file as data; JSON strings (query_context, json_metadata) parsed."""
    config = yaml.safe_load(path.read_text())
    if isinstance(config, dict) and isinstance(config.get("query_context"), str):
        config["query_context"] = json.loads(config["query_context"])
    return config


def test_export_round_trips_the_bundle(stack: Stack, tmp_path: Path) -> None:
    """Import (setup) then `superset-export`: the same files, the same content."""
    settings = stack.settings
    started = time.monotonic()
    result = export_dashboards(settings, tmp_path)
    print(f"\nexport: {len(result.files)} files in {time.monotonic() - started:.1f} s")
    committed = assets_dir(settings)
    names = sorted(p.relative_to(committed).as_posix() for p in committed.rglob("*.yaml"))
    assert sorted(result.files) == names
    for name in names:
        assert _normalised(tmp_path / name) == _normalised(committed / name), name
    database = (tmp_path / "databases" / "warehouse.yaml").read_text()
    assert settings.secret("METRICSTACK_REPORTING_PASSWORD") not in database
    assert "XXXXXXXXXX@WAREHOUSE_HOST" in database
    # a second export changes nothing (deterministic names and ids)
    assert export_dashboards(settings, tmp_path).files == result.files


def _dataset_metrics(client: SupersetClient, table: str) -> dict[str, str]:
    query = f"(filters:!((col:schema,opr:eq,value:marts),(col:table_name,opr:eq,value:{table})))"
    found = client.get("/api/v1/dataset/", q=query)["result"]
    assert len(found) == 1, found
    dataset = client.get(f"/api/v1/dataset/{found[0]['id']}")["result"]
    return {m["metric_name"]: m["expression"] for m in dataset["metrics"]}


def _scratch_project(settings: Settings, folder: Path) -> Path:
    """A copy of the dbt project with one more MetricFlow metric."""
    project = folder / "dbt_project"
    shutil.copytree(
        settings.dbt_project_dir,
        project,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
    )
    (project / "models" / "marts" / "customers" / "_superset_probe__metrics.yml").write_text(
        yaml.safe_dump(
            {
                "metrics": [
                    {
                        "name": PROBE_METRIC,
                        "label": "Superset sync probe",
                        "description": "Marketing spend, added by a test.",
                        "type": "simple",
                        "type_params": {"measure": "marketing_spend"},
                    }
                ]
            },
            sort_keys=False,
        )
    )
    return project


def test_dbt_sync_makes_a_new_metric_a_dataset_metric(stack: Stack, tmp_path: Path) -> None:
    settings = stack.settings
    first = sync_dbt_to_superset(settings)
    assert not first.skipped
    assert (
        len(first.models) >= 30
        and "fct_marketing_spend" in first.models
        and "marketing_spend" in first.metrics
    )
    second = sync_dbt_to_superset(settings)
    print(f"\ndbt sync: first {first.seconds:.1f} s, unchanged {second.seconds:.2f} s")
    assert second.skipped and second.seconds < 2
    with _client(settings) as client:
        metrics = _dataset_metrics(client, "fct_marketing_spend")
        assert metrics.get("marketing_spend") == "SUM(spend_amount)", metrics
        assert PROBE_METRIC not in metrics
        # the bundle's own metrics are kept (--merge-metadata)
        assert {"total_revenue", "total_orders"} <= set(
            _dataset_metrics(client, "fct_daily_revenue")
        )
        query = "(filters:!((col:schema,opr:eq,value:marts_build)))"
        assert client.get("/api/v1/dataset/", q=query)["count"] == 0

    # one pipeline run after the YAML changed: dbt writes the manifests, then the sync
    project = _scratch_project(settings, tmp_path)
    subprocess.run(
        [bin_path("dbt"), "parse", "--no-partial-parse", "--project-dir", str(project)],
        env=base_env(settings) | dbt_env(settings),
        cwd=project,
        check=True,
        capture_output=True,
    )
    third = sync_dbt_to_superset(settings)
    print(f"dbt sync after a new metric: {third.seconds:.1f} s, marts {third.models}")
    assert not third.skipped and PROBE_METRIC in third.metrics
    assert third.models == ["fct_marketing_spend"]  # only the mart the metric reads
    with _client(settings) as client:
        metrics = _dataset_metrics(client, "fct_marketing_spend")
        assert metrics.get(PROBE_METRIC) == "SUM(spend_amount)", metrics
        # the dashboards still answer after the sync rewrote their datasets
        revenue = [c for c in client.charts() if c["slice_name"] == "Sales: revenue by week"]
        status, rows, error = _chart_rows(client, revenue[0]["id"])
        assert status == 200 and rows > 0, error
