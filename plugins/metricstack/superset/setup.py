"""Prepare Superset: metadata schema, admin user, roles, the dashboards bundle.

This runs in the platform virtualenv and drives the Superset virtualenv's own CLI as
subprocesses (SQLAlchemy 1.4 against 2.x: they cannot share a process). Every CLI call
builds the whole Flask app, about 10 s each, so setup_superset() reads the metadata
database directly (psycopg, milliseconds) and a stamp file to skip the steps whose
inputs did not change.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import LiteralString

import psycopg

from metricstack.config import Settings, with_driver
from metricstack.superset import access, assets

STAMP_NAME = "setup-stamp.json"
LOG_NAME = "superset-setup.log"
STEP_TIMEOUT = 600  # seconds; a first `db upgrade` takes ~15 s
# read by superset_config.py (superset_config/README.md lists them)
PASSED_THROUGH = ("REDIS_URL",)
PASSED_THROUGH_PREFIX = "METRICSTACK_SUPERSET_"


class SupersetSetupError(RuntimeError):
    """A step of the Superset setup failed; the message names the step and the log."""


# -- environment and commands --------------------------------------------------------
def venv_dir(settings: Settings) -> Path:
    return settings.venvs_dir / "superset"


def config_path(settings: Settings) -> Path:
    return settings.project_dir / "superset_config" / "superset_config.py"


def superset_env(settings: Settings) -> dict[str, str]:
    """The environment of every Superset process (CLI and web server)."""
    env = dict(os.environ)
    # The platform's PYTHONPATH (plugins/, the platform venv) must not leak into the
    # Superset interpreter: SQLAlchemy 2 on its path would break Superset at import.
    for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"):
        env.pop(name, None)
    bin_dir = venv_dir(settings) / "bin"
    env["VIRTUAL_ENV"] = str(venv_dir(settings))
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        {
            "SUPERSET_CONFIG_PATH": str(config_path(settings)),
            "SUPERSET_SECRET_KEY": settings.secret("SUPERSET_SECRET_KEY"),
            "SUPERSET_SQLALCHEMY_URI": with_driver(settings.superset_db_url, "psycopg2"),
            "METRICSTACK_STATE_DIR": str(settings.state_dir),
            # Superset derives some defaults (its log file, the examples URI) from
            # SUPERSET_HOME before it reads superset_config.py: keep them in the state dir.
            "SUPERSET_HOME": str(settings.superset_home),
        }
    )
    # Settings given to load_settings() rather than exported (tests, the CLI) reach
    # superset_config.py too: the cache's Redis and the sign-in (SSO) options.
    for name, value in settings.environ.items():
        if name in PASSED_THROUGH or name.startswith(PASSED_THROUGH_PREFIX):
            env[name] = value
    return env


def superset_command(settings: Settings, *args: str) -> list[str]:
    return [str(venv_dir(settings) / "bin" / "superset"), *args]


def gunicorn_command(settings: Settings) -> list[str]:
    """Serve Superset on settings.host:settings.superset_port (run it with superset_env)."""
    return [
        str(venv_dir(settings) / "bin" / "gunicorn"),
        "--workers",
        "2",
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "--bind",
        f"{settings.host}:{settings.superset_port}",
        # chart queries can be slow; gunicorn's default of 30 s kills the worker
        "--timeout",
        "120",
        # Explore puts whole form_data in GET URLs: longer than gunicorn's 4 KiB default
        "--limit-request-line",
        "0",
        "--limit-request-field_size",
        "0",
        "--access-logfile",
        "-",
        "superset.app:create_app()",
    ]


def installed_version(settings: Settings) -> str:
    """apache-superset's version in the Superset venv, read without starting it."""
    site_packages = [str(p) for p in venv_dir(settings).glob("lib/python*/site-packages")]
    for dist in metadata.distributions(name="apache-superset", path=site_packages):
        return dist.version
    raise SupersetSetupError(f"apache-superset is not installed in {venv_dir(settings)}")


# -- what the metadata database says ---------------------------------------------------
@dataclass(frozen=True)
class _Live:
    alembic_version: str | None
    admin_password_hash: str | None
    dashboard_present: bool


