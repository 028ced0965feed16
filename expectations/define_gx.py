"""Suites as code: create or update the committed GX project in expectations/gx/.

This script is the source of the files under gx/ (great_expectations.yml, the suites,
validation definitions and checkpoint JSON). Edit it (or raw_checks.yml, or a source
declaration), run it, review the JSON diff, commit both. It is idempotent: a second run
with no edits changes no file.

    cd <repo> && PYTHONPATH=plugins .venvs/platform/bin/python expectations/define_gx.py

Three gates:
- ``raw_gate``: one suite per declared raw table, generated from dags/sources/*.yml and
  raw_checks.yml (metricstack.quality.raw_suites); the transform DAG runs it before dbt.
- ``extract_volume_gate``: run by the same task: no declared object's empty extract
  holds the batch (audit.alerts, written by the ingestion's volume check).
- ``fct_daily_revenue_gate``: the mart's contract, its reconciliation with staging and
  plausible bounds; runs after dbt, before publishing.

Adding the data source or a mart's table asset makes GX test them against a live
database (METRICSTACK_GX_WAREHOUSE_URL, else the transformer role of the configured
warehouse), with the mart built. Raw tables are added without that test (the loader
creates them from the same declaration on their first load), so a newly declared object
gets its suite, asset and place in the raw gate without a database. Changing only
suites needs no database.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from metricstack.config import load_settings
from metricstack.loading.declarations import load_sources
from metricstack.quality.gate import (
    DATA_DOCS_SITE,
    WAREHOUSE_URL_VAR,
    open_context,
)
from metricstack.quality.raw_suites import (
    CHECKS_FILE,
    EXTRACT_GATE,
    MART_GATE,
    RAW_GATE,
    ExpectationSpec,
    load_checks,
    raw_suites,
    suite_name,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from great_expectations.checkpoint import Checkpoint
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.core.validation_definition import ValidationDefinition
    from great_expectations.data_context import FileDataContext
    from great_expectations.expectations import Expectation

    from metricstack.loading.declarations import Source

DATASOURCE = "warehouse"
BATCH_DEFINITION = "whole_table"
# Validation results the Data Docs index lists (about 17 runs of both gates); older
# pages stay on disk until purge_audit deletes them.
INDEX_RESULTS = 500
# Gates whose checkpoint has no UpdateDataDocsAction: with one validation per raw table,
# the action would rebuild the site index once per table (28 times, ~20 s a run);
# metricstack.quality.gate.run_gate builds this run's pages once instead.
DOCS_BUILT_BY_THE_GATE = {RAW_GATE}
# Schemas whose tables exist before any pipeline ran (the loader creates raw tables, setup
# creates the audit tables): their assets are added without GX's live check.
UNCHECKED_SCHEMAS = {"raw", "audit"}

# The mart contract, as dbt builds it into marts_build before publishing to marts.
FCT_DAILY_REVENUE_COLUMNS = ["order_date", "order_count", "revenue", "average_order_value"]

# Reconciliation: the mart's days, orders and revenue equal the same figures computed
# from the staged orders (every day of either side, to the cent). Each row this query
# returns is a day on which the mart and its source disagree. GX leaves the aliasing of
# {batch} to queries with a join, and PostgreSQL before 16 requires the alias.
REVENUE_RECONCILIATION = """
select
    coalesce(mart.order_date, staged.order_date) as order_date,
    mart.order_count as mart_orders,
    staged.order_count as staged_orders,
    mart.revenue as mart_revenue,
    staged.revenue as staged_revenue
from (select order_date, order_count, revenue from {batch} as built) as mart
full outer join (
    select
        order_date,
        count(*) as order_count,
        round(sum(subtotal - discount), 2) as revenue
    from staging.stg_shop__orders
    where not is_cancelled
    group by order_date
) as staged on mart.order_date = staged.order_date
where mart.revenue is distinct from staged.revenue
    or mart.order_count is distinct from staged.order_count
