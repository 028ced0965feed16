"""Quality gates: run a checkpoint of the committed Great Expectations project.

The GX project in ``expectations/gx/`` is the single definition of every gate (suites,
validation definitions, checkpoints and their actions are committed files). This module
only opens it against the right database and state folder, runs one checkpoint and turns
the result into a small typed value that a task can log, assert on or raise.

Great Expectations itself is imported inside the functions: importing it costs about
8-11 s (scipy, pandas, the expectation registry), and Airflow's DAG processor imports
this module for every parse of a DAG file that mentions it.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from collections.abc import Iterator
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


@dataclass(frozen=True)
class FailedExpectation:
    suite: str
    expectation_type: str
    column: str | None  # None for table-level expectations (row count, column set)
    expected: str  # the expectation's arguments other than the column, e.g. "min_value=0"
    observed_value: str  # human-readable: what GX observed, or the error it hit
    error: bool = False  # True when GX could not evaluate it (missing table, no grant, ...)

    def describe(self) -> str:
        where = f"column {self.column}" if self.column else "the table"
        kind = "could not be evaluated:" if self.error else "observed"
        return f"{self.expectation_type}({self.expected}) on {where}: {kind} {self.observed_value}"


@dataclass(frozen=True)
class GateResult:
    checkpoint: str
    success: bool
    evaluated: int
    successful: int
    failures: tuple[FailedExpectation, ...]
    data_docs_index: str  # file:// URL of the Data Docs site's index page
    data_docs_pages: tuple[str, ...]  # file:// URLs of this run's validation result pages
    seconds: float  # open + run; the first gate of a process also pays the ~8 s GX import

    @property
    def unsuccessful(self) -> int:
        return self.evaluated - self.successful


class GateFailed(Exception):
    """A checkpoint found data that breaks its suite: the data must not be published."""

    def __init__(self, result: GateResult) -> None:
        self.result = result
        lines = [
            f"quality gate {result.checkpoint!r} failed: "
            f"{result.unsuccessful} of {result.evaluated} expectations not met"
        ]
        lines += [f"  - {f.describe()}" for f in result.failures]
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

    The checkpoint's UpdateDataDocsAction writes the Data Docs (into
    ``settings.data_docs_dir``); its validation results are kept under the state folder.
    Infrastructure errors that stop GX before it validates anything (no connection, an
    unknown checkpoint) are raised as GX raises them.
    """
    started = time.monotonic()
    context = open_context(settings, warehouse_url=warehouse_url)
    with _schema_name_is_intended():
        checkpoint_result = context.checkpoints.get(checkpoint).run()

    evaluated = successful = 0
    failures: list[FailedExpectation] = []
    pages: list[str] = []
    for result_id, suite_result in checkpoint_result.run_results.items():
        evaluated += suite_result.statistics["evaluated_expectations"]
        successful += suite_result.statistics["successful_expectations"]
        failures += [
            _failure(suite_result.suite_name, each)
            for each in suite_result.results
            if not each.success
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

    result = GateResult(
        checkpoint=checkpoint,
        success=bool(checkpoint_result.success),
        evaluated=evaluated,
        successful=successful,
        failures=tuple(failures),
        data_docs_index=str(index[0]["site_url"]) if index else str(settings.data_docs_dir),
        data_docs_pages=tuple(pages),
        seconds=round(time.monotonic() - started, 3),
    )
    log.info(
        "quality gate %s: success=%s, %d/%d expectations met in %.2f s; Data Docs %s",
        checkpoint,
        result.success,
        successful,
        evaluated,
        result.seconds,
        result.data_docs_index,
    )
    return result


def enforce_gate(
    settings: Settings, checkpoint: str, *, warehouse_url: str | None = None
) -> GateResult:
    """Run the checkpoint and raise GateFailed unless every expectation was met."""
    result = run_gate(settings, checkpoint, warehouse_url=warehouse_url)
    if not result.success:
        raise GateFailed(result)
    return result


def _failure(suite: str, each: ExpectationValidationResult) -> FailedExpectation:
    config = each.expectation_config
    kwargs: dict[str, Any] = dict(config.kwargs) if config else {}
    column = kwargs.pop("column", None)
    kwargs.pop("batch_id", None)  # names the batch, already implied by the checkpoint
    error = _error_message(each.exception_info)
    return FailedExpectation(
        suite=suite,
        expectation_type=config.type if config else "unknown",
        column=str(column) if column is not None else None,
        expected=", ".join(f"{k}={v!r}" for k, v in kwargs.items()),
        observed_value=error or _observed(each.result or {}),
        error=error is not None,
    )


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
