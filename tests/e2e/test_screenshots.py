"""Server-side screenshots: a dashboard as PNG and PDF, a chart as PNG, made by Superset's
Celery worker in headless Chromium (superset_config.py, "exports"), through the REST
endpoints the dashboard's "Download as Image" and "Export to PDF" call.

As the analyst (a role allowed to export): ask, poll until the worker is done, and check
the files are real (a PNG's signature, size and colours; a PDF's header). As the
executive (a role that may view but not export): refused, also for a screenshot someone
else had made. `metricstack status` lists the worker.

Runs on the demo of conftest.py's ``stack``, embedded PostgreSQL only (like the browser
module: what Chromium draws does not depend on where the warehouse lives, and CI's
budget is 90 minutes). Files and timings go to test-artifacts/.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from browser import ARTIFACTS, embedded_demo_only

from metricstack.services import processes
from metricstack.services.stack import SUPERSET_WORKER
from metricstack.superset.access import demo_password
from metricstack.superset.setup import venv_dir

if TYPE_CHECKING:
    from conftest import Stack  # tests/e2e/conftest.py (not importable by name at run time)

pytestmark = [pytest.mark.e2e, embedded_demo_only("a screenshot")]

DASHBOARD = "executive-overview"
CHART = "Executive: revenue by region"  # a pie: many colours
WAIT = 240  # seconds for one screenshot; a 2-core CI machine also runs the web server
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIMINGS: dict[str, float] = {}


class Api:
    """One user's REST session: bearer token, CSRF token and its session cookie."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=60)
        login = self.http.post(
            "/api/v1/security/login",
            json={"username": username, "password": password, "provider": "db"},
        )
        assert login.status_code == 200, login.text[:300]
        self.http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        csrf = self.http.get("/api/v1/security/csrf_token/")
        assert csrf.status_code == 200, csrf.text[:300]
        self.csrf = csrf.json()["result"]

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def post(self, path: str, payload: dict[str, Any]) -> httpx.Response:
        headers = {"X-CSRFToken": self.csrf, "Referer": f"{self.base_url}/"}
        return self.http.post(path, json=payload, headers=headers)


@pytest.fixture(scope="module")
def api_of(stack: Stack) -> Iterator[Any]:
    sessions: dict[str, Api] = {}

    def api(username: str) -> Api:
        if username not in sessions:
            sessions[username] = Api(
                stack.settings.superset_url, username, demo_password(stack.settings)
            )
        return sessions[username]

    yield api
    for session in sessions.values():
        session.http.close()
    if TIMINGS:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "screenshot-timings.json").write_text(json.dumps(TIMINGS, indent=2))
        print(f"screenshot timings (s): {TIMINGS}")


@pytest.fixture(scope="module")
def ids(api_of: Any) -> dict[str, int]:
    analyst = api_of("analyst")
    dashboard = analyst.get(f"/api/v1/dashboard/{DASHBOARD}")
    assert dashboard.status_code == 200, dashboard.text[:300]
    charts = analyst.get(f"/api/v1/dashboard/{DASHBOARD}/charts").json()["result"]
    chart = [c["id"] for c in charts if c["slice_name"] == CHART]
    assert len(chart) == 1, [c["slice_name"] for c in charts]
    return {"dashboard": dashboard.json()["result"]["id"], "chart": chart[0]}


def _worker_log_size(stack: Stack) -> int:
    path = processes.log_file(stack.settings, SUPERSET_WORKER)
    return path.stat().st_size if path.exists() else 0


def _wait_for_file(stack: Stack, fetch: Any, what: str, log_from: int) -> httpx.Response:
    """Call ``fetch()`` (a GET of the screenshot) until it answers 200, as the browser
    does; 404 means not made yet. Fails at once when the worker logs a failure."""
    log = processes.log_file(stack.settings, SUPERSET_WORKER)
    started = time.monotonic()
    while time.monotonic() - started < WAIT:
        answer = fetch()
        if answer.status_code == 200:
            return answer
        assert answer.status_code == 404, (what, answer.status_code, answer.text[:300])
        with log.open("rb") as worker_log:
            worker_log.seek(log_from)
            if b"Failed at generating" in worker_log.read():
                tail = processes.log_tail(stack.settings, SUPERSET_WORKER, lines=60)
                pytest.fail(f"{what}: the worker could not make the screenshot.\n{tail}")
        time.sleep(1)
    tail = processes.log_tail(stack.settings, SUPERSET_WORKER, lines=60)
    pytest.fail(f"{what}: no screenshot after {WAIT} s.\n{tail}")


