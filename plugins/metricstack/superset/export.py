"""`metricstack superset-export`: the live dashboards back into superset_config/assets.

Analysts build and edit dashboards in Superset; this writes them out in the format the
bundle is committed in, so the change can be reviewed and versioned, and `metricstack
setup` imports exactly that on every other installation. It asks Superset's
GET /api/v1/dashboard/export/ for every dashboard (with their charts, datasets and the
database) and cleans the ZIP:

- deterministic file names: Superset appends the object's id (``Sales_12.yaml``), which
  differs between installations; the id is dropped (``Sales.yaml``), and a name two
  objects share gets the first 8 characters of the UUID;
- no view state: the label colours Superset's frontend saves when the owner opens a
  dashboard are left out;
- no installation-specific ids: chart and dataset ids (in chart params, query contexts,
  dashboard positions, filter scopes and cross-filter configurations) are replaced by
  numbers derived from the object's UUID; the import maps them back to real ids;
- the database URI is the committed placeholder (the password, masked by Superset
  anyway, and the host never reach the files); assets.bundle_files() fills it in;
- dataset metrics that come from dbt (MetricFlow metrics the dbt sync wrote, see
  dbt_sync.py) are left out: dbt's YAML is their source, and a copy in the bundle would
  outlive the metric's removal from dbt (the sync keeps Superset-only metrics);
- files of the bundle's folders that the export no longer holds are deleted (a
  dashboard deleted in Superset disappears from the bundle).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from metricstack.config import Settings
from metricstack.superset.assets import AIRFLOW_URL_PLACEHOLDER, DATABASE_UUID, assets_dir
from metricstack.superset.client import SupersetClient

FOLDERS = ("databases", "datasets", "charts", "dashboards")
PLACEHOLDER_URI = "postgresql+psycopg2://REPORTING_ROLE:XXXXXXXXXX@WAREHOUSE_HOST:5432/WAREHOUSE_DB"
DATABASE_HEADER = (
    "# The committed URI is a placeholder: metricstack.superset.assets fills in the read-only\n"
    "# reporting role's URL from the settings when it zips the bundle. Never commit a real one.\n"
)
_ID_SUFFIX = re.compile(r"_\d+$")
# What Superset's frontend writes into a dashboard when its owner merely views it (the
# colours it gave each label): left out, or every look at a dashboard would be a diff.
# Colours chosen on purpose (label_colors) stay.
_VIEW_STATE = ("shared_label_colors", "color_scheme_domain", "map_label_colors")


@dataclass
class Export:
    """What an export wrote: bundle path -> text, and the stale files it deleted."""

    files: dict[str, str] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)


def stable_id(uuid: str) -> int:
    """A number standing for an object in the files, derived from its UUID (28 bits)."""
    return int(uuid.replace("-", "")[:7], 16)


def _dump(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=100)


def _remap_chart_ids(metadata: dict[str, Any], ids: dict[int, int]) -> dict[str, Any]:
    """Chart ids in a dashboard's json_metadata, through ``ids`` (old -> stable)."""

    def one(value: Any) -> Any:
        return ids.get(value, value) if isinstance(value, int) else value

    def many(values: list[Any]) -> list[Any]:
        return [one(v) for v in values]

    def key(value: str) -> str:
        return str(ids.get(int(value), value)) if value.isdigit() else value

    fixed = dict(metadata)
    for name in ("timed_refresh_immune_slices",):
        if name in fixed:
            fixed[name] = many(fixed[name])
    for name in ("expanded_slices", "filter_scopes"):
        if isinstance(fixed.get(name), dict):
            fixed[name] = {key(k): v for k, v in fixed[name].items()}
    for native in fixed.get("native_filter_configuration", []):
        scope = native.get("scope") or {}
        if "excluded" in scope:
            scope["excluded"] = many(scope["excluded"])
        if "chartsInScope" in native:
            native["chartsInScope"] = many(native["chartsInScope"])
    configuration = fixed.get("chart_configuration")
    if isinstance(configuration, dict):
        remapped = {}
        for chart_key, chart_config in configuration.items():
            if isinstance(chart_config, dict):
                chart_config["id"] = one(chart_config.get("id"))
                cross = chart_config.get("crossFilters") or {}
                if "chartsInScope" in cross:
                    cross["chartsInScope"] = many(cross["chartsInScope"])
                scope = cross.get("scope")
                if isinstance(scope, dict) and "excluded" in scope:
                    scope["excluded"] = many(scope["excluded"])
            remapped[key(chart_key)] = chart_config
        fixed["chart_configuration"] = remapped
    global_config = fixed.get("global_chart_configuration")
    if isinstance(global_config, dict):
        if "chartsInScope" in global_config:
            global_config["chartsInScope"] = many(global_config["chartsInScope"])
        scope = global_config.get("scope")
        if isinstance(scope, dict) and "excluded" in scope:
            scope["excluded"] = many(scope["excluded"])
    return fixed


def _clean_chart(config: dict[str, Any], dataset_ids: dict[str, int]) -> dict[str, Any]:
    dataset_id = dataset_ids.get(config.get("dataset_uuid", ""), 0)
    params = config.get("params") or {}
    if "datasource" in params:
        params["datasource"] = f"{dataset_id}__table"
    params.pop("slice_id", None)
    if config.get("query_context"):
        context = json.loads(config["query_context"])
        if isinstance(context.get("datasource"), dict):
            context["datasource"]["id"] = dataset_id
        form_data = context.get("form_data")
        if isinstance(form_data, dict):
            if "datasource" in form_data:
                form_data["datasource"] = f"{dataset_id}__table"
            form_data.pop("slice_id", None)
        for query in context.get("queries", []):
            if isinstance(query.get("datasource"), dict):
                query["datasource"]["id"] = dataset_id
        config["query_context"] = json.dumps(context)
    return config


