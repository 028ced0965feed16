"""Reading aggregated inputs and replacing output tables in ``marts_build``.

Inputs are aggregated in SQL; only per-day, per-week or per-customer frames come into
Python. Each output table is dropped, re-created and filled by COPY in one transaction,
so a reader sees the previous version or the new one, never a mix, and a re-run with
the same input leaves the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from metricstack.warehouse.bootstrap import MARTS_BUILD


@dataclass(frozen=True)
class Table:
    """An output table: its name in ``marts_build``, a one-line comment and its columns."""

    name: str
    comment: str
    columns: tuple[tuple[str, str], ...]  # (name, PostgreSQL type)

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


def read_frame(
    conn: psycopg.Connection[Any], query: str, params: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """The rows of ``query`` as a frame; numeric columns as floats, not Decimals."""
    cursor = conn.execute(query, params)
    names = [c.name for c in cursor.description or []]
    frame = pd.DataFrame(cursor.fetchall(), columns=names)
    for name in names:
        values = frame[name].dropna()
        if len(values) and isinstance(values.iloc[0], Decimal):
            frame[name] = frame[name].astype("float64")
    return frame


def _plain(value: Any, pg_type: str) -> Any:
    """A frame cell as the Python value COPY writes for a column of ``pg_type``."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating) and math.isnan(float(value)):
        return None
    if pg_type == "date":
        if isinstance(value, pd.Timestamp | datetime):
            return value.date()
        if isinstance(value, date):
            return value
        return pd.Timestamp(value).date()
    if pg_type.startswith("numeric"):
        scale = int(pg_type.rstrip(")").split(",")[1]) if "," in pg_type else 6
        return Decimal(str(round(float(value), scale)))
    if pg_type in {"integer", "bigint"}:
        return int(value)
    if pg_type == "double precision":
        return float(value)
    if pg_type == "boolean":
        return bool(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _rows(frame: pd.DataFrame, table: Table) -> Iterator[tuple[Any, ...]]:
    types = [pg_type for _, pg_type in table.columns]
    for record in frame[table.column_names].itertuples(index=False, name=None):
        yield tuple(_plain(v, t) for v, t in zip(record, types, strict=True))


def replace_table(conn: psycopg.Connection[Any], table: Table, frame: pd.DataFrame) -> int:
    """Replace ``marts_build.<table>`` by the rows of ``frame``, in one transaction.

    ``conn`` must be in autocommit mode, so that this transaction is a real one and not
    a savepoint of a longer transaction.
    """
    target = sql.Identifier(MARTS_BUILD, table.name)
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(pg_type))
        for name, pg_type in table.columns
    )
    with conn.transaction():
        conn.execute(sql.SQL("drop table if exists {}").format(target))
        conn.execute(sql.SQL("create table {} ({})").format(target, columns))
        conn.execute(
            sql.SQL("comment on table {} is {}").format(target, sql.Literal(table.comment))
        )
        copy_sql = sql.SQL("copy {} ({}) from stdin").format(
            target, sql.SQL(", ").join(map(sql.Identifier, table.column_names))
        )
        count = 0
        with conn.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for row in _rows(frame, table):
                copy.write_row(row)
                count += 1
    return count


def frame_of(records: Sequence[Mapping[str, Any]], table: Table) -> pd.DataFrame:
    """A frame with the table's columns from a list of dicts (for small result tables)."""
    return pd.DataFrame(list(records), columns=table.column_names)
