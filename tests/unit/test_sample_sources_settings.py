"""The sample sources' settings and the Airflow connections derived from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metricstack.config import SAMPLE_BUCKET, load_settings
from metricstack.sample_company.config import CompanyConfig
from metricstack.services.environment import airflow_env, source_connections

SECRETS = {
    "METRICSTACK_PG_SUPERUSER_PASSWORD": "super",
    "METRICSTACK_SHOP_READER_PASSWORD": "r/e@d",
    "METRICSTACK_CRM_TOKEN": "crm-token",
}


def test_defaults_are_the_demo(tmp_path: Path) -> None:
    settings = load_settings({"METRICSTACK_STATE_DIR": str(tmp_path), **SECRETS})
    assert settings.sample_company == CompanyConfig(orders=30_000, years=3, seed=7)
    assert (settings.crm_url, settings.s3_url) == ("http://127.0.0.1:8091", "http://127.0.0.1:8092")
    # a database of its own on the embedded server, read by the read-only role
    assert settings.shop_db_url == "postgresql://postgres:super@127.0.0.1:55432/shop"
    assert settings.shop_has_reader
    connections = source_connections(settings)
    assert connections["metricstack_shop_db"] == {
        "conn_type": "postgres",
        "host": "127.0.0.1",
        "port": 55432,
        "login": "metricstack_shop_reader",
        "password": "r/e@d",
        "schema": "shop",
    }
    assert connections["metricstack_crm"] == {
        "conn_type": "http",
        "host": "http://127.0.0.1:8091",
        "password": "crm-token",
    }
    assert connections["metricstack_s3"]["extra"] == {
        "endpoint_url": "http://127.0.0.1:8092",
        "region_name": "us-east-1",
    }
    assert SAMPLE_BUCKET == "metricstack-marketing"  # dags/sources/marketing.yml names it


def test_the_environment_sizes_the_company_and_moves_the_ports(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "METRICSTACK_STATE_DIR": str(tmp_path),
            "METRICSTACK_SAMPLE_ORDERS": "1000",
            "METRICSTACK_SAMPLE_YEARS": "1",
            "METRICSTACK_SAMPLE_SEED": "11",
            "METRICSTACK_CRM_PORT": "9001",
            "METRICSTACK_S3_PORT": "9002",
        }
    )
    assert settings.sample_company == CompanyConfig(orders=1000, years=1, seed=11)
    assert (settings.crm_port, settings.s3_port) == (9001, 9002)
    with pytest.raises(ValueError, match="METRICSTACK_SAMPLE_ORDERS"):
        load_settings({"METRICSTACK_STATE_DIR": str(tmp_path), "METRICSTACK_SAMPLE_ORDERS": "5"})


def test_a_given_shop_database_is_used_as_given(tmp_path: Path) -> None:
    url = "mysql://shop:pw@db.example/shop_demo"
    settings = load_settings(
        {"METRICSTACK_STATE_DIR": str(tmp_path), "SHOP_DATABASE_URL": url, **SECRETS}
    )
    assert settings.shop_db_url == settings.shop_reader_url == url
    assert not settings.shop_has_reader
    assert source_connections(settings)["metricstack_shop_db"] == {
        "conn_type": "mysql",
        "host": "db.example",
        "port": 3306,
        "login": "shop",
        "password": "pw",
        "schema": "shop_demo",
    }


def test_airflow_gets_the_connections_and_a_users_own_wins(tmp_path: Path) -> None:
    env = {"METRICSTACK_STATE_DIR": str(tmp_path), **SECRETS}
    load_settings(env).ensure_secrets()  # airflow_env needs the other secrets too
    settings = load_settings(env)
    variables = airflow_env(settings)
    for conn_id, connection in source_connections(settings).items():
        assert json.loads(variables[f"AIRFLOW_CONN_{conn_id.upper()}"]) == connection
    real = "postgresql://reader:pw@shop.example:5432/shop"
    overridden = airflow_env(load_settings({**env, "AIRFLOW_CONN_METRICSTACK_SHOP_DB": real}))
    assert overridden["AIRFLOW_CONN_METRICSTACK_SHOP_DB"] == real
