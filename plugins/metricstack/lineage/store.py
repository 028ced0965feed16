"""The lineage edges in the warehouse, for the auditors' dashboard: ``audit.lineage_edges``.

``store_lineage`` replaces the table's rows with the current graph in one transaction:
running it twice leaves the same rows, and a reader sees the old edges or the new ones,
never a mix. The table and its grants are part of the warehouse (warehouse/audit.sql).
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from metricstack.config import Settings
from metricstack.lineage.graph import LineageGraph, build_graph

log = logging.getLogger(__name__)

_COLUMNS = ("from_dataset", "to_dataset", "kind", "job", "run_id", "event_time", "state")


def store_lineage(settings: Settings, graph: LineageGraph | None = None) -> int:
    """Write every edge of the lineage graph into audit.lineage_edges; returns how many."""
    graph = graph if graph is not None else build_graph(settings)
    rows = [
        (e.source, e.target, e.kind, e.run.job, e.run.run_id, e.run.event_time, e.run.state)
        for e in graph.edges()
    ]
    with psycopg.connect(settings.role_url("transformer")) as conn, conn.transaction():
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
