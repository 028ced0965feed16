"""Every demo role in a real browser: the dashboards each may see render without an
error, those it may not see stay closed, the Executive overview's numbers equal the
marts, a regional manager sees only their region, an auditor gets no SQL Lab, and the
browser's exports produce files.

Runs on the demo of conftest.py's ``stack`` (session-scoped: the same demo as
test_demo_stack.py, which runs after this module because its last tests break the
pipeline and stop the stack). One Chromium for the module, one login per role.
Screenshots go to test-artifacts/ (``<user>-<dashboard>.png``).

Only on the embedded PostgreSQL: what a browser shows does not depend on where the
warehouse lives (test_demo_stack.py covers the external one), and CI's budget is 90
minutes.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest
from browser import (
    ARTIFACTS,
    chart_count,
    chart_states,
    chromium,
    embedded_demo_only,
    is_cached_flags,
    login,
    open_dashboard,
)

from metricstack.sample_company.generator import generate
from metricstack.superset.access import demo_password

if TYPE_CHECKING:
    from conftest import Stack  # tests/e2e/conftest.py (not importable by name at run time)
    from playwright.sync_api import Browser, Page, Response

pytestmark = [pytest.mark.e2e, embedded_demo_only("the browser")]

ALL = {
    "executive-overview",
    "sales",
    "customers",
    "operations",
    "finance",
    "forecasts",
    "data-quality",
    "revenue",
}
MARTS = ALL - {"data-quality"}  # the audit dashboard reads the audit schema
# What superset_config/roles.yml gives each demo role: its `dashboards` are the
# dashboards' roles (DASHBOARD_RBAC), and a dashboard with roles opens to those only.
MAY_SEE = {
    "admin": ALL,  # Superset's Admin
    "engineer": ALL,  # "*"
    "analyst": MARTS,  # schema marts (SQL Lab on marts only)
    "executive": MARTS,  # schema marts
    # every chart of Sales reads a region-filtered mart; the other dashboards show
    # company-wide marts
    "manager_benelux": {"sales"},
    "auditor": {"data-quality"},  # the audit datasets (no marts)
}
REGION = "Benelux"  # manager_benelux's
REGIONAL = {"manager_benelux"}  # users whose roles carry the region filter


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture(scope="module")
def page_of(stack: Stack, browser: Browser) -> Iterator[Callable[[str], Page]]:
    """A logged-in page per user, made at its first use and kept for the module."""
    pages: dict[str, Page] = {}
    settings = stack.settings

    def page(username: str) -> Page:
        if username not in pages:
            password = (
                settings.admin_password
                if username == settings.admin_user
                else demo_password(settings)
            )
            pages[username] = login(browser, settings.superset_url, username, password)
        return pages[username]

    yield page
    for opened in pages.values():
        opened.context.close()


@pytest.fixture(scope="module")
def layouts(stack: Stack) -> dict[str, dict[str, Any]]:
    """Every dashboard as the admin gets it from the API: id, charts in its layout."""
    from metricstack.superset.client import SupersetClient

    settings = stack.settings
    found = {}
    with SupersetClient(
        settings.superset_url, settings.admin_user, settings.admin_password
    ) as admin:
        for slug in ALL:
            dashboard = admin.dashboard(slug)
            found[slug] = {
                "id": dashboard["id"],
                "title": dashboard["dashboard_title"],
                "charts": chart_count(dashboard),
                "chart_ids": [c["id"] for c in admin.dashboard_charts(slug)],
            }
    return found


def _api(page: Page, stack: Stack, path: str) -> Any:
    """GET a Superset API path with the page's own session (its cookies, its rights)."""
    response = page.request.get(f"{stack.settings.superset_url}{path}")
    assert response.ok, (path, response.status, response.text()[:300])
    return response.json()


def _screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def _open(page: Page, stack: Stack, slug: str, layouts: dict[str, dict[str, Any]]) -> None:
    open_dashboard(page, stack.settings.superset_url, slug, layouts[slug]["charts"])


# ---------------------------------------------------------------------------------------
# every role: its dashboards render, the others stay closed


