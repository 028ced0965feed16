"""Airflow plugin: the auditors' portal (lineage, dbt docs, Data Docs) in Airflow's API server.

Airflow 3 serves a plugin's FastAPI app under its ``url_prefix`` and lists its external
views in the UI's navigation (Browse menu), shown inside the UI at ``/plugin/<url_route>``.
The app is metricstack/lineage/portal.py, built on its first request (lazy.py); it
authenticates every request itself with the Airflow login (Airflow does not
authenticate plugin apps). Importing this file must stay cheap and touch nothing: the
scheduler and every task process import the plugins folder.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from metricstack.lineage.lazy import LazyPortal

URL_PREFIX = "/metricstack"


class MetricstackPortalPlugin(AirflowPlugin):
    name = "metricstack_portal"
    fastapi_apps = [  # noqa: RUF012 (AirflowPlugin's attributes are class-level lists)
        {"app": LazyPortal(), "url_prefix": URL_PREFIX, "name": "metricstack portal"}
    ]
    external_views = [  # noqa: RUF012 (as above)
        {
            "name": "Lineage (auditors)",
            "href": f"{URL_PREFIX}/lineage",
            "destination": "nav",
            "category": "browse",
            "url_route": "metricstack-lineage",
        },
        {
            "name": "dbt docs",
            "href": f"{URL_PREFIX}/dbt-docs",
            "destination": "nav",
            "category": "browse",
            "url_route": "metricstack-dbt-docs",
        },
        {
            "name": "Data Docs (quality gates)",
            "href": f"{URL_PREFIX}/data-docs/",
            "destination": "nav",
            "category": "browse",
            "url_route": "metricstack-data-docs",
        },
    ]
