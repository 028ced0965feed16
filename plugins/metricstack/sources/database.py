"""Extract a table of an operational database to a CSV file the loader loads.

    extract = extract_table(
        "postgresql://reader:***@shop-db/shop", "orders", ["order_id", "status", ...],
        landing / "shop_db" / "orders" / "orders_20240301.csv",
        incremental_key="updated_at", since=mark, until=interval_end,
    )
    extract.rows, extract.max_key     # the next mark is extract.max_key (or until)

PostgreSQL (``postgresql://``) is read with ``COPY (select ...) TO STDOUT (FORMAT csv,
HEADER)`` streamed to the file; MySQL and MariaDB (``mysql://``) with a server-side
cursor written row by row in the very same CSV dialect, so the loader sees one format
whichever database a table comes from, and the same table gives byte-identical files:

- a header row of the column names; fields separated by ``,``, lines ended by ``\\n``;
- a field is quoted (``"``, doubled inside) only when it holds ``,``, ``"``, CR or LF,
  or is the empty string; NULL is an empty, unquoted field;
- timestamps in ISO 8601, UTC: ``2024-03-05 14:03:11+00`` (fractional seconds when
  there are any, trailing zeros dropped); dates ``2024-03-05``; booleans ``t``/``f``;
  numerics as the database keeps them (``12.50``). MySQL ``datetime`` columns hold UTC
  by convention (MySQL has no time zone on them); ``timestamp`` columns are read in UTC.
- rows ordered by the incremental key, then by ``order_by`` (default: every extracted
  column), text compared byte by byte (``COLLATE "C"`` / binary) and NULL first, so the
  order is total and the same in both databases: re-running an extraction of the same
  data gives a byte-identical file (which the loader then skips by its content hash).

Incremental extraction: rows with ``since < key <= until``. ``since`` is exclusive and
``until`` inclusive, so consecutive windows (the previous ``until``, or the previous
``max_key``, as the next ``since``) neither miss nor repeat a row; a backfill is any
window. Each extraction reads one snapshot (REPEATABLE READ, read only), so the file,
its row count and its ``min_key``/``max_key`` agree.

The caveat of high-water marks: a row whose key is at or below the mark when it is
committed is never picked up (a transaction that set ``updated_at = now()`` and
committed after a later one, a clock behind, a back-dated update). ``lookback`` widens
every window backwards by that much; the loader merges on the primary key, so the rows
read twice are harmless. Rows whose key is NULL are only read by a full extraction
(no ``since``/``until``). Deleted rows are not seen at all.

Table and column names are checked against a strict identifier pattern and quoted per
dialect; the marks go in as parameters (MySQL) or escaped literals (PostgreSQL's COPY
takes no parameters), never as raw text. Errors name the source table and show the
database URL with its password masked.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
import pymysql  # type: ignore[import-untyped]  # pymysql ships no py.typed and no stubs
from psycopg import sql

from metricstack.sources.errors import SourceDataError, TransientSourceError

log = logging.getLogger(__name__)

Dialect = Literal["postgresql", "mysql"]


_SCHEMES: dict[str, Dialect] = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}
# Letters, digits and underscores, not starting with a digit, at most 63 characters
# (PostgreSQL's limit; MySQL allows 64): no quoting tricks can pass.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')
_FETCH_ROWS = 10_000
_MYSQL_TIMESTAMPS = {"datetime", "timestamp"}
_MYSQL_FLOATS = {"double", "float", "real"}
_MYSQL_TEXT = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"}
_MYSQL_BINARY = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"}
_PG_KEY_TYPES = {"timestamp with time zone", "timestamp without time zone", "date"}


@dataclass(frozen=True)
class Extract:
    """One extraction: the file written and what it holds."""

    path: Path
    table: str
    rows: int
    bytes: int
    min_key: datetime | None  # the smallest and largest incremental key in the file;
    max_key: datetime | None  # None without a key or without rows
    since: datetime | None  # the window actually read (since after the lookback)
    until: datetime | None


@dataclass(frozen=True)
class _SourceColumn:
    name: str
    type: str  # PostgreSQL: format_type(); MySQL: data_type
    detail: str  # PostgreSQL: the type's category letter; MySQL: column_type


# -- URLs ---------------------------------------------------------------------------------


def dialect_of(url: str) -> Dialect:
    """``postgresql`` or ``mysql`` from the URL's scheme (a ``+driver`` is ignored)."""
    scheme = urlsplit(url).scheme.split("+", 1)[0].lower()
    if scheme not in _SCHEMES:
        raise SourceDataError(
            f"unsupported database URL scheme {scheme!r} in {mask_url(url)}: "
            "use postgresql:// or mysql://"
        )
    return _SCHEMES[scheme]


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _scrub(text: str, url: str) -> str:
    """``text`` without the URL's password in any spelling (drivers may echo it)."""
    password = urlsplit(url).password
    if not password:
        return text
    for spelling in {password, unquote(password)}:
        text = text.replace(spelling, "***")
    return text


