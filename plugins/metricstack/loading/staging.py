"""The staging table a load is typed in, and the merge that publishes it.

Two ways to type, one result:
- ``server``: typed staging columns, COPY ... ON_ERROR ignore (PostgreSQL 17+) skips
  rows whose fields do not convert and names each one in a NOTICE. Required columns
  are NOT NULL domains, so a missing value is skipped and named the same way.
- ``sql``: every staging column is text; SQL then finds, per row, the first column (in
  the file's order, as COPY checks them) that is missing or does not convert, with
  pg_input_is_valid (16+) or audit.input_is_valid (older servers).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from metricstack.loading.declarations import Column, Source
from metricstack.loading.quarantine import Rejected
from metricstack.loading.raw_tables import target

STAGING = sql.Identifier("_incoming")


@dataclass(frozen=True)
class Merged:
    loaded: int
    inserted: int
    updated: int


def _column(source: Source, name: str) -> Column:
    """The declared column, or a new (undeclared) one, which is kept as text."""
    return next((c for c in source.columns if c.name == name), Column(name, "text"))


def _domain(index: int) -> sql.Identifier:
    return sql.Identifier(f"_required_{index}")


def create_staging(
    conn: psycopg.Connection, source: Source, header: tuple[str, ...], *, typed: bool
) -> None:
    """A temporary table (no WAL) with the file's columns in the file's order."""
    columns: list[sql.Composable] = []
    for index, name in enumerate(header):
        column = _column(source, name)
        kind: sql.Composable = sql.SQL("text")
        if typed:
            kind = sql.SQL(column.type)
            if not column.nullable or name in source.primary_key:
                conn.execute(
                    sql.SQL("create domain pg_temp.{} as {} not null").format(_domain(index), kind)
                )
                kind = sql.SQL("pg_temp.{}").format(_domain(index))
        columns.append(sql.SQL("{} {}").format(sql.Identifier(name), kind))
    # _row: the record's place in the file, so that the last record of a key wins
    columns.append(sql.SQL("_row bigint generated always as identity"))
    conn.execute(
        sql.SQL("create temporary table {} ({})").format(STAGING, sql.SQL(", ").join(columns))
    )


def drop_staging(conn: psycopg.Connection, header: tuple[str, ...]) -> None:
    conn.execute(sql.SQL("drop table {}").format(STAGING))
    for index in range(len(header)):
        conn.execute(sql.SQL("drop domain if exists pg_temp.{}").format(_domain(index)))


def reject_in_sql(
    conn: psycopg.Connection, source: Source, header: tuple[str, ...]
) -> list[Rejected]:
    """The ``sql`` path's checks: find the failing rows, take them out of staging."""
    valid = "pg_input_is_valid" if conn.info.server_version >= 160000 else "audit.input_is_valid"
    failures: list[tuple[sql.Composable, str]] = []  # (condition, column), in file order
    for name in header:
        column = _column(source, name)
        ident = sql.Identifier(name)
        if not column.nullable or name in source.primary_key:
            failures.append((sql.SQL("{} is null").format(ident), name))
        if column.type != "text":
            failures.append(
                (
                    sql.SQL("not {}({}, {})").format(
                        sql.SQL(valid), ident, sql.Literal(column.type)
                    ),
                    name,
                )
            )
    if not failures:
        return []
    bad = sql.SQL(" ").join(
        sql.SQL("when {} then {}").format(cond, sql.Literal(name)) for cond, name in failures
    )
    value = sql.SQL(" ").join(
        sql.SQL("when {} then {}").format(cond, sql.Identifier(name)) for cond, name in failures
    )
    rows = conn.execute(
        sql.SQL(
            "with checked as (select _row, case {} end as bad, case {} end as value from {}) "
            "delete from {} as s using checked c where c.bad is not null and s._row = c._row "
            "returning c._row, c.bad, c.value"
        ).format(bad, value, STAGING, STAGING)
    ).fetchall()
    return [Rejected(int(row), str(column), text) for row, column, text in rows]


def merge(
    conn: psycopg.Connection,
    source: Source,
    header: tuple[str, ...],
    load_id: int,
    *,
    typed: bool,
) -> Merged:
    """Upsert the staged rows on the primary key; within the file the last record wins.

    Unchanged rows are left alone, so their _load_id still names the load that brought
    them; xmax = 0 tells an inserted row from an updated one. Declared columns the file
    does not carry are not touched on update (absent is not the same as empty).
    """
    key = sql.SQL(", ").join(map(sql.Identifier, source.primary_key))
    cols = sql.SQL(", ").join(map(sql.Identifier, header))
    exprs = sql.SQL(", ").join(
        sql.SQL("{}::{} as {}").format(
            sql.Identifier(n), sql.SQL(_column(source, n).type), sql.Identifier(n)
        )
        if not typed
        else sql.Identifier(n)
        for n in header
    )
    non_key = [n for n in header if n not in source.primary_key]
    alias = sql.Identifier(source.table)
    updates = sql.SQL(", ").join(
        sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c))
        for c in (*non_key, "_load_id", "_loaded_at")
    )
    changed = (
        sql.SQL(" or ").join(
            sql.SQL("{0}.{1} is distinct from excluded.{1}").format(alias, sql.Identifier(c))
            for c in non_key
        )
        if non_key
        else sql.SQL("false")
    )
    query = sql.SQL(
        "with typed as (select {exprs}, _row from {staging}), "
        "latest as (select distinct on ({key}) {cols} from typed order by {key}, _row desc), "
        "merged as (insert into {target} as {alias} ({cols}, _load_id, _loaded_at) "
        "select {cols}, {load_id}, now() from latest "
        "on conflict ({key}) do update set {updates} where {changed} "
        "returning (xmax = 0) as inserted) "
        "select (select count(*) from latest), "
        "count(*) filter (where inserted), count(*) filter (where not inserted) from merged"
    ).format(
        exprs=exprs,
        staging=STAGING,
        key=key,
        cols=cols,
        target=target(source),
        alias=alias,
        updates=updates,
        changed=changed,
        load_id=sql.Literal(load_id),
    )
    row = conn.execute(query).fetchone()
    if row is None:
        raise RuntimeError("the merge returned no counts")
    return Merged(int(row[0]), int(row[1]), int(row[2]))
