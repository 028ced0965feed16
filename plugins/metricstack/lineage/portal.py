"""The auditors' portal: lineage, dbt docs and GX Data Docs, served by Airflow's API server.

``plugins/metricstack_portal.py`` mounts ``create_app()`` under ``/metricstack``:

- ``/metricstack/`` links to the pages below;
- ``/metricstack/lineage``: each dashboard's charts, each with its lineage paths back
  to the source objects and the run of every step (``?node=`` traces one chart,
  dashboard or table); ``/metricstack/lineage.json`` is the same as JSON;
- ``/metricstack/dbt-docs``: the static dbt docs page (docs.py writes it);
- ``/metricstack/data-docs/``: the GX Data Docs folder (``settings.data_docs_dir``).

Authentication: Airflow does not authenticate the FastAPI apps of plugins (it mounts
them with ``app.mount``, outside the core API's router dependencies). Every route here
depends on ``airflow_user``, which asks Airflow's own ``get_user``: the JWT of the
Airflow UI login (the ``_token`` cookie) or an ``Authorization: Bearer`` token of
``POST /auth/token``. Without one the answer is 401. Files are served by routes (not a
``StaticFiles`` mount, which would bypass the dependency) and never outside their folder.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse

from metricstack.config import Settings, load_settings
from metricstack.lineage.docs import dbt_docs_file
from metricstack.lineage.graph import Edge, LineageGraph, build_graph, trace_graph

GRAPH_TTL_SECONDS = 60.0  # audit.publications is re-read at most this often
_PROJECT = "metricstack"  # the dbt project's name, for links into the dbt docs


async def airflow_user(request: Request) -> Any:
    """The Airflow user of the request (the UI's cookie or a bearer token), else 401."""
    # imported here: Airflow's API server has them loaded; other processes that import
    # plugins (the scheduler, task runners) never pay for it
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    credentials = await bearer_scheme(request)
    return await get_user(request, None, credentials)


@dataclass
class _Cached:
    key: tuple[int, int]
    built: float
    graph: LineageGraph


class GraphCache:
    """The graph, rebuilt when the events file changes or after GRAPH_TTL_SECONDS."""

    def __init__(self, build: Callable[[Settings], LineageGraph] = build_graph) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._cached: _Cached | None = None

    def get(self, settings: Settings) -> LineageGraph:
        try:
            stat = settings.lineage_file.stat()
            key = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            key = (0, 0)
        with self._lock:
            cached = self._cached
            fresh = time.monotonic() - cached.built < GRAPH_TTL_SECONDS if cached else False
            if cached is None or cached.key != key or not fresh:
                cached = _Cached(key, time.monotonic(), self._build(settings))
                self._cached = cached
            return cached.graph


# -- the lineage page ---------------------------------------------------------------------


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _node_html(node: str, graph: LineageGraph) -> str:
    facts = graph.nodes.get(node, {})
    label = f"<code>{_e(node)}</code>"
    schema, _, table = node.partition(".")
    if schema in ("staging", "intermediate", "marts_build") and table:
        label = f'<a href="dbt-docs#!/model/model.{_PROJECT}.{_e(table)}">{label}</a>'
    if node.startswith("source:") and facts:
        where = ", ".join(f"{_e(k)}: {_e(v)}" for k, v in sorted(facts.items()))
        label += f' <span class="facts">({where})</span>'
    return label


def _run_html(edge: Edge) -> str:
    run = edge.run
    if edge.kind == "superset":
        return '<span class="run">Superset export</span>'
    state = run.state.lower()
    return (
        f'<span class="run {_e(state)}">{_e(run.job)} · run <code>{_e(run.run_id or "?")}</code>'
        f" · {_e((run.event_time or '?')[:19])} · {_e(run.state)}</span>"
    )


def _path_html(path: list[Edge], graph: LineageGraph) -> str:
    steps = [_node_html(path[0].source, graph)]
    for edge in path:
        steps.append(f'<span class="arrow">→ {_run_html(edge)} →</span>')
        steps.append(_node_html(edge.target, graph))
    return '<li class="path">' + " ".join(steps) + "</li>"


def _trace_html(graph: LineageGraph, node: str) -> str:
    paths = trace_graph(graph, node)
    if not paths:
        return "<p>No recorded lineage yet.</p>"
    roots = sorted({p[0].source for p in paths})
    failed = sum(1 for p in paths for e in p if e.run.state == "FAIL")
    summary = (
        f"<p>{len(paths)} path(s) from {len(roots)} origin(s): "
        + ", ".join(_node_html(r, graph) for r in roots)
        + (f'. <strong class="fail">{failed} step(s) last ran FAILED</strong>' if failed else "")
        + "</p>"
    )
    return summary + "<ol>" + "".join(_path_html(p, graph) for p in paths) + "</ol>"


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;line-height:1.5;color:#222}
code{background:#f3f3f3;padding:0 .2rem}.facts{color:#666;font-size:.85em}
.run{font-size:.8em;color:#555}.run.complete,.run.published{color:#1a7f37}
.run.fail,.fail{color:#cf222e}.path{margin:.4rem 0}.arrow{white-space:nowrap}
section{border-top:1px solid #ddd;margin-top:1rem}.warn{color:#9a6700}
"""


def lineage_html(graph: LineageGraph, node: str | None = None) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>metricstack lineage</title><style>{_STYLE}</style></head><body>",
        '<h1>Lineage</h1><p><a href="./">portal</a> · <a href="dbt-docs">dbt docs</a>'
        ' · <a href="data-docs/">Data Docs</a> · <a href="lineage.json">JSON</a></p>',
        f"<p>{graph.events_read} lineage events read. Each step shows the job and the "
        "Airflow run that last produced it (run ids as in audit.loads and "
        "audit.publications).</p>",
    ]
    parts += [f'<p class="warn">{_e(w)}</p>' for w in graph.warnings]
    if node is not None:
        parts.append(f"<section><h2>{_e(node)}</h2>{_trace_html(graph, node)}</section>")
    else:
        shown: set[str] = set()
        dashboards = sorted(n for n in graph.nodes if n.startswith("dashboard:"))
        for dashboard in dashboards:
            parts.append(f"<section><h2>{_e(dashboard)}</h2>")
            for edge in graph.parents(dashboard):
                shown.add(edge.source)
                parts.append(f"<h3>{_e(edge.source)}</h3>{_trace_html(graph, edge.source)}")
            parts.append("</section>")
        others = [c for c in graph.charts() if c not in shown]
        if others:
            parts.append("<section><h2>Charts on no dashboard</h2>")
            parts += [f"<h3>{_e(c)}</h3>{_trace_html(graph, c)}" for c in others]
            parts.append("</section>")
        if not dashboards and not others:
            parts.append("<p>No Superset charts in the export.</p>")
    parts.append("</body></html>")
    return "".join(parts)


def lineage_json(graph: LineageGraph, nodes: list[str]) -> dict[str, Any]:
    return {
        "events_read": graph.events_read,
        "warnings": graph.warnings,
        "lineage": {
            node: [[edge.as_dict() for edge in path] for path in trace_graph(graph, node)]
            for node in nodes
        },
    }


_INDEX = """<!doctype html><html><head><meta charset="utf-8"><title>metricstack portal</title>
<style>{style}</style></head><body><h1>metricstack: evidence for auditors</h1><ul>
<li><a href="lineage">Lineage</a>: every chart back to its source objects, with the run of
each step</li>
<li><a href="dbt-docs">dbt docs</a>: the models, their SQL, tests and lineage</li>
<li><a href="data-docs/">Data Docs</a>: the Great Expectations quality gates' results</li>
</ul></body></html>"""


# -- the app --------------------------------------------------------------------------------


def _file_under(folder: Path, relative: str) -> Path:
    """``folder/relative`` if it is a file inside ``folder``; 404 otherwise."""
    root = folder.resolve()
    path = (root / relative).resolve()
    if path.is_dir():
        path = path / "index.html"
    if not path.is_relative_to(root) or not path.is_file():
        raise HTTPException(status_code=404, detail=f"no such page: {relative}")
    return path


def create_app(settings_factory: Callable[[], Settings] = load_settings) -> FastAPI:
    """The portal's FastAPI app; every route requires an Airflow user (``airflow_user``)."""
    app = FastAPI(
        title="metricstack portal",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(airflow_user)],
    )
    cache = GraphCache()

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return _INDEX.format(style=_STYLE)

    @app.get("/lineage", response_class=HTMLResponse)
    def lineage(node: str | None = None) -> str:
        graph = cache.get(settings_factory())
        try:
            return lineage_html(graph, graph.resolve(node) if node else None)
        except LookupError as error:
            raise HTTPException(status_code=404, detail=str(error)) from error

    @app.get("/lineage.json")
    def lineage_data(node: str | None = None) -> JSONResponse:
        graph = cache.get(settings_factory())
        try:
            nodes = [graph.resolve(node)] if node else graph.charts()
        except LookupError as error:
            raise HTTPException(status_code=404, detail=str(error)) from error
        return JSONResponse(lineage_json(graph, nodes))

    @app.get("/dbt-docs", response_model=None)
    def dbt_docs() -> FileResponse | HTMLResponse:
        page = dbt_docs_file(settings_factory())
        if not page.is_file():
            return HTMLResponse(
                "<p>The dbt docs have not been generated yet: the transform DAG writes them "
                "after each publication (metricstack.lineage.docs.generate_dbt_docs).</p>",
                status_code=404,
            )
        return FileResponse(page, media_type="text/html")

    @app.get("/data-docs")
    def data_docs_root() -> RedirectResponse:
        return RedirectResponse("data-docs/", status_code=307)

    @app.get("/data-docs/{relative:path}")
    def data_docs(relative: str) -> FileResponse:
        return FileResponse(_file_under(settings_factory().data_docs_dir, relative or "."))

    return app
