"""The local stack as a whole: set up, start, check, stop and wipe."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from metricstack.config import Settings
from metricstack.services import airflow, dbt, postgres, processes, sample_sources
from metricstack.superset.setup import gunicorn_command, setup_superset, superset_env, venv_dir
from metricstack.warehouse.bootstrap import ensure_database, ensure_warehouse

Say = Callable[[str], None]

SUPERSET = "superset"
# Superset's Celery worker: server-side screenshots (a dashboard's Download as Image and
# Export to PDF, chart PNGs) in headless Chromium; superset_config.py configures it.
SUPERSET_WORKER = "superset-worker"
WORKER_BASEURL = "METRICSTACK_SUPERSET_WEBDRIVER_BASEURL"


def check_ports(settings: Settings) -> None:
    """Fail before any work when a port this stack must open is taken by something else."""
    wanted = []
    if settings.embedded_pg and not postgres.is_running(settings):
        wanted.append((settings.pg_port, "the embedded PostgreSQL", "METRICSTACK_PG_PORT"))
    if not processes.running_pid(settings, "airflow-api-server"):
        wanted.append((settings.airflow_port, "Airflow", "METRICSTACK_AIRFLOW_PORT"))
    if not processes.running_pid(settings, SUPERSET):
        wanted.append((settings.superset_port, "Superset", "METRICSTACK_SUPERSET_PORT"))
    if not processes.running_pid(settings, sample_sources.CRM):
        wanted.append((settings.crm_port, "the sample CRM API", "METRICSTACK_CRM_PORT"))
    if not processes.running_pid(settings, sample_sources.S3):
        wanted.append((settings.s3_port, "the sample S3 (moto)", "METRICSTACK_S3_PORT"))
    for port, what, setting in wanted:
        processes.ensure_port_free(settings.host, port, what, setting)


def setup(settings: Settings, say: Say) -> None:
    """Everything before the servers start; each step is skipped or quick when done."""
    settings.ensure_secrets()
    if settings.embedded_pg:
        say(
            f"embedded PostgreSQL on {settings.host}:{settings.pg_port} (data in {settings.pgdata})"
        )
        postgres.initialise(settings)
        postgres.start(settings)
    for url in (settings.airflow_db_url, settings.superset_db_url):
        ensure_database(url)
    say("warehouse: schemas, roles and audit tables")
    ensure_warehouse(settings)
    sample_sources.seed_sample_sources(settings, say)
    say("dbt: the manifest Cosmos renders the transform DAG from")
    dbt.write_manifest(settings)
    say("Airflow: metadata database and admin login")
    airflow.setup(settings)
    say("Superset: metadata database, admin login, dashboards")
    setup_superset(settings)


def superset_server_env(settings: Settings) -> dict[str, str]:
    """superset_env() plus the address the worker's Chromium opens: this stack's
    Superset, unless METRICSTACK_SUPERSET_WEBDRIVER_BASEURL says otherwise (a proxy)."""
    env = superset_env(settings)
    env.setdefault(WORKER_BASEURL, f"{settings.superset_url}/")
    return env


def superset_service(settings: Settings) -> processes.Service:
    return processes.Service(
        name=SUPERSET,
        command=gunicorn_command(settings),
        env=superset_server_env(settings),
        port=settings.superset_port,
        cwd=settings.superset_home,
    )


def superset_worker_service(settings: Settings) -> processes.Service:
    """Superset's Celery worker, as Superset documents it (`celery --app=superset.tasks.
    celery_app:app worker`). Two processes: a dashboard and a chart at once on two cores;
    no gossip or mingle, so workers of other installations on one Redis never talk."""
    return processes.Service(
        name=SUPERSET_WORKER,
        command=[
            str(venv_dir(settings) / "bin" / "celery"),
            "--app=superset.tasks.celery_app:app",
            "worker",
            "--loglevel=INFO",
            "--pool=prefork",
            "--concurrency=2",
            "--without-gossip",
            "--without-mingle",
            f"--hostname=superset-{settings.superset_port}@%h",
        ],
        env=superset_server_env(settings),
        cwd=settings.superset_home,
    )


def worker_ready(settings: Settings, since: int = 0) -> bool:
    """Celery logs '<name> ready.' once it consumes; ``since``: the log's size before."""
    path = processes.log_file(settings, SUPERSET_WORKER)
    try:
        with path.open("rb") as log:
            log.seek(since)
            return b" ready." in log.read()
    except FileNotFoundError:
        return False


def superset_healthy(settings: Settings) -> bool:
    try:
        return httpx.get(f"{settings.superset_url}/health", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def start(settings: Settings, say: Say) -> None:
    """Start the sample sources, Airflow's four processes, Superset and its worker; wait
    until they answer. The S3 drops are published while Airflow and Superset boot."""
    settings.superset_home.mkdir(parents=True, exist_ok=True)
    sample_sources.start(settings)
    for service in airflow.services(settings):
        processes.start(settings, service, "METRICSTACK_AIRFLOW_PORT")
    processes.start(settings, superset_service(settings), "METRICSTACK_SUPERSET_PORT")
    worker_log = processes.log_file(settings, SUPERSET_WORKER)
    worker_log_size = worker_log.stat().st_size if worker_log.exists() else 0
    worker_started = not processes.running_pid(settings, SUPERSET_WORKER)
    processes.start(settings, superset_worker_service(settings))
    say(f"sample sources: CRM API on {settings.crm_url}, S3 (moto) on {settings.s3_url}")
    sample_sources.wait(settings)
    sample_sources.publish_drops(settings, say)
    say("waiting for Airflow and Superset to answer")
    processes.wait_until(
        lambda: airflow.is_healthy(settings),
        "a healthy Airflow",
        240,
        settings,
        "airflow-api-server",
    )
    processes.wait_until(
        lambda: superset_healthy(settings), "a healthy Superset", 240, settings, SUPERSET
    )
    if worker_started:
        processes.wait_until(
            lambda: worker_ready(settings, worker_log_size),
            "a ready Superset worker",
            240,
            settings,
            SUPERSET_WORKER,
        )


def _airflow_names() -> list[str]:
    # by name, not from airflow.services(): building its environment needs the secrets,
    # and stop and status must work whatever state the folder is in
    return [f"airflow-{component}" for component in airflow.COMPONENTS]


def stop(settings: Settings, say: Say) -> None:
    for name in (SUPERSET_WORKER, SUPERSET, *reversed(_airflow_names())):
        if processes.stop(settings, name):
            say(f"stopped {name}")
    sample_sources.stop(settings, say)
    if settings.embedded_pg and postgres.is_running(settings):
        postgres.stop(settings)
        say("stopped embedded PostgreSQL")


def reset(settings: Settings, say: Say) -> None:
    stop(settings, say)
    if settings.state_dir.exists():
        shutil.rmtree(settings.state_dir)
        say(f"removed {settings.state_dir}")


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    where: str


def status(settings: Settings) -> list[ServiceStatus]:
    rows = []
    if settings.embedded_pg:
        rows.append(
            ServiceStatus(
                "postgres (embedded)", postgres.pid(settings), f"{settings.host}:{settings.pg_port}"
            )
        )
    for name in _airflow_names():
        where = settings.airflow_url if name == "airflow-api-server" else ""
        rows.append(ServiceStatus(name, processes.running_pid(settings, name), where))
    rows.append(
        ServiceStatus(SUPERSET, processes.running_pid(settings, SUPERSET), settings.superset_url)
    )
    rows.append(
        ServiceStatus(
            SUPERSET_WORKER,
            processes.running_pid(settings, SUPERSET_WORKER),
            "screenshots (Celery)",
        )
    )
    for name, where in (
        (sample_sources.CRM, settings.crm_url),
        (sample_sources.S3, settings.s3_url),
    ):
        rows.append(ServiceStatus(name, processes.running_pid(settings, name), where))
    return rows