def _live_state(settings: Settings) -> _Live:
    with psycopg.connect(settings.superset_db_url, autocommit=True) as conn, conn.cursor() as cur:

        def scalar(table: str, query: LiteralString, *params: object) -> object:
            cur.execute("select to_regclass(%s)", (table,))
            exists = cur.fetchone()
            if exists is None or exists[0] is None:  # a fresh database has no tables yet
                return None
            cur.execute(query, params)
            row = cur.fetchone()
            return None if row is None else row[0]

        version = scalar("alembic_version", "select version_num from alembic_version")
        password = scalar(
            "ab_user", "select password from ab_user where username = %s", settings.admin_user
        )
        dashboard = scalar(
            "dashboards", "select 1 from dashboards where uuid = %s", assets.DASHBOARD_UUID
        )
    return _Live(
        alembic_version=str(version) if version else None,
        admin_password_hash=str(password) if password else None,
        dashboard_present=dashboard is not None,
    )


def password_matches(stored_hash: str, password: str) -> bool:
    """Check a Werkzeug password hash (what Flask-AppBuilder stores) with hashlib.

    Werkzeug is not in the platform venv; its format is ``method$salt$hexdigest``.
    Unknown methods answer False, which only costs a needless password reset.
    """
    try:
        method, salt, expected = stored_hash.split("$", 2)
        kind, *params = method.split(":")
        if kind == "scrypt":
            n, r, p = (int(x) for x in params)
            actual = hashlib.scrypt(
                password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p
            ).hex()
        elif kind == "pbkdf2":
            actual = hashlib.pbkdf2_hmac(
                params[0], password.encode(), salt.encode(), int(params[1])
            ).hex()
        else:
            return False
    except (ValueError, IndexError):
        return False
    return hmac.compare_digest(actual, expected)


