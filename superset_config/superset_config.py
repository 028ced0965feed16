"""Superset settings of metricstack, read by Superset through SUPERSET_CONFIG_PATH.

Everything comes from the environment that metricstack.superset.superset_env() builds,
so this file holds no secret and no host. It runs inside the Superset virtualenv and
must not import metricstack (that package lives in the platform virtualenv).
"""

import json
import os
from pathlib import Path
from typing import Any


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

# -- caches ------------------------------------------------------------------------
# REDIS_URL (e.g. redis://127.0.0.1:6379/0) puts every cache in Redis: shared by all
# gunicorn workers and kept across restarts. Without it, chart metadata and query
# results go to files in the state folder, and the filter-state and explore-state
# caches stay in the metadata database (Superset's default, SupersetMetastoreCache).
REDIS_URL = os.environ.get("REDIS_URL", "")
# Keys of one installation start with this prefix (tests share a Redis server).
CACHE_PREFIX = os.environ.get("METRICSTACK_SUPERSET_CACHE_PREFIX", "metricstack_superset")
# Marts are rebuilt by the pipeline, which re-warms the charts after each publication
# (metricstack.superset.cache.warm_caches); an hour bounds staleness otherwise.
DATA_CACHE_TIMEOUT = int(os.environ.get("METRICSTACK_SUPERSET_DATA_CACHE_TIMEOUT", "3600"))


def _cache(kind: str, timeout: int, *, local: bool = True) -> dict[str, object]:
    """One Flask-Caching configuration: Redis, else files (or None: keep the default)."""
    prefix = f"{CACHE_PREFIX}_{kind}_"
    if REDIS_URL:
        return {
            "CACHE_TYPE": "RedisCache",
            "CACHE_REDIS_URL": REDIS_URL,
            "CACHE_DEFAULT_TIMEOUT": timeout,
            "CACHE_KEY_PREFIX": prefix,
        }
    if not local:
        return {}
    return {
        "CACHE_TYPE": "FileSystemCache",
        "CACHE_DIR": str(CACHE_DIR / kind),
        "CACHE_DEFAULT_TIMEOUT": timeout,
        "CACHE_KEY_PREFIX": prefix,
    }


CACHE_CONFIG = _cache("objects", 24 * 3600)  # chart and dashboard metadata
DATA_CACHE_CONFIG = _cache("data", DATA_CACHE_TIMEOUT)  # chart query results
if REDIS_URL:
    FILTER_STATE_CACHE_CONFIG = {
        **_cache("filter_state", 90 * 24 * 3600),
        "REFRESH_TIMEOUT_ON_RETRIEVAL": True,
    }
    EXPLORE_FORM_DATA_CACHE_CONFIG = {
        **_cache("explore", 7 * 24 * 3600),
        "REFRESH_TIMEOUT_ON_RETRIEVAL": True,
    }

# -- security ------------------------------------------------------------------------
# Roles, demo users and row-level security filters are code: superset_config/roles.yml,
# applied by `metricstack setup`. Row-level filters apply to chart data, CSV and Excel
# exports alike (and are part of the cache key, so a cached result never crosses
# regions); SQL Lab ignores them (RLS_IN_SQLLAB is off), which is why no role with a
# row-level filter has SQL Lab.
FEATURE_FLAGS = {
    # A dashboard lists the roles that may see it, beside dataset access.
    "DASHBOARD_RBAC": True,
}
# The action log: every view and API call is written to the `logs` table (Superset's
# DBEventLogger, the default) and shown under Settings > Action Log to roles with
# `can_read on Log` (Admin, Auditor).
SUPERSET_LOG_VIEW = True

# Sign-in. METRICSTACK_SUPERSET_AUTH: db (default: users in the metadata database),
# oidc (any OpenID Connect provider) or ldap. superset_config/README.md has the
# variables of each. New SSO users get METRICSTACK_SUPERSET_AUTH_DEFAULT_ROLE (Executive:
# view only) unless METRICSTACK_SUPERSET_AUTH_ROLES_MAPPING (JSON: group -> roles) says more.
_AUTH = os.environ.get("METRICSTACK_SUPERSET_AUTH", "db").lower()
if _AUTH not in ("db", "oidc", "ldap"):
    raise RuntimeError(f"METRICSTACK_SUPERSET_AUTH must be db, oidc or ldap, not {_AUTH!r}")
if _AUTH != "db":
    from flask_appbuilder.security.manager import AUTH_LDAP, AUTH_OAUTH

    AUTH_USER_REGISTRATION = True
    AUTH_USER_REGISTRATION_ROLE = os.environ.get(
        "METRICSTACK_SUPERSET_AUTH_DEFAULT_ROLE", "Executive"
    )
    AUTH_ROLES_MAPPING = json.loads(os.environ.get("METRICSTACK_SUPERSET_AUTH_ROLES_MAPPING", "{}"))
    AUTH_ROLES_SYNC_AT_LOGIN = bool(AUTH_ROLES_MAPPING)