"""

# A day's average order value is its revenue over its orders, to the cent.
AVERAGE_IS_CONSISTENT = """
select * from {batch}
where abs(average_order_value * order_count - revenue) > 0.005 * order_count
"""

FUTURE_DAYS = """
select * from {batch} where order_date > current_date
"""

# A revenue spike: a day whose revenue is more than SPIKE_FACTOR times the best day of
# the SPIKE_WINDOW_DAYS before it (judged once that window holds SPIKE_MIN_DAYS days).
# Why this rule: a unit error (cents read as euros: x100) or a batch counted several
# times must not reach a dashboard, while the sample company's own days must all pass,
# whatever its size. Measured on generated companies (seeds 1-12, 300 to 30,000 orders
# a year): the largest day over the best of its previous 8 weeks is 1.5x for the demo
# company (30,000 orders, 3 years) and at most 2.8x for the smallest ones (a few
# orders a day, where one business order makes a day), because the best recent day
# already carries that noise; the same day over the same-weekday median reaches 34x
# there, too noisy to tell a unit error from a good Tuesday. The planted revenue
# anomaly is a dip (a quarter of normal demand): far below any upper bound, so it
# never blocks here and stays for the analytics' anomaly flags to find. 5x leaves
# room above 2.8x; a x100 unit error on any ordinary day is far beyond it. The first
# weeks of a history are not judged (no window yet).
SPIKE_FACTOR = 5
SPIKE_WINDOW_DAYS = 56
SPIKE_MIN_DAYS = 20
REVENUE_SPIKE = f"""
select
    spiked.order_date,
    spiked.revenue,
    recent.best_day,
    recent.days
from {{batch}} as spiked
cross join lateral (
    select
        max(prior.revenue) as best_day,
        count(*) as days
    from {{batch}} as prior
    where prior.order_date >= spiked.order_date - {SPIKE_WINDOW_DAYS}
        and prior.order_date < spiked.order_date
) as recent
where recent.days >= {SPIKE_MIN_DAYS}
    and recent.best_day > 0
    and spiked.revenue > {SPIKE_FACTOR} * recent.best_day
"""  # noqa: S608 # only the integer constants above are formatted into it


def fct_daily_revenue_expectations() -> list[Expectation]:
    import great_expectations.expectations as gxe
    from great_expectations.expectations.metadata_types import FailureSeverity

    warning = FailureSeverity.WARNING
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectTableColumnsToMatchSet(column_set=FCT_DAILY_REVENUE_COLUMNS, exact_match=True),
        gxe.ExpectColumnValuesToNotBeNull(column="order_date"),
        gxe.ExpectColumnValuesToBeUnique(column="order_date"),
        gxe.ExpectColumnValuesToNotBeNull(column="order_count"),
        gxe.ExpectColumnValuesToBeBetween(column="order_count", min_value=1),
        gxe.ExpectColumnValuesToNotBeNull(column="revenue"),
        gxe.ExpectColumnValuesToBeBetween(column="revenue", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="average_order_value", min_value=0),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=REVENUE_RECONCILIATION,
            description="Reconciles with staging: each day's orders and revenue equal "
            "those of the non-cancelled orders in stg_shop__orders (subtotal - discount)",
        ),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=AVERAGE_IS_CONSISTENT,
            description="average_order_value * order_count = revenue, to the cent",
        ),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=REVENUE_SPIKE,
            description=f"No revenue spike: no day above {SPIKE_FACTOR}x the best day of "
            f"the {SPIKE_WINDOW_DAYS} days before it (a unit error or a batch counted "
            "twice upstream; see REVENUE_SPIKE in expectations/define_gx.py)",
        ),
        # Plausible bounds: worth a look, not worth holding the dashboards back.
        gxe.ExpectColumnValuesToBeBetween(
            column="average_order_value",
            max_value=5000,
            severity=warning,
            notes="The shop's dearest order is far below 5,000 EUR: a larger daily "
            "average points at a unit or currency error upstream.",
        ),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=FUTURE_DAYS,
            severity=warning,
            description="No order date after today (a time zone or clock error upstream)",
        ),
    ]


# An empty extract that holds the batch (metricstack.quality.volume): the object's
# latest empty_extract alert marked holds_batch, with no load of that object that
# read rows after it. The next scheduled extract (from the unmoved high-water mark)
# or a backfill of the day releases it.
HELD_EXTRACT = """
select
    alert.alert_id,
    alert.subject,
    alert.raised_at,
    alert.run_id,
    alert.expected_low
