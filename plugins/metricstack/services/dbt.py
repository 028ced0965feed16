"""dbt commands the stack runs outside Airflow (the manifest Cosmos renders from)."""

from __future__ import annotations

import subprocess

from metricstack.config import Settings
from metricstack.services.environment import base_env, bin_path, dbt_env


def dbt(settings: Settings, *args: str) -> str:
    env = base_env(settings) | dbt_env(settings)
    result = subprocess.run(
        [bin_path("dbt"), *args, "--project-dir", str(settings.dbt_project_dir)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=settings.dbt_project_dir,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"`dbt {' '.join(args)}` failed:\n{result.stdout[-3000:]}{result.stderr[-2000:]}"
        )
    return result.stdout


def write_manifest(settings: Settings) -> None:
    """``dbt parse``: the manifest the transform DAG is rendered from."""
    dbt(settings, "parse")
