"""The raw tables loads publish into, and how a file's columns compare with them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from metricstack.loading.declarations import Source
from metricstack.loading.streams import FileFormatError

# A COPY straight into the raw table (the fast first load) fills these two from the
# load's settings; merges set them explicitly.
LOAD_ID_DEFAULT = "current_setting('metricstack.load_id', true)::bigint"


@dataclass(frozen=True)
class Drift:
    """How a file's columns differ from its declaration; recorded with the load."""

    new: tuple[str, ...] = ()  # kept, as text columns of the raw table
    missing: tuple[str, ...] = ()  # nullable declared columns: left null
    retyped: dict[str, int] = field(default_factory=dict)  # column -> rows rejected

    def as_json(self) -> dict[str, Any] | None:
        if not (self.new or self.missing or self.retyped):
            return None
        return {"new": list(self.new), "missing": list(self.missing), "retyped": self.retyped}


def compare_columns(path: Path, header: tuple[str, ...], source: Source) -> Drift:
    """The drift of ``header``; raises when a required column is absent.

    A declared column missing from a file is null when the declaration allows it:
    a producer that stops sending an optional field should not stop the pipeline. A
    required one fails the file: loading it would quarantine every row.
    """
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated or "" in header:
        raise FileFormatError(f"{path}: the header has empty or repeated names {duplicated}")
    declared = source.column_names
    new = tuple(h for h in header if h not in declared)
    missing = tuple(c.name for c in source.columns if c.name not in header)
    required = [c.name for c in source.columns if c.name in missing and not c.nullable]
    required += [k for k in source.primary_key if k in missing and k not in required]
    reserved = [h for h in new if h.startswith("_")]
    if required or reserved:
        raise FileFormatError(
            f"{path}: header does not match the declaration {source.path.name}: "
            f"missing {required or 'none'}, unexpected {list(new) or 'none'}"
            + (f" (names starting with _ are the loader's: {reserved})" if reserved else "")
        )
    return Drift(new=new, missing=missing)


def target(source: Source) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(source.schema), sql.Identifier(source.table))


def ensure_raw_table(conn: psycopg.Connection, source: Source, new: tuple[str, ...]) -> None:
    """The raw table as declared, plus a text column for each new column of the file."""
    columns: list[sql.Composable] = [
        sql.SQL("{} {}{}").format(
            sql.Identifier(c.name),
            sql.SQL(c.type),
            sql.SQL("" if c.nullable else " not null"),
        )
        for c in source.columns
    ]
    columns += [
        sql.SQL("_load_id bigint not null default " + LOAD_ID_DEFAULT),
        sql.SQL("_loaded_at timestamptz not null default now()"),
        sql.SQL("primary key ({})").format(
            sql.SQL(", ").join(map(sql.Identifier, source.primary_key))
        ),
    ]
    conn.execute(
        sql.SQL("create table if not exists {} ({})").format(
            target(source), sql.SQL(", ").join(columns)
        )
    )
    # The incremental dbt models re-read what loads wrote since their last run
    # (`_loaded_at >= ...`, dbt_project/macros/incremental.sql). Loads append, so the
    # column follows the table's physical order: a BRIN index (a few pages) lets that
    # read skip the history's blocks instead of scanning them, at almost no cost to a
    # load. Created once, by the first load after this line shipped.
    conn.execute(
        sql.SQL("create index if not exists {} on {} using brin (_loaded_at)").format(
            sql.Identifier(f"{source.table}__loaded_at"), target(source)
        )
    )
    existing: dict[str, bool] = dict(
        conn.execute(
            "select attname, atthasdef from pg_attribute where attrelid = %s::regclass "
            "and attnum > 0 and not attisdropped",
            (f"{source.schema}.{source.table}",),
        ).fetchall()
    )
    if not existing["_load_id"]:  # a table from before the fast first load
        conn.execute(
            sql.SQL(
                "alter table {} alter _load_id set default " + LOAD_ID_DEFAULT + ", "
                "alter _loaded_at set default now()"
            ).format(target(source))
        )
    for name in new:
        if name not in existing:
            conn.execute(
                sql.SQL("alter table {} add column {} text").format(
                    target(source), sql.Identifier(name)
                )
            )


def is_empty(conn: psycopg.Connection, source: Source) -> bool:
    row = conn.execute(
        sql.SQL("select not exists (select from {})").format(target(source))
    ).fetchone()
    return bool(row and row[0])