from {{batch}} as alert
left join audit.loads as later
    on later.source = alert.subject
    and later.rows_read > 0
    and later.started_at > alert.raised_at
where alert.kind = 'empty_extract'
    and alert.subject = '{source}'
    and alert.details ->> 'holds_batch' = 'true'
    and later.load_id is null
"""


def extract_volume_expectations(sources: list[Source]) -> Callable[[], list[Expectation]]:
    """One blocking expectation per declared object: its extract does not hold the batch."""

    def expectations() -> list[Expectation]:
        import great_expectations.expectations as gxe

        return [
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=HELD_EXTRACT.format(source=source.name),
                description=f"{suite_name(source)}: the batch's extract is not empty where "
                "its history expects rows (no empty_extract alert holding the batch "
                f"without a later load of {source.name} that read rows)",
            )
            for source in sources
        ]

    return expectations


def as_expectation(spec: ExpectationSpec) -> Expectation:
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )
    from great_expectations.expectations.metadata_types import FailureSeverity

    config = ExpectationConfiguration(
        type=spec.type,
        kwargs=dict(spec.kwargs),
        notes=spec.notes,
        severity=FailureSeverity(spec.severity),
    )
    return config.to_domain_obj()


# One validation of a gate: (asset name, schema, table, its expectations). The suite and
# the validation definition are named after the asset.
Validation = tuple[str, str, str, "Callable[[], list[Expectation]]"]


def _expectations_of(specs: list[ExpectationSpec]) -> Callable[[], list[Expectation]]:
    return lambda: [as_expectation(s) for s in specs]


def gates(project_dir: Path) -> dict[str, list[Validation]]:
    """Gate (checkpoint) name -> what it validates."""
    sources = load_sources(project_dir / "dags" / "sources")
    suites = raw_suites(sources, load_checks(project_dir / "expectations" / CHECKS_FILE))
    raw: list[Validation] = [
        (suite_name(s), s.schema, s.table, _expectations_of(suites[suite_name(s)])) for s in sources
    ]
    mart: Validation = (
        "fct_daily_revenue",
        "marts_build",
        "fct_daily_revenue",
        fct_daily_revenue_expectations,
    )
    extracts: Validation = (
        "extract_volume",
        "audit",
        "alerts",
        extract_volume_expectations(sources),
    )
    return {RAW_GATE: raw, EXTRACT_GATE: [extracts], MART_GATE: [mart]}


def configure_project(context: FileDataContext, *, scaffolded: bool) -> None:
    """Project settings that keep machine-specific output out of the repository."""
    config = context.config
    config.analytics_enabled = False
    # Progress bars fill Airflow task logs with carriage-return noise.
    config.progress_bars = {"globally": False, "metric_calculations": False}
    # Secrets come from ${...} variables given at run time (metricstack.quality.gate), not
    # from an uncommitted config_variables.yml that could silently override them.
    config.config_variables_file_path = None
    config.plugins_directory = None
    config.stores["validation_results_store"]["store_backend"]["base_directory"] = (
        "${METRICSTACK_STATE_DIR}/gx/validations/"
    )
    config.data_docs_sites = {
        DATA_DOCS_SITE: {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": "${METRICSTACK_STATE_DIR}/data_docs/",
            },
            # the index lists the latest results only: building it reads each one listed
            "site_index_builder": {
                "class_name": "DefaultSiteIndexBuilder",
                "validation_results_limit": INDEX_RESULTS,
            },
        }
    }
    context.variables.save()
    if scaffolded:
        # GX's new-project scaffold made these; with the settings above they are unused.
        for unused in ("uncommitted", "plugins"):
            shutil.rmtree(Path(context.root_directory) / unused, ignore_errors=True)


def ensure_batch_definition(
    context: FileDataContext, name: str, schema: str, table: str
) -> BatchDefinition:
    """Fetch first, create only what is missing: re-adding a data source drops its assets."""
    try:
        datasource = context.data_sources.get(DATASOURCE)
    except LookupError:
        datasource = context.data_sources.add_postgres(
            name=DATASOURCE, connection_string="${" + WAREHOUSE_URL_VAR + "}"
        )
    try:
        asset = datasource.get_asset(name)
    except LookupError:
        unchecked = _unchecked_assets() if schema in UNCHECKED_SCHEMAS else contextlib.nullcontext()
        with unchecked:
            asset = datasource.add_table_asset(name=name, table_name=table, schema_name=schema)
    try:
        return asset.get_batch_definition(BATCH_DEFINITION)
    except LookupError:
        return asset.add_batch_definition_whole_table(name=BATCH_DEFINITION)


@contextlib.contextmanager
def _unchecked_assets() -> Iterator[None]:
    """Add a raw table asset without GX's live check that the table exists.

    GX tests a new table asset against the database. A raw table is created by the
    loader, from the same declaration, on its object's first load: requiring it here
    would make declaring a source and generating its suite depend on a loaded warehouse.
    A table still missing at run time fails the raw gate (GX reports the error).
    """
    from great_expectations.datasource.fluent.sql_datasource import TableAsset

    original = TableAsset.test_connection
    TableAsset.test_connection = lambda self: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        TableAsset.test_connection = original  # type: ignore[method-assign]


def _signature(expectations: list[Any]) -> list[tuple[Any, ...]]:
    configs = [e.configuration for e in expectations]
    return [
        (
            c.type,
            {k: v for k, v in c.kwargs.items() if k != "batch_id"},
            str(getattr(c.severity, "value", c.severity)),
            c.notes,
            c.description,
        )
        for c in configs
    ]


def ensure_validation(context: FileDataContext, validation: Validation) -> ValidationDefinition:
    import great_expectations as gx

    name, schema, table, expectations = validation
    batch_definition = ensure_batch_definition(context, name, schema, table)

    if name in {s.name for s in context.suites.all()}:
        suite = context.suites.get(name)
    else:
        suite = context.suites.add(gx.ExpectationSuite(name=name))
    wanted = expectations()
    # Rewrite the suite only when its expectations changed: every rewrite gives each
    # expectation a new id, which would make an unchanged suite show up in the diff.
    if _signature(suite.expectations) != _signature(wanted):
        suite.expectations = []
        for expectation in wanted:
            suite.add_expectation(expectation)
        suite.notes = f"Contract of {schema}.{table}; defined in expectations/define_gx.py."
        suite.save()

    if name in {v.name for v in context.validation_definitions.all()}:
        return context.validation_definitions.get(name)
    return context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
    )


def ensure_gate(context: FileDataContext, gate: str, validations: list[Validation]) -> Checkpoint:
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    definitions = [ensure_validation(context, v) for v in validations]
    if gate not in {c.name for c in context.checkpoints.all()}:
        actions = (
            []
            if gate in DOCS_BUILT_BY_THE_GATE
            else [UpdateDataDocsAction(name="update_data_docs", site_names=[DATA_DOCS_SITE])]
        )
        return context.checkpoints.add(
            gx.Checkpoint(
                name=gate,
                validation_definitions=definitions,
                actions=actions,
                result_format="SUMMARY",
            )
        )
    checkpoint = context.checkpoints.get(gate)
    # a declared or removed source changes what the raw gate validates
    if [v.name for v in checkpoint.validation_definitions] != [v.name for v in definitions]:
        checkpoint.validation_definitions = definitions
        checkpoint.save()
    return checkpoint


def main() -> None:
    settings = load_settings()
    warehouse_url = os.environ.get(WAREHOUSE_URL_VAR) or settings.role_url("transformer")
    scaffolded = not (settings.expectations_dir / "gx" / "great_expectations.yml").exists()
    context = open_context(settings, warehouse_url=warehouse_url, create=True)
    configure_project(context, scaffolded=scaffolded)
    for gate, validations in gates(settings.project_dir).items():
        ensure_gate(context, gate, validations)
    print(f"GX project up to date in {context.root_directory}")


if __name__ == "__main__":
    main()
