"""Superset for metricstack: setup through its CLI, serving with gunicorn, a REST client.

Superset lives in its own virtualenv (.venvs/superset, SQLAlchemy 1.4); this package
runs in the platform virtualenv and drives it through subprocesses.
"""

from metricstack.superset.access import DemoLogin, demo_logins
from metricstack.superset.cache import WarmUp, warm_caches
from metricstack.superset.client import SupersetClient, SupersetError
from metricstack.superset.setup import (
    SupersetSetupError,
    apply_access,
    gunicorn_command,
    import_assets,
    setup_superset,
    superset_env,
)

__all__ = [
    "DemoLogin",
    "SupersetClient",
    "SupersetError",
    "SupersetSetupError",
    "WarmUp",
    "apply_access",
    "demo_logins",
    "gunicorn_command",
    "import_assets",
    "setup_superset",
    "superset_env",
    "warm_caches",
]
