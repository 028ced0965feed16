"""The sample company's source systems in the demo: filled at setup, served at start.

One generated ``Company`` (``settings.sample_company``) feeds every system, so the
shop's orders, the landing folder's files, the CRM's events and the S3 drops tell one
consistent story:

- setup (``seed_sample_sources``): the shop database, seeded and readable by the
  read-only role; the landing folder's workbooks and CSV files; the CRM's data folder.
  Each part is skipped when a stamp says it holds this config's data already.
- start (``start``, ``wait``, then ``publish_drops``): the CRM API and moto's S3 server
  as managed processes (``crm-api``, ``s3``); moto keeps the bucket (``SAMPLE_BUCKET``)
  in memory, so the drops are published again whenever its process is new.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
from psycopg import sql

from metricstack.config import (
    S3_DEMO_KEY,
    S3_REGION,
    SAMPLE_BUCKET,
    SHOP_READER_ROLE,
    Settings,
)
from metricstack.services import processes
from metricstack.services.environment import base_env
from metricstack.sources.database import dialect_of, mask_url, postgres_conninfo
from metricstack.warehouse.bootstrap import ensure_database

if TYPE_CHECKING:
    from metricstack.sample_company.generator import Company

# The sample company's modules (pandas, pyarrow) are imported where they are used:
# `metricstack status` and `stop` import this module and should not wait for them.

Say = Callable[[str], None]

CRM = "crm-api"
S3 = "s3"
# bump when what a part writes changes, so that existing demos write it again
_FORMAT = 1

# -- stamps ---------------------------------------------------------------------------


def _stamp_key(settings: Settings, part: str, target: str) -> str:
    """What a part's data depends on: the company's config and where it went."""
    config = dataclasses.asdict(settings.sample_company)
    return json.dumps(
        {"format": _FORMAT, "part": part, "target": target, "config": config},
        sort_keys=True,
        default=str,
    )


def _stamp(settings: Settings, part: str) -> Path:
    return settings.sample_stamps_dir / f"{part}.stamp"


def _is_done(settings: Settings, part: str, key: str) -> bool:
    path = _stamp(settings, part)
    return path.exists() and path.read_text() == key


def _mark_done(settings: Settings, part: str, key: str) -> None:
    path = _stamp(settings, part)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key)


# -- setup: shop database, landing folder, CRM data -----------------------------------


def _shop_tables_present(url: str) -> bool:
    """Whether the shop database still has its tables (it may have been dropped since)."""
    if dialect_of(url) != "postgresql":
        return True  # the stamp alone decides for MySQL
    with psycopg.connect(postgres_conninfo(url), connect_timeout=10) as conn:
        row = conn.execute("select to_regclass('public.orders') is not null").fetchone()
        return bool(row and row[0])


def _generate(settings: Settings) -> Company:
    from metricstack.sample_company.generator import generate

    return generate(settings.sample_company)  # the plan only; rows come per system


def _ensure_shop_reader(settings: Settings) -> None:
    """The read-only role: SELECT on the shop's tables, nothing else.

    Run on every setup: seeding drops and recreates the tables (taking their grants
    with them), and the password is set again so that a rotated secret takes effect.
    """
    from metricstack.sample_company.systems.shop_db import SHOP_TABLES

    role = sql.Identifier(settings.role_name(SHOP_READER_ROLE))
    password = settings.secret("METRICSTACK_SHOP_READER_PASSWORD")
    with psycopg.connect(postgres_conninfo(settings.shop_db_url), autocommit=True) as conn:
        exists = conn.execute(
            "select 1 from pg_roles where rolname = %s",
            (settings.role_name(SHOP_READER_ROLE),),
        ).fetchone()
        verb = "alter" if exists else "create"
        conn.execute(
            sql.SQL(verb + " role {} with login password {}").format(role, sql.Literal(password))
        )
        dbname = sql.Identifier(str(conn.info.dbname))
        conn.execute(sql.SQL("grant connect on database {} to {}").format(dbname, role))
        conn.execute(sql.SQL("grant usage on schema public to {}").format(role))
        for table in SHOP_TABLES:
            conn.execute(sql.SQL("grant select on {} to {}").format(sql.Identifier(table), role))
        # tables the owner creates later (a re-seed outside setup) are readable too
        conn.execute(
            sql.SQL(
                "alter default privileges in schema public grant select on tables to {}"
            ).format(role)
        )


def seed_shop(settings: Settings, company: Company) -> bool:
    """The shop database with the company's shop tables; False when it had them already."""
    url = settings.shop_db_url
    postgres = dialect_of(url) == "postgresql"
    if postgres:
        ensure_database(postgres_conninfo(url))
    key = _stamp_key(settings, "shop_db", mask_url(url))
    done = _is_done(settings, "shop_db", key) and _shop_tables_present(url)
    if not done:
        from metricstack.sample_company.systems.shop_db import seed_shop_database

        _stamp(settings, "shop_db").unlink(missing_ok=True)  # a failed seed must not look done
        seed_shop_database(url, company)
    if postgres and settings.shop_has_reader:
        _ensure_shop_reader(settings)
    if not done:
        _mark_done(settings, "shop_db", key)
    return not done


def write_landing(settings: Settings, company: Company) -> bool:
    """The landing folder's files; False when it held this company's files already."""
    folder = settings.landing_dir
    key = _stamp_key(settings, "landing", str(folder))
    if _is_done(settings, "landing", key) and folder.exists():
        return False
    from metricstack.sample_company.systems.landing import (
        CSV_TABLES,
        WORKBOOK_TABLES,
        write_landing_files,
    )

    _stamp(settings, "landing").unlink(missing_ok=True)
    # Another company's month workbooks would stay beside the new ones (the writer
    # leaves files it does not write alone): clear the sample feeds' folders first.
    for feed in (*WORKBOOK_TABLES, *CSV_TABLES):
        shutil.rmtree(folder / feed, ignore_errors=True)
    write_landing_files(company, folder)
    _mark_done(settings, "landing", key)
    return True