def postgres_conninfo(url: str) -> str:
    """The URL as libpq takes it: without a SQLAlchemy ``+driver``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql"))


def mysql_connect_args(url: str) -> dict[str, Any]:
    """pymysql.connect keyword arguments from a ``mysql://user:pw@host:port/db`` URL."""
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "database": parts.path.lstrip("/") or None,
        "charset": "utf8mb4",
    }


# -- identifiers --------------------------------------------------------------------------


def check_identifier(name: str, what: str) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ValueError(
            f"{what} {name!r} is not a plain identifier (letters, digits and "
            "underscores, not starting with a digit, at most 63 characters)"
        )
    return name


def _split_table(table: str) -> tuple[str | None, str]:
    parts = table.split(".")
    if len(parts) > 2:
        raise ValueError(f"table {table!r}: give it as name or schema.name")
    for part in parts:
        check_identifier(part, "table name part")
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def mysql_quote(name: str) -> str:
    """A checked identifier in MySQL's backquotes."""
    return f"`{check_identifier(name, 'identifier')}`"


# -- CSV, as PostgreSQL writes it -----------------------------------------------------------


def csv_field(value: str | None) -> str:
    """One field of PostgreSQL's CSV output: NULL empty, the empty string quoted."""
    if value is None:
        return ""
    if value == "" or _NEEDS_QUOTES.search(value):
        return '"' + value.replace('"', '""') + '"'
    return value


def _pg_timestamp(text: str) -> str:
    """MySQL's ``2024-03-05 14:03:11.500000`` as PostgreSQL prints it in UTC."""
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + "+00"


def _pg_float(text: str) -> str:
    """A float as PostgreSQL prints it: shortest digits, exponent below 1e-4 or from 1e15."""
    value = float(text)
    if value != value:  # NaN
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    number = Decimal(repr(value)).normalize()
    sign, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int):  # not finite: handled above
        return text
    magnitude = exponent + len(digits) - 1
    if -4 <= magnitude < 15:
        return format(number, "f")
    mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{'+' if magnitude >= 0 else '-'}{abs(magnitude):02d}"


def _mysql_formatter(column: _SourceColumn) -> Callable[[Any], str]:
    if column.type in _MYSQL_FLOATS:
        return _pg_float
    if column.type in _MYSQL_TIMESTAMPS:
        return _pg_timestamp
    if column.detail.startswith("tinyint(1)"):  # BOOLEAN is tinyint(1)
        return lambda text: "f" if text == "0" else "t"
    if column.type in _MYSQL_BINARY or column.type == "bit":
        return lambda raw: "\\x" + (raw if isinstance(raw, bytes) else raw.encode()).hex()
    return str


# -- the extraction -------------------------------------------------------------------------