def _image_facts(stack: Stack, png: bytes, name: str) -> dict[str, Any]:
    """Size and number of distinct colours, read with Pillow (the Superset venv has it,
    the platform venv does not)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.write_bytes(png)
    code = (
        "import json, sys; from PIL import Image; "
        "image = Image.open(sys.argv[1]).convert('RGB'); "
        "print(json.dumps({'size': image.size, "
        "'colours': len(image.getcolors(1 << 24) or [])}))"
    )
    result = subprocess.run(
        [str(venv_dir(stack.settings) / "bin" / "python"), "-I", "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    facts: dict[str, Any] = json.loads(result.stdout)
    return facts


def _assert_real_png(stack: Stack, png: bytes, name: str, min_size: tuple[int, int]) -> None:
    assert png[:8] == PNG_SIGNATURE, png[:16]
    facts = _image_facts(stack, png, name)
    width, height = facts["size"]
    assert width >= min_size[0] and height >= min_size[1], facts
    assert width <= 4000 and height <= 20000, facts
    # a blank or error page has a handful of colours; drawn charts and text have many
    assert facts["colours"] > 200, facts


# ---------------------------------------------------------------------------------------
# the analyst: may export


def test_a_dashboard_is_downloaded_as_png_and_pdf_made_on_the_server(
    stack: Stack, api_of: Any, ids: dict[str, int]
) -> None:
    """What "Download as Image" and "Export to PDF" do when the webdriver flags are on:
    POST cache_dashboard_screenshot (force, the dashboard's state), then GET the
    screenshot as png or pdf once the worker has put it in the cache."""
    analyst = api_of("analyst")
    base = f"/api/v1/dashboard/{ids['dashboard']}"
    state = {"dataMask": {}, "activeTabs": [], "anchor": "", "urlParams": []}
    log_from = _worker_log_size(stack)
    started = time.monotonic()
    queued = analyst.post(f"{base}/cache_dashboard_screenshot/?q=(force:!t)", state)
    assert queued.status_code == 202, queued.text[:300]
    body = queued.json()
    key = body["cache_key"]
    assert "/superset/dashboard/p/" in body["dashboard_url"]  # a permalink of the state

    png = _wait_for_file(
        stack,
        lambda: analyst.get(f"{base}/screenshot/{key}/?download_format=png"),
        "dashboard",
        log_from,
    )
    TIMINGS["dashboard_png_s"] = round(time.monotonic() - started, 1)
    assert png.headers["content-type"] == "image/png"
    assert 'filename="Executive_overview.png"' in png.headers["content-disposition"]
    _assert_real_png(stack, png.content, "screenshot-dashboard.png", (1000, 600))

    started = time.monotonic()
    pdf = analyst.get(f"{base}/screenshot/{key}/?download_format=pdf")
    TIMINGS["dashboard_pdf_from_cached_png_s"] = round(time.monotonic() - started, 1)
    assert pdf.status_code == 200, pdf.text[:300]
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content[:5] == b"%PDF-" and pdf.content.rstrip().endswith(b"%%EOF")
    assert len(pdf.content) > 20_000 and b"/Image" in pdf.content  # the screenshot in it
    (ARTIFACTS / "screenshot-dashboard.pdf").write_bytes(pdf.content)


def test_a_chart_is_rendered_as_png_on_the_server(
    stack: Stack, api_of: Any, ids: dict[str, int]
) -> None:
    analyst = api_of("analyst")
    base = f"/api/v1/chart/{ids['chart']}"
    log_from = _worker_log_size(stack)
    started = time.monotonic()
    queued = analyst.get(f"{base}/cache_screenshot/?q=(force:!t)")
    assert queued.status_code == 202, queued.text[:300]
    key = queued.json()["cache_key"]
    png = _wait_for_file(stack, lambda: analyst.get(f"{base}/screenshot/{key}/"), "chart", log_from)
    TIMINGS["chart_png_s"] = round(time.monotonic() - started, 1)
    assert png.headers["content-type"] == "image/png"
    _assert_real_png(stack, png.content, "screenshot-chart.png", (400, 300))


# ---------------------------------------------------------------------------------------
# the executive: may view, may not export


def test_a_role_that_may_not_export_gets_no_screenshot(api_of: Any, ids: dict[str, int]) -> None:
    executive = api_of("executive")
    dashboard = f"/api/v1/dashboard/{ids['dashboard']}"
    chart = f"/api/v1/chart/{ids['chart']}"
    # the executive sees the dashboard and the chart...
    assert executive.get(dashboard).status_code == 200
    assert executive.get(chart).status_code == 200
    # ...but may not have a screenshot made
    refused = executive.post(f"{dashboard}/cache_dashboard_screenshot/?q=(force:!t)", {})
    assert refused.status_code == 403, refused.text[:300]
    refused = executive.get(f"{chart}/cache_screenshot/?q=(force:!t)")
    assert refused.status_code == 403, refused.text[:300]
    # nor fetch one the analyst had made (the test above), knowing its key
    made = api_of("analyst").get(f"{chart}/cache_screenshot/").json()["cache_key"]
    refused = executive.get(f"{chart}/screenshot/{made}/")
    assert refused.status_code == 403, refused.text[:300]


def test_status_lists_the_screenshot_worker(stack: Stack) -> None:
    status = stack.cli("status")
    assert status.returncode == 0, status.stderr
    line = next(row for row in status.stdout.splitlines() if row.startswith(SUPERSET_WORKER))
    assert "running (pid" in line, status.stdout
