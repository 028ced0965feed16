"""Airflow of the local stack: metadata migration, its four processes, its login."""

from __future__ import annotations

import json
import subprocess
from importlib.metadata import version

import httpx
import psycopg

from metricstack.config import Settings
from metricstack.services.environment import airflow_env, bin_path
from metricstack.services.processes import Service

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def _airflow(settings: Settings, *args: str, log_name: str) -> None:
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    log = settings.logs_dir / f"{log_name}.log"
    with log.open("ab") as out:
        result = subprocess.run(
            [bin_path("airflow"), *args],
            env=airflow_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"`airflow {' '.join(args)}` failed; see {log}:\n{tail}")


def setup(settings: Settings) -> None:
    """Migrate the metadata database and set the admin login; safe to re-run."""
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    # the OpenLineage file transport appends to this file but does not create its folder
    settings.lineage_file.parent.mkdir(parents=True, exist_ok=True)
    passwords = settings.airflow_home / "simple_auth_passwords.json"
    passwords.write_text(json.dumps({settings.admin_user: settings.admin_password}))
    passwords.chmod(0o600)
    # `airflow db migrate` costs seconds even with nothing to do: skip it when the
    # database is at the revision the last migration by this Airflow version left.
    stamp = settings.airflow_home / "migrated.stamp"
    current = f"{version('apache-airflow-core')} {_revision(settings)}"
    if stamp.exists() and stamp.read_text() == current:
        return
    _airflow(settings, "db", "migrate", log_name="airflow-setup")
    stamp.write_text(f"{version('apache-airflow-core')} {_revision(settings)}")


def _revision(settings: Settings) -> str | None:
    """The metadata database's Alembic revision; None before the first migration."""
    with psycopg.connect(settings.airflow_db_url) as conn:
        exists = conn.execute("select to_regclass('alembic_version')").fetchone()
        if not exists or exists[0] is None:
            return None
        row = conn.execute("select version_num from alembic_version").fetchone()
        return str(row[0]) if row else None


def services(settings: Settings) -> list[Service]:
    env = airflow_env(settings)
    return [
        Service(
            name=f"airflow-{component}",
            command=[bin_path("airflow"), component],
            env=env,
            port=settings.airflow_port if component == "api-server" else None,
            cwd=settings.airflow_home,
        )
        for component in COMPONENTS
    ]


def is_healthy(settings: Settings) -> bool:
    try:
        response = httpx.get(f"{settings.airflow_url}/api/v2/monitor/health", timeout=3)
    except httpx.HTTPError:
        return False
    if response.status_code != 200:
        return False
    body = response.json()
    return all(
        body.get(part, {}).get("status") == "healthy"
        for part in ("metadatabase", "scheduler", "dag_processor", "triggerer")
    )
