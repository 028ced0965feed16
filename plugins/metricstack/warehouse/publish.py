"""Publish validated marts into ``marts`` atomically: copied, or the largest swapped.

Dashboards read ``marts`` only. All tables are published in one transaction: a reader
sees the last good version until the commit and the new one after it, never a mix.

Most marts are copied (built beside the published table, then renamed over it): they
are aggregates, small whatever the history. Copying the largest facts would cost the
history every day (at 10 million orders the order, line and funnel facts hold about
100 million rows), so the models whose dbt config says ``meta: {publication: swap}``
(dbt_project/dbt_project.yml) change places with their published version instead:
renamed, never copied. ``marts_build`` then holds the previous publication, and the
next build catches up from it: these models re-read their late-arrival window from
their own newest ``loaded_at`` (dbt_project/macros/incremental.sql), so they merge
every row loaded since, whatever the gap.

That holds while the build's table grew from the one publication left there. A table
dbt created anew (a first build, a ``--full-refresh``, a changed model) is not what
the retired version would have grown into; the next build would carry on from a stale
base. ``audit.publication_bases`` records which table publication left in
``marts_build``; when the build's table is another one, the published table is copied
back as the next build's base.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import psycopg
from psycopg import sql

from metricstack.config import Settings
from metricstack.warehouse.bootstrap import MARTS, MARTS_BUILD

log = logging.getLogger(__name__)


def swapped_models(manifest: Path) -> set[str]:
    """The marts_build relations dbt's config publishes by swapping; none without a
    manifest (every table is then copied, as is always safe)."""
    if not manifest.exists():
        return set()
    nodes = json.loads(manifest.read_text())["nodes"].values()
    return {
        node["alias"]
        for node in nodes
        if node["resource_type"] == "model"
        and node["schema"] == MARTS_BUILD
        and node["config"].get("meta", {}).get("publication") == "swap"
    }


def publish_marts(settings: Settings, run_id: str | None = None) -> dict[str, int]:
    swapped = swapped_models(settings.dbt_manifest)
    reporting = sql.Identifier(settings.role_name("reporting"))
    published: dict[str, int] = {}
    with psycopg.connect(settings.role_url("transformer")) as conn, conn.transaction():
        build = _tables(conn, MARTS_BUILD)
        live = _tables(conn, MARTS)
        bases: dict[str, int] = dict(
            conn.execute("select table_name, base_oid from audit.publication_bases").fetchall()
        )
        for table in build:
            built = sql.Identifier(MARTS_BUILD, table)
            target = sql.Identifier(MARTS, table)
            if table in swapped and table in live:
                grew_from_base = bases.get(table) == build[table]
                _swap(conn, table)
                conn.execute(sql.SQL("revoke all on {} from {}").format(built, reporting))
                if not grew_from_base:  # the retired table predates this build's start
                    conn.execute(sql.SQL("drop table {}").format(built))
                    _copy(conn, target, MARTS_BUILD, table)
            else:  # copied; the build keeps its table
                conn.execute(sql.SQL("drop table if exists {}").format(target))
                _copy(conn, built, MARTS, table)
            if table in swapped:
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


def _copy(conn: psycopg.Connection, source: sql.Identifier, schema: str, table: str) -> None:
    """A copy of ``source``, with its indexes, as ``schema.table`` (which must not exist)."""
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
