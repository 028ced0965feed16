"""Dirty records, planted on purpose and reported exactly.

Kinds, and where they are planted (table: column):
- duplicate: the same row delivered twice, the copy right after the original
  (customers, orders, order_lines, payments, web_sessions, funnel_events).
- unknown_fk: a reference to a parent that does not exist (orders.customer_id,
  order_lines.product_id, funnel_events.session_id, support_tickets.customer_id).
- negative_quantity: the sign flipped (order_lines.quantity; deliveries.quantity_received).
  Amounts are left as they were: it is a quantity bug, and abs() restores the value.
- malformed_date: a date or timestamp in a local format (web_sessions.started_at as
  "dd/mm/yyyy hh:mm", deliveries.delivered_on as "dd.mm.yyyy"). These columns are text
  in their sources, so the whole column is text: ISO 8601 where clean.
- wrong_encoding: employees rows whose names have accents, written in cp1252 instead of
  UTF-8 in employees.csv (the writer does it; frames hold the right text).
Each kind hits about ``dirt_rate`` of a table's rows per chunk, and at least one row in
a designated chunk, so small test companies have every kind too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from metricstack.sample_company.randomness import stream
from metricstack.sample_company.schema import SCHEMAS

DIRT_SPEC: dict[str, tuple[tuple[str, str | None], ...]] = {
    "customers": (("duplicate", None),),
    "orders": (("unknown_fk", "customer_id"), ("duplicate", None)),
    "order_lines": (
        ("negative_quantity", "quantity"),
        ("unknown_fk", "product_id"),
        ("duplicate", None),
    ),
    "payments": (("duplicate", None),),
    "web_sessions": (("malformed_date", "started_at"), ("duplicate", None)),
    "funnel_events": (("unknown_fk", "session_id"), ("duplicate", None)),
    "support_tickets": (("unknown_fk", "customer_id"),),
    "deliveries": (("malformed_date", "delivered_on"), ("negative_quantity", "quantity_received")),
    "employees": (("wrong_encoding", "last_name"),),
}
# Values no parent has: far above every generated id.
UNKNOWN_BASE = {
    "customer_id": 900_000_000,
    "product_id": 99_000_000,
    "session_id": 10_000_000_000_000,
}
ENCODING_DIRT_FILE = "employees.csv"
ENCODING_DIRT_CODEC = "cp1252"


@dataclass(frozen=True)
class DirtRecord:
    table: str
    kind: str
    column: str | None
    keys: tuple[tuple[int | str, ...], ...]  # primary keys of the affected rows


def _keys(frame: pd.DataFrame, table: str, rows: np.ndarray) -> tuple[tuple[int | str, ...], ...]:
    pk = list(SCHEMAS[table].primary_key)
    values = frame.iloc[rows][pk].to_numpy(dtype=object)
    return tuple(tuple(v.item() if hasattr(v, "item") else v for v in row) for row in values)


def as_text(values: pd.Series, is_timestamp: bool) -> NDArray[np.object_]:
    """ISO 8601 text of dates (2024-03-05) or UTC timestamps (2024-03-05T14:03:11Z)."""
    stamps = pd.DatetimeIndex(values)
    if stamps.tz is not None:
        stamps = stamps.tz_convert(None)
    raw = stamps.to_numpy().astype("datetime64[s]")
    text: NDArray[np.object_]
    if is_timestamp:
        text = np.datetime_as_string(raw, unit="s").astype(np.object_) + "Z"
    else:
        text = np.datetime_as_string(raw, unit="D").astype(np.object_)
    text[np.isnat(raw)] = None  # missing stays missing (NaT would print as "NaT")
    return text


def _local_format(values: pd.Series, is_timestamp: bool) -> NDArray[np.object_]:
    stamp = pd.DatetimeIndex(values)
    fmt = "%d/%m/%Y %H:%M" if is_timestamp else "%d.%m.%Y"
    return np.asarray(stamp.strftime(fmt), dtype=object)


def _position(frame: pd.DataFrame, column: str) -> int:
    """Position of ``column``; a frame's columns are unique, so get_loc gives an int."""
    position = frame.columns.get_loc(column)
    if not isinstance(position, int):
        raise ValueError(f"column {column!r} is not unique")
    return position


def plant(
    table: str, frame: pd.DataFrame, seed: int, chunk: int, rate: float, designated: bool
) -> tuple[pd.DataFrame, list[DirtRecord]]:
    """Return the frame with this table's dirt planted, and what was planted."""
    spec = DIRT_SPEC.get(table, ())
    schema = SCHEMAS[table]
    frame = frame.copy() if spec else frame
    for kind, column in spec:  # text columns are text whether dirty or not
        if kind == "malformed_date" and column is not None:
            frame[column] = as_text(frame[column], schema.column(column).type == "timestamptz")
    n = len(frame)
    if not spec or n == 0 or (rate == 0 and not designated):
        return frame, []
    rng = stream(seed, f"dirt:{table}", chunk)
    counts = rng.binomial(n, rate, len(spec))
    if designated:
        counts = np.maximum(counts, 1)
    eligible = np.ones(n, dtype=bool)
    for i, (kind, column) in enumerate(spec):
        if kind == "wrong_encoding" and column is not None:
            eligible &= frame[column].map(lambda s: not str(s).isascii()).to_numpy()
            counts[i] = min(counts[i], int(eligible.sum()))
    total = int(counts.sum())
    chosen = rng.permutation(np.flatnonzero(eligible))[:total]
    records: list[DirtRecord] = []
    duplicate_rows = np.zeros(0, dtype=np.int64)
    at = 0
    for (kind, column), count in zip(spec, counts, strict=True):
        rows = np.sort(chosen[at : at + count])
        at += count
        if len(rows) == 0:
            continue
        if kind == "duplicate":
            duplicate_rows = rows
        elif kind == "unknown_fk" and column is not None:
            values = UNKNOWN_BASE[column] + rng.integers(1, 1000, len(rows))
            frame.iloc[rows, _position(frame, column)] = values
        elif kind == "negative_quantity" and column is not None:
            position = _position(frame, column)
            frame.iloc[rows, position] = -frame.iloc[rows, position].to_numpy()
        elif kind == "malformed_date" and column is not None:
            original = SCHEMAS[table].column(column).type == "timestamptz"
            parsed = pd.to_datetime(frame[column].iloc[rows], utc=original, format="ISO8601")
            frame.iloc[rows, _position(frame, column)] = _local_format(parsed, original)
        records.append(DirtRecord(table, kind, column, _keys(frame, table, rows)))
    if len(duplicate_rows):
        repeat = np.ones(n, dtype=np.int64)
        repeat[duplicate_rows] = 2
        frame = frame.iloc[np.repeat(np.arange(n), repeat)].reset_index(drop=True)
    return frame, records
