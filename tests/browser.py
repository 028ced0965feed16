"""A real headless browser for the tests: Debian's Chromium, driven by Playwright.

Playwright's own browser download cannot work here (and need not): it drives the
system's Chromium (`make test` installs it where it can). Without Chromium the
browser tests are skipped, unless METRICSTACK_REQUIRE_BROWSER=1 (CI) makes that a
failure.

Besides the login, this holds what the tests need to look at a Superset dashboard the
way a person does: open it, wait until every chart has rendered (or failed), and read
each chart's state. Opening and waiting are `metricstack.bench.dashboards`'s, so that
the load-time benchmark waits for exactly what the tests check.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from metricstack.bench.dashboards import (
    CHROMIUM_ARGS,
    chart_count,
    is_cached_flags,
    login,
    open_dashboard,
    wait_for_charts,
)

__all__ = [
    "ARTIFACTS",
    "CHROMIUM_ARGS",
    "ChartState",
    "chart_count",
    "chart_states",
    "chromium",
    "embedded_demo_only",
    "is_cached_flags",
    "login",
    "open_dashboard",
    "superset_session",
    "wait_for_charts",
]

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

_CHART_STATES = """() => [...document.querySelectorAll('[data-test="chart-grid-component"]')].map(
  chart => ({
    id: Number(chart.getAttribute('data-test-chart-id')),
    name: chart.getAttribute('data-test-chart-name'),
    viz_type: chart.getAttribute('data-test-viz-type'),
    rendered: !!chart.querySelector('[data-test="chart-container"]'),
    alerts: [...chart.querySelectorAll('[role="alert"]')].map(a => a.innerText.trim()),
    empty: [...chart.querySelectorAll('.ant-empty, [data-test="empty-state"]')].map(
      e => e.innerText.trim() || 'empty').concat(
      /No results were returned|No data/.test(chart.innerText) ? ['no results'] : []),
    text: chart.innerText,
  }))"""


def _chromium() -> str:
    path = shutil.which("chromium")
    if path:
        return path
    message = "Chromium is not installed (make test installs it where it can)"
    if os.environ.get("METRICSTACK_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def chromium() -> Iterator[Browser]:
    """One headless Chromium; each login gets a browser context (cookies) of its own."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def superset_session(base_url: str, username: str, password: str) -> Iterator[Page]:
    """A Playwright page logged into Superset through its login form."""
    with chromium() as browser:
        page = login(browser, base_url, username, password)
        try:
            yield page
        finally:
            page.context.close()


@dataclass(frozen=True)
class ChartState:
    """One chart of a dashboard as the browser shows it."""

    id: int
    name: str
    viz_type: str
    rendered: bool  # its chart container is there
    alerts: list[str]  # the text of every error or warning it shows
    empty: list[str]  # "No results" and other empty states
    text: str  # everything it shows as text (title, big numbers, table cells)

    @property
    def failed(self) -> bool:
        return bool(self.alerts or self.empty) or not self.rendered


def chart_states(page: Page) -> list[ChartState]:
    return [ChartState(**state) for state in page.evaluate(_CHART_STATES)]


def embedded_demo_only(what: str) -> pytest.MarkDecorator:
    """The e2e ``stack`` fixture's params with the external demo skipped before it
    starts: what ``what`` names does not depend on where the warehouse lives
    (test_demo_stack.py runs the external one), and CI's budget is 90 minutes."""
    return pytest.mark.parametrize(
        "stack",
        [
            "embedded",
            pytest.param(
                "external",
                marks=pytest.mark.skip(
                    reason=f"{what} does not depend on where the warehouse lives "
                    "(test_demo_stack.py runs the external one); CI's budget is 90 min"
                ),
            ),
        ],
        indirect=True,
    )