def test_the_first_viewers_after_a_publication_get_cached_charts(
    stack: Stack, page_of: Callable[[str], Page], layouts: dict[str, dict[str, Any]]
) -> None:
    """After the demo's pipeline run, which warmed the chart caches once it published
    (refresh_dashboards), the first viewers get every chart data answer from the cache:
    the admin opening every dashboard, and manager_benelux opening Sales (a row-level
    filter is part of Superset's cache key, so the warm-up runs as each filtered user).
    This test runs first in the first module, so nobody opened a dashboard before.

    The warm-up runs each chart's saved query_context; this holds only while that is
    the query Superset's frontend builds for the chart on its dashboard (the same cache
    key). A hand-written chart YAML whose query_context lacks what the frontend adds
    (post_processing, time_grain_sqla in extras) fails here."""
    answers: dict[str, list[bool]] = {}  # user/dashboard -> is_cached of chart answers
    for user, slugs in (
        (stack.settings.admin_user, sorted(ALL)),
        ("manager_benelux", ["sales"]),
    ):
        page = page_of(user)
        now: list[str] = []

        def count(response: Response, now: list[str] = now) -> None:
            if now:
                answers.setdefault(now[0], []).extend(is_cached_flags(response))

        page.on("response", count)
        try:
            for slug in slugs:
                now[:] = [f"{user}/{slug}"]
                _open(page, stack, slug, layouts)
        finally:
            now.clear()
            page.remove_listener("response", count)
            page.goto("about:blank")
    # every dashboard asked for chart data
    assert len(answers) == len(ALL) + 1 and all(answers.values()), answers
    uncached = {key: flags.count(False) for key, flags in answers.items() if not all(flags)}
    assert not uncached, f"chart answers not from the cache: {uncached}"


@pytest.mark.parametrize("username", list(MAY_SEE))
def test_each_role_opens_its_dashboards_and_every_chart_renders(
    stack: Stack,
    page_of: Callable[[str], Page],
    layouts: dict[str, dict[str, Any]],
    username: str,
) -> None:
    user = stack.settings.admin_user if username == "admin" else username
    page = page_of(user)
    listed = _api(page, stack, "/api/v1/dashboard/?q=(page:0,page_size:100)")["result"]
    assert {d["slug"] for d in listed} == MAY_SEE[username]

    failures = {}
    for slug in sorted(MAY_SEE[username]):
        _open(page, stack, slug, layouts)
        states = chart_states(page)
        _screenshot(page, f"{username}-{slug}")
        assert len(states) == layouts[slug]["charts"], slug
        broken = {s.name: s.alerts or s.empty or ["not rendered"] for s in states if s.failed}
        if broken:
            failures[slug] = broken
    assert not failures, failures

    for slug in sorted(ALL - MAY_SEE[username]):
        # Superset answers a dashboard one may not see as if it did not exist...
        response = page.goto(f"{stack.settings.superset_url}/superset/dashboard/{slug}/")
        assert response is not None and response.status == 404, slug
        assert page.get_by_text("Page not found").is_visible(), slug
        # ...and refuses its charts' data; a regional manager may read a chart on a
        # region-filtered mart (Executive overview's revenue by region), their rows only
        for chart_id in layouts[slug]["chart_ids"]:
            data = page.request.get(f"{stack.settings.superset_url}/api/v1/chart/{chart_id}/data/")
            if data.status == 200 and username in REGIONAL:
                rows = [row for result in data.json()["result"] for row in result["data"]]
                assert {row.get("region_name") for row in rows} == {REGION}, (slug, chart_id)
                continue
            assert data.status in (403, 404), (slug, chart_id, data.status)


# ---------------------------------------------------------------------------------------
# the Executive overview shows the marts' numbers


def _formatted(value: Decimal, places: int) -> str:
    """d3's ",.Nf" (JavaScript's toFixed rounds halves up)."""
    quantum = Decimal(1).scaleb(-places)
    return f"{value.quantize(quantum, rounding=ROUND_HALF_UP):,.{places}f}"