def dbt_metric_names(settings: Settings) -> set[str]:
    """The MetricFlow metrics of the last dbt run (none before the first)."""
    path = settings.dbt_target_dir / "semantic_manifest.json"
    if not path.exists():
        return set()
    return {metric["name"] for metric in json.loads(path.read_text()).get("metrics", [])}


def clean_export(raw: bytes, dbt_metrics: frozenset[str] = frozenset()) -> dict[str, str]:
    """Superset's export ZIP -> bundle path -> YAML text (see the module's docstring);
    dataset metrics named in ``dbt_metrics`` are left out."""
    configs: dict[str, dict[str, Any]] = {}
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        for name in archive.namelist():
            path = PurePosixPath(name)
            if path.suffix != ".yaml":
                continue
            inner = PurePosixPath(*path.parts[1:])  # drop the export's root folder
            configs[inner.as_posix()] = yaml.safe_load(archive.read(name))

    dataset_ids = {
        c["uuid"]: stable_id(c["uuid"]) for n, c in configs.items() if n.startswith("datasets/")
    }
    files: dict[str, str] = {}
    # deterministic names: without Superset's "_<id>", unless two objects would share one
    named: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for name, config in configs.items():
        path = PurePosixPath(name)
        if path.parts[0] in FOLDERS:
            stem = _ID_SUFFIX.sub("", path.stem) if path.parts[0] != "databases" else path.stem
            named[(path.parent / f"{stem}.yaml").as_posix()].append((name, config))
    for target, entries in named.items():
        for _name, config in sorted(entries, key=lambda e: str(e[1].get("uuid"))):
            path = PurePosixPath(target)
            if len(entries) > 1:
                path = path.parent / f"{path.stem}_{str(config['uuid'])[:8]}.yaml"
            folder = path.parts[0]
            if folder == "databases":
                if config.get("uuid") != DATABASE_UUID:
                    raise ValueError(f"{path}: only the warehouse database may be exported")
                config["sqlalchemy_uri"] = PLACEHOLDER_URI
                config.pop("password", None)
                config.pop("masked_encrypted_extra", None)
                files[path.as_posix()] = DATABASE_HEADER + _dump(config)
                continue
            if folder == "charts":
                config = _clean_chart(config, dataset_ids)
            elif folder == "datasets" and dbt_metrics:
                config["metrics"] = [
                    m for m in config.get("metrics") or [] if m["metric_name"] not in dbt_metrics
                ]
            elif folder == "dashboards":
                position = config.get("position") or {}
                chart_ids: dict[int, int] = {}
                for child in position.values():
                    if isinstance(child, dict) and child.get("type") == "CHART":
                        meta = child.get("meta", {})
                        if "uuid" in meta and isinstance(meta.get("chartId"), int):
                            chart_ids[meta["chartId"]] = stable_id(meta["uuid"])
                            meta["chartId"] = chart_ids[meta["chartId"]]
                if isinstance(config.get("metadata"), dict):
                    config["metadata"] = _remap_chart_ids(config["metadata"], chart_ids)
                    for key in _VIEW_STATE:
                        config["metadata"].pop(key, None)
            files[path.as_posix()] = _dump(config)
    if "metadata.yaml" in configs:
        metadata = configs["metadata.yaml"]
        metadata["timestamp"] = "1970-01-01T00:00:00+00:00"  # exports differ only by it
        files["metadata.yaml"] = _dump(metadata)
    return dict(sorted(files.items()))


def export_dashboards(
    settings: Settings,
    destination: Path | None = None,
    *,
    username: str | None = None,
    password: str | None = None,
) -> Export:
    """Write every dashboard of the running Superset into ``destination`` (default: the
    committed bundle, superset_config/assets), replacing the files of its folders."""
    destination = destination or assets_dir(settings)
    with SupersetClient(
        settings.superset_url,
        username or settings.admin_user,
        password or settings.admin_password,
    ) as client:
        ids = sorted(d["id"] for d in client.dashboards())
        if not ids:
            raise ValueError("Superset has no dashboard to export")
        files = clean_export(client.export_dashboards(ids), frozenset(dbt_metric_names(settings)))
    # links to this installation's Airflow go back to the placeholder assets.py fills in
    files = {
        name: text.replace(settings.airflow_url, AIRFLOW_URL_PLACEHOLDER)
        if name.startswith("dashboards/")
        else text
        for name, text in files.items()
    }
    result = Export(files=files)
    for folder in FOLDERS:
        for old in sorted((destination / folder).rglob("*.yaml")):
            name = old.relative_to(destination).as_posix()
            if name not in files:
                old.unlink()
                result.deleted.append(name)
    for name, text in files.items():
        path = destination / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `metricstack superset-export`."""
    parser.add_argument(
        "folder",
        nargs="?",
        default=None,
        help="where to write the bundle (default: superset_config/assets)",
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    """`metricstack superset-export [FOLDER]`: needs Superset running (`metricstack up`)."""
    destination = Path(args.folder) if args.folder else assets_dir(settings)
    result = export_dashboards(settings, destination)
    print(f"exported {len(result.files)} files to {destination}")
    for name in result.deleted:
        print(f"deleted {name} (no longer in Superset)")
    return 0
