"""dbt marts -> Superset datasets, with column descriptions and MetricFlow metrics.

After each publication the pipeline calls sync_dbt_to_superset(settings). It runs
preset-cli's `superset-cli sync dbt-core` (Superset virtualenv) against the running
Superset, as the admin, with ``--merge-metadata``: columns and their descriptions come
from the dbt models' YAML, every MetricFlow metric that compiles to one mart becomes a
dataset metric (preset-cli reads its SQL from `mf query --explain`), and what exists
only in Superset (the bundle's own metrics, an analyst's additions) is kept.

What this module adds around preset-cli:

- Datasets read ``marts``, never ``marts_build``: dbt builds the marts in marts_build
  and publish copies them, so the manifest and the semantic manifest handed to the sync
  are rewritten to name ``marts``; only marts models whose table is published are synced
  (a mart that failed its build is not turned into a broken dataset).
- `mf` is slow to start (8-20 s a call, one call per metric): mf_explain.py compiles
  every metric in one MetricFlow engine and a small `mf` in front of preset-cli on PATH
  prints from that (same output as `mf query --explain`).
- It is incremental: only the marts whose dbt definition (description, columns, the
  metrics that read them; not dbt's timestamps) or whose Superset dataset changed since
  the last sync (an import of the bundle, an edit in Superset) are handed to preset-cli
  (``--select``); with nothing changed it returns in well under a second.
- The password goes to preset-cli through stdin, never on a command line, and it signs
  in with a session (sync_dbt.py says why).

preset-cli creates the datasets of marts the bundle does not hold (with random UUIDs);
import_bundle.py adopts such a dataset when a later bundle brings the same table.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg
import yaml

from metricstack.config import Settings
from metricstack.services.environment import base_env, dbt_env
from metricstack.superset import assets
from metricstack.superset.mf_explain import write_shim
from metricstack.superset.setup import superset_env, venv_dir
from metricstack.warehouse.bootstrap import MARTS, MARTS_BUILD

SYNC_DIR = "dbt_sync"
STAMP_NAME = "dbt-sync-stamp.json"
LOG_NAME = "superset-dbt-sync.log"
TIMEOUT = 900  # seconds, each of the two subprocesses
PROFILE = "metricstack"  # dbt_project.yml's profile; preset-cli's --project
SYNC_TARGET = "superset"


class DbtSyncError(RuntimeError):
    """The sync failed; the message names the log."""


@dataclass
class DbtSync:
    """What a sync did."""

    skipped: bool
    models: list[str] = field(default_factory=list)  # marts handed to preset-cli
    metrics: list[str] = field(default_factory=list)  # MetricFlow metrics with SQL
    seconds: float = 0.0


def sync_dir(settings: Settings) -> Path:
    return settings.superset_home / SYNC_DIR


# -- inputs ----------------------------------------------------------------------------
def published_tables(settings: Settings) -> set[str]:
    """Tables of ``marts``, as the reporting role (Superset's connection) sees them."""
    with psycopg.connect(settings.role_url("reporting")) as conn:
        rows = conn.execute(
            "select table_name from information_schema.tables where table_schema = %s",
            (MARTS,),
        ).fetchall()
    return {row[0] for row in rows}


def _relation(database: str, table: str) -> str:
    return f'"{database}"."{MARTS}"."{table}"'


def sync_manifest(manifest: dict[str, Any], tables: set[str]) -> dict[str, Any]:
    """The part of dbt's manifest preset-cli reads, marts models renamed to ``marts``.

    Only models built into marts_build and published are kept (preset-cli would
    otherwise make a dataset of every staging view); metrics are all kept (preset-cli
    drops those that do not resolve to a kept model).
    """
    nodes: dict[str, Any] = {}
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] != "model":
            continue
        table = node.get("alias") or node["name"]
        if node["schema"] != MARTS_BUILD or table not in tables:
            continue
        nodes[unique_id] = node | {
            "schema": MARTS,
            "relation_name": _relation(node["database"], table),
        }
    return {
        "metadata": manifest["metadata"],
        "nodes": nodes,
        "metrics": manifest.get("metrics", {}),
        "child_map": {key: manifest["child_map"].get(key, []) for key in nodes},
    }


