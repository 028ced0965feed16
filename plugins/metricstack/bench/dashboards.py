"""`make bench-dashboards`: how long each Superset dashboard takes to load in a browser.

Against a running demo (the settings come from the environment, as for the
`metricstack` command: METRICSTACK_STATE_DIR, METRICSTACK_SUPERSET_PORT, ...), a
headless Chromium (Debian's, driven by Playwright; `make browser` installs it) logs in
once and opens every dashboard ``--runs`` times (default 5) first uncached, then
``--runs`` times cached. Each load is timed from navigation to every chart rendered:
all the dashboard's charts on the page, no loading indicator left, each chart's
container filled (a chart that fails counts as settled; the errors are counted and
printed).

Uncached means ``?force=true`` on the dashboard's URL: Superset's dashboard then asks
for every chart's data with ``force``, and the chart data API runs each query on the
warehouse again instead of reading its data cache (the answer's ``is_cached`` is
not true; the fresh result is written back to the cache). The cached loads that follow
read those results (``is_cached: true``). The native filters' option lists are not
forced (their queries are not the charts'); they are cached either way. The page
itself (scripts, styles) comes from the browser's cache after the first load, as for
a returning user; the dashboard's metadata requests are answered by Superset each time.

The viewport is tall enough for every chart of the longest dashboard to be in view
(Superset renders only the charts in view). Prints p50 and p95 per dashboard and over
all loads, uncached and cached, and the share of the charts' data answers that came
from the cache in each mode (which shows that ``force`` did bypass it).

Playwright is imported inside the functions that drive the browser: the rest of the
package never needs it.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from metricstack.config import Settings, load_settings
from metricstack.superset.client import SupersetClient, SupersetError

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Response, ViewportSize

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
# Superset renders only the charts in view (its DASHBOARD_VIRTUALIZATION flag, on by
# default): a viewport as tall as the longest dashboard has every chart in view.
VIEWPORT: ViewportSize = {"width": 1400, "height": 2600}

# Every chart of the dashboard is on the page, no loading indicator is left, and each
# chart holds either an error or its rendered chart (a container with content).
ALL_CHARTS_SETTLED = """(expected) => {
  const charts = document.querySelectorAll('[data-test="chart-grid-component"]');
  if (charts.length < expected) return false;
  if (document.querySelector('[data-test="loading-indicator"]')) return false;
  return [...charts].every(chart =>
    chart.querySelector('[role="alert"]') ||
    [...chart.querySelectorAll('[data-test="chart-container"]')].some(c => c.childElementCount));
}"""


class BrowserMissingError(RuntimeError):
    """No Chromium to drive."""


def chromium_path() -> str:
    path = shutil.which("chromium")
    if not path:
        raise BrowserMissingError("Chromium is not installed: `make browser` installs it")
    return path


def login(browser: Browser, base_url: str, username: str, password: str) -> Page:
    """A new page of its own browser context, logged into Superset through its form."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{base_url}/login/")
    page.locator("input:visible").first.fill(username)
    page.locator("input[type=password]").fill(password)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url("**/superset/welcome/**")
    return page


def wait_for_charts(page: Page, expected_charts: int, *, timeout: float = 180.0) -> None:
    """Until every chart of the open dashboard has rendered or failed."""
    page.wait_for_function(ALL_CHARTS_SETTLED, arg=expected_charts, timeout=timeout * 1000)


def open_dashboard(
    page: Page,
    base_url: str,
    slug: str,
    expected_charts: int,
    *,
    force: bool = False,
    timeout: float = 180.0,
) -> float:
    """Open a dashboard and wait until every chart has rendered or failed; the seconds
    from navigation to then. ``force`` adds ``?force=true`` (see the module's doc)."""
    url = f"{base_url}/superset/dashboard/{slug}/" + ("?force=true" if force else "")
    started = time.monotonic()
    page.goto(url)
    wait_for_charts(page, expected_charts, timeout=timeout)
    seconds = time.monotonic() - started
    # Seen once in a run of the browser tests: the grid mounted again (empty) just after it had
    # settled. The time is the first settling; callers get a page that settled again.
    for _ in range(3):
        page.wait_for_timeout(300)
        if page.evaluate(f"({ALL_CHARTS_SETTLED})({expected_charts})"):
            break
        wait_for_charts(page, expected_charts, timeout=timeout)
    return seconds


@dataclass
class Timings:
    """Seconds per load, and the chart data answers' is_cached flags, per mode."""

    charts: int = 0
    errors: int = 0  # charts showing an error, over all loads

    seconds: dict[str, list[float]] = field(default_factory=lambda: {"first": [], "cached": []})
    cached_answers: dict[str, list[bool]] = field(
        default_factory=lambda: {"first": [], "cached": []}
    )


