"""DAG integrity: every DAG file imports cleanly and quickly, every DAG is well formed.

Run by `make lint` (tools/lint.sh) and so before every `make test`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from metricstack.config import Settings
from metricstack.loading.declarations import load_systems
from metricstack.pipeline.ids import TRANSFORM_DAG_ID, ingest_dag_id

# Seconds one DAG file may take to import (Airflow's own import excluded). Measured on
# a 2-core machine: transform.py 0.8 s (Cosmos renders from the manifest), ingest.py
# 0.6 s. Airflow's DAG processor re-imports every file every 30 s in the demo.
MAX_PARSE_SECONDS = 3.0


def test_every_dag_file_imports_without_error(dagbag: Any) -> None:
    """No import errors, network or database access included (conftest blocks them)."""
    errors = "\n\n".join(f"{path}:\n{error}" for path, error in dagbag.import_errors.items())
    assert not dagbag.import_errors, f"DAG files failed to import:\n{errors}"


def test_every_dag_file_parses_quickly(
    dagbag: Any, dag_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stats = sorted(dagbag.dagbag_stats, key=lambda s: s.duration, reverse=True)
    with capsys.disabled():
        print("\nDAG parse time per file:")
        for stat in stats:
            seconds = stat.duration.total_seconds()
            print(f"  {seconds:6.2f} s  {stat.file}  ({stat.dag_num} DAGs, {stat.task_num} tasks)")
    files = {p.name for p in dag_folder.glob("*.py")}
    assert {Path(s.file).name for s in stats} == files, "every DAG file was processed"
    slow = [s.file for s in stats if s.duration.total_seconds() > MAX_PARSE_SECONDS]
    assert not slow, f"DAG files slower to parse than {MAX_PARSE_SECONDS} s: {slow}"


def test_dag_ids_are_unique_and_expected(dagbag: Any, dag_settings: Settings) -> None:
    """One ingestion DAG per declaration plus the transform DAG, no id twice.

    A DAG file that builds two DAGs with one id would keep only the last in its
    globals, so ids are compared to what the declarations ask for.
    """
    systems = load_systems(dag_settings.project_dir / "dags" / "sources")
    expected = [ingest_dag_id(s) for s in systems] + [TRANSFORM_DAG_ID]
    twice = [dag_id for dag_id, n in Counter(expected).items() if n > 1]
    assert not twice, f"DAG ids used twice: {twice}"
    assert set(dagbag.dag_ids) >= set(expected), (
        f"missing DAGs: {sorted(set(expected) - set(dagbag.dag_ids))}"
    )


def _problems(dag: Any) -> list[str]:
    problems = []
    args = dag.default_args or {}
    if not args.get("owner") or args["owner"] == "airflow":
        problems.append("no owner (default_args['owner'])")
    if not dag.tags:
        problems.append("no tags")
    if not args.get("retries") or not args.get("retry_delay"):
        problems.append("no retry policy (default_args['retries'] and ['retry_delay'])")
    if not args.get("on_failure_callback") and not dag.on_failure_callback:
        problems.append("no failure callback (default_args['on_failure_callback'])")
    for task in dag.tasks:
        if not task.on_failure_callback:
            problems.append(f"task {task.task_id} has no failure callback")
        if not task.owner or task.owner == "airflow":
            problems.append(f"task {task.task_id} has no owner")
    try:
        dag.check_cycle()
    except Exception as cycle:  # AirflowDagCycleException
        problems.append(f"cycle: {cycle}")
    return problems


def test_every_dag_has_owner_tags_retries_callback_and_no_cycle(dagbag: Any) -> None:
    assert dagbag.dags, "no DAGs were found"
    found = {dag_id: _problems(dag) for dag_id, dag in sorted(dagbag.dags.items())}
    bad = {dag_id: problems for dag_id, problems in found.items() if problems}
    assert not bad, "DAGs break the conventions:\n" + "\n".join(
        f"  {dag_id}: {'; '.join(problems)}" for dag_id, problems in bad.items()
    )