if _AUTH == "oidc":
    from superset.security import SupersetSecurityManager

    AUTH_TYPE = AUTH_OAUTH
    OAUTH_PROVIDERS = [
        {
            "name": "oidc",
            "icon": "fa-key",
            "token_key": "access_token",
            "remote_app": {
                "client_id": _required("METRICSTACK_SUPERSET_OIDC_CLIENT_ID"),
                "client_secret": _required("METRICSTACK_SUPERSET_OIDC_CLIENT_SECRET"),
                # https://issuer/.well-known/openid-configuration
                "server_metadata_url": _required("METRICSTACK_SUPERSET_OIDC_METADATA_URL"),
                "client_kwargs": {
                    "scope": os.environ.get(
                        "METRICSTACK_SUPERSET_OIDC_SCOPE", "openid email profile"
                    )
                },
            },
        }
    ]

    class OidcSecurityManager(SupersetSecurityManager):
        """Flask-AppBuilder knows named providers only; this reads any OIDC userinfo."""

        def get_oauth_user_info(self, provider: str, resp: dict[str, Any]) -> dict[str, Any]:
            if provider != "oidc":
                return dict(super().get_oauth_user_info(provider, resp))
            info = self.appbuilder.sm.oauth_remotes[provider].userinfo(token=resp)
            claim = os.environ.get("METRICSTACK_SUPERSET_OIDC_GROUPS_CLAIM", "groups")
            return {
                "username": info.get("preferred_username") or info["email"],
                "first_name": info.get("given_name", ""),
                "last_name": info.get("family_name", ""),
                "email": info.get("email", ""),
                "role_keys": info.get(claim, []),
            }

    CUSTOM_SECURITY_MANAGER = OidcSecurityManager
elif _AUTH == "ldap":
    AUTH_TYPE = AUTH_LDAP
    AUTH_LDAP_SERVER = _required("METRICSTACK_SUPERSET_LDAP_SERVER")  # ldaps://host:636
    AUTH_LDAP_SEARCH = _required("METRICSTACK_SUPERSET_LDAP_SEARCH")  # ou=people,dc=…
    AUTH_LDAP_UID_FIELD = os.environ.get("METRICSTACK_SUPERSET_LDAP_UID_FIELD", "uid")
    AUTH_LDAP_BIND_USER = os.environ.get("METRICSTACK_SUPERSET_LDAP_BIND_USER", "")
    AUTH_LDAP_BIND_PASSWORD = os.environ.get("METRICSTACK_SUPERSET_LDAP_BIND_PASSWORD", "")
    AUTH_LDAP_USE_TLS = os.environ.get("METRICSTACK_SUPERSET_LDAP_USE_TLS", "0") == "1"
    AUTH_LDAP_FIRSTNAME_FIELD = "givenName"
    AUTH_LDAP_LASTNAME_FIELD = "sn"
    AUTH_LDAP_EMAIL_FIELD = "mail"
    AUTH_LDAP_GROUP_FIELD = "memberOf"  # the groups AUTH_ROLES_MAPPING maps

# -- exports: PDF, image, CSV, Excel -------------------------------------------------
# A dashboard's "Download > Export to PDF" and "Download as Image", and a chart's
# "Download as image", are drawn in the viewer's browser: no server part, nothing to
# configure (checked with Chromium against Superset 6.1: a JPEG and a PDF of the Finance
# dashboard). A chart's "Export to .CSV" and "Export to Excel" run its query again on
# the server (the chart data API with format csv/xlsx; xlsxwriter is in the Superset
# environment), with row-level security applied; `export: false` in roles.yml takes them
# away from a role. The server-side alternatives stay off on purpose: thumbnails,
# ENABLE_DASHBOARD_SCREENSHOT_ENDPOINTS / ENABLE_DASHBOARD_DOWNLOAD_WEBDRIVER_SCREENSHOT
# (webdriver PDF/PNG) and alerts & reports are Celery tasks (a broker, a worker, for
# reports a beat) driving a headless browser (Selenium's chromedriver, or Playwright's
# own browser download, which cannot run here); with the two screenshot flags on, the
# dashboard download menu would depend on that worker instead of the browser.
CSV_EXPORT = {"encoding": "utf-8-sig"}  # Superset's default: Excel opens it as UTF-8

# No example data: metricstack never runs `superset load-examples`; the only dashboards
# come from our own bundle in superset_config/assets.

# Talisman sets HTTPS-oriented headers and a strict CSP; the demo is plain HTTP on
# localhost. Turn it back on behind a TLS-terminating proxy.
TALISMAN_ENABLED = False
# ...and do not warn about the missing CSP at every start: that is the choice above.
CONTENT_SECURITY_POLICY_WARNING = False
