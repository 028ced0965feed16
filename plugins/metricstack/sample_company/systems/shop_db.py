"""The sample company's operational database: its shop tables in PostgreSQL or MySQL.

    counts = seed_shop_database("postgresql://...:55432/shop", generate(config))
    seed_shop_database(url, company, until=date(2024, 7, 1))   # the shop as of that day

The tables are the generator's operational tables (SHOP_TABLES) with its column types
mapped to the dialect, plus ``updated_at`` (timestamptz; MySQL ``datetime(6)`` holding
UTC), the key incremental extraction reads by. It is the time the row was written in
the shop's life:

- orders: ``ordered_at``; order_lines: their order's ``ordered_at``;
- payments: ``paid_at``; returns: ``returned_on``; customers: ``signup_date``;
- purchase_orders: ``ordered_on``; purchase_order_lines: their purchase order's;
- the reference tables (regions, countries, warehouses, categories, suppliers,
  products, sales teams and reps): the start of the history (the day the shop went live).

So no row appears before a row it refers to (customer ≤ order ≤ payment, return), and
every cut-off is a consistent shop. The price: an order is written once, with its final
status and ``delivered_on``; the shop's later updates of a row are not modelled.

Dirty data stays as the generator planted it (see dirt.py): unknown foreign keys and
negative quantities, and the duplicate rows of customers, orders, order_lines and
payments. An operational database is where such rows come from, so they are here, and an
extraction equals the generator's data row for row. Those four tables therefore have no
primary key constraint (a duplicate would violate it), only an index on the key columns;
every other table has its primary key. No foreign keys: the planted orphans would
violate them. Deduplication is the loader's merge on the primary key and staging's job.

``until`` seeds the shop as it was before that day (rows whose ``updated_at`` is before
its midnight UTC); seeding again with a later ``until``, or none, adds the rest while the
rows already there stay exactly as they were (the same values, the same
``updated_at``), which is what incremental extraction tests need. Each seed replaces
the tables: on PostgreSQL in one transaction; on MySQL, whose DDL commits by itself, the
new tables are filled aside and swapped in with one atomic RENAME TABLE. Seeding twice
gives the same database. Memory stays bounded by the generator's chunks: PostgreSQL
takes each chunk by COPY, MySQL by LOAD DATA LOCAL INFILE (or batched INSERTs when the
server does not allow local files).
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pymysql  # type: ignore[import-untyped]  # pymysql ships no py.typed and no stubs
from psycopg import sql

from metricstack.sample_company.dirt import DIRT_SPEC, as_text
from metricstack.sample_company.generator import Company
from metricstack.sample_company.schema import TableSchema
from metricstack.sources.database import (
    connect_mysql,
    dialect_of,
    mask_url,
    mysql_quote,
    postgres_conninfo,
)
from metricstack.sources.errors import SourceDataError

log = logging.getLogger(__name__)

SHOP_TABLES = (
    "regions",
    "countries",
    "warehouses",
    "categories",
    "suppliers",
    "products",
    "sales_teams",
    "sales_reps",
    "customers",
    "orders",
    "order_lines",
    "payments",
    "returns",
    "purchase_orders",
    "purchase_order_lines",
)
UPDATED_AT = "updated_at"
# The business time each table's updated_at comes from (a column of its own, or of the
# parent named "table.column" joined on the parent's key); the others: the start.
_OWN_TIME = {
    "customers": "signup_date",
    "orders": "ordered_at",
    "payments": "paid_at",
    "returns": "returned_on",
    "purchase_orders": "ordered_on",
}
# child -> (parent, the key they share)
_PARENT_TIME = {
    "order_lines": ("orders", "order_id"),
    "purchase_order_lines": ("purchase_orders", "purchase_order_id"),
}
# MySQL error codes meaning "LOAD DATA LOCAL is not allowed here": fall back to INSERTs
_NO_LOCAL_INFILE = {1148, 2068, 3948, 4166}
_INSERT_BATCH = 5_000
_Chunks = Iterator[tuple[str, pd.DataFrame, pd.Series]]


def has_planted_duplicates(company: Company, table: str) -> bool:
    """Whether the generator plants duplicate rows in ``table`` (then: no PK constraint)."""
    return company.config.dirt and ("duplicate", None) in DIRT_SPEC.get(table, ())


# -- types ------------------------------------------------------------------------------------


def mysql_type(declared: str, key: bool) -> str:
    """The MySQL type of a warehouse type (key text columns need a length to be indexed)."""
    if declared.startswith("numeric"):
        return "decimal" + declared.removeprefix("numeric")
    return {
        "bigint": "bigint",
        "integer": "int",
        "smallint": "smallint",
        "text": "varchar(255)" if key else "text",
        "date": "date",
        "timestamptz": "datetime(6)",
        "boolean": "boolean",
    }[declared]


def _scale(declared: str) -> int:
    """numeric(18,2) -> 2."""
    return int(declared.rstrip(")").split(",")[1]) if "," in declared else 0


# -- updated_at ----------------------------------------------------------------------------------


def _as_utc(values: pd.Series) -> pd.Series:
    """Dates or timestamps as UTC timestamps (dates at midnight)."""
    stamps = pd.to_datetime(values)
    if stamps.dt.tz is None:
        return stamps.dt.tz_localize("UTC")
    return stamps.dt.tz_convert("UTC")


class _Clock:
    """updated_at of each chunk; remembers the parents' times their children inherit."""

    def __init__(self, company: Company) -> None:
        self.start = pd.Timestamp(company.config.start, tz="UTC")
        self.parents: dict[str, pd.Series] = {}

    def __call__(self, table: str, frame: pd.DataFrame) -> pd.Series:
        if table in _OWN_TIME:
            times = _as_utc(frame[_OWN_TIME[table]])
            for parent, key in _PARENT_TIME.values():
                if parent == table:  # kept for the children: this chunk's parents only
                    by_key = pd.Series(times.to_numpy(), index=frame[key].to_numpy())
                    self.parents[table] = by_key[~by_key.index.duplicated()]
            return times
        if table in _PARENT_TIME:
            parent, key = _PARENT_TIME[table]
            known = self.parents.get(parent, pd.Series(dtype="datetime64[s, UTC]"))
            times = frame[key].map(known)
            if times.isna().any():
                raise RuntimeError(
                    f"{table}: rows whose {parent} row was not in the chunk before; "
                    "the generator's chunk order changed"
                )
            return _as_utc(times)
        return pd.Series(self.start, index=frame.index)


