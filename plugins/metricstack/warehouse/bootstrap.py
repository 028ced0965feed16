"""Create the databases, schemas and roles the platform runs on; safe to re-run.

Schemas hold one layer each. Roles make the layers' boundaries real:
- loader: writes ``raw`` and ``audit`` (ingestion and its load records);
- transformer: reads ``raw``, builds ``staging``, ``intermediate``, ``marts_build``
  (dbt) and publishes ``marts`` after the quality gate; records gate results in ``audit``;
- reporting: reads published ``marts`` and the audit trail, never raw or staging
  data (Superset connects as it).
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from psycopg import sql

from metricstack.config import Settings, with_database

log = logging.getLogger(__name__)

RAW, AUDIT = "raw", "audit"
STAGING, INTERMEDIATE = "staging", "intermediate"
MARTS_BUILD, MARTS = "marts_build", "marts"
SCHEMAS = (RAW, AUDIT, STAGING, INTERMEDIATE, MARTS_BUILD, MARTS)
_AUDIT_DDL = Path(__file__).with_name("audit.sql")


def ensure_database(url: str) -> None:
    """Create the database of ``url`` when it does not exist (needs CREATEDB)."""
    dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    try:
        psycopg.connect(url, connect_timeout=10).close()
        return
    except psycopg.OperationalError as error:
        if f'database "{dbname}" does not exist' not in str(error):
            raise
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(str(dbname))))
    log.info("created database %s", dbname)


def _ensure_role(conn: psycopg.Connection, name: str, password: str) -> None:
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone()
    verb = "alter" if exists else "create"
    # The password is set on every run so that a rotated secret takes effect.
    conn.execute(
        sql.SQL(verb + " role {} with login password {}").format(
            sql.Identifier(name), sql.Literal(password)
        )
    )


def ensure_warehouse(settings: Settings) -> None:
    """Schemas, roles and grants in the warehouse database."""
    ensure_database(settings.warehouse_url)
    loader, transformer, reporting = (
        settings.role_name(r) for r in ("loader", "transformer", "reporting")
    )
    ident = sql.Identifier
    with psycopg.connect(settings.warehouse_url, autocommit=True) as conn:
        for role in ("loader", "transformer", "reporting"):
            _ensure_role(
                conn,
                settings.role_name(role),
                settings.secret(f"METRICSTACK_{role.upper()}_PASSWORD"),
            )
        dbname = conn.info.dbname
        conn.execute(
            sql.SQL("grant connect, temporary on database {} to {}, {}, {}").format(
                ident(dbname), ident(loader), ident(transformer), ident(reporting)
            )
        )
        for schema in SCHEMAS:
            conn.execute(sql.SQL("create schema if not exists {}").format(ident(schema)))
        # dbt's large aggregations spilled ~190 MB to disk at 1M orders with the
        # default 4 MB; at 10M, the customer marts hash millions of customers
        # (make bench-dbt). Two dbt threads at a few such nodes each stay small.
        conn.execute(sql.SQL("alter role {} set work_mem = '256MB'").format(ident(transformer)))

        def grant(statement: str, *names: str) -> None:
            conn.execute(sql.SQL(statement).format(*(ident(n) for n in names)))

        conn.execute(_AUDIT_DDL.read_text())

        # loader creates and fills raw tables and records its loads
        grant("grant usage, create on schema {} to {}", RAW, loader)
        grant("grant usage on schema {} to {}", AUDIT, loader)
        grant(
            "grant select, insert, update on audit.loads, audit.rejected_rows, audit.watermarks "
            "to {}",
            loader,
        )
        grant("grant usage on sequence audit.loads_load_id_seq to {}", loader)
        # transformer reads raw and audit, builds the dbt layers and publishes marts
        for schema in (RAW, AUDIT):
            grant("grant usage on schema {} to {}", schema, transformer)
            grant("grant select on all tables in schema {} to {}", schema, transformer)
        grant(
            "alter default privileges for role {} in schema {} grant select on tables to {}",
            loader,
            RAW,
            transformer,
        )
        grant("grant insert on audit.publications to {}", transformer)
        grant("grant select, insert, update on audit.publication_bases to {}", transformer)
        grant("grant usage on sequence audit.publications_publication_id_seq to {}", transformer)
        for schema in (STAGING, INTERMEDIATE, MARTS_BUILD, MARTS):
            grant("grant usage, create on schema {} to {}", schema, transformer)
        # reporting reads published marts (and the audit trail, below)
        grant("grant usage on schema {} to {}", MARTS, reporting)
        grant("grant select on all tables in schema {} to {}", MARTS, reporting)
        grant(
            "alter default privileges for role {} in schema {} grant select on tables to {}",
            transformer,
            MARTS,
            reporting,
        )
        # the audit trail (quality/audit.py): the gates (transformer) record validations
        # and decisions; DAG and task callbacks (transformer) record runs and failures;
        # volume checks at the end of ingestion (loader) and gate warnings raise alerts;
        # the transformer's purge_audit task deletes rows past their retention
        grant(
            "grant select, insert, update, delete on audit.pipeline_runs, audit.validations, "
            "audit.gate_decisions, audit.task_failures, audit.alerts to {}",
            transformer,
        )
        grant("grant delete on audit.publications to {}", transformer)
        grant("grant select, insert on audit.alerts to {}", loader)
        for sequence in (
            "validations_validation_id_seq",
            "gate_decisions_decision_id_seq",
            "task_failures_failure_id_seq",
            "alerts_alert_id_seq",
        ):
            grant(f"grant usage on sequence audit.{sequence} to {{}}", transformer)
        grant("grant usage on sequence audit.alerts_alert_id_seq to {}", loader)
        grant("grant select, insert, update, delete on audit.lineage_edges to {}", transformer)
        # reporting (Superset) also reads the audit trail for the auditors' dashboard,
        # which Superset's roles open to Auditors only; never audit.rejected_rows,
        # whose records are raw source rows (personal data)
        grant("grant usage on schema {} to {}", AUDIT, reporting)
        grant(
            "grant select on audit.loads, audit.publications, audit.pipeline_runs, "
            "audit.validations, audit.gate_decisions, audit.task_failures, audit.alerts, "
            "audit.lineage_edges to {}",
            reporting,
        )
    log.info(
        "warehouse ready: schemas %s, roles %s %s %s",
        ", ".join(SCHEMAS),
        loader,
        transformer,
        reporting,
    )
