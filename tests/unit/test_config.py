from pathlib import Path

import pytest

from metricstack.config import ConnectionParts, load_settings, with_credentials, with_driver


def test_defaults_describe_the_embedded_demo(tmp_path: Path) -> None:
    settings = load_settings({"METRICSTACK_STATE_DIR": str(tmp_path)})
    assert settings.embedded_pg
    assert settings.pg_port == 55432  # clear of a system PostgreSQL on 5432
    assert settings.host == "127.0.0.1"
    assert settings.pgdata == tmp_path / "pgdata"


def test_external_urls_replace_the_embedded_server(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "METRICSTACK_STATE_DIR": str(tmp_path),
            "WAREHOUSE_URL": "postgresql://owner:pw@db.example:5433/wh",
            "AIRFLOW_DATABASE_URL": "postgresql://owner:pw@db.example:5433/af",
            "SUPERSET_DATABASE_URL": "postgresql://owner:pw@db.example:5433/ss",
            "METRICSTACK_LOADER_PASSWORD": "l o@d",
        }
    )
    assert not settings.embedded_pg
    assert settings.warehouse_url.endswith("@db.example:5433/wh")
    parts = ConnectionParts.from_url(settings.role_url("loader"))
    assert (parts.user, parts.password, parts.host, parts.port, parts.dbname) == (
        "metricstack_loader",
        "l o@d",
        "db.example",
        5433,
        "wh",
    )


def test_secrets_are_generated_once_and_kept_private(tmp_path: Path) -> None:
    settings = load_settings({"METRICSTACK_STATE_DIR": str(tmp_path)})
    with pytest.raises(RuntimeError, match="metricstack setup"):
        settings.secret("SUPERSET_SECRET_KEY")
    settings.ensure_secrets()
    first = settings.secret("SUPERSET_SECRET_KEY")
    settings.ensure_secrets()
    assert (
        load_settings({"METRICSTACK_STATE_DIR": str(tmp_path)}).secret("SUPERSET_SECRET_KEY")
        == first
    )
    assert len(first) >= 40
    assert settings.secrets_file.stat().st_mode & 0o077 == 0


def test_environment_overrides_a_stored_secret(tmp_path: Path) -> None:
    load_settings({"METRICSTACK_STATE_DIR": str(tmp_path)}).ensure_secrets()
    settings = load_settings(
        {"METRICSTACK_STATE_DIR": str(tmp_path), "SUPERSET_SECRET_KEY": "from-env"}
    )
    assert settings.secret("SUPERSET_SECRET_KEY") == "from-env"


def test_bad_port_names_the_setting() -> None:
    with pytest.raises(ValueError, match="METRICSTACK_PG_PORT"):
        load_settings({"METRICSTACK_PG_PORT": "five"})


def test_url_helpers() -> None:
    assert with_driver("postgresql://u:p@h:1/d", "psycopg2") == "postgresql+psycopg2://u:p@h:1/d"
    assert with_credentials("postgresql://a:b@h/d", "x", "p/w") == "postgresql://x:p%2Fw@h/d"
