"""Quality gates: run a checkpoint of the committed Great Expectations project.

The GX project in ``expectations/gx/`` is the single definition of every gate (suites,
validation definitions, checkpoints and their actions are committed files). This module
only opens it against the right database and state folder, runs one checkpoint and turns
the result into a small typed value that a task can log, assert on or raise.

Each expectation has a severity (GX 1.x ``severity``): a failed ``critical`` one blocks
(the gate fails), a failed ``warning`` one is recorded and reported but lets the data
through. An expectation GX could not evaluate (a missing table, no grant) always blocks:
nothing was proven. ``run_gate_task`` is what the Airflow tasks call: it runs the
checkpoints, writes every evaluated expectation and the gate's decision to the audit
trail (audit.validations, audit.gate_decisions) and raises GateFailed when one blocks.

Great Expectations itself is imported inside the functions: importing it costs about
8-11 s (scipy, pandas, the expectation registry), and Airflow's DAG processor imports
this module for every parse of a DAG file that mentions it.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from metricstack.config import Settings, with_driver

if TYPE_CHECKING:
    from great_expectations.core import ExpectationValidationResult
    from great_expectations.data_context.data_context.file_data_context import FileDataContext

log = logging.getLogger(__name__)

# Config variables referenced as ${...} in expectations/gx/great_expectations.yml. They are
# handed to GX as its runtime environment (which outranks os.environ and config files),
# so a gate never depends on, or changes, the process environment.
WAREHOUSE_URL_VAR = "METRICSTACK_GX_WAREHOUSE_URL"
STATE_DIR_VAR = "METRICSTACK_STATE_DIR"
DATA_DOCS_SITE = "local_site"

# How many offending values a failure message quotes; GX's SUMMARY format keeps up to 20.
_MAX_VALUES = 5


CRITICAL = "critical"
PASSED, BLOCKED, PASSED_WITH_WARNINGS = "passed", "blocked", "passed_with_warnings"


@dataclass(frozen=True)
class ExpectationOutcome:
    """One evaluated expectation: what it asked, what GX saw, and whether that blocks."""

    suite: str
    expectation_type: str
    column: str | None  # None for table-level expectations (row count, column set)
    expected: str  # the expectation's arguments other than the column, e.g. "min_value=0"
    observed_value: str  # human-readable: what GX observed, or the error it hit
    error: bool = False  # True when GX could not evaluate it (missing table, no grant, ...)
    severity: str = CRITICAL  # critical | warning | info
    success: bool = False
    asset: str = ""  # schema.table validated
    unexpected_count: int | None = None
    element_count: int | None = None

    @property
    def blocking(self) -> bool:
        return not self.success and (self.error or self.severity == CRITICAL)

    def describe(self) -> str:
        where = f"column {self.column}" if self.column else "the table"
        kind = "could not be evaluated:" if self.error else "observed"
        text = f"{self.expectation_type}({self.expected}) on {where}: {kind} {self.observed_value}"
        return text if self.severity == CRITICAL else f"[{self.severity}] {text}"


# The name callers of the first gate used; every outcome in GateResult.failures failed.
FailedExpectation = ExpectationOutcome


@dataclass(frozen=True)
class GateResult:
    checkpoint: str
    success: bool  # no blocking failure: warnings alone let the data through
    evaluated: int
    successful: int
    failures: tuple[ExpectationOutcome, ...]  # every failed expectation, warnings included
    data_docs_index: str  # file:// URL of the Data Docs site's index page
    data_docs_pages: tuple[str, ...]  # file:// URLs of this run's validation result pages
    seconds: float  # open + run; the first gate of a process also pays the ~8 s GX import
    outcomes: tuple[ExpectationOutcome, ...] = ()  # every evaluated expectation

    @property
    def unsuccessful(self) -> int:
        return self.evaluated - self.successful

    @property
    def blocking(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(f for f in self.failures if f.blocking)

    @property
    def warnings(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(f for f in self.failures if not f.blocking)

    @property
    def decision(self) -> str:
        if self.blocking:
            return BLOCKED
        return PASSED_WITH_WARNINGS if self.warnings else PASSED


class GateFailed(Exception):
    """A checkpoint found data that breaks its suite: the data must not be published."""

    def __init__(self, result: GateResult) -> None:
        self.result = result
        lines = [
            f"quality gate {result.checkpoint!r} failed: "
            f"{len(result.blocking)} of {result.evaluated} expectations not met"
        ]
        lines += [f"  - {f.describe()}" for f in result.blocking]
        if result.warnings:
            lines.append(f"and {len(result.warnings)} warnings (not blocking):")
            lines += [f"  - {f.describe()}" for f in result.warnings]
        pages = result.data_docs_pages or (result.data_docs_index,)
        lines += [f"Data Docs: {page}" for page in pages]
        super().__init__("\n".join(lines))


def open_context(
    settings: Settings, *, warehouse_url: str | None = None, create: bool = False
) -> FileDataContext:
    """The committed GX project, its ``${...}`` variables bound to this deployment.

    ``warehouse_url`` defaults to the transformer role, the role that builds and reads
    ``marts_build``; tests or one-off checks may pass another URL (e.g. the owner's).
    Only ``create=True`` (expectations/define_gx.py) may scaffold a missing project: a gate
    must never run against an empty project that GX would quietly create in the repo.
    """
    config_file = settings.expectations_dir / "gx" / "great_expectations.yml"
    if not create and not config_file.is_file():
        raise FileNotFoundError(f"no Great Expectations project: {config_file} is missing")

    import great_expectations as gx  # lazy on purpose: see the module docstring

    url = warehouse_url or settings.role_url("transformer")
    runtime_environment = {
        # psycopg 3 is the driver this project declares (psycopg2 only arrives via dbt)
        WAREHOUSE_URL_VAR: with_driver(url, "psycopg"),
        # Data Docs and validation results go to the state folder, never into the repo
        STATE_DIR_VAR: str(settings.state_dir),
    }
    # An existing great_expectations.yml is opened as is: nothing is scaffolded or written.
    with _schema_name_is_intended():
        return gx.get_context(
            mode="file",
            project_root_dir=settings.expectations_dir,
            runtime_environment=runtime_environment,
        )


@contextlib.contextmanager
def _schema_name_is_intended() -> Iterator[None]:
    """Silence GX's DeprecationWarning for TableAsset.schema_name, on every asset load.

    GX 1.14+ suggests putting the schema in the data source's connection instead, but
    PostgresDatasource has no schema setting (its ``schema_`` is always None): the only
    alternative is a search_path in the URL, which would hide the schema from the
    committed config and bind the whole data source to one schema. An explicit
    ``marts_build`` on the asset is what write-audit-publish needs.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="`schema_name` is deprecated", category=DeprecationWarning
        )
        yield


