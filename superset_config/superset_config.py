"""Superset settings of metricstack, read by Superset through SUPERSET_CONFIG_PATH.

Everything comes from the environment that metricstack.superset.superset_env() builds,
so this file holds no secret and no host. It runs inside the Superset virtualenv and
must not import metricstack (that package lives in the platform virtualenv).
"""

import os
from pathlib import Path


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        # Superset would otherwise fall back to its public default key (and refuse to
        # start) or to a SQLite file in ~/.superset: neither is what anyone wants.
        raise RuntimeError(
            f"{name} is not set: start Superset through metricstack "
            "(metricstack.superset.superset_env), or export it yourself"
        )
    return value


SECRET_KEY = _required("SUPERSET_SECRET_KEY")
SQLALCHEMY_DATABASE_URI = _required("SUPERSET_SQLALCHEMY_URI")  # postgresql+psycopg2://…

# All generated files go to the git-ignored state folder, never into site-packages.
DATA_DIR = str(Path(_required("METRICSTACK_STATE_DIR")) / "superset")
UPLOAD_FOLDER = str(Path(DATA_DIR) / "uploads")
CACHE_DIR = Path(DATA_DIR) / "cache"

# Local file caches: enough for one machine. Redis replaces them in a later issue (the
# filter-state and explore caches stay in the metadata database, Superset's default).
CACHE_CONFIG = {
    "CACHE_TYPE": "FileSystemCache",
    "CACHE_DIR": str(CACHE_DIR / "objects"),
    "CACHE_DEFAULT_TIMEOUT": 24 * 3600,
    "CACHE_KEY_PREFIX": "superset_",
}
DATA_CACHE_CONFIG = {
    "CACHE_TYPE": "FileSystemCache",
    "CACHE_DIR": str(CACHE_DIR / "data"),
    # Marts are rebuilt by the daily pipeline; an hour keeps dashboards fresh enough.
    "CACHE_DEFAULT_TIMEOUT": 3600,
    "CACHE_KEY_PREFIX": "superset_data_",
}

# No example data: metricstack never runs `superset load-examples`; the only dashboards
# come from our own bundle in superset_config/assets.

# Talisman sets HTTPS-oriented headers and a strict CSP; the demo is plain HTTP on
# localhost. Turn it back on behind a TLS-terminating proxy.
TALISMAN_ENABLED = False
# ...and do not warn about the missing CSP at every start: that is the choice above.
CONTENT_SECURITY_POLICY_WARNING = False
