"""Suites as code: create or update the committed GX project in expectations/gx/.

This script is the source of the files under gx/ (great_expectations.yml, the suite,
validation definition and checkpoint JSON). Edit it, run it, review the JSON diff,
commit both. It is idempotent: a second run with no edits changes no file.

    cd <repo> && PYTHONPATH=plugins .venvs/platform/bin/python expectations/define_gx.py

Adding the data source or the table asset makes GX test them against a live database
(METRICSTACK_GX_WAREHOUSE_URL, else the transformer role of the configured warehouse),
with marts_build.fct_daily_revenue present. Changing only suites needs no database.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from metricstack.config import load_settings
from metricstack.quality.gate import (
    DATA_DOCS_SITE,
    WAREHOUSE_URL_VAR,
    open_context,
)

if TYPE_CHECKING:
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.data_context import FileDataContext
    from great_expectations.expectations import Expectation

DATASOURCE = "warehouse"
BATCH_DEFINITION = "whole_table"

# The mart contract, as dbt builds it into marts_build before publishing to marts.
FCT_DAILY_REVENUE_COLUMNS = ["order_date", "order_count", "revenue", "average_order_value"]


def fct_daily_revenue_expectations() -> list[Expectation]:
    import great_expectations.expectations as gxe

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
    ]


# gate name -> (schema, table, expectations); the gate's suite and validation definition
# are named after the table.
GATES = {
    "fct_daily_revenue_gate": ("marts_build", "fct_daily_revenue", fct_daily_revenue_expectations),
}


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
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    }
    context.variables.save()
    if scaffolded:
        # GX's new-project scaffold made these; with the settings above they are unused.
        for unused in ("uncommitted", "plugins"):
            shutil.rmtree(Path(context.root_directory) / unused, ignore_errors=True)


def ensure_batch_definition(context: FileDataContext, schema: str, table: str) -> BatchDefinition:
    """Fetch first, create only what is missing: re-adding a data source drops its assets."""
    try:
        datasource = context.data_sources.get(DATASOURCE)
    except LookupError:
        datasource = context.data_sources.add_postgres(
            name=DATASOURCE, connection_string="${" + WAREHOUSE_URL_VAR + "}"
        )
    try:
        asset = datasource.get_asset(table)
    except LookupError:
        asset = datasource.add_table_asset(name=table, table_name=table, schema_name=schema)
    try:
        return asset.get_batch_definition(BATCH_DEFINITION)
    except LookupError:
        return asset.add_batch_definition_whole_table(name=BATCH_DEFINITION)


def _signature(expectations: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    configs = [e.configuration for e in expectations]
    return [(c.type, {k: v for k, v in c.kwargs.items() if k != "batch_id"}) for c in configs]


def ensure_gate(context: FileDataContext, gate: str) -> None:
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    schema, table, expectations = GATES[gate]
    batch_definition = ensure_batch_definition(context, schema, table)

    if table in {s.name for s in context.suites.all()}:
        suite = context.suites.get(table)
    else:
        suite = context.suites.add(gx.ExpectationSuite(name=table))
    wanted = expectations()
    # Rewrite the suite only when its expectations changed: every rewrite gives each
    # expectation a new id, which would make an unchanged suite show up in the diff.
    if _signature(suite.expectations) != _signature(wanted):
        suite.expectations = []
        for expectation in wanted:
            suite.add_expectation(expectation)
        suite.notes = f"Contract of {schema}.{table}; defined in expectations/define_gx.py."
        suite.save()

    if table in {v.name for v in context.validation_definitions.all()}:
        validation = context.validation_definitions.get(table)
    else:
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=table, data=batch_definition, suite=suite)
        )

    actions = [UpdateDataDocsAction(name="update_data_docs", site_names=[DATA_DOCS_SITE])]
    if gate not in {c.name for c in context.checkpoints.all()}:
        context.checkpoints.add(
            gx.Checkpoint(
                name=gate,
                validation_definitions=[validation],
                actions=actions,
                result_format="SUMMARY",
            )
        )


def main() -> None:
    settings = load_settings()
    warehouse_url = os.environ.get(WAREHOUSE_URL_VAR) or settings.role_url("transformer")
    scaffolded = not (settings.expectations_dir / "gx" / "great_expectations.yml").exists()
    context = open_context(settings, warehouse_url=warehouse_url, create=True)
    configure_project(context, scaffolded=scaffolded)
    for gate in GATES:
        ensure_gate(context, gate)
    print(f"GX project up to date in {context.root_directory}")


if __name__ == "__main__":
    main()
