"""dbt commands the stack runs outside Airflow (the manifest Cosmos renders from)."""

from __future__ import annotations

import hashlib
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


def _project_fingerprint(settings: Settings) -> str:
    """What the manifest depends on: the project's files and the dbt version."""
    from importlib.metadata import version

    digest = hashlib.sha256(version("dbt-core").encode())
    for path in sorted(settings.dbt_project_dir.rglob("*")):
        parts = path.relative_to(settings.dbt_project_dir).parts
        if path.is_file() and parts[0] not in {"target", "logs", "dbt_packages"}:
            digest.update(str(path.relative_to(settings.dbt_project_dir)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def write_manifest(settings: Settings) -> bool:
    """``dbt parse``: the manifest the transform DAG is rendered from.

    Skipped (returns False) when the project has not changed since the last parse.
    """
    stamp = settings.dbt_target_dir / "manifest.fingerprint"
    fingerprint = _project_fingerprint(settings)
    if settings.dbt_manifest.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return False
    dbt(settings, "parse")
    stamp.write_text(fingerprint)
    return True
