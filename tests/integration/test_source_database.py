"""The database extractor against real servers: the embedded PostgreSQL and MariaDB.

Each dialect gets one database, seeded with the sample shop up to a cut-off, extracted
incrementally, then seeded with the rest. MySQL tests are skipped when no server
answers (see test_sample_systems_db.py), unless METRICSTACK_REQUIRE_MYSQL=1.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import psycopg
import pymysql
import pytest
from shop_sample import CUTOFF, updated_at

# pytest puts this folder on sys.path (no __init__.py): share the servers and the rule
from support import new_database, new_mysql_database

from metricstack.sample_company.generator import Company
from metricstack.sample_company.systems.shop_db import SHOP_TABLES, seed_shop_database
from metricstack.sources.database import (
    Extract,
    extract_table,
    mask_url,
    mysql_connect_args,
)
from metricstack.sources.errors import SourceDataError, TransientSourceError

INCREMENTAL = ("orders", "order_lines", "payments")
DIALECTS = ("postgresql", "mysql")


@dataclass
class Shop:
    url: str
    first: dict[str, Extract]  # incremental extracts of the shop as of the cut-off
    folder: Path


@pytest.fixture(scope="module")
def pg_database(pg_server: str) -> Iterator[str]:
    with new_database(pg_server) as url:
        yield url


@pytest.fixture(scope="module")
def my_database() -> Iterator[str]:
    with new_mysql_database() as url:
        yield url


def columns(company: Company, table: str) -> list[str]:
    return [*company.schemas[table].column_names, "updated_at"]


def _shop(url: str, company: Company, folder: Path) -> Shop:
    seed_shop_database(url, company, until=CUTOFF)
    first = {
        t: extract_table(
            url, t, columns(company, t), folder / f"{t}_1.csv", incremental_key="updated_at"
        )
        for t in INCREMENTAL
    }
    seed_shop_database(url, company)  # the rest of the history arrives
    return Shop(url, first, folder)


@pytest.fixture(scope="module")
def shops() -> dict[str, Shop]:
    """The shops made so far in this module, by dialect (each is made on first use)."""
    return {}


def get_shop(request: pytest.FixtureRequest, dialect: str) -> Shop:
    """The dialect's shop: seeded to the cut-off, extracted incrementally, then whole."""
    shops: dict[str, Shop] = request.getfixturevalue("shops")
    if dialect not in shops:
        url = request.getfixturevalue("pg_database" if dialect == "postgresql" else "my_database")
        company: Company = request.getfixturevalue("company")
        folder = request.getfixturevalue("tmp_path_factory").mktemp(dialect)
        shops[dialect] = _shop(url, company, folder)
    return shops[dialect]


@pytest.fixture(params=DIALECTS)
def shop(request: pytest.FixtureRequest) -> Shop:
    return get_shop(request, request.param)


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def key_checksum(frame: pd.DataFrame, key: list[str]) -> str:
    rows = sorted("|".join(map(str, r)) for r in frame[key].astype(str).itertuples(index=False))
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


# -- full extraction -------------------------------------------------------------------


def test_full_extract_equals_the_generated_data(
    shop: Shop, company: Company, tables: dict[str, pd.DataFrame]
) -> None:
    for table in SHOP_TABLES:
        schema = company.schemas[table]
        path = shop.folder / f"{table}_full.csv"
        extract = extract_table(shop.url, table, columns(company, table), path)
        got, want = read(path), tables[table]
        assert extract.rows == len(got) == len(want), table
        assert extract.bytes == path.stat().st_size
        assert list(got.columns) == columns(company, table)
        key = list(schema.primary_key)
        assert key_checksum(got, key) == key_checksum(want, key), table
        for column in schema.columns:
            if column.type.startswith("numeric"):
                total = sum(Decimal(v) for v in got[column.name])
                expected = sum(Decimal(f"{v:.2f}") for v in want[column.name])
                assert total == expected, f"{table}.{column.name}"
        assert (extract.min_key, extract.max_key) == (None, None)  # no incremental key


