"""The environment each part of the stack runs in, derived from the settings.

Airflow, dbt and Superset are configured through environment variables only, so
that ``config.py`` stays the one place where a setting is decided.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from metricstack.config import (
    S3_DEMO_KEY,
    S3_REGION,
    ConnectionParts,
    Settings,
    with_driver,
)

# Airflow connection ids of the sample company's source systems; the declarations in
# dags/sources/*.yml name them. Real systems: override these connections in Airflow.
SHOP_DB_CONN = "metricstack_shop_db"
CRM_CONN = "metricstack_crm"
S3_CONN = "metricstack_s3"


def bin_path(tool: str) -> str:
    """A console script of the running (platform) environment."""
    return str(Path(sys.executable).parent / tool)


def base_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        METRICSTACK_PROJECT_DIR=str(settings.project_dir),
        METRICSTACK_STATE_DIR=str(settings.state_dir),
        METRICSTACK_PG_PORT=str(settings.pg_port),
        METRICSTACK_AIRFLOW_PORT=str(settings.airflow_port),
        METRICSTACK_SUPERSET_PORT=str(settings.superset_port),
        METRICSTACK_HOST=settings.host,
    )
    return env


def dbt_env(settings: Settings) -> dict[str, str]:
    """What dbt_project/profiles.yml reads: the transformer role's connection."""
    parts = ConnectionParts.from_url(settings.role_url("transformer"))
    return {
        "METRICSTACK_DBT_HOST": parts.host,
        "METRICSTACK_DBT_PORT": str(parts.port),
        "METRICSTACK_DBT_USER": parts.user,
        "METRICSTACK_DBT_PASSWORD": parts.password,
        "METRICSTACK_DBT_DBNAME": parts.dbname,
        "DBT_PROFILES_DIR": str(settings.dbt_project_dir),
        "DBT_TARGET_PATH": str(settings.dbt_target_dir),
        "DBT_LOG_PATH": str(settings.logs_dir / "dbt"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def _database_connection(url: str) -> dict[str, Any]:
    """An Airflow connection of a database URL; Airflow keeps the database in ``schema``."""
    parts = ConnectionParts.from_url(url)
    # the schemes sources/database.py reads as MySQL (not imported: it pulls in pymysql)
    mysql = urlsplit(url).scheme.split("+", 1)[0].lower() in {"mysql", "mariadb"}
    return {
        "conn_type": "mysql" if mysql else "postgres",
        "host": parts.host,
        "port": urlsplit(url).port or (3306 if mysql else 5432),
        "login": parts.user,
        "password": parts.password,
        "schema": parts.dbname,
    }


def source_connections(settings: Settings) -> dict[str, dict[str, Any]]:
    """The sample sources' Airflow connections (id -> Airflow's JSON form of a connection).

    The shop database as the read-only role, the CRM API (host: its base URL; password:
    its token) and moto's S3 (AWS connection with the local endpoint in its extra).
    """
    return {
        SHOP_DB_CONN: _database_connection(settings.shop_reader_url),
        CRM_CONN: {
            "conn_type": "http",
            "host": settings.crm_url,
            "password": settings.secret("METRICSTACK_CRM_TOKEN"),
        },
        S3_CONN: {
            "conn_type": "aws",
            "login": S3_DEMO_KEY,
            "password": S3_DEMO_KEY,
            "extra": {"endpoint_url": settings.s3_url, "region_name": S3_REGION},
        },
    }


def source_connections_env(settings: Settings) -> dict[str, str]:
    """``AIRFLOW_CONN_<ID>`` variables of ``source_connections``.

    A variable the user set wins: that is how the sample sources are swapped for real
    systems. (Airflow reads connections from the environment before its metadata
    database, so a connection of the same id edited in the UI is shadowed by these.)
    """
    variables = {
        f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(connection)
        for conn_id, connection in source_connections(settings).items()
    }
    return {name: settings.environ.get(name, value) for name, value in variables.items()}


def airflow_env(settings: Settings) -> dict[str, str]:
    env = base_env(settings)
    env.update(dbt_env(settings))
    # Cosmos runs each dbt task in a copy of the project with a target folder of its
    # own; a shared DBT_TARGET_PATH would have every task rewrite the manifest the DAG
    # file renders from while the scheduler reads it.
    del env["DBT_TARGET_PATH"]
    home = settings.airflow_home
    api = settings.airflow_url
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(settings.project_dir / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(settings.project_dir / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        # two cores: a few task processes at a time is all the machine gives
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{api}/execution/",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{settings.admin_user}:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(home / "simple_auth_passwords.json"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=with_driver(settings.airflow_db_url, "psycopg2"),
        AIRFLOW__API__HOST=settings.host,
        AIRFLOW__API__PORT=str(settings.airflow_port),
        AIRFLOW__API__BASE_URL=api,
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__CORE__FERNET_KEY=settings.secret("AIRFLOW__CORE__FERNET_KEY"),
        AIRFLOW__API_AUTH__JWT_SECRET=settings.secret("AIRFLOW__API_AUTH__JWT_SECRET"),
        AIRFLOW__API__SECRET_KEY=settings.secret("AIRFLOW__API__SECRET_KEY"),
        # pick up new and changed DAG files within seconds in the demo
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="30",
        AIRFLOW__COSMOS__ENABLE_TELEMETRY="False",
        AIRFLOW__COSMOS__CACHE_DIR=str(settings.state_dir / "cosmos"),
        # lineage without a server: every OpenLineage event goes to one local file,
        # unless the user points the transport at their backend (Marquez: type http)
        AIRFLOW__OPENLINEAGE__NAMESPACE="metricstack",
        AIRFLOW__OPENLINEAGE__TRANSPORT=settings.environ.get("AIRFLOW__OPENLINEAGE__TRANSPORT")
        or json.dumps(
            {"type": "file", "log_file_path": str(settings.lineage_file), "append": True}
        ),
        # the ingestion tasks' source object -> raw table as OpenLineage datasets
        AIRFLOW__OPENLINEAGE__EXTRACTORS="metricstack.lineage.extractor.MetricstackAssetsExtractor",
        # the warehouse as Airflow connections, for operators users add to their DAGs
        AIRFLOW_CONN_METRICSTACK_LOADER=settings.role_url("loader"),
        AIRFLOW_CONN_METRICSTACK_TRANSFORMER=settings.role_url("transformer"),
        **source_connections_env(settings),
        PYTHONPATH=os.pathsep.join(
            p
            for p in (str(settings.project_dir / "plugins"), os.environ.get("PYTHONPATH", ""))
            if p
        ),
    )
    return env
