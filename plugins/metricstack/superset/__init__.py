"""Superset for metricstack: setup through its CLI, serving with gunicorn, a REST client.

Superset lives in its own virtualenv (.venvs/superset, SQLAlchemy 1.4); this package
runs in the platform virtualenv and drives it through subprocesses.
"""

from metricstack.superset.access import DemoLogin, demo_logins
from metricstack.superset.cache import WarmUp, expire_cached_data, warm_caches
from metricstack.superset.client import SupersetClient, SupersetError
from metricstack.superset.dbt_sync import DbtSync, DbtSyncError, sync_dbt_to_superset
from metricstack.superset.export import export_dashboards
from metricstack.superset.setup import (
    SupersetSetupError,
    apply_access,
    gunicorn_command,
    import_assets,
    setup_superset,
    superset_env,
)

__all__ = [
    "DbtSync",
    "DbtSyncError",
    "DemoLogin",
    "SupersetClient",
    "SupersetError",
    "SupersetSetupError",
    "WarmUp",
    "apply_access",
    "demo_logins",
    "expire_cached_data",
    "export_dashboards",
    "gunicorn_command",
    "import_assets",
    "setup_superset",
    "superset_env",
    "sync_dbt_to_superset",
    "warm_caches",
]