def _utc(value: datetime | None, name: str) -> datetime | None:
    """An aware UTC datetime; a naive one is taken as UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _key_value(value: object) -> datetime | None:
    """A key read back from the database as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):  # MySQL, read without converters
        return _key_value(datetime.fromisoformat(value))
    raise SourceDataError(f"unexpected incremental key value {value!r}")


def extract_table(
    url: str,
    table: str,
    columns: Sequence[str],
    destination: Path,
    *,
    incremental_key: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    lookback: timedelta = timedelta(0),
    order_by: Sequence[str] | None = None,
) -> Extract:
    """Write ``columns`` of ``table`` (rows with ``since - lookback < key <= until``) as CSV.

    ``table`` is ``name`` or ``schema.name`` (MySQL: ``database.name``). Without
    ``incremental_key`` the whole table is extracted. ``destination`` is the file to
    write; it appears complete or not at all (written aside, then renamed). Naive
    datetimes are taken as UTC. See the module's docstring for the format and the
    boundaries.
    """
    if not columns:
        raise ValueError(f"extract of {table}: no columns asked for")
    schema, name = _split_table(table)
    cols = [check_identifier(c, f"column of {table}") for c in columns]
    order = [check_identifier(c, f"order_by column of {table}") for c in (order_by or cols)]
    key = check_identifier(incremental_key, "incremental key") if incremental_key else None
    if lookback < timedelta(0):
        raise ValueError(f"lookback must not be negative, got {lookback}")
    low, high = _utc(since, "since"), _utc(until, "until")
    if key is None and (low is not None or high is not None):
        raise ValueError(f"extract of {table}: since/until need an incremental_key")
    if low is not None:
        low -= lookback
    if low is not None and high is not None and low >= high:
        raise ValueError(f"extract of {table}: since ({low}) must be before until ({high})")

    dialect = dialect_of(url)
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        with partial.open("wb") as handle:
            if dialect == "postgresql":
                rows, min_key, max_key = _extract_postgres(
                    url, schema, name, cols, order, key, low, high, handle
                )
            else:
                rows, min_key, max_key = _extract_mysql(
                    url, schema, name, cols, order, key, low, high, handle
                )
        size = partial.stat().st_size
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)
    result = Extract(destination, table, rows, size, min_key, max_key, low, high)
    log.info(
        "extracted %s rows (%s bytes) of %s from %s into %s; key %s from %s to %s",
        rows,
        size,
        table,
        mask_url(url),
        destination,
        key or "(none: full table)",
        low or "the start",
        high or "the end",
    )
    return result


def _check_columns(
    table: str, url: str, found: list[_SourceColumn], wanted: Sequence[str]
) -> dict[str, _SourceColumn]:
    if not found:
        raise SourceDataError(f"source table {table} does not exist in {mask_url(url)}")
    by_name = {c.name: c for c in found}
    missing = [c for c in dict.fromkeys(wanted) if c not in by_name]
    if missing:
        raise SourceDataError(
            f"source table {table} in {mask_url(url)} has no column {', '.join(missing)} "
            f"(its columns: {', '.join(by_name)})"
        )
    return by_name


# -- PostgreSQL -----------------------------------------------------------------------------


@contextmanager
def _pg_snapshot(url: str) -> Iterator[psycopg.Connection[Any]]:
    """A read-only REPEATABLE READ transaction with UTC, ISO dates and UTF-8."""
    try:
        conn = psycopg.connect(
            postgres_conninfo(url),
            client_encoding="UTF8",
            options="-c TimeZone=UTC -c DateStyle=ISO,YMD -c extra_float_digits=1",
        )
    except psycopg.Error as exc:
        raise TransientSourceError(
            f"cannot connect to {mask_url(url)}: {_scrub(str(exc), url)}"
        ) from None
    try:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        yield conn
        conn.rollback()  # nothing was written; ends the snapshot
    finally:
        conn.close()


