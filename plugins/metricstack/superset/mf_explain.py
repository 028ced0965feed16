"""The SQL of every MetricFlow metric, compiled in one process: `mf query --explain` en masse.

preset-cli's `sync dbt-core` runs `mf query --explain --metrics NAME` once per metric to
turn it into a Superset metric. Each `mf` call starts dbt, loads the adapter and the
semantic manifest: 8 to 20 s here, minutes for the project's ~90 metrics. This module
compiles every metric with one MetricFlowEngine (what `mf` itself calls) and writes
them to a JSON file; dbt_sync.py puts a small `mf` in front of preset-cli that prints
from files written from it, in the format of `mf query --explain` (the SQL after a header line).

Runs in the platform virtualenv as ``python -m metricstack.superset.mf_explain
PROJECT_DIR OUTPUT.json``, from the dbt project folder whose target/ holds the
semantic manifest (DBT_PROJECT_DIR and DBT_PROFILES_DIR name it).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

# The `mf` that preset-cli finds first on PATH: answers `mf query --explain --metrics X`
# from the files write_shim() writes, one per metric; anything else fails (exit 2). A
# shell script: preset-cli calls it once per metric, and a Python start costs ~0.1 s.
SHIM = """#!/bin/sh
# mf query --explain --metrics NAME, from metricstack.superset.mf_explain's files
[ "$1" = query ] && [ "$2" = --explain ] || exit 2
name=
while [ $# -gt 0 ]; do
    [ "$1" = --metrics ] && name=$2
    shift
done
file="{folder}/$name.sql"
if [ -z "$name" ] || [ ! -f "$file" ]; then
    echo "no SQL for metric $name" >&2
    exit 1
fi
echo "SQL (from metricstack.superset.mf_explain):"
cat "$file"
"""
_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def explain_all(project_dir: Path) -> dict[str, str | None]:
    """Metric name -> its SQL as `mf query --explain` prints it (None: cannot compile)."""
    from dbt_metricflow.cli.cli_configuration import CLIConfiguration
    from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

    config = CLIConfiguration()
    config.setup(
        dbt_profiles_path=project_dir, dbt_project_path=project_dir, configure_file_logging=False
    )
    compiled: dict[str, str | None] = {}
    for metric in config.semantic_manifest.metrics:
        request = MetricFlowQueryRequest.create(metric_names=[metric.name])
        try:
            result = config.mf.explain(mf_request=request)
        except Exception:  # as `mf` does for some metrics; preset-cli then skips them
            compiled[metric.name] = None
            continue
        compiled[metric.name] = result.sql_statement.without_descriptions.sql
    return compiled


def write_shim(folder: Path, compiled: dict[str, str | None]) -> Path:
    """An executable ``folder``/bin/mf answering from ``folder``/sql/<metric>.sql."""
    sql_dir = folder / "sql"
    if sql_dir.exists():
        shutil.rmtree(sql_dir)
    sql_dir.mkdir(parents=True)
    for name, sql in compiled.items():
        if sql is not None and _NAME.match(name):  # metric names are identifiers
            (sql_dir / f"{name}.sql").write_text(sql + "\n")
    shim = folder / "bin" / "mf"
    shim.parent.mkdir(parents=True, exist_ok=True)
    shim.write_text(SHIM.format(folder=sql_dir))
    shim.chmod(0o755)
    return shim


def main(argv: list[str]) -> int:
    project_dir, output = Path(argv[0]), Path(argv[1])
    compiled = explain_all(project_dir)
    output.write_text(json.dumps(compiled, indent=1, sort_keys=True))
    print(f"{sum(v is not None for v in compiled.values())}/{len(compiled)} metrics compiled")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
