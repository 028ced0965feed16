"""Warm Superset's chart data cache after a publication.

Why not Superset's `cache-warmup` task: it is a Celery task run by Celery beat on a
schedule, which needs a broker, a worker and a beat process that metricstack does not
run, and a schedule fires without knowing when the marts changed. The pipeline does
know: after `publish` swaps the marts, warm_caches() asks for every chart's data with
``force=true`` through the REST API (the same query the dashboard runs, from the chart's
saved query_context), which runs the query and overwrites the cached result. The
dashboard's first viewer reads that result only if the saved query_context is the query
the frontend builds for the chart on its dashboard (same query, same cache key): true of
charts saved in Explore and exported, checked by the browser tests.

Warming alone cannot replace what a dashboard cached: a dashboard's request carries its
own context (dashboard id, native filters), so its cache key differs from the saved
query's, and the old answer would outlive the publication. Superset puts each dataset's
``changed_on`` in every cache key of its charts; expire_cached_data() stamps each
dataset with the publication, which moves ``changed_on`` and so retires every cached
answer of the dataset, in every context, on every cache backend. (Superset's own
``/api/v1/cachekey/invalidate`` deletes from its metadata cache, not the data cache,
and needs every key logged in the metadata database.)

Row-level security filters are part of Superset's cache key, so a user with a filter
has cache entries of their own: the warm-up runs as the admin (one entry shared by every
user without a filter) and as each demo user whose roles carry a row-level filter.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from metricstack.config import Settings
from metricstack.superset import access
from metricstack.superset.client import SupersetClient


@dataclass
class WarmUp:
    """What a warm-up did: charts refreshed per user, failures, seconds."""

    charts: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # "user/chart id" -> error
    seconds: float = 0.0


def _rls_logins(settings: Settings) -> list[tuple[str, str]]:
    definition = access.load_definition(settings)
    filtered = {role for rule in definition["row_level_security"] for role in rule["filters"]}
    return [
        (login.username, login.password)
        for login in access.demo_logins(settings)
        if filtered & set(login.roles)
    ]


def expire_cached_data(settings: Settings, *, published_at: datetime | None = None) -> int:
    """Retire every cached chart answer by stamping each dataset's ``extra`` with the
    publication time (see above); returns how many datasets were stamped."""
    stamp = (published_at or datetime.now(UTC)).isoformat()
    with SupersetClient(
        settings.superset_url, settings.admin_user, settings.admin_password
    ) as client:
        datasets = client.datasets()
        for dataset in datasets:
            extra = json.loads(client.dataset(dataset["id"]).get("extra") or "{}")
            extra["metricstack_published_at"] = stamp
            client.put(f"/api/v1/dataset/{dataset['id']}", {"extra": json.dumps(extra)})
    return len(datasets)


def warm_caches(
    settings: Settings,
    *,
    logins: list[tuple[str, str]] | None = None,
    timeout: float = 120.0,
) -> WarmUp:
    """Refresh the cached data of every chart, as the admin and each row-filtered demo
    user (or as ``logins``). A chart that fails is reported, not raised: one broken
    chart must not fail a publication."""
    started = time.monotonic()
    result = WarmUp()
    if logins is None:
        logins = [(settings.admin_user, settings.admin_password), *_rls_logins(settings)]
    for username, password in logins:
        with SupersetClient(settings.superset_url, username, password, timeout=timeout) as client:
            charts = client.charts()
            done = 0
            for chart in charts:
                try:
                    response = client.chart_data_response(chart["id"], force=True)
                except httpx.HTTPError as error:
                    result.failed[f"{username}/{chart['id']}"] = str(error)
                    continue
                if response.is_error:
                    result.failed[f"{username}/{chart['id']}"] = (
                        f"HTTP {response.status_code}: {response.text[:200]}"
                    )
                else:
                    done += 1
            result.charts[username] = done
    result.seconds = time.monotonic() - started
    return result