def test_postgres_and_mysql_write_the_same_file(
    request: pytest.FixtureRequest, company: Company, tmp_path: Path
) -> None:
    pg, my = get_shop(request, "postgresql"), get_shop(request, "mysql")
    for table in SHOP_TABLES:
        cols = columns(company, table)
        a = extract_table(pg.url, table, cols, tmp_path / f"pg_{table}.csv")
        b = extract_table(my.url, table, cols, tmp_path / f"my_{table}.csv")
        assert a.path.read_bytes() == b.path.read_bytes(), table
    for table in INCREMENTAL:  # the incremental extracts too
        assert pg.first[table].path.read_bytes() == my.first[table].path.read_bytes(), table


# -- incremental extraction ------------------------------------------------------------


def test_incremental_extract_picks_up_exactly_the_new_rows(
    shop: Shop, company: Company, tables: dict[str, pd.DataFrame]
) -> None:
    cutoff = pd.Timestamp(CUTOFF, tz="UTC")
    for table in INCREMENTAL:
        first = shop.first[table]
        stamps = updated_at(company, tables, table)
        assert first.rows == int((stamps < cutoff).sum()) > 0
        assert first.max_key == stamps[stamps < cutoff].max().to_pydatetime()
        second = extract_table(
            shop.url,
            table,
            columns(company, table),
            shop.folder / f"{table}_2.csv",
            incremental_key="updated_at",
            since=first.max_key,
        )
        assert second.rows == int((stamps >= cutoff).sum()) > 0
        assert second.min_key is not None and second.min_key >= cutoff.to_pydatetime()
        assert second.max_key == stamps.max().to_pydatetime()
        # together: the whole table, no row twice, none missing
        both = pd.concat([read(first.path), read(second.path)], ignore_index=True)
        key = list(company.schemas[table].primary_key)
        assert len(both) == len(tables[table])
        assert key_checksum(both, key) == key_checksum(tables[table], key)


