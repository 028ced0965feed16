"""Publication swaps marts_build into marts where it is safe, else copies: what readers
see, what the next build gets.

Tables stand in for dbt's (the manifest says what each is): ``fct_events`` an
incremental fact marked ``publication: swap``, ``dim_things`` a table dbt rebuilds whole,
``fct_rollup`` an incremental rollup, which is copied.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from psycopg import sql

from metricstack.config import Settings
from metricstack.warehouse.publish import publish_marts


def _manifest(settings: Settings) -> None:
    def node(name: str, materialized: str, meta: dict[str, str]) -> dict[str, Any]:
        return {
            "resource_type": "model",
            "alias": name,
            "schema": "marts_build",
            "config": {"materialized": materialized, "meta": meta},
        }

    settings.dbt_manifest.parent.mkdir(parents=True, exist_ok=True)
    settings.dbt_manifest.write_text(
        json.dumps(
            {
                "nodes": {
                    "model.metricstack.fct_events": node(
                        "fct_events", "incremental", {"publication": "swap"}
                    ),
                    "model.metricstack.dim_things": node("dim_things", "table", {}),
                    "model.metricstack.fct_rollup": node("fct_rollup", "incremental", {}),
                }
            }
        )
    )


def _run(settings: Settings, *statements: str) -> None:
    with psycopg.connect(settings.role_url("transformer")) as conn:
        for statement in statements:
            conn.execute(statement)


def _ids(settings: Settings, table: str) -> list[int]:
    with psycopg.connect(settings.role_url("transformer")) as conn:
        query = sql.SQL("select id from {} order by id").format(sql.Identifier(*table.split(".")))
        return [r[0] for r in conn.execute(query)]


def _oid(settings: Settings, table: str) -> int:
    with psycopg.connect(settings.role_url("transformer")) as conn:
        row = conn.execute("select %s::regclass::oid", (table,)).fetchone()
    assert row
    return int(row[0])


@pytest.fixture
def built(warehouse: Settings) -> Settings:
    _manifest(warehouse)
    _run(
        warehouse,
        "create table marts_build.fct_events (id int primary key, v text)",
        "insert into marts_build.fct_events select g, 'v' || g from generate_series(1, 3) g",
        "create table marts_build.dim_things (id int)",
        "insert into marts_build.dim_things values (1), (2)",
        "create table marts_build.fct_rollup (id int)",
        "insert into marts_build.fct_rollup values (1)",
    )
    return warehouse


def test_a_first_publication_copies_and_readers_see_marts_only(built: Settings) -> None:
    assert publish_marts(built, "run-1") == {"dim_things": 2, "fct_events": 3, "fct_rollup": 1}
    with psycopg.connect(built.role_url("reporting")) as conn:
        assert conn.execute("select count(*) from marts.fct_events").fetchone() == (3,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from marts_build.fct_events")
    # the build keeps its tables: the next incremental build carries on from them
    assert _ids(built, "marts_build.fct_events") == [1, 2, 3]
    with psycopg.connect(built.role_url("transformer")) as conn:
        published = conn.execute(
            "select table_name, row_count, run_id from audit.publications order by 1"
        ).fetchall()
        indexes = conn.execute(
            "select count(*) from pg_indexes where schemaname = 'marts' "
            "and tablename = 'fct_events'"
        ).fetchone()
    assert published == [
        ("marts.dim_things", 2, "run-1"),
        ("marts.fct_events", 3, "run-1"),
        ("marts.fct_rollup", 1, "run-1"),
    ]
    assert indexes == (1,)  # its primary key came along


def test_a_copy_is_published_analyzed_and_vacuumed(built: Settings) -> None:
    # dashboards plan their first queries on the copy's statistics, and no
    # autovacuum of it is left to slow the next build
    publish_marts(built, "run-1")
    with psycopg.connect(built.role_url("transformer")) as conn:
        analyzed = conn.execute(
            "select count(*) from pg_stats where schemaname = 'marts' and tablename = 'fct_events'"
        ).fetchone()
        visible = conn.execute(
            "select relpages, relallvisible from pg_class where oid = 'marts.fct_events'::regclass"
        ).fetchone()
    assert analyzed == (2,)  # id and v
    assert visible == (1, 1)  # its one page is all-visible: VACUUM has been


def test_an_incremental_build_is_swapped_in_without_a_copy(built: Settings) -> None:
    publish_marts(built, "run-1")
    build_table = _oid(built, "marts_build.fct_events")
    _run(built, "insert into marts_build.fct_events values (4, 'v4')")  # the next day
    published = publish_marts(built, "run-2")

    assert published["fct_events"] == 4
    assert _ids(built, "marts.fct_events") == [1, 2, 3, 4]
    # the very table dbt built is now the published one: renamed, not copied
    assert _oid(built, "marts.fct_events") == build_table
    # and the build holds the previous publication, from which the next day's build
    # re-reads its late-arrival window
    assert _ids(built, "marts_build.fct_events") == [1, 2, 3]
    with psycopg.connect(built.role_url("reporting")) as conn:
        assert conn.execute("select count(*) from marts.fct_events").fetchone() == (4,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from marts_build.fct_events")
    # a third day builds on that base and swaps again
    _run(
        built,
        "insert into marts_build.fct_events values (4, 'v4'), (5, 'v5')",
    )
    publish_marts(built, "run-3")
    assert _ids(built, "marts.fct_events") == [1, 2, 3, 4, 5]
    assert _ids(built, "marts_build.fct_events") == [1, 2, 3, 4]


def test_a_table_built_anew_leaves_the_published_copy_as_the_next_base(
    built: Settings,
) -> None:
    """A --full-refresh (or a changed model) creates the table anew: the retired version
    predates it, so the build gets the new publication back as its base."""
    publish_marts(built, "run-1")
    _run(built, "insert into marts_build.fct_events values (4, 'v4')")
    publish_marts(built, "run-2")  # the build now holds [1, 2, 3]
    _run(
        built,
        "drop table marts_build.fct_events",  # a full refresh, with history mended
        "create table marts_build.fct_events (id int primary key, v text)",
        "insert into marts_build.fct_events values (2, 'v2'), (4, 'v4'), (6, 'v6')",
        "drop table marts_build.dim_things",  # dbt rebuilds a table model every run
        "create table marts_build.dim_things (id int)",
        "insert into marts_build.dim_things values (3)",
        "insert into marts_build.fct_rollup values (2)",  # a rollup's new period
    )
    rebuilt = _oid(built, "marts_build.dim_things")
    publish_marts(built, "run-3")

    assert _ids(built, "marts.fct_events") == [2, 4, 6]
    assert _ids(built, "marts_build.fct_events") == [2, 4, 6]  # not the stale [1, 2, 3, 4]
    # a table model is swapped too; its next build replaces what the build holds
    assert _oid(built, "marts.dim_things") == rebuilt
    assert _ids(built, "marts_build.dim_things") == [1, 2]
    # a rollup is copied: its next build carries on from its own last one
    assert _ids(built, "marts.fct_rollup") == _ids(built, "marts_build.fct_rollup") == [1, 2]
    # the swap's first run after the copy-back is a swap again
    copied_back = _oid(built, "marts_build.fct_events")
    _run(built, "insert into marts_build.fct_events values (8, 'v8')")
    publish_marts(built, "run-4")
    assert _oid(built, "marts.fct_events") == copied_back
    assert _ids(built, "marts_build.fct_events") == [2, 4, 6]