def test_the_executive_overview_shows_the_numbers_of_the_marts(
    stack: Stack, page_of: Callable[[str], Page], layouts: dict[str, dict[str, Any]]
) -> None:
    """Its big numbers as the Executive's browser shows them: revenue (the last month,
    from the sample company's generator), gross margin %, orders and NPS (from the
    order and NPS facts, read by the reporting role)."""
    company = generate(stack.settings.sample_company)
    company.collect()
    cents: dict[str, int] = company.truth.daily_revenue_cents
    last_month = max(day for day, amount in cents.items() if amount)[:7]
    last_month_revenue = (
        Decimal(sum(amount for day, amount in cents.items() if day.startswith(last_month))) / 100
    )
    with psycopg.connect(stack.settings.role_url("reporting")) as conn:
        orders, revenue, margin = conn.execute(
            "select count(*), sum(revenue), sum(gross_margin)"
            " from marts.fct_orders where not is_cancelled"
        ).fetchone() or (0, 0, 0)
        nps_row = conn.execute(
            "select 100.0 * (count(*) filter (where is_promoter)"
            " - count(*) filter (where is_detractor)) / count(*) from marts.fct_nps_responses"
        ).fetchone()
        latest = conn.execute(
            "select max(period_start) from marts.fct_sales_revenue_monthly"
        ).fetchone()
    assert latest is not None and latest[0] == date.fromisoformat(f"{last_month}-01")
    assert nps_row is not None
    expected = {
        "Revenue": _formatted(last_month_revenue, 0),  # ",.0f", the latest month
        "Gross margin %": _formatted(Decimal(margin) / Decimal(revenue) * 100, 1) + "%",
        "Orders": _formatted(Decimal(orders), 0),
        "Net promoter score": _formatted(Decimal(nps_row[0]), 0),  # ".0f"
    }

    page = page_of("executive")
    _open(page, stack, "executive-overview", layouts)
    shown = {}
    for title in expected:
        shown[title] = _chart(page, title).locator(".header-line").first.inner_text().strip()
    assert shown == expected


# ---------------------------------------------------------------------------------------
# a regional manager sees their region only


def _chart_answers(responses: list[Any]) -> dict[int, list[dict[str, Any]]]:
    """The rows of each chart data answer the page got, by the chart's id."""
    rows: dict[int, list[dict[str, Any]]] = {}
    for response in responses:
        query = parse_qs(urlparse(response.url).query)
        if response.status != 200 or "form_data" not in query:
            continue
        chart_id = json.loads(query["form_data"][0]).get("slice_id")
        body = response.json()
        rows[chart_id] = [row for result in body["result"] for row in result["data"]]
    return rows


# Benelux's revenue from the staging views (not from a mart): orders not cancelled,
# subtotal - discount, by the region of the customer's country ('Unknown' without one)
STAGING_REGION_REVENUE = """
    select coalesce(regions.region_name, 'Unknown'), sum(orders.subtotal - orders.discount)
    from staging.stg_shop__orders as orders
    left join staging.stg_shop__customers as customers
        on orders.customer_id = customers.customer_id
    left join staging.stg_shop__countries as countries
        on customers.country_code = countries.country_code
    left join staging.stg_shop__regions as regions on countries.region_id = regions.region_id
    where not orders.is_cancelled
    group by 1
"""


