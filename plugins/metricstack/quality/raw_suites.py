"""The raw layer's expectation suites, derived from the source declarations.

Every declared object (``dags/sources/*.yml``) gets a suite named after its raw table
(``raw.<system>_<object>``) with, as blocking (critical) expectations:

- every declared column is present (new columns are drift, recorded by the loader, and
  allowed here);
- the primary key is never null and unique (a compound key as a whole);
- every column declared ``nullable: false`` is never null;

plus the hand-written checks of ``expectations/raw_checks.yml`` for that object (value
sets and ranges the declarations cannot say), each ``critical`` unless it says
``severity: warning``. A warning is recorded in the audit trail and the Data Docs but
does not stop the build.

This module only describes the expectations as plain data; it imports no Great
Expectations, so the DAG files, the unit tests and the drift check stay fast.
``expectations/define_gx.py`` turns the specs into the committed GX project, and
``tests/unit/test_quality_raw_suites.py`` fails when the committed suites and the
declarations disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from metricstack.loading.declarations import DeclarationError, Source

RAW_GATE = "raw_gate"
# Beside the raw gate, in the same task: an empty extract that holds the batch
# (quality/volume.py), one expectation per declared object (expectations/define_gx.py).
EXTRACT_GATE = "extract_volume_gate"
MART_GATE = "fct_daily_revenue_gate"
CRITICAL, WARNING = "critical", "warning"
SEVERITIES = (CRITICAL, WARNING, "info")
CHECKS_FILE = "raw_checks.yml"  # in the expectations folder


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation as GX stores it: its type, its arguments and its severity."""

    type: str  # GX's snake_case name, e.g. expect_column_values_to_not_be_null
    kwargs: dict[str, Any] = field(default_factory=dict)
    severity: str = CRITICAL
    notes: str | None = None

    def signature(self) -> tuple[str, str, str]:
        """What two specs must share to be the same expectation (notes aside).

        Numbers compare as numbers: GX stores a bound of 80 as 80.0.
        """
        return (self.type, yaml.safe_dump(_numbers(self.kwargs), sort_keys=True), self.severity)


def _numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def suite_name(source: Source) -> str:
    """The suite, asset and validation definition name of a source's raw table."""
    return f"{source.schema}.{source.table}"


def declared_expectations(source: Source) -> list[ExpectationSpec]:
    """What the declaration alone says about the raw table."""
    key = list(source.primary_key)
    specs = [
        ExpectationSpec(
            "expect_table_columns_to_match_set",
            {"column_set": list(source.column_names), "exact_match": False},
        )
    ]
    specs += [ExpectationSpec("expect_column_values_to_not_be_null", {"column": k}) for k in key]
    if len(key) == 1:
        specs.append(ExpectationSpec("expect_column_values_to_be_unique", {"column": key[0]}))
    else:
        specs.append(ExpectationSpec("expect_compound_columns_to_be_unique", {"column_list": key}))
    specs += [
        ExpectationSpec("expect_column_values_to_not_be_null", {"column": c.name})
        for c in source.columns
        if not c.nullable and c.name not in key
    ]
    return specs


def load_checks(path: Path) -> dict[str, list[ExpectationSpec]]:
    """The hand-written checks, by source name (``<system>_<object>``)."""
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise DeclarationError(f"{path}: a mapping of source name -> list of checks")
    checks: dict[str, list[ExpectationSpec]] = {}
    for name, entries in data.items():
        if not isinstance(entries, list):
            raise DeclarationError(f"{path}: {name}: a list of checks")
        checks[str(name)] = [_check(path, str(name), entry) for entry in entries]
    return checks


def _check(path: Path, name: str, entry: Any) -> ExpectationSpec:
    if not isinstance(entry, dict) or not str(entry.get("expect", "")).startswith("expect_"):
        raise DeclarationError(f"{path}: {name}: each check has 'expect: expect_...'")
    kwargs = dict(entry)
    kind = str(kwargs.pop("expect"))
    severity = str(kwargs.pop("severity", CRITICAL))
    notes = kwargs.pop("notes", None)
    if severity not in SEVERITIES:
        raise DeclarationError(f"{path}: {name}: severity {severity!r} not one of {SEVERITIES}")
    return ExpectationSpec(kind, kwargs, severity, str(notes) if notes else None)


def raw_suites(
    sources: list[Source], checks: dict[str, list[ExpectationSpec]]
) -> dict[str, list[ExpectationSpec]]:
    """Suite name -> expectations, for every declared source; checks must name real columns."""
    by_name = {s.name: s for s in sources}
    unknown = sorted(set(checks) - set(by_name))
    if unknown:
        raise DeclarationError(f"{CHECKS_FILE}: no declared source {unknown}")
    suites: dict[str, list[ExpectationSpec]] = {}
    for source in sources:
        extra = checks.get(source.name, [])
        for spec in extra:
            for column in _columns_named(spec):
                if column not in source.column_names:
                    raise DeclarationError(
                        f"{CHECKS_FILE}: {source.name}: {spec.type} names column {column!r}, "
                        f"not declared in {source.path.name}"
                    )
        suites[suite_name(source)] = declared_expectations(source) + extra
    return suites


def _columns_named(spec: ExpectationSpec) -> list[str]:
    named = [spec.kwargs.get(k) for k in ("column", "column_A", "column_B")]
    named += list(spec.kwargs.get("column_list") or [])
    return [str(c) for c in named if c is not None]
