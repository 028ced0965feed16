"""The dbt docs as one self-contained HTML file, for the portal to serve.

``dbt docs generate --static`` writes ``static_index.html`` (the manifest and catalog
inlined). It runs with its own target folder: the transform DAG renders from the
manifest in ``settings.dbt_target_dir``, which a docs run must not rewrite under it.
The catalog (column types, row counts) is read from the warehouse as the transformer
role; ``catalog=False`` skips it (``--empty-catalog``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from metricstack.config import Settings
from metricstack.services.dbt import dbt


def dbt_docs_dir(settings: Settings) -> Path:
    return settings.state_dir / "dbt_docs"


def dbt_docs_file(settings: Settings) -> Path:
    return dbt_docs_dir(settings) / "index.html"


def generate_dbt_docs(settings: Settings, *, catalog: bool = True) -> Path:
    """Generate the static dbt docs page; returns its path (replaced atomically)."""
    target = dbt_docs_dir(settings) / "target"
    target.mkdir(parents=True, exist_ok=True)
    args = ["docs", "generate", "--static", "--target-path", str(target)]
    if not catalog:
        args.append("--empty-catalog")
    dbt(settings, *args)
    page = dbt_docs_file(settings)
    fresh = page.with_suffix(".html.new")
    shutil.copyfile(target / "static_index.html", fresh)
    fresh.replace(page)  # a reader gets the old page or the new one, whole
    return page