def test_a_regional_manager_sees_only_their_region(
    stack: Stack, page_of: Callable[[str], Page], layouts: dict[str, dict[str, Any]]
) -> None:
    """On the Sales dashboard, as manager_benelux: every chart reads a dataset with
    region_name, its query carries the Benelux filter and every answer with a region
    is Benelux's; the revenue big number is Benelux's revenue as the staging views
    add it up; the revenue by region chart Benelux's revenue; its "View as table"
    shows Benelux alone; the Region filter offers Benelux only; the chart's CSV export
    holds Benelux only."""
    from metricstack.superset.client import SupersetClient

    with psycopg.connect(stack.settings.role_url("reporting")) as conn:
        revenue = dict(
            conn.execute(
                "select region_name, sum(revenue) from marts.fct_sales_geography_monthly group by 1"
            ).fetchall()
        )
    assert REGION in revenue and len(revenue) > 1  # there are other regions to hide
    with psycopg.connect(stack.settings.role_url("transformer")) as conn:
        staged = dict(conn.execute(STAGING_REGION_REVENUE).fetchall())
    assert staged[REGION] < sum(staged.values())

    settings = stack.settings
    with SupersetClient(
        settings.superset_url, settings.admin_user, settings.admin_password
    ) as admin:
        charts = {c["id"]: c for c in admin.dashboard_charts("sales")}
        datasets = {}
        for chart in charts.values():
            dataset_id = int(chart["form_data"]["datasource"].split("__")[0])
            if dataset_id not in datasets:
                datasets[dataset_id] = admin.dataset(dataset_id)
    assert set(charts) == set(layouts["sales"]["chart_ids"])

    page = page_of("manager_benelux")
    responses: list[Any] = []

    def keep(response: Any) -> None:
        if "/api/v1/chart/data" in response.url:
            responses.append(response)

    page.on("response", keep)
    try:
        _open(page, stack, "sales", layouts)
    finally:
        page.remove_listener("response", keep)
    answers = _chart_answers(responses)
    # every chart: a dataset with region_name, a query with the manager's filter
    for chart_id, chart in charts.items():
        name, dataset_id = chart["slice_name"], int(chart["form_data"]["datasource"].split("__")[0])
        dataset = datasets[dataset_id]
        columns = {c["column_name"] for c in dataset["columns"]}
        assert "region_name" in columns, (name, dataset["table_name"])
        query = _api(page, stack, f"/api/v1/chart/{chart_id}/data/?type=query")["result"]
        sql = " ".join(q["query"] for q in query)
        assert f"region_name = '{REGION}'" in sql, (name, sql)
        if charts[chart_id]["form_data"].get("viz_type") not in ("world_map", "country_map"):
            assert chart_id in answers, f"the page got no data for {name}"
    by_region = {
        chart_id: rows
        for chart_id, rows in answers.items()
        if rows and all("region_name" in row for row in rows)
    }
    assert by_region, f"no chart of the Sales dashboard broke down by region: {answers}"
    for chart_id, rows in by_region.items():
        assert {row["region_name"] for row in rows} == {REGION}, chart_id
    # the revenue big number: Benelux's revenue as the staging views count it
    big_number = next(i for i, c in charts.items() if c["slice_name"] == "Sales: revenue")
    shown = Decimal(str(answers[big_number][0]["Revenue"]))
    assert abs(shown - staged[REGION]) < Decimal("0.01"), (shown, staged[REGION])

    region_chart = _chart(page, "Revenue by region")
    region_rows = answers[int(region_chart.get_attribute("data-test-chart-id"))]
    assert [(r["region_name"], Decimal(str(r["Revenue"]))) for r in region_rows] == [
        (REGION, revenue[REGION])
    ]

    # what the chart shows as a table, in the page
    region_chart.hover()
    region_chart.locator('button[aria-label="More Options"]').click()
    _menu_item(page, "View as table").click()
    table = page.locator(".ant-modal-content").filter(has_text="Chart Data")
    cells = table.locator('[role="gridcell"][col-id="region_name"]')
    cells.first.wait_for()
    _screenshot(page, "manager_benelux-sales-revenue-by-region-as-table")
    assert cells.all_inner_texts() == [REGION]
    shown = table.locator('[role="gridcell"][col-id="Revenue"]').all_inner_texts()
    assert [Decimal(v) for v in shown] == [revenue[REGION]]
    page.keyboard.press("Escape")
    table.wait_for(state="hidden")

    # the native filter "Region" offers the manager's region only
    region_filter = (
        page.locator('[data-test="filter-bar"] .ant-form-item')
        .filter(has=page.locator('[data-test="filter-control-name"]', has_text=_exactly("Region")))
        .first.locator(".ant-select-selector")
    )
    assert region_filter.inner_text() == "1 option"
    region_filter.click()
    options = page.locator(".ant-select-dropdown:visible .ant-select-item-option")
    options.first.wait_for()
    assert options.all_inner_texts() == [REGION]
    page.keyboard.press("Escape")

    # the chart's CSV export, from its menu
    rows = list(csv.DictReader(io.StringIO(_export_csv(page, region_chart))))
    assert rows and {row["region_name"] for row in rows} == {REGION}, rows


def test_a_regional_manager_sees_only_their_regions_sales_reps(
    stack: Stack, page_of: Callable[[str], Page], layouts: dict[str, dict[str, Any]]
) -> None:
    """The Sales reps table (fct_sales_rep_performance_monthly, which carries the region
    of the rep's team) shows the reps of Benelux's team only."""
    page = page_of("manager_benelux")
    _open(page, stack, "sales", layouts)
    shown = _chart(page, "Sales reps").inner_text()
    teams = set(re.findall(r"Team (?:Benelux|DACH|Nordics|Southern Europe)", shown))
    assert teams == {f"Team {REGION}"}


