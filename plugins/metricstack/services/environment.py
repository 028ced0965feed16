"""The environment each part of the stack runs in, derived from the settings.

Airflow, dbt and Superset are configured through environment variables only, so
that ``config.py`` stays the one place where a setting is decided.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from metricstack.config import ConnectionParts, Settings, with_driver


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


def airflow_env(settings: Settings) -> dict[str, str]:
    env = base_env(settings)
    env.update(dbt_env(settings))
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
        # lineage without a server: every OpenLineage event goes to one local file
        AIRFLOW__OPENLINEAGE__NAMESPACE="metricstack",
        AIRFLOW__OPENLINEAGE__TRANSPORT=json.dumps(
            {"type": "file", "log_file_path": str(settings.lineage_file), "append": True}
        ),
        # the warehouse as Airflow connections, for operators users add to their DAGs
        AIRFLOW_CONN_METRICSTACK_LOADER=settings.role_url("loader"),
        AIRFLOW_CONN_METRICSTACK_TRANSFORMER=settings.role_url("transformer"),
        PYTHONPATH=os.pathsep.join(
            p
            for p in (str(settings.project_dir / "plugins"), os.environ.get("PYTHONPATH", ""))
            if p
        ),
    )
    return env
