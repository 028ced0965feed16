"""High-water marks in audit.watermarks: how far each incremental object has been read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg


def read_mark(conn: psycopg.Connection, source: str) -> str | None:
    row = conn.execute("select mark from audit.watermarks where source = %s", (source,)).fetchone()
    return None if row is None else str(row[0])


def advance_mark(
    conn: psycopg.Connection,
    source: str,
    mark: str,
    *,
    load_id: int | None,
    run_id: str | None,
    order: Callable[[str], Any] = str,
) -> str:
    """Set the mark to ``mark`` unless it is already past it; the mark kept.

    Call it in the transaction of the load that read up to ``mark``: the mark then
    moves exactly when the rows are in. ``order`` makes marks comparable (timestamps
    written in different offsets, say).
    """
    current = read_mark(conn, source)
    if current is not None and order(current) >= order(mark):
        return current
    conn.execute(
        "insert into audit.watermarks (source, mark, load_id, run_id) values (%s, %s, %s, %s) "
        "on conflict (source) do update set mark = excluded.mark, load_id = excluded.load_id, "
        "run_id = excluded.run_id, updated_at = now()",
        (source, mark, load_id, run_id),
    )
    return mark


def timestamp_order(mark: str) -> datetime:
    return datetime.fromisoformat(mark)