def test_backfill_extracts_exactly_its_range(
    shop: Shop, company: Company, tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    stamps = updated_at(company, tables, "orders")
    bounds = [datetime(2023, m, 1, tzinfo=UTC) for m in (3, 4, 5)]
    windows = []
    for low, high in itertools.pairwise(bounds):
        extract = extract_table(
            shop.url,
            "orders",
            columns(company, "orders"),
            tmp_path / f"orders_{low:%m}.csv",
            incremental_key="updated_at",
            since=low,
            until=high,
        )
        inside = (stamps > pd.Timestamp(low)) & (stamps <= pd.Timestamp(high))
        assert extract.rows == int(inside.sum()) > 0
        assert set(read(extract.path)["order_id"]) == set(
            tables["orders"][inside]["order_id"].astype(str)
        )
        windows.append(extract)
    # a lookback widens the window backwards: the overlap is the lookback's rows
    wider = extract_table(
        shop.url,
        "orders",
        columns(company, "orders"),
        tmp_path / "orders_lookback.csv",
        incremental_key="updated_at",
        since=bounds[1],
        until=bounds[2],
        lookback=timedelta(days=3),
    )
    assert wider.since == bounds[1] - timedelta(days=3)
    extra = (stamps > pd.Timestamp(bounds[1] - timedelta(days=3))) & (
        stamps <= pd.Timestamp(bounds[1])
    )
    assert wider.rows == windows[1].rows + int(extra.sum())


def test_rerunning_an_extraction_gives_the_same_bytes(
    shop: Shop, company: Company, tmp_path: Path
) -> None:
    since = datetime(2023, 2, 1, tzinfo=UTC)
    runs = [
        extract_table(
            shop.url,
            "order_lines",
            columns(company, "order_lines"),
            tmp_path / f"run_{n}.csv",
            incremental_key="updated_at",
            since=since,
        )
        for n in range(2)
    ]
    assert runs[0].path.read_bytes() == runs[1].path.read_bytes()
    assert runs[0].rows == runs[1].rows > 0


# -- errors ----------------------------------------------------------------------------


def test_missing_table_or_column_names_the_table(
    shop: Shop, company: Company, tmp_path: Path
) -> None:
    password = urlsplit(shop.url).password
    target = tmp_path / "missing.csv"
    with pytest.raises(SourceDataError, match="source table no_such_table does not exist") as err:
        extract_table(shop.url, "no_such_table", ["a"], target)
    with pytest.raises(
        SourceDataError, match=r"source table orders .* has no column colour"
    ) as err2:
        extract_table(shop.url, "orders", ["order_id", "colour"], target)
    with pytest.raises(SourceDataError, match="has no column changed_at"):
        extract_table(shop.url, "orders", ["order_id"], target, incremental_key="changed_at")
    for error in (err, err2):
        assert mask_url(shop.url) in str(error.value)
        if password:
            assert password not in str(error.value)
    assert not list(tmp_path.iterdir())  # no file, no partial file


def test_wrong_password_is_masked(shop: Shop, tmp_path: Path) -> None:
    parts = urlsplit(shop.url)
    secret = "not-the-password-4711"
    netloc = f"{parts.username or 'root'}:{secret}@{parts.hostname}:{parts.port}"
    url = parts._replace(netloc=netloc).geturl()
    with pytest.raises(TransientSourceError, match="cannot connect") as err:
        extract_table(url, "orders", ["order_id"], tmp_path / "x.csv")
    assert secret not in str(err.value)
    assert "***" in str(err.value)


@pytest.mark.parametrize(
    "table, cols",
    [
        ("orders; drop table orders", ["order_id"]),
        ("orders", ['order_id"; drop table orders; --']),
        ("a.b.c", ["x"]),
        ("orders", ["1abc"]),
    ],
)
def test_identifiers_are_checked_before_connecting(
    table: str, cols: list[str], tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=r"identifier|schema\.name"):
        extract_table("postgresql://u:pw@127.0.0.1:1/db", table, cols, tmp_path / "x.csv")


def test_awkward_values_come_out_the_same_from_both(
    pg_database: str, my_database: str, tmp_path: Path
) -> None:
    rows = [
        (1, "plain", None, "2024-03-05 14:03:11.5", True, "-12.50", "2024-03-05", 1.5),
        (2, 'a,b "q"\nline2\r', "", "2024-03-05 14:03:11", False, "0.00", None, None),
        (
            3,
            "back\\slash \\N NULL",
            "Ünïcødé ✓",
            "2024-03-05 14:03:11.123456",
            None,
            "1e3",
            "1999-12-31",
            -2.5e-7,
        ),
        (4, "\\.", "x", None, True, None, "2024-01-01", 1e20),
    ]
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("set timezone = 'UTC'")
        conn.execute(
            "create table awkward (id bigint, t text, u text, ts timestamptz, b boolean, "
            "n numeric(18,2), d date, f double precision)"
        )
        with conn.cursor() as cur:
            cur.executemany("insert into awkward values (%s, %s, %s, %s, %s, %s, %s, %s)", rows)
    conn = pymysql.connect(**mysql_connect_args(my_database), autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "create table awkward (id bigint, t text, u text, ts datetime(6), b boolean, "
                "n decimal(18,2), d date, f double) default charset utf8mb4"
            )
            cur.executemany("insert into awkward values (%s, %s, %s, %s, %s, %s, %s, %s)", rows)
    finally:
        conn.close()
    cols = ["id", "t", "u", "ts", "b", "n", "d", "f"]
    for name, kwargs in (("all", {"incremental_key": "ts"}), ("one", {"order_by": ["id"]})):
        picked = cols if name == "all" else ["t"]
        a = extract_table(pg_database, "awkward", picked, tmp_path / f"pg_{name}.csv", **kwargs)
        b = extract_table(my_database, "awkward", picked, tmp_path / f"my_{name}.csv", **kwargs)
        assert a.path.read_bytes() == b.path.read_bytes(), a.path.read_text()
    text = (tmp_path / "pg_all.csv").read_bytes().decode()
    assert '"a,b ""q""\nline2\r",""' in text  # quoted as needed; "" is the empty string
    assert "2024-03-05 14:03:11.5+00" in text and ",1e+20\n" in text
    assert (tmp_path / "pg_one.csv").read_bytes().decode().endswith('"\\."\n')
