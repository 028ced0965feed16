"""The committed dashboards bundle (superset_config/assets) turned into an importable ZIP.

The bundle is Superset's own export format (metadata.yaml, databases/, datasets/,
charts/, dashboards/), exported from a throwaway Superset and cleaned: fixed UUIDs and
a placeholder database URI. The real URI, with the reporting role's password, is only
ever written into the ZIP, which lives in the state folder for the length of an import.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import yaml

from metricstack.config import Settings, with_driver

# The files of the bundle hold these; tests and the demo look things up by them.
DATABASE_UUID = "5ca64d86-d560-4bcc-b06f-368fcee460b8"
DATABASE_NAME = "warehouse"
DASHBOARD_UUID = "d1d9d3d9-bb4e-4d76-9027-5da944ebb20a"
DASHBOARD_SLUG = "revenue"

# Dashboards link to the auditors' portal in Airflow (metricstack_portal.py: Data Docs,
# lineage, dbt docs) by this placeholder; the bundle gets Settings.airflow_url instead,
# whatever host and port this installation's Airflow listens on.
AIRFLOW_URL_PLACEHOLDER = "METRICSTACK_AIRFLOW_URL"

# Superset strips the first folder of every path in an imported ZIP.
_ZIP_ROOT = "metricstack_assets"


def assets_dir(settings: Settings) -> Path:
    return settings.project_dir / "superset_config" / "assets"


def warehouse_uri(settings: Settings) -> str:
    """What Superset connects to the warehouse with: the read-only reporting role."""
    return with_driver(settings.role_url("reporting"), "psycopg2")


def bundle_files(settings: Settings) -> dict[str, str]:
    """Path inside the bundle -> YAML text, with database URIs filled in."""
    root = assets_dir(settings)
    files: dict[str, str] = {}
    for path in sorted(root.rglob("*.yaml")):
        name = path.relative_to(root).as_posix()
        text = path.read_text()
        if name.startswith("databases/"):
            config = yaml.safe_load(text)
            if config["uuid"] != DATABASE_UUID:
                raise ValueError(f"{path}: only the warehouse database is expected")
            config["sqlalchemy_uri"] = warehouse_uri(settings)
            text = yaml.safe_dump(config, sort_keys=False)
        elif name == "metadata.yaml":
            # Exported as a "Dashboard" bundle; ImportAssetsCommand (see import_bundle.py)
            # takes the same files but insists on the type "assets".
            config = yaml.safe_load(text)
            config["type"] = "assets"
            text = yaml.safe_dump(config, sort_keys=False)
        elif name.startswith("dashboards/"):
            text = text.replace(AIRFLOW_URL_PLACEHOLDER, settings.airflow_url)
        files[name] = text
    if "metadata.yaml" not in files:
        raise FileNotFoundError(f"no metadata.yaml in {root}")
    return files


def fingerprint(settings: Settings) -> str:
    """Changes when the bundle or the warehouse URI (password included) changes."""
    digest = hashlib.sha256()
    for name, text in bundle_files(settings).items():
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


def build_zip(settings: Settings, destination: Path) -> Path:
    """Write the bundle as a ZIP (readable by the owner only: it holds a password)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.touch(mode=0o600)
    destination.chmod(0o600)
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in bundle_files(settings).items():
            bundle.writestr(f"{_ZIP_ROOT}/{name}", text)
    return destination