# -- rows as text --------------------------------------------------------------------------------


def _text_columns(
    schema: TableSchema, frame: pd.DataFrame, updated_at: pd.Series, mysql: bool
) -> pd.DataFrame:
    """Every column as str, None where missing, in the form the dialect reads."""
    out: dict[str, Any] = {}
    for column in schema.columns:
        values = frame[column.name]
        missing = values.isna().to_numpy()
        if column.type == "timestamptz":
            text = _timestamp_text(_as_utc(values), mysql)
        elif column.type == "date":
            text = as_text(values, False)
        elif column.type == "boolean":
            flags = values.to_numpy(dtype=bool)
            text = np.where(flags, "1", "0") if mysql else np.where(flags, "true", "false")
        elif column.type.startswith("numeric"):
            pattern = f"{{:.{_scale(column.type)}f}}"
            text = np.array([pattern.format(v) for v in values.to_numpy(dtype=float)], object)
        else:
            text = values.astype(object).to_numpy()
        cells = np.array(text, dtype=object)  # a copy: frames may share read-only memory
        cells[missing] = None
        out[column.name] = cells
    out[UPDATED_AT] = _timestamp_text(updated_at, mysql)
    return pd.DataFrame(out, index=frame.index, dtype=object)  # None stays None


def _timestamp_text(values: pd.Series, mysql: bool) -> np.ndarray[Any, Any]:
    raw = values.dt.tz_convert(None).to_numpy().astype("datetime64[us]")
    text: np.ndarray[Any, Any] = np.datetime_as_string(raw, unit="us").astype(object)
    # MySQL: naive UTC for datetime(6); PostgreSQL: explicit UTC
    return text if mysql else np.asarray(text + "Z", dtype=object)


def _csv(frame: pd.DataFrame) -> str:
    """CSV for COPY and LOAD DATA: NULL as \\N, text quoted where it must be."""
    buffer = io.StringIO()
    frame.to_csv(
        buffer,
        index=False,
        header=False,
        na_rep="\\N",
        lineterminator="\n",
        quoting=csv.QUOTE_MINIMAL,
    )
    return buffer.getvalue()


