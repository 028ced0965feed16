"""Superset for metricstack: setup through its CLI, serving with gunicorn, a REST client.

Superset lives in its own virtualenv (.venvs/superset, SQLAlchemy 1.4); this package
runs in the platform virtualenv and drives it through subprocesses.
"""

from metricstack.superset.client import SupersetClient, SupersetError
from metricstack.superset.setup import (
    SupersetSetupError,
    gunicorn_command,
    import_assets,
    setup_superset,
    superset_env,
)

__all__ = [
    "SupersetClient",
    "SupersetError",
    "SupersetSetupError",
    "gunicorn_command",
    "import_assets",
    "setup_superset",
    "superset_env",
]
