"""Which roles see which dashboards (superset_config/roles.yml, applied by
plugins/metricstack/superset/apply_access.py): the grants, and the guard that refuses a
dashboard that would open to a role data it may not see.

With DASHBOARD_RBAC, a dashboard's roles open its charts' data to their users whatever
their dataset permissions, and a row-level filter applies only to the datasets it
covers: a regional manager given a dashboard with one chart on a company-wide mart
would see that chart's every row. apply_access.py is pure Python at its top (Superset
is imported inside its functions), so its rules are tested here without Superset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from metricstack.config import load_settings
from metricstack.superset import access
from metricstack.superset.apply_access import (
    AccessError,
    dashboard_grant_problems,
    dashboard_grants,
)

PROJECT = Path(__file__).resolve().parents[2]
ASSETS = PROJECT / "superset_config" / "assets"
FILTERED = {"warehouse.marts.fct_sales_geography_monthly", "warehouse.marts.fct_sales_geo"}
SALES = {
    "title": "Sales",
    "charts": [
        ("Sales: revenue by region", "warehouse.marts.fct_sales_geography_monthly"),
        ("Sales: revenue", "warehouse.marts.fct_sales_geo"),
    ],
    "filters": [("Region", "warehouse.marts.fct_sales_geography_monthly")],
}


def test_a_role_with_row_level_filters_gets_a_dashboard_they_cover() -> None:
    problems = dashboard_grant_problems(
        {"sales": ["Regional manager"]},
        {"sales": SALES},
        {"Regional manager": set(FILTERED)},
        {"Regional manager": set(FILTERED)},
    )
    assert problems == []


def test_a_chart_on_a_dataset_the_filters_do_not_cover_is_refused_by_name() -> None:
    sales = dict(SALES, charts=[*SALES["charts"], ("Sales: sales reps", "warehouse.marts.reps")])
    problems = dashboard_grant_problems(
        {"sales": ["Regional manager"]},
        {"sales": sales},
        # even a role allowed to read the dataset: the filters are what must cover it
        {"Regional manager": None},
        {"Regional manager": set(FILTERED)},
    )
    assert len(problems) == 1
    problem = problems[0]
    for name in ("'Sales' (sales)", "chart 'Sales: sales reps'", "warehouse.marts.reps"):
        assert name in problem
    assert "'Regional manager'" in problem and "row-level filters" in problem


def test_a_native_filter_on_an_uncovered_dataset_is_refused() -> None:
    sales = dict(SALES, filters=[("Channel", "warehouse.marts.fct_orders")])
    problems = dashboard_grant_problems(
        {"sales": ["Regional manager"]},
        {"sales": sales},
        {"Regional manager": set(FILTERED)},
        {"Regional manager": set(FILTERED)},
    )
    assert len(problems) == 1
    assert "native filter 'Channel'" in problems[0] and "fct_orders" in problems[0]


def test_a_dashboard_may_not_open_a_dataset_its_role_may_not_read() -> None:
    quality = {"title": "Data quality", "charts": [("Rows loaded", "warehouse.audit.loads")]}
    grants = {"data-quality": ["Analyst", "Auditor", "Data engineer"]}
    readable: dict[str, set[str] | None] = {
        "Analyst": {"warehouse.marts.fct_orders"},  # marts only
        "Auditor": {"warehouse.audit.loads"},
        "Data engineer": None,  # every dataset
    }
    problems = dashboard_grant_problems(grants, {"data-quality": quality}, readable, {})
    assert len(problems) == 1
    assert "'Analyst' may not read" in problems[0] and "warehouse.audit.loads" in problems[0]


def test_a_role_without_filters_is_not_held_to_them() -> None:
    problems = dashboard_grant_problems(
        {"sales": ["Executive"]},
        {"sales": dict(SALES, charts=[("Sales: revenue", "warehouse.marts.fct_orders")])},
        {"Executive": {"warehouse.marts.fct_orders", *FILTERED}},
        {"Regional manager": set(FILTERED)},
    )
    assert problems == []


def test_grants_from_lists_and_every_dashboard() -> None:
    roles: dict[str, Any] = {
        "Data engineer": {"dashboards": "*"},
        "Regional manager": {"dashboards": ["sales"]},
        "Region Benelux": {},
    }
    grants = dashboard_grants(roles, ["sales", "finance"])
    assert grants == {"finance": ["Data engineer"], "sales": ["Data engineer", "Regional manager"]}


def test_a_dashboard_that_does_not_exist_is_a_typo() -> None:
    with pytest.raises(AccessError, match="no dashboard 'sale'"):
        dashboard_grants({"Regional manager": {"dashboards": ["sale"]}}, ["sales"])
    with pytest.raises(AccessError, match="must be a list"):
        dashboard_grants({"Regional manager": {"dashboards": "sales"}}, ["sales"])


def test_the_refusal_is_read_from_the_log() -> None:
    log = (
        "2026-11-25T06:00:00Z --- roles, users, row-level security, dashboards: python ...\n"
        "Loaded your LOCAL configuration\n"
        "access: dashboards given to roles that may not see them:\n"
        "dashboard 'Sales' (sales), chart 'x', dataset warehouse.marts.y: role ...\n"
        "2026-11-25T06:00:09Z --- roles, users, row-level security, dashboards: exit 1\n"
    )
    assert access.refusal(log) == (
        "dashboards given to roles that may not see them:\n"
        "dashboard 'Sales' (sales), chart 'x', dataset warehouse.marts.y: role ..."
    )
    assert access.refusal("Traceback (most recent call last):\n  ...\n") == ""


# -- the committed roles.yml and dashboards bundle ----------------------------------------
def _bundle() -> tuple[dict[str, dict[str, Any]], dict[str, set[str]]]:
    """The bundle's dashboards described as apply_access.py describes them (datasets
    named warehouse.<schema>.<table>), and each dataset's columns."""
    datasets, columns = {}, {}
    for path in (ASSETS / "datasets").rglob("*.yaml"):
        config = yaml.safe_load(path.read_text())
        name = f"warehouse.{config['schema']}.{config['table_name']}"
        datasets[config["uuid"]] = name
        columns[name] = {c["column_name"] for c in config["columns"]}
    charts = {}
    for path in (ASSETS / "charts").glob("*.yaml"):
        config = yaml.safe_load(path.read_text())
        charts[config["uuid"]] = (config["slice_name"], datasets[config["dataset_uuid"]])
    dashboards = {}
    for path in (ASSETS / "dashboards").glob("*.yaml"):
        config = yaml.safe_load(path.read_text())
        dashboards[config["slug"]] = {
            "title": config["dashboard_title"],
            "charts": [
                charts[node["meta"]["uuid"]]
                for node in config["position"].values()
                if isinstance(node, dict) and node.get("type") == "CHART"
            ],
            "filters": [
                (native["name"], datasets[target["datasetUuid"]])
                for native in config["metadata"].get("native_filter_configuration", [])
                for target in native.get("targets", [])
                if "datasetUuid" in target
            ],
        }
    return dashboards, columns


