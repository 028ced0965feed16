"""The transform DAG: raw gate, dbt builds the models (Cosmos), mart gate, then publish.

raw_gate >> dbt >> quality_gate >> analytics >> publish >> document (dbt docs, lineage
for auditors) and refresh_dashboards (Superset datasets from dbt, caches), and
purge_audit beside them: a branch of
its own, so that it runs whatever the gates decide without being a leaf that could
make a blocked run look successful.
"""

from __future__ import annotations

from airflow.sdk import DAG, AssetAll, dag, get_current_context, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior

from metricstack.config import load_settings
from metricstack.loading.declarations import load_sources
from metricstack.pipeline.assets import PUBLISHED_MARTS, raw_table
from metricstack.pipeline.defaults import DAG_CALLBACKS, DEFAULT_ARGS, START_DATE
from metricstack.pipeline.ids import TRANSFORM_DAG_ID
from metricstack.quality.raw_suites import EXTRACT_GATE, MART_GATE, RAW_GATE

# Checkpoints of expectations/gx: the raw tables before dbt (one suite per declared
# source) and the objects whose empty extract holds the batch, then one checkpoint per
# published mart.
RAW_GATES = (RAW_GATE, EXTRACT_GATE)
GATES = (MART_GATE,)


def _enforce(checkpoints: tuple[str, ...]) -> dict[str, str]:
    """Run the gates and record them (audit.validations, audit.gate_decisions)."""
    from airflow.sdk.exceptions import AirflowFailException

    from metricstack.quality.gate import GateFailed, run_gate_task

    try:
        return run_gate_task(load_settings(), checkpoints, get_current_context()["run_id"])
    except GateFailed as failure:
        # A data problem: retrying cannot help, so fail for good.
        raise AirflowFailException(str(failure)) from failure


def build_transform_dag() -> DAG:
    settings = load_settings()
    sources = load_sources(settings.project_dir / "dags" / "sources")

    @dag(
        dag_id=TRANSFORM_DAG_ID,
        description="dbt builds staging and marts; quality gates; publish to dashboards",
        # Runs once every raw table has been loaded again: one build per daily batch,
        # on a consistent cut of every source. A source whose ingestion fails holds the
        # dashboards on the last complete batch (its failure and the sources' freshness
        # checks say why) rather than publishing a mix of today's and yesterday's data.
        schedule=AssetAll(*(raw_table(s) for s in sources)),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["transform", "dbt", "quality"],
        **DAG_CALLBACKS,
    )
    def transform() -> None:
        dbt = DbtTaskGroup(
            group_id="dbt",
            project_config=ProjectConfig(
                dbt_project_path=settings.dbt_project_dir,
                manifest_path=settings.dbt_manifest,
            ),
            profile_config=ProfileConfig(
                profile_name="metricstack",
                target_name="warehouse",
                profiles_yml_filepath=settings.dbt_project_dir / "profiles.yml",
            ),
            # render from the manifest `metricstack setup` writes: no `dbt ls` per parse
            # Models run one task each; every dbt test runs in one task after them all.
            # Nothing is visible before publish, so a failed test blocks the publication
            # as well as a per-model test would, without a test task per relationship
            # (a test between two models can only run once both are built).
            render_config=RenderConfig(
                load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.AFTER_ALL
            ),
            # dbt lives in this environment: run it in-process, no interpreter per task
            execution_config=ExecutionConfig(invocation_mode=InvocationMode.DBT_RUNNER),
            operator_args={"retries": 0},
        )

        @task(retries=0)
        def raw_gate() -> dict[str, str]:
            """Bad raw data (a null or duplicated key, a value outside its set) or an empty
            extract where its history expects rows stops the build before dbt runs;
            warnings (e.g. the shop's flipped quantities) pass."""
            return _enforce(RAW_GATES)

        @task(retries=0)
        def analytics() -> dict[str, int]:
            """Forecast, trend, KPI anomalies, revenue drivers and churn scores from the
            validated marts, written to marts_build and published with them."""
            from metricstack.analytics import run_analytics

            return run_analytics(load_settings(), get_current_context()["run_id"])

        @task(retries=0)
        def quality_gate() -> dict[str, str]:
            return _enforce(GATES)

        @task(outlets=[PUBLISHED_MARTS])
        def publish() -> dict[str, int]:
            from metricstack.warehouse.publish import publish_marts

            return publish_marts(load_settings(), get_current_context()["run_id"])

        @task
        def document() -> int:
            """After a publication: the dbt docs site and the lineage edges auditors read
            (the published marts are in audit.publications by now)."""
            from metricstack.lineage.docs import generate_dbt_docs
            from metricstack.lineage.store import store_lineage

            settings = load_settings()
            generate_dbt_docs(settings)
            return store_lineage(settings)

        @task
        def refresh_dashboards() -> dict[str, int]:
            """After a publication: the marts and their MetricFlow metrics synced into
            Superset's datasets (a metric added in dbt's YAML reaches Superset here), the
            row-level filters applied to new datasets, the cached answers of the previous
            publication retired (first: every moment they stay is a stale dashboard), the
            chart caches warmed."""
            from metricstack.superset import (
                expire_cached_data,
                setup_superset,
                sync_dbt_to_superset,
                warm_caches,
            )

            settings = load_settings()
            expire_cached_data(settings)
            sync_dbt_to_superset(settings)
            setup_superset(settings)
            warmed = warm_caches(settings)
            return {**warmed.charts, "failed": len(warmed.failed)}

        @task
        def purge_audit() -> dict[str, int]:
            """Audit rows older than METRICSTACK_AUDIT_RETENTION_DAYS (default 400)."""
            from metricstack.quality.audit import purge_audit as purge

            return purge(load_settings())

        # analytics read the marts once the gate has passed them: a bad batch stops at
        # the gate, not in a model fit; their tables are published with the marts
        published = raw_gate() >> dbt >> quality_gate() >> analytics() >> publish()
        published >> [document(), refresh_dashboards()]
        purge_audit()

    return transform()
