"""A DagBag of the project's DAG files, imported with the network and databases blocked.

As Mozilla's telemetry-airflow does: every DAG file is imported the way Airflow's DAG
processor imports it, here in a temporary Airflow home whose metadata database cannot
be reached, with a manifest written by ``dbt parse`` into a temporary state folder (the
transform DAG renders its dbt tasks from it). While the files are imported, any socket
connection, name lookup or PostgreSQL connection raises: a DAG file that touches the
network or a database at import time shows up as an import error.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest

from metricstack.config import Settings, load_settings


class NetworkAtImport(RuntimeError):
    """Raised by the blocked socket and database entry points while DAGs are imported."""


def _refuse(what: str) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NetworkAtImport(f"{what} while importing DAG files: {args[:2]!r}")

    return refuse


@pytest.fixture(scope="session")
def dag_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The project's settings with a temporary state folder holding a fresh dbt manifest."""
    from metricstack.services.dbt import write_manifest

    state = tmp_path_factory.mktemp("dag-state")
    settings = load_settings({**os.environ, "METRICSTACK_STATE_DIR": str(state)})
    settings.ensure_secrets()
    write_manifest(settings)
    return settings


@pytest.fixture(scope="session")
def dagbag(dag_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The DagBag; the environment and the blocked calls are restored once it is built."""
    home = tmp_path_factory.mktemp("airflow-home")
    dags = dag_settings.project_dir / "dags"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("METRICSTACK_STATE_DIR", str(dag_settings.state_dir))
        mp.setenv("AIRFLOW_HOME", str(home))
        mp.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(dags))
        mp.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        # a database nobody listens on: a DAG file that queries it fails loudly
        mp.setenv(
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
            "postgresql+psycopg2://nobody@127.0.0.1:9/no_database",
        )
        mp.setenv("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")
        mp.setenv("AIRFLOW__COSMOS__CACHE_DIR", str(home / "cosmos"))
        # Airflow itself first: its import sets up logging and configuration, which is
        # not what is being tested.
        from airflow.dag_processing.dagbag import DagBag

        for target, name in (
            (socket.socket, "connect"),
            (socket.socket, "connect_ex"),
            (socket, "create_connection"),
            (socket, "getaddrinfo"),
        ):
            mp.setattr(target, name, _refuse(f"socket {name}"))
        import psycopg

        mp.setattr(psycopg, "connect", _refuse("psycopg.connect"))
        mp.setattr(psycopg.Connection, "connect", _refuse("psycopg.Connection.connect"))
        try:
            import psycopg2
        except ImportError:  # pragma: no cover - psycopg2 comes with Airflow's postgres provider
            pass
        else:
            mp.setattr(psycopg2, "connect", _refuse("psycopg2.connect"))

        return DagBag(dag_folder=dags, safe_mode=False)


@pytest.fixture(scope="session")
def dag_folder(dag_settings: Settings) -> Path:
    return dag_settings.project_dir / "dags"