def sync_semantic_manifest(semantic: dict[str, Any]) -> dict[str, Any]:
    """The semantic manifest with every marts_build relation moved to ``marts``."""
    rewritten = json.loads(json.dumps(semantic))
    for model in rewritten["semantic_models"]:
        relation = model["node_relation"]
        if relation.get("schema_name") == MARTS_BUILD:
            relation["schema_name"] = MARTS
            relation["relation_name"] = _relation(relation["database"], relation["alias"])
    return dict(rewritten)


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def prepare(settings: Settings) -> tuple[Path, dict[str, Any]]:
    """Write the sync folder: a dbt project for `mf` (project/, its target/ holding the
    rewritten manifests) and preset-cli's profile. Returns the project folder and the
    manifest handed to preset-cli."""
    folder = sync_dir(settings)
    project = folder / "project"
    (project / "target").mkdir(parents=True, exist_ok=True)
    tables = published_tables(settings)
    manifest = sync_manifest(json.loads(settings.dbt_manifest.read_text()), tables)
    semantic_path = settings.dbt_target_dir / "semantic_manifest.json"
    semantic = sync_semantic_manifest(json.loads(semantic_path.read_text()))
    _write_if_changed(project / "target" / "manifest.json", json.dumps(manifest, sort_keys=True))
    _write_if_changed(
        project / "target" / "semantic_manifest.json", json.dumps(semantic, sort_keys=True)
    )
    link = project / "dbt_project.yml"
    if not link.is_symlink():
        link.symlink_to(settings.dbt_project_dir / "dbt_project.yml")
    # `mf` connects as dbt does (profiles.yml reads the METRICSTACK_DBT_* variables)
    _write_if_changed(
        project / "profiles.yml", (settings.dbt_project_dir / "profiles.yml").read_text()
    )
    # preset-cli only needs the dialect and the name of Superset's database
    sync_profile = {
        PROFILE: {
            "target": SYNC_TARGET,
            "outputs": {
                SYNC_TARGET: {
                    "type": "postgres",
                    "meta": {"superset": {"database_name": assets.DATABASE_NAME}},
                }
            },
        }
    }
    _write_if_changed(folder / "superset-profiles.yml", yaml.safe_dump(sync_profile))
    return project, manifest


# What of a model and a metric preset-cli turns into dataset metadata (not created_at,
# checksums or compiled code, which change at every dbt run).
_MODEL_KEYS = ("name", "alias", "schema", "relation_name", "description", "columns", "meta")
_METRIC_KEYS = ("name", "label", "description", "type", "meta", "config")


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def model_digests(manifest: dict[str, Any], compiled: dict[str, str | None]) -> dict[str, str]:
    """Model name -> digest of what the sync writes to its dataset: the model's
    description and columns, and every metric whose SQL reads its table."""
    metrics = {m["name"]: m for m in manifest["metrics"].values()}
    digests: dict[str, str] = {}
    for node in manifest["nodes"].values():
        relation = f'"{MARTS}"."{node.get("alias") or node["name"]}"'
        own = sorted(
            (name, sql, {k: metrics.get(name, {}).get(k) for k in _METRIC_KEYS})
            for name, sql in compiled.items()
            if sql and relation in sql
        )
        digests[node["name"]] = _digest(
            [{key: node.get(key) for key in _MODEL_KEYS}, node.get("config", {}).get("meta"), own]
        )
    return digests


def global_digest(settings: Settings) -> str:
    """What every dataset depends on: the tools' versions and the Superset instance."""
    return _digest(
        [metadata.version("dbt-metricflow"), _preset_cli_version(settings), settings.superset_url]
    )


def _preset_cli_version(settings: Settings) -> str:
    site_packages = [str(p) for p in venv_dir(settings).glob("lib/python*/site-packages")]
    for dist in metadata.distributions(name="preset-cli", path=site_packages):
        return dist.version
    raise DbtSyncError(f"preset-cli is not installed in {venv_dir(settings)}")


def superset_datasets_state(settings: Settings) -> dict[str, str]:
    """Table name -> digest of its dataset(s) in ``marts`` as Superset's metadata database
    holds them (an import or an edit in Superset changes it)."""
    query = """
        select t.table_name, t.uuid::text, t.changed_on::text,
               (select count(*) || ' ' || coalesce(max(m.changed_on)::text, '')
                  from sql_metrics as m where m.table_id = t.id),
               (select count(*) || ' ' || coalesce(max(c.changed_on)::text, '')
                  from table_columns as c where c.table_id = t.id)
        from tables as t join dbs as d on d.id = t.database_id
        where d.database_name = %s and t.schema = %s
        order by t.table_name, t.id
    """
    with psycopg.connect(settings.superset_db_url) as conn:
        database = conn.execute(
            "select 1 from dbs where database_name = %s", (assets.DATABASE_NAME,)
        ).fetchone()
        if database is None:
            # preset-cli would only print "No database was found" and succeed
            raise DbtSyncError(
                f"Superset has no database {assets.DATABASE_NAME!r}: run `metricstack setup`"
            )
        rows = conn.execute(query, (assets.DATABASE_NAME, MARTS)).fetchall()
    tables: dict[str, list[Any]] = {}
    for row in rows:
        tables.setdefault(row[0], []).append(row[1:])
    return {table: _digest(state) for table, state in tables.items()}


