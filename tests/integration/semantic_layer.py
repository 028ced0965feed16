"""Run MetricFlow's `mf` against the semantic manifest our dbt runs write.

`mf` (dbt-metricflow 0.15) reads `<dbt project>/target/semantic_manifest.json`, a path
it hard-codes: it ignores DBT_TARGET_PATH, which the stack sets to the state folder
(settings.dbt_target_dir). So `mf` runs from a shim project folder: symlinks to the
real project's files, and `target` linked to the state folder's target; DBT_PROJECT_DIR
and DBT_PROFILES_DIR name the shim.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from metricstack.config import Settings
from metricstack.services.environment import base_env, bin_path, dbt_env

PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "models", "macros")


def mf_project(settings: Settings, folder: Path) -> Path:
    """A dbt project folder for `mf` whose target/ is the stack's dbt target folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        link = folder / name
        if not link.exists():
            link.symlink_to(settings.dbt_project_dir / name)
    target = folder / "target"
    if not target.exists():
        target.symlink_to(settings.dbt_target_dir, target_is_directory=True)
    return folder


def mf(settings: Settings, folder: Path, *args: str) -> str:
    """`mf <args>` against the semantic manifest of settings.dbt_target_dir."""
    project = mf_project(settings, folder)
    env = base_env(settings) | dbt_env(settings)
    env |= {"DBT_PROJECT_DIR": str(project), "DBT_PROFILES_DIR": str(project)}
    result = subprocess.run(
        [bin_path("mf"), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=project,
    )
    if result.returncode != 0:
        raise RuntimeError(f"`mf {' '.join(args)}` failed:\n{result.stdout[-3000:]}{result.stderr}")
    return result.stdout