def _pg_columns(conn: psycopg.Connection[Any], qualified: str) -> list[_SourceColumn]:
    rows = conn.execute(
        "select a.attname, format_type(a.atttypid, a.atttypmod), t.typcategory "
        "from pg_attribute as a join pg_type as t on t.oid = a.atttypid "
        "where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped "
        "order by a.attnum",
        (qualified,),
    ).fetchall()
    return [_SourceColumn(str(n), str(t), str(c)) for n, t, c in rows]


def _extract_postgres(
    url: str,
    schema: str | None,
    name: str,
    cols: list[str],
    order: list[str],
    key: str | None,
    low: datetime | None,
    high: datetime | None,
    out: IO[bytes],
) -> tuple[int, datetime | None, datetime | None]:
    table = f"{schema}.{name}" if schema else name
    relation = sql.Identifier(schema, name) if schema else sql.Identifier(name)
    try:
        with _pg_snapshot(url) as conn:
            return _copy_postgres(conn, url, table, relation, cols, order, key, low, high, out)
    except psycopg.Error as exc:
        raise SourceDataError(
            f"reading source table {table} from {mask_url(url)} failed: {_scrub(str(exc), url)}"
        ) from exc


def _copy_postgres(
    conn: psycopg.Connection[Any],
    url: str,
    table: str,
    relation: sql.Identifier,
    cols: list[str],
    order: list[str],
    key: str | None,
    low: datetime | None,
    high: datetime | None,
    out: IO[bytes],
) -> tuple[int, datetime | None, datetime | None]:
    found = _pg_columns(conn, relation.as_string(conn))
    known = _check_columns(table, url, found, [*cols, *order, *([key] if key else [])])
    if key and known[key].type not in _PG_KEY_TYPES:
        raise SourceDataError(
            f"incremental key {table}.{key} is {known[key].type}, not a timestamp or date"
        )
    where: list[sql.Composable] = []
    if key and low is not None:
        where.append(sql.SQL("{} > {}").format(sql.Identifier(key), sql.Literal(low)))
    if key and high is not None:
        where.append(sql.SQL("{} <= {}").format(sql.Identifier(key), sql.Literal(high)))
    condition = sql.SQL(" where ") + sql.SQL(" and ").join(where) if where else sql.SQL("")

    def sort(column: str) -> sql.Composable:
        text = known[column].detail == "S"  # string category: compare bytes
        collate = sql.SQL(' collate "C"' if text else "")
        return sql.SQL("{}{} nulls first").format(sql.Identifier(column), collate)

    ordering = [sort(c) for c in ([key] if key else []) + order]
    query = sql.SQL("select {cols} from {table}{where} order by {order}").format(
        cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
        table=relation,
        where=condition,
        order=sql.SQL(", ").join(ordering),
    )
    copy_sql = sql.SQL("copy ({}) to stdout (format csv, header)").format(query)
    with conn.cursor() as cur:
        with cur.copy(copy_sql) as copy:
            for data in copy:
                out.write(data)
        rows = cur.rowcount
    if not key:
        return rows, None, None
    bounds = sql.SQL("select min({key}), max({key}) from {table}{where}").format(
        key=sql.Identifier(key), table=relation, where=condition
    )
    result = conn.execute(bounds).fetchone()
    if result is None:  # an aggregate always returns a row
        raise SourceDataError(f"no bounds for source table {table}")
    return rows, _key_value(result[0]), _key_value(result[1])


# -- MySQL / MariaDB -------------------------------------------------------------------------


def connect_mysql(url: str, **options: Any) -> Any:
    """A pymysql connection (untyped: pymysql ships no type information)."""
    try:
        return pymysql.connect(**mysql_connect_args(url), **options)
    except pymysql.err.MySQLError as exc:
        raise TransientSourceError(
            f"cannot connect to {mask_url(url)}: {_scrub(str(exc), url)}"
        ) from None


