"""The sample company's source systems: its shop database (PostgreSQL and MariaDB) and
its landing folder.

The MySQL tests use the MariaDB of this machine (``METRICSTACK_TEST_MYSQL_URL``, default
mysql://root@127.0.0.1:3306) in a database of their own; they are skipped when it does
not answer, unless METRICSTACK_REQUIRE_MYSQL=1 (then they fail).
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pandas as pd
import psycopg
import pymysql
import pytest
from psycopg import sql
from shop_sample import CUTOFF, updated_at

from metricstack.sample_company.generator import Company
from metricstack.sample_company.systems import shop_db
from metricstack.sample_company.systems.landing import (
    CSV_TABLES,
    WORKBOOK_TABLES,
    write_landing_files,
)
from metricstack.sample_company.systems.shop_db import (
    SHOP_TABLES,
    has_planted_duplicates,
    seed_shop_database,
)
from metricstack.sources.database import extract_table, mysql_connect_args

# -- servers -----------------------------------------------------------------------------------


def pg_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            t: conn.execute(
                sql.SQL("select count(*) from {}").format(sql.Identifier(t))
            ).fetchone()[0]
            for t in SHOP_TABLES
        }


def pg_digest(url: str, table: str, before: date | None = None) -> str:
    """A hash of the table's content (rows updated before a day), whatever the row order."""
    query = "select md5(string_agg(t::text, '|' order by t::text)) from {} as t"
    if before is not None:
        query += " where updated_at < %s"
    params = () if before is None else (pd.Timestamp(before, tz="UTC").to_pydatetime(),)
    with psycopg.connect(url) as conn:
        row = conn.execute(sql.SQL(query).format(sql.Identifier(table)), params).fetchone()
    return str(row[0])


def mysql_counts(url: str) -> dict[str, int]:
    conn = pymysql.connect(**mysql_connect_args(url))
    try:
        with conn.cursor() as cur:
            counts = {}
            for t in SHOP_TABLES:
                cur.execute(f"select count(*) from `{t}`")
                counts[t] = cur.fetchone()[0]
            return counts
    finally:
        conn.close()


# -- the shop database ---------------------------------------------------------------------------


def test_postgres_shop_holds_the_generated_rows(
    fresh_database: str, company: Company, tables: dict[str, pd.DataFrame]
) -> None:
    counts = seed_shop_database(fresh_database, company)
    expected = {t: len(tables[t]) for t in SHOP_TABLES}
    assert counts == expected
    assert pg_counts(fresh_database) == expected
    with psycopg.connect(fresh_database) as conn:
        # the planted duplicates are there, so those tables have no primary key
        for table in ("customers", "orders", "order_lines", "payments"):
            assert has_planted_duplicates(company, table)
            duplicates = len(company.truth.keys(table, "duplicate"))
            key = sql.SQL(", ").join(map(sql.Identifier, company.schemas[table].primary_key))
            distinct = conn.execute(
                sql.SQL("select count(*) from (select distinct {} from {}) as k").format(
                    key, sql.Identifier(table)
                )
            ).fetchone()[0]
            assert expected[table] - distinct == duplicates > 0, table
        with_pk = {
            row[0]
            for row in conn.execute(
                "select table_name from information_schema.table_constraints "
                "where constraint_type = 'PRIMARY KEY' and table_schema = 'public'"
            )
        }
        assert with_pk == set(SHOP_TABLES) - {"customers", "orders", "order_lines", "payments"}
        # updated_at follows the documented rule
        for table in ("orders", "order_lines", "returns", "regions"):
            got = conn.execute(
                sql.SQL("select updated_at from {} order by updated_at").format(
                    sql.Identifier(table)
                )
            ).fetchall()
            want = updated_at(company, tables, table).sort_values()
            assert [r[0] for r in got] == [t.to_pydatetime() for t in want], table
        # the planted dirt stays as it is
        negative = conn.execute("select count(*) from order_lines where quantity < 0").fetchone()
        assert negative[0] == len(company.truth.keys("order_lines", "negative_quantity"))


def test_seeding_twice_gives_the_same_database(fresh_database: str, company: Company) -> None:
    seed_shop_database(fresh_database, company)
    first = {t: pg_digest(fresh_database, t) for t in SHOP_TABLES}
    seed_shop_database(fresh_database, company)
    assert {t: pg_digest(fresh_database, t) for t in SHOP_TABLES} == first


