"""Publish validated marts: copy every table of marts_build into marts atomically.

Dashboards read ``marts`` only. A table is replaced by building its new version
beside it and renaming, all in one transaction, so a reader sees the last good
version until the commit and the new one after it, never a mix.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from metricstack.config import Settings
from metricstack.warehouse.bootstrap import MARTS, MARTS_BUILD

log = logging.getLogger(__name__)


def publish_marts(settings: Settings, run_id: str | None = None) -> dict[str, int]:
    published: dict[str, int] = {}
    with psycopg.connect(settings.role_url("transformer")) as conn, conn.transaction():
        tables = [
            row[0]
            for row in conn.execute(
                "select table_name from information_schema.tables "
                "where table_schema = %s and table_type = 'BASE TABLE' order by table_name",
                (MARTS_BUILD,),
            )
        ]
        for table in tables:
            source = sql.Identifier(MARTS_BUILD, table)
            target = sql.Identifier(MARTS, table)
            fresh = sql.Identifier(MARTS, f"{table}__publishing")
            conn.execute(sql.SQL("drop table if exists {}").format(fresh))
            conn.execute(sql.SQL("create table {} (like {} including all)").format(fresh, source))
            cursor = conn.execute(sql.SQL("insert into {} select * from {}").format(fresh, source))
            published[table] = cursor.rowcount
            conn.execute(sql.SQL("drop table if exists {}").format(target))
            conn.execute(
                sql.SQL("alter table {} rename to {}").format(fresh, sql.Identifier(table))
            )
            conn.execute(
                "insert into audit.publications (table_name, row_count, run_id) "
                "values (%s, %s, %s)",
                (f"{MARTS}.{table}", cursor.rowcount, run_id),
            )
    log.info("published %s", published)
    return published
