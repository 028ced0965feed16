"""Superset settings of metricstack, read by Superset through SUPERSET_CONFIG_PATH.

Everything comes from the environment that metricstack.superset.superset_env() builds,
so this file holds no secret and no host. It runs inside the Superset virtualenv and
must not import metricstack (that package lives in the platform virtualenv).
"""

import json
import os
import shutil
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
# A chart's "Export to .CSV" and "Export to Excel" run its query again on the server
# (the chart data API with format csv/xlsx; xlsxwriter is in the Superset environment),
# with row-level security applied; `export: false` in roles.yml takes them away.
#
# A dashboard's "Download > Download as Image" (PNG) and "Export to PDF" are drawn on
# the server: the web server queues a Celery task, the Superset worker that metricstack
# starts beside gunicorn (`superset-worker` in `make status`) opens the dashboard in
# headless Chromium through Selenium and ChromeDriver as the requesting user (so with
# their row-level filters), and the browser polls until the PNG is in the screenshot
# cache; the PDF is made from it. The same endpoints serve charts' PNGs
# (/api/v1/chart/<id>/cache_screenshot/). superset_config/README.md has the details.
# Why Selenium and not Playwright (PLAYWRIGHT_REPORTS_AND_THUMBNAILS): Superset 6.1's
# Playwright driver launches Playwright's own browser build (no executable path is
# configurable), which cannot be downloaded here; Selenium drives Debian's chromium
# through its chromium-driver (`make browser` installs both; Superset depends on
# selenium already).
#
# METRICSTACK_SUPERSET_SCREENSHOTS: auto (default: on when ChromeDriver is installed),
# 1 or 0. Off, the two menu items fall back to Superset's in-browser drawing (a JPEG and
# a PDF made by the viewer's browser), which needs nothing on the server.
_SCREENSHOTS = os.environ.get("METRICSTACK_SUPERSET_SCREENSHOTS", "auto").lower()
if _SCREENSHOTS not in ("auto", "1", "0"):
    raise RuntimeError(
        f"METRICSTACK_SUPERSET_SCREENSHOTS must be auto, 1 or 0, not {_SCREENSHOTS!r}"
    )
CHROMEDRIVER = os.environ.get("METRICSTACK_SUPERSET_CHROMEDRIVER") or shutil.which("chromedriver")
SCREENSHOTS_ENABLED = _SCREENSHOTS == "1" or (_SCREENSHOTS == "auto" and bool(CHROMEDRIVER))
FEATURE_FLAGS.update(
    {
        # the switch both screenshot APIs check (and the list views' thumbnails: below)
        "THUMBNAILS": SCREENSHOTS_ENABLED,
        # POST /api/v1/dashboard/<id>/cache_dashboard_screenshot/, GET .../screenshot/
        "ENABLE_DASHBOARD_SCREENSHOT_ENDPOINTS": SCREENSHOTS_ENABLED,
        # the dashboard's Download menu uses them instead of drawing in the browser
        "ENABLE_DASHBOARD_DOWNLOAD_WEBDRIVER_SCREENSHOT": SCREENSHOTS_ENABLED,
        # no thumbnail recomputed at every save of a chart or dashboard
        "THUMBNAILS_SQLA_LISTENERS": False,
    }
)

# Celery: the broker and result backend the web server and the worker share. Redis when
# REDIS_URL is set (keys under the cache prefix, so installations sharing a Redis server
# never take each other's tasks); otherwise kombu's SQLAlchemy transport on SQLite files
# in the state folder (Superset's own default, moved out of the working directory):
# nothing to run on a fresh machine.
CELERY_DIR = Path(DATA_DIR) / "celery"
if REDIS_URL:
    _BROKER_URL = _RESULT_BACKEND = REDIS_URL
    _BROKER_OPTIONS: dict[str, object] = {"global_keyprefix": f"{CACHE_PREFIX}_celery_"}
else:
    CELERY_DIR.mkdir(parents=True, exist_ok=True)
    _BROKER_URL = f"sqla+sqlite:///{CELERY_DIR / 'broker.sqlite'}"
    _RESULT_BACKEND = f"db+sqlite:///{CELERY_DIR / 'results.sqlite'}"
    _BROKER_OPTIONS = {}


class CeleryConfig:
    broker_url = _BROKER_URL
    broker_transport_options = _BROKER_OPTIONS
    result_backend = _RESULT_BACKEND
    result_backend_transport_options = _BROKER_OPTIONS
    broker_connection_retry_on_startup = True
    # Superset's task modules (its default list): screenshots are superset.tasks.thumbnails
    imports = (
        "superset.sql_lab",
        "superset.tasks.scheduler",
        "superset.tasks.thumbnails",
        "superset.tasks.cache",
        "superset.tasks.slack",
    )
    worker_prefetch_multiplier = 1  # a screenshot takes seconds: no task waits behind one
    task_acks_late = False
    # No beat schedule and no beat process: alerts & reports are off, and the pipeline
    # warms the caches itself after each publication (metricstack.superset.warm_caches).


