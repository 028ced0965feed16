"""The facts dbt_project.yml publishes by swapping can be: incremental models whose
window starts from their own newest rows (warehouse/publish.py says why)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

DBT = Path(__file__).resolve().parents[2] / "dbt_project"


def _swapped(config: dict[str, Any], path: tuple[str, ...] = ()) -> list[str]:
    found = []
    for key, value in config.items():
        if not isinstance(value, dict):
            continue
        if value.get("+meta", {}).get("publication") == "swap":
            found.append(key)
        found += _swapped(value, (*path, key))
    return found


def test_swapped_facts_are_incremental_from_their_own_newest_rows() -> None:
    models = yaml.safe_load((DBT / "dbt_project.yml").read_text())["models"]
    swapped = _swapped(models)
    assert {"fct_orders", "fct_order_lines", "fct_funnel_events"} <= set(swapped)
    for name in swapped:
        (path,) = DBT.glob(f"models/**/{name}.sql")
        code = path.read_text()
        assert "materialized='incremental'" in code, name
        # late_arrival_since(this) or a max(loaded_at) read from {{ this }}
        assert re.search(r"late_arrival_since\(this\b|from \{\{ this \}\}", code), name
