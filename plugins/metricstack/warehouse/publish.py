"""Publish validated marts into ``marts`` atomically: swapped where it is safe, else copied.

Dashboards read ``marts`` only. All tables are published in one transaction: a reader
sees the last good version until the commit and the new one after it, never a mix.

Copying every mart on every run would cost the history each day: at 10 million orders
the order, line and funnel facts hold about 100 million rows, the per-customer marts
four million each. So a mart changes places with its published version (renamed,
never copied; ``marts_build`` then holds the previous publication) when the next build
does not need its own last version:

- a table dbt rebuilds whole (``materialized: table``): the next build replaces it;
- an incremental model whose dbt config says ``meta: {publication: swap}``
  (dbt_project/dbt_project.yml): it re-reads its late-arrival window from its OWN
  newest ``loaded_at`` (dbt_project/macros/incremental.sql), so it catches up from the
  previous publication with every row loaded since, whatever the gap.

The other incremental models are copied: the rollups, whose window is their source's,
must carry on from their own last build. They are small (periods, not rows).

A swapped incremental model must have grown from the table publication left there. A
table dbt created anew (a first build, a ``--full-refresh``, a changed model) is not
what the retired version would have grown into, and the next build would carry on from
a stale base. ``audit.publication_bases`` records which table publication left in
``marts_build``; when the build's table is another one, the published table is copied
back as the next build's base.

A copied table is written in the publishing transaction, so it has neither planner
statistics nor hint bits and visibility-map bits. It is ANALYZEd before the commit, so
the dashboards' first queries are planned on real figures, and VACUUMed after it. Left
to autovacuum, the first publication's copies (115 million rows at 10 million orders)
go without statistics for many minutes and are vacuumed while the next build runs,
which slowed that build's day fourfold (make bench-dbt).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from metricstack.config import Settings
from metricstack.warehouse.bootstrap import MARTS, MARTS_BUILD

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """How each marts_build table is published; a table named in neither is copied."""

    rebuilt: set[str] = field(default_factory=set)  # tables dbt rebuilds whole: swap
    catching_up: set[str] = field(default_factory=set)  # meta publication swap: swap, base


def publication_plan(manifest: Path) -> Plan:
    """The plan dbt's manifest gives; without one every table is copied (always safe)."""
    if not manifest.exists():
        return Plan()
    models = [
        node
        for node in json.loads(manifest.read_text())["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == MARTS_BUILD
    ]
    return Plan(
        rebuilt={m["alias"] for m in models if m["config"]["materialized"] == "table"},
        catching_up={
            m["alias"]
            for m in models
            if m["config"]["materialized"] == "incremental"
            and m["config"].get("meta", {}).get("publication") == "swap"
        },
    )


def publish_marts(settings: Settings, run_id: str | None = None) -> dict[str, int]:
    plan = publication_plan(settings.dbt_manifest)
    reporting = sql.Identifier(settings.role_name("reporting"))
    published: dict[str, int] = {}
    copied: list[sql.Identifier] = []
    with psycopg.connect(settings.role_url("transformer")) as conn, conn.transaction():
        build = _tables(conn, MARTS_BUILD)
        live = _tables(conn, MARTS)
        bases: dict[str, int] = dict(
            conn.execute("select table_name, base_oid from audit.publication_bases").fetchall()
        )
        for table in build:
            built = sql.Identifier(MARTS_BUILD, table)
            target = sql.Identifier(MARTS, table)
            swapped = table in plan.rebuilt or table in plan.catching_up
            if swapped and table in live:
                _swap(conn, table)
                conn.execute(sql.SQL("revoke all on {} from {}").format(built, reporting))
                if table in plan.catching_up and bases.get(table) != build[table]:
                    # built anew: the retired table predates this build's start
                    conn.execute(sql.SQL("drop table {}").format(built))
                    copied.append(_copy(conn, target, MARTS_BUILD, table))
            else:  # copied; the build keeps its table
                conn.execute(sql.SQL("drop table if exists {}").format(target))
                copied.append(_copy(conn, built, MARTS, table))
            if table in plan.catching_up:
                conn.execute(
                    "insert into audit.publication_bases (table_name, base_oid) "
                    "values (%s, %s::regclass::oid) on conflict (table_name) "
                    "do update set base_oid = excluded.base_oid",
                    (table, f"{MARTS_BUILD}.{table}"),
                )
            conn.execute(sql.SQL("grant select on {} to {}").format(target, reporting))
            row = conn.execute(sql.SQL("select count(*) from {}").format(target)).fetchone()
            published[table] = int(row[0]) if row else 0
            conn.execute(
                "insert into audit.publications (table_name, row_count, run_id) "
                "values (%s, %s, %s)",
                (f"{MARTS}.{table}", published[table], run_id),
            )
    with psycopg.connect(settings.role_url("transformer"), autocommit=True) as conn:
        for copy in copied:  # VACUUM cannot run in a transaction
            conn.execute(sql.SQL("vacuum {}").format(copy))
    log.info("published %s", published)
    return published


def _tables(conn: psycopg.Connection, schema: str) -> dict[str, int]:
    """The base tables of ``schema`` and their OIDs."""
    return dict(
        conn.execute(
            "select c.relname, c.oid from pg_class c join pg_namespace n "
            "on n.oid = c.relnamespace where n.nspname = %s and c.relkind in ('r', 'p') "
            "order by c.relname",
            (schema,),
        ).fetchall()
    )


def _swap(conn: psycopg.Connection, table: str) -> None:
    """marts_build.table and marts.table change places (their indexes go with them)."""
    retired = f"{table}__retired"
    conn.execute(
        sql.SQL("alter table {} rename to {}").format(
            sql.Identifier(MARTS, table), sql.Identifier(retired)
        )
    )
    _move(conn, MARTS_BUILD, table, MARTS)
    _move(conn, MARTS, retired, MARTS_BUILD)
    conn.execute(
        sql.SQL("alter table {} rename to {}").format(
            sql.Identifier(MARTS_BUILD, retired), sql.Identifier(table)
        )
    )


def _move(conn: psycopg.Connection, schema: str, table: str, to: str) -> None:
    """``schema.table`` into schema ``to``. Its indexes go along and their names must
    be free there: the two versions of a table often carry the same ones (a primary
    key, ``<table>_pkey``), so a taken name is given the index's OID as a suffix."""
    taken = conn.execute(
        "select i.relname, i.oid from pg_index x join pg_class i on i.oid = x.indexrelid "
        "where x.indrelid = %s::regclass and i.relname in (select c.relname from pg_class c "
        "join pg_namespace n on n.oid = c.relnamespace where n.nspname = %s)",
        (f"{schema}.{table}", to),
    ).fetchall()
    for name, oid in taken:
        conn.execute(
            sql.SQL("alter index {} rename to {}").format(
                sql.Identifier(schema, name), sql.Identifier(f"{name[:50]}_{oid}")
            )
        )
    conn.execute(
        sql.SQL("alter table {} set schema {}").format(
            sql.Identifier(schema, table), sql.Identifier(to)
        )
    )


def _copy(
    conn: psycopg.Connection, source: sql.Identifier, schema: str, table: str
) -> sql.Identifier:
    """A copy of ``source``, with its indexes and statistics, as ``schema.table`` (which
    must not exist); returns the copy's name."""
    fresh = f"{table}__publishing"
    conn.execute(
        sql.SQL("create table {} (like {} including all)").format(
            sql.Identifier(schema, fresh), source
        )
    )
    conn.execute(
        sql.SQL("insert into {} select * from {}").format(sql.Identifier(schema, fresh), source)
    )
    conn.execute(
        sql.SQL("alter table {} rename to {}").format(
            sql.Identifier(schema, fresh), sql.Identifier(table)
        )
    )
    copy = sql.Identifier(schema, table)
    conn.execute(sql.SQL("analyze {}").format(copy))
    return copy