def seed_sample_sources(settings: Settings, say: Say) -> dict[str, bool]:
    """Fill the shop database, the landing folder and the CRM's data from one company.

    Returns which parts were written (False: skipped, already holding this config's
    data). Needs the shop's server running (the embedded PostgreSQL in the demo).
    """
    company = _generate(settings)
    config = settings.sample_company
    say(f"sample company: {config.orders} orders over {config.years} years (seed {config.seed})")
    return {
        "shop_db": _timed(
            say, f"shop database {mask_url(settings.shop_db_url)}", seed_shop, settings, company
        ),
        "landing": _timed(
            say, f"landing files in {settings.landing_dir}", write_landing, settings, company
        ),
        "crm": _timed(say, f"CRM data in {settings.crm_data_dir}", prepare_crm, settings, company),
    }


def _timed(say: Say, what: str, step: Callable[[Settings, Company], bool], *args: Any) -> bool:
    started = time.monotonic()
    written = step(*args)
    verb = "wrote" if written else "already there:"
    say(f"  {verb} {what} ({time.monotonic() - started:.1f} s)")
    return written


def prepare_crm(settings: Settings, company: Company) -> bool:
    """The CRM's data folder; False when it held this company's data already."""
    # prepare_crm_data skips by its own manifest (keyed by the config) too; the stamp
    # tells whether it wrote
    key = _stamp_key(settings, "crm", str(settings.crm_data_dir))
    if _is_done(settings, "crm", key) and (settings.crm_data_dir / "manifest.json").exists():
        return False
    from metricstack.sample_company.systems.crm_api import prepare_crm_data

    prepare_crm_data(company, settings.crm_data_dir)
    _mark_done(settings, "crm", key)
    return True


# -- start: the CRM API and moto's S3 server ------------------------------------------


def crm_service(settings: Settings) -> processes.Service:
    from metricstack.sample_company.systems.crm_api import TOKEN_ENV, crm_service_command

    env = base_env(settings)
    env[TOKEN_ENV] = settings.secret("METRICSTACK_CRM_TOKEN")
    return processes.Service(
        name=CRM,
        command=crm_service_command(settings.host, settings.crm_port, settings.crm_data_dir),
        env=env,
        port=settings.crm_port,
        cwd=settings.state_dir,
    )


def s3_service(settings: Settings) -> processes.Service:
    from metricstack.sample_company.systems.s3_drops import moto_service_command

    return processes.Service(
        name=S3,
        command=moto_service_command(settings.host, settings.s3_port),
        env=base_env(settings),
        port=settings.s3_port,
        cwd=settings.state_dir,
    )


# (service, the setting that moves its port)
def services(settings: Settings) -> list[tuple[processes.Service, str]]:
    return [
        (crm_service(settings), "METRICSTACK_CRM_PORT"),
        (s3_service(settings), "METRICSTACK_S3_PORT"),
    ]


def crm_healthy(settings: Settings) -> bool:
    try:
        return httpx.get(f"{settings.crm_url}/health", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def s3_answers(settings: Settings) -> bool:
    # any HTTP answer will do: moto serves every request once it listens
    try:
        httpx.get(settings.s3_url, timeout=3)
    except httpx.HTTPError:
        return False
    return True


def start(settings: Settings) -> None:
    """Start the CRM API and moto's S3 server unless they run; does not wait."""
    for service, port_setting in services(settings):
        processes.start(settings, service, port_setting)


def wait(settings: Settings, timeout: float = 60) -> None:
    processes.wait_until(lambda: crm_healthy(settings), "a healthy CRM API", timeout, settings, CRM)
    processes.wait_until(lambda: s3_answers(settings), "an answering S3", timeout, settings, S3)


def demo_s3_client(settings: Settings) -> Any:
    """A boto3 client of the demo's moto server (what the metricstack_s3 connection says)."""
    from metricstack.sources.s3 import s3_client

    return s3_client(settings.s3_url, S3_REGION, S3_DEMO_KEY, S3_DEMO_KEY)


def publish_drops(settings: Settings, say: Say) -> int | None:
    """Publish the S3 drops into SAMPLE_BUCKET; the number of objects, None if skipped.

    Skipped when this moto process got this config's drops already: moto loses them
    only when it restarts, and a new process has a new pid.
    """
    pid = processes.running_pid(settings, S3)
    if pid is None:
        raise RuntimeError(f"{S3} is not running: start it before publishing the drops")
    key = _stamp_key(settings, "s3", f"{settings.s3_url}/{SAMPLE_BUCKET} pid {pid}")
    if _is_done(settings, "s3", key):
        return None
    started = time.monotonic()
    from metricstack.sample_company.systems.s3_drops import publish_daily_drops

    keys = publish_daily_drops(_generate(settings), demo_s3_client(settings), SAMPLE_BUCKET)
    _mark_done(settings, "s3", key)
    seconds = time.monotonic() - started
    say(f"  published {len(keys)} S3 drops to s3://{SAMPLE_BUCKET} ({seconds:.1f} s)")
    return len(keys)


def stop(settings: Settings, say: Say) -> None:
    for name in (CRM, S3):
        if processes.stop(settings, name):
            say(f"stopped {name}")
    # the bucket went with moto's memory: the next start publishes again
    _stamp(settings, "s3").unlink(missing_ok=True)