def percentile(values: list[float], share: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = share * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def dashboards_and_charts(settings: Settings, username: str, password: str) -> dict[str, int]:
    """Every dashboard the user can see: its slug (or id) -> the charts in its layout."""
    found: dict[str, int] = {}
    with SupersetClient(settings.superset_url, username, password) as client:
        for listed in client.dashboards():
            key = str(listed.get("slug") or listed["id"])
            found[key] = chart_count(client.dashboard(key))
    return found


def chart_count(dashboard: dict[str, Any]) -> int:
    """The charts in a dashboard's layout (what the browser shows, one per chart)."""
    position = json.loads(dashboard.get("position_json") or "{}")
    return sum(
        1 for part in position.values() if isinstance(part, dict) and part.get("type") == "CHART"
    )


def is_cached_flags(response: Response) -> list[bool]:
    from playwright.sync_api import Error as PlaywrightError

    # a chart's own query names it in the URL (?form_data={"slice_id": …}); the native
    # filters' option queries, POSTed without it, are not forced by ?force=true
    if "/api/v1/chart/data?form_data=" not in response.url or response.status != 200:
        return []
    try:
        body: Any = response.json()
    except (ValueError, PlaywrightError):  # a CSV, or an answer the page dropped
        return []
    return [bool(result.get("is_cached")) for result in body.get("result", [])]


def measure(
    settings: Settings,
    charts: dict[str, int],
    *,
    runs: int,
    username: str,
    password: str,
    say: Any = print,
) -> dict[str, Timings]:
    """Load each dashboard ``runs`` times uncached, then ``runs`` times cached."""
    from playwright.sync_api import sync_playwright

    results = {slug: Timings(charts=count) for slug, count in charts.items()}
    now: dict[str, Any] = {"timings": None, "mode": "first"}  # what a response counts for

    def on_response(response: Response) -> None:
        if now["timings"] is not None:
            now["timings"].cached_answers[now["mode"]].extend(is_cached_flags(response))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = login(browser, settings.superset_url, username, password)
            page.on("response", on_response)
            for slug, expected in charts.items():
                timings = now["timings"] = results[slug]
                for mode, force in (("first", True), ("cached", False)):
                    now["mode"] = mode
                    for _ in range(runs):
                        seconds = open_dashboard(
                            page, settings.superset_url, slug, expected, force=force
                        )
                        timings.seconds[mode].append(seconds)
                        timings.errors += page.locator(
                            '[data-test="chart-grid-component"] [role="alert"]'
                        ).count()
                        page.goto("about:blank")  # the next load starts from nothing
                say(
                    f"  {slug}: first {_summary(timings.seconds['first'])}, "
                    f"cached {_summary(timings.seconds['cached'])}"
                )
        finally:
            browser.close()
    return results


def _summary(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.5):.2f} s p95 {percentile(values, 0.95):.2f} s"


def report(results: dict[str, Timings]) -> str:
    header = f"{'dashboard':<24} {'charts':>6}  {'first p50':>9} {'p95':>7}"
    lines = [f"{header}  {'cached p50':>10} {'p95':>7}"]
    everything: dict[str, list[float]] = {"first": [], "cached": []}
    cached: dict[str, list[bool]] = {"first": [], "cached": []}
    for slug, timings in results.items():
        first, again = timings.seconds["first"], timings.seconds["cached"]
        for mode in everything:
            everything[mode] += timings.seconds[mode]
            cached[mode] += timings.cached_answers[mode]
        lines.append(
            f"{slug:<24} {timings.charts:>6}  {percentile(first, 0.5):>8.2f}s "
            f"{percentile(first, 0.95):>6.2f}s  {percentile(again, 0.5):>9.2f}s "
            f"{percentile(again, 0.95):>6.2f}s"
        )
    lines.append(
        f"{'all dashboards':<24} {'':>6}  {percentile(everything['first'], 0.5):>8.2f}s "
        f"{percentile(everything['first'], 0.95):>6.2f}s  "
        f"{percentile(everything['cached'], 0.5):>9.2f}s "
        f"{percentile(everything['cached'], 0.95):>6.2f}s"
    )
    errors = {slug: t.errors for slug, t in results.items() if t.errors}
    if errors:
        lines.append(f"charts that showed an error (over all loads): {errors}")
    for mode, label in (("first", "uncached (?force=true)"), ("cached", "cached")):
        flags = cached[mode]
        share = sum(flags) / len(flags) if flags else 0.0
        lines.append(
            f"charts' data answers from Superset's cache, {label}: "
            f"{sum(flags)} of {len(flags)} ({share:.0%})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="metricstack.bench.dashboards",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=5, help="loads per dashboard and mode")
    parser.add_argument(
        "--dashboard",
        action="append",
        default=[],
        help="a dashboard's slug (repeatable; default: every dashboard)",
    )
    parser.add_argument(
        "--user", help="log in as this user (default: the admin); demo users share a password"
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    settings = load_settings()
    username = args.user or settings.admin_user
    if username == settings.admin_user:
        password = settings.admin_password
    else:
        from metricstack.superset.access import demo_password

        password = demo_password(settings)
    try:
        charts = dashboards_and_charts(settings, username, password)
    except (httpx.HTTPError, SupersetError) as error:
        print(f"Superset at {settings.superset_url} does not answer: {error}", file=sys.stderr)
        print("start the demo first (make demo), with the same environment", file=sys.stderr)
        return 2
    if args.dashboard:
        unknown = sorted(set(args.dashboard) - set(charts))
        if unknown:
            parser.error(f"no such dashboard for {username}: {', '.join(unknown)}")
        charts = {slug: charts[slug] for slug in args.dashboard}
    print(
        f"{len(charts)} dashboards at {settings.superset_url} as {username}, "
        f"{args.runs} loads each uncached then cached (viewport "
        f"{VIEWPORT['width']}x{VIEWPORT['height']})",
        flush=True,
    )
    started = time.monotonic()
    try:
        results = measure(
            settings,
            charts,
            runs=args.runs,
            username=username,
            password=password,
            say=lambda line: print(line, flush=True),
        )
    except BrowserMissingError as error:
        print(error, file=sys.stderr)
        return 2
    print()
    print(report(results))
    loads = math.fsum(s for t in results.values() for mode in t.seconds.values() for s in mode)
    print(f"({loads:.0f} s of loads in {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
