"""Run the whole pipeline once through Airflow's API and wait for its outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from metricstack.config import Settings
from metricstack.loading.declarations import load_systems
from metricstack.pipeline.ids import TRANSFORM_DAG_ID, ingest_dag_id
from metricstack.services.airflow_api import AirflowClient


class PipelineFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class RunOutcome:
    dag_id: str
    run_id: str
    state: str
    failed_tasks: tuple[str, ...]


def _outcome(client: AirflowClient, dag_id: str, run: dict[str, str]) -> RunOutcome:
    states = client.task_states(dag_id, run["dag_run_id"])
    failed = tuple(sorted(t for t, s in states.items() if s in {"failed", "upstream_failed"}))
    return RunOutcome(dag_id, run["dag_run_id"], run["state"], failed)


def client_for(settings: Settings) -> AirflowClient:
    return AirflowClient(settings.airflow_url, settings.admin_user, settings.admin_password)


def ingest_dag_ids(settings: Settings) -> list[str]:
    return [ingest_dag_id(s) for s in load_systems(settings.project_dir / "dags" / "sources")]


def enable_dags(settings: Settings, client: AirflowClient, timeout: float = 300) -> bool:
    """Wait for the DAGs to be parsed and unpause them, so that they also run on schedule.

    Returns whether any ingestion DAG had run before: if none had, the scheduler
    starts one run of each the moment it is unpaused.
    """
    ingest = ingest_dag_ids(settings)
    for dag_id in (TRANSFORM_DAG_ID, *ingest):
        client.wait_for_dag(dag_id, timeout)
    had_runs = any(client.runs(dag_id) for dag_id in ingest)
    for dag_id in (TRANSFORM_DAG_ID, *ingest):
        client.set_paused(dag_id, False)
    return had_runs


def run_once(
    settings: Settings, client: AirflowClient, *, trigger: bool, timeout: float = 1200
) -> list[RunOutcome]:
    """Wait for one run of every ingestion DAG, then for the transform run their assets start
    (the transform DAG waits for every raw table, see transform.py).

    With ``trigger`` the ingestion runs are started now; without it, the run the
    scheduler creates when a DAG is first unpaused is the one waited for.
    """
    outcomes = []
    started: datetime | None = None
    # all systems at once: their DAGs run side by side, as they do on schedule
    runs = {
        dag_id: client.trigger(dag_id) if trigger else client.wait_for_any_run(dag_id, timeout)
        for dag_id in ingest_dag_ids(settings)
    }
    for dag_id, run in runs.items():
        run = client.wait_for_run(dag_id, run["dag_run_id"], timeout)
        outcomes.append(_outcome(client, dag_id, run))
        begun = datetime.fromisoformat(run["start_date"])
        started = begun if started is None else min(started, begun)
    if any(o.state != "success" for o in outcomes) or started is None:
        return outcomes
    run = client.wait_for_new_run(TRANSFORM_DAG_ID, started, timeout)
    outcomes.append(_outcome(client, TRANSFORM_DAG_ID, run))
    return outcomes


def last_success(client: AirflowClient) -> dict[str, str] | None:
    runs = client.runs(TRANSFORM_DAG_ID)
    return next((r for r in runs if r["state"] == "success"), None)