def _mysql_encoders_only() -> dict[Any, Any]:
    """pymysql's conversions without the decoders: every value comes back as text."""
    conversions: dict[Any, Any] = pymysql.converters.conversions
    return {k: v for k, v in conversions.items() if not isinstance(k, int)}


def _extract_mysql(
    url: str,
    schema: str | None,
    name: str,
    cols: list[str],
    order: list[str],
    key: str | None,
    low: datetime | None,
    high: datetime | None,
    out: IO[bytes],
) -> tuple[int, datetime | None, datetime | None]:
    table = f"{schema}.{name}" if schema else name
    relation = f"{mysql_quote(schema)}.{mysql_quote(name)}" if schema else mysql_quote(name)
    conn = connect_mysql(url, conv=_mysql_encoders_only(), autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("set session time_zone = '+00:00'")
            cur.execute("set session transaction isolation level repeatable read")
            cur.execute("start transaction with consistent snapshot, read only")
            cur.execute(
                "select column_name, data_type, column_type from information_schema.columns "
                "where table_schema = coalesce(%s, database()) and table_name = %s "
                "order by ordinal_position",
                (schema, name),
            )
            found = [_SourceColumn(str(n), str(t).lower(), str(d)) for n, t, d in cur.fetchall()]
        known = _check_columns(table, url, found, [*cols, *order, *([key] if key else [])])
        if key and known[key].type not in {*_MYSQL_TIMESTAMPS, "date"}:
            raise SourceDataError(
                f"incremental key {table}.{key} is {known[key].type}, not a timestamp or date"
            )
        where: list[str] = []
        params: list[datetime] = []
        if key and low is not None:
            where.append(f"{mysql_quote(key)} > %s")
            params.append(low.replace(tzinfo=None))  # datetime columns hold naive UTC
        if key and high is not None:
            where.append(f"{mysql_quote(key)} <= %s")
            params.append(high.replace(tzinfo=None))
        condition = " where " + " and ".join(where) if where else ""

        def sort(column: str) -> str:
            # NULL sorts first in MySQL already; text compared as bytes, as in PostgreSQL
            quoted = mysql_quote(column)
            return f"cast({quoted} as binary)" if known[column].type in _MYSQL_TEXT else quoted

        ordering = ", ".join(sort(c) for c in ([key] if key else []) + order)
        query = (
            f"select {', '.join(mysql_quote(c) for c in cols)} "  # noqa: S608 - checked, quoted
            f"from {relation}{condition} order by {ordering}"
        )
        formatters = [_mysql_formatter(known[c]) for c in cols]
        rows = 0
        out.write((",".join(csv_field(c) for c in cols) + "\n").encode())
        single = len(cols) == 1
        with conn.cursor(pymysql.cursors.SSCursor) as cur:
            cur.execute(query, params)
            while batch := cur.fetchmany(_FETCH_ROWS):
                lines = []
                for row in batch:
                    fields = [
                        "" if v is None else csv_field(f(v))
                        for f, v in zip(formatters, row, strict=True)
                    ]
                    if single and fields[0] == "\\.":  # PostgreSQL quotes its end marker
                        fields[0] = '"\\."'
                    lines.append(",".join(fields))
                out.write(("\n".join(lines) + "\n").encode())
                rows += len(batch)
        if not key:
            return rows, None, None
        with conn.cursor() as cur:
            cur.execute(
                f"select min({mysql_quote(key)}), max({mysql_quote(key)}) "  # noqa: S608
                f"from {relation}{condition}",
                params,
            )
            low_key, high_key = cur.fetchone()
            cur.execute("commit")
        return rows, _key_value(low_key), _key_value(high_key)
    except pymysql.err.MySQLError as exc:
        raise SourceDataError(
            f"reading source table {table} from {mask_url(url)} failed: {_scrub(str(exc), url)}"
        ) from exc
    finally:
        conn.close()
