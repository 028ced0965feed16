"""The lineage graph: datasets as nodes, each edge with the run that produced it.

Built from three records, none of which needs a lineage server:

- the OpenLineage events file (``settings.lineage_file``, one JSON event a line,
  written by Airflow's OpenLineage provider): Cosmos' dbt tasks name their input and
  output tables (``<db>.raw.shop_orders`` -> ``<db>.staging.stg_shop__orders``), and
  every Airflow task event carries the task's inlets and outlets in its ``airflow``
  run facet (the ingestion tasks: ``metricstack-source://shop/orders`` ->
  ``metricstack://warehouse/raw/shop_orders``, see assets.py);
- ``audit.publications``: ``marts_build.X`` -> ``marts.X``, with the run that published;
- the Superset export in ``superset_config/assets/``: ``marts.X`` -> the dataset ->
  each chart -> each dashboard.

Node names: ``<schema>.<table>`` for warehouse tables (the database prefix of the
OpenLineage names is dropped), ``source:<system>.<object>`` for declared source
objects, ``dataset:<schema>.<table>``, ``chart:<name>`` and ``dashboard:<title>`` for
Superset. The events file is read a line at a time, and only the latest run of each
edge is kept: memory grows with the number of edges, not of events.
"""

from __future__ import annotations

import ast
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from metricstack.config import Settings
from metricstack.lineage.assets import SOURCE_SCHEME

log = logging.getLogger(__name__)

# what an edge's state can be: OpenLineage's final event types, then the other records
COMPLETE, FAIL = "COMPLETE", "FAIL"
PUBLISHED, DEFINED = "PUBLISHED", "DEFINED"
_FINAL_EVENTS = (COMPLETE, FAIL, "ABORT")
# how an edge is known
OPENLINEAGE, AIRFLOW_ASSETS = "openlineage", "airflow_assets"
PUBLICATION, SUPERSET = "publication", "superset"
PUBLISH_JOB = "transform.publish"  # audit.publications rows are written by this task

_CSV_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# the warehouse tables a virtual dataset's SQL names (schema-qualified, as it must)
_TABLE_IN_SQL = re.compile(
    r"\b(raw|staging|intermediate|marts_build|marts|audit)\.([a-z_][a-z0-9_]*)\b", re.IGNORECASE
)


@dataclass(frozen=True)
class Run:
    """The run behind an edge: the Airflow run id is the one audit.* tables record."""

    job: str  # OpenLineage job name: <dag_id>.<task_id>, or transform.publish, superset
    run_id: str | None  # the Airflow DAG run id (audit.loads, audit.publications)
    event_time: str | None  # ISO 8601
    state: str  # COMPLETE, FAIL, ABORT, PUBLISHED or DEFINED (the Superset export)
    ol_run_id: str | None = None  # the OpenLineage run id of the task

    def beats(self, other: Run) -> bool:
        """Whether this run is the better witness of an edge: a success, then the latest."""
        ok, other_ok = self.state != FAIL, other.state != FAIL
        if ok != other_ok:
            return ok
        return (self.event_time or "") >= (other.event_time or "")


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    run: Run
    kind: str  # openlineage, airflow_assets, publication or superset

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.source,
            "to": self.target,
            "kind": self.kind,
            "job": self.run.job,
            "run_id": self.run.run_id,
            "event_time": self.run.event_time,
            "state": self.run.state,
        }


@dataclass
class LineageGraph:
    # target -> source -> the edge with its best run
    upstream: dict[str, dict[str, Edge]] = field(default_factory=dict)
    # extra facts about some nodes (a source object's kind and location, a chart's uuid)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    events_read: int = 0
    bad_lines: int = 0
    warnings: list[str] = field(default_factory=list)

    def add(self, edge: Edge) -> None:
        if edge.source == edge.target:
            return
        sources = self.upstream.setdefault(edge.target, {})
        known = sources.get(edge.source)
        if known is None or edge.run.beats(known.run):
            sources[edge.source] = edge
        self.nodes.setdefault(edge.source, {})
        self.nodes.setdefault(edge.target, {})

    def edges(self) -> Iterator[Edge]:
        for sources in self.upstream.values():
            yield from sources.values()

    def parents(self, node: str) -> list[Edge]:
        return sorted(self.upstream.get(node, {}).values(), key=lambda e: e.source)

    def charts(self) -> list[str]:
        return sorted(n for n in self.nodes if n.startswith("chart:"))

    def resolve(self, name: str) -> str:
        """The node called ``name``: a node name, a chart's name or uuid, a dashboard's
        title or slug, or a table (``marts.fct_x``, ``fct_x``)."""
        if name in self.nodes:
            return name
        for prefix in ("chart:", "dashboard:", "dataset:", "source:"):
            if prefix + name in self.nodes:
                return prefix + name
        for node, facts in self.nodes.items():
            if name in (facts.get("uuid"), facts.get("slug")):
                return node
        for schema in ("marts", "marts_build", "staging", "intermediate", "raw"):
            if f"{schema}.{name}" in self.nodes:
                return f"{schema}.{name}"
        raise LookupError(f"no chart, dashboard, dataset or table {name!r} in the lineage")


