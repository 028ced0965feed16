"""The lineage edges in the warehouse, for the auditors' dashboard: ``audit.lineage_edges``.

``store_lineage`` replaces the table's rows with the current graph in one transaction:
running it twice leaves the same rows, and a reader sees the old edges or the new ones,
never a mix. The table belongs in warehouse/audit.sql (``LINEAGE_EDGES_DDL``, with the
grants in ``LINEAGE_EDGES_GRANTS``); until it is there, ``store_lineage`` creates it if
the transformer role may, and otherwise says which statements are missing.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from metricstack.config import Settings
from metricstack.lineage.graph import LineageGraph, build_graph

log = logging.getLogger(__name__)

LINEAGE_EDGES_DDL = """\
create table if not exists audit.lineage_edges (
    from_dataset text not null,
    to_dataset text not null,
    kind text not null,
    job text not null,
    run_id text,
    event_time timestamptz,
    state text not null,
    recorded_at timestamptz not null default now(),
    primary key (from_dataset, to_dataset)
);
"""
# the role store_lineage writes as ({transformer}). For the auditors' Superset dashboard
# the reporting role (which reads marts only today) would also need
# "grant usage on schema audit" and "grant select on audit.lineage_edges": a decision
# for warehouse/bootstrap.py, not made here.
LINEAGE_EDGES_GRANTS = (
    "grant select, insert, update, delete on audit.lineage_edges to {transformer}",
)
_COLUMNS = ("from_dataset", "to_dataset", "kind", "job", "run_id", "event_time", "state")


def _ensure_table(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    exists = conn.execute("select to_regclass('audit.lineage_edges') is not null").fetchone()
    if exists and exists[0]:
        return
    try:
        with conn.transaction():
            conn.execute(LINEAGE_EDGES_DDL)
    except psycopg.errors.InsufficientPrivilege as error:
        raise RuntimeError(
            "audit.lineage_edges is missing and the transformer role may not create it; "
            f"add to warehouse/audit.sql:\n{LINEAGE_EDGES_DDL}"
        ) from error


def store_lineage(settings: Settings, graph: LineageGraph | None = None) -> int:
    """Write every edge of the lineage graph into audit.lineage_edges; returns how many."""
    graph = graph if graph is not None else build_graph(settings)
    rows = [
        (e.source, e.target, e.kind, e.run.job, e.run.run_id, e.run.event_time, e.run.state)
        for e in graph.edges()
    ]
    with psycopg.connect(settings.role_url("transformer")) as conn:
        _ensure_table(conn)
        with conn.transaction():
            conn.execute("delete from audit.lineage_edges")
            with conn.cursor().copy(
                sql.SQL("copy audit.lineage_edges ({}) from stdin").format(
                    sql.SQL(", ").join(map(sql.Identifier, _COLUMNS))
                )
            ) as copy:
                for row in rows:
                    copy.write_row(row)
    log.info("audit.lineage_edges: %d edges", len(rows))
    return len(rows)