# -- running ---------------------------------------------------------------------------
def _run(
    settings: Settings, step: str, command: list[str], env: dict[str, str], cwd: Path, stdin: str
) -> None:
    log_file = settings.logs_dir / LOG_NAME
    log_file.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log_file.open("a") as log:
        log.write(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} --- {step}: {' '.join(command)}\n")
        log.flush()
        try:
            result = subprocess.run(
                command,
                env=env,
                cwd=cwd,
                input=stdin,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=TIMEOUT,
                check=False,
            )
            returncode: int | str = result.returncode
        except subprocess.TimeoutExpired:
            returncode = f"timeout after {TIMEOUT} s"
        log.write(f"--- {step}: exit {returncode} in {time.monotonic() - started:.1f} s\n")
    if returncode != 0:
        raise DbtSyncError(
            f"dbt -> Superset sync, step '{step}' failed ({returncode}); see {log_file}"
        )


def compile_metrics(settings: Settings, project: Path) -> dict[str, str | None]:
    """Every metric's SQL (mf_explain.py in a subprocess: dbt's adapter state stays out of
    the caller), cached by the semantic manifest it was compiled from."""
    semantic = (project / "target" / "semantic_manifest.json").read_bytes()
    key = hashlib.sha256(semantic).hexdigest()[:16]
    cache = sync_dir(settings) / f"explain-{key}.json"
    if not cache.exists():
        for old in sync_dir(settings).glob("explain-*.json"):
            old.unlink()
        env = base_env(settings) | dbt_env(settings)
        env.pop("DBT_TARGET_PATH", None)  # the project's own target/ holds the rewritten files
        env |= {"DBT_PROJECT_DIR": str(project), "DBT_PROFILES_DIR": str(project)}
        partial = cache.with_suffix(".partial")
        _run(
            settings,
            "compile metrics",
            [sys.executable, "-m", "metricstack.superset.mf_explain", str(project), str(partial)],
            env,
            project,
            "",
        )
        partial.rename(cache)
    compiled: dict[str, str | None] = json.loads(cache.read_text())
    shim_stamp = sync_dir(settings) / "shim.key"
    if not shim_stamp.exists() or shim_stamp.read_text() != key:
        write_shim(sync_dir(settings) / "mf", compiled)
        shim_stamp.write_text(key)
    return compiled


def _changed_models(
    stamp: dict[str, Any],
    everything: str,
    digests: dict[str, str],
    tables: dict[str, str],
    manifest: dict[str, Any],
) -> list[str]:
    if stamp.get("global") != everything:
        return sorted(digests)
    synced_models: dict[str, str] = stamp.get("models", {})
    synced_tables: dict[str, str] = stamp.get("superset", {})
    aliases = {
        node["name"]: node.get("alias") or node["name"] for node in manifest["nodes"].values()
    }
    return sorted(
        name
        for name, digest in digests.items()
        if synced_models.get(name) != digest
        or synced_tables.get(aliases[name]) != tables.get(aliases[name])
    )


def sync_dbt_to_superset(settings: Settings, *, force: bool = False) -> DbtSync:
    """Sync the published marts and their metrics into Superset's datasets.

    Idempotent and incremental: only the marts whose dbt definition (description,
    columns, metrics) or whose Superset dataset changed since the last sync are handed to
    preset-cli; with nothing changed it costs two queries and a file read. Superset must
    be running (settings.superset_url) and the dbt manifests written.
    """
    started = time.monotonic()
    project, manifest = prepare(settings)
    compiled = compile_metrics(settings, project)
    digests = model_digests(manifest, compiled)
    everything = global_digest(settings)
    stamp_file = settings.superset_home / STAMP_NAME
    try:
        stamp = json.loads(stamp_file.read_text())
    except (FileNotFoundError, ValueError):
        stamp = {}
    tables = superset_datasets_state(settings)
    if force:
        stamp = {}
    changed = _changed_models(stamp, everything, digests, tables, manifest)
    metric_names = sorted(name for name, sql in compiled.items() if sql)
    if not changed:
        return DbtSync(skipped=True, seconds=time.monotonic() - started)

    env = superset_env(settings)
    env["PATH"] = f"{sync_dir(settings) / 'mf' / 'bin'}:{env['PATH']}"  # the `mf` shim first
    args = [
        *("sync", "dbt-core", str(project / "target" / "manifest.json")),
        *("--project", PROFILE, "--target", SYNC_TARGET),
        *("--profiles", str(sync_dir(settings) / "superset-profiles.yml")),
        "--merge-metadata",  # keep Superset-only metrics (the bundle's), sync dbt's
        "--raise-failures",
    ]
    if len(changed) < len(digests):
        for name in changed:
            args += ["--select", name]
    payload = {
        "url": settings.superset_url,
        "username": settings.admin_user,
        "password": settings.admin_password,
        "args": args,
    }
    script = Path(__file__).with_name("sync_dbt.py")
    _run(
        settings,
        f"superset-cli sync dbt-core ({len(changed)} of {len(digests)} marts)",
        [str(venv_dir(settings) / "bin" / "python"), "-I", str(script)],
        env,
        project,
        json.dumps(payload),
    )
    stamp = {
        "global": everything,
        "models": digests,
        "superset": superset_datasets_state(settings),
    }
    stamp_file.write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")
    return DbtSync(
        skipped=False,
        models=changed,
        metrics=metric_names,
        seconds=time.monotonic() - started,
    )
