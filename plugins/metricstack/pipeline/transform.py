"""The transform DAG: dbt builds the models (Cosmos), the gate validates, then publish."""

from __future__ import annotations

from airflow.sdk import DAG, AssetAll, dag, get_current_context, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior

from metricstack.config import load_settings
from metricstack.loading.declarations import load_sources
from metricstack.pipeline.assets import PUBLISHED_MARTS, raw_table
from metricstack.pipeline.defaults import DEFAULT_ARGS, START_DATE
from metricstack.pipeline.ids import TRANSFORM_DAG_ID

# One checkpoint per published mart, kept in expectations/.
GATES = ("fct_daily_revenue_gate",)


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
            render_config=RenderConfig(
                load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.BUILD
            ),
            # dbt lives in this environment: run it in-process, no interpreter per task
            execution_config=ExecutionConfig(invocation_mode=InvocationMode.DBT_RUNNER),
            operator_args={"retries": 0},
        )

        @task(retries=0)
        def quality_gate() -> None:
            from airflow.sdk.exceptions import AirflowFailException

            from metricstack.quality.gate import GateFailed, enforce_gate

            for checkpoint in GATES:
                try:
                    enforce_gate(load_settings(), checkpoint)
                except GateFailed as failure:
                    # A data problem: retrying cannot help, so fail for good.
                    raise AirflowFailException(str(failure)) from failure

        @task(outlets=[PUBLISHED_MARTS])
        def publish() -> dict[str, int]:
            from metricstack.warehouse.publish import publish_marts

            return publish_marts(load_settings(), get_current_context()["run_id"])

        dbt >> quality_gate() >> publish()

    return transform()