def run_gate(
    settings: Settings, checkpoint: str, *, warehouse_url: str | None = None
) -> GateResult:
    """Run one checkpoint of the GX project and summarize what it found.

    The Data Docs (in ``settings.data_docs_dir``) get this run's pages: from the
    checkpoint's UpdateDataDocsAction, or, for a checkpoint of many validations that has
    none (the raw gate), from one build of all its results here (the action rebuilds
    the site index once per validation: 28 times for the raw gate). Validation results
    are kept under the state folder. Infrastructure errors that stop GX before it
    validates anything (no connection, an unknown checkpoint) are raised as GX raises them.
    """
    from great_expectations.checkpoint.actions import UpdateDataDocsAction

    started = time.monotonic()
    context = open_context(settings, warehouse_url=warehouse_url)
    definition = context.checkpoints.get(checkpoint)
    with _schema_name_is_intended():
        checkpoint_result = definition.run()
    if not any(isinstance(a, UpdateDataDocsAction) for a in definition.actions):
        _build_docs(settings, context, list(checkpoint_result.run_results))

    evaluated = successful = 0
    outcomes: list[ExpectationOutcome] = []
    pages: list[str] = []
    for result_id, suite_result in checkpoint_result.run_results.items():
        evaluated += suite_result.statistics["evaluated_expectations"]
        successful += suite_result.statistics["successful_expectations"]
        asset = _asset(suite_result.meta or {})
        outcomes += [
            _outcome(suite_result.suite_name, asset, each) for each in suite_result.results
        ]
        pages += [
            site["site_url"]
            for site in context.get_docs_sites_urls(
                resource_identifier=result_id, site_names=[DATA_DOCS_SITE]
            )
            if site["site_url"]
        ]

    # The action only writes pages for this run; build the whole site once if it is missing
    # (first run into a fresh state folder with a checkpoint that lacks the action).
    if not (settings.data_docs_dir / "index.html").exists():
        context.build_data_docs(site_names=[DATA_DOCS_SITE])
    index = context.get_docs_sites_urls(site_names=[DATA_DOCS_SITE], only_if_exists=False)

    failures = tuple(o for o in outcomes if not o.success)
    result = GateResult(
        checkpoint=checkpoint,
        success=not any(f.blocking for f in failures),
        evaluated=evaluated,
        successful=successful,
        failures=failures,
        data_docs_index=str(index[0]["site_url"]) if index else str(settings.data_docs_dir),
        data_docs_pages=tuple(pages),
        seconds=round(time.monotonic() - started, 3),
        outcomes=tuple(outcomes),
    )
    log.info(
        "quality gate %s: %s, %d/%d expectations met (%d blocking, %d warnings) in %.2f s; "
        "Data Docs %s",
        checkpoint,
        result.decision,
        successful,
        evaluated,
        len(result.blocking),
        len(result.warnings),
        result.seconds,
        result.data_docs_index,
    )
    for warning in result.warnings:
        log.warning("quality gate %s: warning: %s", checkpoint, warning.describe())
    return result


