"""Advanced analytics of the metrics layer, run by the pipeline between dbt and the gates.

``run_analytics(settings, run_id)`` reads the staging views and
``marts_build.fct_daily_revenue``, fits the models of this package and replaces their
output tables in ``marts_build`` (each in one transaction), so that the quality gates
and publish treat them like every other mart. README.md describes every table.
"""

from __future__ import annotations

from metricstack.analytics.run import run_analytics

__all__ = ["run_analytics"]
