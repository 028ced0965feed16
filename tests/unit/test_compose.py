"""docker-compose.yml cannot run here (no Docker engine): check what it can be checked for."""

import re

import yaml

from metricstack.config import PROJECT_DIR, load_settings


def test_compose_sets_only_settings_that_config_reads() -> None:
    compose = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())
    platform = compose["services"]["platform"]
    env = {k: v.replace("${POSTGRES_PASSWORD}", "pw") for k, v in platform["environment"].items()}
    settings = load_settings(env)
    assert not settings.embedded_pg
    assert settings.warehouse_url.endswith("@postgres:5432/metricstack")
    assert settings.host == "0.0.0.0"  # noqa: S104 - inside a container, by design
    config_source = (PROJECT_DIR / "plugins" / "metricstack" / "config.py").read_text()
    for name in env:
        assert re.search(rf'"{name}"', config_source), f"config.py does not read {name}"
    assert platform["depends_on"]["postgres"]["condition"] == "service_healthy"
