"""A real headless browser for the tests: Debian's Chromium, driven by Playwright.

Playwright's own browser download cannot work here (and need not): it drives the
system's Chromium (`make test` installs it where it can). Without Chromium the
browser tests are skipped, unless METRICSTACK_REQUIRE_BROWSER=1 (CI) makes that a
failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
# Chromium's background services call Google's hosts, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _chromium() -> str:
    path = shutil.which("chromium")
    if path:
        return path
    message = "Chromium is not installed (make test installs it where it can)"
    if os.environ.get("METRICSTACK_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def superset_session(base_url: str, username: str, password: str) -> Iterator[Page]:
    """A Playwright page logged into Superset through its login form."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{base_url}/login/")
            page.locator("input:visible").first.fill(username)
            page.locator("input[type=password]").fill(password)
            page.get_by_role("button", name="Sign In").click()
            page.wait_for_url("**/superset/welcome/**")
            yield page
        finally:
            browser.close()