def test_seeding_until_a_day_then_the_rest(
    fresh_database: str, company: Company, tables: dict[str, pd.DataFrame]
) -> None:
    cutoff = pd.Timestamp(CUTOFF, tz="UTC")
    before = {t: int((updated_at(company, tables, t) < cutoff).sum()) for t in SHOP_TABLES}
    assert seed_shop_database(fresh_database, company, until=CUTOFF) == before
    assert 0 < before["orders"] < len(tables["orders"])
    early = {t: pg_digest(fresh_database, t) for t in ("orders", "order_lines", "payments")}
    with psycopg.connect(fresh_database) as conn:
        latest = conn.execute("select max(updated_at) from order_lines").fetchone()[0]
        assert latest < cutoff.to_pydatetime()
    assert seed_shop_database(fresh_database, company) == {t: len(tables[t]) for t in SHOP_TABLES}
    # the rows from before the cut-off are exactly those of the first seed
    assert {t: pg_digest(fresh_database, t, before=CUTOFF) for t in early} == early


def test_mysql_shop_holds_the_generated_rows(
    mysql_database: str,
    company: Company,
    tables: dict[str, pd.DataFrame],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = {t: len(tables[t]) for t in SHOP_TABLES}
    assert seed_shop_database(mysql_database, company) == expected
    assert mysql_counts(mysql_database) == expected
    first = _dump(mysql_database, company, tmp_path / "load_data")
    # again, through the fallback for servers that refuse LOAD DATA LOCAL: batched INSERTs
    connect = shop_db.connect_mysql
    monkeypatch.setattr(
        shop_db, "connect_mysql", lambda url, **kw: connect(url, **{**kw, "local_infile": False})
    )
    assert seed_shop_database(mysql_database, company) == expected  # replaced, not added
    assert _dump(mysql_database, company, tmp_path / "inserts") == first
    conn = pymysql.connect(**mysql_connect_args(mysql_database))
    try:
        with conn.cursor() as cur:
            cur.execute("show tables")
            assert {r[0] for r in cur.fetchall()} == set(SHOP_TABLES)  # nothing left aside
            cur.execute("select count(*) from order_lines where quantity < 0")
            negative = cur.fetchone()[0]
            cur.execute("select min(updated_at), max(updated_at) from orders")
            low, high = cur.fetchone()
    finally:
        conn.close()
    assert negative == len(company.truth.keys("order_lines", "negative_quantity"))
    stamps = updated_at(company, tables, "orders")
    assert (low, high) == (stamps.min().tz_convert(None), stamps.max().tz_convert(None))


def _dump(url: str, company: Company, folder: Path) -> dict[str, bytes]:
    """Every shop table as the extractor writes it."""
    return {
        t: extract_table(
            url, t, [*company.schemas[t].column_names, "updated_at"], folder / f"{t}.csv"
        ).path.read_bytes()
        for t in SHOP_TABLES
    }


# -- the landing folder ---------------------------------------------------------------------------


def _digests(paths: list[Path], root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths
    }


def test_landing_files(tmp_path: Path, company: Company, tables: dict[str, pd.DataFrame]) -> None:
    import openpyxl

    first = write_landing_files(company, tmp_path / "a")
    second = write_landing_files(company, tmp_path / "b")
    assert _digests(first, tmp_path / "a") == _digests(second, tmp_path / "b")  # deterministic
    names = {p.relative_to(tmp_path / "a").as_posix() for p in first}
    assert {f"{t}/{t}.csv" for t in CSV_TABLES} <= names
    assert not list((tmp_path / "a").rglob("*.part"))
    for table in WORKBOOK_TABLES:
        books = sorted((tmp_path / "a" / table).glob(f"{table}_*.xlsx"))
        assert len(books) >= 12  # one per month
        rows = 0
        for path in books:
            book = openpyxl.load_workbook(path, read_only=True)
            sheet = book[table]
            values = list(sheet.iter_rows(values_only=True))
            assert list(values[0]) == list(company.schemas[table].column_names)
            rows += len(values) - 1
            book.close()
        assert rows == len(tables[table]), table
    for table in CSV_TABLES:
        frame = pd.read_csv(tmp_path / "a" / table / f"{table}.csv", encoding="latin-1")
        assert len(frame) == len(tables[table]), table
    # the planted wrong encoding: those employees' lines are cp1252, the others UTF-8
    wrong = {k[0] for k in company.truth.keys("employees", "wrong_encoding")}
    assert wrong
    lines = (tmp_path / "a" / "employees" / "employees.csv").read_bytes().splitlines()[1:]
    for line in lines:
        employee = int(line.split(b",")[0])
        try:
            line.decode("utf-8")
            utf8 = True
        except UnicodeDecodeError:
            utf8 = False
        assert utf8 == (employee not in wrong), employee