def _build_docs(settings: Settings, context: FileDataContext, result_ids: list[Any]) -> None:
    """One Data Docs build for a run's results, plus suite pages older than their suite."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    suites = {r.expectation_suite_identifier.name for r in result_ids}
    stale = []
    for name in sorted(suites):
        relative = name.replace(".", "/")
        page = settings.data_docs_dir / "expectations" / f"{relative}.html"
        source = settings.expectations_dir / "gx" / "expectations" / f"{relative}.json"
        if not page.exists() or (source.exists() and page.stat().st_mtime < source.stat().st_mtime):
            stale.append(ExpectationSuiteIdentifier(name=name))
    context.build_data_docs(
        site_names=[DATA_DOCS_SITE], resource_identifiers=[*result_ids, *stale], build_index=True
    )


def enforce_gate(
    settings: Settings, checkpoint: str, *, warehouse_url: str | None = None
) -> GateResult:
    """Run the checkpoint and raise GateFailed if a blocking expectation was not met."""
    result = run_gate(settings, checkpoint, warehouse_url=warehouse_url)
    if not result.success:
        raise GateFailed(result)
    return result


def run_gate_task(
    settings: Settings,
    checkpoints: tuple[str, ...],
    run_id: str | None,
    *,
    warehouse_url: str | None = None,
) -> dict[str, str]:
    """What a gate task does: run each checkpoint, record it, raise if one blocks.

    Every evaluated expectation goes to audit.validations and each checkpoint's decision
    (passed, passed_with_warnings, blocked) to audit.gate_decisions, blocked or not. A
    checkpoint GX cannot run at all (no connection, a broken project) is recorded as
    blocked with the error, then the error is raised as it is. Warnings also raise an
    alert (audit.alerts, the webhook): a warning nobody hears of is no warning.
    Returns checkpoint -> decision.
    """
    from metricstack.quality import alerts, audit

    decisions: dict[str, str] = {}
    blocked: list[GateResult] = []
    for checkpoint in checkpoints:
        try:
            result = run_gate(settings, checkpoint, warehouse_url=warehouse_url)
        except Exception as error:
            audit.record_gate_error(settings, checkpoint, run_id, error)
            raise
        audit.record_gate(settings, result, run_id)
        decisions[checkpoint] = result.decision
        if result.warnings:
            alerts.raise_alert(settings, alerts.gate_warning_alert(result, run_id))
        if not result.success:
            blocked.append(result)
    for later in blocked[1:]:
        log.error("%s", GateFailed(later))
    if blocked:
        raise GateFailed(blocked[0])
    return decisions


def _asset(meta: Mapping[str, Any]) -> str:
    """schema.table of a validation result's batch (its batch_spec), else the asset name."""
    spec = meta.get("batch_spec") or {}
    table = spec.get("table_name")
    if table:
        schema = spec.get("schema_name")
        return f"{schema}.{table}" if schema else str(table)
    definition = meta.get("active_batch_definition") or {}
    return str(definition.get("data_asset_name", ""))