def test_the_committed_grants_pass_the_guard() -> None:
    """roles.yml against the bundle, as setup would apply them: the regional manager's
    data and filters are the marts with region_name; the analyst and executive read the
    marts schema; the auditor the audit datasets."""
    definition = access.load_definition(load_settings({}))
    dashboards, columns = _bundle()
    grants = dashboard_grants(definition["roles"], dashboards)
    regional = {n for n, cols in columns.items() if n.startswith("warehouse.marts.")}
    regional = {n for n in regional if "region_name" in columns[n]}
    marts = {n for n in columns if n.startswith("warehouse.marts.")}
    audit = {n for n in columns if n.startswith("warehouse.audit.")}
    readable: dict[str, set[str] | None] = {
        "Data engineer": None,
        "Analyst": marts,
        "Executive": marts,
        "Regional manager": regional,
        "Auditor": audit,
    }
    filtered = {"Regional manager": regional}
    assert dashboard_grant_problems(grants, dashboards, readable, filtered) == []
    assert grants["sales"] == ["Data engineer", "Analyst", "Executive", "Regional manager"]
    assert grants["data-quality"] == ["Data engineer", "Auditor"]
    for slug in ("executive-overview", "finance", "operations", "customers", "forecasts"):
        assert "Regional manager" not in grants[slug], slug