CELERY_CONFIG = CeleryConfig

# Where screenshots wait between the worker and the web server: Redis, else files.
THUMBNAIL_CACHE_CONFIG = _cache("screenshots", DATA_CACHE_TIMEOUT)
# Rendered as the user who asked (Superset's default), so row-level filters apply and
# the cache key holds the user and their filters.
# THUMBNAIL_EXECUTORS = [ExecutorType.CURRENT_USER]

# The webdriver: Selenium with Chromium. The worker runs as whoever runs the stack,
# root on CI, where Chromium needs --no-sandbox; the networking flags keep Chromium from
# calling Google's services on a machine without a network. ChromeDriver finds the
# system's Chromium itself (Superset 6.1 ignores WEBDRIVER_CONFIGURATION's
# binary_location with Selenium >= 4.10).
WEBDRIVER_TYPE = "chrome"
WEBDRIVER_OPTION_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--hide-scrollbars",
]
WEBDRIVER_CONFIGURATION = {
    "options": {"capabilities": {}, "preferences": {}},
    "service": {
        "executable_path": CHROMEDRIVER or "chromedriver",
        "log_output": os.devnull,
        "service_args": [],
        "port": 0,
        "env": {},
    },
}
# The address the worker's Chromium opens (the web server builds the URLs it hands the
# worker with it too): the stack sets it to the server it started.
WEBDRIVER_BASEURL = os.environ.get(
    "METRICSTACK_SUPERSET_WEBDRIVER_BASEURL", "http://127.0.0.1:8088/"
)
WEBDRIVER_BASEURL_USER_FRIENDLY = WEBDRIVER_BASEURL
# On two cores a dashboard of a dozen charts takes a while to query and draw.
SCREENSHOT_LOCATE_WAIT = 30
SCREENSHOT_LOAD_WAIT = 120
SCREENSHOT_SELENIUM_ANIMATION_WAIT = 2

# A screenshot is an export: only roles that may export data (`can_csv on Superset`,
# what `export: false` in roles.yml removes) may have one made or fetch one. Superset
# guards the dashboard endpoints with `can_cache_dashboard_screenshot on Dashboard` and
# `can_read`, and the chart ones with `can_read on Chart` alone, which every viewer has.
# And the list views' thumbnails, which the THUMBNAILS flag also turns on, are not
# served: each would be a Chromium run on the worker per user and dashboard or chart
# shown (the home page shows them at every sign-in).
_SCREENSHOT_ENDPOINTS = frozenset(
    {
        "DashboardRestApi.cache_dashboard_screenshot",
        "DashboardRestApi.screenshot",
        "ChartRestApi.cache_screenshot",
        "ChartRestApi.screenshot",
    }
)
_THUMBNAIL_ENDPOINTS = frozenset({"DashboardRestApi.thumbnail", "ChartRestApi.thumbnail"})


def FLASK_APP_MUTATOR(app: Any) -> None:  # Superset's hook, named by its config
    from flask import g, jsonify, request

    @app.before_request
    def screenshots_are_exports() -> Any:
        endpoint = request.endpoint or ""
        if endpoint in _THUMBNAIL_ENDPOINTS:
            return jsonify(message="Not found: thumbnails are not served"), 404
        if endpoint not in _SCREENSHOT_ENDPOINTS:
            return None
        from superset import security_manager

        if request.headers.get("Authorization", "").startswith("Bearer "):
            # API clients: Flask-AppBuilder sets g.user only once the JWT is read
            from flask_jwt_extended import verify_jwt_in_request

            try:
                verify_jwt_in_request(optional=True)
            except Exception:  # a bad token: the endpoint's own protect() answers 401
                return None
        user = getattr(g, "user", None)
        if user is None or user.is_anonymous:
            return None  # the endpoint's own protect() answers 401
        if security_manager.can_access("can_csv", "Superset"):
            return None
        return jsonify(message="Forbidden: this role may not export"), 403


CSV_EXPORT = {"encoding": "utf-8-sig"}  # Superset's default: Excel opens it as UTF-8

# No example data: metricstack never runs `superset load-examples`; the only dashboards
# come from our own bundle in superset_config/assets.

# Talisman sets HTTPS-oriented headers and a strict CSP; the demo is plain HTTP on
# localhost. Turn it back on behind a TLS-terminating proxy.
TALISMAN_ENABLED = False
# ...and do not warn about the missing CSP at every start: that is the choice above.
CONTENT_SECURITY_POLICY_WARNING = False