def _outcome(suite: str, asset: str, each: ExpectationValidationResult) -> ExpectationOutcome:
    config = each.expectation_config
    kwargs: dict[str, Any] = dict(config.kwargs) if config else {}
    column = kwargs.pop("column", None)
    if column is None and kwargs.get("column_list"):
        column = ", ".join(kwargs.pop("column_list"))
    kwargs.pop("batch_id", None)  # names the batch, already implied by the checkpoint
    query = kwargs.pop("unexpected_rows_query", None)
    if query is not None:  # the SQL is in the suite; its description says what it checks
        kwargs["query"] = (config.description if config else None) or "see the suite"
    error = _error_message(each.exception_info)
    result = each.result or {}
    severity = getattr(config, "severity", CRITICAL) if config else CRITICAL
    unexpected = result.get("unexpected_count")
    if unexpected is None and query is not None and isinstance(result.get("observed_value"), int):
        unexpected = result["observed_value"]  # UnexpectedRowsExpectation: rows returned
    return ExpectationOutcome(
        suite=suite,
        expectation_type=config.type if config else "unknown",
        column=str(column) if column is not None else None,
        expected=", ".join(f"{k}={v!r}" for k, v in kwargs.items()),
        observed_value=error or _observed(result),
        error=error is not None,
        severity=str(getattr(severity, "value", severity)),
        success=bool(each.success) and error is None,
        asset=asset,
        unexpected_count=int(unexpected) if unexpected is not None else None,
        element_count=_int_or_none(result.get("element_count")),
    )


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def _error_message(info: dict[str, Any] | None) -> str | None:
    """GX reports a metric it could not compute as exception info, not as a finding.

    The info is either flat ({"raised_exception": ...}) or keyed by metric id. Only the
    first line of each distinct message is kept: SQLAlchemy appends the SQL and a link.
    """
    if not info:
        return None
    entries = [info] if "raised_exception" in info else list(info.values())
    messages = [
        (str(e.get("exception_message")).strip().splitlines() or [""])[0]
        for e in entries
        if isinstance(e, dict) and e.get("raised_exception")
    ]
    return "; ".join(dict.fromkeys(messages)) or None


def _observed(result: dict[str, Any]) -> str:
    """One line saying what GX saw, from a SUMMARY-format result."""
    if "observed_value" in result:
        text = repr(result["observed_value"])
        mismatched = (result.get("details") or {}).get("mismatched")
        return f"{text} (mismatched: {mismatched})" if mismatched else text
    if "unexpected_count" in result:
        counts = result.get("partial_unexpected_counts") or [
            {"value": v, "count": 1} for v in result.get("partial_unexpected_list") or []
        ]
        values = ", ".join(
            str(c["value"]) + (f" (x{c['count']})" if c["count"] > 1 else "")
            for c in counts[:_MAX_VALUES]
        )
        return f"{result['unexpected_count']} unexpected of {result.get('element_count')} rows" + (
            f", e.g. {values}" if values else ""
        )
    return repr(result) if result else "no result"