# -- running steps -------------------------------------------------------------------
class _Runner:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.env = superset_env(settings)
        self.log_file = settings.logs_dir / LOG_NAME
        self.log_file.parent.mkdir(parents=True, exist_ok=True)

    def log(self, text: str) -> None:
        with self.log_file.open("a") as log:
            log.write(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {text}\n")

    def superset(self, step: str, *args: str, stdin: str | None = None) -> None:
        """Run `superset ARGS`; secrets go through stdin, never on the command line."""
        self.run(step, *superset_command(self.settings, *args), stdin=stdin)

    def run(self, step: str, *command: str, stdin: str | None = None) -> None:
        self.log(f"--- {step}: {' '.join(command)}")
        started = time.monotonic()
        with self.log_file.open("a") as log:
            try:
                result = subprocess.run(
                    command,
                    env=self.env,
                    cwd=self.settings.superset_home,
                    input=stdin,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    text=True,
                    timeout=STEP_TIMEOUT,
                    check=False,
                )
                returncode: int | str = result.returncode
            except subprocess.TimeoutExpired:
                returncode = f"timeout after {STEP_TIMEOUT} s"
            except OSError as error:  # e.g. the Superset venv is missing
                returncode = str(error)
        self.log(f"--- {step}: exit {returncode} in {time.monotonic() - started:.1f} s")
        if returncode != 0:
            raise SupersetSetupError(
                f"Superset setup step '{step}' failed ({returncode}); see {self.log_file}"
            )


def _read_stamp(path: Path) -> dict[str, str]:
    try:
        return dict(json.loads(path.read_text()))
    except (FileNotFoundError, ValueError):
        return {}


def _write_stamp(path: Path, stamp: dict[str, str]) -> None:
    path.write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")


def setup_superset(settings: Settings) -> None:
    """Idempotent: upgrade the schema, make the admin, sync roles, import dashboards,
    apply roles.yml (roles, demo users, row-level security).

    A step runs when the metadata database or the stamp file says its inputs changed:
    the Superset version, the admin password, the bundle, the warehouse URI or what
    access.fingerprint() covers.
    """
    settings.superset_home.mkdir(parents=True, exist_ok=True)
    runner = _Runner(settings)
    stamp_file = settings.superset_home / STAMP_NAME
    stamp = _read_stamp(stamp_file)
    version = installed_version(settings)
    try:
        live = _live_state(settings)
    except psycopg.Error as error:
        raise SupersetSetupError(
            f"Superset setup step 'read metadata database' failed: {error}"
        ) from error

    upgraded = False
    if live.alembic_version is None or stamp.get("db_upgrade") != (
        f"{version} {live.alembic_version}"
    ):
        runner.superset("db upgrade", "db", "upgrade")
        live = _live_state(settings)
        stamp["db_upgrade"] = f"{version} {live.alembic_version}"
        _write_stamp(stamp_file, stamp)
        upgraded = True

    password = settings.admin_password
    if live.admin_password_hash is None:
        runner.superset(
            "create admin user",
            *("fab", "create-admin", "--username", settings.admin_user),
            *("--firstname", "Admin", "--lastname", "User"),
            *("--email", f"{settings.admin_user}@localhost"),
            stdin=f"{password}\n{password}\n",
        )
    elif not password_matches(live.admin_password_hash, password):
        runner.superset(
            "reset admin password",
            *("fab", "reset-password", "--username", settings.admin_user),
            stdin=f"{password}\n{password}\n",
        )

    # `superset init` syncs roles and permissions with the code: needed after a
    # schema upgrade or a new Superset version, not on every start.
    if upgraded or stamp.get("init") != version:
        runner.superset("init", "init")
        stamp["init"] = version
        _write_stamp(stamp_file, stamp)

    if not live.dashboard_present or stamp.get("assets") != assets.fingerprint(settings):
        stamp["assets"] = import_assets(settings, _runner=runner)
        _write_stamp(stamp_file, stamp)

    # after the import: row-level filters go on the datasets that exist
    if stamp.get("access") != access.fingerprint(settings, version):
        stamp["access"] = apply_access(settings, _runner=runner)
        _write_stamp(stamp_file, stamp)
    runner.log("--- setup_superset: done")


def apply_access(settings: Settings, *, _runner: _Runner | None = None) -> str:
    """Apply superset_config/roles.yml: roles, demo users, row-level security filters,
    the dashboards' roles.

    Idempotent (each managed role and filter is rewritten to what the file says).
    Returns the access fingerprint after applying, for the stamp file.
    """
    runner = _runner or _Runner(settings)
    script = Path(__file__).with_name("apply_access.py")
    logged = runner.log_file.stat().st_size if runner.log_file.exists() else 0
    try:
        runner.run(
            "roles, users, row-level security, dashboards",
            *(str(venv_dir(settings) / "bin" / "python"), "-I", str(script)),
            stdin=access.payload_json(settings),  # holds the demo password: never in argv
        )
    except SupersetSetupError as error:
        # a refusal of roles.yml (a dashboard given to a role that may not see it) is
        # the user's to fix: say what it is rather than only where the log is
        with runner.log_file.open() as log:
            log.seek(logged)
            refused = access.refusal(log.read())
        if refused:
            raise SupersetSetupError(f"{error}:\n{refused}") from error
        raise
    return access.fingerprint(settings, installed_version(settings))


def import_assets(settings: Settings, *, _runner: _Runner | None = None) -> str:
    """Import the dashboards bundle, overwriting what an earlier import made.

    Objects are matched by their fixed UUIDs, so a re-import updates the Revenue
    dashboard, its charts, dataset and database in place instead of adding copies.
    Returns the bundle's fingerprint.
    """
    runner = _runner or _Runner(settings)
    bundle = assets.build_zip(settings, settings.superset_home / "assets-import.zip")
    script = Path(__file__).with_name("import_bundle.py")
    try:
        # -I: an isolated interpreter; neither this folder nor PYTHONPATH on its path
        runner.run(
            "import dashboards",
            str(venv_dir(settings) / "bin" / "python"),
            *("-I", str(script), str(bundle), settings.admin_user),
        )
    finally:
        bundle.unlink(missing_ok=True)  # it holds the reporting role's password
    return assets.fingerprint(settings)