LineagePath = list[Edge]  # one path, from a source object down to the traced node


def trace_graph(graph: LineageGraph, node: str, max_paths: int = 500) -> list[LineagePath]:
    """Every path from ``node`` back to a node nothing feeds (a source object, or a table
    whose producer left no record), returned from the source down to ``node``."""
    paths: list[LineagePath] = []

    def walk(current: str, below: list[Edge], seen: frozenset[str]) -> None:
        if len(paths) >= max_paths:
            return
        parents = [e for e in graph.parents(current) if e.source not in seen]
        if not parents:
            if below:
                paths.append(list(reversed(below)))
            return
        for edge in parents:
            walk(edge.source, [*below, edge], seen | {edge.source})

    walk(node, [], frozenset({node}))
    if len(paths) >= max_paths:
        log.warning("lineage of %s: stopped at %d paths", node, max_paths)
    return paths


# -- names -------------------------------------------------------------------------------


class SourceNames:
    """dbt names a source table by its ``name`` in OpenLineage events, not by its
    ``identifier`` (openlineage-integration-common's dbt processor): ``raw.orders`` for
    the table ``raw.shop_orders``. The manifest maps them back."""

    def __init__(self, manifest: Path | None) -> None:
        # (schema, name) -> {source unique_id: identifier}
        self._sources: dict[tuple[str, str], dict[str, str]] = {}
        self._depends: dict[str, set[str]] = {}  # model unique_id -> its sources
        if manifest is None or not manifest.exists():
            return
        data = json.loads(manifest.read_text())
        for unique_id, node in data.get("sources", {}).items():
            key = (str(node["schema"]), str(node["name"]))
            ident = str(node.get("identifier") or node["name"])
            self._sources.setdefault(key, {})[unique_id] = ident
        for unique_id, node in data.get("nodes", {}).items():
            nodes = node.get("depends_on", {}).get("nodes", [])
            self._depends[unique_id] = {n for n in nodes if n.startswith("source.")}

    def table(self, schema: str, name: str, dbt_node: str | None) -> str:
        candidates = self._sources.get((schema, name))
        if not candidates:
            return name
        if len(candidates) > 1 and dbt_node in self._depends:
            used = {u: i for u, i in candidates.items() if u in self._depends[dbt_node]}
            candidates = used or candidates
        identifiers = set(candidates.values())
        return identifiers.pop() if len(identifiers) == 1 else name


def dataset_node(
    namespace: str, name: str, names: SourceNames | None = None, dbt_node: str | None = None
) -> str:
    """An OpenLineage dataset's node name."""
    scheme = namespace.split("://", 1)[0]
    if scheme in ("postgres", "postgresql"):
        parts = name.split(".")
        if len(parts) == 3:
            parts = parts[1:]  # the database
        if len(parts) == 2:
            schema, table = parts
            if names is not None:
                table = names.table(schema, table, dbt_node)
            return f"{schema}.{table}"
        return name
    if scheme == SOURCE_SCHEME:  # should a converter be registered for it
        return f"source:{namespace.split('://', 1)[1]}.{name.strip('/')}"
    return f"{namespace.rstrip('/')}/{name.lstrip('/')}"


def asset_node(uri: str) -> str | None:
    """An Airflow Asset's node name; None for the one asset that is no table (``marts``)."""
    parts = urlsplit(uri)
    path = [p for p in parts.path.split("/") if p]
    if parts.scheme == "metricstack":
        if parts.netloc == "warehouse" and len(path) == 2:
            return f"{path[0]}.{path[1]}"
        return None
    if parts.scheme == SOURCE_SCHEME:
        return f"source:{parts.netloc}.{'/'.join(path)}"
    if parts.scheme in ("postgres", "postgresql") and len(path) == 3:
        return f"{path[1]}.{path[2]}"
    return uri