# -- the seed ----------------------------------------------------------------------


def seed_shop_database(url: str, company: Company, *, until: date | None = None) -> dict[str, int]:
    """Write the shop's tables into the database at ``url``; rows per table.

    ``url`` is ``postgresql://...`` or ``mysql://...``; the database must exist and the
    user may create and drop tables in it. ``until``: only rows written before that day.
    """
    dialect = dialect_of(url)
    cutoff = None if until is None else pd.Timestamp(until, tz="UTC")
    clock = _Clock(company)
    schemas = {t: company.schemas[t] for t in SHOP_TABLES}

    def chunks() -> Iterator[tuple[str, pd.DataFrame, pd.Series]]:
        for chunk in company.chunks():
            if chunk.table not in schemas:
                continue
            updated = clock(chunk.table, chunk.frame)
            if cutoff is None:
                yield chunk.table, chunk.frame, updated
            else:
                keep = (updated < cutoff).to_numpy()
                yield chunk.table, chunk.frame[keep], updated[keep]

    if dialect == "postgresql":
        counts = _seed_postgres(url, company, schemas, chunks())
    else:
        counts = _seed_mysql(url, company, schemas, chunks())
    log.info(
        "seeded the shop database %s%s: %s rows in %s tables",
        mask_url(url),
        f" until {until}" if until else "",
        sum(counts.values()),
        len(counts),
    )
    return counts


def _seed_postgres(
    url: str, company: Company, schemas: dict[str, TableSchema], chunks: _Chunks
) -> dict[str, int]:
    counts = dict.fromkeys(schemas, 0)
    with psycopg.connect(postgres_conninfo(url), options="-c TimeZone=UTC") as conn:
        for name, schema in schemas.items():
            table = sql.Identifier(name)
            columns = [
                sql.SQL("{} {}{}").format(
                    sql.Identifier(c.name),
                    sql.SQL(c.type),
                    sql.SQL("" if c.nullable else " not null"),
                )
                for c in schema.columns
            ]
            columns.append(sql.SQL("{} timestamptz not null").format(sql.Identifier(UPDATED_AT)))
            conn.execute(sql.SQL("drop table if exists {} cascade").format(table))
            conn.execute(sql.SQL("create table {} ({})").format(table, sql.SQL(", ").join(columns)))
        with conn.cursor() as cur:
            for name, frame, updated in chunks:
                schema = schemas[name]
                names = [*schema.column_names, UPDATED_AT]
                copy_sql = sql.SQL("copy {} ({}) from stdin (format csv, null '\\N')").format(
                    sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, names))
                )
                with cur.copy(copy_sql) as copy:
                    copy.write(_csv(_text_columns(schema, frame, updated, mysql=False)))
                counts[name] += len(frame)
        for name, schema in schemas.items():
            table = sql.Identifier(name)
            for index, names in _indexes(company, schema):
                indexed = sql.SQL(", ").join(map(sql.Identifier, names))
                if index is None:
                    conn.execute(
                        sql.SQL("alter table {} add primary key ({})").format(table, indexed)
                    )
                else:
                    conn.execute(
                        sql.SQL("create index {} on {} ({})").format(
                            sql.Identifier(index), table, indexed
                        )
                    )
            conn.execute(sql.SQL("analyze {}").format(sql.Identifier(name)))
    return counts


def _indexes(company: Company, schema: TableSchema) -> list[tuple[str | None, list[str]]]:
    """(index name, columns): the primary key (name None), or a plain index on the key
    columns where the generator plants duplicates; and updated_at's index."""
    key = list(schema.primary_key)
    first = (
        (f"{schema.name}_key", key) if has_planted_duplicates(company, schema.name) else (None, key)
    )
    return [first, (f"{schema.name}_updated_at", [UPDATED_AT])]


# -- MySQL -------------------------------------------------------------------------


