"""A small client of Airflow's REST API (v2), as the demo and the tests use it."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx

TERMINAL = {"success", "failed"}


class AirflowClient:
    def __init__(self, base_url: str, username: str, password: str) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=30)
        token = self._http.post("/auth/token", json={"username": username, "password": password})
        token.raise_for_status()
        self._http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def _get(self, path: str, **params: Any) -> Any:
        response = self._http.get(f"/api/v2{path}", params=params)
        response.raise_for_status()
        return response.json()

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        response = self._http.get(f"/api/v2/dags/{dag_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return dict(response.json())

    def import_errors(self) -> list[dict[str, Any]]:
        return list(self._get("/importErrors")["import_errors"])

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self._http.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": paused}).raise_for_status()

    def trigger(self, dag_id: str) -> dict[str, Any]:
        response = self._http.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None})
        response.raise_for_status()
        return dict(response.json())

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return list(
            self._get(f"/dags/{dag_id}/dagRuns", order_by="-run_after", limit=50)["dag_runs"]
        )

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self._get(f"/dags/{dag_id}/dagRuns/{run_id}"))

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        body = self._get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=500)
        return {ti["task_id"]: ti["state"] for ti in body["task_instances"]}

    def wait_for_dag(self, dag_id: str, timeout: float) -> dict[str, Any]:
        """Wait until the dag-processor has parsed ``dag_id``; report import errors."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.dag(dag_id)
            if found:
                return found
            time.sleep(2)
        errors = "\n".join(f"{e['filename']}: {e['stack_trace']}" for e in self.import_errors())
        raise TimeoutError(
            f"DAG {dag_id} did not appear within {timeout:.0f} s. "
            f"Import errors:\n{errors or 'none'}"
        )

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.run(dag_id, run_id)
            if run["state"] in TERMINAL:
                return run
            time.sleep(2)
        raise TimeoutError(f"{dag_id} run {run_id} did not finish within {timeout:.0f} s")

    def wait_for_any_run(self, dag_id: str, timeout: float) -> dict[str, Any]:
        """The latest run of ``dag_id``, waiting for the scheduler to create one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if runs := self.runs(dag_id):
                return runs[0]
            time.sleep(2)
        raise TimeoutError(f"the scheduler created no run of {dag_id} within {timeout:.0f} s")

    def wait_for_new_run(self, dag_id: str, after: datetime, timeout: float) -> dict[str, Any]:
        """The first run of ``dag_id`` queued after ``after`` (an asset-triggered one), finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for run in reversed(self.runs(dag_id)):
                if datetime.fromisoformat(run["run_after"]) >= after:
                    return self.wait_for_run(dag_id, run["dag_run_id"], deadline - time.monotonic())
            time.sleep(2)
        raise TimeoutError(f"no run of {dag_id} started within {timeout:.0f} s after {after}")