# -- the OpenLineage events ----------------------------------------------------------------


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """The final events (COMPLETE, FAIL, ABORT) of the file, one line at a time."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            # START/RUNNING events are most of the file: skip them before parsing
            if '"eventType"' in line and not any(f'"{t}"' in line for t in _FINAL_EVENTS):
                continue
            try:
                event = json.loads(line)
            except ValueError:
                if line.strip():
                    yield {"_bad": True}
                continue
            if isinstance(event, dict) and event.get("eventType") in _FINAL_EVENTS:
                yield event


def _assets(text: Any) -> list[tuple[str, dict[str, Any]]]:
    """The ``[{'uri': ..., 'extra': {...}}]`` repr of the airflow facet's inlets/outlets."""
    if isinstance(text, str):
        try:
            text = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return []
    if not isinstance(text, list):
        return []
    return [
        (str(a["uri"]), a.get("extra") or {}) for a in text if isinstance(a, dict) and "uri" in a
    ]


def _run_of(event: dict[str, Any]) -> Run:
    run = event.get("run") or {}
    facets = run.get("facets") or {}
    dag_run = (facets.get("airflow") or {}).get("dagRun") or {}
    run_id = dag_run.get("run_id")
    if run_id is None:  # a dbt event of Cosmos without the airflow facet: the parent's
        parent = (facets.get("parent") or {}).get("run") or {}
        run_id = parent.get("runId")
    return Run(
        job=str((event.get("job") or {}).get("name", "")),
        run_id=run_id,
        event_time=event.get("eventTime"),
        state=str(event.get("eventType")),
        ol_run_id=run.get("runId"),
    )


def add_event(graph: LineageGraph, event: dict[str, Any], names: SourceNames) -> None:
    run = _run_of(event)
    job_facets = (event.get("job") or {}).get("facets") or {}
    dbt_node = (job_facets.get("dbt_node") or {}).get("unique_id")
    # only dbt (Cosmos' events carry its dbt_node facet) names a table by its source name
    dbt_names = names if dbt_node else None
    inputs = [
        dataset_node(d["namespace"], d["name"], dbt_names, dbt_node)
        for d in event.get("inputs") or []
    ]
    outputs = [
        dataset_node(d["namespace"], d["name"], dbt_names, dbt_node)
        for d in event.get("outputs") or []
    ]
    for source in inputs:
        for target in outputs:
            graph.add(Edge(source, target, run, OPENLINEAGE))
    task = (((event.get("run") or {}).get("facets") or {}).get("airflow") or {}).get("task") or {}
    inlets = _assets(task.get("inlets"))
    outlets = _assets(task.get("outlets"))
    for uri, extra in inlets:
        source_node = asset_node(uri)
        if source_node is None:
            continue
        if extra and source_node.startswith("source:"):
            graph.nodes.setdefault(source_node, {}).update(extra)
        for target_uri, _ in outlets:
            target_node = asset_node(target_uri)
            if target_node is not None:
                graph.add(Edge(source_node, target_node, run, AIRFLOW_ASSETS))


# -- publications and Superset ----------------------------------------------------------------


def load_publications(settings: Settings) -> list[tuple[str, str | None, str | None]]:
    """The last publication of each marts table: (``marts.x``, run_id, published_at)."""
    import psycopg

    with psycopg.connect(settings.role_url("transformer"), connect_timeout=5) as conn:
        rows = conn.execute(
            "select distinct on (table_name) table_name, run_id, published_at "
            "from audit.publications order by table_name, published_at desc"
        ).fetchall()
    return [(str(t), r, p.isoformat() if p is not None else None) for t, r, p in rows]


def add_publications(
    graph: LineageGraph, rows: Iterable[tuple[str, str | None, str | None]]
) -> None:
    for table, run_id, published_at in rows:
        schema, _, name = table.rpartition(".")
        run = Run(PUBLISH_JOB, run_id, published_at, PUBLISHED)
        graph.add(Edge(f"marts_build.{name}", f"{schema or 'marts'}.{name}", run, PUBLICATION))


