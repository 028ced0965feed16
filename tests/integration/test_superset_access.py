"""Superset access control as code (superset_config/roles.yml) on a real Superset:
the roles' key permissions, SQL Lab refused to an auditor and limited to marts for an
analyst, no export for an executive, row-level security through the chart data API (and
through the cache), a regional manager's data limited to region-filtered datasets, the
dashboards' roles, the Redis cache.

One Superset per module (setup ~40 s, start ~20 s). A scratch warehouse gets a mart
with a `region_name` column and audit tables; their datasets and a chart are made through
the REST API, then setup runs again and puts the row-level filter on the new dataset.
Redis: METRICSTACK_TEST_REDIS_URL (default redis://127.0.0.1:6379/15); the Redis test
skips when nothing answers there, unless METRICSTACK_REQUIRE_REDIS=1.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from superset_fixtures import (
    Databases,
    needs_superset,
    running_superset,
    superset_databases,
    superset_settings,
)
from support import free_port

from metricstack.config import Settings
from metricstack.superset import (
    SupersetClient,
    SupersetError,
    demo_logins,
    expire_cached_data,
    setup_superset,
    warm_caches,
)
from metricstack.superset.assets import DATABASE_NAME

pytestmark = needs_superset

SALES = [  # marts.fct_regional_sales: region_name, sale_date, revenue
    ("Benelux", "2026-01-01", 100),
    ("Benelux", "2026-01-02", 110),
    ("DACH", "2026-01-01", 200),
    ("DACH", "2026-01-02", 210),
    ("DACH", "2026-01-03", 220),
    ("Nordics", "2026-01-01", 300),
]
REDIS_URL = os.environ.get("METRICSTACK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


# -- a minimal Redis client (RESP over a socket): the platform venv has no redis-py ----
def _redis(url: str, *command: str) -> Any:
    parts = urlsplit(url)
    database = (parts.path or "/0").lstrip("/") or "0"
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 3) as s:
        stream = s.makefile("rwb")

        def send(*args: str) -> Any:
            stream.write(f"*{len(args)}\r\n".encode())
            for arg in args:
                stream.write(f"${len(arg.encode())}\r\n{arg}\r\n".encode())
            stream.flush()
            return read()

        def read() -> Any:
            line = stream.readline().decode().rstrip("\r\n")
            kind, rest = line[0], line[1:]
            if kind == "-":
                raise RuntimeError(rest)
            if kind == "+":
                return rest
            if kind == ":":
                return int(rest)
            if kind == "$":
                return None if rest == "-1" else stream.read(int(rest) + 2)[:-2].decode()
            return [read() for _ in range(int(rest))]

        send("SELECT", database)
        return send(*command)


def _redis_answers() -> bool:
    try:
        return _redis(REDIS_URL, "PING") == "PONG"
    except (OSError, RuntimeError, IndexError):
        return False


@dataclass
class Stack:
    settings: Settings
    dbs: Databases
    passwords: dict[str, str]  # username -> password, admin and demo users
    region_chart: int
    redis_prefix: str | None

    def client(self, username: str) -> SupersetClient:
        return SupersetClient(self.settings.superset_url, username, self.passwords[username])

    @contextmanager
    def browser(self, username: str) -> Iterator[httpx.Client]:
        """A session logged in through the login form, as a browser is (pages need it)."""
        with httpx.Client(base_url=self.settings.superset_url, timeout=60) as http:
            yield self._form_login(http, username)

    def _form_login(self, http: httpx.Client, username: str) -> httpx.Client:
        page = http.get("/login/")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        assert token, "no CSRF token on the login page"
        login = http.post(
            "/login/",
            data={
                "username": username,
                "password": self.passwords[username],
                "csrf_token": token.group(1),
            },
            headers={"Referer": f"{self.settings.superset_url}/login/"},
        )
        assert login.status_code == 302 and "login" not in login.headers["location"]
        return http


def _make_marts(dbs: Databases) -> None:
    with psycopg.connect(dbs.warehouse_url, autocommit=True) as wh:
        wh.execute(
            "create table marts.fct_regional_sales (region_name text, sale_date date, revenue int);"
            "create schema audit; create table audit.loads (load_id int, rows bigint);"
            "create table audit.rejected_rows (line int, record text)"
        )
        with wh.cursor() as cur:
            cur.executemany("insert into marts.fct_regional_sales values (%s, %s, %s)", SALES)
    dbs.grant_reporting("marts")
    dbs.grant_reporting("audit")


def _make_datasets_and_chart(admin: SupersetClient) -> int:
    """Datasets of the new tables and a table chart of the regional mart; its id."""
    databases = admin.get("/api/v1/database/")["result"]
    database_id = next(d["id"] for d in databases if d["database_name"] == DATABASE_NAME)
    ids = {}
    for schema, table in (
        ("marts", "fct_regional_sales"),
        ("audit", "loads"),
        ("audit", "rejected_rows"),
    ):
        # the bundle's auditors' dashboard already brings a dataset of audit.loads
        query = (
            f"(filters:!((col:schema,opr:eq,value:{schema}),(col:table_name,opr:eq,value:{table})))"
        )
        existing = admin.get("/api/v1/dataset/", q=query)["result"]
        if existing:
            ids[table] = existing[0]["id"]
            continue
        body = admin.post(
            "/api/v1/dataset/",
            {"database": database_id, "schema": schema, "table_name": table},
        )
        ids[table] = body["id"]
    dataset = ids["fct_regional_sales"]
    form_data = {
        "datasource": f"{dataset}__table",
        "viz_type": "table",
        "query_mode": "raw",
        "all_columns": ["region_name", "sale_date", "revenue"],
        "row_limit": 1000,
    }
    query_context = {
        "datasource": {"id": dataset, "type": "table"},
        "force": False,
        "queries": [
            {
                "columns": ["region_name", "sale_date", "revenue"],
                "metrics": [],
                "orderby": [["sale_date", True]],
                "row_limit": 1000,
                "filters": [],
                "extras": {"where": "", "having": ""},
            }
        ],
        "form_data": form_data,
        "result_format": "json",
        "result_type": "full",
    }
    chart = admin.post(
        "/api/v1/chart/",
        {
            "slice_name": "Sales by region",
            "viz_type": "table",
            "datasource_id": dataset,
            "datasource_type": "table",
            "params": json.dumps(form_data),
            "query_context": json.dumps(query_context),
        },
    )
    return int(chart["id"])


@pytest.fixture(scope="module")
def stack(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("superset-access")
    extra = {}
    prefix = None
    if _redis_answers():
        prefix = f"mstest_{secrets.token_hex(4)}"
        extra = {"REDIS_URL": REDIS_URL, "METRICSTACK_SUPERSET_CACHE_PREFIX": prefix}
    with superset_databases(pg_server, "reporting-pw") as dbs:
        _make_marts(dbs)
        settings = superset_settings(state, dbs, free_port(), "admin-pw", "reporting-pw", **extra)
        setup_superset(settings)
        passwords = {login.username: login.password for login in demo_logins(settings)}
        passwords[settings.admin_user] = "admin-pw"
        try:
            with running_superset(settings):
                with SupersetClient(settings.superset_url, settings.admin_user, "admin-pw") as a:
                    chart = _make_datasets_and_chart(a)
                # the new datasets exist: setup applies the row-level filter to them
                setup_superset(settings)
                yield Stack(settings, dbs, passwords, chart, prefix)
        finally:
            if prefix:
                for key in _redis(REDIS_URL, "KEYS", f"{prefix}*"):
                    _redis(REDIS_URL, "DEL", key)


def _permissions(meta_url: str) -> dict[str, set[str]]:
    with psycopg.connect(meta_url) as conn:
        rows = conn.execute(
            "select r.name, p.name || ' on ' || v.name from ab_role r"
            " join ab_permission_view_role pr on pr.role_id = r.id"
            " join ab_permission_view pv on pv.id = pr.permission_view_id"
            " join ab_permission p on p.id = pv.permission_id"
            " join ab_view_menu v on v.id = pv.view_menu_id"
        ).fetchall()
    found: dict[str, set[str]] = {}
    for role, permission in rows:
        found.setdefault(role, set()).add(permission)
    return found


def test_roles_have_their_key_permissions(stack: Stack) -> None:
    perms = _permissions(stack.dbs.meta_url)
    sqllab = "can_execute_sql_query on SQLLab"
    csv_export = "can_csv on Superset"
    marts = "schema_access on [warehouse].[marts]"
    for role in ("Data engineer", "Analyst", "Executive", "Regional manager", "Auditor"):
        assert "can_read on Dashboard" in perms[role], role
    engineer, analyst = perms["Data engineer"], perms["Analyst"]
    executive, manager, auditor = perms["Executive"], perms["Regional manager"], perms["Auditor"]

    assert {sqllab, csv_export, "all_datasource_access on all_datasource_access"} <= engineer
    assert "can_write on Dataset" in engineer
    assert not any(p.endswith(" on Role") or p.endswith(" on User") for p in engineer)

    assert {sqllab, csv_export, "can_write on Chart", "can_explore on Superset", marts} <= analyst
    # marts only: no database access (the reporting role also reads the audit tables)
    assert not any(p.startswith("database_access") for p in analyst)
    assert "all_database_access on all_database_access" not in analyst

    assert marts in executive
    assert not {csv_export, sqllab, "can_write on Chart", "can_explore on Superset"} & executive
    assert not any("csv" in p for p in executive)

    assert csv_export in manager
    assert not any(p.endswith(" on SQLLab") for p in manager)
    # the datasets the region filter covers (those with region_name), not the schema:
    # a company-wide mart stays out of Explore and CSV
    assert marts not in manager
    manager_data = {p for p in manager if p.startswith("datasource_access")}
    assert any("[fct_regional_sales]" in p for p in manager_data)
    assert not any("[fct_daily_revenue]" in p for p in manager_data)

    assert {"can_read on Log", "menu_access on Action Log"} <= auditor
    assert not any("SQLLab" in p or "sqllab" in p or "SQL Lab" in p for p in auditor)
    datasets = {p for p in auditor if p.startswith("datasource_access")}
    assert any("[loads]" in p for p in datasets)
    assert not any("rejected_rows" in p for p in datasets), "raw records are PII"
    assert marts not in auditor

    for region in ("Region Benelux", "Region DACH"):
        assert perms.get(region, set()) == set(), "region roles hold only a row-level filter"


def test_setup_again_changes_nothing(stack: Stack) -> None:
    log = stack.settings.logs_dir / "superset-setup.log"
    before = log.read_text().count(": exit ")
    setup_superset(stack.settings)
    assert log.read_text().count(": exit ") == before


def test_auditor_gets_no_sql_lab(stack: Stack) -> None:
    with stack.browser("auditor") as auditor, stack.browser("analyst") as analyst:
        assert auditor.get("/sqllab/").status_code in (302, 403)
        assert analyst.get("/sqllab/").status_code == 200
    query = {"database_id": _database_id(stack), "sql": "select 1 as one", "runAsync": False}
    with stack.client("auditor") as auditor, pytest.raises(SupersetError, match="HTTP 403"):
        auditor.post("/api/v1/sqllab/execute/", query)
    with stack.client("analyst") as analyst:
        body = analyst.post(
            "/api/v1/sqllab/execute/",
            {**query, "sql": "select count(*) as n from marts.fct_daily_revenue"},
        )
        assert body["data"] == [{"n": 4}]
        # SQL Lab on marts only: the audit tables the reporting role reads are refused
        # (Superset 6.1 answers the refusal with HTTP 500 and this error type)
        with pytest.raises(SupersetError, match="TABLE_SECURITY_ACCESS_ERROR"):
            analyst.post(
                "/api/v1/sqllab/execute/",
                {**query, "sql": "select count(*) as n from audit.loads"},
            )


def _database_id(stack: Stack) -> int:
    with stack.client(stack.settings.admin_user) as admin:
        databases = admin.get("/api/v1/database/")["result"]
    return int(next(d["id"] for d in databases if d["database_name"] == DATABASE_NAME))


def test_executive_views_but_cannot_export(stack: Stack) -> None:
    with stack.client("executive") as executive:
        # sees the dashboard's data...
        assert len(executive.chart_data(stack.region_chart)) == len(SALES)
        for result_format in ("csv", "xlsx"):
            response = executive.chart_data_response(
                stack.region_chart, result_format=result_format
            )
            assert response.status_code == 403, result_format
    with stack.client("analyst") as analyst:
        response = analyst.chart_data_response(stack.region_chart, result_format="csv")
        assert response.status_code == 200
        assert len(list(csv.DictReader(io.StringIO(response.text)))) == len(SALES)


def _regions(rows: list[dict[str, Any]]) -> set[str]:
    return {row["region_name"] for row in rows}


def test_regional_manager_sees_only_their_region(stack: Stack) -> None:
    chart = stack.region_chart
    with stack.client("admin") as admin:
        assert _regions(admin.chart_data(chart, force=True)) == {"Benelux", "DACH", "Nordics"}
    # after the admin's (cached) result: a cached result must not cross regions
    with stack.client("manager_benelux") as benelux, stack.client("manager_dach") as dach:
        for _ in range(2):  # the second time from the cache
            rows = benelux.chart_data(chart)
            assert _regions(rows) == {"Benelux"} and len(rows) == 2
            rows = dach.chart_data(chart)
            assert _regions(rows) == {"DACH"} and len(rows) == 3
        exported = benelux.chart_data_response(chart, result_format="csv")
        assert exported.status_code == 200
        assert {r["region_name"] for r in csv.DictReader(io.StringIO(exported.text))} == {"Benelux"}


def test_dashboards_open_to_the_roles_given_them(stack: Stack) -> None:
    """roles.yml's `dashboards`: the Revenue dashboard (a company-wide mart) is the
    executive's and the analyst's, never a regional manager's; the audit dashboard the
    auditor's, not the analyst's (marts only)."""

    def slugs(username: str) -> set[str]:
        with stack.client(username) as client:
            listed = client.get("/api/v1/dashboard/", q="(page:0,page_size:100)")["result"]
        return {d["slug"] for d in listed}

    assert {"revenue", "sales"} <= slugs("executive")
    assert "revenue" in slugs("analyst") and "data-quality" not in slugs("analyst")
    assert slugs("manager_benelux") == {"sales"}
    assert slugs("auditor") == {"data-quality"}
    with stack.client("manager_benelux") as manager, pytest.raises(SupersetError):
        manager.get("/api/v1/dashboard/revenue")


def test_warm_caches_refreshes_every_chart(stack: Stack) -> None:
    report = warm_caches(stack.settings)
    print(f"\nwarm_caches: {report}")
    # The bundle's other dashboards read marts and audit tables this small warehouse
    # does not hold: their charts fail. These three read tables it holds: refreshed.
    with stack.client("admin") as admin:
        held = {c["id"] for c in admin.dashboard_charts("revenue")} | {stack.region_chart}
    assert len(held) == 3  # Total revenue, Revenue per day, Sales by region
    assert not [key for key in report.failed if int(key.rsplit("/", 1)[1]) in held]
    assert report.charts["admin"] >= 3
    # the manager reads the region-filtered datasets only: Sales by region, not Revenue
    assert report.charts["manager_benelux"] >= 1


def test_a_publication_retires_every_cached_answer(stack: Stack) -> None:
    def cached(client: SupersetClient) -> bool:
        response = client.chart_data_response(stack.region_chart)
        assert response.status_code == 200, response.text
        return bool(response.json()["result"][0]["is_cached"])

    with stack.client("admin") as admin:
        cached(admin)
        assert cached(admin)  # the second ask is answered from the cache

        assert expire_cached_data(stack.settings) >= 3

        assert not cached(admin)  # the publication's data, not the cached answer
        assert cached(admin)


def test_chart_data_is_cached_in_redis(stack: Stack) -> None:
    if stack.redis_prefix is None:
        message = f"no Redis answers at {REDIS_URL}"
        if os.environ.get("METRICSTACK_REQUIRE_REDIS") == "1":
            pytest.fail(message + " (METRICSTACK_REQUIRE_REDIS=1)")
        pytest.skip(message + "; set METRICSTACK_REQUIRE_REDIS=1 to fail instead")
    data_keys = f"{stack.redis_prefix}_data_*"
    for key in _redis(REDIS_URL, "KEYS", data_keys):
        _redis(REDIS_URL, "DEL", key)
    with stack.client("analyst") as analyst:
        analyst.chart_data(stack.region_chart, force=True)
    assert _redis(REDIS_URL, "KEYS", data_keys), "no chart data key in Redis"