def _exactly(text: str) -> re.Pattern[str]:
    return re.compile(f"^{re.escape(text)}$")


def _menu_item(page: Page, text: str) -> Any:
    """An item of the open dropdown menu whose text is exactly ``text``."""
    return page.get_by_role("menuitem").filter(has_text=_exactly(text))


def _chart(page: Page, title: str) -> Any:
    """The chart of the open dashboard whose title is ``title``."""
    chart = page.locator('[data-test="chart-grid-component"]').filter(
        has=page.locator('[data-test="editable-title"]', has_text=_exactly(title))
    )
    assert chart.count() == 1, title
    return chart


def _download(page: Page, menu: Any, item: str) -> bytes:
    """Open a menu (the dashboard's or a chart's), then Download > ``item``: the file."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    menu.click()
    entry = _menu_item(page, item)
    for _ in range(5):  # the submenu opens on hover, once the menu has settled
        _menu_item(page, "Download").hover()
        with contextlib.suppress(PlaywrightTimeoutError):
            entry.wait_for(timeout=2000)
            break
    with page.expect_download(timeout=120_000) as download:
        # a click in the page, not a mouse path: moving the mouse over the menu's other
        # items can close the submenu under it
        entry.evaluate("item => item.click()")
    path = download.value.path()
    return path.read_bytes()


def _export_csv(page: Page, chart: Any) -> str:
    """A chart's "Download > Export to .CSV", as a user clicks it: the file's text."""
    chart.hover()
    data = _download(page, chart.locator('button[aria-label="More Options"]'), "Export to .CSV")
    return data.decode("utf-8-sig")


# ---------------------------------------------------------------------------------------
# the auditor


def test_an_auditor_gets_no_sql_lab_but_the_audit_dashboard(
    stack: Stack, page_of: Callable[[str], Page], layouts: dict[str, dict[str, Any]]
) -> None:
    page = page_of("auditor")
    response = page.goto(f"{stack.settings.superset_url}/sqllab/")
    # Superset refuses the page outright (no redirect to a login or an editor)
    assert response is not None and response.status == 403
    assert "403 Forbidden" in page.locator("body").inner_text()
    assert page.locator(".ace_editor, [data-test='sql-editor-tabs']").count() == 0
    _screenshot(page, "auditor-sqllab")
    # and the SQL menu is not offered on the dashboards either
    _open(page, stack, "data-quality", layouts)
    assert page.get_by_role("menuitem", name="SQL", exact=True).count() == 0
    states = chart_states(page)
    assert len(states) == layouts["data-quality"]["charts"]
    assert not [s for s in states if s.failed], [s for s in states if s.failed]
    rows_loaded = _chart(page, "Rows loaded").locator(".header-line").inner_text()
    assert int(rows_loaded.replace(",", "")) > 0


# ---------------------------------------------------------------------------------------
# exports from the browser


def test_the_browser_exports_a_dashboard_as_image_and_pdf_and_a_chart_as_csv(
    stack: Stack, page_of: Callable[[str], Page], layouts: dict[str, dict[str, Any]]
) -> None:
    """As the analyst (a role allowed to export) on the Finance dashboard: Download as
    Image and Export to PDF (made on the server by Superset's worker: a PNG, and a PDF of
    it; test_screenshots.py), and the period over period table's Export to .CSV. The
    executive, who may not export data, is refused the same CSV."""
    page = page_of("analyst")
    _open(page, stack, "finance", layouts)
    header_menu = page.locator('[data-test="actions-trigger"]').first
    image = _download(page, header_menu, "Download as Image")
    assert image[:8] == b"\x89PNG\r\n\x1a\n" and len(image) > 10_000  # the worker's PNG
    pdf = _download(page, header_menu, "Export to PDF")
    assert pdf[:5] == b"%PDF-" and len(pdf) > 10_000

    table = _chart(page, "Period over period")
    rows = list(csv.reader(io.StringIO(_export_csv(page, table))))
    assert len(rows) > 2 and len(rows[0]) > 1, rows[:3]

    chart_id = int(table.get_attribute("data-test-chart-id"))
    executive = page_of("executive")
    refused = executive.request.get(
        f"{stack.settings.superset_url}/api/v1/chart/{chart_id}/data/?format=csv"
    )
    assert refused.status == 403, refused.text()[:300]