def _yaml_files(folder: Path) -> Iterator[dict[str, Any]]:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_CSV_SAFE_LOADER)  # noqa: S506 (a safe loader, the C one when built)
        if isinstance(data, dict):
            yield data


def _dashboard_charts(position: Any) -> Iterator[str]:
    if isinstance(position, dict):
        for item in position.values():
            if isinstance(item, dict) and item.get("type") == "CHART":
                uuid = (item.get("meta") or {}).get("uuid")
                if uuid:
                    yield str(uuid)


def add_superset(graph: LineageGraph, assets_dir: Path) -> None:
    """marts table -> Superset dataset -> chart -> dashboard, from the export's YAML."""
    defined = Run("superset", None, None, DEFINED)
    datasets: dict[str, str] = {}
    for data in _yaml_files(assets_dir / "datasets"):
        if "table_name" not in data or "uuid" not in data:
            continue
        schema = data.get("schema") or "public"
        node = f"dataset:{schema}.{data['table_name']}"
        datasets[str(data["uuid"])] = node
        graph.nodes.setdefault(node, {}).update(uuid=str(data["uuid"]))
        query = data.get("sql")
        tables = {f"{s.lower()}.{t.lower()}" for s, t in _TABLE_IN_SQL.findall(query or "")}
        if not tables:  # a physical dataset (or SQL naming no known schema): its table
            tables = {f"{schema}.{data['table_name']}"}
        for table in tables:
            graph.add(Edge(table, node, defined, SUPERSET))
    charts: dict[str, str] = {}
    for data in _yaml_files(assets_dir / "charts"):
        if "slice_name" not in data:
            continue
        node = f"chart:{data['slice_name']}"
        charts[str(data.get("uuid"))] = node
        graph.nodes.setdefault(node, {}).update(uuid=str(data.get("uuid")))
        dataset = datasets.get(str(data.get("dataset_uuid")))
        if dataset is None:
            graph.warnings.append(f"{node}: its dataset is not in the export")
            continue
        graph.add(Edge(dataset, node, defined, SUPERSET))
    for data in _yaml_files(assets_dir / "dashboards"):
        if "dashboard_title" not in data:
            continue
        node = f"dashboard:{data['dashboard_title']}"
        graph.nodes.setdefault(node, {}).update(uuid=str(data.get("uuid")), slug=data.get("slug"))
        for uuid in _dashboard_charts(data.get("position")):
            if uuid in charts:
                graph.add(Edge(charts[uuid], node, defined, SUPERSET))


# -- the whole graph ------------------------------------------------------------------------


def superset_assets_dir(settings: Settings) -> Path:
    return settings.project_dir / "superset_config" / "assets"


def build_graph(
    settings: Settings,
    *,
    events: Path | None = None,
    publications: Iterable[tuple[str, str | None, str | None]] | None = None,
    assets_dir: Path | None = None,
    manifest: Path | None = None,
) -> LineageGraph:
    """The lineage graph of the stack ``settings`` describes.

    Each record defaults to the stack's own: the events file, audit.publications (read
    as the transformer role; when the warehouse cannot be reached the graph is built
    without them and says so in ``warnings``), the Superset export, the dbt manifest.
    """
    graph = LineageGraph()
    names = SourceNames(manifest if manifest is not None else settings.dbt_manifest)
    for event in read_events(events if events is not None else settings.lineage_file):
        if event.get("_bad"):
            graph.bad_lines += 1
            continue
        graph.events_read += 1
        add_event(graph, event, names)
    if graph.bad_lines:
        graph.warnings.append(f"{graph.bad_lines} lines of the events file are not JSON")
    if publications is None:
        try:
            publications = load_publications(settings)
        except Exception as error:  # whatever it is, the page still shows the rest
            graph.warnings.append(f"audit.publications could not be read: {error}")
            publications = []
    add_publications(graph, publications)
    add_superset(graph, assets_dir if assets_dir is not None else superset_assets_dir(settings))
    return graph


def trace(
    settings: Settings, chart_or_table: str, graph: LineageGraph | None = None
) -> list[LineagePath]:
    """Every lineage path from the source objects to a chart, a dashboard or a table.

    Each path is a list of edges from a source object down to ``chart_or_table``; each
    edge holds the run that produced it (job, Airflow run id, event time, state).
    """
    graph = graph if graph is not None else build_graph(settings)
    return trace_graph(graph, graph.resolve(chart_or_table))