def _seed_mysql(
    url: str, company: Company, schemas: dict[str, TableSchema], chunks: _Chunks
) -> dict[str, int]:
    counts = dict.fromkeys(schemas, 0)
    conn = connect_mysql(url, local_infile=True, autocommit=True)
    aside = {name: f"_seed_{name}" for name in schemas}
    try:
        with conn.cursor() as cur:
            cur.execute("set session time_zone = '+00:00'")
            for name, schema in schemas.items():
                key = set(schema.primary_key)
                columns = [
                    f"{mysql_quote(c.name)} {mysql_type(c.type, c.name in key)}"
                    + ("" if c.nullable else " not null")
                    for c in schema.columns
                ]
                columns.append(f"{mysql_quote(UPDATED_AT)} datetime(6) not null")
                cur.execute(f"drop table if exists {mysql_quote(aside[name])}")
                cur.execute(
                    f"create table {mysql_quote(aside[name])} ({', '.join(columns)}) "
                    "engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin"
                )
            load: Callable[[str, list[str], pd.DataFrame], None] = _mysql_loader(cur)
            for name, frame, updated in chunks:
                schema = schemas[name]
                names = [*schema.column_names, UPDATED_AT]
                load(aside[name], names, _text_columns(schema, frame, updated, mysql=True))
                counts[name] += len(frame)
            for name, schema in schemas.items():
                table = mysql_quote(aside[name])
                for index, names in _indexes(company, schema):
                    indexed = ", ".join(map(mysql_quote, names))
                    if index is None:
                        cur.execute(f"alter table {table} add primary key ({indexed})")
                    else:
                        cur.execute(f"create index {mysql_quote(index)} on {table} ({indexed})")
            # swap all tables in at once: RENAME TABLE of several tables is atomic
            cur.execute(
                "select table_name from information_schema.tables where table_schema = database()"
            )
            existing = {str(row[0]) for row in cur.fetchall()}
            renames = []
            for name in schemas:
                if name in existing:
                    renames.append(f"{mysql_quote(name)} to {mysql_quote('_old_' + name)}")
                renames.append(f"{mysql_quote(aside[name])} to {mysql_quote(name)}")
            cur.execute("rename table " + ", ".join(renames))
            for name in schemas:
                cur.execute(f"drop table if exists {mysql_quote('_old_' + name)}")
    except Exception:
        with conn.cursor() as cur:
            for name in aside.values():
                cur.execute(f"drop table if exists {mysql_quote(name)}")
        raise
    finally:
        conn.close()
    return counts


def _mysql_loader(cur: Any) -> Callable[[str, list[str], pd.DataFrame], None]:
    """LOAD DATA LOCAL INFILE, falling back to batched INSERTs when it is not allowed."""
    state = {"local_infile": True}

    def insert(table: str, names: list[str], text: pd.DataFrame) -> None:
        # identifiers checked and quoted; the values are bound
        statement = (
            f"insert into {mysql_quote(table)} ({', '.join(map(mysql_quote, names))}) "  # noqa: S608
            f"values ({', '.join(['%s'] * len(names))})"
        )
        rows = list(text.itertuples(index=False, name=None))
        for start in range(0, len(rows), _INSERT_BATCH):
            cur.executemany(statement, rows[start : start + _INSERT_BATCH])

    def load(table: str, names: list[str], text: pd.DataFrame) -> None:
        if not state["local_infile"]:
            insert(table, names, text)
            return
        escaped = text.copy()
        for column in escaped.columns:  # the backslash is LOAD DATA's escape character
            values = escaped[column].to_numpy()
            escaped[column] = [
                v.replace("\\", "\\\\") if isinstance(v, str) and "\\" in v else v for v in values
            ]
        with tempfile.NamedTemporaryFile("w", suffix=".csv", encoding="utf-8") as handle:
            handle.write(_csv(escaped))
            handle.flush()
            path = Path(handle.name).as_posix().replace("\\", "\\\\").replace("'", "\\'")
            try:
                cur.execute(
                    f"load data local infile '{path}' into table {mysql_quote(table)} "
                    "character set utf8mb4 fields terminated by ',' optionally enclosed by '\"' "
                    f"lines terminated by '\\n' ({', '.join(map(mysql_quote, names))})"
                )
            except pymysql.err.MySQLError as exc:
                if not (exc.args and exc.args[0] in _NO_LOCAL_INFILE):
                    raise
                log.warning("LOAD DATA LOCAL is not allowed (%s); using INSERTs", exc)
                state["local_infile"] = False
                insert(table, names, text)
                return
        # LOCAL implies IGNORE: bad values are warnings, not errors, so look
        cur.execute("show warnings limit 5")
        warnings = cur.fetchall()
        if warnings:
            raise SourceDataError(f"loading {table}: MySQL reported {warnings}")

    return load
